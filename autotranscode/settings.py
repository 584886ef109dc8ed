"""Where every command finds its configuration, store and MCT: one resolution, used by all of them.

`autotranscode up` writes a state file into its data dir (``autotranscode.state.json``: the config file the
functions run with, the store, the MCT endpoint, the callback URL). A command run beside it (same ``--data-dir``,
default ``.localcloud``) uses that, so `jobs list` reads the store the functions write. An `up` started with another
``--data-dir`` also leaves ``.localcloud/last-stack.json`` in the directory it was started from, naming its data
dir: commands run from there without ``--data-dir`` find that stack too (the newer of the two). Otherwise:

  --config FILE / --store-url URL        what you pass
  $AUTOTRANSCODE_CONFIG(_JSON), $AUTOTRANSCODE_STORE_URL
  ./autotranscode.json                   the project's config, if there is one
  ./autotranscode.example.json           the example

A ``--config`` naming the very file the stack runs keeps the stack's store and MCT.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

STATE_FILE = "autotranscode.state.json"
LAST_STACK_FILE = "last-stack.json"  # in ./.localcloud: the data dir of the last `up --data-dir ...` started here
STARTED_CONFIG_FILE = "config.started.json"  # the config as the stack's functions run it
EFFECTIVE_CONFIG_FILE = "config.effective.json"  # the config file as it is now, MCT endpoint pointed at the stack
PROJECT_CONFIG = "autotranscode.json"
EXAMPLE_CONFIG = "autotranscode.example.json"
DEFAULT_DATA_DIR = ".localcloud"  # localcloud.defaults.DEFAULT_DATA_DIR (not imported: settings work without it)

ENV_CONFIG_JSON = "AUTOTRANSCODE_CONFIG_JSON"
ENV_CONFIG_PATH = "AUTOTRANSCODE_CONFIG"
ENV_STORE_URL = "AUTOTRANSCODE_STORE_URL"
ENV_ACCESS_KEY = "BCE_ACCESS_KEY_ID"
ENV_SECRET_KEY = "BCE_ACCESS_KEY_SECRET"
LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY = "localcloud-ak", "localcloud-sk"  # localcloud.defaults


@dataclass
class Resolved:
    """What a command runs with. ``env`` is the environment to load the config from (handlers.config.load_config)."""

    env: dict[str, str]
    config_source: str  # e.g. "my.json (--config)", "the local stack in .localcloud (state file ...)"
    state: dict | None = None  # the state file of the local stack, when used
    store_source: str = "store_url in the config"  # the setting to change when the store is wrong
    notes: list[str] = field(default_factory=list)

    def name_sources(self, message: str) -> str:
        """An error about the stack's copy of the config, told about the user's file."""
        if self.state and self.env.get(ENV_CONFIG_PATH, "").endswith(EFFECTIVE_CONFIG_FILE):
            return message.replace(self.env[ENV_CONFIG_PATH], self.state["config"])
        return message

    @property
    def callback_url(self) -> str | None:
        return (self.state or {}).get("callback_url")


def add_arguments(p, store: bool = True) -> None:
    """--config, --store-url and --data-dir, the same on every command."""
    p.add_argument("--config", default=None,
                   help="config JSON file (default: the local stack's from --data-dir, $AUTOTRANSCODE_CONFIG, "
                        f"./{PROJECT_CONFIG}, else ./{EXAMPLE_CONFIG})")  # fmt: skip
    if store:
        p.add_argument("--store-url", default=None, help="store URL (default: the local stack's, "
                       "$AUTOTRANSCODE_STORE_URL or the config's store_url)")  # fmt: skip
    p.add_argument("--data-dir", default=None,
                   help="the data dir of a local stack (`autotranscode up`) to sit beside "
                        f"(default: {DEFAULT_DATA_DIR} if it holds one)")  # fmt: skip


# ----- the state file `up` writes ------------------------------------------------------------------------------
def write_state(data_dir: Path, *, config_source: str, effective_config: dict, store_url: str, mct_endpoint: str,
                bos_endpoint: str, cfc_url: str, callback_url: str | None,
                template: str | None = None) -> Path:  # fmt: skip
    data_dir = Path(data_dir).resolve()
    started = data_dir / STARTED_CONFIG_FILE
    started.write_text(json.dumps(effective_config, indent=2, ensure_ascii=False), encoding="utf-8")
    state = {
        "config": config_source,
        "effective_config": str(started),
        "store_url": store_url,
        "mct_endpoint": mct_endpoint,
        "bos_endpoint": bos_endpoint,
        "cfc_url": cfc_url,
        "callback_url": callback_url,
        "template": template,
        "pid": os.getpid(),
    }
    path = data_dir / STATE_FILE
    path.write_text(json.dumps(state, indent=2), encoding="utf-8")
    default_dir = Path(DEFAULT_DATA_DIR).resolve()
    if data_dir != default_dir:  # so that commands run from here without --data-dir find this stack
        default_dir.mkdir(parents=True, exist_ok=True)
        (default_dir / LAST_STACK_FILE).write_text(json.dumps({"data_dir": str(data_dir)}), encoding="utf-8")
    return path


def read_state(data_dir: str | os.PathLike[str] | None) -> dict | None:
    """The state of the stack in `data_dir`; with None, the stack of ./.localcloud or the last one started from
    here with another --data-dir, whichever wrote its state last."""
    if data_dir is None:
        found = [s for s in (_read_state(Path(DEFAULT_DATA_DIR)), _read_state(_last_stack_dir())) if s is not None]
        return max(found, key=lambda s: s["_mtime"]) if found else None
    return _read_state(Path(data_dir))


def _last_stack_dir() -> Path | None:
    try:
        return Path(json.loads((Path(DEFAULT_DATA_DIR) / LAST_STACK_FILE).read_text(encoding="utf-8"))["data_dir"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _read_state(data_dir: Path | None) -> dict | None:
    if data_dir is None:
        return None
    path = data_dir / STATE_FILE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not state.get("effective_config"):
        return None
    state["_path"] = str(path)
    state["_mtime"] = path.stat().st_mtime
    return state


# ----- resolution ----------------------------------------------------------------------------------------------
def _same_file(a: str | None, b: str | None) -> bool:
    try:
        return bool(a and b) and Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def is_local_endpoint(url: str) -> bool:
    host = urlparse(url if "://" in url else f"http://{url}").hostname or ""
    return host in ("127.0.0.1", "localhost", "::1", "0.0.0.0")


def resolve_local(args, environ: dict[str, str] | None = None) -> Resolved:
    """The configuration, store and MCT a command should use (see the module docstring)."""
    env = dict(os.environ if environ is None else environ)
    config_arg = getattr(args, "config", None)
    store_arg = getattr(args, "store_url", None)
    data_dir = getattr(args, "data_dir", None)
    state = read_state(data_dir)
    if data_dir and state is None:
        raise SettingsError(f"--data-dir {data_dir}: no {STATE_FILE} there; start the stack with "
                            f"`autotranscode up --data-dir {data_dir}` first, or drop --data-dir")  # fmt: skip
    explicit = config_arg or env.get(ENV_CONFIG_PATH) or (env.get(ENV_CONFIG_JSON) and ENV_CONFIG_JSON)
    use_state = state is not None and (not explicit or _same_file(config_arg or env.get(ENV_CONFIG_PATH),
                                                                  state.get("config")))  # fmt: skip
    notes = []
    if use_state:
        env.pop(ENV_CONFIG_JSON, None)
        env[ENV_CONFIG_PATH], changed = _current_config(state)
        if changed:
            notes.append(f"{state['config']} changed since `autotranscode up` started: the functions still run the "
                         "old one until you restart it")  # fmt: skip
        if not env.get(ENV_STORE_URL):
            env[ENV_STORE_URL] = state["store_url"]
        source = f"{state['config']} as run by the local stack in {Path(state['_path']).parent}"
    elif config_arg:
        env.pop(ENV_CONFIG_JSON, None)
        env[ENV_CONFIG_PATH] = config_arg
        source = f"{config_arg} (--config)"
    elif env.get(ENV_CONFIG_JSON):
        source = f"${ENV_CONFIG_JSON}"
    elif env.get(ENV_CONFIG_PATH):
        source = f"{env[ENV_CONFIG_PATH]} (${ENV_CONFIG_PATH})"
    else:
        env[ENV_CONFIG_PATH] = PROJECT_CONFIG if Path(PROJECT_CONFIG).exists() else EXAMPLE_CONFIG
        source = env[ENV_CONFIG_PATH]
    if store_arg:
        store_source = "--store-url"
    elif (environ if environ is not None else os.environ).get(ENV_STORE_URL):
        store_source = f"${ENV_STORE_URL}"
    elif use_state:
        store_source = f"the local stack's store ({state['_path']}; or pass --store-url)"
    else:
        store_source = f"store_url in {source} (or ${ENV_STORE_URL})"
    if store_arg:
        env[ENV_STORE_URL] = store_arg
    resolved = Resolved(env, source, state if use_state else None, store_source, notes)
    if state is not None and not use_state:
        resolved.notes.append(f"not the local stack's config ({state['config']}): using its own store and MCT")
    return resolved


def _current_config(state: dict) -> tuple[str, bool]:
    """(the config file to load, whether it differs from what the stack started with): the stack's config file as
    it is now (an edit is seen at once, e.g. by `provision`), with mct.endpoint pointed at the stack. A file that
    does not parse is returned as is, so the error names it."""
    source = Path(state["config"])
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return str(source), True
    if isinstance(data.get("mct"), dict):
        data["mct"]["endpoint"] = state["mct_endpoint"]
    try:
        started = json.loads(Path(state["effective_config"]).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        started = None
    current = Path(state["_path"]).parent / EFFECTIVE_CONFIG_FILE
    current.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return str(current), data != started


def with_local_credentials(env: dict[str, str], mct_endpoint: str) -> dict[str, str]:
    """A local MCT without BCE_* in the environment: localcloud's credentials."""
    if not env.get(ENV_ACCESS_KEY) and is_local_endpoint(mct_endpoint):
        env = {**env, ENV_ACCESS_KEY: LOCAL_ACCESS_KEY, ENV_SECRET_KEY: LOCAL_SECRET_KEY}
    return env


