"""``LocalStack``: BOS + MCT + CFC wired together, as ``autotranscode up``, the demo and end-to-end tests use it.

    with LocalStack(".localcloud", "template.yaml", bos_port=0, mct_port=0, cfc_port=0) as stack:
        BosClient(BceClientConfiguration(credentials=..., endpoint=stack.bos_endpoint)).put_object_from_file(...)
        stack.runtime.wait_idle()

The CFC port also serves the CFC API (``/v1/functions``, ``/v1/relation``; ``cfc/api_urls.py``): functions
deployed through it (``autotranscode deploy --endpoint <cfc_url>``) run next to the template's, with their own
environment. ``template_path=None`` starts with no template functions.

Wiring: every BOS create event (API or file dropped into ``<data_dir>/buckets/<bucket>/``) goes to
``runtime.dispatch_bos_event``; the functions get environment overrides so they talk to this MCT and BOS with the
local credentials and keep their store in ``data_dir`` (see ``local_function_env``); crontab triggers run on their
schedules (``localcloud.cfc.scheduler``).
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Mapping
from pathlib import Path

from localcloud.bos import BosService
from localcloud.cfc import CfcRuntime
from localcloud.cfc.api_models import CfcBackend
from localcloud.cfc.api_urls import CfcGateway
from localcloud.cfc.pool import LogSink
from localcloud.cfc.scheduler import CrontabScheduler, triggers_of
from localcloud.cfc.template import FunctionSpec, load_template
from localcloud.defaults import (
    BOS_PORT,
    CFC_PORT,
    DEFAULT_ACCESS_KEY,
    DEFAULT_DATA_DIR,
    DEFAULT_HOST,
    DEFAULT_SECRET_KEY,
    MCT_PORT,
    REGION,
)
from localcloud.faults import FaultConfig
from localcloud.serve import RunningServer, free_port, serve_in_thread
from localcloud.storage import LocalStorage

log = logging.getLogger(__name__)

# The functions' environment contract, as the stand-in CFC sets it: config file or inline JSON, store URL, MCT
# creds. localcloud must not import handlers/, so these mirror handlers.config's names; tests/unit/localcloud/
# test_stack_env.py fails if the two ever differ.
ENV_CONFIG_PATH = "AUTOTRANSCODE_CONFIG"
ENV_CONFIG_JSON = "AUTOTRANSCODE_CONFIG_JSON"
ENV_STORE_URL = "AUTOTRANSCODE_STORE_URL"
ENV_BOS_ENDPOINT = "AUTOTRANSCODE_BOS_ENDPOINT"  # the functions read and write this BOS
ENV_ACCESS_KEY = "BCE_ACCESS_KEY_ID"
ENV_SECRET_KEY = "BCE_ACCESS_KEY_SECRET"


class MctUnavailable(RuntimeError):
    pass


class PortInUse(RuntimeError):
    pass


def check_port_free(service: str, host: str, port: int) -> None:
    """Fail before anything starts when a fixed port is taken (uvicorn only logs it from its thread)."""
    if not port:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUse(
                f"{service.upper()} cannot listen on {host}:{port} ({exc.strerror}); is another `autotranscode up` "
                f"running? Stop it or pass --{service}-port"
            ) from None


def load_mct_service():
    """``localcloud.mct.service.MctService``, imported only when needed, with a clear error if it is missing."""
    try:
        from localcloud.mct.service import MctService
    except ImportError as exc:
        raise MctUnavailable(
            f"localcloud MCT is not available ({exc}); run `pip install -e .` in the repository, or start without "
            "MCT (LocalStack(with_mct=False))"
        ) from exc
    return MctService


def local_function_env(
    functions: Mapping[str, FunctionSpec], mct_url: str | None, data_dir: Path, access_key: str, secret_key: str,
    bos_url: str | None = None,
) -> dict[str, object]:  # fmt: skip
    """Overrides so the template's functions use localcloud: the local MCT credentials, a store under
    ``data_dir``, this BOS (``bos_url``), and (per function) the config file the template names, inlined with
    ``mct.endpoint`` pointed at this MCT (the endpoint lives in the config file, not in an env var)."""
    overrides: dict[str, object] = {
        ENV_ACCESS_KEY: access_key,
        ENV_SECRET_KEY: secret_key,
        ENV_STORE_URL: f"sqlite:///{data_dir / 'autotranscode.sqlite3'}",
    }
    if bos_url is not None:
        overrides[ENV_BOS_ENDPOINT] = bos_url
    if mct_url is None:
        return overrides
    for name, spec in functions.items():
        config_path = spec.environment.get(ENV_CONFIG_PATH)
        if not config_path or ENV_CONFIG_JSON in spec.environment:
            continue
        path = Path(config_path)
        path = path if path.is_absolute() else spec.code_dir / path
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            log.warning("%s: cannot read %s=%s (%s); MCT endpoint not redirected", name, ENV_CONFIG_PATH, path, exc)
            continue
        if isinstance(config.get("mct"), dict):
            config["mct"]["endpoint"] = mct_url
        overrides[name] = {ENV_CONFIG_JSON: json.dumps(config)}
    return overrides


def cors_for_reads(app):
    """Let pages read objects (the console's HLS player fetches segments with XHR): GET/HEAD answers carry
    ``Access-Control-Allow-Origin: *``. Safe because a read still needs its own pre-signed URL; on real BOS the
    bucket's CORS rules do this (PutBucketCors)."""

    async def with_cors(scope, receive, send):
        if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD"):
            return await app(scope, receive, send)

        async def send_with_cors(message):
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"access-control-allow-origin", b"*")]
                message = {**message, "headers": headers}
            await send(message)

        return await app(scope, receive, send_with_cors)

    return with_cors


