"""localcloud CFC: runs the functions of a BSAM template.yaml with their BOS and HTTP triggers."""

from localcloud.cfc.pool import FunctionError, FunctionTimeout
from localcloud.cfc.runtime import AsyncOutcome, CfcRuntime
from localcloud.cfc.template import TemplateError

__all__ = ["AsyncOutcome", "CfcRuntime", "FunctionError", "FunctionTimeout", "TemplateError"]
