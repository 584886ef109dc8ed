"""The shipped JSON Schema (autotranscode.schema.json) is the one the models generate, and it really checks configs."""

import copy
import json

import jsonschema
import pytest

from handlers.config import ConfigError, parse_config
from handlers.config.schema import SCHEMA_FILE, main, schema_text
from tests.unit.handlers.conftest import ROOT, config_dict

EXAMPLE = ROOT / "autotranscode.example.json"


@pytest.fixture(scope="module")
def validator():
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_shipped_schema_is_the_generated_one():
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), "run: python -m handlers.config.schema --write"
    assert main(["--check"]) == 0


def test_example_config_points_at_the_schema_and_validates(validator):
    example = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert example["$schema"] == "./autotranscode.schema.json"
    assert list(validator.iter_errors(example)) == []
    parse_config(example, env={})  # and the loader agrees


def test_unit_test_config_validates(validator):
    assert list(validator.iter_errors(config_dict())) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("rules", 0, "sufixes"), [".mp4"]),
        (("mct", "pipeline"), "Bad-Name"),
        (("mct", "max_attempts"), 11),
        (("rules", 0, "targets", 0, "width"), 0),
        (("rules", 0, "thumbnails", 0, "format"), "bmp"),
        (("rules",), []),
        (("downstream",), {"url": "ftp://x"}),
    ],
)
def test_schema_refuses_what_the_loader_refuses(validator, path, value):
    data = copy.deepcopy(config_dict())
    node = data
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    assert list(validator.iter_errors(data)), f"schema accepted {path}={value!r}"
    with pytest.raises(ConfigError, match="invalid"):
        parse_config(data, env={})