class LocalStack:
    def __init__(
        self,
        data_dir: str | os.PathLike[str] = DEFAULT_DATA_DIR,
        template_path: str | os.PathLike[str] | None = "template.yaml",
        *,
        host: str = DEFAULT_HOST,
        bos_port: int = BOS_PORT,
        mct_port: int = MCT_PORT,
        cfc_port: int = CFC_PORT,
        access_key: str = DEFAULT_ACCESS_KEY,
        secret_key: str = DEFAULT_SECRET_KEY,
        env_overrides: Mapping[str, object] | None = None,
        watch: bool = True,
        with_mct: bool = True,
        create_trigger_buckets: bool = True,
        warm: bool = True,
        faults: FaultConfig | None = None,
        log_sink: LogSink | None = None,
        retry_delays: tuple[float, ...] | None = None,
        crontab_every: float | None = None,
    ):
        """Ports 0 pick free ones (tests). ``env_overrides`` are applied after the local ones (same shape as
        ``CfcRuntime``'s). ``warm`` starts one instance per function at start-up so import errors fail early.
        ``crontab_every`` (seconds; tests) runs the crontab triggers at this interval instead of their schedule."""
        self.data_dir = Path(data_dir).resolve()
        self.template_path = Path(template_path).resolve() if template_path is not None else None
        self.host = host
        self.ports = {"bos": bos_port, "mct": mct_port, "cfc": cfc_port}
        self.credentials = {access_key: secret_key}
        self.access_key, self.secret_key = access_key, secret_key
        self.user_overrides = dict(env_overrides or {})
        self.watch = watch
        self.with_mct = with_mct
        self.create_trigger_buckets = create_trigger_buckets
        self.warm = warm
        self.faults = faults if faults is not None else FaultConfig.from_env()
        self.log_sink = log_sink
        self.retry_delays = retry_delays
        self.crontab_every = crontab_every
        self.scheduler: CrontabScheduler | None = None
        self.storage: LocalStorage | None = None
        self.bos: BosService | None = None
        self.mct = None
        self.runtime: CfcRuntime | None = None
        self.cfc_api: CfcBackend | None = None
        self._servers: dict[str, RunningServer] = {}

    # ----- addresses ----------------------------------------------------------------------------------------
    def _server(self, name: str) -> RunningServer:
        if name not in self._servers:
            raise RuntimeError(
                f"{name.upper()} is not running (call start() first{', with_mct=True' * (name == 'mct')})"
            )
        return self._servers[name]

    @property
    def bos_url(self) -> str:
        return self._server("bos").url

    @property
    def bos_endpoint(self) -> str:
        return self._server("bos").endpoint

    @property
    def mct_url(self) -> str:
        return self._server("mct").url

    @property
    def mct_endpoint(self) -> str:
        return self._server("mct").endpoint

    @property
    def cfc_url(self) -> str:
        return self._server("cfc").url

    # ----- clients (the real SDK, pointed at this stack) ------------------------------------------------------
    def _sdk_config(self, endpoint: str):
        from baidubce.auth.bce_credentials import BceCredentials
        from baidubce.bce_client_configuration import BceClientConfiguration

        return BceClientConfiguration(credentials=BceCredentials(self.access_key, self.secret_key), endpoint=endpoint)

    def bos_client(self):
        """A ``baidubce`` ``BosClient`` for this stack's BOS."""
        from baidubce.services.bos.bos_client import BosClient

        return BosClient(self._sdk_config(self.bos_endpoint))

    def mct_client(self):
        """A ``baidubce`` ``MediaClient`` for this stack's MCT."""
        from baidubce.services.media.media_client import MediaClient

        return MediaClient(self._sdk_config(self.mct_endpoint))

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no triggered function invocation is queued or running."""
        return self.runtime.wait_idle(timeout) if self.runtime is not None else True

    # ----- lifecycle ----------------------------------------------------------------------------------------
    def start(self) -> LocalStack:
        # template errors before anything starts; None: only functions deployed through the CFC API
        functions = load_template(self.template_path) if self.template_path is not None else {}
        for service, port in self.ports.items():
            if service != "mct" or self.with_mct:
                check_port_free(service, self.host, port)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.storage = LocalStorage(self.data_dir)
        try:
            mct_url = None
            if self.with_mct:
                mct_service = load_mct_service()
                self.mct = mct_service(
                    self.data_dir, credentials=self.credentials, storage=self.storage, faults=self.faults
                )
                server = self._serve("mct", self.mct.app)
                self.mct.server_name = server.endpoint
                self.mct.start()
                mct_url = server.url
            if not self.ports["bos"]:  # BOS starts last, but the functions' environment names it: pick its port now
                self.ports["bos"] = free_port(self.host)
            bos_url = f"http://{self.host}:{self.ports['bos']}"
            overrides = local_function_env(functions, mct_url, self.data_dir, self.access_key, self.secret_key,
                                           bos_url)  # fmt: skip
            for key, value in self.user_overrides.items():
                if isinstance(value, Mapping) and isinstance(overrides.get(key), Mapping):
                    overrides[key] = {**overrides[key], **value}
                else:
                    overrides[key] = value
            runtime_kwargs = {"retry_delays": self.retry_delays} if self.retry_delays is not None else {}
            self.runtime = CfcRuntime(
                self.template_path, overrides, self.data_dir, log_sink=self.log_sink, **runtime_kwargs
            )
            self.runtime.start(warm=self.warm)
            self.cfc_api = CfcBackend(self.runtime, self.data_dir, REGION, lambda: self.cfc_url,
                                      bucket_exists=self.storage.bucket_exists)  # fmt: skip
            self._serve("cfc", CfcGateway(self.cfc_api, self.runtime.http_app, self.credentials))
            if self.create_trigger_buckets:
                for spec in functions.values():
                    for trigger in spec.bos_triggers:
                        self.storage.create_bucket(trigger.bucket, exist_ok=True)
            self.bos = BosService(
                storage=self.storage,
                credentials=self.credentials,
                on_event=self.runtime.dispatch_bos_event,
                watch=self.watch,
                faults=self.faults,
            )
            self._serve("bos", cors_for_reads(self.bos.app))
            self.bos.start()
            self.scheduler = CrontabScheduler(
                triggers_of(functions), self.runtime.invoke, every=self.crontab_every
            ).start()
        except BaseException:
            self.stop()
            raise
        return self

    def _serve(self, name: str, app) -> RunningServer:
        server = serve_in_thread(app, host=self.host, port=self.ports[name])
        self._servers[name] = server
        return server

    def stop(self) -> None:
        """Stop taking uploads first, then the functions, then MCT. Safe to call twice."""
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None
        if self.bos is not None:
            self.bos.stop()
        for name in ("bos", "cfc"):
            server = self._servers.pop(name, None)
            if server is not None:
                server.stop()
        if self.runtime is not None:
            self.runtime.stop()
        server = self._servers.pop("mct", None)
        if server is not None:
            server.stop()
        if self.mct is not None:
            close = getattr(self.mct, "close", None) or self.mct.stop
            close()
            self.mct = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
