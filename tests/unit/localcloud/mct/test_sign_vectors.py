"""localcloud MCT's SIGN implementation against the fixed vectors the receiver's verifier is checked against too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from localcloud.mct.notification_sign import sign_notification, verify_notification

ROOT = Path(__file__).resolve().parents[4]
VECTORS = json.loads((ROOT / "tests" / "fixtures" / "sign_vectors.json").read_text(encoding="utf-8"))["vectors"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_localcloud_signs_each_vector(vector):
    args = (vector["token"], vector["endpoint"], vector["body"], vector["expire"], vector["user"])
    assert sign_notification(*args) == vector["signature"]
    assert verify_notification(*args, vector["signature"])
    assert not verify_notification(*args[:2], vector["body"] + " ", *args[3:], vector["signature"])


def test_signed_sample_event_is_one_of_the_vectors():
    event = json.loads((ROOT / "events" / "callback_signed.json").read_text(encoding="utf-8"))
    headers = event["headers"]
    vector = next(v for v in VECTORS if v["body"] == event["body"])
    assert headers["Notification-Auth-Token"] == vector["signature"]
    assert (headers["Notification-Auth-Expire"], headers["Notification-Auth-User"]) == (
        vector["expire"],
        vector["user"],
    )
    assert (headers["User-Agent"], headers["Content-Type"]) == ("AHC/2.0", "application/json;charset=UTF-8")
