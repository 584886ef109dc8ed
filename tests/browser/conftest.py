"""Browser tests: headless Chromium (Debian's chromium + chromium-driver) against the console over a real localcloud.

Skipped, with the reason, when no browser is installed (`.ci/run` installs one; locally:
`apt-get install -y chromium chromium-driver`). Screenshots go to tests/artifacts/ (ignored by git).
"""

from __future__ import annotations

import json
import secrets
import shutil
import threading
import time
from pathlib import Path

import pytest

from autotranscode.console.app import ConsoleSettings
from autotranscode.demo import TEMPLATE, DownstreamReceiver, demo_config

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
HOSTILE_KEY = "incoming/<img src=x onerror=alert(1)>.mp4"
CONSOLE_TOKEN = "browser-test-console-token-" + secrets.token_hex(8)


def _browser_paths() -> tuple[str, str] | None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


def pytest_collection_modifyitems(config, items):
    reason = None
    try:
        import selenium  # noqa: F401
    except ImportError:
        reason = "selenium is not installed (pip install -r requirements-dev.txt)"
    if reason is None and _browser_paths() is None:
        reason = "no headless browser: install Debian's chromium and chromium-driver (.ci/run does)"
    if reason:
        skip = pytest.mark.skip(reason=reason)
        for item in items:
            if "tests/browser" in str(item.fspath).replace("\\", "/"):
                item.add_marker(skip)


def wait_for(condition, timeout: float, what: str, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


class ConsoleWorld:
    """A localcloud with the example rule, a downstream receiver, the console (actions on, with a token) and a
    read-only console; `upload()` puts the hostile-key clip once."""

    def __init__(self, tmp: Path):
        from autotranscode.commands.provision import provision_localcloud
        from autotranscode.console.serve import serve_for_stack
        from localcloud.cfc.template import load_template
        from localcloud.samples import make_sample_clip
        from localcloud.serve import free_port, serve_in_thread
        from localcloud.stack import LocalStack

        self.receiver = DownstreamReceiver(secrets.token_hex(8))
        self.downstream = serve_in_thread(self.receiver)
        ports = {"bos_port": free_port(), "mct_port": free_port(), "cfc_port": free_port()}
        config = demo_config(f"http://127.0.0.1:{ports['mct_port']}", f"{self.downstream.url}/done",
                             self.receiver.secret)  # fmt: skip
        overrides = {name: {"AUTOTRANSCODE_CONFIG_JSON": json.dumps(config)} for name in load_template(TEMPLATE)}
        self.stack = LocalStack(tmp / "cloud", TEMPLATE, env_overrides=overrides, watch=False,
                                log_sink=lambda *_: None, **ports)  # fmt: skip
        self.stack.start()
        provision_localcloud(self.stack, lambda _: None)
        self.clip = make_sample_clip(tmp / "clip.mp4", seconds=3, width=640, height=360)
        self.console = serve_for_stack(self.stack, settings=ConsoleSettings(token=CONSOLE_TOKEN, actions=True))
        self.readonly = serve_for_stack(self.stack)
        self._uploaded = threading.Lock()
        self.upload_id: str | None = None

    def upload(self) -> str:
        from handlers.domain.ids import upload_id_for

        with self._uploaded:
            if self.upload_id is None:
                self.stack.bos_client().put_object_from_file("uploads", HOSTILE_KEY, str(self.clip))
                etag = self.stack.storage.head("uploads", HOSTILE_KEY).etag
                self.upload_id = upload_id_for("uploads", HOSTILE_KEY, etag)
            return self.upload_id

    def wait_done(self, timeout: float = 120) -> str:
        from handlers.adapters.store import SqlStore

        upload_id = self.upload()
        store = SqlStore(f"sqlite:///{self.stack.data_dir / 'autotranscode.sqlite3'}")
        try:
            wait_for(lambda: (u := store.get_upload(upload_id)) is not None and u.status == "DONE", timeout,
                     "the upload to be done")  # fmt: skip
            wait_for(lambda: store.delivery_attempts(upload_id), 30, "the done event's delivery")
        finally:
            store.dispose()
        return upload_id

    def close(self) -> None:
        for server in (self.console, self.readonly):
            server.stop()
        self.stack.stop()
        self.downstream.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = ConsoleWorld(tmp_path_factory.mktemp("console"))
    yield w
    w.close()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = _browser_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--autoplay-policy=no-user-gesture-required", "--window-size=1280,1600", "--mute-audio"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
