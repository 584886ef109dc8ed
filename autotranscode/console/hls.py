"""HLS in the console: which playlists belong to an upload, where its master playlist is, and playlists rewritten
so a browser can fetch them (each relative URI becomes a console URL or a pre-signed BOS URL)."""

from __future__ import annotations

import re
from collections.abc import Callable

from autotranscode.console import views
from handlers.domain.records import Upload
from handlers.wire.hls_master import default_master_key, resolve

_URI_ATTR = re.compile(r'URI="([^"]*)"')


def _hls_rows(rows: list[views.JobRow]) -> list[views.JobRow]:
    return [r for r in rows if r.is_hls and r.job.kind != "thumbnail"]


def master_key(upload: Upload, rows: list[views.JobRow], events: list[str]) -> str | None:
    """The master playlist's key: as the done event named it, else the default place next to the renditions
    once every HLS rendition succeeded (None when the upload has no HLS rendition)."""
    named = views.hls_master_key(events)
    if named:
        return named
    hls_rows = _hls_rows(rows)
    if not hls_rows or any(r.job.status != "SUCCESS" for r in hls_rows):
        return None
    return default_master_key([r.output_key for r in hls_rows if r.output_key])


def playlists_of(upload: Upload, rows: list[views.JobRow], events: list[str]) -> dict[str, str]:
    """key -> bucket of every playlist the console may serve for this upload."""
    found = {r.output_key: r.bucket for r in _hls_rows(rows) if r.job.status == "SUCCESS" and r.output_key}
    key = master_key(upload, rows, events)
    if key and found:
        found.setdefault(key, next(iter(found.values())))
    return found


def find_master(upload: Upload, rows: list[views.JobRow], events: list[str], media) -> dict | None:
    """{"key", "bucket"} of the master playlist when it exists in BOS."""
    key = master_key(upload, rows, events)
    if key is None:
        return None
    bucket = playlists_of(upload, rows, events).get(key)
    if bucket is None:
        return None
    try:
        exists = media.read_text(bucket, key) is not None
    except Exception:  # BOS unreachable: the page shows the renditions one by one
        exists = False
    return {"key": key, "bucket": bucket} if exists else None


def rewrite_playlist(text: str, playlist_key: str, link: Callable[[str], str]) -> str:
    """Every relative URI (URI lines and URI="..." attributes) -> link(object key); absolute URIs stay."""

    def one(uri: str) -> str:
        if "://" in uri or uri.startswith("/"):
            return uri
        return link(resolve(playlist_key, uri))

    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            out.append(_URI_ATTR.sub(lambda m: f'URI="{one(m.group(1))}"', stripped))
        elif stripped:
            out.append(one(stripped))
        else:
            out.append("")
    return "\n".join(out) + "\n"
