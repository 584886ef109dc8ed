"""Use-case rules for overwritten keys: the newest version of a key wins.

Each upload (bucket, key, etag) is numbered in the order the store records it (`Store.record_version`), before its
jobs are claimed; just before a job is created, BOS is asked which etag the key holds now:

- another etag: this version was overwritten. Nothing is created (MCT reads the source when the job runs, so it
  would transcode the newer bytes under this version's name); the claim becomes SUPERSEDED and the upload's event
  says SUPERSEDED. (No object at all tells nothing about versions: the job is created and MCT reports the missing
  source.)
- this etag: it is the newest so far. An older version of the key may still have a job in flight that writes the
  same output key; then this job waits (its claim RETRYABLE) until that one is final, so the newest version's job
  writes last. The older job's completion (or the reconciler) submits it.

Why the numbering gives the right order: a version is numbered before its claims and its claims are taken before
the BOS check. If an older version A is numbered after a newer B, A's check runs after B was written and fails; if
A's claim is missing when B looks for older claims, A's check runs after B's and fails too.
When every job of an upload is final, BOS is asked again: a version overwritten meanwhile is marked superseded, so
its event says so and names the etag that replaced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handlers.domain.records import Job, Upload
from handlers.domain.statuses import RETRYABLE
from handlers.logs import logger
from handlers.services.deps import Deps
from handlers.services.ports import BosError


def same_etag(a: str | None, b: str | None) -> bool:
    """[UNVERIFIED] that BOS spells an etag the same in upload events, listings and GetObjectMeta: quotes and case
    are ignored here, so a difference in those alone never makes every upload look overwritten."""
    return a is not None and b is not None and a.strip().strip('"').lower() == b.strip().strip('"').lower()


@dataclass(frozen=True)
class Hold:
    """Why a job is not created now: `superseded_by` (never) or `waiting` (later)."""

    reason: str
    superseded_by: str | None = None

    @property
    def waiting(self) -> bool:
        return self.superseded_by is None


def output_of(request: dict[str, Any]) -> tuple[str, str]:
    """(bucket, key or key prefix) a job writes; two jobs with the same one overwrite each other."""
    target = request.get("target") or {}
    return str(target.get("targetBucket") or ""), str(target.get("targetKey") or target.get("keyPrefix") or "")


def check_before_create(deps: Deps, upload: Upload, request: dict[str, Any]) -> Hold | None:
    """None: create the job now. Without BOS (tests, or no access) there is no check."""
    if deps.bos is None:
        return None
    store = deps.store
    mine = store.get_version(upload.upload_id) or store.record_version(upload.upload_id, upload.bucket, upload.key)
    try:
        current = deps.bos.current_etag(upload.bucket, upload.key)
    except BosError as exc:
        # Availability first: an unreachable BOS (or a key without BOS read access) must not stop transcoding;
        # only the protection against an overwrite racing this upload is lost meanwhile.
        logger.warning("BOS version check failed; creating the job unchecked", extra={"error": str(exc)})
        return None
    if current is not None and not same_etag(current, upload.etag):
        return Hold(f"superseded: the key now holds another version (etag {current}); nothing was transcoded", current)
    output = output_of(request)
    for older in store.object_versions(upload.bucket, upload.key):
        if older.seq >= mine.seq:
            continue
        for job in store.jobs_for_upload(older.upload_id):
            if not job.final and output_of(job.request) == output:
                return Hold(
                    f"waiting for job {job.job_id or '(being created)'} of an older version of this key to finish: "
                    f"it writes the same output {output[1]!r}"
                )
    return None


def superseded_now(deps: Deps, upload: Upload) -> str | None:
    """At completion: the etag that replaced this version at the key (recorded once), or None if it is current."""
    store = deps.store
    version = store.get_version(upload.upload_id)
    if version is None:  # recorded before versions were tracked, or no BOS
        return None
    if version.superseded_by is not None:
        return version.superseded_by
    try:
        current = deps.bos.current_etag(upload.bucket, upload.key) if deps.bos is not None else upload.etag
        by = None if current is None or same_etag(current, upload.etag) else current
    except BosError:
        # BOS not reachable now: a newer version the store knows of is enough to tell.
        newer = [v for v in store.object_versions(upload.bucket, upload.key) if v.seq > version.seq]
        uploads = [store.get_upload(v.upload_id) for v in newer if v.superseded_by is None]
        by = next((u.etag for u in reversed(uploads) if u is not None), None)
    if by is not None:
        store.mark_superseded(upload.upload_id, by)
        logger.info("upload superseded by a newer version", extra={"upload_id": upload.upload_id, "by": by})
    return by


def waiting_newer_claims(deps: Deps, upload_id: str) -> list[tuple[Upload, Job]]:
    """Claims of newer versions of this upload's key that are waiting (RETRYABLE, no job) for it."""
    store = deps.store
    if deps.bos is None:
        return []
    mine = store.get_version(upload_id)
    upload = store.get_upload(upload_id) if mine is not None else None
    if mine is None or upload is None:
        return []
    found = []
    for newer in store.object_versions(upload.bucket, upload.key):
        if newer.seq <= mine.seq:
            continue
        newer_upload = store.get_upload(newer.upload_id)
        for job in store.jobs_for_upload(newer.upload_id):
            if newer_upload is not None and job.job_id is None and job.status == RETRYABLE:
                found.append((newer_upload, job))
    return found
