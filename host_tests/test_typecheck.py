"""The firmware type-checks against each port's MicroPython stubs (pyright,
one stub folder per port so rp2 and esp32 `machine` never shadow each
other). A canary shows the check sees port differences: PWM.duty() exists
on esp32 only."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYRIGHT = os.path.join(os.path.dirname(sys.executable), "pyright")


def pyright(config):
    stubs = os.path.join(ROOT, ".stubs")
    assert os.path.isdir(os.path.join(stubs, "rp2")), "stubs missing: run `make test` (it installs them)"
    proc = subprocess.run([PYRIGHT, "--outputjson", "-p", config], capture_output=True, text=True, cwd=ROOT)
    report = json.loads(proc.stdout)
    return [d for d in report["generalDiagnostics"] if d["severity"] == "error"]


def describe(errors):
    return "\n".join("%s:%d %s" % (os.path.relpath(e["file"], ROOT), e["range"]["start"]["line"] + 1, e["message"])
                     for e in errors)


@pytest.mark.parametrize("port", ["rp2", "esp32"])
def test_firmware_type_checks(port):
    errors = pyright(os.path.join(ROOT, "typecheck", port + ".json"))
    assert errors == [], describe(errors)


@pytest.mark.parametrize("port,fails", [("rp2", True), ("esp32", False)])
def test_canary_port_difference_is_seen(tmp_path, port, fails):
    (tmp_path / "canary.py").write_text("import machine\nmachine.PWM(machine.Pin(2)).duty(512)\n")
    cfg = {"include": [str(tmp_path)], "stubPath": os.path.join(ROOT, ".stubs", port),
           "typeshedPath": os.path.join(ROOT, ".stubs", port), "pythonVersion": "3.11",
           "typeCheckingMode": "basic", "reportMissingModuleSource": False}
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(cfg))
    errors = pyright(str(tmp_path / "pyrightconfig.json"))
    assert bool(errors) == fails, describe(errors)
