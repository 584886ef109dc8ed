"""Read a BSAM ``template.yaml`` (reference events-and-templates.md §3): the functions and their BOS/HTTP triggers.

Follows the bsam CLI: ``BCE::Serverless::Function`` (and ``BCE::CFC::Function``), properties Handler, Runtime,
CodeUri, MemorySize (128), Timeout (3 s), Environment.Variables, Events of Type BOS / HTTP; ``Globals.Function``
gives defaults. Every key is case-sensitive. Errors name the resource, the field and the value.

bsam has no crontab event type, so a function's CFC crontab trigger is declared in the resource's
``Metadata.autotranscode.Crontab`` (``Name``, ``ScheduleExpression``; bsam ignores Metadata). localcloud runs it on
its schedule (``localcloud.cfc.scheduler``); ``autotranscode deploy`` creates it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from localcloud.bos.events import CREATE_EVENT_TYPES

log = logging.getLogger(__name__)

FUNCTION_TYPES = ("BCE::Serverless::Function", "BCE::CFC::Function")
DEFAULT_MEMORY_MB = 128
DEFAULT_TIMEOUT_S = 3
MAX_TIMEOUT_S = 300
HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")
AUTH_TYPES = ("anonymous", "iam")
# CFC's schedule formats (doc ajzmg1mft; bce-sdk-python CrontabTriggerData): rate(N unit) or cron(5 fields, UTC).
SCHEDULE_RE = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(\S+( \S+){4}\))$")
TRIGGER_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,30}$")


class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class BosTrigger:
    name: str
    bucket: str
    event_types: tuple[str, ...]
    prefix: str = ""
    suffix: str = ""

    def matches(self, bucket: str, key: str, event_type: str) -> bool:
        return (
            bucket == self.bucket
            and event_type in self.event_types
            and key.startswith(self.prefix)
            and key.endswith(self.suffix)
        )


@dataclass(frozen=True)
class HttpTrigger:
    name: str
    resource_path: str
    methods: tuple[str, ...]
    auth_type: str = "anonymous"


@dataclass(frozen=True)
class CrontabTrigger:
    name: str
    schedule: str


@dataclass
class FunctionSpec:
    name: str
    handler: str
    runtime: str
    code_dir: Path
    memory_mb: int = DEFAULT_MEMORY_MB
    timeout_s: float = DEFAULT_TIMEOUT_S
    environment: dict[str, str] = field(default_factory=dict)
    bos_triggers: list[BosTrigger] = field(default_factory=list)
    http_triggers: list[HttpTrigger] = field(default_factory=list)
    crontab_triggers: list[CrontabTrigger] = field(default_factory=list)
    description: str = ""


class _Loader(yaml.SafeLoader):
    """Safe loader that tolerates CloudFormation-style tags (!Ref, !Sub ...) by keeping their plain value."""


def _any_tag(loader, _suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


_Loader.add_multi_constructor("!", _any_tag)


def load_template(path: str | Path) -> dict[str, FunctionSpec]:
    path = Path(path).resolve()
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except FileNotFoundError:
        raise TemplateError(f"template {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise TemplateError(f"template {path} is not valid YAML: {exc}") from None
    return parse_template(doc, path.parent)


def parse_template(doc: dict, base_dir: Path) -> dict[str, FunctionSpec]:
    if not isinstance(doc, dict) or not isinstance(doc.get("Resources"), dict):
        raise TemplateError("template has no Resources mapping")
    globals_fn = ((doc.get("Globals") or {}).get("Function")) or {}
    functions: dict[str, FunctionSpec] = {}
    for logical_id, resource in doc["Resources"].items():
        if not isinstance(resource, dict) or resource.get("Type") not in FUNCTION_TYPES:
            continue
        spec = _parse_function(logical_id, resource.get("Properties") or {}, globals_fn, base_dir)
        spec.crontab_triggers = _crontab_triggers(logical_id, resource.get("Metadata"))
        if spec.name in functions:
            raise TemplateError(f"two functions are named {spec.name!r}")
        functions[spec.name] = spec
    if not functions:
        raise TemplateError(f"template declares no function ({' or '.join(FUNCTION_TYPES)})")
    return functions


def _parse_function(logical_id: str, props: dict, globals_fn: dict, base_dir: Path) -> FunctionSpec:
    merged = {**globals_fn, **props}
    env = {
        **((globals_fn.get("Environment") or {}).get("Variables") or {}),
        **((props.get("Environment") or {}).get("Variables") or {}),
    }
    where = f"function {logical_id}"
    handler = merged.get("Handler")
    if not isinstance(handler, str) or "." not in handler:
        raise TemplateError(f"{where}: Handler {handler!r} must be module.function, e.g. handlers.on_upload.handler")
    runtime = str(merged.get("Runtime", "python3"))
    if not runtime.startswith("python"):
        raise TemplateError(f"{where}: Runtime {runtime!r} is not supported locally (only python runtimes)")
    code_uri = merged.get("CodeUri", "./")
    if not isinstance(code_uri, str):
        raise TemplateError(f"{where}: CodeUri {code_uri!r} must be a local directory (BosLocation is not supported)")
    code_dir = (base_dir / code_uri).resolve()
    if not code_dir.is_dir():
        raise TemplateError(f"{where}: CodeUri {code_uri!r} is not a directory (resolved to {code_dir})")
    memory = _number(where, "MemorySize", merged.get("MemorySize", DEFAULT_MEMORY_MB), int)
    timeout = _number(where, "Timeout", merged.get("Timeout", DEFAULT_TIMEOUT_S), float)
    if not 0 < timeout <= MAX_TIMEOUT_S:
        raise TemplateError(f"{where}: Timeout {timeout} must be between 1 and {MAX_TIMEOUT_S} seconds")
    spec = FunctionSpec(
        name=str(merged.get("FunctionName") or logical_id),
        handler=handler,
        runtime=runtime,
        code_dir=code_dir,
        memory_mb=memory,
        timeout_s=timeout,
        environment={str(k): _env_value(v) for k, v in env.items()},
        description=str(merged.get("Description") or ""),
    )
    for event_name, event in (props.get("Events") or {}).items():
        event_where = f"{where}, event {event_name}"
        kind = (event or {}).get("Type")
        eprops = (event or {}).get("Properties") or {}
        if kind == "BOS":
            spec.bos_triggers.append(_bos_trigger(event_where, event_name, eprops))
        elif kind == "HTTP":
            spec.http_triggers.append(_http_trigger(event_where, event_name, eprops))
        else:
            log.warning("%s: trigger Type %r is not emulated locally; ignored", event_where, kind)
    return spec


def _bos_trigger(where: str, name: str, props: dict) -> BosTrigger:
    bucket = props.get("Bucket")
    if not isinstance(bucket, str) or not bucket:
        raise TemplateError(f"{where}: Bucket {bucket!r} is required")
    types = props.get("EventTypes")
    types = [types] if isinstance(types, str) else types
    if not types or not isinstance(types, list):
        raise TemplateError(f"{where}: EventTypes {types!r} is required (some of {', '.join(CREATE_EVENT_TYPES)})")
    for t in types:
        if t not in CREATE_EVENT_TYPES:
            raise TemplateError(f"{where}: EventTypes value {t!r} is not one of {', '.join(CREATE_EVENT_TYPES)}")
    return BosTrigger(name, bucket, tuple(types), str(props.get("Prefix") or ""), str(props.get("Suffix") or ""))


def _crontab_triggers(logical_id: str, metadata) -> list[CrontabTrigger]:
    crontab = ((metadata or {}).get("autotranscode") or {}).get("Crontab") if isinstance(metadata, dict) else None
    if crontab is None:
        return []
    where = f"function {logical_id}, Metadata.autotranscode.Crontab"
    entries = crontab if isinstance(crontab, list) else [crontab]
    triggers = []
    for entry in entries:
        entry = entry if isinstance(entry, dict) else {}
        name, schedule = entry.get("Name"), entry.get("ScheduleExpression")
        if not isinstance(name, str) or not TRIGGER_NAME_RE.match(name):
            raise TemplateError(f"{where}: Name {name!r} must be 1-30 letters, digits, '-' or '_'")
        if not isinstance(schedule, str) or not SCHEDULE_RE.match(schedule.strip()):
            raise TemplateError(
                f"{where}: ScheduleExpression {schedule!r} is not CFC's format; use e.g. 'rate(5 minutes)' or "
                "'cron(*/5 * * * ?)' (5 fields, UTC)"
            )
        triggers.append(CrontabTrigger(name, schedule.strip()))
    return triggers


def _http_trigger(where: str, name: str, props: dict) -> HttpTrigger:
    path = props.get("ResourcePath")
    if not isinstance(path, str) or not path.startswith("/"):
        raise TemplateError(f"{where}: ResourcePath {path!r} must start with '/'")
    if re.search(r"\{[^}]*\+\}.", path):
        raise TemplateError(f"{where}: ResourcePath {path!r}: a greedy {{name+}} must be the last segment")
    methods = props.get("Method")
    methods = methods.split(",") if isinstance(methods, str) else methods
    if not methods or not isinstance(methods, list):
        raise TemplateError(f"{where}: Method {props.get('Method')!r} is required (e.g. POST or [GET, POST])")
    upper = []
    for m in methods:
        m = str(m).strip().upper()
        if m in ("ANY", "*"):
            upper.extend(HTTP_METHODS)
        elif m in HTTP_METHODS:
            upper.append(m)
        else:
            raise TemplateError(f"{where}: Method {m!r} is not one of {', '.join(HTTP_METHODS)}")
    auth = str(props.get("AuthType", "anonymous"))
    if auth not in AUTH_TYPES:
        raise TemplateError(f"{where}: AuthType {auth!r} is not one of {', '.join(AUTH_TYPES)}")
    return HttpTrigger(name, path, tuple(dict.fromkeys(upper)), auth)


def _number(where: str, name: str, value, kind):
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise TemplateError(f"{where}: {name} {value!r} is not a number") from None


def _env_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
