"""`autotranscode console` refuses to start in a way that would expose it: one readable line, exit status 2."""

import pytest

from autotranscode.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["console", "--actions"], "--actions needs a console token"),
        (["console", "--host", "0.0.0.0"], "set AUTOTRANSCODE_CONSOLE_TOKEN"),
    ],
)
def test_exposing_settings_without_a_token_exit_2(argv, message, monkeypatch, capsys):
    monkeypatch.delenv("AUTOTRANSCODE_CONSOLE_TOKEN", raising=False)
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_bad_config_exits_2(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"mct": {"pipeline": "x"}, "rules": []}')
    monkeypatch.setenv("AUTOTRANSCODE_CONSOLE_TOKEN", "t" * 20)
    assert main(["console", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "rules" in err and "Traceback" not in err
