"""The console app over the in-memory store and MCT twins and a BOS twin, through real HTTP (uvicorn)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests

from autotranscode.console.app import ConsoleSettings, build_app, check_settings
from autotranscode.console.sources import Sources
from handlers.services.submit import process_upload_event
from localcloud.serve import serve_in_thread
from tests.unit.handlers.conftest import bos_event, config_dict, make_deps

HOSTILE = "incoming/<img src=x onerror=alert(1)>.mp4"
TOKEN = "unit-console-token-0123456789"


class BosTwin:
    """MediaLinks in memory: 'pre-signed' URLs that carry a signature but never the secret key."""

    origin = "http://bos.test"

    def __init__(self):
        self.objects: dict[tuple[str, str], str] = {}

    def url(self, bucket: str, key: str) -> str:
        return f"http://bos.test/{bucket}/{quote(key)}?authorization=bce-auth-v1%2Fak%2Fsig"

    def read_text(self, bucket: str, key: str) -> str | None:
        return self.objects.get((bucket, key))


@pytest.fixture
def world():
    deps = make_deps(config_dict(downstream={"url": "http://downstream.test/done", "secret": "downstream-secret"}))
    posted = []

    def post(url, body, headers, timeout):
        posted.append(body)
        return 503

    deps.post = post
    bos = BosTwin()
    servers = {}

    def console(**settings):
        if settings not in [s for s, _ in servers.values()]:
            server = serve_in_thread(build_app(Sources(deps, bos), ConsoleSettings(**settings)))
            servers[len(servers)] = (settings, server)
        return next(srv for s, srv in servers.values() if s == settings).url

    yield deps, bos, console, posted
    for _, server in servers.values():
        server.stop()


def upload(deps, key=HOSTILE, etag="etag-1"):
    process_upload_event(deps, bos_event(key, etag=etag))
    return next(u for u in deps.store.list_uploads() if u.key == key)


def finish(deps, up, status="SUCCESS", error=None):
    from handlers.services.callbacks import apply_job_view, read_job
    from handlers.services.completion import maybe_complete

    for job in deps.store.jobs_for_upload(up.upload_id):
        kind_output = {"keys": ["thumbs/x/poster.jpg"]} if job.kind == "thumbnail" else {}
        deps.mct.set_status(
            job.job_id,
            status if job.kind != "thumbnail" else "SUCCESS",
            output={"video": {"width_in_pixel": 640, "height_in_pixel": 360, "frame_rate": 25},
                    "bit_rate_in_k_bps": "600.5"},
            error=error if job.kind != "thumbnail" else None,
            keys=kind_output.get("keys"),
        )  # fmt: skip
        apply_job_view(deps, job, read_job(deps, job))
    maybe_complete(deps, up.upload_id)


def test_the_list_escapes_keys_and_filters(world):
    deps, _, console, _ = world
    hostile = upload(deps)
    other = upload(deps, key="incoming/b/plain.mp4")
    finish(deps, other)
    url = console()

    page = requests.get(url + "/", timeout=10)
    assert page.status_code == 200
    assert "<img src=x" not in page.text and "incoming/&lt;img src=x onerror=alert(1)&gt;.mp4" in page.text
    assert page.text.index("plain.mp4") < page.text.index("&lt;img")  # newest first
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp

    rows = requests.get(url + "/uploads/rows", params={"status": "open"}, timeout=10).text
    assert hostile.upload_id in rows and other.upload_id not in rows
    rows = requests.get(url + "/uploads/rows", params={"prefix": "incoming/b/"}, timeout=10).text
    assert other.upload_id in rows and hostile.upload_id not in rows
    rows = requests.get(url + "/uploads/rows", params={"since": "1h", "bucket": "uploads"}, timeout=10).text
    assert other.upload_id in rows and hostile.upload_id in rows
    bad = requests.get(url + "/uploads/rows", params={"since": "yesterday"}, timeout=10)
    assert bad.status_code == 400 and "since" in bad.text and "30m" in bad.text


def test_the_failed_filter_shows_uploads_with_a_failed_job(world):
    deps, _, console, _ = world
    ok = upload(deps, key="incoming/ok.mp4")
    finish(deps, ok)
    bad = upload(deps, key="incoming/bad.mp4")
    finish(deps, bad, status="FAILED", error={"code": "JobFailed", "message": "<b>decoder</b> gave up"})
    rows = requests.get(console() + "/uploads/rows", params={"status": "failed"}, timeout=10).text
    assert bad.upload_id in rows and ok.upload_id not in rows


def test_one_upload_shows_jobs_errors_thumbnails_and_each_delivery_attempt(world):
    deps, bos, console, posted = world
    deps.mct.mediainfo[("uploads", HOSTILE)] = {"container": "mp4", "durationInMillisecond": 3000,
                                                "video": {"codec": "h264", "widthInPixel": 640}}  # fmt: skip
    up = upload(deps)
    finish(deps, up, status="FAILED", error={"code": "JobFailed", "message": "<b>decoder</b> gave up"})
    assert len(posted) == 3  # downstream answered 503 three times

    page = requests.get(f"{console()}/uploads/{up.upload_id}", timeout=10).text
    assert "&lt;b&gt;decoder&lt;/b&gt; gave up" in page and "<b>decoder" not in page
    assert "JobFailed" in page and "bce.video_mp4_640x360_600kbps" in page
    assert 'class="thumbnail"' in page and "http://bos.test/uploads/thumbs/x/poster.jpg?authorization=" in page
    assert page.count("<td>503</td>") == 3  # every attempt with its HTTP status
    assert "&#34;status&#34;: &#34;FAILED&#34;" in page  # the event as sent (escaped JSON)
    assert "h264" in page  # the source's mediainfo
    assert "downstream-secret" not in page and "localcloud-sk" not in page
    assert 'action="/actions/' not in page  # read-only: no forms


def test_an_mp4_rendition_is_a_video_with_a_presigned_url(world):
    deps, _, console, _ = world
    up = upload(deps, key="incoming/clip.mp4")
    finish(deps, up)
    page = requests.get(f"{console()}/uploads/{up.upload_id}", timeout=10).text
    assert '<video class="player rendition"' in page
    assert 'src="http://bos.test/uploads/out/incoming/clip/720p.mp4?authorization=' in page


def test_actions_need_actions_enabled_and_the_token(world):
    deps, _, console, posted = world
    up = upload(deps)
    finish(deps, up, status="FAILED", error={"code": "JobFailed", "message": "x"})
    failed = next(j for j in deps.store.jobs_for_upload(up.upload_id) if j.status == "FAILED")
    sent = len(posted)

    readonly = requests.post(console() + "/actions/redrive", data={"claim_id": failed.claim_id, "token": TOKEN},
                             timeout=10)  # fmt: skip
    assert readonly.status_code == 403 and "read-only" in readonly.text
    url = console(token=TOKEN, actions=True)
    for token in (None, "", "wrong-token", "jeton-réservé"):
        data = {"claim_id": failed.claim_id, **({"token": token} if token is not None else {})}
        refused = requests.post(url + "/actions/redrive", data=data, timeout=10, allow_redirects=False)
        assert refused.status_code == 403 and "token is missing or wrong" in refused.text
    refused = requests.post(url + "/actions/deliver", data={"upload_id": up.upload_id}, timeout=10)
    assert refused.status_code == 403
    assert deps.store.get_claim(failed.claim_id).status == "FAILED" and len(posted) == sent  # nothing happened

    page = requests.get(f"{url}/uploads/{up.upload_id}", timeout=10).text
    assert 'action="/actions/redrive"' in page and TOKEN not in page
    done = requests.post(url + "/actions/redrive", data={"claim_id": failed.claim_id, "token": TOKEN}, timeout=10,
                         allow_redirects=False)  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == f"/uploads/{up.upload_id}?notice=redriven"
    redriven = deps.store.get_claim(failed.claim_id)
    assert redriven.status == "PENDING" and redriven.job_id != failed.job_id

    retry = requests.post(url + "/actions/deliver", headers={"Authorization": f"Bearer {TOKEN}"},
                          data={"upload_id": up.upload_id}, timeout=10, allow_redirects=False)  # fmt: skip
    assert retry.status_code == 303 and "notice=no-delivery" in retry.headers["location"]  # reopened: not done
    sweep = requests.post(url + "/actions/sweep", data={"token": TOKEN}, timeout=10, allow_redirects=False)
    assert sweep.status_code == 303 and sweep.headers["location"] == "/?notice=swept"


def test_beyond_loopback_every_page_needs_the_token(world):
    deps, _, console, _ = world
    upload(deps)
    url = console(token=TOKEN, tokens_for_reads=True)
    anonymous = requests.get(url + "/", timeout=10, allow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login"
    assert requests.get(url + "/uploads/rows", timeout=10, allow_redirects=False).status_code == 303
    wrong = requests.post(url + "/login", data={"token": "nope"}, timeout=10)
    assert wrong.status_code == 401
    session = requests.Session()
    signed_in = session.post(url + "/login", data={"token": TOKEN}, timeout=10)
    assert signed_in.status_code == 200 and "&lt;img" in signed_in.text
    assert TOKEN not in str(session.cookies.get_dict())  # the cookie is derived from the token, not the token
    assert requests.get(url + "/", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).status_code == 200


def test_settings_that_would_expose_the_console_are_refused():
    assert check_settings("127.0.0.1", None, False) is None
    assert check_settings("::1", None, False) is None
    assert "AUTOTRANSCODE_CONSOLE_TOKEN" in check_settings("0.0.0.0", None, False)
    assert "--actions needs a console token" in check_settings("127.0.0.1", None, True)
    assert check_settings("0.0.0.0", TOKEN, True) is None


def test_hls_playlists_are_served_rewritten_and_only_the_uploads_own(world):
    deps, bos, console, _ = world
    data = config_dict()
    data["rules"][0]["targets"] = [
        {"name": "hi", "preset": "bce.video_hls_1280x720_1728kbps", "key": "hls/{stem}/{target}.{ext}"},
        {"name": "lo", "preset": "bce.video_hls_640x360_600kbps", "key": "hls/{stem}/{target}.{ext}"},
        {"name": "mp4", "preset": "bce.video_mp4_640x360_600kbps", "key": "hls/{stem}/{target}.{ext}"},
    ]
    hls_deps = make_deps(data, store=deps.store, mct=deps.mct)
    up = upload(hls_deps, key="incoming/movie.mp4")
    finish(hls_deps, up)
    bos.objects[("uploads", "hls/movie/lo.m3u8")] = "#EXTM3U\n#EXTINF:2.0,\nlo-00000.ts\n#EXT-X-ENDLIST\n"
    bos.objects[("uploads", "hls/movie/master.m3u8")] = (
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=700000\nlo.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=2000000\nhi.m3u8\n"
    )
    url = console()
    page = requests.get(f"{url}/uploads/{up.upload_id}", timeout=10).text
    assert 'id="abr-player"' in page and "hls/movie/master.m3u8" in page
    assert 'data-mp4="http://bos.test/uploads/hls/movie/mp4.mp4?authorization=' in page  # the fallback

    base = f"{url}/uploads/{up.upload_id}/playlist"
    master = requests.get(base, params={"key": "hls/movie/master.m3u8"}, timeout=10)
    assert master.status_code == 200 and master.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    assert f"/uploads/{up.upload_id}/playlist?key=hls%2Fmovie%2Flo.m3u8" in master.text
    variant = requests.get(base, params={"key": "hls/movie/lo.m3u8"}, timeout=10).text
    assert "http://bos.test/uploads/hls/movie/lo-00000.ts?authorization=" in variant and "#EXT-X-ENDLIST" in variant
    for other in ("hls/movie/mp4.mp4", "incoming/movie.mp4", "../secret.m3u8", "hls/movie/missing.m3u8"):
        assert requests.get(base, params={"key": other}, timeout=10).status_code == 404


def test_retry_delivery_posts_the_event_again_and_logs_the_attempt(world):
    deps, _, console, posted = world
    up = upload(deps)
    finish(deps, up)
    assert deps.store.get_delivery(up.upload_id).status == "FAILED" and len(posted) == 3
    url = console(token=TOKEN, actions=True)
    retry = requests.post(url + "/actions/deliver", data={"upload_id": up.upload_id, "token": TOKEN}, timeout=10)
    assert retry.status_code == 200 and "tried again and failed" in retry.text  # followed the redirect
    assert len(posted) == 6 and len(deps.store.delivery_attempts(up.upload_id)) == 6
    deps.post = lambda *a: 204
    retry = requests.post(url + "/actions/deliver", data={"upload_id": up.upload_id, "token": TOKEN}, timeout=10)
    assert "The done event was delivered." in retry.text and retry.text.count("<td>204</td>") == 1
