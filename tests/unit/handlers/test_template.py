"""template.yaml and the config it names agree: every BOS trigger feeds a rule, handlers exist, env is sane."""

import importlib
from pathlib import Path

import yaml

from handlers.config import load_config
from handlers.domain.rules import rule_matches

ROOT = Path(__file__).resolve().parents[3]


def functions():
    doc = yaml.safe_load((ROOT / "template.yaml").read_text())
    assert doc["BCETemplateFormatVersion"] == "2010-09-09"
    assert doc["Transform"] == "BCE::Serverless-2018-08-30"
    return {k: v["Properties"] for k, v in doc["Resources"].items() if v["Type"] == "BCE::Serverless::Function"}


def test_handlers_exist_and_limits_are_explicit():
    fns = functions()
    assert {p["Handler"] for p in fns.values()} == {
        "handlers.on_upload.handler",
        "handlers.on_notification.handler",
        "handlers.on_schedule.handler",
    }
    for props in fns.values():
        module, _, name = props["Handler"].rpartition(".")
        assert callable(getattr(importlib.import_module(module), name))
        # bsam accepts only "python3" (= Python 3.6 in CFC); autotranscode deploy deploys python3.10 instead
        assert props["Runtime"] == "python3" and props["CodeUri"] == "./"
        assert props["Timeout"] <= 300 and 128 <= props["MemorySize"] <= 1024
        assert "AUTOTRANSCODE_CONFIG" in props["Environment"]["Variables"]


def test_every_bos_trigger_feeds_a_rule_and_events_are_complete():
    props = functions()["OnUpload"]
    cfg = load_config({"AUTOTRANSCODE_CONFIG": str(ROOT / props["Environment"]["Variables"]["AUTOTRANSCODE_CONFIG"])})
    bos = [e["Properties"] for e in props["Events"].values() if e["Type"] == "BOS"]
    assert bos
    for trigger in bos:
        # prefix-only triggers (suffix case is decided by the function): every configured suffix, in any case
        assert "Suffix" not in trigger, "suffix filters may be case-sensitive in BOS; trigger on the prefix"
        for rule in cfg.rules:
            for suffix in rule.suffixes:
                key = f"{trigger.get('Prefix', '')}some/clip{suffix.upper()}"
                assert rule_matches(rule, trigger["Bucket"], key), (trigger, suffix)
        assert set(trigger["EventTypes"]) == {
            "PutObject", "PostObject", "CompleteMultipartUpload", "CopyObject", "AppendObject"
        }  # fmt: skip
    for rule in cfg.rules:
        for prefix in rule.prefixes or [""]:
            assert any(t["Bucket"] == rule.bucket and prefix.startswith(t.get("Prefix", "")) for t in bos), (
                f"rule {rule.rule_name} prefix {prefix!r} has no BOS trigger in template.yaml"
            )


def test_http_trigger_matches_callback_path():
    props = functions()["OnNotification"]
    cfg = load_config({"AUTOTRANSCODE_CONFIG": str(ROOT / props["Environment"]["Variables"]["AUTOTRANSCODE_CONFIG"])})
    [http] = [e["Properties"] for e in props["Events"].values() if e["Type"] == "HTTP"]
    assert http["ResourcePath"] == cfg.callback.path and http["Method"] == "POST" and http["AuthType"] == "anonymous"
