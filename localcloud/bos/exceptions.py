"""BOS service errors (code and HTTP status as BOS answers them); the SDK raises them as ``BceServerError``."""

from __future__ import annotations

from localcloud.bce_http import BceServiceError


class BosError(BceServiceError):
    status = 400
    code = "InvalidArgument"

    def __init__(self, message: str):
        super().__init__(self.status, self.code, message)


class InvalidArgument(BosError):
    pass


class MalformedJSON(BosError):
    code = "MalformedJSON"


class BadDigest(BosError):
    code = "BadDigest"


class NoSuchUpload(BosError):
    status = 404
    code = "NoSuchUpload"


class InvalidPart(BosError):
    code = "InvalidPart"


class InvalidPartOrder(BosError):
    code = "InvalidPartOrder"


class InvalidRange(BosError):
    status = 416
    code = "InvalidRange"


class PreconditionFailed(BosError):
    status = 412
    code = "PreconditionFailed"


class OffsetIncorrect(BosError):
    status = 409
    code = "OffsetIncorrect"


class ObjectUnappendable(BosError):
    status = 409
    code = "ObjectUnappendable"


class NotImplementedByLocalcloud(BosError):
    status = 501
    code = "NotImplemented"
