"""handlers/ must run on CFC's Python 3.10: no 3.11+ syntax or stdlib, and nothing from localcloud/autotranscode."""

import ast
from pathlib import Path

HANDLERS = Path(__file__).resolve().parents[3] / "handlers"
# 3.11+ modules / names (tomllib, ExceptionGroup, typing.Self, datetime.UTC, asyncio.TaskGroup, enum.StrEnum ...).
FORBIDDEN_MODULES = {"tomllib", "wsgiref.types"}
FORBIDDEN_NAMES = {
    ("typing", "Self"), ("typing", "LiteralString"), ("typing", "Never"), ("typing", "assert_never"),
    ("typing", "reveal_type"), ("typing", "Required"), ("typing", "NotRequired"), ("datetime", "UTC"),
    ("enum", "StrEnum"), ("asyncio", "TaskGroup"), ("asyncio", "timeout"),
}  # fmt: skip
FORBIDDEN_BUILTINS = {"ExceptionGroup", "BaseExceptionGroup"}


def modules():
    return sorted(HANDLERS.glob("*.py"))


def test_no_python_311_only_features():
    problems = []
    for path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"), feature_version=(3, 10))  # 3.11 syntax fails here
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                problems += [f"{path.name}: import {a.name}" for a in node.names if a.name in FORBIDDEN_MODULES]
            elif isinstance(node, ast.ImportFrom):
                for a in node.names:
                    if (node.module, a.name) in FORBIDDEN_NAMES or node.module in FORBIDDEN_MODULES:
                        problems.append(f"{path.name}: {node.module}.{a.name}")
                if node.module and node.module.split(".")[0] in ("localcloud", "autotranscode", "tests"):
                    problems.append(f"{path.name}: imports {node.module} (not deployed)")
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if (node.value.id, node.attr) in FORBIDDEN_NAMES:
                    problems.append(f"{path.name}: {node.value.id}.{node.attr}")
            elif isinstance(node, ast.Name) and node.id in FORBIDDEN_BUILTINS:
                problems.append(f"{path.name}: {node.id}")
    assert problems == []
