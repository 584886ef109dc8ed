"""What every benchmark shares: where results go and the shape they take."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

RESULTS_DIR = Path(__file__).parent / "results"


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform()}


def report(name: str, result: dict, target: str | None = None, meets_target: bool | None = None) -> dict:
    """Print ``result`` as JSON and write it to ``bench/results/<name>.json``.

    ``target`` is the goal in words (e.g. ``"ratio <= 1.03"``); ``meets_target`` whether this run reached it.
    """
    record = {"name": name, **result, "target": target, "meets_target": meets_target,
              "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": machine()}  # fmt: skip
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record))
    return record
