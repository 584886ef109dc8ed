"""The demo's flow end to end: BosClient upload -> OnUpload -> MCT (ffmpeg) -> OnNotification -> store -> downstream."""

from pathlib import Path

from autotranscode.demo import DemoOptions, format_table, run_demo
from localcloud.mct.engine import probe_media


def test_demo_flow_records_every_rendition_and_delivers_a_signed_event(tmp_path):
    lines: list[str] = []
    result = run_demo(
        DemoOptions(tmp_path / "demo", seconds=1.0, width=1280, height=720, timeout=120), say=lines.append
    )

    assert result.ok, (lines, result.rows)
    outputs = {r["target"]: r for r in result.rows if r["kind"] != "thumbnail"}
    assert {t: r["resolution"] for t, r in outputs.items()} == {
        "720p": "1280x720",
        "480p": "852x480",
        "360p": "640x360",
    }
    data = tmp_path / "demo" / "buckets"
    for row in outputs.values():
        assert row["status"] == "SUCCESS" and row["codecs"] == "h264/aac"
        assert abs(row["duration_s"] - 1.0) < 0.2
        produced = data / row["bucket"] / row["key"]
        assert produced.stat().st_size == row["size_bytes"]
        assert probe_media(produced)["video"]["codec"] == "h264"
    thumbs = [r for r in result.rows if r["kind"] == "thumbnail"]
    assert thumbs and all((data / t["bucket"] / k).is_file() for t in thumbs for k in t["keys"])

    event = result.downstream_event
    assert result.downstream_verified and event["status"] == "SUCCESS" and not event["errors"]
    assert {o["key"] for o in event["outputs"]} == {r["key"] for r in outputs.values()}
    assert event["upload"]["key"] == result.upload_key
    assert any("SUCCESS" in line for line in lines)  # progress was shown
    assert "720p" in format_table(result.rows)


def test_demo_with_missing_clip_fails_clearly(tmp_path):
    try:
        run_demo(DemoOptions(tmp_path / "demo", clip=Path(tmp_path / "nope.mp4")), say=lambda _: None)
    except FileNotFoundError as exc:
        assert "nope.mp4" in str(exc)
    else:
        raise AssertionError("a missing --clip must fail")
