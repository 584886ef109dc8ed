"""Errors of the local CFC API, answered with the BCE error body (``localcloud.bce_http``).

Codes follow AWS Lambda's names, which CFC's API mirrors ([INFERRED]: bce-sdk-go's CFC client only needs the HTTP
status and the body's ``code``/``message``; bce-python-sdk's ``cfc_handler.parse_error`` accepts either case).
"""

from __future__ import annotations

from localcloud.bce_http import BceServiceError


class ResourceNotFound(BceServiceError):
    def __init__(self, message: str):
        super().__init__(404, "ResourceNotFoundException", message)


class ResourceConflict(BceServiceError):
    def __init__(self, message: str):
        super().__init__(409, "ResourceConflictException", message)


class InvalidParameter(BceServiceError):
    def __init__(self, message: str):
        super().__init__(400, "InvalidParameterValueException", message)


class InvalidZipFile(BceServiceError):
    def __init__(self, message: str):
        super().__init__(400, "InvalidZipFileException", message)


class MethodNotAllowed(BceServiceError):
    def __init__(self, message: str):
        super().__init__(405, "MethodNotAllowed", message)
