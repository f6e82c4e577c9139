"""Run a resolved scenario under CPython or the MicroPython VM; both give
the same rows (tools/sim/vm/engine.py runs unchanged in either).

`progress`, when given, is a tools.progress.SimBar (or anything with its
at(t_ms), note(text) and above_bar()): it follows the simulated time, and
the engine's notes go through it. It never changes the rows."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

from tools import paths

paths.use_sim()

VM_PROGRESS = re.compile(r"sim (\d+):(\d\d)$")      # tools/sim/vm/vm_main.py, every simulated minute


def micropython_binary():
    found = shutil.which("micropython", path=os.path.dirname(sys.executable)) or shutil.which("micropython")
    if not found:
        raise RuntimeError("the micropython unix port is not installed (make venv installs it)")
    return found


def run_cpython(spec, files, progress=None):
    from engine import Engine
    if progress is None:
        return list(Engine(spec, files).rows())
    rows = []
    with progress.above_bar():                 # the engine's notes go to sys.stderr
        for row in Engine(spec, files).rows():
            rows.append(row)
            progress.at(row[0])
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
        if progress is None:
            out, err = proc.communicate()
        else:
            err_lines = []
            reader = threading.Thread(target=_follow, args=(proc.stderr, progress, err_lines), daemon=True)
            reader.start()
            with proc.stdout:
                out = proc.stdout.read()
            proc.wait()
            reader.join()
            proc.stderr.close()
            err = "".join(err_lines)
    if proc.returncode != 0:
        raise RuntimeError("the MicroPython run failed:\n" + err[-3000:])
    return [_parse(line) for line in out.splitlines() if line]


def _follow(stream, progress, lines):
    """The VM's stderr as it comes: its progress lines move the bar, the
    rest (the engine's notes) is written through it."""
    for line in stream:
        lines.append(line)
        m = VM_PROGRESS.match(line.rstrip("\n"))
        if m:
            progress.at((int(m.group(1)) * 60 + int(m.group(2))) * 1000)
        else:
            progress.note(line)


def run(spec, files, runtime="cpython", progress=None):
    if runtime == "micropython":
        return run_micropython(spec, files, progress)
    return run_cpython(spec, files, progress)
