"""Plain-text tables that stay aligned with CJK (double-width) characters in keys."""

from __future__ import annotations

import unicodedata


def display_width(text: str) -> int:
    """Terminal columns: East Asian wide/fullwidth characters take two, combining marks none."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def format_table(columns: list[str], rows: list[dict]) -> str:
    """Header (column names upper-cased) and rows, columns separated by two spaces; empty cells show '-'."""
    cells = [[str(r.get(c) if r.get(c) not in (None, "") else "-") for c in columns] for r in rows]
    widths = [max(display_width(c), *(display_width(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(pad(c.upper(), widths[i]) for i, c in enumerate(columns)).rstrip()]
    lines += ["  ".join(pad(v, widths[i]) for i, v in enumerate(row)).rstrip() for row in cells]
    return "\n".join(lines)
