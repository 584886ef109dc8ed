import pytest
from baidubce.auth import bce_v1_signer
from baidubce.auth.bce_credentials import BceCredentials

from localcloud import bce_auth

# Test vector from reference mct-api.md §7 (computed there with the SDK's own signer).
VECTOR_HEADERS = {
    "host": "media.bj.baidubce.com",
    "content-length": "0",
    "content-type": "application/json; charset=utf-8",
    "x-bce-date": "2015-03-24T13:04:26Z",
}
VECTOR_PARAMS = [("pipelineName", "p1"), ("begin", "2015-01-01T00:00:00Z")]
VECTOR_AUTH = (
    "bce-auth-v1/ak/2015-03-24T13:04:26Z/1800//93b72e4b04b4411f6613602567e63d87d902cb336efbaac1b4054b666148846a"
)
TS = 1427202266


def test_sign_matches_reference_vector():
    got = bce_auth.sign("ak", "sk", "GET", "/v3/job/transcoding", VECTOR_PARAMS, VECTOR_HEADERS, timestamp=TS)
    assert got == VECTOR_AUTH


def test_verify_accepts_reference_vector():
    result = bce_auth.verify(
        VECTOR_AUTH, "GET", "/v3/job/transcoding", VECTOR_PARAMS, VECTOR_HEADERS, {"ak": "sk"}, now=TS + 10
    )
    assert result.access_key == "ak"


@pytest.mark.parametrize("path", ["/v1/bucket/dir/a b.mp4", "/v1/bucket/视频/clip#1@$%^()&.mp4"])
def test_matches_sdk_signer_for_unicode_and_odd_keys(path):
    from baidubce import utils

    headers = {
        "host": "127.0.0.1:8080",
        "content-length": "5",
        "x-bce-date": "2026-11-23T10:00:00Z",
        "x-bce-meta-owner": "Zoë",
    }
    params = {"partNumber": "1", "uploadId": "a/b+c"}
    sdk = bce_v1_signer.sign(
        BceCredentials("ak", "sk"),
        b"PUT",
        utils.normalize_string(path, False),
        {k.encode(): v.encode() for k, v in headers.items()},
        {k.encode(): v.encode() for k, v in params.items()},
        timestamp=TS,
    ).decode()
    ours = bce_auth.sign("ak", "sk", "PUT", path, params.items(), headers, timestamp=TS)
    assert ours == sdk
    bce_auth.verify(sdk, "PUT", path, params.items(), headers, {"ak": "sk"}, now=TS)


def test_explicit_signed_headers_only_cover_those_headers():
    headers = {"host": "h", "x-bce-date": "2026-01-01T00:00:00Z", "x-bce-other": "1"}
    auth = bce_auth.sign(
        "ak", "sk", "GET", "/v3/pipeline", (), headers, timestamp=TS, signed_headers=["host", "x-bce-date"]
    )
    assert auth.split("/")[4] == "host;x-bce-date"
    # a header outside the signed list may change without breaking the signature
    changed = dict(headers, **{"x-bce-other": "2"})
    bce_auth.verify(auth, "GET", "/v3/pipeline", (), changed, {"ak": "sk"}, now=TS)


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda a: a.replace("bce-auth-v1", "bce-auth-v2"), "InvalidHTTPAuthHeader"),
        (lambda a: a.replace("/ak/", "/nobody/"), "InvalidAccessKeyId"),
        (lambda a: a[:-4] + "0000", "SignatureDoesNotMatch"),
        (lambda a: "garbage", "InvalidHTTPAuthHeader"),
        (lambda a: "", "AccessDenied"),
    ],
)
def test_verify_rejects_bad_authorization(mutate, code):
    with pytest.raises(bce_auth.AuthError) as err:
        bce_auth.verify(
            mutate(VECTOR_AUTH),
            "GET",
            "/v3/job/transcoding",
            VECTOR_PARAMS,
            VECTOR_HEADERS,
            {"ak": "sk"},
            now=TS,
        )
    assert err.value.code == code


def test_verify_rejects_expired_and_tampered_requests():
    with pytest.raises(bce_auth.AuthError) as err:
        bce_auth.verify(
            VECTOR_AUTH,
            "GET",
            "/v3/job/transcoding",
            VECTOR_PARAMS,
            VECTOR_HEADERS,
            {"ak": "sk"},
            now=TS + 1801,
        )
    assert err.value.code == "RequestExpired"
    with pytest.raises(bce_auth.AuthError) as err:
        bce_auth.verify(
            VECTOR_AUTH,
            "GET",
            "/v3/job/transcoding",
            [("pipelineName", "p2")],
            VECTOR_HEADERS,
            {"ak": "sk"},
            now=TS,
        )
    assert err.value.code == "SignatureDoesNotMatch"
