# ruff: noqa: E501  (tables of verbatim server messages read better unwrapped)
"""MCT v3 API over HTTP with Baidu's real MediaClient: every method round-trips, rules and error shapes.

The scheduler is not started here (jobs stay PENDING), so these tests need no ffmpeg.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import pytest
from baidubce.exception import BceHttpClientError, BceServerError

from localcloud.mct.system_presets import SYSTEM_PRESETS
from localcloud.mct.testing import running_mct

PRESET_720 = "bce.video_mp4_1280x720_2048kbps"


def tiny_png() -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"\x00\xff\x00\x00"  # one red pixel
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def mct(tmp_path):
    with running_mct(tmp_path, start=False, buckets=("src", "dst", "marks")) as running:
        running.service.storage.put("src", "in.mp4", b"pretend media")
        running.service.storage.put("src", "dir/a b.mp4", b"pretend media")
        yield running


@pytest.fixture
def client(mct):
    return mct.client


@dataclass
class ServerError:
    status_code: int
    code: str
    message: str
    request_id: str


def server_error(call, *args, **kwargs) -> ServerError:
    """The BceServerError the SDK raised (as ``e.last_error``), with its message as text."""
    with pytest.raises(BceHttpClientError) as info:
        call(*args, **kwargs)
    last = info.value.last_error
    assert isinstance(last, BceServerError), f"not a server error: {last!r}"
    assert last.request_id
    return ServerError(last.status_code, last.code, str(last), last.request_id)


# ----- pipelines -------------------------------------------------------------------------------------------------
def test_pipeline_round_trip(client):
    client.create_pipeline("p1", "src", "dst", description="first", pipeline_config={"capacity": 5})
    p = client.get_pipeline("p1")
    assert (p.pipeline_name, p.source_bucket, p.target_bucket, p.description) == ("p1", "src", "dst", "first")
    assert p.config.capacity == 5 and p.config.notification is None
    assert p.state == "ACTIVE" and p.create_time.endswith("Z")
    assert p.job_status.total == 0 and p.job_status.pending == 0
    assert [x.pipeline_name for x in client.list_pipelines().pipelines] == ["p1"]


def test_pipeline_defaults_and_update(client):
    client.create_pipeline("p1", "src", "dst")
    assert client.get_pipeline("p1").config.capacity == 20
    client.create_notification("n1", "http://127.0.0.1:9/cb")
    body = client.get_pipeline_for_update("p1")
    body.config.capacity = 7
    body.config.notification = "n1"
    body.description = "changed"
    client.update_pipeline("p1", body)  # the body carries an extra "metadata" object: ignored
    p = client.get_pipeline("p1")
    assert (p.config.capacity, p.config.notification, p.description) == (7, "n1", "changed")


def test_pipeline_validation_messages(client):
    err = server_error(client.create_pipeline, "P1", "src", "dst")
    assert err.message.startswith("pipelineName:pipelineName=must match")
    assert err.status_code == 400
    err = server_error(client.create_pipeline, "p1", "src", "dst", pipeline_config={"capacity": 0})
    assert err.message == "config.capacity:config.capacity=must be greater than or equal to 1"
    err = server_error(client.create_pipeline, "p1", "src", "dst", description="x" * 129)
    assert err.message == "description:description=size must be between 0 and 128"
    err = server_error(client.create_pipeline, "p1", "nobucket", "dst")
    assert err.message == "Bucket nobucket doesn't exist or isn't in bj region"
    client.create_pipeline("a" * 40, "src", "dst", pipeline_config={"capacity": 1})
    err = server_error(client.create_pipeline, "a" * 41, "src", "dst")
    assert "must match" in err.message
    err = server_error(client.get_pipeline, "nope")
    assert err.message == "The requested pipeline does not exist" and err.status_code == 404


def test_free_quota_is_100(client):
    client.create_pipeline("p1", "src", "dst", pipeline_config={"capacity": 60})
    err = server_error(client.create_pipeline, "p2", "src", "dst", pipeline_config={"capacity": 41})
    assert err.message == "total pipeline size exceed free quota:100, current used:60"
    client.create_pipeline("p2", "src", "dst", pipeline_config={"capacity": 40})


def test_pipeline_soft_delete(client):
    client.create_pipeline("p1", "src", "dst")
    client.delete_pipeline("p1")
    assert client.get_pipeline("p1").state == "INACTIVE"
    assert client.list_pipelines().pipelines == []
    err = server_error(
        client.create_job, "p1", {"sourceKey": "in.mp4"}, {"targetKey": "o.mp4", "presetName": PRESET_720}
    )
    assert err.message == "pipeline has been deleted"
    err = server_error(client.create_thumbnail_job, "p1", {"key": "in.mp4"})
    assert err.message == "pipeline has been deleted"


def test_delete_busy_pipeline_refused_and_deleted_pipeline_lists_jobs(client):
    client.create_pipeline("p1", "src", "dst")
    job_id = client.create_job("p1", {"sourceKey": "in.mp4"}, {"targetKey": "o.mp4", "presetName": PRESET_720}).job_id
    assert client.get_pipeline("p1").job_status.pending == 1
    err = server_error(client.delete_pipeline, "p1")
    assert err.message == "pipeline has pending/running jobs"
    assert [j.job_id for j in client.list_jobs("p1").jobs] == [job_id]


# ----- presets -------------------------------------------------------------------------------------------------
def test_system_presets_listed_and_readable(client):
    names = [p.preset_name for p in client.list_presets().presets]
    assert set(SYSTEM_PRESETS) <= set(names)
    for name in ("bce.video_mp4_1920x1080_3660kbps", "bce.video_flv_640x480_620kbps", "bce.audio_mp3_320kbps"):
        preset = client.get_preset(name)
        assert preset.state == "ACTIVE" and preset.preset_name == name
    containers = {SYSTEM_PRESETS[n]["container"] for n in SYSTEM_PRESETS}
    assert {"mp4", "flv", "hls", "mp3", "m4a", "a-hls"} <= containers
    err = server_error(client.delete_preset, "bce.audio_mp3_320kbps")
    assert err.status_code == 403


def test_preset_round_trip_update_and_soft_delete(client):
    client.create_preset(
        "my_preset", "mp4", audio={"bitRateInBps": 128000}, video={"codec": "h264", "bitRateInBps": 1024000}
    )
    p = client.get_preset("my_preset")
    assert (p.container, p.transmux, p.state) == ("mp4", False, "ACTIVE")
    assert p.video.bit_rate_in_bps == 1024000 and p.created_time.endswith("Z")
    body = client.get_preset_for_update("my_preset")
    body.description = "updated"
    body.video.maxWidthInPixel = 640
    client.update_preset("my_preset", body)  # re-sends state, createdTime and metadata: all accepted
    p = client.get_preset("my_preset")
    assert p.description == "updated" and p.video.max_width_in_pixel == 640
    client.create_pipeline("p1", "src", "dst")
    client.delete_preset("my_preset")
    assert client.get_preset("my_preset").state == "INACTIVE"
    assert "my_preset" not in [x.preset_name for x in client.list_presets().presets]
    err = server_error(client.create_job, "p1", {"sourceKey": "in.mp4"}, {"targetKey": "o", "presetName": "my_preset"})
    assert err.message == "preset has been deleted"
    err = server_error(client.create_job, "p1", {"sourceKey": "in.mp4"}, {"targetKey": "o", "presetName": "nope"})
    assert "preset does not exist" in err.message
    err = server_error(client.get_preset, "nope")
    assert err.message == "The requested preset does not exist"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"audio": {"bitRateInBps": 999}}, "audio.bitRateInBps:audio.bitRateInBps=must be greater than or equal to 1000"),
        ({"audio": {"bitRateInBps": 128000, "channels": 3}}, "audio.channels:audio.channels=must be less than or equal to 2"),
        ({"audio": {"channels": 2}}, "audio.bitRateInBps:audio.bitRateInBps=may not be null"),
        ({"audio": {"bitRateInBps": 128000, "sampleRateInHz": 12345}}, "audio.sampleRateInHz should in [22050, 32000"),
        ({"video": {"bitRateInBps": 1000}}, "video.bitRateInBps:video.bitRateInBps=must be greater than or equal to 32000"),
        ({"video": {"maxWidthInPixel": 4097}}, "video.maxWidthInPixel:video.maxWidthInPixel=must be less than or equal to 4096"),
        ({"video": {"maxHeightInPixel": 95}}, "video.maxHeightInPixel:video.maxHeightInPixel=must be greater than or equal to 96"),
        ({"video": {"maxFrameRate": 31}}, "video.maxFrameRate should in [10.0, 15.0"),
        ({"video": {"codecOptions": {"profile": "baseline1"}}}, "Could not read JSON"),
        ({"clip": {"durationInSecond": 0}, "audio": {"bitRateInBps": 128000}}, "clip.durationInSecond:clip.durationInSecond=must be greater than or equal to 1"),
        ({}, "video and audio cannot both be set to null when transmux equals false"),
        ({"transmux": True, "watermark_id": "wmk-x"}, "watermark is not supported in Transmux mode"),
        ({"encryption": {"aesKey": "abc"}, "audio": {"bitRateInBps": 128000}}, "encryption.strategy:encryption.strategy=may not be null"),
        ({"encryption": {"strategy": "Fixed", "aesKey": "abc"}, "audio": {"bitRateInBps": 128000}}, 'encryption.aesKey:encryption.aesKey=must match "[a-zA-Z0-9]{16}"'),
        ({"audio": {"bitRateInBps": 128000}, "watermark_id": "wmk-none"}, "watermark: wmk-none does not exist"),
    ],
)  # fmt: skip
def test_preset_validation_messages(client, kwargs, message):
    err = server_error(client.create_preset, "bad_preset", "mp4", **kwargs)
    assert err.message.startswith(message)
    assert err.status_code == 400 or "does not exist" in message


def test_preset_name_container_and_duplicates(client):
    err = server_error(client.create_preset, "Bad", "mp4", audio={"bitRateInBps": 128000})
    assert err.message.startswith("preset name must match pattern:[a-z][0-9a-z_]{0,39}")
    err = server_error(client.create_preset, "p_mkv", "mkv", audio={"bitRateInBps": 128000})
    assert err.message.startswith("Could not read JSON: Can not construct instance of") and "'mkv'" in err.message
    client.create_preset("dup", "mp3", audio={"bitRateInBps": 128000})
    err = server_error(client.create_preset, "dup", "mp3", audio={"bitRateInBps": 128000})
    assert err.message == "duplicated preset name:dup"


# ----- transcoding jobs ------------------------------------------------------------------------------------------
def test_job_create_get_list_filters(client):
    client.create_pipeline("p1", "src", "dst")
    client.create_pipeline("p2", "src", "dst")
    target = {"targetKey": "out/o.mp4", "presetName": PRESET_720}
    job_id = client.create_job("p1", {"sourceKey": "in.mp4"}, target).job_id
    assert job_id.startswith("job-") and len(job_id) == 20 and job_id[4:].isalnum() and job_id[4:].islower()
    other = client.create_job("p2", {"clips": [{"sourceKey": "dir/a b.mp4", "startTimeInSecond": 0}]}, target).job_id
    job = client.get_job(job_id)
    assert (job.job_id, job.pipeline_name, job.job_status) == (job_id, "p1", "PENDING")
    assert job.source.source_key == "in.mp4" and job.target.target_key == "out/o.mp4"
    assert job.create_time.endswith("Z")
    assert [j.job_id for j in client.list_jobs("p1").jobs] == [job_id]
    assert [j.job_id for j in client.list_jobs("p2", job_status="PENDING").jobs] == [other]
    assert client.list_jobs("p1", job_status="SUCCESS").jobs == []
    created = job.create_time
    assert [j.job_id for j in client.list_jobs("p1", begin=created, end=created).jobs] == [job_id]  # inclusive
    assert client.list_jobs("p1", begin="2999-01-01T00:00:00Z").jobs == []
    assert client.list_jobs("p1", end="2000-01-01T00:00:00Z").jobs == []
    err = server_error(client.list_jobs, "p1", begin="yesterday")
    assert "begin" in err.message and "yesterday" in err.message
    err = server_error(client.list_jobs, "nope")
    assert err.message == "The requested pipeline does not exist"


def test_job_errors(client):
    client.create_pipeline("p1", "src", "dst")
    target = {"targetKey": "o.mp4", "presetName": PRESET_720}
    err = server_error(client.create_job, "nope", {"sourceKey": "in.mp4"}, target)
    assert err.message == "The requested pipeline does not exist"
    err = server_error(client.create_job, "p1", {"sourceKey": "missing.mp4"}, target)
    assert err.message == "bos object: missing.mp4 does not exist"
    err = server_error(client.create_job, "p1", {"sourceKey": "in.mp4"}, {"presetName": PRESET_720})
    assert err.message == "target.targetKey:target.targetKey=may not be null"
    err = server_error(client.create_job, "p1", {"sourceKey": "in.mp4"}, {"targetKey": "o.mp4"})
    assert err.message == "target.presetName:target.presetName=may not be null"
    err = server_error(client.create_job, "p1", {}, target)
    assert err.message.startswith("source.sourceKey:source.sourceKey=may not be null")
    err = server_error(client.create_job, "p1", {"sourceKey": "in.mp4"}, {**target, "watermarkIds": ["wmk-nope"]})
    assert err.message == "watermark: wmk-nope does not exist"
    err = server_error(client.get_job, "job-doesnotexist00")
    assert err.message == "The requested job does not exist" and err.status_code == 404


def test_legacy_job_alias_and_unknown_fields(mct):
    import requests

    from localcloud import bce_auth
    from localcloud.defaults import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY

    mct.client.create_pipeline("p1", "src", "dst")
    body = (
        b'{"pipelineName": "p1", "source": {"sourceKey": "in.mp4"}, "unknownField": {"x": 1},'
        b' "target": {"targetKey": "o.mp4", "presetName": "%s"}}' % PRESET_720.encode()
    )
    host = mct.server.endpoint
    headers = {"Host": host, "Content-Type": "application/json", "Content-Length": str(len(body))}
    headers["Authorization"] = bce_auth.sign(
        DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, "POST", "/v3/job", headers={k.lower(): v for k, v in headers.items()}
    )
    response = requests.post(f"{mct.server.url}/v3/job", data=body, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    job_id = response.json()["jobId"]
    assert mct.client.get_job(job_id).job_status == "PENDING"


def test_encryption_key_endpoint(client):
    client.create_pipeline("p1", "src", "dst")
    client.create_preset(
        "enc_hls", "hls", audio={"bitRateInBps": 128000}, video={"bitRateInBps": 500000},
        encryption={"strategy": "PlayerBinding"},
    )  # fmt: skip
    client.create_preset(
        "fixed_hls", "hls", audio={"bitRateInBps": 128000}, encryption={"strategy": "Fixed", "aesKey": "A" * 16}
    )
    enc = client.create_job("p1", {"sourceKey": "in.mp4"}, {"targetKey": "o.m3u8", "presetName": "enc_hls"}).job_id
    key = client.get_transcoding_encryption_key(enc).encryption_key
    assert len(key) == 16 and key.isalnum()
    fixed = client.create_job("p1", {"sourceKey": "in.mp4"}, {"targetKey": "f.m3u8", "presetName": "fixed_hls"}).job_id
    assert client.get_transcoding_encryption_key(fixed).encryption_key == "A" * 16
    plain = client.create_job("p1", {"sourceKey": "in.mp4"}, {"targetKey": "o.mp4", "presetName": PRESET_720}).job_id
    assert server_error(client.get_transcoding_encryption_key, plain).status_code == 404


# ----- thumbnails ------------------------------------------------------------------------------------------------
def test_thumbnail_jobs(client):
    client.create_pipeline("p1", "src", "dst")
    job_id = client.create_thumbnail_job("p1", {"key": "in.mp4"}).job_id
    job = client.get_thumbnail_job(job_id)
    assert job.job_status == "PENDING" and job.source.key == "in.mp4"
    assert (job.target.format, job.target.width_in_pixel, job.target.height_in_pixel) == ("jpg", 600, 450)
    assert job.target.key_prefix == "in.mp4" and job.capture.mode == "auto"
    manual = client.create_thumbnail_job(
        "p1", {"key": "in.mp4"}, target={"format": "png", "keyPrefix": "thumbs/x", "sizingPolicy": "stretch"},
        capture={"mode": "manual", "startTimeInSecond": 0, "endTimeInSecond": 1, "intervalInSecond": 0.5},
    ).job_id  # fmt: skip
    ids = [j.job_id for j in client.list_thumbnail_jobs_by_pipeline("p1").thumbnails]
    assert ids == [job_id, manual]
    assert client.list_thumbnail_jobs_by_pipeline("p1", job_status="FAILED").thumbnails == []
    err = server_error(client.get_thumbnail_job, "job-nope")
    assert err.message == "The requested thumbnail does not exist"


@pytest.mark.parametrize(
    ("target", "capture", "message"),
    [
        ({"format": "giff"}, None, "Could not read JSON: Can not construct instance of com.baidu.bce.mct.model.target.Format from String value 'giff'"),
        ({"widthInPixel": 9}, None, "target.widthInPixel:target.widthInPixel=must be greater than or equal to 10"),
        ({"heightInPixel": 2001}, None, "target.heightInPixel:target.heightInPixel=must be less than or equal to 2000"),
        (None, {"mode": "manual"}, "start time is required in manual mode"),
        (None, {"mode": "manual", "startTimeInSecond": 5, "endTimeInSecond": 1}, "start time cannot larger than end time"),
        (None, {"mode": "auto", "startTimeInSecond": 1}, "cannot specify start time, end time, interval or frame number in auto mode"),
    ],
)  # fmt: skip
def test_thumbnail_validation(client, target, capture, message):
    client.create_pipeline("p1", "src", "dst")
    err = server_error(client.create_thumbnail_job, "p1", {"key": "in.mp4"}, target=target, capture=capture)
    assert err.message.startswith(message)


def test_thumbnail_missing_source(client):
    client.create_pipeline("p1", "src", "dst")
    err = server_error(client.create_thumbnail_job, "p1", {"key": "not_exist.mp4"})
    assert err.message == "bos object: not_exist.mp4 does not exist"


# ----- watermarks ------------------------------------------------------------------------------------------------
def test_watermark_round_trip(mct, client):
    mct.service.storage.put("marks", "logo.png", tiny_png())
    wid = client.create_watermark(
        "marks", "logo.png", vertical_offset_in_pixel=10, hori_offset_in_pixel=20
    ).watermark_id
    assert wid.startswith("wmk-") and len(wid) == 20
    mark = client.get_watermark(wid)
    assert (mark.bucket, mark.key, mark.vertical_offset_in_pixel, mark.horizontal_offset_in_pixel) == (
        "marks", "logo.png", 10, 20,
    )  # fmt: skip
    assert (mark.vertical_alignment, mark.horizontal_alignment) == ("top", "left")
    assert [m.watermark_id for m in client.list_watermarks().watermarks] == [wid]
    client.create_pipeline("p1", "src", "dst")
    target = {"targetKey": "o.mp4", "presetName": PRESET_720, "watermarkIds": [wid]}
    assert client.create_job("p1", {"sourceKey": "in.mp4"}, target).job_id
    client.delete_watermark(wid)
    assert client.list_watermarks().watermarks == []
    assert server_error(client.get_watermark, wid).message == f"watermark: {wid} does not exist"


def test_watermark_validation(mct, client):
    mct.service.storage.put("marks", "logo.png", tiny_png())
    mct.service.storage.put("marks", "notes.txt", b"hello")
    err = server_error(
        client.create_watermark, "marks", "logo.png", vertical_offset_in_pixel=-1, hori_offset_in_pixel=0
    )
    assert err.message == "verticalOffsetInPixel:verticalOffsetInPixel=must be greater than or equal to 0"
    err = server_error(
        client.create_watermark, "marks", "logo.png", vertical_offset_in_pixel=0, hori_offset_in_pixel=4097
    )
    assert err.message == "horizontalOffsetInPixel:horizontalOffsetInPixel=must be less than or equal to 4096"
    err = server_error(
        client.create_watermark, "marks", "logo.png", horizontal_alignment="middle", vertical_offset_in_pixel=0,
        hori_offset_in_pixel=0,
    )  # fmt: skip
    assert "value not one of declared Enum instance names: [left, center, right]" in err.message
    err = server_error(
        client.create_watermark, "marks", "notes.txt", vertical_offset_in_pixel=0, hori_offset_in_pixel=0
    )
    assert err.message.startswith("invalid watermark format, only")
    err = server_error(client.create_watermark, "marks", "gone.png", vertical_offset_in_pixel=0, hori_offset_in_pixel=0)
    assert err.message == "bos object: gone.png does not exist"
    err = server_error(client.create_watermark, "nomarks", "x.png", vertical_offset_in_pixel=0, hori_offset_in_pixel=0)
    assert err.message == "Bucket nomarks doesn't exist or isn't in bj region"


# ----- notifications ---------------------------------------------------------------------------------------------
def test_notifications(client):
    client.create_notification("n1", "http://127.0.0.1:9/cb")
    n = client.get_notification("n1")
    assert (n.name, n.endpoint) == ("n1", "http://127.0.0.1:9/cb")
    assert [x.name for x in client.list_notifications().notifications] == ["n1"]
    err = server_error(client.create_notification, "n1", "http://127.0.0.1:9/other")
    assert "duplicated" in err.message
    err = server_error(client.create_notification, "n2", "ftp://x")
    assert "endpoint" in err.message and "ftp://x" in err.message
    client.create_pipeline("p1", "src", "dst", pipeline_config={"notification": "n1"})
    err = server_error(client.delete_notification, "n1")
    assert "p1" in err.message
    client.delete_pipeline("p1")
    client.delete_notification("n1")
    assert client.list_notifications().notifications == []
    err = server_error(client.create_pipeline, "p2", "src", "dst", pipeline_config={"notification": "n1"})
    assert err.message == "notification: n1 does not exist"


# ----- media info ------------------------------------------------------------------------------------------------
def test_mediainfo_errors(client):
    err = server_error(client.get_mediainfo_of_file, "src", "in.mp4")  # not media
    assert (err.status_code, err.code) == (400, "MetaInfoExceptions.GetMediaInfoFailed")
    assert err.message == "Get media info failed with errno: 1001"
    err = server_error(client.get_mediainfo_of_file, "src", "not_exist.mp4")
    assert err.message == "bos object: not_exist.mp4 does not exist"
    err = server_error(client.get_mediainfo_of_file, "nobucket", "x.mp4")
    assert err.message == "Bucket nobucket doesn't exist or isn't in bj region"


def test_list_jobs_without_pipeline_name_like_go_sdk(mct, client):
    from localcloud.mct.testing import signed_request

    client.create_pipeline("p1", "src", "dst")
    client.create_pipeline("p2", "src", "dst")
    target = {"targetKey": "o.mp4", "presetName": PRESET_720}
    ids = [client.create_job(p, {"sourceKey": "in.mp4"}, target).job_id for p in ("p1", "p2")]
    response = signed_request(mct.server.url, "GET", "/v3/job/transcoding")
    assert response.status_code == 200
    assert [j["jobId"] for j in response.json()["jobs"]] == ids
