"""`make bench` / `python -m bench [NAME ...]`: run every benchmark (or the named ones), then print a table."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE / "results"


def discover() -> list[str]:
    return sorted(p.stem for p in HERE.glob("p[0-9]*_*.py"))


def headline(record: dict) -> str:
    for key in ("ratio", "requests_per_second", "callbacks_per_second", "median_overhead_seconds", "value"):
        if key in record:
            value = record[key]
            return f"{key}={value:.3f}" if isinstance(value, float) else f"{key}={value}"
    return "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {', '.join(discover())})")
    args = parser.parse_args(argv)
    names = args.names or discover()
    unknown = set(names) - set(discover())
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(sorted(unknown))}; choose from {', '.join(discover())}")
    rows, failed = [], 0
    for name in names:
        print(f"== {name}", file=sys.stderr, flush=True)
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", f"bench.{name}"], cwd=HERE.parent)
        elapsed = time.monotonic() - started
        result_file = RESULTS / f"{name}.json"
        if proc.returncode != 0 or not result_file.exists():
            failed += 1
            rows.append((name, "FAILED", "", "", f"{elapsed:.0f}s"))
            continue
        record = json.loads(result_file.read_text())
        met = {True: "yes", False: "no"}.get(record.get("meets_target"), "?")
        rows.append((name, headline(record), record.get("target") or "", met, f"{elapsed:.0f}s"))
    table = [("benchmark", "result", "target", "met", "time"), *rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(5)]
    for row in table:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
