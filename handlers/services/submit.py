"""Use-case: an upload event -> MCT jobs, exactly once per (bucket, key, etag, target).

For each record: match a rule -> (optional) mediainfo to skip renditions larger than the source -> for every
target: claim a row in the store (unique key) -> create_job -> store the jobId. A redelivered event finds the
claims and creates nothing; a claim whose create_job failed transiently is retried by the redelivery.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from handlers.config import Config, Rule
from handlers.domain.ids import claim_id_for, upload_id_for
from handlers.domain.planning import (
    PlannedJob,
    is_not_media_error,
    media_from_error,
    media_from_info,
    plan_for_media,
    portrait_variants,
    preset_has_video,
)
from handlers.domain.records import Job, Upload
from handlers.domain.rules import first_matching_rule, render_key
from handlers.domain.statuses import CLAIMED, KIND_THUMBNAIL, KIND_TRANSCODE, RETRYABLE, SUBMIT_FAILED
from handlers.logs import logger
from handlers.services import completion, versions
from handlers.services.deps import Deps
from handlers.services.ports import MctError
from handlers.services.retry import with_retries
from handlers.wire.bce_time import mct_time
from handlers.wire.upload_events import BadRecord, IgnoredRecord, ObjectCreated, parse_upload_event

# A claim older than this without a job id is considered abandoned (crashed invocation) and may be taken over.
# Longer than the CFC max run time (300 s) so a live invocation never loses its claim.
CLAIM_LEASE = timedelta(seconds=330)
# How far MCT's clock may be behind ours when looking for jobs an earlier attempt created.
CLOCK_SKEW = timedelta(seconds=60)
LOOKUP = "looking for the job of an earlier attempt"


class RetryLater(Exception):
    """Raised by the handler so CFC retries the invocation: something retryable is left."""

    def __init__(self, summary: dict[str, Any]):
        super().__init__(f"{summary['retryable']} job(s) could not be submitted yet; the event will be retried")
        self.summary = summary


@dataclass
class ObjectResult:
    bucket: str
    key: str
    etag: str
    rule: str | None = None
    jobs: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    retryable: bool = False

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"bucket": self.bucket, "key": self.key, "etag": self.etag, "rule": self.rule}
        d["jobs"] = self.jobs
        if self.skipped:
            d["skipped"] = self.skipped
        if self.error:
            d["error"] = self.error
        return d


def plan_jobs(cfg: Config, rule: Rule, obj: ObjectCreated) -> list[PlannedJob]:
    pipeline = cfg.pipeline_for(rule)
    planned = []
    for t in rule.targets:
        key = render_key(t.key, obj.key, preset=t.preset, ext=t.extension, target=t.target_name, etag=obj.etag)
        # Always explicit: outputs land where the recursion guard checked (the rule's bucket unless set).
        target: dict[str, Any] = {"targetKey": key, "presetName": t.preset, "targetBucket": t.bucket or rule.bucket}
        request = {"pipeline": pipeline, "source": {"sourceKey": obj.key}, "target": target}
        needs_video = preset_has_video(t.preset, cfg.presets)
        planned.append(PlannedJob(t.target_name, KIND_TRANSCODE, request, t.frame_size, needs_video))
    for th in rule.thumbnails:
        prefix = render_key(th.key_prefix, obj.key, target=th.name, etag=obj.etag)
        ttarget: dict[str, Any] = {"keyPrefix": prefix, "format": th.format, "targetBucket": th.bucket or rule.bucket}
        if th.width:
            ttarget["widthInPixel"] = th.width
        if th.height:
            ttarget["heightInPixel"] = th.height
        capture: dict[str, Any] = {"mode": th.mode}
        for src, dst in (
            ("start_seconds", "startTimeInSecond"),
            ("end_seconds", "endTimeInSecond"),
            ("interval_seconds", "intervalInSecond"),
            ("frame_number", "frameNumber"),
        ):
            if getattr(th, src) is not None:
                capture[dst] = getattr(th, src)
        request = {"pipeline": pipeline, "source": {"key": obj.key}, "target": ttarget, "capture": capture}
        planned.append(PlannedJob(f"thumbnail:{th.name}", KIND_THUMBNAIL, request))
    return planned


def _mct_retry(deps: Deps, call):
    m = deps.config.mct
    return with_retries(call, attempts=m.max_attempts, backoff=m.backoff_seconds, sleep=deps.sleep)


def submit_claim(deps: Deps, upload: Upload, p: PlannedJob) -> dict[str, Any]:
    """Claim (bucket, key, etag, target) and create its MCT job; a claim held by someone else is left alone."""
    store = deps.store
    claim = Job(
        claim_id=claim_id_for(upload.bucket, upload.key, upload.etag, p.target),
        upload_id=upload.upload_id,
        target=p.target,
        kind=p.kind,
        request=p.request,
    )
    before = store.get_claim(claim.claim_id)
    current, won = store.claim(claim, deps.now(), CLAIM_LEASE)
    if not won:
        return {"target": p.target, "outcome": "existing", "status": current.status, "job_id": current.job_id}
    r = p.request
    try:
        # Taken over from an attempt that died (its lease ran out while CLAIMED): it may have created the job
        # before it could store the id. RETRYABLE claims (create_job failed, or a redrive) get a new job.
        died = before is not None and (
            before.status == CLAIMED or (before.status == RETRYABLE and (before.last_error or "").startswith(LOOKUP))
        )
        job_id = _created_before(deps, p, current) if died else None
        hold = versions.check_before_create(deps, upload, r) if job_id is None else None
        if hold is not None:
            return _held(deps, upload, claim, p, hold)
        if job_id is not None:
            logger.info("adopting a job created by an earlier attempt", extra={"target": p.target, "job_id": job_id})
        elif p.kind == KIND_TRANSCODE:
            job_id = _mct_retry(deps, lambda: deps.mct.create_job(r["pipeline"], r["source"], r["target"]))
        else:
            job_id = _mct_retry(
                deps, lambda: deps.mct.create_thumbnail_job(r["pipeline"], r["source"], r["target"], r["capture"])
            )
    except MctError as exc:
        store.record_submit_failed(claim.claim_id, str(exc), exc.transient, deps.now())
        status = RETRYABLE if exc.transient else SUBMIT_FAILED
        logger.warning("create job failed", extra={"target": p.target, "status": status, "error": str(exc)})
        return {"target": p.target, "outcome": "retryable" if exc.transient else "failed", "error": str(exc)}
    store.record_submitted(claim.claim_id, job_id, deps.now())
    logger.info("job created", extra={"target": p.target, "job_id": job_id, "key": upload.key})
    return {"target": p.target, "outcome": "submitted", "job_id": job_id}


def _held(deps: Deps, upload: Upload, claim: Job, p: PlannedJob, hold: versions.Hold) -> dict[str, Any]:
    """No job now: superseded (final, never) or waiting for an older version's job on the same output (later)."""
    if hold.superseded_by is not None:
        deps.store.record_superseded(claim.claim_id, hold.reason, deps.now())
        deps.store.mark_superseded(upload.upload_id, hold.superseded_by)
        logger.info("not transcoded: superseded", extra={"target": p.target, "key": upload.key})
        return {"target": p.target, "outcome": "superseded", "reason": hold.reason}
    deps.store.record_submit_failed(claim.claim_id, hold.reason, True, deps.now())
    logger.info("job waits", extra={"target": p.target, "key": upload.key, "reason": hold.reason})
    return {"target": p.target, "outcome": "waiting", "reason": hold.reason}


