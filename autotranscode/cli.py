"""`autotranscode` command line: one entry point, subcommands in ``autotranscode.commands``."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys

from autotranscode import __version__

# Subcommand modules, in the order `--help` lists them. A name whose module does not exist yet is skipped.
COMMANDS = [
    "demo",
    "up",
    "mct",
    "provision",
    "jobs",
    "redrive",
    "reconcile",
    "invoke",
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


if __name__ == "__main__":
    sys.exit(main())
