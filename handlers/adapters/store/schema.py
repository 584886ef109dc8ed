"""The store's schema version and its ordered migrations (the files in migrations/, see its __init__ for how to add
one). Opening a store migrates it: one SELECT when it is up to date, which is every cold start but a new store's.

Why not yoyo-migrations (measured): it adds 20-35 ms to an import that cold start pays and reaches the database
through its own connections and URL forms; the store must migrate at open (a new CFC instance's SQLite file in /tmp
is a new store), and this runner is the 100 lines below on the store's own DB-API connection.

Each database is kept to one migrator at a time: SQLite's BEGIN IMMEDIATE, PostgreSQL's transaction-scoped advisory
lock (DDL is transactional there: all or nothing), MySQL's GET_LOCK (DDL commits at once there).
"""

from __future__ import annotations

import importlib.util
import os
import re
from functools import lru_cache
from typing import Any

from handlers.adapters.store.dialect import Dialect
from handlers.domain.clock import utcnow

VERSION_TABLE = "at_schema_migrations"
_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")
_FILE = re.compile(r"^v(\d{4})_\w+\.py$")
_LOCK_NAME = "autotranscode_schema"
_PG_LOCK_KEY = 0x6174_7363_6865_6D61  # "atschema"
_MYSQL_LOCK_WAIT_SECONDS = 60


@lru_cache(maxsize=1)
def available() -> tuple[tuple[int, str], ...]:
    """((version, module name), ...) in order, from the file names (no module is imported here)."""
    found = sorted((int(m.group(1)), m.group(0)[:-3]) for m in map(_FILE.match, os.listdir(_DIR)) if m)
    if [version for version, _ in found] != list(range(1, len(found) + 1)):
        names = [name for _, name in found]
        raise RuntimeError(f"store migrations must be numbered v0001, v0002, ... with no gap or repeat: {names}")
    return tuple(found)


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"{__package__}.migrations.{name}", os.path.join(_DIR, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def latest() -> int:
    return len(available())


def version_of(conn: Any) -> int:
    """The store's version; 0 when it has no version table (a new store, or one made before versioning)."""
    cur = conn.cursor()
    try:
        cur.execute(f"SELECT MAX(version) FROM {VERSION_TABLE}")
        return cur.fetchone()[0] or 0
    except Exception:  # no such table (a real connection problem shows again in migrate)
        return 0
    finally:
        cur.close()


def has_version_table(conn: Any, d: Dialect) -> bool:
    cur = conn.cursor()
    try:
        if d.sqlite:
            cur.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (VERSION_TABLE,))
        else:
            schema = "DATABASE()" if d.mysql else "current_schema()"
            where = f"table_schema = {schema} AND table_name = ?"
            cur.execute(d.sql(f"SELECT 1 FROM information_schema.tables WHERE {where}"), (VERSION_TABLE,))
        return cur.fetchone() is not None
    finally:
        cur.close()


def migrate(conn: Any, d: Dialect) -> tuple[int, int]:
    """Apply the missing migrations, in order, on this autocommit DB-API connection; -> (version before, after).
    A store newer than this code is left as it is (migrations only add, so older code keeps working)."""
    cur = conn.cursor()
    try:
        if d.mysql:
            cur.execute("SELECT GET_LOCK(%s, %s)", (_LOCK_NAME, _MYSQL_LOCK_WAIT_SECONDS))
            if cur.fetchone()[0] != 1:
                raise RuntimeError(f"another process has been migrating the store for {_MYSQL_LOCK_WAIT_SECONDS} s")
        try:
            return _migrate_locked(cur, d)
        finally:
            if d.mysql:
                cur.execute("SELECT RELEASE_LOCK(%s)", (_LOCK_NAME,))
    finally:
        cur.close()


def _migrate_locked(cur: Any, d: Dialect) -> tuple[int, int]:
    cur.execute(d.begin)
    try:
        if not d.sqlite and not d.mysql:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_KEY,))
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version INTEGER NOT NULL, name VARCHAR(255) NOT NULL, "
            f"applied_at {d.datetime} NOT NULL, PRIMARY KEY (version))"
        )
        cur.execute(f"SELECT MAX(version) FROM {VERSION_TABLE}")
        before = cur.fetchone()[0] or 0
        for version, name in available()[before:]:
            for statement in _load(name).statements(d):
                cur.execute(statement)
            cur.execute(
                d.sql(f"INSERT INTO {VERSION_TABLE} (version, name, applied_at) VALUES (?, ?, ?)"),
                (version, name, d.to_db(utcnow())),
            )
        cur.execute("COMMIT")
    except BaseException:
        cur.execute("ROLLBACK")
        raise
    return before, max(before, latest())
