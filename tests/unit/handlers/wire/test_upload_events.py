import pytest

from handlers.wire.upload_events import BadRecord, IgnoredRecord, ObjectCreated, UnknownEventShape, parse_upload_event
from tests.unit.handlers.conftest import EVENTS, load_event


def test_bos_put_sample():
    [rec] = parse_upload_event(load_event("bos_put.json"))
    assert rec == ObjectCreated(
        "uploads",
        "incoming/sample.mp4",
        "0cd0545962d6f4c915fe2051a835032d",
        1048576,
        "d848985f-0d4d-4bf2-92e4-970679a64a06",
        "2026-11-23T12:00:00Z",
        "PutObject",
    )


def test_multipart_uses_lowercase_etag_field():
    [rec] = parse_upload_event(load_event("bos_multipart.json"))
    assert rec.etag == "4b1c2f3e9a8d7c6b5a4f3e2d1c0b9a88-3"
    assert rec.event_type == "CompleteMultipartUpload"
    assert rec.key == "incoming/big/recording.MOV"


def test_unicode_key_is_kept_verbatim():
    [rec] = parse_upload_event(load_event("bos_unicode_key.json"))
    assert rec.key == "incoming/假期 视频/我的 clip (1).mp4"


def test_s3_keys_are_unquoted():
    [rec] = parse_upload_event(load_event("s3_put_encoded_key.json"))
    assert rec.key == "incoming/my clip(1).mp4"
    assert rec.bucket == "uploads"
    assert rec.event_id == "C3D13FE58DE4C810"


def test_several_records_and_bad_ones_do_not_hide_the_good():
    event = {
        "events": [
            {"eventId": "a", "eventType": "PutObject", "content": {"bucket": "b", "object": "k1", "eTag": '"e1"'}},
            {"eventId": "b", "eventType": "PutObject", "content": {"bucket": "b"}},
            {"eventId": "c", "eventType": "DeleteObject", "content": {"bucket": "b", "object": "k3", "eTag": "e"}},
            {"eventId": "d", "eventType": "PutObject", "content": {"bucket": "b", "object": "k4"}},
            {"eventId": "e", "eventType": "PostObject", "content": {"bucket": "b", "object": "k5", "etag": "e5"}},
        ]
    }
    a, b, c, d, e = parse_upload_event(event)
    assert isinstance(a, ObjectCreated) and a.etag == "e1"  # quotes stripped
    assert isinstance(b, BadRecord) and "events[1].content.object" in b.reason
    assert isinstance(c, IgnoredRecord)
    assert isinstance(d, BadRecord) and "eTag" in d.reason
    assert isinstance(e, ObjectCreated) and e.key == "k5"


def test_s3_non_create_is_ignored():
    s3 = {"bucket": {"name": "b"}, "object": {"key": "k"}}
    [rec] = parse_upload_event({"Records": [{"eventName": "ObjectRemoved:Delete", "s3": s3}]})
    assert isinstance(rec, IgnoredRecord)


@pytest.mark.parametrize("event", [{}, {"foo": 1}, [], "x", {"events": "nope"}])
def test_unknown_envelope_is_refused_with_the_expected_shapes(event):
    with pytest.raises(UnknownEventShape, match="events|object"):
        parse_upload_event(event)


def test_every_sample_upload_event_parses():
    for path in EVENTS.glob("*.json"):
        if path.name.startswith(("bos_", "s3_")):
            records = parse_upload_event(load_event(path.name))
            assert records and all(isinstance(r, ObjectCreated) for r in records), path.name


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"events": ["x"]}, "events[0]: must be an object {...}"),
        ({"events": [{}]}, "events[0].content: required field is missing"),
        ({"events": [{"content": None}]}, "events[0].content: must be an object {...}"),
        ({"events": [{"content": {"bucket": "", "object": "k"}}]}, "events[0].content.bucket: must not be empty"),
        ({"events": [{"content": {"bucket": "b", "object": 5}}]}, "events[0].content.object: must be a string"),
        (
            {"events": [{"content": {"bucket": "b", "object": "k", "eTag": "e", "filesize": 1.5}}]},
            "events[0].content.filesize: must be a whole number",
        ),
        ({"Records": [{}]}, "Records[0].s3: required field is missing"),
        ({"Records": [{"s3": {"bucket": {}, "object": {"key": "k"}}}]}, "Records[0].s3.bucket.name: required field"),
        (
            {"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "k"}}, "responseElements": []}]},
            "Records[0].responseElements: must be an object {...}",
        ),
    ],
)
def test_bad_records_name_the_field_and_what_is_wrong(event, expected):
    [rec] = parse_upload_event(event)
    assert isinstance(rec, BadRecord) and rec.reason.startswith(expected), rec.reason


def test_unknown_fields_are_ignored_and_numbers_may_be_text():
    content = {"bucket": "b", "object": "k", "etag": "e", "filesize": "12", "storageClass": "STANDARD"}
    [rec] = parse_upload_event({"events": [{"eventId": "x", "content": content, "eventOrigin": "bos"}]})
    assert rec == ObjectCreated("b", "k", "e", 12, "x", "", "PutObject")
    s3 = {"bucket": {"name": "b", "arn": "x"}, "object": {"key": "a+b%20c", "size": "7", "sequencer": "seq"}}
    [rec] = parse_upload_event({"Records": [{"s3": s3, "awsRegion": "bj"}]})
    assert rec == ObjectCreated("b", "a b c", "seq", 7, "b/a b c#seq", "", "ObjectCreated:Put")
