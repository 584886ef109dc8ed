"""The console in a real browser (headless Chromium): live list, playback, thumbnails, escaping, refused actions."""

from __future__ import annotations

import requests
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By

from tests.browser.conftest import screenshot
from tests.console_support import HOSTILE_KEY
from tests.waiting import wait_for


def _no_alert(driver) -> bool:
    try:
        driver.switch_to.alert  # noqa: B018 - raises when no alert is open
    except NoAlertPresentException:
        return True
    return False


def _row_keys(driver) -> list[str]:
    return [td.text for td in driver.find_elements(By.CSS_SELECTOR, "#upload-rows td.key")]


def test_the_list_shows_a_new_upload_without_reload(world, browser):
    browser.get(world.console.url + "/")
    browser.execute_script("window.__sameDocument = true")  # gone if the page reloads
    assert HOSTILE_KEY not in _row_keys(browser)

    world.upload()

    wait_for(lambda: HOSTILE_KEY in _row_keys(browser), timeout=15, what="the new upload to appear in the open list")
    assert browser.execute_script("return window.__sameDocument === true")
    screenshot(browser, "console-list")


def test_a_hostile_key_is_shown_as_text_and_runs_nothing(world, browser):
    upload_id = world.wait_done()
    for url in (world.console.url + "/", f"{world.console.url}/uploads/{upload_id}"):
        browser.get(url)
        wait_for(
            lambda: browser.execute_script("return document.readyState") == "complete", timeout=10, what="the page"
        )
        assert _no_alert(browser)
        # The key is text wherever it shows; no element came out of it.
        assert browser.execute_script("return document.querySelectorAll('img[src=\"x\"], img[onerror]').length") == 0
        text = browser.find_element(By.TAG_NAME, "body").text
        assert HOSTILE_KEY in text
    assert browser.find_element(By.ID, "upload-key").text == HOSTILE_KEY


def test_a_rendition_plays(world, browser):
    upload_id = world.wait_done()
    browser.get(f"{world.console.url}/uploads/{upload_id}")
    videos = browser.find_elements(By.CSS_SELECTOR, "video.rendition")
    assert videos, "the upload page shows no playable rendition"
    video = videos[0]
    browser.execute_script("arguments[0].muted = true; arguments[0].play();", video)
    wait_for(lambda: browser.execute_script("return arguments[0].currentTime", video) > 0.5, timeout=30,
             what="the rendition to play (video.currentTime to advance)")  # fmt: skip
    assert browser.execute_script("return arguments[0].error", video) is None
    screenshot(browser, "console-upload")


def test_thumbnails_load(world, browser):
    upload_id = world.wait_done()
    browser.get(f"{world.console.url}/uploads/{upload_id}")
    images = browser.find_elements(By.CSS_SELECTOR, "img.thumbnail")
    assert images, "the upload page shows no thumbnail"
    for img in images:
        wait_for(
            lambda img=img: browser.execute_script("return arguments[0].complete", img),
            timeout=15,
            what="the thumbnail",
        )
        assert browser.execute_script("return arguments[0].naturalWidth", img) > 0


def test_actions_without_the_token_are_refused(world, browser):
    upload_id = world.wait_done()
    # A console started with actions: the form without the right token is refused.
    browser.get(f"{world.console.url}/uploads/{upload_id}")
    form = browser.find_element(By.CSS_SELECTOR, "form[action='/actions/sweep']")
    form.find_element(By.NAME, "token").send_keys("not-the-token")
    form.find_element(By.TAG_NAME, "button").click()
    wait_for(lambda: browser.find_elements(By.ID, "refused"), timeout=10, what="the refusal page")
    assert "token is missing or wrong" in browser.find_element(By.ID, "refused").text
    screenshot(browser, "console-refused")
    # Without any token, and on a read-only console even with the token: refused, nothing redelivered.
    attempts = requests.post(f"{world.console.url}/actions/deliver", data={"upload_id": upload_id}, timeout=10)
    assert attempts.status_code == 403
    readonly = requests.post(f"{world.readonly.url}/actions/sweep", data={"token": "anything"}, timeout=10)
    assert readonly.status_code == 403 and "read-only" in readonly.text
    browser.get(f"{world.readonly.url}/uploads/{upload_id}")
    assert not browser.find_elements(By.CSS_SELECTOR, "form[action^='/actions/']")


def test_the_master_playlist_plays_adaptively_or_falls_back_to_mp4(abr_world, browser):
    upload_id = abr_world.wait_done()
    browser.get(f"{abr_world.console.url}/uploads/{upload_id}")
    player = browser.find_element(By.ID, "abr-player")
    assert "master.m3u8" in player.get_attribute("data-hls")
    has_hls_js = browser.execute_script("return !!(window.Hls && window.Hls.isSupported())")
    if has_hls_js:  # installed by `make console-player`: MSE playback switching between the two renditions
        levels = "return (arguments[0].hls.levels || []).length"
        wait_for(lambda: browser.execute_script(levels, player) == 2, timeout=15,
                 what="hls.js to load the master playlist's two variants")  # fmt: skip
    source = "return arguments[0].currentSrc"

    def picked() -> bool:
        src = browser.execute_script(source, player)
        return src.startswith("blob:") or ".mp4?" in src

    wait_for(picked, timeout=15, what="the player to pick its source (the stream, or the MP4 fallback)")
    browser.execute_script("arguments[0].muted = true; arguments[0].play();", player)
    wait_for(lambda: browser.execute_script("return arguments[0].currentTime", player) > 0.5, timeout=30,
             what="the adaptive player to play")  # fmt: skip
    src = browser.execute_script("return arguments[0].currentSrc", player)
    if has_hls_js:
        assert src.startswith("blob:")  # Media Source Extensions, fed by hls.js
        heights = browser.execute_script("return arguments[0].hls.levels.map(l => l.height)", player)
        assert sorted(heights) == [360, 480]
    else:  # without hls.js (and no native HLS in Chromium) the MP4 rendition plays, and the page says why
        assert ".mp4?authorization=" in src
        note = browser.find_element(By.CSS_SELECTOR, ".player-note").text
        assert "playing the MP4 rendition instead" in note
    screenshot(browser, "console-abr")
