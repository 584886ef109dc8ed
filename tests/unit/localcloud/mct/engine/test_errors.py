from localcloud.mct.engine.transcode import last_meaningful_line, mp4_moov_size
from localcloud.mct.engine.types import EngineError

LAME_96K = """\
[libmp3lame @ 0x55b2bf106840] Specified sample rate 96000 is not supported by the libmp3lame encoder
[libmp3lame @ 0x55b2bf106840] Supported sample rates:
[libmp3lame @ 0x55b2bf106840]   44100
[libmp3lame @ 0x55b2bf106840]   8000
[aost#0:0/libmp3lame @ 0x55b2bf106180] [enc:libmp3lame @ 0x55b2bf0a0280] Error while opening encoder - maybe \
incorrect parameters such as bit_rate, rate, width or height.
[af#0:0 @ 0x55b2bf0a1900] Error sending frames to consumers: Invalid argument
[af#0:0 @ 0x55b2bf0a1900] Task finished with error code: -22 (Invalid argument)
[af#0:0 @ 0x55b2bf0a1900] Terminating thread with return code -22 (Invalid argument)
[aost#0:0/libmp3lame @ 0x55b2bf106180] [enc:libmp3lame @ 0x55b2bf0a0280] Could not open encoder before EOF
[out#0/mp3 @ 0x55b2bf155640] Nothing was written into output file, because at least one of its streams received \
no packets.
"""


def test_failure_message_is_the_cause_not_the_cascade():
    assert last_meaningful_line(LAME_96K) == (
        "[libmp3lame] Specified sample rate 96000 is not supported by the libmp3lame encoder"
    )
    assert last_meaningful_line("") == ""
    assert last_meaningful_line("Conversion failed!\n") == "Conversion failed!"


def test_engine_error_wire_shape():
    err = EngineError("SourceNotFound", "bos object: a.mp4 does not exist")
    assert err.to_wire() == {"code": "SourceNotFound", "message": "bos object: a.mp4 does not exist"}
    assert "SourceNotFound" in str(err)


def test_moov_size_reads_top_level_boxes(tmp_path):
    f = tmp_path / "x.mp4"
    box = lambda kind, body: (8 + len(body)).to_bytes(4, "big") + kind + body  # noqa: E731
    f.write_bytes(box(b"ftyp", b"isom" * 3) + box(b"moov", b"\0" * 100) + box(b"mdat", b"x" * 10))
    assert mp4_moov_size(f) == 108
    f.write_bytes(box(b"ftyp", b"isom"))
    assert mp4_moov_size(f) is None
