"""The MCT backend: state and rules of pipelines, presets, jobs, watermarks and notifications.

The wire layer (``responses.py``) calls these methods with decoded JSON and returns what they give back; nothing
here knows about HTTP. Shape checks live in ``rules.py``; this module adds the rules that need state (names taken,
buckets and objects that exist, soft deletes, quotas) and the job lifecycle used by the scheduler.
"""

from __future__ import annotations

import json
import os
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from localcloud.bce_auth import format_timestamp
from localcloud.mct import exceptions as exc
from localcloud.mct import rules
from localcloud.mct.store import JobRow, Store
from localcloud.mct.system_presets import all_system_presets, is_system_preset, system_preset, system_preset_readonly
from localcloud.storage import LocalStorage, StorageError

ID_ALPHABET = string.ascii_lowercase + string.digits
KEY_ALPHABET = string.ascii_letters + string.digits
TRANSCODING, THUMBNAIL = "transcoding", "thumbnail"
ACTIVE, INACTIVE = "ACTIVE", "INACTIVE"
REGION = "bj"


def new_id(prefix: str) -> str:
    """``job-`` / ``wmk-`` + 16 lowercase alphanumerics, like Baidu's ids (~82 random bits; one urandom call)."""
    n = int.from_bytes(os.urandom(12), "big")
    chars = []
    for _ in range(16):
        n, r = divmod(n, 36)
        chars.append(ID_ALPHABET[r])
    return prefix + "".join(chars)


def new_aes_key() -> str:
    return "".join(secrets.choice(KEY_ALPHABET) for _ in range(16))


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


@dataclass(frozen=True)
class QueuedJob:
    """What the scheduler keeps in memory per waiting job."""

    seq: int
    id: str
    kind: str
    pipeline: str
    group: str | None  # jobs of one pipeline with the same group may be handed to the engine together


@dataclass(frozen=True)
class NotifyTarget:
    name: str  # notification name ("" for a per-job URL override)
    endpoint: str
    token: str | None  # set when the notification is of type SIGN


