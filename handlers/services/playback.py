"""Use-case: publish an upload's HLS renditions as one adaptive-bitrate stream (a master playlist in BOS).

When every HLS rendition of an upload succeeded (and the rule keeps `hls_master` on), the master playlist is written
next to them: one #EXT-X-STREAM-INF per rendition with BANDWIDTH / AVERAGE-BANDWIDTH measured from its segments'
sizes (one listing per rendition), RESOLUTION and FRAME-RATE from the job output, CODECS from the rule. Writing it
again gives the same object, so every delivery attempt may publish it; the done event names it (`playback.hls`).
"""

from __future__ import annotations

import posixpath
from typing import Any

from handlers.config import Rule
from handlers.domain.records import Job, Upload
from handlers.domain.statuses import KIND_TRANSCODE, SUCCESS
from handlers.logs import logger
from handlers.services.deps import Deps
from handlers.wire import hls_master

PLAYLIST_TYPE = "application/vnd.apple.mpegurl"


def _rule(deps: Deps, upload: Upload) -> Rule | None:
    return next((r for r in deps.config.rules if r.rule_name == upload.rule), None)


def _bucket(job: Job, upload: Upload) -> str:
    target = job.request.get("target") or {}
    return target.get("targetBucket") or job.result.get("target_bucket") or upload.bucket


def hls_jobs(jobs: list[Job]) -> list[Job]:
    return [
        j for j in jobs
        if j.kind == KIND_TRANSCODE and str((j.request.get("target") or {}).get("targetKey", "")).endswith(".m3u8")
    ]  # fmt: skip


def master_location(deps: Deps, upload: Upload, jobs: list[Job]) -> tuple[str, str] | None:
    """(bucket, key) of the upload's master playlist, or None: no HLS rendition, one did not succeed, the rule
    turned it off, or the renditions are in different buckets."""
    rule = _rule(deps, upload)
    renditions = hls_jobs(jobs)
    if rule is None or not rule.hls_master.enabled or not renditions:
        return None
    if any(j.status != SUCCESS for j in renditions):
        return None
    buckets = {_bucket(j, upload) for j in renditions}
    if len(buckets) != 1:
        return None
    keys = [j.request["target"]["targetKey"] for j in renditions]
    return buckets.pop(), hls_master.default_master_key(keys, rule.hls_master.name)


def publish_master(deps: Deps, upload: Upload, jobs: list[Job]) -> dict[str, Any] | None:
    """Write the master playlist; -> {"bucket", "key", "variants"} for the done event, or None (nothing to write,
    no BOS, or BOS failed: logged, the renditions are still named one by one in the event)."""
    where = master_location(deps, upload, jobs)
    if where is None or deps.bos is None:
        return None
    bucket, master_key = where
    rule = _rule(deps, upload)
    assert rule is not None
    try:
        variants = [_variant(deps, bucket, master_key, job, rule.hls_master.codecs) for job in hls_jobs(jobs)]
        deps.bos.put_text(bucket, master_key, hls_master.build_master(variants), PLAYLIST_TYPE)
    except Exception as exc:  # BOS unreachable, a playlist missing or unreadable: the event goes out without it
        error = f"{type(exc).__name__}: {exc}"
        logger.warning("HLS master playlist not written",
                       extra={"upload_id": upload.upload_id, "key": master_key, "error": error})  # fmt: skip
        return None
    logger.info("HLS master playlist written", extra={"upload_id": upload.upload_id, "key": master_key})
    return {"bucket": bucket, "key": master_key, "variants": len(variants)}


def _variant(deps: Deps, bucket: str, master_key: str, job: Job, codecs: str) -> hls_master.Variant:
    assert deps.bos is not None
    key = job.request["target"]["targetKey"]
    segments = hls_master.media_segments(deps.bos.get_text(bucket, key))
    directory = posixpath.dirname(key)
    listed = deps.bos.sizes(bucket, f"{directory}/" if directory else "")
    segment_keys = [hls_master.resolve(key, s.uri) for s in segments]
    sizes = [listed[k] for k in segment_keys] if segments and all(k in listed for k in segment_keys) else None
    return hls_master.variant(hls_master.relative_uri(master_key, key), job.result.get("output") or {}, segments,
                              sizes, codecs)  # fmt: skip
