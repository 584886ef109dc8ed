"""MCT API views: the SDK's Expando results and camelCase callback bodies as plain snake_case dicts, so the
use-cases never touch SDK types."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

_first_cap = re.compile(r"(.)([A-Z][a-z]+)")
_number_cap = re.compile(r"([a-z])([0-9]{2,})")
_end_cap = re.compile(r"([a-z0-9])([A-Z])")


@functools.lru_cache(maxsize=1024)  # the same few dozen field names on every response: three regexes each
def pythonize(name: str) -> str:
    """The SDK's camelCase -> snake_case rule (baidubce.utils.pythonize_name), so both sources agree."""
    if name == "eTag":
        return "etag"
    return _end_cap.sub(r"\1_\2", _number_cap.sub(r"\1_\2", _first_cap.sub(r"\1_\2", name))).lower()


def snake(value: Any) -> Any:
    """camelCase dicts / SDK Expando objects -> snake_case plain dicts, recursively."""
    if isinstance(value, dict):
        return {pythonize(str(k)): snake(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [snake(v) for v in value]
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return {pythonize(k): snake(v) for k, v in vars(value).items() if k != "metadata" and not k.startswith("_")}
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


@dataclass(frozen=True)
class JobView:
    """What we read from a job (transcoding or thumbnail)."""

    job_id: str
    status: str
    error: dict[str, Any] | None = None
    output: dict[str, Any] = field(default_factory=dict)
    target: dict[str, Any] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobView:
        d = snake(data)
        target = d.get("target") or {}
        return cls(
            job_id=str(d.get("job_id") or ""),
            status=str(d.get("job_status") or "").upper(),
            error=d.get("error") or None,
            output=d.get("output") or {},
            target=target,
            keys=list(target.get("keys") or []),
            raw=d,
        )

    def result(self) -> dict[str, Any]:
        """The part we store and send downstream."""
        out: dict[str, Any] = {"status": self.status}
        for name in ("create_time", "start_time", "end_time"):
            if self.raw.get(name):
                out[name] = self.raw[name]
        if self.output:
            out["output"] = self.output
        if self.error:
            out["error"] = self.error
        if self.keys:
            out["keys"] = self.keys
        if self.target.get("target_bucket"):  # where MCT actually wrote (the pipeline's target bucket by default)
            out["target_bucket"] = self.target["target_bucket"]
        return out