class MctBackend:
    def __init__(self, store: Store, storage: LocalStorage, clock: Callable[[], float] = time.time):
        self.store = store
        self.storage = storage
        self.clock = clock
        self._lock = threading.RLock()  # check-then-write of names and quotas
        self._capacity: dict[str, int] = {}
        self._pipelines: dict[str, dict] = {}  # read cache; this backend is the only writer of its database
        self.on_job_created: Callable[[QueuedJob], None] | None = None
        self.on_capacity_changed: Callable[[], None] | None = None  # lets the scheduler use new free slots now
        self._now_cache: tuple[int, str] = (-1, "")

    def now(self) -> str:
        epoch = int(self.clock())
        cached = self._now_cache
        if cached[0] != epoch:  # one strftime per second, not per request
            cached = self._now_cache = (epoch, format_timestamp(epoch))
        return cached[1]

    # ----- shared checks -------------------------------------------------------------------------------------------
    def _require_bucket(self, bucket: str) -> None:
        if not self.storage.bucket_exists(bucket):
            raise exc.BucketNotFound(f"Bucket {bucket} doesn't exist or isn't in {REGION} region")

    def _require_object(self, bucket: str, key: str) -> None:
        """``key`` as the request gave it (the message echoes it); a leading '/' is dropped for the lookup."""
        try:
            if self.storage.object_path(bucket, rules.object_key(key)).is_file():
                return
        except StorageError:
            pass  # a bad bucket name or key: reported below as missing
        self._require_bucket(bucket)
        raise exc.ObjectNotFound(f"bos object: {key} does not exist")

    # ----- pipelines -----------------------------------------------------------------------------------------------
    def _pipeline_doc(self, name: str) -> dict:
        doc = self._pipelines.get(name)
        if doc is None:
            doc = self.store.get_doc("pipelines", "name", name)
            if doc is None:
                raise exc.PipelineNotFound("The requested pipeline does not exist")
            self._pipelines[name] = doc
        return doc

    def _save_pipeline(self, doc: dict, insert: bool = False) -> None:
        name = doc["pipelineName"]
        if insert:
            self.store.execute(
                "INSERT INTO pipelines (name, state, doc) VALUES (?, ?, ?)", (name, doc["state"], json.dumps(doc))
            )
        else:
            self.store.execute(
                "UPDATE pipelines SET state = ?, doc = ? WHERE name = ?", (doc["state"], json.dumps(doc), name)
            )
        self._pipelines[name] = doc
        old_capacity = self._capacity.get(name)
        self._capacity[name] = doc["config"]["capacity"]
        if old_capacity is not None and old_capacity != self._capacity[name] and self.on_capacity_changed:
            self.on_capacity_changed()

    def _active_pipeline(self, name: str) -> dict:
        doc = self._pipeline_doc(name)
        if doc["state"] != ACTIVE:
            raise exc.PipelineDeleted("pipeline has been deleted")
        return doc

    def _check_pipeline_refs(self, fields: dict, exclude: str | None) -> None:
        self._require_bucket(fields["sourceBucket"])
        self._require_bucket(fields["targetBucket"])
        notification = fields["config"]["notification"]
        if notification and self.store.get_doc("notifications", "name", notification) is None:
            raise exc.NotificationNotFound(f"notification: {notification} does not exist")
        used = sum(
            d["config"]["capacity"]
            for d in self.store.all_docs("pipelines", "state = ?", (ACTIVE,))
            if d["pipelineName"] != exclude
        )
        capacity = fields["config"]["capacity"]
        if used + capacity > rules.FREE_QUOTA:
            # Baidu's exact text: its own test reads the number after the last ':' (reference Corrections).
            raise exc.QuotaExceeded(f"total pipeline size exceed free quota:{rules.FREE_QUOTA}, current used:{used}")

    def _existing_pipeline(self, name: str) -> dict | None:
        try:
            return self._pipeline_doc(name)
        except exc.PipelineNotFound:
            return None

    def create_pipeline(self, body: dict) -> None:
        fields = rules.check_pipeline(body)
        name = fields["pipelineName"]
        with self._lock:
            old = self._existing_pipeline(name)
            if old is not None and old["state"] == ACTIVE:
                raise exc.DuplicateName(f"duplicated pipeline name:{name}")
            self._check_pipeline_refs(fields, exclude=None)
            now = self.now()
            # A deleted name can be created again (Baidu's tests re-create one fixed name in every setUp); the
            # old pipeline's jobs keep its name and list under the new one. [INFERRED]
            doc = {**fields, "state": ACTIVE, "createTime": now, "lastUpdateTime": now}
            self._save_pipeline(doc, insert=old is None)

    def get_pipeline(self, name: str) -> dict:
        doc = self._pipeline_doc(name)
        return self._with_counters(doc, self.store.job_counts(name).get(name, {}))

    def list_pipelines(self) -> list[dict]:
        counts = self.store.job_counts()
        docs = self.store.all_docs("pipelines", "state = ?", (ACTIVE,))
        return [self._with_counters(d, counts.get(d["pipelineName"], {})) for d in docs]

    @staticmethod
    def _with_counters(doc: dict, counts: dict[str, int]) -> dict:
        status = {s.lower(): counts.get(s, 0) for s in rules.JOB_STATUSES}
        return {**doc, "jobStatus": {"total": sum(counts.values()), **status}}

    def update_pipeline(self, name: str, body: dict) -> None:
        with self._lock:
            old = self._active_pipeline(name)
            fields = rules.check_pipeline(body, name=name)
            self._check_pipeline_refs(fields, exclude=name)
            self._save_pipeline({**old, **fields, "lastUpdateTime": self.now()})

    def delete_pipeline(self, name: str) -> None:
        with self._lock:
            doc = self._pipeline_doc(name)
            if doc["state"] != ACTIVE:  # deleting twice (reference Corrections)
                raise exc.PipelineNotFound("The requested pipeline does not exist")
            counts = self.store.job_counts(name).get(name, {})
            if counts.get("PENDING", 0) or counts.get("RUNNING", 0):
                raise exc.PipelineBusy("pipeline has pending/running jobs")
            self._save_pipeline({**doc, "state": INACTIVE, "lastUpdateTime": self.now()})

    def pipeline_capacity(self, name: str) -> int:
        """Concurrency of a pipeline (deleted pipelines keep theirs so queued jobs still finish)."""
        cap = self._capacity.get(name)
        if cap is None:
            doc = self.store.get_doc("pipelines", "name", name)
            cap = doc["config"]["capacity"] if doc else rules.DEFAULT_CAPACITY
            self._capacity[name] = cap
        return cap

    # ----- presets -------------------------------------------------------------------------------------------------
    def _preset_doc(self, name: str, copy: bool = True) -> dict:
        """A preset's wire JSON; ``copy=False`` for read-only use (skips copying system presets)."""
        doc = (system_preset(name) if copy else system_preset_readonly(name)) or self.store.get_doc(
            "presets", "name", name
        )
        if doc is None:
            raise exc.PresetNotFound("The requested preset does not exist")
        return doc

    def _check_preset_watermarks(self, preset: dict) -> None:
        for wid in _preset_watermark_ids(preset):
            self._watermark_doc(wid)

    def create_preset(self, body: dict) -> None:
        preset = rules.check_preset(body)
        name = preset["presetName"]
        with self._lock:
            old = None if is_system_preset(name) else self.store.get_doc("presets", "name", name)
            if is_system_preset(name) or (old is not None and old["state"] == ACTIVE):
                raise exc.DuplicateName(f"duplicated preset name:{name}")
            self._check_preset_watermarks(preset)
            doc = {**preset, "state": ACTIVE, "createdTime": self.now()}
            # A deleted name can be created again, like pipelines; jobs already created keep their snapshot.
            self.store.execute(
                "INSERT OR REPLACE INTO presets (name, state, doc) VALUES (?, ?, ?)", (name, ACTIVE, json.dumps(doc))
            )

    def get_preset(self, name: str) -> dict:
        return self._preset_doc(name)

    def list_presets(self) -> list[dict]:
        return all_system_presets() + self.store.all_docs("presets", "state = ?", (ACTIVE,))

    def update_preset(self, name: str, body: dict) -> None:
        with self._lock:
            if is_system_preset(name):
                raise exc.ReadOnlyPreset(f"system preset {name} cannot be updated")
            old = self._preset_doc(name)
            if old["state"] != ACTIVE:
                raise exc.PresetDeleted("preset has been deleted")
            preset = rules.check_preset(body, name=name)
            self._check_preset_watermarks(preset)
            doc = {**preset, "state": ACTIVE, "createdTime": old["createdTime"]}
            self.store.execute("UPDATE presets SET doc = ? WHERE name = ?", (json.dumps(doc), name))

    def delete_preset(self, name: str) -> None:
        with self._lock:
            if is_system_preset(name):
                raise exc.ReadOnlyPreset(f"system preset {name} cannot be deleted")
            doc = self._preset_doc(name)
            if doc["state"] != ACTIVE:  # deleting twice (reference Corrections)
                raise exc.PresetNotFound("The requested preset does not exist")
            doc["state"] = INACTIVE
            self.store.execute(
                "UPDATE presets SET state = ?, doc = ? WHERE name = ?", (INACTIVE, json.dumps(doc), name)
            )

    # ----- transcoding jobs --------------------------------------------------------------------------------------
    def create_transcoding_job(self, body: dict) -> str:
        pipeline_name, source, target = rules.check_transcoding_job(body)
        pipeline = self._active_pipeline(pipeline_name)
        preset = self._preset_doc(target["presetName"], copy=False)
        if preset["state"] != ACTIVE:
            raise exc.PresetDeleted("preset has been deleted")
        clips = self._resolve_clips(source, pipeline["sourceBucket"])
        target_bucket = target.get("targetBucket") or pipeline["targetBucket"]
        self._require_bucket(target_bucket)
        target_key = rules.check_output_key(target["targetKey"], "target.targetKey")
        watermark_ids = _preset_watermark_ids(preset) + list(target.get("watermarkIds") or [])
        if watermark_ids and preset.get("transmux"):
            raise exc.InvalidArgument("watermark is not supported in Transmux mode")
        watermarks = [_engine_watermark(self._watermark_doc(wid)) for wid in watermark_ids]
        notify = ((target.get("jobCfg") or {}).get("notification") or "").strip() or None
        if notify and not is_url(notify) and self.store.get_doc("notifications", "name", notify) is None:
            raise exc.NotificationNotFound(f"notification: {notify} does not exist")
        aes_key = None
        if preset.get("encryption"):
            aes_key = preset["encryption"].get("aesKey") or new_aes_key()
        job_id = new_id("job-")
        doc = {
            "jobId": job_id,
            "pipelineName": pipeline_name,
            "source": source,
            "target": target,
            "jobStatus": "PENDING",
            "createTime": self.now(),
        }
        internal = {
            "clips": clips,
            "targetBucket": target_bucket,
            "targetKey": target_key,
            # user presets are snapshotted (they may change before the job runs); system presets never change
            "preset": None if is_system_preset(preset["presetName"]) else _preset_body(preset),
            "presetName": preset["presetName"],
            "watermarks": watermarks,
            "notify": notify,
        }
        group = json.dumps(clips, sort_keys=True)
        seq = self.store.insert_job(job_id, TRANSCODING, pipeline_name, doc, {**internal, "group": group}, aes_key)
        self._announce(QueuedJob(seq, job_id, TRANSCODING, pipeline_name, group))
        return job_id

    def _resolve_clips(self, source: dict, default_bucket: str) -> list[dict]:
        """Source → clips with bucket, key, start/duration in seconds (what the engine wants)."""
        if source.get("sourceKey"):
            key = source["sourceKey"]
            self._require_object(default_bucket, key)
            return [{"bucket": default_bucket, "key": rules.object_key(key), "start_s": None, "duration_s": None}]
        clips = []
        for clip in source["clips"]:
            bucket = clip.get("bucket") or default_bucket
            self._require_object(bucket, clip["sourceKey"])
            start = clip.get("startTimeInSecond")
            if start is None and clip.get("startTimeInMillisecond") is not None:
                start = clip["startTimeInMillisecond"] / 1000.0
            duration = clip.get("durationInSecond")
            if duration is None and clip.get("durationInMillisecond") is not None:
                duration = clip["durationInMillisecond"] / 1000.0
            clips.append(
                {"bucket": bucket, "key": rules.object_key(clip["sourceKey"]), "start_s": start, "duration_s": duration}
            )
        return clips

    def _announce(self, job: QueuedJob) -> None:
        if self.on_job_created is not None:
            self.on_job_created(job)

    def get_transcoding_job(self, job_id: str) -> dict:
        row = self.store.get_job(job_id, TRANSCODING)
        if row is None:
            raise exc.JobNotFound("The requested job does not exist")
        return row.doc

    def list_transcoding_jobs(self, pipeline=None, status=None, begin=None, end=None) -> list[dict]:
        return self._list_jobs(TRANSCODING, pipeline, status, begin, end)

    def _list_jobs(self, kind, pipeline, status, begin, end) -> list[dict]:
        status = rules.check_job_status(status)
        begin = rules.check_time(begin, "begin")
        end = rules.check_time(end, "end")
        if pipeline:
            self._pipeline_doc(pipeline)  # unknown → error; deleted pipelines still list their jobs
        return self.store.list_jobs(kind, pipeline or None, status, begin, end)

    def encryption_key(self, job_id: str) -> str:
        if self.store.get_job(job_id, TRANSCODING) is None:
            raise exc.JobNotFound("The requested job does not exist")
        key = self.store.encryption_key(job_id)
        if key is None:
            raise exc.EncryptionKeyNotFound(f"AES key of job {job_id} does not exist (its preset has no encryption)")
        return key

    # ----- thumbnail jobs ----------------------------------------------------------------------------------------
    def create_thumbnail_job(self, body: dict) -> str:
        pipeline_name, source, target, capture = rules.check_thumbnail_job(body)
        pipeline = self._active_pipeline(pipeline_name)
        if body.get("presetName"):
            raise exc.InvalidArgument(
                f"presetName={body['presetName']!r}: thumbnail presets are not supported by localcloud; "
                "give target/capture fields instead"
            )
        source_bucket = source.get("sourceBucket") or pipeline["sourceBucket"]
        self._require_object(source_bucket, source["key"])
        target_bucket = target.get("targetBucket") or pipeline["targetBucket"]
        self._require_bucket(target_bucket)
        target.setdefault("keyPrefix", source["key"])
        key_prefix = rules.check_output_key(target["keyPrefix"], "target.keyPrefix")
        job_id = new_id("job-")
        doc = {
            "jobId": job_id,
            "pipelineName": pipeline_name,
            "source": source,
            "target": target,
            "capture": capture,
            "jobStatus": "PENDING",
            "createTime": self.now(),
        }
        for extra in ("delogoArea", "crop"):
            if isinstance(body.get(extra), dict):
                doc[extra] = body[extra]
        internal = {
            "sourceBucket": source_bucket,
            "sourceKey": rules.object_key(source["key"]),
            "targetBucket": target_bucket,
            "keyPrefix": key_prefix,
            "notify": None,
        }
        seq = self.store.insert_job(job_id, THUMBNAIL, pipeline_name, doc, internal)
        self._announce(QueuedJob(seq, job_id, THUMBNAIL, pipeline_name, None))
        return job_id

    def get_thumbnail_job(self, job_id: str) -> dict:
        row = self.store.get_job(job_id, THUMBNAIL)
        if row is None:
            raise exc.ThumbnailNotFound("The requested thumbnail does not exist")
        return row.doc

    def list_thumbnail_jobs(self, pipeline=None, status=None, begin=None, end=None) -> list[dict]:
        return self._list_jobs(THUMBNAIL, pipeline, status, begin, end)

    # ----- job lifecycle (scheduler side) --------------------------------------------------------------------------
    def requeue_running(self) -> list[str]:
        """At start-up: jobs a previous process left RUNNING go back to PENDING (they run again from scratch)."""
        ids = []
        for row in self.store.jobs_with_status("RUNNING"):
            doc = {k: v for k, v in row.doc.items() if k not in ("startTime",)}
            doc["jobStatus"] = "PENDING"
            self.store.save_job(row.id, doc)
            ids.append(row.id)
        return ids

    def queued_jobs(self) -> list[QueuedJob]:
        return [
            QueuedJob(r.seq, r.id, r.kind, r.pipeline, r.internal.get("group"))
            for r in self.store.jobs_with_status("PENDING")
        ]

    def job_row(self, job_id: str) -> JobRow:
        row = self.store.get_job(job_id)
        if row is None:
            raise exc.JobNotFound(f"job {job_id} does not exist")
        return row

    def mark_running(self, job_id: str) -> dict:
        row = self.job_row(job_id)
        doc = {**row.doc, "jobStatus": "RUNNING", "startTime": self.now()}
        self.store.save_job(job_id, doc)
        return doc

    def mark_success(
        self, job_id: str, output: dict | None = None, keys: list[str] | None = None, ffmpeg_runs=None
    ) -> dict:
        """``ffmpeg_runs``: (start, end) epoch seconds of the job's ffmpeg processes, kept in the job's internal
        record as ``ffmpegRuns`` (never on the wire; benchmarks subtract them from end-to-end times)."""
        row = self.job_row(job_id)
        doc = {**row.doc, "jobStatus": "SUCCESS", "endTime": self.now()}
        doc.pop("error", None)
        if row.kind == TRANSCODING:
            doc["output"] = output or {}
        else:
            doc["target"] = {**doc["target"], "keys": list(keys or [])}
        internal = {**row.internal, "ffmpegRuns": [list(run) for run in ffmpeg_runs]} if ffmpeg_runs else None
        self.store.save_job(job_id, doc, internal)
        return doc

    def mark_failed(self, job_id: str, code: str, message: str) -> dict:
        row = self.job_row(job_id)
        doc = {**row.doc, "jobStatus": "FAILED", "endTime": self.now(), "error": {"code": code, "message": message}}
        doc.setdefault("startTime", doc["endTime"])
        self.store.save_job(job_id, doc)
        return doc

    def notify_target(self, row: JobRow) -> NotifyTarget | None:
        """Where the completion callback of a job goes: target.jobCfg.notification, else the pipeline's."""
        name = row.internal.get("notify")
        if name and is_url(name):
            return NotifyTarget("", name, None)
        if not name:
            pipeline = self.store.get_doc("pipelines", "name", row.pipeline) or {}
            name = (pipeline.get("config") or {}).get("notification")
        if not name:
            return None
        notification = self.store.get_doc("notifications", "name", name)
        if notification is None:
            return None
        token = notification.get("token") if notification.get("type") == "SIGN" else None
        return NotifyTarget(name, notification["endpoint"], token)

    # ----- watermarks ----------------------------------------------------------------------------------------------
    def _watermark_doc(self, watermark_id: str) -> dict:
        doc = self.store.get_doc("watermarks", "id", watermark_id)
        if doc is None:
            raise exc.WatermarkNotFound(f"watermark: {watermark_id} does not exist")
        return doc

    def create_watermark(self, body: dict) -> str:
        mark = rules.check_watermark(body)
        self._require_object(mark["bucket"], mark["key"])
        with self.storage.open(mark["bucket"], rules.object_key(mark["key"])) as fh:
            head = fh.read(8)
        if rules.watermark_format(head) is None:
            raise exc.InvalidArgument(
                f"invalid watermark format, only {rules.WATERMARK_FORMATS_TEXT} are supported "
                f"(bos object: {mark['key']})"
            )
        watermark_id = new_id("wmk-")
        doc = {"watermarkId": watermark_id, **mark, "createTime": self.now()}
        self.store.execute("INSERT INTO watermarks (id, doc) VALUES (?, ?)", (watermark_id, json.dumps(doc)))
        return watermark_id

    def get_watermark(self, watermark_id: str) -> dict:
        return self._watermark_doc(watermark_id)

    def list_watermarks(self) -> list[dict]:
        return self.store.all_docs("watermarks")

    def delete_watermark(self, watermark_id: str) -> None:
        if not self.store.execute("DELETE FROM watermarks WHERE id = ?", (watermark_id,)):
            raise exc.WatermarkNotFound(f"watermark: {watermark_id} does not exist")

    # ----- notifications ---------------------------------------------------------------------------------------------
    @staticmethod
    def _public_notification(doc: dict) -> dict:
        return {k: v for k, v in doc.items() if k != "token"}  # the SIGN token is a secret: never echoed

    def create_notification(self, body: dict) -> None:
        fields = rules.check_notification(body)
        with self._lock:
            if self.store.get_doc("notifications", "name", fields["name"]) is not None:
                raise exc.DuplicateName(f"duplicated notification name:{fields['name']}")
            doc = {**fields, "createTime": self.now()}
            self.store.execute("INSERT INTO notifications (name, doc) VALUES (?, ?)", (fields["name"], json.dumps(doc)))

    def get_notification(self, name: str) -> dict:
        doc = self.store.get_doc("notifications", "name", name)
        if doc is None:
            raise exc.NotificationNotFound(f"notification: {name} does not exist")
        return self._public_notification(doc)

    def list_notifications(self) -> list[dict]:
        return [self._public_notification(d) for d in self.store.all_docs("notifications")]

    def delete_notification(self, name: str) -> None:
        with self._lock:
            self.get_notification(name)
            users = [
                p["pipelineName"]
                for p in self.store.all_docs("pipelines", "state = ?", (ACTIVE,))
                if p["config"].get("notification") == name
            ]
            if users:
                raise exc.NotificationInUse(
                    f"notification {name} is used by pipeline(s) {', '.join(users)}; update them first"
                )
            self.store.execute("DELETE FROM notifications WHERE name = ?", (name,))

    # ----- media info ----------------------------------------------------------------------------------------------
    def media_info(self, bucket: str, key: str) -> dict:
        if not bucket:
            raise exc.InvalidArgument(rules.bean("bucket", "may not be null"))
        if not key:
            raise exc.InvalidArgument(rules.bean("key", "may not be null"))
        self._require_object(bucket, key)
        engine = load_engine()
        stored = rules.object_key(key)
        info = self.storage.head(bucket, stored)
        try:
            media = engine.probe_media(self.storage.object_path(bucket, stored))
        except engine.EngineError:
            raise exc.MediaInfoFailed(exc.MEDIAINFO_FAILED_MESSAGE) from None
        return {"bucket": bucket, "key": key, **media, "etag": info.etag}


def _engine_watermark(doc: dict) -> dict:
    """A watermark as the engine reads it: the image's stored key (the doc keeps the key as the request gave it)."""
    return {**doc, "key": rules.object_key(doc["key"])}


def _preset_body(preset: dict) -> dict:
    """What the engine gets: the preset's wire JSON without the response-only fields."""
    return {k: v for k, v in preset.items() if k not in ("state", "createdTime")}


def preset_for_job(internal: dict) -> dict:
    """The preset a job runs with (its snapshot, or the system preset it names)."""
    if internal.get("preset") is not None:
        return internal["preset"]
    return _preset_body(system_preset_readonly(internal["presetName"]))


def _preset_watermark_ids(preset: dict) -> list[str]:
    ids = []
    if preset.get("watermarkId") is not None:
        ids.append(preset["watermarkId"])
    ids.extend((preset.get("watermarks") or {}).get("image") or [])
    return ids


def load_engine():
    """The ffmpeg engine package, imported on first use (the service runs without it; jobs then fail clearly)."""
    try:
        import localcloud.mct.engine as engine
    except ImportError as e:
        raise exc.EngineUnavailable(f"the MCT engine (localcloud.mct.engine) is not available: {e}") from None
    return engine
