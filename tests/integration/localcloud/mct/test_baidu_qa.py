# ruff: noqa: E501  (verbatim server messages and source names read better unwrapped)
"""localcloud MCT behaves like the real service where Baidu's own integration tests show it.

Baidu's Python SDK suite (repo baidubce/bce-sdk-python, test/media/qa_test/*.py, run against the real MCT) asserts
real server behaviour; each test here replays one or more of its cases with the real ``MediaClient`` and names the
source as ``<file>::<case>``. The list of differences it found is reference mct-api.md, "Corrections".
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from baidubce.exception import BceHttpClientError, BceServerError

from localcloud.ffmpeg import ffmpeg_path
from localcloud.mct.testing import running_mct, wait_for_job

BUCKET = "testmctjjm"  # Baidu's suite uses one bucket for sources, outputs and watermark images (mediaBase.py)
PRESET = "bce.video_mp4_640x360_600kbps"


def server_message(call, *args, **kwargs) -> str:
    """The message of the BceServerError the SDK raised (Baidu's cases read ``e.last_error.message``)."""
    with pytest.raises(BceHttpClientError) as info:
        call(*args, **kwargs)
    assert isinstance(info.value.last_error, BceServerError), repr(info.value.last_error)
    return str(info.value.last_error)


def image(path: Path, pix_fmt: str = "rgb24", color: str = "red") -> bytes:
    """A 16x16 picture of one colour in the format of ``path``'s suffix, written by ffmpeg."""
    subprocess.run(
        [ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"color={color}:s=16x16",
         "-frames:v", "1", "-pix_fmt", pix_fmt, str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """Sample files as Baidu's bucket holds them: a video and watermark images."""
    from localcloud.samples import make_sample_clip

    folder = tmp_path_factory.mktemp("baidu_qa")
    return {
        "10s.mp4": make_sample_clip(folder / "clip.mp4", seconds=1, width=320, height=240).read_bytes(),
        "120X90.jpg": image(folder / "mark.jpg", "yuvj420p"),
        "pic/水印图片.png": image(folder / "mark.png"),
        "水印图片.tif": image(folder / "mark.tif"),
        "logo2.pbm": image(folder / "mark.pbm", "monob", "white"),  # PBM is black and white
        "watermark/testpic.txt": b"this is not a picture\n",
    }


@pytest.fixture
def api(tmp_path, media):
    """The API alone (no scheduler: jobs stay PENDING)."""
    with running_mct(tmp_path, start=False, buckets=(BUCKET,)) as running:
        for key, data in media.items():
            running.service.storage.put(BUCKET, key, data)
        yield running


@pytest.fixture
def stack(tmp_path, media):
    """API, scheduler and ffmpeg engine: jobs really run."""
    with running_mct(tmp_path, buckets=(BUCKET,)) as running:
        for key, data in media.items():
            running.service.storage.put(BUCKET, key, data)
        running.service.storage.put(BUCKET, "media/info/jobtest.mp4", media["10s.mp4"])
        yield running


# ----- names are reusable after delete; deleting twice ----------------------------------------------------------
def test_pipeline_name_reusable_after_delete_and_second_delete_does_not_exist(api):
    """test_delete_pipeline.py::setUp (creates the fixed name 'test_deletepipe' in every case),
    ::test_delete_pipeline_repeated, test_query_pipeline.py::test_query_pipeline_is_deleted."""
    client, name = api.client, "test_deletepipe"
    client.create_pipeline(name, BUCKET, BUCKET)
    client.delete_pipeline(name)
    assert client.get_pipeline(name).state == "INACTIVE"
    assert server_message(client.delete_pipeline, name).startswith("The requested pipeline does not exist")
    client.create_pipeline(name, BUCKET, BUCKET, pipeline_config={"capacity": 3})  # the next case's setUp
    pipeline = client.get_pipeline(name)
    assert (pipeline.state, pipeline.config.capacity) == ("ACTIVE", 3)
    assert [p.pipeline_name for p in client.list_pipelines().pipelines] == [name]
    assert server_message(client.create_pipeline, name, BUCKET, BUCKET).startswith("duplicated pipeline name")


def test_preset_name_reusable_after_delete_and_second_delete_does_not_exist(api):
    """test_delete_preset.py::setUp (creates the fixed name 'test_deletepreset'), ::test_delete_preset_repeated,
    test_query_preset.py::test_query_preset_deleted."""
    client, name = api.client, "test_deletepreset"
    client.create_preset(name, "mp4", True)
    client.delete_preset(name)
    preset = client.get_preset(name)
    assert (preset.state, preset.preset_name) == ("INACTIVE", name)
    assert server_message(client.delete_preset, name).startswith("The requested preset does not exist")
    client.create_preset(name, "mp3", audio={"bitRateInBps": 64000})
    preset = client.get_preset(name)
    assert (preset.state, preset.container) == ("ACTIVE", "mp3")
    assert server_message(client.create_preset, name, "mp4", True).startswith("duplicated preset name:")


def test_deleted_then_recreated_preset_serves_new_jobs(api):
    """test_create_transcoding.py::setUp creates the same preset name for every case and tearDown deletes it."""
    client = api.client
    client.create_pipeline("test_createjob", BUCKET, BUCKET)
    client.create_preset("test_createjob_preset", "mp4", True)
    client.delete_preset("test_createjob_preset")
    target = {"targetKey": "job_test_result.mp4", "presetName": "test_createjob_preset"}
    assert (
        server_message(client.create_job, "test_createjob", {"sourceKey": "10s.mp4"}, target)
        == "preset has been deleted"
    )
    client.create_preset("test_createjob_preset", "mp4", True)
    assert client.create_job("test_createjob", {"sourceKey": "10s.mp4"}, target).job_id.startswith("job-")


# ----- quota ------------------------------------------------------------------------------------------------------
def test_quota_message_names_current_use(api):
    """test_create_pipeline.py::test_create_pipeline_capacityIs_more100 and ::test_create_pipeline_capacityIs100
    (the latter reads the number after the last ':' and creates exactly the capacity that is left)."""
    client = api.client
    client.create_pipeline("test_createpipe_1", BUCKET, BUCKET, pipeline_config={"capacity": 41})
    message = server_message(
        client.create_pipeline, "test_createpipe_2", BUCKET, BUCKET, pipeline_config={"capacity": 60}
    )
    assert message == "total pipeline size exceed free quota:100, current used:41"
    message = server_message(
        client.create_pipeline, "test_createpipe_3", BUCKET, BUCKET, pipeline_config={"capacity": 101}
    )
    used = int(message.split(":")[2])
    client.create_pipeline("test_createpipe_3", BUCKET, BUCKET, pipeline_config={"capacity": 100 - used})
    assert sum(p.config.capacity for p in client.list_pipelines().pipelines) == 100


# ----- decimals in integer fields are truncated, then range-checked -----------------------------------------------
def test_pipeline_capacity_decimal_is_truncated(api):
    """test_create_pipeline.py::test_create_pipeline_capacity_not_int ("3.5 == 3")."""
    api.client.create_pipeline("test_createpipe", BUCKET, BUCKET, pipeline_config={"capacity": 3.5})
    assert api.client.get_pipeline("test_createpipe").config.capacity == 3


def test_audio_decimals_are_truncated(api):
    """test_create_preset.py::test_create_preset_with_audio_bitrateinbps_not_integer (1000.34),
    ::test_create_preset_with_audio_samplerateinhz_not_integer (32000.56),
    ::test_create_preset_with_audio_chanel_not_integer (2.89)."""
    client = api.client
    client.create_preset("test_createpreset_a", "mp4", audio={"bitRateInBps": 1000.34})
    client.create_preset("test_createpreset_b", "mp4", audio={"bitRateInBps": 1989, "sampleRateInHz": 32000.56})
    client.create_preset(
        "test_createpreset_c", "mp4", audio={"bitRateInBps": 1989, "sampleRateInHz": 48000, "channels": 2.89}
    )
    assert client.get_preset("test_createpreset_a").audio.bit_rate_in_bps == 1000
    assert client.get_preset("test_createpreset_b").audio.sample_rate_in_hz == 32000
    assert client.get_preset("test_createpreset_c").audio.channels == 2


@pytest.mark.parametrize(
    ("video", "message"),
    [
        ({"bitRateInBps": 32000, "maxHeightInPixel": 95.9}, "video.maxHeightInPixel:video.maxHeightInPixel=must be greater than or equal to 96"),
        ({"bitRateInBps": 32000, "maxWidthInPixel": 127.5}, "video.maxWidthInPixel:video.maxWidthInPixel=must be greater than or equal to 128"),
    ],
)  # fmt: skip
def test_video_decimals_are_truncated_then_range_checked(api, video, message):
    """test_create_preset.py::test_create_preset_with_video_maxheight_less_96, ::..._maxwidth_less_128."""
    assert server_message(api.client.create_preset, "test_createpreset", "mp4", video=video) == message


# ----- type errors in Jackson's words -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "prefix", "field"),
    [
        ({"transmux": True, "clip": {"startTimeInSecond": "abc", "durationInSecond": 60}}, "Could not read JSON: Can not construct instance of", "clip.startTimeInSecond"),  # ::test_create_preset_with_startTimeInSecond_is_string
        ({"transmux": True, "clip": {"startTimeInSecond": 10, "durationInSecond": "abc"}}, "Could not read JSON: Can not construct instance of", "clip.durationInSecond"),  # ::test_create_preset_with_durationInSecond_is_string
        ({"transmux": "test"}, "Could not read JSON: Can not construct instance of", "transmux"),  # ::test_create_preset_with_transmux_not_in_enum
        ({"container": "ceshimp4", "transmux": True}, "Could not read JSON: Can not construct instance of", "container"),  # ::test_create_preset_with_container_not_in_enum
        ({"video": {"bitRateInBps": 32000, "sizingPolicy": "shrinkToFit11"}}, "Could not read JSON: Can not construct instance of com.baidu.bce", "video.sizingPolicy"),  # ::test_create_preset_with_video_sizingpolicy_not_in_enum
        ({"video": {"bitRateInBps": 32000, "codecOptions": {"profile": "baseline1"}}}, "Could not read JSON: Can not construct instance of ", "video.codecOptions.profile"),  # ::test_create_preset_with_video_profile_not_in_enum
    ],
)  # fmt: skip
def test_preset_type_errors_use_jacksons_words(api, kwargs, prefix, field):
    """test_create_preset.py cases named on each row; our message also names the field (Jackson's reference chain)."""
    kwargs = dict(kwargs)
    container = kwargs.pop("container", "mp4")
    message = server_message(api.client.create_preset, "test_createpreset", container, **kwargs)
    assert message.startswith(prefix) and message.endswith(f"(through reference chain: {field})")


@pytest.mark.parametrize(
    ("target", "capture", "field"),
    [
        ({"keyPrefix": "/00mingxioutput", "format": "txt"}, None, "target.format"),  # ::test_create_thumbnail_format_not_in_enum
        ({"format": "png", "sizingPolicy": "notsizing"}, None, "target.sizingPolicy"),  # ::test_create_thumbnail_sizingpolicy_not_in_enum
        (None, {"mode": "notmode"}, "capture.mode"),  # ::test_create_thumbnail_mode_not_in_enum
    ],
)  # fmt: skip
def test_thumbnail_enum_errors_use_jacksons_words(api, target, capture, field):
    """test_create_thumbnail.py cases named on each row."""
    api.client.create_pipeline("test_createthumb", BUCKET, BUCKET)
    message = server_message(
        api.client.create_thumbnail_job, "test_createthumb", {"key": "10s.mp4"}, target=target, capture=capture
    )
    assert message.startswith("Could not read JSON: Can not construct") and field in message


# ----- keys with a leading '/' --------------------------------------------------------------------------------------
def test_watermark_key_with_leading_slash(api):
    """test_create_watermark.py::test_create_watermark_with_PNG_Picture ('/pic/水印图片.png'),
    ::test_create_watermark_with_not_exist_picture (the message repeats the key as given)."""
    client = api.client
    assert client.create_watermark(BUCKET, "/pic/水印图片.png").watermark_id.startswith("wmk-")
    key = "/watermark/notexistpic.jpg"
    assert server_message(client.create_watermark, BUCKET, key).startswith(f"bos object: {key} does not exist")


def test_media_info_key_with_leading_slash(stack):
    """test_query_media_info.py::test_query_media_info_object_contain_folder ('/media/info/jobtest.mp4')."""
    info = stack.client.get_mediainfo_of_file(BUCKET, "/media/info/jobtest.mp4")
    assert info.type == "video" and info.video.width_in_pixel == 320


def test_thumbnail_key_prefix_with_leading_slash(stack):
    """test_create_thumbnail.py::test_create_thumbnail_normal (keyPrefix '/00mingxioutput', manual mode)."""
    client = stack.client
    client.create_pipeline("test_createthumb", BUCKET, BUCKET, pipeline_config={"capacity": 1})
    target = {
        "keyPrefix": "/00mingxioutput",
        "format": "jpg",
        "sizingPolicy": "keep",
        "widthInPixel": 640,
        "heightInPixel": 400,
    }
    capture = {"mode": "manual", "startTimeInSecond": 0, "endTimeInSecond": 50, "intervalInSecond": 10}
    job_id = client.create_thumbnail_job("test_createthumb", {"key": "10s.mp4"}, target, capture).job_id
    job = wait_for_job(client, job_id, thumbnail=True)
    assert job.job_status == "SUCCESS", job.raw_data
    assert job.target.keys and all(k.startswith("00mingxioutput") for k in job.target.keys)
    for key in job.target.keys:
        assert stack.service.storage.exists(BUCKET, key)


# ----- target keys with any character BOS allows ------------------------------------------------------------------
def test_target_key_with_special_characters_is_accepted(api):
    """test_create_transcoding.py::test_create_transcoding_file_name_include_folder (target '测试视频结果/\\<> *?"|.mp4')."""
    client = api.client
    client.create_pipeline("test_createjob", BUCKET, BUCKET, pipeline_config={"capacity": 1})
    api.service.storage.put(BUCKET, "media/info/jobtest.mp4", b"any bytes: the job is not run here")
    target = {"targetKey": '测试视频结果/\\<> *?"|.mp4', "presetName": PRESET}
    job_id = client.create_job("test_createjob", {"sourceKey": "media/info/jobtest.mp4"}, target).job_id
    assert job_id.startswith("job-")
    assert client.get_job(job_id).target.target_key == '测试视频结果/\\<> *?"|.mp4'


def test_target_key_with_special_characters_is_written(stack):
    """test_create_transcoding.py::test_create_transcoding_file_name_include_folder, run to the end (without the
    backslash: localcloud's storage does not hold keys with '\\', see the mct report)."""
    client = stack.client
    client.create_pipeline("test_createjob", BUCKET, BUCKET)
    key = '测试视频结果/<> *?"|.mp4'
    job_id = client.create_job(
        "test_createjob", {"sourceKey": "/media/info/jobtest.mp4"}, {"targetKey": key, "presetName": PRESET}
    ).job_id
    job = wait_for_job(client, job_id)
    assert job.job_status == "SUCCESS", job.raw_data
    assert stack.service.storage.exists(BUCKET, key)


# ----- watermark images: TIF and PBM too --------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["水印图片.tif", "logo2.pbm", "120X90.jpg"])
def test_tif_and_pbm_watermarks_are_accepted(api, key):
    """test_create_watermark.py::test_create_watermark_with_TIF_Picture, ::..._with_PBM_Picture, ::..._with_JPG_Picture."""
    watermark_id = api.client.create_watermark(BUCKET, key).watermark_id
    assert api.client.get_watermark(watermark_id).key == key


def test_non_image_watermark_is_refused(api):
    """test_create_watermark.py::test_create_watermark_with_not_picture ('/watermark/testpic.txt')."""
    message = server_message(api.client.create_watermark, BUCKET, "/watermark/testpic.txt")
    assert message.startswith("invalid watermark format, only") and "tif" in message and "pbm" in message


# The sample's top-left corner is dark purple (testsrc2); the marks are red (TIF) and white (PBM).
@pytest.mark.parametrize(("key", "looks_right"), [
    ("水印图片.tif", lambda r, g, b: r > 180 and g < 80 and b < 80),
    ("logo2.pbm", lambda r, g, b: min(r, g, b) > 200),
    ("/pic/水印图片.png", lambda r, g, b: r > 180 and g < 80 and b < 80),  # and a key with a leading '/'
])  # fmt: skip
def test_tif_and_pbm_watermarks_are_drawn(stack, key, looks_right):
    """test_create_transcoding.py::test_create_transcoding_watermark_normal with the TIF/PBM images of
    test_create_watermark.py: the job succeeds and the picture carries the mark at the top left."""
    client = stack.client
    client.create_pipeline("test_createjob", BUCKET, BUCKET)
    watermark_id = client.create_watermark(BUCKET, key).watermark_id
    client.create_preset(
        "test_createjob_wm",
        "mp4",
        False,
        audio={"bitRateInBps": 63000},
        video={"bitRateInBps": 454000},
        watermark_id=watermark_id,
    )
    target = {"targetKey": "test_result.mp4", "presetName": "test_createjob_wm"}
    job = wait_for_job(client, client.create_job("test_createjob", {"sourceKey": "10s.mp4"}, target).job_id)
    assert job.job_status == "SUCCESS", job.raw_data
    source_corner = corner_rgb(stack.service.storage.object_path(BUCKET, "10s.mp4"))
    assert not looks_right(*source_corner)
    output_corner = corner_rgb(stack.service.storage.object_path(BUCKET, "test_result.mp4"))
    assert looks_right(*output_corner), output_corner


def corner_rgb(path: Path) -> tuple[int, int, int]:
    """RGB of the pixel at (4, 4) of the first frame (inside a 16x16 mark drawn at the top left)."""
    out = subprocess.run(
        [ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-i", str(path), "-frames:v", "1",
         "-vf", "format=rgb24,crop=2:2:4:4", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return out[0], out[1], out[2]
