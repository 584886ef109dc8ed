"""`autotranscode mct` runs the service standalone, prints what to connect to (never the secret), stops on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys

from localcloud.mct.testing import media_client
from localcloud.serve import free_port


def test_mct_command_serves_and_stops(tmp_path):
    port = free_port()
    secret = "cli-secret-value"
    proc = subprocess.Popen(
        [sys.executable, "-m", "autotranscode.cli", "mct", "--data-dir", str(tmp_path), "--port", str(port),
         "--access-key", "cli-ak", "--secret-key", secret, "--bucket", "src", "--bucket", "dst"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl-C" in line:
                break
        text = "".join(lines)
        assert f"127.0.0.1:{port}" in text and str(tmp_path) in text and "cli-ak" in text and "ffmpeg" in text
        client = media_client(f"127.0.0.1:{port}", "cli-ak", secret)
        client.create_pipeline("p1", "src", "dst")
        assert client.get_pipeline("p1").state == "ACTIVE"
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0
        assert secret not in text + rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
