"""Fault injection is switchable from the CLI and documented (issue #7): every FaultConfig setting is listed by
``--faults help`` and in docs/reliability.md, and a bad setting stops start-up naming it."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from localcloud.faults import SETTINGS_HELP, FaultConfig

REPO = Path(__file__).resolve().parents[3]
SETTINGS = [f.name for f in dataclasses.fields(FaultConfig) if not f.name.startswith("_") and f.name != "injected"]


def cli(*args: str) -> subprocess.CompletedProcess:
    code = "import sys; from autotranscode.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60, cwd=REPO)


def test_every_setting_is_in_the_help_and_the_user_docs():
    docs = (REPO / "docs" / "reliability.md").read_text(encoding="utf-8")
    for name in SETTINGS:
        assert f"{name}=" in SETTINGS_HELP, name
        assert f"`{name}=" in docs, name


@pytest.mark.parametrize("command", ["up", "mct"])
def test_cli_faults_help_and_bad_settings(command, tmp_path):
    listed = cli(command, "--data-dir", str(tmp_path), "--faults", "help")
    assert listed.returncode == 2
    assert all(f"{name}=" in listed.stderr for name in SETTINGS), listed.stderr
    bad = cli(command, "--data-dir", str(tmp_path), "--faults", "api_error_rate=0.3,callback_drop_rate=7")
    assert bad.returncode == 2 and "callback_drop_rate=7.0" in bad.stderr, bad.stderr
    assert "--faults" in cli(command, "--help").stdout


def test_env_var_switches_faults_on_and_the_spec_round_trips(monkeypatch):
    spec = ("api_error_rate=0.25,api_error_kinds=503|timeout,timeout_s=0.5,api_latency_ms=20,callback_drop_rate=0.5,"
            "callback_duplicate_rate=0.1,callback_delay_ms=100,bos_redeliveries=3,bos_event_drop_rate=0,"
            "seed=1")  # fmt: skip
    monkeypatch.setenv("AUTOTRANSCODE_FAULTS", spec)
    cfg = FaultConfig.from_env()
    assert cfg.active and cfg.api_error_kinds == ("503", "timeout") and cfg.bos_event_deliveries() == 4
    assert set(SETTINGS) == {item.split("=")[0] for item in spec.split(",")}
    monkeypatch.delenv("AUTOTRANSCODE_FAULTS")
    assert not FaultConfig.from_env().active
