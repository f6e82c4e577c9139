"""Run a resolved scenario under CPython or the MicroPython VM; both give
the same rows (tools/sim/vm/engine.py runs unchanged in either)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from tools import paths

paths.use_sim()

PROGRESS_EVERY_MS = 5 * 60000


def micropython_binary():
    found = shutil.which("micropython", path=os.path.dirname(sys.executable)) or shutil.which("micropython")
    if not found:
        raise RuntimeError("the micropython unix port is not installed (make venv installs it)")
    return found


def _progress(t_ms, total_ms, started, out):
    wall = time.perf_counter() - started
    out.write("  sim %3d:%02d / %d:%02d  (%.0fx real time)\n" % (
        t_ms // 60000, t_ms // 1000 % 60, total_ms // 60000, total_ms // 1000 % 60,
        t_ms / 1000 / wall if wall > 0 else 0))
    out.flush()


def run_cpython(spec, files, progress=None):
    from engine import Engine
    rows = []
    started = time.perf_counter()
    nxt = PROGRESS_EVERY_MS
    total = spec["duration_ms"]
    for row in Engine(spec, files).rows():
        rows.append(row)
        if progress is not None and row[0] >= nxt:
            _progress(row[0], total, started, progress)
            nxt += PROGRESS_EVERY_MS
    return rows


def _parse(line):
    return tuple(None if x == "-" else int(x) for x in line.split())


def run_micropython(spec, files, progress=None, heap="32m"):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "spec.json")
        data = dict(spec)
        data["files"] = files
        with open(path, "w") as f:
            json.dump(data, f)
        env = dict(os.environ)
        env["MICROPYPATH"] = ":".join([paths.SIM_VM, paths.FAKES, paths.FIRMWARE, ".frozen"])
        proc = subprocess.Popen([micropython_binary(), "-X", "heapsize=" + heap,
                                 os.path.join(paths.SIM_VM, "vm_main.py"), path],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError("the MicroPython run failed:\n" + err[-3000:])
    if progress is not None and err:
        progress.write(err)
    return [_parse(line) for line in out.splitlines() if line]


def run(spec, files, runtime="cpython", progress=None):
    if runtime == "micropython":
        return run_micropython(spec, files, progress)
    return run_cpython(spec, files, progress)
