"""`autotranscode` command line: one entry point, subcommands in ``autotranscode.commands``."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
import traceback

from autotranscode import __version__

# Subcommand modules, in the order `--help` lists them. A name whose module does not exist yet is skipped.
COMMANDS = [
    "demo",
    "up",
    "mct",
    "provision",
    "jobs",
    "console",
    "redrive",
    "reconcile",
    "deliveries",
    "events",
    "invoke",
    "check",
    "build",
    "deploy",
]


def _version_text() -> str:
    lines = [f"autotranscode {__version__}"]
    try:
        from localcloud.ffmpeg import FFmpegNotFound, ffmpeg

        try:
            lines.append(f"ffmpeg: {ffmpeg().describe()}")
        except FFmpegNotFound as exc:
            lines.append(f"ffmpeg: not found ({exc})")
    except ImportError:
        lines.append("ffmpeg: localcloud is not installed")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autotranscode",
        description="Automatic on-upload video transcoding for Baidu AI Cloud (BOS + MCT + CFC), "
        "with localcloud, a local stand-in that really transcodes.",
    )
    parser.add_argument("--version", action="store_true", help="print versions (and which ffmpeg is used)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module_name = f"autotranscode.commands.{name}"
        if importlib.util.find_spec(module_name) is None:
            continue
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:  # before logging is set up: the ffmpeg line is printed, not logged too
        print(_version_text())
        return 0
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `autotranscode jobs list | head`: the reader is gone. Point stdout at /dev/null so the interpreter's
        # final flush does not fail again, and end quietly like other Unix tools.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:
        if not _is_configuration_error(exc):
            raise
        if args.verbose:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        from autotranscode.settings import restore_logs

        restore_logs()


def _is_configuration_error(exc: Exception) -> bool:
    """Configuration problems end in one message and exit status 2; anything else is a bug (traceback)."""
    from autotranscode.settings import SettingsError

    if isinstance(exc, SettingsError):
        return True
    config = sys.modules.get("handlers.config")
    return config is not None and isinstance(exc, config.ConfigError)


if __name__ == "__main__":
    sys.exit(main())
