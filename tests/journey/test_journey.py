"""docs/journey.md, run as a user would: its files written, its shell lines run in order (subprocess, the real CLI,
`autotranscode up` in the background, the receiver of the docs verifying the signed events). Then, on the same
stack, the media the planner must look at and suffixes in every case.

Only the ports are changed (free ones instead of 18080-18082 and 8099), so runs never collide.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from baidubce.auth.bce_credentials import BceCredentials
from baidubce.bce_client_configuration import BceClientConfiguration
from baidubce.services.bos.bos_client import BosClient

from handlers.domain.ids import upload_id_for
from localcloud.samples import make_sample_clip

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "journey.md"
TIMEOUT = 180  # seconds for the whole stack to settle; every wait below is bounded by it

pytestmark = pytest.mark.integration


def doc_parts(text: str) -> tuple[dict[str, str], list[str]]:
    """({file name: content} of the blocks after `<!-- file: NAME -->`, the lines of the ```sh blocks in order)."""
    files = {m.group(1): m.group(2) for m in re.finditer(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", text, re.S)}
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        lines += [line.strip() for line in block.splitlines() if line.strip() and not line.startswith("#")]
    return files, lines


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what: str, condition, timeout: float = TIMEOUT, poll: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


class Journey:
    def __init__(self, workdir: Path):
        self.dir = workdir
        self.ports = {"18080": free_port(), "18081": free_port(), "18082": free_port(), "8099": free_port()}
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOTRANSCODE_", "BCE_"))}
        self.env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{self.env.get('PATH', '')}"
        self.background: list[tuple[subprocess.Popen, Path]] = []
        self.results: dict[str, subprocess.CompletedProcess] = {}

    def localize(self, text: str) -> str:
        for default, port in self.ports.items():
            text = re.sub(rf"(?<![\d.]){default}\b", str(port), text)
        return text

    def run_line(self, line: str) -> None:
        if line.startswith("export "):
            name, _, _ = line[len("export ") :].partition("=")
            value = subprocess.run(["bash", "-c", f"{line}; printf %s \"${name}\""], env=self.env, cwd=self.dir,
                                   capture_output=True, text=True, check=True, timeout=60).stdout  # fmt: skip
            assert value, line
            self.env[name] = value
            return
        argv = shlex.split(self.localize(line).removesuffix("&"))
        if argv[:2] == ["autotranscode", "up"]:
            argv += ["--bos-port", str(self.ports["18080"]), "--mct-port", str(self.ports["18081"]),
                     "--cfc-port", str(self.ports["18082"]), "--no-watch"]  # fmt: skip
        if line.endswith("&"):
            log = self.dir / f"bg{len(self.background)}.log"
            with open(log, "w") as out:
                proc = subprocess.Popen(argv, cwd=self.dir, env=self.env, stdout=out, stderr=subprocess.STDOUT)
            self.background.append((proc, log))
            if argv[:2] == ["autotranscode", "up"]:
                wait_until(
                    "`autotranscode up`", lambda: proc.poll() is not None or "localcloud is up" in log.read_text()
                )
                assert proc.poll() is None, log.read_text()
            else:
                wait_until(f"{line} to listen", lambda: proc.poll() is not None or self._listening(self.ports["8099"]))
                assert proc.poll() is None, log.read_text()
            return
        proc = subprocess.run(argv, cwd=self.dir, env=self.env, capture_output=True, text=True, timeout=TIMEOUT,
                              check=False)  # fmt: skip
        assert proc.returncode == 0, f"{line}\n{proc.stdout}\n{proc.stderr}"
        self.results[line] = proc
        if argv[:2] == ["python3", "upload.py"]:  # the docs: "a few seconds later the receiver prints ..."
            self.wait_events(1)

    @staticmethod
    def _listening(port: int) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    @property
    def receiver_log(self) -> Path:
        return next(log for proc, log in self.background if "receiver.py" in proc.args)

    def events(self) -> list[str]:
        return [line for line in self.receiver_log.read_text().splitlines() if line.startswith("verified")]

    def wait_events(self, n: int) -> list[str]:
        wait_until(f"{n} verified events", lambda: len(self.events()) >= n)
        return self.events()

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["autotranscode", *args], cwd=self.dir, env=self.env, capture_output=True, text=True,
                              timeout=TIMEOUT, check=False)  # fmt: skip

    def stop(self) -> None:
        for proc, _ in reversed(self.background):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # `up` stops the stack on SIGTERM
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def journey(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("journey")
    j = Journey(workdir)
    files, lines = doc_parts(DOC.read_text(encoding="utf-8"))
    assert {"my-config.json", "receiver.py", "upload.py"} <= set(files) and len(lines) >= 10, (files, lines)
    for name, content in files.items():
        (workdir / name).write_text(j.localize(content), encoding="utf-8")
    make_sample_clip(workdir / "clip.mp4", seconds=1, width=640, height=360)
    try:
        for line in lines:
            j.run_line(line)
        yield j
    finally:
        j.stop()


def test_the_journey_of_the_docs(journey):
    out = journey.results
    assert "config my-config.json (--config)" in out["autotranscode check --offline --config my-config.json"].stderr
    [event] = journey.events()
    assert event == "verified SUCCESS videos/holiday.MP4 attempt 1"
    # jobs list: the stack's store without flags, the table on stdout, which config/store/MCT on stderr
    listed = out["autotranscode jobs list"]
    assert "as run by the local stack" in listed.stderr and "autotranscode.sqlite3" in listed.stderr
    assert "videos/holiday.MP4" in listed.stdout and "{" not in listed.stdout
    rows = json.loads(out["autotranscode jobs list --json"].stdout)
    assert {(r["target"], r["status"]) for r in rows} == {("360p", "SUCCESS"), ("tiny", "SUCCESS")}
    # 640x360 source: the 720p rendition is larger, skipped with the reason
    upload = json.loads(journey.cli("jobs", "show", rows[0]["job_id"]).stdout)["upload"]
    assert [s["target"] for s in upload["skipped"]] == ["720p"] and "larger than the source" in upload["skipped"][0][
        "reason"
    ]
    check = out["autotranscode check"]
    assert "0 error(s)" in check.stderr and "pipeline media_pipeline notification" in check.stderr
    assert "would" not in out["autotranscode provision --dry-run"].stdout  # `up` provisioned it all already
    assert "preset tiny_240p: up to date" in out["autotranscode provision"].stdout
    build = out["autotranscode build --config my-config.json --no-deps --output dist/my-app.zip"]
    assert "WARNING mct.endpoint" in build.stderr and "WARNING downstream.url" in build.stderr
    zipped = zipfile.ZipFile(journey.dir / "dist" / "my-app.zip")
    assert "handlers/on_upload.py" in zipped.namelist() and "my-config.json" in zipped.namelist()
    blob = b"".join(zipped.read(n) for n in zipped.namelist())
    assert journey.env["AUTOTRANSCODE_DOWNSTREAM_SECRET"].encode() not in blob
    # `invoke` beside the stack runs with its config and store: the upload's claims are found there, nothing new
    etag = bos_etag(journey, "videos/holiday.MP4")
    event = {"events": [{"eventId": "again", "eventType": "PutObject",
                         "content": {"bucket": "media", "object": "videos/holiday.MP4", "eTag": etag}}]}  # fmt: skip
    (journey.dir / "event.json").write_text(json.dumps(event))
    invoked = journey.cli("invoke", "OnUpload", "--event", "event.json")
    assert invoked.returncode == 0, invoked.stderr
    summary = json.loads(invoked.stdout)
    assert (summary["existing"], summary["submitted"]) == (2, 0) and "as run by the local stack" in invoked.stderr


def bos_etag(journey: Journey, key: str) -> str:
    bos = BosClient(BceClientConfiguration(BceCredentials("localcloud-ak", "localcloud-sk"),
                                           endpoint=f"127.0.0.1:{journey.ports['18080']}"))  # fmt: skip
    return bos.get_object_meta_data("media", key).metadata.etag


def upload(journey: Journey, path: Path, key: str) -> str:
    """Through the docs' upload.py; returns the upload id the events and `jobs show` use."""
    proc = subprocess.run(["python3", "upload.py", str(path), key], cwd=journey.dir, env=journey.env,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return upload_id_for("media", key, bos_etag(journey, key))


def test_media_the_planner_looks_at_and_suffixes_in_any_case(journey, tmp_path):
    from localcloud.mct.testing import media_client

    clips = tmp_path
    small = make_sample_clip(clips / "small.mp4", seconds=1, width=320, height=240)
    portrait = make_sample_clip(clips / "portrait.mp4", seconds=1, width=720, height=1280)
    phone = make_sample_clip(clips / "phone.mp4", seconds=1, width=360, height=640)
    song = make_sample_clip(clips / "song.m4a", seconds=1)
    empty = clips / "empty.mp4"
    empty.write_bytes(b"")
    text = clips / "notes.mp4"
    text.write_text("not a video\n" * 20)
    truncated = clips / "truncated.mp4"
    truncated.write_bytes(small.read_bytes()[:600])
    ids = {
        "videos/a.Mov": upload(journey, small, "videos/a.Mov"),
        "videos/b.mp4": upload(journey, small, "videos/b.mp4"),
        "videos/c.MP4": upload(journey, small, "videos/c.MP4"),
        "videos/portrait.mp4": upload(journey, portrait, "videos/portrait.mp4"),
        "phone/p.MOV": upload(journey, phone, "phone/p.MOV"),
        "videos/song.mp4": upload(journey, song, "videos/song.mp4"),
        "videos/empty.mp4": upload(journey, empty, "videos/empty.mp4"),
        "videos/notes.mp4": upload(journey, text, "videos/notes.mp4"),
        "videos/truncated.mp4": upload(journey, truncated, "videos/truncated.mp4"),
    }
    events = journey.wait_events(1 + len(ids))
    status = {line.split()[2]: line.split()[1] for line in events}
    for key in ("videos/a.Mov", "videos/b.mp4", "videos/c.MP4", "videos/portrait.mp4", "phone/p.MOV"):
        assert status[key] == "SUCCESS", events
    for key in ("videos/song.mp4", "videos/empty.mp4", "videos/notes.mp4", "videos/truncated.mp4"):
        assert status[key] == "FAILED", events

    def show(key: str) -> dict:
        proc = journey.cli("jobs", "show", ids[key])
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    for key in ("videos/empty.mp4", "videos/notes.mp4", "videos/truncated.mp4"):
        shown = show(key)
        assert shown["jobs"] == [] and {s["code"] for s in shown["upload"]["skipped"]} == {"NOT_MEDIA"}, shown
    song_shown = show("videos/song.mp4")
    assert song_shown["jobs"] == [] and {s["code"] for s in song_shown["upload"]["skipped"]} == {"AUDIO_ONLY"}
    # no MCT job was ever created for them
    mct = media_client(f"127.0.0.1:{journey.ports['18081']}")
    sources = {j.source.source_key for j in mct.list_jobs("media_pipeline").jobs}
    assert sources.isdisjoint({"videos/song.mp4", "videos/empty.mp4", "videos/notes.mp4", "videos/truncated.mp4"})

    def probed(key: str) -> tuple[int, int]:
        video = mct.get_mediainfo_of_file("media", key).video
        return video.width_in_pixel, video.height_in_pixel

    # a portrait clip keeps each rendition's class, upright
    shown = show("videos/portrait.mp4")
    assert {r["target"]: r["status"] for r in shown["jobs"]} == {
        "720p": "SUCCESS",
        "360p": "SUCCESS",
        "tiny": "SUCCESS",
    }
    assert all("portrait source 720x1280" in r["note"] for r in shown["jobs"]), shown
    assert probed("out/videos/portrait/720p.mp4") == (720, 1280)
    assert probed("out/videos/portrait/360p.mp4") == (360, 640)
    assert probed("out/videos/portrait/tiny.mp4")[0] == 240  # 240x426 or 240x428: even sides
    assert probed("out/phone/p/360p.mp4") == (360, 640)
    # suffixes in any case were all processed (320x240: only the smallest rendition, kept by keep_smallest)
    for key, stem in (("videos/a.Mov", "a"), ("videos/b.mp4", "b"), ("videos/c.MP4", "c")):
        assert [r["target"] for r in show(key)["jobs"]] == ["tiny"]
        assert probed(f"out/videos/{stem}/tiny.mp4") == (320, 240)  # never upscaled
