"""What `autotranscode deploy` would change in CFC: plain functions, no I/O.

desired state (template.yaml + config + the caller's secrets) vs. current state (what the CFC API returned) ->
a ``Plan`` (functions to create/update, triggers to create/replace/delete) -> a diff for people to read.

Trigger shapes follow bce-python-sdk ``baidubce/services/cfc/models.py`` (``BOSTriggerData``, ``HttpTriggerData``,
``CrontabTriggerData``) and bce-sdk-go ``services/cfc/api/model.go``. CFC cannot change a trigger's source, and bsam
never touches a trigger after creating it; here a changed trigger is deleted and created again ("replace").
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# Trigger sources (bce-python-sdk cfc/models.py; bce-sdk-go SourceTypeHTTP / SourceTypeCrontab).
HTTP_SOURCE = "cfc-http-trigger/v1/CFCAPI"
CRONTAB_SOURCE = "cfc-crontab-trigger/v1/"
BOS_SOURCE_PREFIX = "bos/"

# Secrets come from the environment of whoever deploys, never from template.yaml or the config file.
REQUIRED_SECRETS = ("BCE_ACCESS_KEY_ID", "BCE_ACCESS_KEY_SECRET")
OPTIONAL_SECRETS = (
    "BCE_SESSION_TOKEN",
    "AUTOTRANSCODE_STORE_URL",
    "AUTOTRANSCODE_CALLBACK_URL_TOKEN",
    "AUTOTRANSCODE_CALLBACK_SIGN_TOKEN",
    "AUTOTRANSCODE_DOWNSTREAM_SECRET",
)
SECRET_VARS = REQUIRED_SECRETS + OPTIONAL_SECRETS
CONFIG_VAR = "AUTOTRANSCODE_CONFIG"


class DeployConfigError(ValueError):
    """Something the user must fix before anything is sent (exit status 2)."""


@dataclass(frozen=True)
class FunctionConfig:
    """The configuration fields deploy manages (CFC API names in ``fields``)."""

    name: str
    handler: str
    runtime: str
    memory_mb: int
    timeout_s: int
    description: str = ""
    environment: Mapping[str, str] = field(default_factory=dict)

    def fields(self) -> dict[str, object]:
        return {
            "Handler": self.handler,
            "Runtime": self.runtime,
            "MemorySize": self.memory_mb,
            "Timeout": self.timeout_s,
            "Description": self.description,
            **{f"Environment.{k}": v for k, v in sorted(self.environment.items())},
        }


@dataclass(frozen=True)
class Trigger:
    """One relation: ``key`` names it within its function (BOS/crontab Name, HTTP ResourcePath)."""

    function: str
    source: str
    key: str
    data: Mapping[str, object]
    relation_id: str = ""

    @property
    def identity(self) -> tuple[str, str, str]:
        return (self.function, self.source, self.key)

    @property
    def label(self) -> str:
        kind = "HTTP" if self.source == HTTP_SOURCE else "crontab" if self.source == CRONTAB_SOURCE else self.source
        return f"trigger {kind} {self.key} -> {self.function}"


@dataclass
class FunctionChange:
    action: str  # "create" | "update"
    desired: FunctionConfig
    current: FunctionConfig | None = None
    code_changed: bool = False
    config_changed: bool = False


@dataclass
class TriggerChange:
    action: str  # "create" | "replace" | "delete"
    desired: Trigger | None = None
    current: Trigger | None = None


@dataclass
class Plan:
    functions: list[FunctionChange] = field(default_factory=list)
    triggers: list[TriggerChange] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.functions and not self.triggers


# ----- desired state ------------------------------------------------------------------------------------------------
def function_environment(template_env: Mapping[str, str], config_name: str, caller_env: Mapping[str, str]) -> dict:
    """The template's variables without its (local-default) secrets, the config the zip carries, and the secrets
    the caller has set."""
    env = {k: v for k, v in template_env.items() if k not in SECRET_VARS}
    env[CONFIG_VAR] = config_name
    env.update({k: caller_env[k] for k in SECRET_VARS if caller_env.get(k)})
    return env


def missing_secrets(caller_env: Mapping[str, str]) -> list[str]:
    return [k for k in REQUIRED_SECRETS if not caller_env.get(k)]


def desired_functions(specs: Iterable, runtime: str, config_name: str, caller_env: Mapping[str, str]) -> list:
    """``specs``: ``localcloud.cfc.template.FunctionSpec`` objects (template.yaml, parsed in one place)."""
    return [
        FunctionConfig(
            name=spec.name,
            handler=spec.handler,
            runtime=runtime,
            memory_mb=int(spec.memory_mb),
            timeout_s=int(spec.timeout_s),
            description=spec.description,
            environment=function_environment(spec.environment, config_name, caller_env),
        )
        for spec in specs
    ]


def bos_resource(prefix: str, suffix: str) -> str:
    """BOS trigger filter as the CFC API wants it: ``/prefix*suffix`` (bce-sdk-go ``BosTriggerData.Resource``)."""
    return f"/{prefix}*{suffix}"


def desired_triggers(specs: Iterable) -> list[Trigger]:
    triggers = []
    for spec in specs:
        for t in spec.bos_triggers:
            data = {
                "Resource": bos_resource(t.prefix, t.suffix),
                "EventType": sorted(t.event_types),
                "Name": t.name,
                "Status": "enabled",
            }
            triggers.append(Trigger(spec.name, BOS_SOURCE_PREFIX + t.bucket, t.name, data))
        for t in spec.http_triggers:
            data = {"ResourcePath": t.resource_path, "Method": ",".join(t.methods), "AuthType": t.auth_type}
            triggers.append(Trigger(spec.name, HTTP_SOURCE, t.resource_path, data))
        for t in spec.crontab_triggers:
            data = {"Name": t.name, "ScheduleExpression": t.schedule, "Enabled": "Enabled"}
            triggers.append(Trigger(spec.name, CRONTAB_SOURCE, t.name, data))
    return triggers


# ----- current state (from API responses, already turned into plain dicts) ------------------------------------------
def current_function(config: Mapping) -> FunctionConfig:
    env = ((config.get("Environment") or {}).get("Variables")) or {}
    return FunctionConfig(
        name=str(config.get("FunctionName") or ""),
        handler=str(config.get("Handler") or ""),
        runtime=str(config.get("Runtime") or ""),
        memory_mb=int(config.get("MemorySize") or 0),
        timeout_s=int(config.get("Timeout") or 0),
        description=str(config.get("Description") or ""),
        environment={str(k): str(v) for k, v in env.items()},
    )


def current_trigger(function: str, relation: Mapping) -> Trigger:
    """A relation from ``list_triggers``, reduced to the fields deploy sets (CFC adds Brn, EndpointPrefix, …)."""
    source = str(relation.get("Source") or "")
    data = dict(relation.get("Data") or {})
    if source == HTTP_SOURCE:
        keep, key = ("ResourcePath", "Method", "AuthType"), data.get("ResourcePath", "")
    elif source == CRONTAB_SOURCE:
        keep, key = ("Name", "ScheduleExpression", "Enabled"), data.get("Name", "")
    elif source.startswith(BOS_SOURCE_PREFIX):
        keep, key = ("Resource", "EventType", "Name", "Status"), data.get("Name", "")
    else:
        keep, key = tuple(data), relation.get("RelationId", "")
    reduced = {k: data.get(k) for k in keep if k in data}
    if isinstance(reduced.get("EventType"), list):
        reduced["EventType"] = sorted(reduced["EventType"])
    if isinstance(reduced.get("Status"), str):
        reduced["Status"] = reduced["Status"].lower()
    return Trigger(function, source, str(key), reduced, str(relation.get("RelationId") or ""))


def same_trigger_data(now: Trigger, want: Trigger) -> bool:
    """Equal on every field deploy sets that CFC reports back (a field it does not echo cannot be compared)."""
    return all(now.data[k] == v for k, v in want.data.items() if k in now.data)


def code_matches(zip_bytes: bytes, code_sha256: str | None) -> bool:
    """CFC reports ``CodeSha256``; whether as hex or base64 (as AWS Lambda does) is [UNVERIFIED]: accept both."""
    if not code_sha256:
        return False
    digest = hashlib.sha256(zip_bytes).digest()
    return code_sha256 in (digest.hex(), base64.b64encode(digest).decode("ascii"))


# ----- the plan -----------------------------------------------------------------------------------------------------
def plan(
    desired: list[FunctionConfig],
    current: Mapping[str, FunctionConfig | None],
    code_current: Mapping[str, bool],
    want_triggers: list[Trigger],
    have_triggers: list[Trigger],
) -> Plan:
    """``current[name]`` is None when the function does not exist; ``code_current[name]`` says whether its code
    is the zip's; ``have_triggers`` are the current relations of the functions deploy manages."""
    result = Plan()
    for fn in desired:
        now = current.get(fn.name)
        if now is None:
            result.functions.append(FunctionChange("create", fn))
            continue
        config_changed = now.fields() != fn.fields()
        code_changed = not code_current.get(fn.name, False)
        if config_changed or code_changed:
            result.functions.append(FunctionChange("update", fn, now, code_changed, config_changed))
        else:
            result.unchanged.append(f"function {fn.name}")
    have = {t.identity: t for t in have_triggers}
    paired: set[tuple[str, str, str]] = set()
    for want in want_triggers:
        now = have.get(want.identity)
        if now is None:
            result.triggers.append(TriggerChange("create", desired=want))
            continue
        paired.add(want.identity)
        if same_trigger_data(now, want):
            result.unchanged.append(want.label)
        else:
            result.triggers.append(TriggerChange("replace", desired=want, current=now))
    for now in have_triggers:
        if now.identity not in paired:
            result.triggers.append(TriggerChange("delete", current=now))
    return result


