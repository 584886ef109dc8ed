"""State of the local CFC API: functions (configuration + code) and relations (triggers). It owns that state,
keeps it in ``<data_dir>/cfc/api/`` (so deployed functions survive a restart) and hands each function to the
``CfcRuntime``, which really runs it: BOS uploads reach its BOS triggers, its HTTP triggers are served.

Shapes follow bce-sdk-go ``services/cfc/api/model.go`` (Function, RelationInfo, BosTriggerData, HttpTriggerData,
CrontabTriggerData) and bce-python-sdk ``baidubce/services/cfc``. Crontab triggers are stored, not run (use
``autotranscode reconcile`` locally). Every Python runtime id runs on the local interpreter.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import os
import re
import shutil
import threading
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from localcloud.bos.events import CREATE_EVENT_TYPES
from localcloud.cfc.api_exceptions import InvalidParameter, InvalidZipFile, ResourceConflict, ResourceNotFound
from localcloud.cfc.runtime import FUNCTION_VERSION, LOCAL_ACCOUNT_ID, function_brn
from localcloud.cfc.template import (
    AUTH_TYPES,
    HTTP_METHODS,
    MAX_TIMEOUT_S,
    SCHEDULE_RE,
    BosTrigger,
    CrontabTrigger,
    FunctionSpec,
    HttpTrigger,
)

HTTP_SOURCE = "cfc-http-trigger/v1/CFCAPI"
CRONTAB_SOURCE = "cfc-crontab-trigger/v1/"
BOS_SOURCE_PREFIX = "bos/"
# CFC's runtime ids (doc Dk3ztr7pc; bce-sdk-go tests use "python3.10"); "python3" is Python 3.6 there.
PYTHON_RUNTIMES = ("python2", "python3", "python3.6", "python3.9", "python3.10", "python3.12")
FUNCTION_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ENV_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
MEMORY_RANGE = (128, 3008)  # MB, multiples of 64 (bce-python-sdk create_function docstring)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")


@dataclass
class DeployedFunction:
    name: str
    handler: str
    runtime: str
    memory_mb: int
    timeout_s: int
    description: str
    environment: dict[str, str]
    code_sha256: str  # base64 of the zip's SHA-256, as AWS Lambda reports it [UNVERIFIED for CFC]
    code_size: int
    code_dir: str
    last_modified: str = field(default_factory=_now)

    def configuration(self, region: str) -> dict:
        brn = function_brn(self.name, region)
        return {
            "Uid": LOCAL_ACCOUNT_ID,
            "FunctionName": self.name,
            "FunctionBrn": brn,
            "FunctionArn": brn,
            "Region": region,
            "Description": self.description,
            "Handler": self.handler,
            "Runtime": self.runtime,
            "MemorySize": self.memory_mb,
            "Timeout": self.timeout_s,
            "Version": FUNCTION_VERSION,
            "CodeSha256": self.code_sha256,
            "CodeSize": self.code_size,
            "Environment": {"Variables": dict(self.environment)},
            "LastModified": self.last_modified,
            "UpdatedAt": self.last_modified,
        }


@dataclass
class Relation:
    relation_id: str
    source: str
    target: str  # the function's BRN
    function: str
    data: dict

    def info(self) -> dict:
        return {"RelationId": self.relation_id, "Sid": f"cfc-{self.relation_id}", "Source": self.source,
                "Target": self.target, "Data": dict(self.data)}  # fmt: skip


class CfcBackend:
    def __init__(
        self,
        runtime,
        data_dir: str | os.PathLike[str],
        region: str,
        endpoint_prefix: Callable[[], str],
        bucket_exists: Callable[[str], bool] | None = None,
    ):
        """``endpoint_prefix()``: the URL the HTTP triggers are served at (known once the server listens).
        ``bucket_exists``: BOS triggers on a missing bucket are refused, as in CFC (None: not checked)."""
        self.runtime = runtime
        self.region = region
        self.endpoint_prefix = endpoint_prefix
        self.bucket_exists = bucket_exists
        self.root = Path(data_dir).resolve() / "cfc" / "api"
        self.functions: dict[str, DeployedFunction] = {}
        self.relations: dict[str, Relation] = {}
        self._lock = threading.RLock()
        self._load()

    # ----- persistence ----------------------------------------------------------------------------------------
    @property
    def _state_path(self) -> Path:
        return self.root / "state.json"

    def _load(self) -> None:
        if not self._state_path.exists():
            return
        state = json.loads(self._state_path.read_text(encoding="utf-8"))
        self.functions = {f["name"]: DeployedFunction(**f) for f in state.get("functions", [])}
        self.relations = {r["relation_id"]: Relation(**r) for r in state.get("relations", [])}
        for name in list(self.functions):
            self._publish(name)

    def _save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        state = {"functions": [asdict(f) for f in self.functions.values()],
                 "relations": [asdict(r) for r in self.relations.values()]}  # fmt: skip
        tmp = self._state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
        os.replace(tmp, self._state_path)

    # ----- functions ------------------------------------------------------------------------------------------
    def function(self, name: str) -> DeployedFunction:
        name = self.name_of(name)
        try:
            return self.functions[name]
        except KeyError:
            raise ResourceNotFound(f"Function not found: {name}") from None

    def name_of(self, name_or_brn: str) -> str:
        """A function name, a BRN ``brn:bce:cfc:<region>:<account>:function:<name>[:<version>]`` or
        ``<account>:<name>`` (the forms the SDK documents)."""
        parts = name_or_brn.split(":")
        if name_or_brn.startswith("brn:") and len(parts) >= 7:
            return parts[6]
        return parts[-1] if len(parts) == 2 else name_or_brn

    def create_function(self, body: dict) -> dict:
        name = body.get("FunctionName")
        if not isinstance(name, str) or not FUNCTION_NAME_RE.match(name):
            raise InvalidParameter(f"FunctionName {name!r} must be 1-64 letters, digits, '-' or '_'")
        with self._lock:
            if name in self.functions:
                raise ResourceConflict(f"Function already exist: {name}")
            config = self._configuration(name, body, partial=False)
            code = body.get("Code") or {}
            zip_bytes = self._zip_bytes(name, code)
            if code.get("DryRun"):
                return self._dry(name, config, zip_bytes)
            self.functions[name] = DeployedFunction(name=name, **config, **self._unpack(name, zip_bytes))
            self._changed(name)
            return self.functions[name].configuration(self.region)

    def update_code(self, name: str, body: dict) -> dict:
        with self._lock:
            fn = self.function(name)
            zip_bytes = self._zip_bytes(fn.name, body)
            if body.get("DryRun"):
                return self._dry(fn.name, {}, zip_bytes)
            old_dir = fn.code_dir
            for key, value in self._unpack(fn.name, zip_bytes).items():
                setattr(fn, key, value)
            fn.last_modified = _now()
            self._changed(fn.name)
            if old_dir != fn.code_dir:
                shutil.rmtree(old_dir, ignore_errors=True)
            return fn.configuration(self.region)

    def update_configuration(self, name: str, body: dict) -> dict:
        with self._lock:
            fn = self.function(name)
            for key, value in self._configuration(fn.name, body, partial=True).items():
                setattr(fn, key, value)
            fn.last_modified = _now()
            self._changed(fn.name)
            return fn.configuration(self.region)

    def delete_function(self, name: str) -> None:
        with self._lock:
            fn = self.function(name)
            for rid in [r.relation_id for r in self.relations.values() if r.function == fn.name]:
                del self.relations[rid]
            del self.functions[fn.name]
            self.runtime.remove_function(fn.name)
            shutil.rmtree(Path(fn.code_dir).parent, ignore_errors=True)
            self._save()

    def list_functions(self) -> list[dict]:
        with self._lock:
            return [f.configuration(self.region) for f in sorted(self.functions.values(), key=lambda f: f.name)]

    def _dry(self, name: str, config: dict, zip_bytes: bytes) -> dict:
        digest = base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode("ascii")
        return {"FunctionName": name, **{k: v for k, v in config.items() if not isinstance(v, dict)},
                "CodeSha256": digest, "CodeSize": len(zip_bytes)}  # fmt: skip

    def _configuration(self, name: str, body: dict, partial: bool) -> dict:
        """Validated configuration fields (only those present when ``partial``); errors name field and value."""
        out: dict = {}
        where = f"function {name}"
        if "Handler" in body or not partial:
            handler = body.get("Handler")
            if not isinstance(handler, str) or "." not in handler or len(handler) > 128 or re.search(r"\s", handler):
                raise InvalidParameter(f"{where}: Handler {handler!r} must be module.function, e.g. index.handler")
            out["handler"] = handler
        if "Runtime" in body or not partial:
            runtime = body.get("Runtime")
            if runtime not in PYTHON_RUNTIMES:
                raise InvalidParameter(
                    f"{where}: Runtime {runtime!r} is not one localcloud runs (Python runtimes: "
                    f"{', '.join(PYTHON_RUNTIMES)}; all run on the local interpreter)"
                )
            out["runtime"] = runtime
        if "MemorySize" in body or not partial:
            memory = body.get("MemorySize", 128)
            if not isinstance(memory, int) or not MEMORY_RANGE[0] <= memory <= MEMORY_RANGE[1] or memory % 64:
                raise InvalidParameter(f"{where}: MemorySize {memory!r} must be 128-3008 MB in steps of 64")
            out["memory_mb"] = memory
        if "Timeout" in body or not partial:
            timeout = body.get("Timeout", 3)
            if not isinstance(timeout, int) or not 1 <= timeout <= MAX_TIMEOUT_S:
                raise InvalidParameter(f"{where}: Timeout {timeout!r} must be 1-{MAX_TIMEOUT_S} seconds")
            out["timeout_s"] = timeout
        if "Description" in body or not partial:
            out["description"] = str(body.get("Description") or "")[:256]
        if "Environment" in body or not partial:
            variables = (body.get("Environment") or {}).get("Variables") or {}
            if not isinstance(variables, dict):
                raise InvalidParameter(f"{where}: Environment.Variables must be an object of strings")
            for key, value in variables.items():
                if not ENV_NAME_RE.match(str(key)) or not isinstance(value, str):
                    raise InvalidParameter(f"{where}: Environment.Variables {key!r}={value!r}: names are "
                                           "[a-zA-Z][a-zA-Z0-9_]*, values strings")  # fmt: skip
            out["environment"] = dict(variables)
        return out

    def _zip_bytes(self, name: str, code: dict) -> bytes:
        encoded = code.get("ZipFile")
        if not encoded:
            if code.get("BosBucket"):
                raise InvalidParameter(f"function {name}: code from BOS (BosBucket/BosObject) is not supported "
                                       "locally; send Code.ZipFile")  # fmt: skip
            raise InvalidParameter(f"function {name}: ZipFile (the base64 of a zip) is required")
        try:
            data = base64.b64decode(encoded, validate=True)
            zipfile.ZipFile(io.BytesIO(data)).testzip()
        except (binascii.Error, ValueError, TypeError):
            raise InvalidZipFile(f"function {name}: ZipFile is not base64") from None
        except zipfile.BadZipFile as exc:
            raise InvalidZipFile(f"function {name}: ZipFile is not a zip ({exc})") from None
        return data

    def _unpack(self, name: str, zip_bytes: bytes) -> dict:
        digest = hashlib.sha256(zip_bytes).digest()
        code_dir = self.root / "code" / name / f"{digest.hex()[:16]}-{uuid.uuid4().hex[:8]}"
        code_dir.mkdir(parents=True)
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
            zf.extractall(code_dir)  # extractall drops absolute paths and '..' components
        return {"code_sha256": base64.b64encode(digest).decode("ascii"), "code_size": len(zip_bytes),
                "code_dir": str(code_dir)}  # fmt: skip

    # ----- relations (triggers) -------------------------------------------------------------------------------
    def list_relations(self, function_brn: str) -> list[dict]:
        with self._lock:
            name = self.function(function_brn).name
            return [self._info(r) for r in self.relations.values() if r.function == name]

    def _info(self, relation: Relation) -> dict:
        info = relation.info()
        if relation.source == HTTP_SOURCE:  # where the trigger is served now (the port may differ after a restart)
            info["Data"]["EndpointPrefix"] = self.endpoint_prefix()
        return info

    def create_relation(self, body: dict) -> dict:
        with self._lock:
            fn = self.function(str(body.get("Target") or ""))
            source, data = self._relation_data(fn.name, body)
            relation = Relation(str(uuid.uuid4()), source, function_brn(fn.name, self.region), fn.name, data)
            self._check_unique(relation)
            self.relations[relation.relation_id] = relation
            self._changed(fn.name)
            return self._info(relation)

    def update_relation(self, body: dict) -> dict:
        with self._lock:
            relation = self._relation(str(body.get("RelationId") or ""))
            fn = self.function(str(body.get("Target") or relation.target))
            source, data = self._relation_data(fn.name, {"Source": body.get("Source") or relation.source, **body})
            if source != relation.source:
                raise InvalidParameter(f"relation {relation.relation_id}: Source cannot change ({relation.source!r}"
                                       f" -> {source!r}); delete it and create a new one")  # fmt: skip
            updated = Relation(relation.relation_id, source, relation.target, fn.name, data)
            self._check_unique(updated)
            self.relations[relation.relation_id] = updated
            self._changed(fn.name)
            return self._info(updated)

    def delete_relation(self, relation_id: str, target: str = "") -> None:
        with self._lock:
            relation = self._relation(relation_id)
            if target and self.name_of(target) != relation.function:
                raise ResourceNotFound(f"relation {relation_id} does not belong to {target}")
            del self.relations[relation_id]
            self._changed(relation.function)

    def _relation(self, relation_id: str) -> Relation:
        try:
            return self.relations[relation_id]
        except KeyError:
            raise ResourceNotFound(f"relation {relation_id!r} does not exist") from None

    def _check_unique(self, new: Relation) -> None:
        if new.source != HTTP_SOURCE:
            return
        methods = set(new.data["Method"].split(","))
        for r in self.relations.values():
            if (r.relation_id != new.relation_id and r.source == HTTP_SOURCE
                    and r.data["ResourcePath"] == new.data["ResourcePath"]
                    and methods & set(r.data["Method"].split(","))):  # fmt: skip
                raise ResourceConflict(f"HTTP trigger {new.data['ResourcePath']} {r.data['Method']} already exists "
                                       f"(function {r.function}); delete it first")  # fmt: skip

    def _relation_data(self, name: str, body: dict) -> tuple[str, dict]:
        source = str(body.get("Source") or "")
        data = body.get("Data")
        where = f"trigger of function {name}"
        if not isinstance(data, dict):
            raise InvalidParameter(f"{where}: Data must be an object")
        if source == HTTP_SOURCE:
            path, auth = data.get("ResourcePath"), data.get("AuthType", "anonymous")
            if not isinstance(path, str) or not path.startswith("/"):
                raise InvalidParameter(f"{where}: ResourcePath {path!r} must start with '/'")
            methods = [m.strip().upper() for m in str(data.get("Method") or "").split(",") if m.strip()]
            bad = [m for m in methods if m not in HTTP_METHODS]
            if not methods or bad:
                raise InvalidParameter(f"{where}: Method {data.get('Method')!r}: use some of {','.join(HTTP_METHODS)}")
            if auth not in AUTH_TYPES:
                raise InvalidParameter(f"{where}: AuthType {auth!r} is not one of {', '.join(AUTH_TYPES)}")
            return source, {"ResourcePath": path, "Method": ",".join(methods), "AuthType": auth}
        if source == CRONTAB_SOURCE:
            name_, schedule = data.get("Name"), data.get("ScheduleExpression")
            if not isinstance(schedule, str) or not SCHEDULE_RE.match(schedule):
                raise InvalidParameter(f"{where}: ScheduleExpression {schedule!r}: use e.g. 'rate(5 minutes)' or "
                                       "'cron(*/5 * * * ?)'")  # fmt: skip
            enabled = data.get("Enabled", "Disabled")
            if enabled not in ("Enabled", "Disabled"):
                raise InvalidParameter(f"{where}: Enabled {enabled!r} is not Enabled or Disabled")
            return source, {"Name": str(name_ or ""), "ScheduleExpression": schedule, "Enabled": enabled,
                            "Brn": function_brn(name, self.region), "Input": data.get("Input")}  # fmt: skip
        if source.startswith(BOS_SOURCE_PREFIX) and len(source) > len(BOS_SOURCE_PREFIX):
            bucket = source[len(BOS_SOURCE_PREFIX) :]
            if self.bucket_exists is not None and not self.bucket_exists(bucket):
                raise ResourceNotFound(f"{where}: BOS bucket {bucket!r} does not exist; create it first")
            types = data.get("EventType")
            types = [types] if isinstance(types, str) else types
            if not types or not isinstance(types, list) or any(t not in CREATE_EVENT_TYPES for t in types):
                raise InvalidParameter(f"{where}: EventType {types!r}: use some of {', '.join(CREATE_EVENT_TYPES)}")
            resource = data.get("Resource") or "/*"
            if not isinstance(resource, str) or not resource.startswith("/"):
                raise InvalidParameter(f"{where}: Resource {resource!r} must look like /prefix*suffix")
            status = str(data.get("Status") or "enabled").lower()
            if status not in ("enabled", "disabled"):
                raise InvalidParameter(f"{where}: Status {status!r} is not enabled or disabled")
            return source, {"Resource": resource, "EventType": list(types), "Name": str(data.get("Name") or ""),
                            "Status": status, "Bucket": bucket}  # fmt: skip
        raise InvalidParameter(
            f"{where}: Source {source!r} is not supported locally (bos/<bucket>, {HTTP_SOURCE}, {CRONTAB_SOURCE})"
        )

    # ----- the running function -------------------------------------------------------------------------------
    def _changed(self, name: str) -> None:
        self._save()
        self._publish(name)

    def _publish(self, name: str) -> None:
        """Hand the function with its current code, configuration and triggers to the runtime."""
        fn = self.functions[name]
        spec = FunctionSpec(
            name=fn.name,
            handler=fn.handler,
            runtime=fn.runtime,
            code_dir=Path(fn.code_dir),
            memory_mb=fn.memory_mb,
            timeout_s=fn.timeout_s,
            environment=dict(fn.environment),
            description=fn.description,
        )
        for r in (r for r in self.relations.values() if r.function == name):
            if r.source == HTTP_SOURCE:
                methods = tuple(r.data["Method"].split(","))
                spec.http_triggers.append(HttpTrigger(r.relation_id, r.data["ResourcePath"], methods,
                                                      r.data["AuthType"]))  # fmt: skip
            elif r.source == CRONTAB_SOURCE:
                spec.crontab_triggers.append(CrontabTrigger(r.data["Name"], r.data["ScheduleExpression"]))
            elif r.data.get("Status") == "enabled":
                prefix, _, suffix = r.data["Resource"][1:].partition("*")
                spec.bos_triggers.append(BosTrigger(r.relation_id, r.data["Bucket"], tuple(r.data["EventType"]),
                                                    prefix, suffix))  # fmt: skip
        self.runtime.put_function(spec)

    # ----- invocation -----------------------------------------------------------------------------------------
    def invoke(self, name: str, invocation_type: str, event):
        """RequestResponse: the result (raises the runtime's FunctionError); Event: queued, None; DryRun: None."""
        fn = self.function(name)
        if invocation_type == "Event":
            self.runtime.invoke_async(fn.name, event)
            return None
        if invocation_type == "DryRun":
            return None
        if invocation_type != "RequestResponse":
            raise InvalidParameter(f"invocationType {invocation_type!r}: use RequestResponse, Event or DryRun")
        return self.runtime.invoke(fn.name, event)