def submit_waiting_newer(deps: Deps, upload_id: str) -> list[dict[str, Any]]:
    """A job of this upload became final: submit the claims of newer versions of the key that waited for it."""
    outcomes = []
    for upload, job in versions.waiting_newer_claims(deps, upload_id):
        outcomes.append(submit_claim(deps, upload, PlannedJob(job.target, job.kind, job.request)))
    return outcomes


def _created_before(deps: Deps, p: PlannedJob, claim: Job) -> str | None:
    """The id of an MCT job an earlier attempt at this claim created, if any: same pipeline, source and output,
    created since the claim (minus clock skew), not FAILED, and not recorded for another claim (an earlier upload
    of the same key writes the same output key).

    [INFERRED] MCT's list answers every job of the pipeline in the time range (no paging is documented)."""
    r = p.request
    since = mct_time(claim.created_at - CLOCK_SKEW)
    thumbnail = p.kind == KIND_THUMBNAIL
    try:
        jobs = _mct_retry(deps, lambda: deps.mct.list_jobs(r["pipeline"], thumbnail, since))
    except MctError as exc:  # recorded as the claim's error: the next attempt looks again before creating
        raise MctError(f"{LOOKUP}: {exc.message}", status=exc.status, code=exc.code, transient=exc.transient) from None
    if thumbnail:
        want = (r["source"].get("key"), r["target"].get("keyPrefix"))
    else:
        want = (r["source"].get("sourceKey"), r["target"].get("targetKey"), r["target"].get("presetName"))
    matches = []
    for job in jobs:
        source, target = job.get("source") or {}, job.get("target") or {}
        if thumbnail:
            got = (source.get("key"), target.get("key_prefix"))
        else:
            got = (source.get("source_key"), target.get("target_key"), target.get("preset_name"))
        job_id = job.get("job_id")
        # A FAILED orphan is left alone: a new job is worth a second try.
        failed = str(job.get("job_status") or "").upper() == "FAILED"
        if got == want and job_id and not failed and deps.store.get_job(str(job_id)) is None:
            matches.append((str(job.get("create_time") or ""), str(job_id)))
    return max(matches)[1] if matches else None


