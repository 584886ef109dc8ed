"""autotranscode: on-upload transcoding for Baidu AI Cloud. This package holds the developer CLI."""

__version__ = "0.1.0"
