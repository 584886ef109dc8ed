import json

import pytest

from handlers.config import ConfigError, credentials_from_env, load_config, parse_config
from tests.unit.handlers.conftest import ROOT, config_dict


def test_example_config_loads_and_matches_localcloud_presets():
    cfg = load_config({"AUTOTRANSCODE_CONFIG": str(ROOT / "autotranscode.example.json")})
    presets = {t.preset for r in cfg.rules for t in r.targets}
    from localcloud.mct.system_presets import SYSTEM_PRESETS

    assert presets <= set(SYSTEM_PRESETS)
    assert cfg.callback.url_token is not None


def test_relative_path_is_found_from_the_code_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config({"AUTOTRANSCODE_CONFIG": "autotranscode.example.json"})
    assert cfg.mct.pipeline == "autotranscode"


def test_inline_json_wins_and_env_overrides_secrets():
    data = config_dict(downstream={"url": "http://127.0.0.1:9/x", "secret": "file-secret"})
    env = {
        "AUTOTRANSCODE_CONFIG_JSON": json.dumps(data),
        "AUTOTRANSCODE_CONFIG": "/nonexistent.json",
        "AUTOTRANSCODE_STORE_URL": "sqlite:////tmp/x.db",
        "AUTOTRANSCODE_CALLBACK_URL_TOKEN": "env-token",
        "AUTOTRANSCODE_DOWNSTREAM_SECRET": "env-secret",
    }
    cfg = load_config(env)
    assert cfg.store_url == "sqlite:////tmp/x.db"
    assert cfg.callback.url_token.get_secret_value() == "env-token"
    assert cfg.downstream.secret.get_secret_value() == "env-secret"
    assert "env-secret" not in repr(cfg) and "env-token" not in repr(cfg)


def errors_of(data, env=None) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(data, env=env or {})
    return str(info.value)


def test_missing_field_is_named():
    data = config_dict()
    del data["mct"]["pipeline"]
    assert "mct.pipeline: required field is missing" in errors_of(data)


def test_unknown_field_is_named_with_a_hint():
    data = config_dict()
    data["rules"][0]["sufixes"] = [".mp4"]
    msg = errors_of(data)
    assert "rules.0.sufixes: unknown field" in msg and "spelling" in msg


def test_bad_value_names_field_and_value():
    data = config_dict()
    data["mct"]["pipeline"] = "Bad-Name"
    msg = errors_of(data)
    assert "mct.pipeline" in msg and "'Bad-Name'" in msg and "[a-z]" in msg


def test_bad_placeholder_is_named():
    data = config_dict()
    data["rules"][0]["targets"][0]["key"] = "out/{basename}.mp4"
    msg = errors_of(data)
    assert "rules.0.targets.0.key" in msg and "basename" in msg


def test_recursive_outputs_are_refused():
    data = config_dict()
    data["rules"][0]["targets"][0]["key"] = "{dir}/{stem}/{target}.{ext}"
    msg = errors_of(data)
    assert "re-trigger" in msg and "720p" in msg and "transcoded/" in msg


def test_credentials_in_the_file_are_refused():
    data = config_dict()
    data["mct"]["secret_access_key"] = "sk"
    msg = errors_of(data)
    assert "BCE_ACCESS_KEY_SECRET" in msg and "sk'" not in msg


def test_callback_needs_auth():
    msg = errors_of(config_dict(callback={}))
    assert "url_token" in msg
    parse_config(config_dict(callback={"allow_unauthenticated": True}), env={})


def test_sign_token_needs_endpoint():
    assert "callback.endpoint" in errors_of(config_dict(callback={"sign_token": "t0ken"}))


def test_mediainfo_check_accepts_a_bool():
    assert parse_config(config_dict(mediainfo_check=False), env={}).mediainfo_check.enabled is False


def test_rule_needs_outputs_and_unique_names():
    data = config_dict()
    data["rules"][0]["targets"], data["rules"][0]["thumbnails"] = [], []
    assert "at least one" in errors_of(data)
    data = config_dict()
    data["rules"][0]["targets"][1]["name"] = "720p"
    assert "unique" in errors_of(data)


def test_no_config_and_bad_json_say_what_to_do(tmp_path):
    assert "AUTOTRANSCODE_CONFIG" in str(pytest.raises(ConfigError, load_config, {}).value)
    bad = tmp_path / "c.json"
    bad.write_text("{nope")
    assert "not valid JSON" in str(pytest.raises(ConfigError, load_config, {"AUTOTRANSCODE_CONFIG": str(bad)}).value)
    assert "cannot read" in str(
        pytest.raises(ConfigError, load_config, {"AUTOTRANSCODE_CONFIG": str(tmp_path / "missing.json")}).value
    )
    assert "not valid JSON" in str(pytest.raises(ConfigError, load_config, {"AUTOTRANSCODE_CONFIG_JSON": "["}).value)


def test_credentials_from_env():
    with pytest.raises(ConfigError, match="BCE_ACCESS_KEY_SECRET"):
        credentials_from_env({"BCE_ACCESS_KEY_ID": "ak"})
    creds = credentials_from_env({"BCE_ACCESS_KEY_ID": "ak", "BCE_ACCESS_KEY_SECRET": "sk", "BCE_SESSION_TOKEN": "st"})
    assert creds.secret_access_key.get_secret_value() == "sk" and "sk" not in repr(creds.secret_access_key)


def test_errors_never_echo_secret_values():
    msg = errors_of(config_dict(callback={"url_tokn": "hunter2-secret"}))
    assert "callback.url_tokn: unknown field" in msg and "hunter2" not in msg
    msg = errors_of(config_dict(callback={"url_token": 12345}))
    assert "callback.url_token" in msg and "12345" not in msg


def test_bad_config_fails_the_cold_start_not_the_first_upload():
    import subprocess
    import sys

    env = {"AUTOTRANSCODE_CONFIG_JSON": json.dumps(config_dict(store_url="memory://", mct={"endpoint": "x"})),
           "BCE_ACCESS_KEY_ID": "ak", "BCE_ACCESS_KEY_SECRET": "sk", "PATH": "/usr/bin:/bin"}  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", "import handlers.on_upload"], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert proc.returncode != 0
    assert "mct.pipeline: required field is missing" in proc.stderr + proc.stdout
    env["AUTOTRANSCODE_CONFIG_JSON"] = json.dumps(config_dict(store_url="memory://"))
    ok = subprocess.run([sys.executable, "-c", "import handlers.on_notification, handlers.on_schedule"], cwd=ROOT,
                        env=env, capture_output=True, text=True, check=False)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "sk" not in [w.strip('",') for w in ok.stdout.split()]


def test_endpoint_defaults_from_region():
    data = config_dict()
    data["mct"] = {"pipeline": "p", "region": "gz"}
    assert parse_config(data, env={}).mct.endpoint == "http://media.gz.baidubce.com"
    data["mct"]["region"] = "Bad Region"
    assert "mct.region" in errors_of(data)
