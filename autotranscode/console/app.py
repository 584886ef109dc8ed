"""The console's ASGI app: server-rendered pages (Jinja2, autoescaped) over the store, MCT and BOS.

Read-only unless started with actions enabled; every action also needs the console token. Media goes straight
from BOS to the browser through pre-signed URLs; only HLS playlists pass through here (their relative URIs are
rewritten into pre-signed ones, since a signature covers one object).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from autotranscode.console import hls, views
from autotranscode.console.sources import Sources

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
HLS_PLAYER = STATIC / "vendor" / "hls.min.js"  # installed by `make console-player`; optional
SESSION_COOKIE = "autotranscode_console"
LIST_LIMIT = 100
ACTIONS_DISABLED = (
    "Actions are disabled: this console was started read-only (start it with --actions and "
    "AUTOTRANSCODE_CONSOLE_TOKEN)."
)
# Fixed texts for the notice after an action (never echo request input into a page).
NOTICES = {
    "redriven": "The job was submitted again; the done event is sent again when it finishes.",
    "redrive-skipped": "Nothing to redrive: the job is not FAILED or SUBMIT_FAILED (any more).",
    "delivered": "The done event was delivered.",
    "delivery-failed": "The delivery was tried again and failed; see the attempts below.",
    "no-delivery": "Nothing to deliver: no downstream is configured or the upload is not done.",
    "swept": "Sweep finished.",
}


@dataclass(frozen=True)
class ConsoleSettings:
    token: str | None = None  # the console token (from the environment, never from a page)
    actions: bool = False  # started with --actions
    tokens_for_reads: bool = False  # bound beyond loopback: every page needs the token too


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_settings(host: str, token: str | None, actions: bool) -> str | None:
    """A readable reason the console must not start this way, or None."""
    if actions and not token:
        return "--actions needs a console token: set AUTOTRANSCODE_CONSOLE_TOKEN (any long random string)"
    if not is_loopback(host) and not token:
        return (
            f"--host {host} makes the console reachable from other machines: set AUTOTRANSCODE_CONSOLE_TOKEN "
            "(pages then ask for it), or keep the default --host 127.0.0.1"
        )
    return None


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison of any text (compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _session_value(token: str) -> str:
    """What the login cookie holds: derived from the token, so the cookie is not the token itself."""
    return hmac.new(token.encode(), b"autotranscode-console-session", hashlib.sha256).hexdigest()


def build_app(sources: Sources, settings: ConsoleSettings) -> Starlette:
    store, media = sources.deps.store, sources.media
    # Autoescape everywhere: every key, error text and event is data, never markup.
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True)
    templates = Jinja2Templates(env=env)
    env.globals.update(
        actions=settings.actions,
        hls_player=HLS_PLAYER.is_file(),
        media_url=media.url,
        fmt_time=lambda dt: dt.strftime("%Y-%m-%d %H:%M:%S") if isinstance(dt, datetime) else (dt or ""),
        since=views.duration,
        pretty=_pretty,
    )
    csp = (
        f"default-src 'self'; img-src 'self' {media.origin} data:; media-src 'self' {media.origin} blob:; "
        f"connect-src 'self' {media.origin}; worker-src 'self' blob:; script-src 'self'; style-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )

    def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        return templates.TemplateResponse(request, name, context, status_code=status)

    def token_ok(given: str | None) -> bool:
        return bool(settings.token) and given is not None and _same(given, settings.token or "")

    def bearer(request: Request) -> str | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return value if scheme.lower() == "bearer" and value else None

    # --- list ---------------------------------------------------------------------------------------------------
    def upload_rows(params) -> tuple[list[views.UploadRow], str | None]:
        from autotranscode.commands.jobs import parse_since
        from handlers.domain.clock import utcnow

        status_filter = params.get("status", "")
        if status_filter not in views.UPLOAD_FILTERS:
            return [], f"status must be one of {', '.join(repr(s) for s in views.UPLOAD_FILTERS if s)}"
        try:
            since = parse_since(params.get("since", "").strip() or None, utcnow())
        except ValueError as exc:
            return [], f"since {exc}"
        store_status, must = views.UPLOAD_FILTERS[status_filter]
        uploads = store.list_uploads(
            status=store_status, since=since, bucket=params.get("bucket", "").strip() or None,
            key_prefix=params.get("prefix", "") or None, limit=LIST_LIMIT * (4 if must else 1),
        )  # fmt: skip
        rows = [views.upload_row(u, store.jobs_for_upload(u.upload_id)) for u in uploads]
        return [r for r in rows if views.wanted(r, status_filter)][:LIST_LIMIT], None

    def index(request: Request) -> Response:
        params = request.query_params
        rows, error = upload_rows(params)
        filters = {name: params.get(name, "") for name in ("status", "bucket", "prefix", "since")}
        return page(request, "uploads.html", {
            "rows": rows, "error": error, "filters": filters, "statuses": list(views.UPLOAD_FILTERS),
            "query": urlencode({k: v for k, v in filters.items() if v}),
            "notice": NOTICES.get(params.get("notice", "")),
        }, status=400 if error else 200)  # fmt: skip

    def rows_fragment(request: Request) -> Response:
        rows, error = upload_rows(request.query_params)
        return page(request, "_upload_rows.html", {"rows": rows, "error": error}, status=400 if error else 200)

    # --- one upload ---------------------------------------------------------------------------------------------
    def load_upload(upload_id: str):
        upload = store.get_upload(upload_id)
        if upload is None:
            return None, []
        return upload, store.jobs_for_upload(upload_id)

    def upload_page(request: Request) -> Response:
        upload, jobs = load_upload(request.path_params["upload_id"])
        if upload is None:
            return page(request, "missing.html", {}, status=404)
        rows = [views.job_row(j, upload) for j in jobs]
        attempts = store.delivery_attempts(upload.upload_id)
        delivery = store.get_delivery(upload.upload_id)
        mediainfo, mediainfo_error = source_mediainfo(upload)
        master = hls.find_master(upload, rows, [a.event for a in attempts], media)
        mp4_fallback = next((r for r in sorted(rows, key=_by_height) if r.playable and r.is_video), None)
        return page(request, "upload.html", {
            "upload": upload, "summary": views.upload_row(upload, jobs), "jobs": rows, "attempts": attempts,
            "delivery": delivery, "event": attempts[-1].event if attempts else None,
            "mediainfo": mediainfo, "mediainfo_error": mediainfo_error, "master": master,
            "mp4_fallback": mp4_fallback, "notice": NOTICES.get(request.query_params.get("notice", "")),
            "failed_statuses": ("FAILED", "SUBMIT_FAILED"),
        })  # fmt: skip

    mediainfo_cache: dict[str, dict] = {}

    def source_mediainfo(upload) -> tuple[dict | None, str | None]:
        if upload.upload_id in mediainfo_cache:  # an upload id names one (bucket, key, etag): it never changes
            return mediainfo_cache[upload.upload_id], None
        try:
            info = sources.deps.mct.get_mediainfo(upload.bucket, upload.key)
        except Exception as exc:  # the page still shows everything else
            return None, f"{type(exc).__name__}: {exc}"
        if len(mediainfo_cache) > 1000:
            mediainfo_cache.clear()
        mediainfo_cache[upload.upload_id] = info
        return info, None

    def upload_state(request: Request) -> Response:
        upload, jobs = load_upload(request.path_params["upload_id"])
        if upload is None:
            return JSONResponse({"error": "no such upload"}, status_code=404)
        return JSONResponse({"status": upload.status, "jobs": sorted(f"{j.target}:{j.status}" for j in jobs)})

    def playlist(request: Request) -> Response:
        """An HLS playlist of this upload (the master or one rendition) with its URIs made fetchable."""
        upload, jobs = load_upload(request.path_params["upload_id"])
        key = request.query_params.get("key", "")
        if upload is None:
            return Response("no such upload\n", 404, media_type="text/plain")
        rows = [views.job_row(j, upload) for j in jobs]
        attempts = store.delivery_attempts(upload.upload_id)
        allowed = hls.playlists_of(upload, rows, [a.event for a in attempts])
        if key not in allowed:
            return Response("not a playlist of this upload\n", 404, media_type="text/plain")
        bucket = allowed[key]
        text = media.read_text(bucket, key)
        if text is None:
            return Response("playlist not found in BOS\n", 404, media_type="text/plain")

        def link(uri_key: str) -> str:
            if uri_key in allowed:
                return f"/uploads/{quote(upload.upload_id)}/playlist?" + urlencode({"key": uri_key})
            return media.url(bucket, uri_key)

        body = hls.rewrite_playlist(text, key, link)
        return Response(body, media_type="application/vnd.apple.mpegurl", headers={"cache-control": "no-store"})

    # --- actions ------------------------------------------------------------------------------------------------
    async def action(request: Request) -> Response:
        if not settings.actions:
            return page(request, "refused.html", {"reason": ACTIONS_DISABLED}, status=403)
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        if not token_ok(form.get("token") or bearer(request)):
            return page(request, "refused.html", {"reason": "Refused: the console token is missing or wrong."},
                        status=403)  # fmt: skip
        name = request.path_params["name"]
        if name == "redrive":
            upload_id, notice = await run_in_threadpool(_redrive, sources.deps, form.get("claim_id", ""))
        elif name == "deliver":
            upload_id = form.get("upload_id", "")
            notice = await run_in_threadpool(_deliver, sources.deps, upload_id)
        elif name == "sweep":
            upload_id, notice = None, await run_in_threadpool(_sweep, sources.deps)
        else:
            return page(request, "refused.html", {"reason": "No such action."}, status=404)
        if notice is None:
            return page(request, "missing.html", {}, status=404)
        target = f"/uploads/{quote(upload_id)}" if upload_id else "/"
        return RedirectResponse(f"{target}?notice={notice}", status_code=303)

    # --- login (only when bound beyond loopback) ----------------------------------------------------------------
    async def login(request: Request) -> Response:
        if request.method == "GET":
            return page(request, "login.html", {"wrong": False})
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        if not token_ok(form.get("token")):
            return page(request, "login.html", {"wrong": True}, status=401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(SESSION_COOKIE, _session_value(settings.token or ""), httponly=True, samesite="strict")
        return response

    routes = [
        Route("/", index),
        Route("/uploads/rows", rows_fragment),
        Route("/uploads/{upload_id}", upload_page),
        Route("/uploads/{upload_id}/state", upload_state),
        Route("/uploads/{upload_id}/playlist", playlist),
        Route("/actions/{name}", action, methods=["POST"]),
        Route("/login", login, methods=["GET", "POST"]),
        Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
    ]

    async def guard(request: Request, call_next):
        if settings.tokens_for_reads and request.url.path != "/login":
            cookie = request.cookies.get(SESSION_COOKIE, "")
            signed_in = bool(settings.token) and _same(cookie, _session_value(settings.token))
            if not (signed_in or token_ok(bearer(request))):
                if request.url.path.startswith("/actions/"):
                    return page(request, "refused.html", {"reason": "Refused: sign in with the console token."},
                                status=403)  # fmt: skip
                return RedirectResponse("/login", status_code=303)
        response = await call_next(request)
        response.headers["content-security-policy"] = csp
        response.headers["x-content-type-options"] = "nosniff"
        response.headers["referrer-policy"] = "no-referrer"  # pre-signed URLs stay out of Referer headers
        return response

    return Starlette(routes=routes, middleware=[Middleware(BaseHTTPMiddleware, dispatch=guard)])


def _pretty(value: Any) -> str:
    """JSON (a document or its text) indented for reading; text that is not JSON as it is."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def _by_height(row: views.JobRow) -> int:
    return -(row.height or 0)


def _redrive(deps, claim_id: str) -> tuple[str | None, str | None]:
    from handlers.services.redrive import redrive

    job = deps.store.get_claim(claim_id)
    if job is None:
        return None, None
    [result] = redrive(deps, [job])
    return job.upload_id, "redriven" if "previous_job_id" in result else "redrive-skipped"


def _deliver(deps, upload_id: str) -> str | None:
    from handlers.domain.statuses import DELIVERY_DELIVERED, UPLOAD_DONE
    from handlers.services import completion

    upload = deps.store.get_upload(upload_id)
    if upload is None:
        return None
    if deps.config.downstream is None or upload.status != UPLOAD_DONE or deps.store.get_delivery(upload_id) is None:
        return "no-delivery"
    delivery = completion.deliver(deps, upload_id)
    return "delivered" if delivery is not None and delivery.status == DELIVERY_DELIVERED else "delivery-failed"


def _sweep(deps) -> str:
    from datetime import timedelta

    from handlers.services.reconcile import reconcile

    reconcile(deps, stale_after=timedelta(0))  # "now": every job still in flight is read from MCT
    return "swept"
