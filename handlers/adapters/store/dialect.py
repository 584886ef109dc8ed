"""What differs between SQLite, MySQL and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handlers.adapters.store.columns import HINT_COLS


class Dialect:
    """Everything that differs between SQLite, MySQL and PostgreSQL. Statements are written with `?` placeholders
    and contain no literal '%' (the MySQL and PostgreSQL drivers use %s)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sqlite = name == "sqlite"
        self.mysql = name == "mysql"
        # Column types as SQLAlchemy created them (existing databases keep working). The hint times carry
        # microseconds on MySQL too: a hint stored with not_before=now must be due at now.
        self.datetime = "TIMESTAMP WITHOUT TIME ZONE" if name == "postgresql" else "DATETIME"
        self.precise_datetime = "DATETIME(6)" if self.mysql else self.datetime
        # SQLite: take the write lock at BEGIN, so waiting is the busy timeout's job, never a failed upgrade.
        self.begin = "BEGIN IMMEDIATE" if self.sqlite else "BEGIN"

    def sql(self, text: str) -> str:
        return text if self.sqlite else text.replace("?", "%s")

    def insert_if_absent(self, table: str, columns: str, key: str) -> str:
        """INSERT that does nothing when the key exists: rowcount 1 = inserted, 0 = already there."""
        marks = ", ".join("?" for _ in columns.split(","))
        if self.mysql:  # not INSERT IGNORE: that would also turn real errors into warnings
            return self.sql(f"INSERT INTO {table} ({columns}) VALUES ({marks}) ON DUPLICATE KEY UPDATE {key} = {key}")
        return self.sql(f"INSERT INTO {table} ({columns}) VALUES ({marks}) ON CONFLICT ({key}) DO NOTHING")

    def upsert_hint(self) -> str:
        """Parameters: job_id, seq, received_at, not_before, seq increment, not_before."""
        insert = f"INSERT INTO at_callback_hints ({HINT_COLS}) VALUES (?, ?, ?, 0, ?) "
        if self.mysql:
            return self.sql(insert + "ON DUPLICATE KEY UPDATE seq = seq + ?, not_before = ?")
        return self.sql(insert + "ON CONFLICT (job_id) DO UPDATE SET seq = at_callback_hints.seq + ?, not_before = ?")

    def to_db(self, value: datetime | None) -> Any:
        """SQLite keeps datetimes as text, in SQLAlchemy's format (always six fraction digits, so text order is
        time order and files written by the SQLAlchemy version read back)."""
        if value is None or not self.sqlite:
            return value
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")

    def from_db(self, value: Any) -> datetime | None:
        if isinstance(value, str):
            return datetime.fromisoformat(value)
        return value

    def is_deadlock(self, exc: BaseException) -> bool:
        """A deadlock victim: the whole transaction may simply run again."""
        if self.mysql:
            return bool(exc.args) and exc.args[0] == 1213
        return getattr(exc, "sqlstate", None) == "40P01"
