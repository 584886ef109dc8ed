"""Use-case: find uploads whose BOS event never came (a missing or recreated trigger, a function that failed past
CFC's retries) and submit them.

Lists each rule's watched prefixes in BOS, page by page, and submits every object that matches the rule, has no
upload record for its (bucket, key, etag) and is older than `sweep.grace_minutes` (younger ones are left to their
event). Submission goes through the same claims as an upload event, so an object found twice, or found while its
event is being handled, still gets one job per target. A run is bounded (`max_objects_per_run` listed,
`max_submissions_per_run` submitted); where it stopped is kept per (bucket, prefix), so the next run goes on from
there and a full pass starts over.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from handlers.domain.ids import sweep_cursor_id, upload_id_for
from handlers.domain.rules import first_matching_rule
from handlers.logs import logger
from handlers.services.deps import Deps
from handlers.services.ports import BosError, ListedObject
from handlers.services.submit import submit_object
from handlers.wire.bce_time import bce_time
from handlers.wire.upload_events import ObjectCreated

PAGE_SIZE = 1000  # BOS lists at most 1000 keys per request
EVENT_TYPE = "Sweep"  # event_type of the uploads the sweep found (logs)


def watched_places(deps: Deps) -> list[tuple[str, str]]:
    """(bucket, prefix) pairs the rules watch, each once; a rule without prefixes watches its whole bucket."""
    places: dict[tuple[str, str], None] = {}
    for rule in deps.config.rules:
        for prefix in rule.prefixes or [""]:
            places[(rule.bucket, prefix)] = None
    return list(places)


def sweep(deps: Deps, grace: timedelta | None = None) -> dict[str, Any]:
    cfg = deps.config.sweep
    summary: dict[str, Any] = {"listed": 0, "submitted": 0, "recorded": 0, "too_new": 0, "too_old": 0, "errors": 0}
    if not cfg.enabled:
        return {**summary, "off": "sweep.enabled is false"}
    if deps.bos is None:
        return {**summary, "off": "no BOS client"}
    now = deps.now()
    grace = timedelta(minutes=cfg.grace_minutes) if grace is None else grace
    newest, oldest = now - grace, (now - timedelta(days=cfg.max_age_days) if cfg.max_age_days else None)
    budget = {"list": cfg.max_objects_per_run, "submit": cfg.max_submissions_per_run}
    with ThreadPoolExecutor(max_workers=deps.config.submit_concurrency, thread_name_prefix="sweep") as pool:
        for bucket, prefix in watched_places(deps):
            if budget["list"] <= 0 or budget["submit"] <= 0:
                break
            try:
                _sweep_place(deps, bucket, prefix, newest, oldest, budget, summary, pool)
            except BosError as exc:
                summary["errors"] += 1
                logger.warning("sweep: listing failed", extra={"bucket": bucket, "prefix": prefix, "error": str(exc)})
    logger.info("sweep finished", extra=summary)
    return summary


def _sweep_place(
    deps: Deps,
    bucket: str,
    prefix: str,
    newest: datetime,
    oldest: datetime | None,
    budget: dict[str, int],
    summary: dict[str, Any],
    pool: ThreadPoolExecutor,
) -> None:
    """List one (bucket, prefix) from where the last run stopped, within the run's budget."""
    store = deps.store
    cursor = sweep_cursor_id(bucket, prefix)
    marker = store.sweep_marker(cursor)
    while budget["list"] > 0:
        page = deps.bos.list_objects(bucket, prefix, marker, min(PAGE_SIZE, budget["list"]))
        budget["list"] -= len(page.objects)
        summary["listed"] += len(page.objects)
        ids = {o.key: upload_id_for(bucket, o.key, o.etag) for o in page.objects}
        recorded = store.existing_uploads(list(ids.values()))
        for obj in page.objects:
            if _wanted(deps, bucket, obj, newest, oldest, summary):
                if ids[obj.key] in recorded:
                    summary["recorded"] += 1
                elif budget["submit"] <= 0:
                    store.set_sweep_marker(cursor, marker, deps.now())  # the next run starts with this object
                    return
                else:
                    budget["submit"] -= 1
                    _submit(deps, bucket, obj, summary, pool)
            marker = obj.key
        if page.next_marker is None:
            marker = None  # a full pass: the next run starts over
            break
        marker = page.next_marker
        store.set_sweep_marker(cursor, marker, deps.now())
    store.set_sweep_marker(cursor, marker, deps.now())


def _wanted(
    deps: Deps, bucket: str, obj: ListedObject, newest: datetime, oldest: datetime | None, summary: dict[str, Any]
) -> bool:
    if first_matching_rule(deps.config.rules, bucket, obj.key) is None:
        return False  # e.g. a suffix the rule does not take: the upload function would ignore it too
    if obj.last_modified > newest:
        summary["too_new"] += 1
        return False
    if oldest is not None and obj.last_modified < oldest:
        summary["too_old"] += 1
        return False
    return True


def _submit(deps: Deps, bucket: str, obj: ListedObject, summary: dict[str, Any], pool: ThreadPoolExecutor) -> None:
    found = ObjectCreated(bucket, obj.key, obj.etag, obj.size, f"sweep:{bucket}/{obj.key}#{obj.etag}",
                          bce_time(obj.last_modified), EVENT_TYPE)  # fmt: skip
    logger.info("sweep: upload without a record", extra={"bucket": bucket, "key": obj.key, "etag": obj.etag})
    try:
        result = submit_object(deps, found, pool)
    except Exception as exc:  # the store or a bug: the next run tries again
        logger.exception("sweep: submission failed")
        summary["errors"] += 1
        summary.setdefault("failed", []).append({"key": obj.key, "error": f"{type(exc).__name__}: {exc}"})
        return
    summary["submitted"] += 1
    if result.error:
        summary["errors"] += 1
        summary.setdefault("failed", []).append({"key": obj.key, "error": result.error})
