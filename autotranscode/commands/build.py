"""`autotranscode build`: the CFC zip — handlers/, the config file and requirements.txt installed for
Linux x86_64 / Python 3.10 (manylinux wheels) — into dist/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PLATFORM = "manylinux2014_x86_64"
PYTHON_VERSION = "3.10"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def register(subparsers) -> None:
    p = subparsers.add_parser("build", help="build dist/autotranscode-cfc.zip for CFC (Python 3.10)")
    p.add_argument(
        "--config", default="autotranscode.example.json", help="config file to include (default: %(default)s)"
    )
    p.add_argument("--requirements", default="requirements.txt", help="default: %(default)s")
    p.add_argument("--output", default="dist/autotranscode-cfc.zip", help="default: %(default)s")
    p.add_argument("--no-deps", action="store_true", help="only the code (dependencies provided by a CFC layer)")
    p.add_argument("--allow-secrets", action="store_true",
                   help="pack a config file that holds secrets (tokens, downstream secret, store password) anyway; "
                        "by default they must come from the function's environment")  # fmt: skip
    p.set_defaults(func=run)


def secrets_in_file(config: Path) -> list[str]:
    """The secret settings a config file holds (never their values)."""
    import json

    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []  # the preflight has said why
    found = []
    callback = data.get("callback") if isinstance(data.get("callback"), dict) else {}
    for name in ("url_token", "sign_token"):
        if callback.get(name):
            found.append(f"callback.{name}")
    if isinstance(data.get("downstream"), dict) and data["downstream"].get("secret"):
        found.append("downstream.secret")
    store_url = str(data.get("store_url") or "")
    userinfo = store_url.partition("://")[2].rpartition("@")[0]
    if ":" in userinfo:
        found.append("store_url (its password)")
    return found


def _preflight(config: Path) -> bool:
    """`autotranscode check --offline` on the config that goes into the zip, warnings for a deployment."""
    from argparse import Namespace

    from autotranscode.commands.check import run_before

    return run_before("build", Namespace(config=str(config), store_url=None, data_dir=None), deployable=True,
                      offline=True)  # fmt: skip


def pip_command(target: Path, requirements: str) -> list[str]:
    return [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target", str(target),
            "--platform", PLATFORM, "--python-version", PYTHON_VERSION, "--implementation", "cp",
            "--only-binary=:all:", "-r", requirements]  # fmt: skip


def run(args) -> int:
    # the checkout in the current directory, else the one this command runs from (an app's own directory)
    root = Path.cwd() if (Path.cwd() / "handlers" / "on_upload.py").exists() else Path(__file__).resolve().parents[2]
    handlers = root / "handlers"
    if not (handlers / "on_upload.py").exists():
        print("error: run from the repository root (handlers/ not found)", file=sys.stderr)
        return 2
    if not Path(args.requirements).exists() and (root / args.requirements).exists():
        args.requirements = str(root / args.requirements)
    config = Path(args.config)
    if not config.exists():
        print(f"error: --config {config}: no such file", file=sys.stderr)
        return 2
    if not _preflight(config):
        return 2
    secrets = secrets_in_file(config)
    if secrets and not getattr(args, "allow_secrets", False):
        print(f"error: {config} holds secrets ({', '.join(secrets)}); the zip would carry them to anyone who can "
              "read the function's code. Remove them from the file and set them in the function's environment "
              "(AUTOTRANSCODE_CALLBACK_URL_TOKEN / AUTOTRANSCODE_CALLBACK_SIGN_TOKEN, AUTOTRANSCODE_DOWNSTREAM_SECRET, "
              "AUTOTRANSCODE_STORE_URL), or pass --allow-secrets", file=sys.stderr)  # fmt: skip
        return 2
    with tempfile.TemporaryDirectory(prefix="autotranscode-build-") as tmp:
        return _build(args, handlers, config, Path(tmp))


def _build(args, handlers: Path, config: Path, stage: Path) -> int:
    if not args.no_deps:
        proc = subprocess.run(pip_command(stage, args.requirements), check=False)
        if proc.returncode:
            print("error: pip could not fetch manylinux/py3.10 wheels for every requirement", file=sys.stderr)
            return proc.returncode
    # handlers/testing holds the in-memory twins of the store and MCT: tests only, never deployed.
    shutil.copytree(handlers, stage / "handlers", ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "testing"))
    shutil.copy2(config, stage / config.name)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(stage.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                # fixed timestamps: the same inputs give the same zip, so `deploy` can tell the code is unchanged
                info = zipfile.ZipInfo(path.relative_to(stage).as_posix(), date_time=ZIP_DATE)
                info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
    size_mb = output.stat().st_size / 1e6
    print(f"{output} ({size_mb:.1f} MB); set AUTOTRANSCODE_CONFIG={config.name}")
    print("handlers: handlers.on_upload.handler, handlers.on_notification.handler, handlers.on_schedule.handler")
    if size_mb > 150:
        print("warning: CFC accepts zips up to 150 MB", file=sys.stderr)
    return 0
