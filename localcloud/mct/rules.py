"""Validation rules of MCT request bodies (reference mct-api.md §2-§4, §8): pure functions, no state.

Each ``check_*`` takes the decoded JSON body and returns the normalized object to store, or raises an
``exceptions.MctError`` whose message is Baidu's verbatim text where it is known ("bean validation" style
``<path>:<path>=<constraint>``) and always names the field and the bad value otherwise.
Unknown JSON fields are ignored (dropped), as Baidu's server does.

Baidu's server binds JSON with Java/Jackson, and Baidu's own integration tests show its defaults (reference
Corrections): a decimal given for an integer field is truncated toward zero and then range-checked ("3.5 == 3"),
and a value of the wrong type answers Jackson's "Could not read JSON: Can not construct instance of ..." text.
"""

from __future__ import annotations

import re
from typing import Any

from localcloud.mct import catalog
from localcloud.mct.exceptions import InvalidArgument, MalformedJson

NAME_PATTERN = "[a-z][0-9a-z_]{0,39}"
NAME_RE = re.compile(rf"^{NAME_PATTERN}$")
MAX_DESCRIPTION = 128
DEFAULT_CAPACITY = 20
FREE_QUOTA = 100
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
JOB_STATUSES = ("PENDING", "RUNNING", "SUCCESS", "FAILED")
AES_KEY_RE = re.compile(r"^[a-zA-Z0-9]{16}$")
# [INFERRED] the Java package of Baidu's request models; the real messages show only "com.baidu.bce" and the
# tail of the enum class ("...target.Format", reference §2.5).
JAVA_MODEL_PACKAGE = "com.baidu.bce.mct.model"

H_ALIGN = ("left", "center", "right")
V_ALIGN = ("top", "center", "bottom")
THUMB_FORMATS = ("jpg", "png", "gif", "webp")
THUMB_MODES = ("auto", "manual", "split")  # shot/idl/highlight need AI models: not in localcloud

PRESET_FIELDS = (
    "presetName", "description", "container", "transmux", "clip", "audio", "video", "encryption",
    "watermarkId", "watermarks", "transCfg", "extraCfg",
)  # fmt: skip


def bean(path: str, text: str) -> str:
    """Baidu's bean-validation message shape, e.g. ``audio.channels:audio.channels=must be ...``."""
    return f"{path}:{path}={text}"


def object_key(key: str) -> str:
    """The BOS key a request names: a leading '/' is dropped, as the real service does (reference Corrections:
    '/00mingxioutput', '/media/info/jobtest.mp4' and '/pic/水印图片.png' all work). Messages keep the key as given."""
    return key.lstrip("/")


def check_output_key(key: str, field: str) -> str:
    """The stored key outputs are written at. Every character BOS allows is accepted, as the real service does
    (e.g. ``测试视频结果/\\<> *?"|.mp4``); localcloud only refuses keys that name no object or whose '.'/'..'/empty
    segments could step out of the bucket on a local disk [localcloud-only safety rule]."""
    stored = object_key(key)
    if not stored or "\x00" in stored or any(seg in ("", ".", "..") for seg in stored.split("/")):
        raise InvalidArgument(
            f"{field}={key!r} is not an object key localcloud can write: use '/'-separated names without "
            "empty, '.' or '..' segments, e.g. 'out/video.mp4'"
        )
    return stored


def _jackson(text: str, path: str) -> MalformedJson:
    """Jackson's binding error as Baidu's server returns it; the reference chain names the field."""
    return MalformedJson(f"Could not read JSON: {text} (through reference chain: {path})")


def _java_enum_class(path: str) -> str:
    """``video.sizingPolicy`` -> ``com.baidu.bce.mct.model.video.SizingPolicy`` (the shape Baidu's messages show)."""
    head, _, last = path.rpartition(".")
    return ".".join(p for p in (JAVA_MODEL_PACKAGE, head, last[:1].upper() + last[1:]) if p)


