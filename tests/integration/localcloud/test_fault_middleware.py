import requests

from localcloud.bce_http import BceMiddleware
from localcloud.faults import FaultConfig, FaultInjectionMiddleware
from localcloud.serve import serve_in_thread


async def ok_app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


def test_injected_errors_carry_the_bce_error_shape_and_request_id():
    faults = FaultConfig.parse("api_error_rate=1,api_error_kinds=503|throttle,seed=3")
    server = serve_in_thread(BceMiddleware(FaultInjectionMiddleware(ok_app, faults), credentials=None))
    try:
        seen = set()
        for _ in range(20):
            resp = requests.get(server.url + "/v3/pipeline", timeout=5)
            body = resp.json()
            assert set(body) == {"requestId", "code", "message"}
            assert body["requestId"] == resp.headers["x-bce-request-id"]
            seen.add((resp.status_code, body["code"]))
        assert seen == {(503, "ServiceUnavailable"), (429, "RequestRateLimitExceeded")}
    finally:
        server.stop()


def test_without_faults_requests_pass_through():
    server = serve_in_thread(BceMiddleware(FaultInjectionMiddleware(ok_app, FaultConfig()), credentials=None))
    try:
        resp = requests.get(server.url + "/anything", timeout=5)
        assert resp.status_code == 200 and resp.text == "ok" and resp.headers["x-bce-request-id"]
    finally:
        server.stop()
