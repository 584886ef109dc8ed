"""The demo ends with the console URL of its upload; that page plays the renditions straight from BOS."""

import re
from html import unescape

import requests

from autotranscode.demo import DemoOptions, run_demo


def test_the_demo_console_page_links_playable_renditions(tmp_path):
    seen = {}

    def hold(result):  # while the demo's localcloud and console still serve
        page = requests.get(result.console_url, timeout=10)
        seen["page"] = page.text
        seen["media"] = []
        for url in re.findall(r'<video class="player rendition"[^>]* src="([^"]+)"', page.text):
            media = requests.get(unescape(url), headers={"Range": "bytes=0-99"}, timeout=10)
            seen["media"].append((media.status_code, media.headers.get("content-type"), len(media.content)))

    result = run_demo(DemoOptions(tmp_path / "demo", seconds=1.0, width=640, height=360, timeout=120),
                      say=lambda _: None, hold=hold)  # fmt: skip

    assert result.ok and result.console_url.startswith("http://127.0.0.1:")
    assert result.upload_key in unescape(seen["page"])
    assert seen["media"] and all(code == 206 and size == 100 for code, _, size in seen["media"])
    assert "localcloud-sk" not in seen["page"]