def enum_error(path: str, value: Any, allowed) -> MalformedJson:
    """Jackson's enum error, naming the field and the value."""
    if not isinstance(value, str):
        return _wrong_token(path, value, _java_enum_class(path))
    names = ", ".join(str(a) for a in allowed)
    return _jackson(
        f"Can not construct instance of {_java_enum_class(path)} from String value '{value}': "
        f"value not one of declared Enum instance names: [{names}]",
        path,
    )


_JSON_TOKENS = ((bool, "VALUE_TRUE"), (int, "VALUE_NUMBER_INT"), (float, "VALUE_NUMBER_FLOAT"),
                (str, "VALUE_STRING"), (dict, "START_OBJECT"), (list, "START_ARRAY"))  # fmt: skip


def _wrong_token(path: str, value: Any, java_type: str) -> MalformedJson:
    token = next((name for kind, name in _JSON_TOKENS if isinstance(value, kind)), "VALUE_NULL")
    if value is False:
        token = "VALUE_FALSE"
    return _jackson(f"Can not deserialize instance of {java_type} out of {token} token", path)


_SCALARS = ("java.lang.Integer", "java.lang.Double", "java.lang.Boolean")


def _type_error(path: str, value: Any, java_type: str) -> MalformedJson:
    """A value of the wrong JSON type for ``path`` (``java_type`` is what the field holds, e.g. java.lang.Integer)."""
    if isinstance(value, str) and java_type in _SCALARS:
        simple = java_type.rpartition(".")[2]
        why = 'only "true" or "false" recognized' if simple == "Boolean" else f"not a valid {simple} value"
        return _jackson(f"Can not construct instance of {java_type} from String value '{value}': {why}", path)
    return _wrong_token(path, value, java_type)


# ----- typed field readers (None = absent or JSON null) ---------------------------------------------------------
def obj(body: dict, field: str, path: str) -> dict | None:
    """A nested object, copied (normalizing it never changes the caller's body)."""
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _type_error(path, value, f"{JAVA_MODEL_PACKAGE}.{field[:1].upper()}{field[1:]}")
    return dict(value)


def string(body: dict, field: str, path: str, required: bool = False) -> str | None:
    value = body.get(field)
    if value is None or (required and value == ""):
        if required:
            raise InvalidArgument(bean(path, "may not be null"))
        return None
    if not isinstance(value, str):
        raise _type_error(path, value, "java.lang.String")
    return value


def integer(body: dict, field: str, path: str, lo: int | None = None, hi: int | None = None) -> int | None:
    """An int field, Jackson-style: a decimal is truncated toward zero (3.5 -> 3, 95.9 -> 95), stored back into
    ``body``, then range-checked."""
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _type_error(path, value, "java.lang.Integer")
    value = body[field] = int(value)
    _range(path, value, lo, hi)
    return value


def number(body: dict, field: str, path: str, lo: float | None = None, hi: float | None = None) -> float | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _type_error(path, value, "java.lang.Double")
    _range(path, value, lo, hi)
    return value


def boolean(body: dict, field: str, path: str) -> bool | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise _type_error(path, value, "java.lang.Boolean")
    return value


def enum(body: dict, field: str, path: str, allowed) -> str | None:
    value = body.get(field)
    if value is None:
        return None
    if value not in allowed:
        raise enum_error(path, value, allowed)
    return value


def _range(path: str, value, lo, hi) -> None:
    if lo is not None and value < lo:
        raise InvalidArgument(bean(path, f"must be greater than or equal to {lo}"))
    if hi is not None and value > hi:
        raise InvalidArgument(bean(path, f"must be less than or equal to {hi}"))


def description(body: dict) -> str:
    text = string(body, "description", "description") or ""
    if len(text) > MAX_DESCRIPTION:
        raise InvalidArgument(bean("description", f"size must be between 0 and {MAX_DESCRIPTION}"))
    return text


def check_time(value: str | None, field: str) -> str | None:
    if value is None or value == "":
        return None
    if not TIME_RE.match(value):
        raise InvalidArgument(f"{field}={value!r} is not a UTC time like 2015-06-01T00:00:00Z")
    return value


