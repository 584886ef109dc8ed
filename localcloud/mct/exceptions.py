"""MCT service errors. The wire body is always ``{"requestId","code","message"}`` (localcloud.bce_http).

Messages are Baidu's verbatim strings where the reference knows them (reference mct-api.md §6). The error *codes*
and HTTP statuses are mostly unknown: only ``MetaInfoExceptions.GetMediaInfoFailed`` (400) is confirmed. Every
other code/status below is an [INFERRED] guess, kept here and only here so it is easy to change. None of them is
500/503 (the Python SDK retries those).
"""

from __future__ import annotations

from localcloud.bce_http import BceServiceError


class MctError(BceServiceError):
    status = 400
    code = "InvalidArgument"

    def __init__(self, message: str):
        super().__init__(self.status, self.code, message)


# ----- request shape / validation --------------------------------------------------------------------------------
class InvalidArgument(MctError):  # [INFERRED] bean-validation failures ("<path>:<path>=<constraint>")
    status, code = 400, "InvalidArgument"


class MalformedJson(MctError):  # BCE common code; Jackson-style "Could not read JSON: ..." messages
    status, code = 400, "MalformedJSON"


class QuotaExceeded(MctError):  # [INFERRED] "total pipeline size exceed free quota:100"
    status, code = 400, "QuotaExceeded"


# ----- not found ---------------------------------------------------------------------------------------------------
class PipelineNotFound(MctError):  # [INFERRED] code/status
    status, code = 404, "NoSuchPipeline"


class PresetNotFound(MctError):  # [INFERRED]
    status, code = 404, "NoSuchPreset"


class JobNotFound(MctError):  # [INFERRED]
    status, code = 404, "NoSuchJob"


class ThumbnailNotFound(MctError):  # [INFERRED]
    status, code = 404, "NoSuchThumbnail"


class WatermarkNotFound(MctError):  # [INFERRED]
    status, code = 404, "NoSuchWatermark"


class NotificationNotFound(MctError):  # [INFERRED]
    status, code = 404, "NoSuchNotification"


class BucketNotFound(MctError):  # [INFERRED] "Bucket <b> doesn't exist or isn't in bj region"
    status, code = 404, "NoSuchBucket"


class ObjectNotFound(MctError):  # [INFERRED] "bos object: <key> does not exist"
    status, code = 404, "NoSuchKey"


class EncryptionKeyNotFound(MctError):  # 404 per [PY-T] ("AES key of job does not exist"); code [INFERRED]
    status, code = 404, "NoSuchEncryptionKey"


class RouteNotFound(MctError):  # [INFERRED] unknown /v3 path
    status, code = 404, "InvalidURI"


class MethodNotAllowed(MctError):  # [INFERRED]
    status, code = 405, "MethodNotAllowed"


# ----- state conflicts -------------------------------------------------------------------------------------------
class DuplicateName(MctError):  # [INFERRED] "duplicated pipeline name:<name>" / "duplicated preset name:<name>"
    status, code = 409, "DuplicatedName"


class PipelineDeleted(MctError):  # [INFERRED] "pipeline has been deleted"
    status, code = 400, "PipelineDeleted"


class PresetDeleted(MctError):  # [INFERRED] "preset has been deleted"
    status, code = 400, "PresetDeleted"


class PipelineBusy(MctError):  # [INFERRED] "pipeline has pending/running jobs"
    status, code = 409, "PipelineHasActiveJobs"


class NotificationInUse(MctError):  # [INFERRED] localcloud rule: a notification used by a pipeline stays
    status, code = 409, "NotificationInUse"


class ReadOnlyPreset(MctError):  # [INFERRED] system presets cannot be changed
    status, code = 403, "AccessDenied"


# ----- media -------------------------------------------------------------------------------------------------------
class MediaInfoFailed(MctError):  # confirmed by the JS SDK test: 400 + this code
    status, code = 400, "MetaInfoExceptions.GetMediaInfoFailed"


class EngineUnavailable(MctError):  # [INFERRED] localcloud only: the ffmpeg engine package is missing
    status, code = 501, "NotImplemented"


MEDIAINFO_FAILED_MESSAGE = "Get media info failed with errno: 1001"
# Job-level error codes the service itself sets (engine errors carry their own codes).
JOB_ERROR_ENGINE_MISSING = "EngineUnavailable"
JOB_ERROR_INTERNAL = "InternalError"
