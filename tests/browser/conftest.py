"""Browser tests: headless Chromium (Debian's chromium + chromium-driver) against the console over a real localcloud.

Skipped, with the reason, when no browser is installed (`.ci/run` installs one; locally:
`apt-get install -y chromium chromium-driver`). Screenshots go to tests/artifacts/ (ignored by git).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.console_support import ABR_TARGETS, ConsoleWorld

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


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


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = ConsoleWorld(tmp_path_factory.mktemp("console"))
    yield w
    w.close()


@pytest.fixture(scope="module")
def abr_world(tmp_path_factory):
    """Two HLS renditions (and an MP4 one) of an 854x480 clip: the console plays them through the master."""
    w = ConsoleWorld(tmp_path_factory.mktemp("abr"), targets=ABR_TARGETS, clip_size=(854, 480), clip_seconds=6)
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
