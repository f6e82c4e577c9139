"""Where things are, and how host code imports the firmware under CPython."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
BOARDS = os.path.join(ROOT, "boards")
PROFILES_JSON = os.path.join(ROOT, "profiles.json")
CPYTHON_SHIM = os.path.join(ROOT, "tools", "cpython_shim")


def use_firmware():
    """Make `import pump`, `import hw`, `import app` work under CPython."""
    for p in (FIRMWARE, CPYTHON_SHIM):
        if p not in sys.path:
            sys.path.insert(0, p)
