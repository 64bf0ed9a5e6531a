"""The web client's unit tests (node --test) run as part of pytest."""

import shutil
import subprocess
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "web"


def test_web_unit_tests_pass() -> None:
    npm = shutil.which("npm")
    assert npm is not None, "npm is needed to run the web unit tests"
    result = subprocess.run([npm, "test"], cwd=WEB, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
