"""handlers.adapters.sdk_imports: the SDK imports without pycryptodome's AES and crc32c, which still work when used."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]

CHECK = """
import sys
from handlers.adapters import sdk_imports
sdk_imports.prepare()
from baidubce.services.media.media_client import MediaClient
import baidubce.utils as u
loaded_early = sorted(m for m in ("Crypto.Util._cpu_features", "crc32c._cli") if m in sys.modules)
print("loaded early:", loaded_early)
assert not loaded_early, loaded_early
# Used anyway: the real modules load on first use.
assert u.crc32c.crc32c(b"abc") == 0x364B3FB7
cipher = u.AES.new(b"k" * 16, u.AES.MODE_ECB)
assert cipher.decrypt(cipher.encrypt(b"x" * 16)) == b"x" * 16
assert "Crypto.Util._cpu_features" in sys.modules
print("ok")
"""


def test_sdk_imports_defer_the_unused_modules_and_they_still_work():
    run = subprocess.run([sys.executable, "-c", CHECK], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().endswith("ok")


def test_prepare_after_the_sdk_was_imported_changes_nothing():
    code = (
        "import sys, baidubce.utils\n"
        "from handlers.adapters import sdk_imports\n"
        "before = sys.modules['crc32c']\n"
        "sdk_imports.prepare()\n"
        "assert sys.modules['crc32c'] is before\n"
        "print('ok')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stdout + run.stderr
