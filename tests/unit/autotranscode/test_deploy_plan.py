"""autotranscode.deploy_plan: desired state from template.yaml, plan against what CFC reports, the diff."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from autotranscode import deploy_plan as dp
from localcloud.cfc.template import load_template

REPO = Path(__file__).resolve().parents[3]
CALLER = {"BCE_ACCESS_KEY_ID": "ak-real", "BCE_ACCESS_KEY_SECRET": "sk-real-and-long", "UNRELATED": "x"}


def desired():
    specs = load_template(REPO / "template.yaml").values()
    return dp.desired_functions(specs, "python3.10", "autotranscode.json", CALLER), dp.desired_triggers(specs)


def as_deployed(fn: dp.FunctionConfig) -> dp.FunctionConfig:
    """What CFC's get_function_configuration gives back for it (through current_function)."""
    return dp.current_function({"FunctionName": fn.name, "Handler": fn.handler, "Runtime": fn.runtime,
                                "MemorySize": fn.memory_mb, "Timeout": fn.timeout_s, "Description": fn.description,
                                "Environment": {"Variables": dict(fn.environment)}, "CodeSha256": "x"})  # fmt: skip


def as_listed(t: dp.Trigger, relation_id: str) -> dp.Trigger:
    """What list_triggers gives back: CFC adds fields (Brn, EndpointPrefix, Bucket) and may reorder lists."""
    data = {**t.data, "Brn": "brn:…", "EndpointPrefix": "https://x.cfc-execute.bj.baidubce.com", "Bucket": "uploads"}
    if "EventType" in data:
        data["EventType"] = list(reversed(data["EventType"]))
    return dp.current_trigger(t.function, {"RelationId": relation_id, "Source": t.source, "Data": data})


def test_environment_secrets_come_from_the_caller_only():
    fns, _ = desired()
    env = fns[0].environment
    assert env["BCE_ACCESS_KEY_ID"] == "ak-real" and env["BCE_ACCESS_KEY_SECRET"] == "sk-real-and-long"
    assert env["AUTOTRANSCODE_CONFIG"] == "autotranscode.json" and "UNRELATED" not in env
    assert "AUTOTRANSCODE_STORE_URL" not in env  # the template's local /tmp SQLite is not deployed
    assert {f.runtime for f in fns} == {"python3.10"}
    assert dp.missing_secrets({"BCE_ACCESS_KEY_ID": "a"}) == ["BCE_ACCESS_KEY_SECRET"]


def test_first_deploy_creates_everything_and_the_diff_hides_secrets():
    fns, triggers = desired()
    plan = dp.plan(fns, {f.name: None for f in fns}, {}, triggers, [])
    assert [c.action for c in plan.functions] == ["create"] * 3
    assert sorted(t.desired.source for t in plan.triggers) == sorted(["bos/uploads", dp.HTTP_SOURCE, dp.CRONTAB_SOURCE])
    text = dp.render(plan)
    assert "sk-real-and-long" not in text and "ak-real" not in text
    assert "+     Environment.BCE_ACCESS_KEY_SECRET: (secret, 16 characters)" in text
    assert "+     Resource: '/incoming/*'" in text and "+     ScheduleExpression: 'rate(5 minutes)'" in text


def test_second_deploy_plans_nothing():
    fns, triggers = desired()
    current = {f.name: as_deployed(f) for f in fns}
    have = [as_listed(t, f"r{i}") for i, t in enumerate(triggers)]
    plan = dp.plan(fns, current, {f.name: True for f in fns}, triggers, have)
    assert plan.empty and len(plan.unchanged) == 6 and dp.render(plan) == ""


def test_changes_update_replace_and_delete():
    fns, triggers = desired()
    current = {f.name: as_deployed(f) for f in fns}
    current["OnUpload"] = as_deployed(dp.FunctionConfig(**{**fns[0].__dict__, "timeout_s": 30}))
    have = [as_listed(t, f"r{i}") for i, t in enumerate(triggers)]
    moved = [dp.Trigger(t.function, t.source, t.key, {**t.data, "Resource": "/videos/*"})
             if t.source == "bos/uploads" else t for t in triggers]  # fmt: skip
    stale = dp.current_trigger("OnUpload", {"RelationId": "old", "Source": "bos/uploads",
                                            "Data": {"Name": "UploadMov", "Resource": "/incoming/*.mov"}})  # fmt: skip
    code_current = {"OnUpload": True, "OnNotification": False, "Reconcile": True}
    plan = dp.plan(fns, current, code_current, moved, [*have, stale])
    changes = {c.desired.name: c for c in plan.functions}
    assert changes["OnUpload"].config_changed and not changes["OnUpload"].code_changed
    assert changes["OnNotification"].code_changed and not changes["OnNotification"].config_changed
    assert "Reconcile" not in changes
    actions = {(c.action, (c.desired or c.current).key) for c in plan.triggers}
    assert actions == {("replace", "Upload"), ("delete", "UploadMov")}
    replace = next(c for c in plan.triggers if c.action == "replace")
    assert replace.current.relation_id == "r0"  # the one to delete before creating the new one
    text = dp.render(plan)
    assert "-     Timeout: 30\n+     Timeout: 60" in text
    assert "-     Resource: '/incoming/*'\n+     Resource: '/videos/*'" in text
    assert "- trigger bos/uploads UploadMov -> OnUpload (delete: not in template.yaml)" in text


def test_code_sha256_hex_or_base64():
    data = b"zip bytes"
    digest = hashlib.sha256(data).digest()
    assert dp.code_matches(data, digest.hex()) and dp.code_matches(data, base64.b64encode(digest).decode())
    assert not dp.code_matches(data, "") and not dp.code_matches(b"other", digest.hex())
