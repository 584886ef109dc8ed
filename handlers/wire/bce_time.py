"""The one bce time format (UTC, seconds, ``Z``), used by MCT list filters and the downstream event."""

from __future__ import annotations

from datetime import datetime

BCE_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def bce_time(moment: datetime | None) -> str | None:
    """``2026-12-01T13:50:31Z`` for a naive-UTC or aware datetime; None for None."""
    return moment.strftime(BCE_TIME_FORMAT) if moment else None


def mct_time(moment: datetime) -> str:
    """MCT's time format for list filters (``begin``/``end``)."""
    return moment.strftime(BCE_TIME_FORMAT)
