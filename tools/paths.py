"""Where things are, and how host code imports the firmware under CPython."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
BOARDS = os.path.join(ROOT, "boards")
PROFILES_JSON = os.path.join(ROOT, "profiles.json")
CPYTHON_SHIM = os.path.join(ROOT, "tools", "cpython_shim")
FAKES = os.path.join(ROOT, "tools", "fakes")
SIM_VM = os.path.join(ROOT, "tools", "sim", "vm")


def use_firmware():
    """Make `import pump`, `import hw`, `import app` work under CPython."""
    for p in (FIRMWARE, CPYTHON_SHIM):
        if p not in sys.path:
            sys.path.insert(0, p)


def use_sim():
    """The simulator's engine imports as on the MicroPython VM: the fake
    `machine` and devices, the plant and the engine as top-level modules."""
    use_firmware()
    for p in (FAKES, SIM_VM):
        if p not in sys.path:
            sys.path.insert(0, p)
