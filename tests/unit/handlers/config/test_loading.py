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


def _set(path: str, value):
    """config_dict() with one value replaced, e.g. _set("rules.0.targets.0.width", 0)."""
    data = config_dict()
    *parents, last = path.split(".")
    node = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[int(last) if isinstance(node, list) else last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("mct.timeout_seconds", 0, "mct.timeout_seconds: must be greater than 0 (got 0)"),
        ("mct.max_attempts", 11, "mct.max_attempts: must be at most 10 (got 11)"),
        ("mct.max_attempts", 2.5, "mct.max_attempts: must be a whole number, e.g. 3 (got 2.5)"),
        ("mct.backoff_seconds", "soon", "mct.backoff_seconds: must be a number, e.g. 1.5 (got 'soon')"),
        ("mct.region", "B", "mct.region: must match ^[a-z]{2,8}$ (got 'B')"),
        ("mct.endpoint", 5, "mct.endpoint: must be a string (got 5)"),
        ("mct", "x", "mct: must be an object {...} (got 'x')"),
        ("rules", [], "rules: needs at least 1 entry"),
        ("rules", {}, "rules: must be a list [...]"),
        ("rules.0.prefixes", "incoming/", "rules.0.prefixes: must be a list [...] (got 'incoming/')"),
        ("rules.0.prefixes", ["a", 3], "rules.0.prefixes.1: must be a string (got 3)"),
        ("rules.0.bucket", "a/b", "rules.0.bucket: a BOS bucket name without slashes, e.g. my-uploads (got 'a/b')"),
        ("rules.0.targets.0.width", 0, "rules.0.targets.0.width: must be at least 1 (got 0)"),  # whole numbers > 0
        ("rules.0.targets.0.preset", "Bad", "rules.0.targets.0.preset: preset names are lowercase"),
        ("rules.0.thumbnails.0.format", "bmp", "rules.0.thumbnails.0.format: must be one of 'jpg', 'png', 'gif'"),
        ("rules.0.thumbnails.0.width", 5000, "rules.0.thumbnails.0.width: must be at most 2000 (got 5000)"),
        ("callback.max_body_bytes", 10, "callback.max_body_bytes: must be at least 1024 (got 10)"),
        ("callback.allow_unauthenticated", "maybe", "callback.allow_unauthenticated: must be true or false"),
        ("downstream", {"url": "ftp://x"}, "downstream.url: must start with http:// or https:// (got 'ftp://x')"),
        ("mediainfo_check", {"enabled": True, "foo": 1}, "mediainfo_check.foo: unknown field; check the spelling"),
        ("submit_concurrency", 0, "submit_concurrency: must be at least 1 (got 0)"),
        ("presets", [{"presetName": "Bad"}], "presets: presets[0].presetName must match [a-z][0-9a-z_]{0,39}"),
        ("presets", ["x"], "presets.0: must be an object {...} (got 'x')"),
        ("reconcile", {"batch_size": 0}, "reconcile.batch_size: must be at least 1 (got 0)"),
        ("store_url", 3, "store_url: must be a string (got 3)"),
    ],
)
def test_types_and_limits_name_the_field_the_value_and_the_fix(path, value, expected):
    assert expected in errors_of(_set(path, value))


def test_every_problem_is_reported_at_once():
    data = _set("mct.region", "B")
    data["rules"][0]["targets"][0]["width"] = -1
    data["rules"][0]["sufixes"] = [".mp4"]
    fields = [line.split(":")[0].strip() for line in errors_of(data).splitlines()[1:]]
    assert fields == ["mct.region", "rules.0.targets.0.width", "rules.0.sufixes"]


def test_every_problem_of_one_object_is_reported_too():
    data = _set("rules.0.targets.0.key", "out/{basename}")
    data["rules"][0]["targets"][0]["preset"] = "Bad"
    data["rules"][0]["targets"][0]["height"] = "tall"
    msg = errors_of(data)
    assert "rules.0.targets.0.preset: preset names are lowercase" in msg
    assert "rules.0.targets.0.height: must be a whole number, e.g. 3 (got 'tall')" in msg
    assert "rules.0.targets.0.key: unknown placeholder(s) ['basename']" in msg


def test_the_schema_pointer_is_accepted_and_ignored():
    cfg = parse_config({"$schema": "./autotranscode.schema.json", **config_dict()}, env={})
    assert cfg == parse_config(config_dict(), env={})


def test_numbers_and_booleans_written_as_text_are_accepted():
    cfg = parse_config(config_dict(callback={"allow_unauthenticated": "yes"}, submit_concurrency="4"), env={})
    assert cfg.callback.allow_unauthenticated is True and cfg.submit_concurrency == 4
    data = _set("mct.timeout_seconds", "5")
    data["mct"]["max_attempts"] = 2.0
    cfg = parse_config(data, env={})
    assert cfg.mct.timeout_seconds == 5.0 and cfg.mct.max_attempts == 2 and isinstance(cfg.mct.max_attempts, int)


def test_defaults_and_normalised_values():
    data = config_dict(mct={"endpoint": " http://127.0.0.1:1/ ", "pipeline": "p"})
    cfg = parse_config(data, env={})
    assert cfg.mct.endpoint == "http://127.0.0.1:1" and cfg.mct.region == "bj" and cfg.mct.max_attempts == 4
    assert cfg.store_url == "memory://" and cfg.downstream is None and cfg.presets == []
    assert cfg.reconcile.batch_size == 100 and cfg.callback.path == "/mct/callback"
    assert cfg.rules[0].targets[0].frame_size == (1280, 720) and cfg.rules[0].targets[0].extension == "mp4"
    assert cfg.pipeline_for(cfg.rules[0]) == "p"


def test_config_is_read_only_and_compares_by_value():
    cfg = parse_config(config_dict(), env={})
    with pytest.raises(AttributeError, match="immutable"):
        cfg.store_url = "sqlite://"  # type: ignore[misc]
    assert cfg == parse_config(config_dict(), env={})
    assert cfg != parse_config(config_dict(submit_concurrency=2), env={})


def test_handlers_import_without_pydantic():
    import subprocess
    import sys

    code = "import sys, handlers.on_upload, handlers.on_notification; print('pydantic' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "False"
