"""Configuration: the models and their loading live in handlers.config.settings (validated by
handlers.config.validation); this package re-exports them so callers write `from handlers.config import Config`."""

from handlers.config.settings import *  # noqa: F403