# ----- the diff -----------------------------------------------------------------------------------------------------
def _show(name: str, value) -> str:
    if name.startswith("Environment.") and name.split(".", 1)[1] in SECRET_VARS:
        return f"(secret, {len(str(value))} characters)"
    return repr(value) if isinstance(value, str) else str(value)


def _field_lines(before: Mapping | None, after: Mapping | None) -> list[str]:
    before, after = dict(before or {}), dict(after or {})
    lines = []
    for name in sorted(set(before) | set(after), key=lambda n: (n.startswith("Environment."), n)):
        old, new = before.get(name), after.get(name)
        if name in before and name in after and old == new:
            continue
        if name in before:
            lines.append(f"-     {name}: {_show(name, old)}")
        if name in after:
            lines.append(f"+     {name}: {_show(name, new)}")
    return lines


def render(p: Plan) -> str:
    """The plan as a diff: ``+`` created, ``-`` removed, ``~`` changed; secrets only by length."""
    lines = []
    for change in p.functions:
        fn = change.desired
        if change.action == "create":
            lines.append(f"+ function {fn.name} (create, with the zip's code)")
            lines += _field_lines(None, fn.fields())
            continue
        what = [w for w, on in (("code", change.code_changed), ("configuration", change.config_changed)) if on]
        lines.append(f"~ function {fn.name} (update {' and '.join(what)})")
        if change.code_changed:
            lines.append("-     code: the deployed zip")
            lines.append("+     code: the new zip")
        if change.config_changed:
            lines += _field_lines(change.current.fields(), fn.fields())
    for change in p.triggers:
        if change.action == "create":
            lines.append(f"+ {change.desired.label} (create)")
            lines += _field_lines(None, change.desired.data)
        elif change.action == "replace":
            lines.append(f"~ {change.desired.label} (replace: delete, then create)")
            lines += _field_lines(change.current.data, change.desired.data)
        else:
            lines.append(f"- {change.current.label} (delete: not in template.yaml)")
            lines += _field_lines(change.current.data, None)
    return "\n".join(lines)
