"""Store URLs: parsing and redaction (the password never reaches a log or an error)."""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import unquote

ACCEPTED_URL_FORMS = (
    "sqlite:////abs/path.db, sqlite:///relative.db, sqlite:// (in memory), "
    "mysql+pymysql://user:password@host:3306/db[?charset=utf8mb4], "
    "postgresql+psycopg://user:password@host:5432/db (also mysql://, postgresql://, postgres://)"
)
_SCHEMES = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "mysql": "mysql",
    "mysql+pymysql": "mysql",
    "postgresql": "postgresql",
    "postgresql+psycopg": "postgresql",
    "postgres": "postgresql",
}


class StoreUrl(NamedTuple):
    """A parsed store URL. ``database`` is the SQLite file path (None: in memory) or the server's database name.
    (A NamedTuple, not a dataclass: a tenth of the class-creation time, which every cold start pays.)"""

    dialect: str  # "sqlite" | "mysql" | "postgresql"
    database: str | None
    host: str | None = None
    port: int | None = None
    username: str | None = None
    password: str | None = None
    query: tuple[tuple[str, str], ...] = ()  # driver options, e.g. (("charset", "utf8mb4"),)

    def __repr__(self) -> str:  # never the password
        shown = self._replace(password="***" if self.password else None)
        return "StoreUrl(" + ", ".join(f"{k}={v!r}" for k, v in zip(self._fields, shown, strict=True)) + ")"


def redact_url(url: str) -> str:
    """The store URL without its password, for logs and errors (works on unparseable URLs too)."""
    scheme, sep, rest = url.partition("://")
    base, q, query = rest.partition("?")
    userinfo, at, location = base.rpartition("@")  # a raw '@' in a password: the last '@' ends it
    if not sep or not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.partition(':')[0]}:***@{location}{q}{query}"


def parse_store_url(url: str) -> StoreUrl:
    """Parse a store URL (the forms in ACCEPTED_URL_FORMS); ValueError naming the URL (redacted) otherwise."""

    def bad(reason: str) -> ValueError:
        return ValueError(f"store URL {redact_url(url)!r}: {reason}; accepted forms: {ACCEPTED_URL_FORMS}")

    scheme, sep, rest = url.partition("://")
    dialect = _SCHEMES.get(scheme.lower()) if sep else None
    if dialect is None:
        raise bad(f"unknown scheme {scheme!r}" if sep else "no scheme")
    rest, _, query_text = rest.partition("?")
    query = []
    for pair in filter(None, query_text.split("&")):
        name, eq, value = pair.partition("=")
        if not eq or not name:
            raise bad(f"query parameter {pair!r} is not name=value")
        query.append((unquote(name), unquote(value)))
    if dialect == "sqlite":
        if query:
            raise bad(f"SQLite URLs take no query parameters (got {query_text!r})")
        if rest in ("", "/", "/:memory:"):
            return StoreUrl("sqlite", None)
        if not rest.startswith("/"):
            raise bad("a SQLite URL has no host: three slashes before a relative path, four before an absolute one")
        return StoreUrl("sqlite", unquote(rest[1:]))
    netloc, _, database = rest.partition("/")
    userinfo, _, hostport = netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    if hostport.startswith("["):  # IPv6 literal
        host, _, port_text = hostport[1:].partition("]")
        port_text = port_text.removeprefix(":")
    else:
        host, _, port_text = hostport.partition(":")
    if port_text and not port_text.isdigit():
        # A raw '/' in a password puts part of it here: show the value only if the redacted URL shows it too.
        raise bad(f"port {port_text if port_text in redact_url(url) else '(hidden)'!r} is not a number")
    if not database:
        raise bad("the database name is missing (.../dbname)")
    return StoreUrl(
        dialect,
        unquote(database),
        host or None,
        int(port_text) if port_text else None,
        unquote(username) if username else None,
        unquote(password) if password else None,
        tuple(query),
    )
