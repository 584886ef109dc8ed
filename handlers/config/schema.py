"""The configuration's JSON Schema, generated from the models (handlers/config/models.py) so it cannot drift.

It ships as autotranscode.schema.json at the repository root; a config points editors at it with
"$schema": "./autotranscode.schema.json" (the loader ignores that key). After changing a model, regenerate it:

    python -m handlers.config.schema --write     # rewrite autotranscode.schema.json
    python -m handlers.config.schema --check     # exit 1 when the shipped file is stale
    python -m handlers.config.schema             # print it

The schema describes the canonical form; the loader is a little more lenient (numbers and booleans as text).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from handlers.config.decoding import Secret
from handlers.config.loading import SCHEMA_KEY
from handlers.config.models import Config

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "autotranscode.schema.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _hook(tp: Any) -> dict[str, Any]:
    if tp is Secret:
        return {"type": "string", "writeOnly": True, "description": "a secret; better set by its environment variable"}
    raise NotImplementedError


def config_schema() -> dict[str, Any]:
    schema = msgspec.json.schema(Config, schema_hook=_hook)
    config = schema["$defs"]["Config"]
    config["properties"] = {
        SCHEMA_KEY: {"type": "string", "description": "the JSON Schema of this file, for editors; ignored"},
        **config["properties"],
    }
    return {"$schema": DIALECT, "title": "autotranscode configuration", **schema}


def schema_text() -> str:
    return json.dumps(config_schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m handlers.config.schema", description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help=f"rewrite {SCHEMA_FILE.name}")
    group.add_argument("--check", action="store_true", help=f"exit 1 when {SCHEMA_FILE.name} is not up to date")
    args = parser.parse_args(argv)
    text = schema_text()
    if args.write:
        SCHEMA_FILE.write_text(text, encoding="utf-8")
        print(f"wrote {SCHEMA_FILE}")
    elif args.check:
        current = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.exists() else ""
        if current != text:
            print(f"{SCHEMA_FILE.name} is stale: run python -m handlers.config.schema --write", file=sys.stderr)
            return 1
        print(f"{SCHEMA_FILE.name} is up to date")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