def submit_object(deps: Deps, obj: ObjectCreated, pool: ThreadPoolExecutor) -> ObjectResult:
    cfg, store = deps.config, deps.store
    result = ObjectResult(obj.bucket, obj.key, obj.etag)
    rule = first_matching_rule(cfg.rules, obj.bucket, obj.key)
    if rule is None:
        result.error = "no rule matches this bucket/key"
        return result
    result.rule = rule.rule_name
    planned = plan_jobs(cfg, rule, obj)
    upload_id = upload_id_for(obj.bucket, obj.key, obj.etag)
    existing = store.get_upload(upload_id)
    if existing is not None:
        # Redelivery: keep the first delivery's skip decisions, no second mediainfo call.
        skipped_names = {s["target"] for s in existing.skipped}
        planned = [p for p in planned if p.target not in skipped_names]
        skipped = existing.skipped
    else:
        planned, skipped = _mediainfo_filter(deps, obj, planned, result)
        if result.retryable:
            return result
    result.skipped = skipped
    upload = store.ensure_upload(
        Upload(upload_id, obj.bucket, obj.key, obj.etag, rule.rule_name, len(planned), skipped, created_at=deps.now())
    )
    if deps.bos is not None:  # numbered before its claims: see handlers.services.versions
        store.record_version(upload_id, obj.bucket, obj.key)
    outcomes = list(pool.map(lambda p: submit_claim(deps, upload, p), planned))
    result.jobs = outcomes
    result.retryable = any(o["outcome"] == "retryable" for o in outcomes)
    # Nothing to wait for (all skipped / failed permanently / already final): finish now.
    completion.maybe_complete(deps, upload_id)
    return result


def _mediainfo_filter(deps: Deps, obj: ObjectCreated, planned: list[PlannedJob], result: ObjectResult):
    """Plan by what the source is (handlers/domain/planning.py): not media -> nothing, audio only -> no video
    renditions, portrait -> portrait presets, no rendition larger than the source."""
    check = deps.config.mediainfo_check
    if not check.enabled or not planned:
        return planned, []
    try:
        info = _mct_retry(deps, lambda: deps.mct.get_mediainfo(obj.bucket, obj.key))
    except MctError as exc:
        if exc.transient:
            result.error = f"mediainfo: {exc}"
            result.retryable = True
            return planned, []
        if not is_not_media_error(exc.status):
            logger.warning("mediainfo failed; submitting without the media check", extra={"error": str(exc)})
            return planned, []
        media = media_from_error(exc.status, exc.code, exc.message)
    else:
        media = media_from_info(info)
    kept, skipped = plan_for_media(planned, media, check.keep_smallest, portrait_variants(check))
    if skipped:
        logger.info("targets skipped", extra={"media": media.kind, "skipped": [s["target"] for s in skipped]})
    return kept, skipped


def process_upload_event(deps: Deps, event: Any) -> dict[str, Any]:
    """Handle every record; one bad record never blocks the others. Returns a summary dict."""
    records = parse_upload_event(event)
    summary: dict[str, Any] = {
        "records": len(records),
        "submitted": 0,
        "existing": 0,
        "failed": 0,
        "retryable": 0,
        "waiting": 0,
        "superseded": 0,
        "skipped": 0,
        "ignored": 0,
        "bad": 0,
        "objects": [],
    }
    with ThreadPoolExecutor(max_workers=deps.config.submit_concurrency, thread_name_prefix="submit") as pool:
        for rec in records:
            if isinstance(rec, BadRecord):
                summary["bad"] += 1
                summary["objects"].append({"index": rec.index, "error": rec.reason})
                logger.warning("bad upload record", extra={"reason": rec.reason})
                continue
            if isinstance(rec, IgnoredRecord):
                summary["ignored"] += 1
                continue
            logger.thread_safe_append_keys(event_id=rec.event_id, bucket=rec.bucket, key=rec.key)
            try:
                res = submit_object(deps, rec, pool)
            except Exception as exc:  # the store or a bug: keep going with the next record, retry this one
                logger.exception("upload record failed")
                res = ObjectResult(rec.bucket, rec.key, rec.etag, error=f"{type(exc).__name__}: {exc}", retryable=True)
            finally:
                logger.thread_safe_remove_keys(["event_id", "bucket", "key"])
            if res.rule is None and res.error and not res.retryable:
                summary["ignored"] += 1
            for o in res.jobs:
                summary[o["outcome"]] += 1
            summary["skipped"] += len(res.skipped)
            if res.retryable and not any(o["outcome"] == "retryable" for o in res.jobs):
                summary["retryable"] += 1
            summary["objects"].append(res.as_dict())
    return summary