def announce(resolved: Resolved, store_url: str, mct_endpoint: str) -> None:
    """Say (on stderr) which config, store and MCT a command uses."""
    from handlers.adapters.store import redact_url

    print(f"config {resolved.config_source}", file=sys.stderr)
    print(f"store  {redact_url(store_url)}   MCT {mct_endpoint}", file=sys.stderr)
    for note in resolved.notes:
        print(f"note: {note}", file=sys.stderr)


_saved_logging: list[tuple] = []


def logs_to_stderr(verbose: bool | None = None) -> None:
    """The handlers log JSON lines to stdout (CFC collects stdout); a command keeps stdout for its answer.
    verbose=False: only warnings and errors (a command says what it does itself). restore_logs() undoes it."""
    from handlers.logs import logger

    handler = logger.registered_handler
    if isinstance(handler, logging.StreamHandler):
        _saved_logging.append((handler, handler.stream, logger.log_level))
        handler.stream = sys.stderr  # (not setStream: it flushes the old stream, which may be closed)
    if verbose is False:
        logger.setLevel(logging.WARNING)


def restore_logs() -> None:
    """After a command run in-process (tests, the demo): the handlers' logging as it was."""
    while _saved_logging:
        handler, stream, level = _saved_logging.pop()
        handler.stream = stream
        from handlers.logs import logger

        logger.setLevel(level)


def open_store_clearly(url: str, setting: str):
    """open_store, with a failure that names the server (host:port) and the setting to change."""
    from handlers.adapters.store import open_store, parse_store_url, redact_url

    try:
        parsed = parse_store_url(url) if not url.startswith("memory:") else None
    except ValueError as exc:
        raise SettingsError(f"{exc} (set by {setting})") from None
    try:
        return open_store(url)
    except Exception as exc:
        if parsed is not None and parsed.dialect != "sqlite":
            default_port = {"mysql": 3306, "postgresql": 5432}.get(parsed.dialect)
            where = f"{parsed.dialect} server {parsed.host or 'localhost'}:{parsed.port or default_port}"
            raise SettingsError(
                f"store {redact_url(url)}: cannot reach the {where} ({_first_line(exc)}); start the database "
                f"there, or change {setting}"
            ) from exc
        raise SettingsError(f"store {redact_url(url)}: cannot open it ({_first_line(exc)}); change {setting}") from exc


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


class SettingsError(Exception):
    """Configuration cannot be found or used: one message; exit status 2."""
