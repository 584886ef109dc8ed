"""MCT request validation rules and the notification SIGN helper (pure functions)."""

from __future__ import annotations

import pytest

from localcloud.bce_auth import format_timestamp
from localcloud.mct import rules
from localcloud.mct.exceptions import InvalidArgument, MalformedJson
from localcloud.mct.models import new_id
from localcloud.mct.notification_sign import sign_headers, sign_notification, verify_notification
from localcloud.mct.system_presets import SYSTEM_PRESETS


def test_ids_and_times():
    job_id = new_id("job-")
    assert len(job_id) == 20 and job_id[4:].isalnum() and job_id[4:] == job_id[4:].lower()
    assert format_timestamp(0) == "1970-01-01T00:00:00Z"  # the one bce time helper localcloud MCT uses


def test_pipeline_defaults_and_unknown_fields_dropped():
    p = rules.check_pipeline({"pipelineName": "p1", "sourceBucket": "a", "targetBucket": "b", "metadata": {"x": 1}})
    assert p == {"pipelineName": "p1", "description": "", "sourceBucket": "a", "targetBucket": "b",
                 "config": {"capacity": 20, "notification": None}}  # fmt: skip


@pytest.mark.parametrize("name", ["a", "a" * 40, "p_1", "x9"])
def test_good_names(name):
    assert rules.check_pipeline({"pipelineName": name, "sourceBucket": "a", "targetBucket": "b"})


@pytest.mark.parametrize("name", ["", "1p", "P", "a" * 41, "a-b", "a.b"])
def test_bad_names(name):
    with pytest.raises(InvalidArgument):
        rules.check_pipeline({"pipelineName": name, "sourceBucket": "a", "targetBucket": "b"})


def test_type_errors_name_field_and_value():
    with pytest.raises(MalformedJson) as info:
        rules.check_preset({"presetName": "p", "container": "mp4", "audio": {"bitRateInBps": "fast"}})
    assert "audio.bitRateInBps" in info.value.message and "'fast'" in info.value.message


def test_preset_keeps_only_known_fields():
    preset = rules.check_preset({"presetName": "p", "container": "mp3", "audio": {"bitRateInBps": 128000},
                                 "state": "ACTIVE", "createdTime": "x", "metadata": {}})  # fmt: skip
    assert set(preset) == {"presetName", "description", "container", "transmux", "audio"}


def test_pcm_and_muted_audio_need_no_bitrate():
    rules.check_preset({"presetName": "p", "container": "pcm", "audio": {"pcmFormat": "s16le"}})
    rules.check_preset({"presetName": "p", "container": "mp4", "audio": {"volumeAdjust": {"mute": True}}})


@pytest.mark.parametrize("name", sorted(SYSTEM_PRESETS))
def test_system_presets_pass_the_user_rules(name):
    body = dict(SYSTEM_PRESETS[name], presetName="copy_of_system")
    assert rules.check_preset(body)["container"] == SYSTEM_PRESETS[name]["container"]


def test_thumbnail_defaults():
    _, _, target, capture = rules.check_thumbnail_job({"pipelineName": "p", "source": {"key": "k"}})
    assert target == {"format": "jpg", "sizingPolicy": "keep", "widthInPixel": 600, "heightInPixel": 450}
    assert capture == {"mode": "auto"}
    with pytest.raises(InvalidArgument):
        rules.check_thumbnail_job({"pipelineName": "p", "source": {"key": "k"}, "capture": {"mode": "split"}})


def test_list_filters():
    assert rules.check_time("2015-06-01T00:00:00Z", "begin") == "2015-06-01T00:00:00Z"
    with pytest.raises(InvalidArgument):
        rules.check_time("2015-06-01", "begin")
    with pytest.raises(InvalidArgument):
        rules.check_job_status("DONE")


def test_sign_round_trip():
    content = '{"messageBody":"{}"}'
    headers = sign_headers("tok", "http://h/cb", content, now=1000)
    expire, user, token = (headers[k] for k in ("Notification-Auth-Expire", "Notification-Auth-User",
                                                 "Notification-Auth-Token"))  # fmt: skip
    assert token == sign_notification("tok", "http://h/cb", content, expire, user)
    assert int(expire) > 1000 * 1000  # milliseconds
    assert verify_notification("tok", "http://h/cb", content, expire, user, token)
    assert not verify_notification("tok", "http://h/other", content, expire, user, token)
    assert not verify_notification("tok", "http://h/cb", content, str(int(expire) + 1), user, token)
