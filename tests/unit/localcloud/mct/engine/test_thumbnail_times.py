import pytest

from localcloud.mct.engine.thumbnail import capture_times, thumbnail_key
from localcloud.mct.engine.types import EngineError


def test_auto_takes_one_frame_at_a_third():
    assert capture_times({}, 30.0) == [10.0]
    assert capture_times({"mode": "auto"}, None) == [0.0]


def test_manual_interval_range():
    cap = {"mode": "manual", "startTimeInSecond": 1, "endTimeInSecond": 5, "intervalInSecond": 2}
    assert capture_times(cap, 60) == [1, 3, 5]
    assert capture_times({"mode": "manual", "startTimeInSecond": 2}, 60) == [2]  # no interval: one frame
    # the end defaults to (just before) the end of the video
    assert capture_times({"mode": "manual", "startTimeInSecond": 0, "intervalInSecond": 1}, 3.0) == [0, 1, 2]


def test_split_spreads_frames_evenly():
    assert capture_times({"mode": "split", "frameNumber": 4}, 8.04) == [1, 3, 5, 7]
    cap = {"mode": "split", "frameNumber": 10, "startTimeInSecond": 0, "endTimeInSecond": 4,
           "minIntervalInSecond": 2}  # fmt: skip
    assert capture_times(cap, 60) == [1, 3]  # fewer frames to keep 2 s between them


@pytest.mark.parametrize(
    "capture, message",
    [
        ({"mode": "manual"}, "start time is required in manual mode"),
        ({"mode": "manual", "startTimeInSecond": 5, "endTimeInSecond": 1}, "start time cannot larger than end time"),
        ({"mode": "auto", "frameNumber": 3}, "cannot specify start time, end time, interval or frame number"),
        ({"mode": "shot"}, "capture.mode='shot'"),
    ],
)
def test_bad_captures(capture, message):
    with pytest.raises(EngineError) as err:
        capture_times(capture, 10)
    assert message in err.value.message


def test_key_naming():
    assert thumbnail_key("a/b", "jpg", None) == "a/b.jpg"
    assert thumbnail_key("a/b", "png", 3) == "a/b_3.png"