def check_job_status(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if value not in JOB_STATUSES:
        raise InvalidArgument(f"jobStatus={value!r} should in [{', '.join(JOB_STATUSES)}]")
    return value


# ----- pipelines -------------------------------------------------------------------------------------------------
def check_pipeline(body: dict, name: str | None = None) -> dict:
    """Normalized pipeline fields; ``name`` is the path name on update (the body's name is then ignored)."""
    if name is None:
        name = string(body, "pipelineName", "pipelineName", required=True)
        if not NAME_RE.match(name):
            raise InvalidArgument(bean("pipelineName", f'must match "{NAME_PATTERN}"') + f" (got {name!r})")
    config = obj(body, "config", "config") or {}
    capacity = integer(config, "capacity", "config.capacity", lo=1)
    notification = string(config, "notification", "config.notification") or None
    pipeline_type = string(config, "pipelineType", "config.pipelineType")
    result = {
        "pipelineName": name,
        "description": description(body),
        "sourceBucket": string(body, "sourceBucket", "sourceBucket", required=True),
        "targetBucket": string(body, "targetBucket", "targetBucket", required=True),
        "config": {"capacity": DEFAULT_CAPACITY if capacity is None else capacity, "notification": notification},
    }
    if pipeline_type:
        result["config"]["pipelineType"] = pipeline_type
    return result


# ----- presets ---------------------------------------------------------------------------------------------------
def check_preset(body: dict, name: str | None = None) -> dict:
    """Normalized user preset (known fields only). Watermark ids are checked by the backend."""
    if name is None:
        name = string(body, "presetName", "presetName", required=True)
        if not NAME_RE.match(name):
            raise InvalidArgument(f"preset name must match pattern:{NAME_PATTERN} (got {name!r})")
    container = string(body, "container", "container", required=True)
    if container not in catalog.CONTAINERS:
        raise enum_error("container", container, catalog.CONTAINERS)
    transmux = boolean(body, "transmux", "transmux") or False
    preset: dict[str, Any] = {
        "presetName": name,
        "description": description(body),
        "container": container,
        "transmux": transmux,
    }
    clip = obj(body, "clip", "clip")
    if clip is not None:
        integer(clip, "startTimeInSecond", "clip.startTimeInSecond", lo=0)
        integer(clip, "durationInSecond", "clip.durationInSecond", lo=1)
        preset["clip"] = clip
    audio = obj(body, "audio", "audio")
    if audio is not None:
        preset["audio"] = _check_audio(audio, container)
    video = obj(body, "video", "video")
    if video is not None:
        preset["video"] = _check_video(video)
    if not transmux and audio is None and video is None:
        raise InvalidArgument("video and audio cannot both be set to null when transmux equals false")
    encryption = obj(body, "encryption", "encryption")
    if encryption is not None:
        strategy = encryption.get("strategy")
        if strategy is None:
            raise InvalidArgument(bean("encryption.strategy", "may not be null"))
        enum(encryption, "strategy", "encryption.strategy", catalog.ENCRYPTION_STRATEGIES)
        aes_key = string(encryption, "aesKey", "encryption.aesKey")
        if aes_key is not None and not AES_KEY_RE.match(aes_key):
            raise InvalidArgument(bean("encryption.aesKey", 'must match "[a-zA-Z0-9]{16}"'))
        string(encryption, "keyServerUrl", "encryption.keyServerUrl")
        preset["encryption"] = encryption
    if "watermarkId" in body and body["watermarkId"] is not None:
        preset["watermarkId"] = string(body, "watermarkId", "watermarkId")
    watermarks = obj(body, "watermarks", "watermarks")
    if watermarks is not None:
        image = watermarks.get("image") or []
        if not isinstance(image, list) or not all(isinstance(i, str) for i in image):
            raise _type_error("watermarks.image", image, "java.util.ArrayList")
        preset["watermarks"] = {"image": image}
    if transmux and (preset.get("watermarkId") is not None or (watermarks or {}).get("image")):
        raise InvalidArgument("watermark is not supported in Transmux mode")
    trans_cfg = obj(body, "transCfg", "transCfg")
    if trans_cfg is not None:
        enum(trans_cfg, "transMode", "transCfg.transMode", catalog.TRANS_MODES)
        preset["transCfg"] = trans_cfg
    extra = obj(body, "extraCfg", "extraCfg")
    if extra is not None:
        number(extra, "segmentDurationInSecond", "extraCfg.segmentDurationInSecond", lo=1)
        integer(extra, "gopLength", "extraCfg.gopLength", lo=1)
        boolean(extra, "skipBlackFrame", "extraCfg.skipBlackFrame")
        preset["extraCfg"] = extra
    return preset


def _check_audio(audio: dict, container: str) -> dict:
    volume = obj(audio, "volumeAdjust", "audio.volumeAdjust") or {}
    muted = boolean(volume, "mute", "audio.volumeAdjust.mute")
    bitrate = integer(audio, "bitRateInBps", "audio.bitRateInBps", lo=1000)
    if bitrate is None and container != "pcm" and not muted:
        raise InvalidArgument(bean("audio.bitRateInBps", "may not be null"))
    rate = integer(audio, "sampleRateInHz", "audio.sampleRateInHz")
    if rate is not None and rate not in catalog.SAMPLE_RATES:
        rates = ", ".join(map(str, catalog.SAMPLE_RATES))
        raise InvalidArgument(f"audio.sampleRateInHz should in [{rates}] (got {rate})")
    integer(audio, "channels", "audio.channels", lo=1, hi=2)
    enum(audio, "codec", "audio.codec", catalog.AUDIO_CODECS)
    enum(audio, "pcmFormat", "audio.pcmFormat", catalog.PCM_FORMATS)
    return audio


def _check_video(video: dict) -> dict:
    enum(video, "codec", "video.codec", catalog.VIDEO_CODECS)
    options = obj(video, "codecOptions", "video.codecOptions")
    if options is not None:
        enum(options, "profile", "video.codecOptions.profile", catalog.PROFILES)
    integer(video, "bitRateInBps", "video.bitRateInBps", lo=32000)
    fps = number(video, "maxFrameRate", "video.maxFrameRate")
    if fps is not None and float(fps) not in catalog.FRAME_RATES:
        raise InvalidArgument(f"video.maxFrameRate should in [{', '.join(map(str, catalog.FRAME_RATES))}] (got {fps})")
    integer(video, "maxWidthInPixel", "video.maxWidthInPixel", lo=128, hi=4096)
    integer(video, "maxHeightInPixel", "video.maxHeightInPixel", lo=96, hi=3072)
    enum(video, "sizingPolicy", "video.sizingPolicy", catalog.SIZING_POLICIES)
    integer(video, "crf", "video.crf", lo=0, hi=51)
    number(video, "playbackSpeed", "video.playbackSpeed", lo=0.5, hi=2.0)
    return video


# ----- watermarks ------------------------------------------------------------------------------------------------
def check_watermark(body: dict) -> dict:
    body = dict(body)  # integer() normalizes in place
    mark = {
        "bucket": string(body, "bucket", "bucket", required=True),
        "key": string(body, "key", "key", required=True),
        "verticalAlignment": enum(body, "verticalAlignment", "verticalAlignment", V_ALIGN) or "top",
        "horizontalAlignment": enum(body, "horizontalAlignment", "horizontalAlignment", H_ALIGN) or "left",
        "verticalOffsetInPixel": integer(body, "verticalOffsetInPixel", "verticalOffsetInPixel", lo=0, hi=3072) or 0,
        "horizontalOffsetInPixel": integer(body, "horizontalOffsetInPixel", "horizontalOffsetInPixel", lo=0, hi=4096)
        or 0,
    }
    if mark["verticalAlignment"] == "center" and mark["verticalOffsetInPixel"]:
        raise InvalidArgument(
            "VerticalOffsetInPixel is only valid when the value of VerticalAlignment is top or bottom"
        )
    if mark["horizontalAlignment"] == "center" and mark["horizontalOffsetInPixel"]:
        raise InvalidArgument(
            "HorizontalOffsetInPixel is only valid when the value of HorizontalAlignment is left or right"
        )
    timeline = obj(body, "timeline", "timeline")
    if timeline is not None:
        integer(timeline, "startTimeInMillisecond", "timeline.startTimeInMillisecond", lo=0)
        integer(timeline, "durationInMillisecond", "timeline.durationInMillisecond", lo=0)
        mark["timeline"] = timeline
    if body.get("repeated") is not None:
        mark["repeated"] = integer(body, "repeated", "repeated", lo=0)
    if body.get("allowScaling") is not None:
        mark["allowScaling"] = boolean(body, "allowScaling", "allowScaling")
    for field in ("dx", "dy", "width", "height"):  # strings like "0.1" on the wire
        value = body.get(field)
        if value is not None:
            try:
                float(value)
            except (TypeError, ValueError):
                raise InvalidArgument(f"{field}={value!r} is not a number") from None
            mark[field] = str(value)
    return mark


# Image formats a watermark may be: png, jpg, gif and bmp (reference §2.8), tif and pbm (Baidu's Python
# integration tests create watermarks from 水印图片.tif and logo2.pbm). Recognized by their first bytes.
WATERMARK_MAGIC = {
    b"\x89PNG": "png", b"\xff\xd8\xff": "jpg", b"GIF8": "gif", b"BM": "bmp",
    b"II*\x00": "tif", b"MM\x00*": "tif", b"P1": "pbm", b"P4": "pbm",
}  # fmt: skip
WATERMARK_FORMATS_TEXT = "png, jpg, bmp, gif, tif and pbm"


def watermark_format(head: bytes) -> str | None:
    for magic, fmt in WATERMARK_MAGIC.items():
        if head.startswith(magic) and (fmt != "pbm" or head[2:3].isspace()):  # "P1"/"P4" then whitespace
            return fmt
    return None


# ----- notifications ---------------------------------------------------------------------------------------------
NOTIFICATION_TYPES = ("NONE", "SIGN")


def check_notification(body: dict) -> dict:
    name = string(body, "name", "name", required=True)
    if not NAME_RE.match(name):
        raise InvalidArgument(bean("name", f'must match "{NAME_PATTERN}"') + f" (got {name!r})")
    endpoint = string(body, "endpoint", "endpoint", required=True)
    if not re.match(r"^https?://[^/\s]+", endpoint):
        raise InvalidArgument(f"endpoint={endpoint!r} must be an http:// or https:// URL")
    kind = enum(body, "type", "type", NOTIFICATION_TYPES) or "NONE"
    token = string(body, "token", "token")
    if kind == "SIGN" and not token:
        raise InvalidArgument(bean("token", "may not be null") + " when type is SIGN")
    return {"name": name, "endpoint": endpoint, "type": kind, "token": token if kind == "SIGN" else None}


# ----- jobs ------------------------------------------------------------------------------------------------------
MAX_CLIPS = 200


def check_transcoding_job(body: dict) -> tuple[str, dict, dict]:
    """(pipelineName, source, target) after shape checks; references are checked by the backend."""
    pipeline = string(body, "pipelineName", "pipelineName", required=True)
    source = obj(body, "source", "source")
    if source is None:
        raise InvalidArgument(bean("source", "may not be null"))
    target = obj(body, "target", "target")
    if target is None:
        raise InvalidArgument(bean("target", "may not be null"))
    key = string(source, "sourceKey", "source.sourceKey")
    clips = source.get("clips")
    if key and clips:
        raise InvalidArgument("source.sourceKey and source.clips cannot both be set")
    if not key:
        if not clips:
            raise InvalidArgument(bean("source.sourceKey", "may not be null") + " (or give source.clips)")
        if not isinstance(clips, list) or not all(isinstance(c, dict) for c in clips):
            raise _type_error("source.clips", clips, "java.util.ArrayList")
        if len(clips) > MAX_CLIPS:
            raise InvalidArgument(bean("source.clips", f"size must be between 1 and {MAX_CLIPS}"))
        clips = source["clips"] = [dict(c) for c in clips]  # normalized below (truncated ints)
        for i, clip in enumerate(clips):
            path = f"source.clips[{i}]"
            string(clip, "sourceKey", f"{path}.sourceKey", required=True)
            string(clip, "bucket", f"{path}.bucket")
            number(clip, "startTimeInSecond", f"{path}.startTimeInSecond", lo=0)
            number(clip, "durationInSecond", f"{path}.durationInSecond", lo=0)
            integer(clip, "startTimeInMillisecond", f"{path}.startTimeInMillisecond", lo=0)
            integer(clip, "durationInMillisecond", f"{path}.durationInMillisecond", lo=0)
            for flag in ("asMasterClip", "enableLogo", "enableDelogo", "enableCrop"):
                boolean(clip, flag, f"{path}.{flag}")
    string(target, "targetKey", "target.targetKey", required=True)
    string(target, "presetName", "target.presetName", required=True)
    string(target, "targetBucket", "target.targetBucket")
    ids = target.get("watermarkIds")
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
        raise _type_error("target.watermarkIds", ids, "java.util.ArrayList")
    job_cfg = obj(target, "jobCfg", "target.jobCfg")
    if job_cfg is not None:
        string(job_cfg, "notification", "target.jobCfg.notification")
    return pipeline, source, target


def check_thumbnail_job(body: dict) -> tuple[str, dict, dict, dict]:
    """(pipelineName, source, target, capture) with defaults filled (keyPrefix is filled by the backend)."""
    pipeline = string(body, "pipelineName", "pipelineName", required=True)
    source = obj(body, "source", "source")
    if source is None:
        raise InvalidArgument(bean("source", "may not be null"))
    string(source, "key", "source.key", required=True)
    string(source, "sourceBucket", "source.sourceBucket")
    target = dict(obj(body, "target", "target") or {})
    string(target, "targetBucket", "target.targetBucket")
    string(target, "keyPrefix", "target.keyPrefix")
    target["format"] = enum(target, "format", "target.format", THUMB_FORMATS) or "jpg"
    target["sizingPolicy"] = enum(target, "sizingPolicy", "target.sizingPolicy", catalog.SIZING_POLICIES) or "keep"
    width = integer(target, "widthInPixel", "target.widthInPixel", lo=10, hi=2000)
    height = integer(target, "heightInPixel", "target.heightInPixel", lo=10, hi=2000)
    target["widthInPixel"] = 600 if width is None else width
    target["heightInPixel"] = 450 if height is None else height
    number(target, "frameRate", "target.frameRate", lo=0.01, hi=30)
    capture = dict(obj(body, "capture", "capture") or {})
    mode = enum(capture, "mode", "capture.mode", THUMB_MODES) or "auto"
    capture["mode"] = mode
    start = number(capture, "startTimeInSecond", "capture.startTimeInSecond", lo=0)
    end = number(capture, "endTimeInSecond", "capture.endTimeInSecond", lo=0)
    interval = number(capture, "intervalInSecond", "capture.intervalInSecond", lo=0)
    frames = integer(capture, "frameNumber", "capture.frameNumber", lo=1)
    number(capture, "minIntervalInSecond", "capture.minIntervalInSecond", lo=0)
    boolean(capture, "skipBlackFrame", "capture.skipBlackFrame")
    if mode == "auto" and any(v is not None for v in (start, end, interval, frames)):
        raise InvalidArgument("cannot specify start time, end time, interval or frame number in auto mode")
    if mode == "manual" and start is None:
        raise InvalidArgument("start time is required in manual mode")
    if start is not None and end is not None and start > end:
        raise InvalidArgument("start time cannot larger than end time")
    if mode == "split" and frames is None:
        raise InvalidArgument(bean("capture.frameNumber", "may not be null") + " in split mode")
    return pipeline, source, target, capture
