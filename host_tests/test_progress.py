"""Progress bars (tools/progress.py, tqdm) of the simulator and `make bench`:
drawn on stderr when it is a terminal (here a pty), nothing at all in a
pipe or with --quiet, and the simulator's outputs are the same bytes with
or without one."""
import io
import json
import os
import pty
import subprocess
import sys
import threading

from tools import paths, progress
from tools.sim import runner, scenario

# Long enough for the old "every 5 simulated minutes" lines; a program
# choice while running is a note the engine prints on stderr.
SCENARIO = {"board": "sim", "duration_s": 330, "seed": 3, "events": [
    {"at_s": 1, "press": "start"}, {"at_s": 4, "program": "power"}, {"at_s": 320, "press": "stop"}]}
NOTE = "sim at 4.000 s: program 1 ignored: programs are selected while idle"


class Drain:
    """Everything written to a pty's slave side, read as it comes (a full
    pty would block the writer)."""

    def __init__(self):
        self.master, self.slave = pty.openpty()
        self.data = b""
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.data += chunk

    def close(self):
        """Close the slave; returns what was read."""
        os.close(self.slave)
        self.thread.join(10)
        os.close(self.master)
        return self.data.decode("utf-8", "replace")


def sim(tmp_path, tag, *extra, tty=False, runtime="cpython"):
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(SCENARIO))
    (tmp_path / tag).mkdir()
    out = tmp_path / tag / "run"
    cmd = [sys.executable, "-m", "tools.sim", str(path), "--runtime", runtime, "--trace", str(out) + ".csv",
           "--summary", str(out) + ".json"] + list(extra)
    if tty:
        d = Drain()
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=d.slave, cwd=paths.ROOT, timeout=300)
        err = d.close()
    else:
        r = subprocess.run(cmd, capture_output=True, cwd=paths.ROOT, timeout=300)
        err = r.stderr.decode()
    assert r.returncode == 0, err
    summary = json.loads((tmp_path / tag / "run.json").read_text())
    for k in ("wall_s", "speed_x_real_time"):
        summary.pop(k)
    stdout = [ln.replace(str(tmp_path / tag), "DIR") for ln in r.stdout.decode().splitlines() if " s wall: " not in ln]
    return err, (tmp_path / tag / "run.csv").read_bytes(), summary, stdout


def check_same_outputs(a, b):
    assert a[1] == b[1]                              # the trace, byte for byte
    assert a[2] == b[2] and a[3] == b[3]             # the summary but its wall time; the table


def test_the_simulator_draws_a_bar_on_a_terminal_and_changes_nothing_else(tmp_path):
    piped = sim(tmp_path, "piped")
    assert piped[0] == "simulating scenario: 330 s on board sim (cpython)\n" + NOTE + "\n"    # no progress text
    tty = sim(tmp_path, "tty", tty=True)
    assert "sim 100%|" in tty[0] and "5.5/5.5 sim min" in tty[0] and "x real time" in tty[0], tty[0]
    assert ("\r" + NOTE) in tty[0] or ("\n" + NOTE) in tty[0]         # the note on a line of its own
    quiet = sim(tmp_path, "quiet", "--quiet", tty=True)
    assert quiet[0] == "simulating scenario: 330 s on board sim (cpython)\r\n" + NOTE + "\r\n", quiet[0]
    check_same_outputs(piped, tty)
    check_same_outputs(piped, quiet)


def test_the_micropython_runtime_moves_the_bar_as_the_vm_runs(tmp_path):
    piped = sim(tmp_path, "piped", runtime="micropython")
    assert piped[0] == "simulating scenario: 330 s on board sim (micropython)\n" + NOTE + "\n"
    tty = sim(tmp_path, "tty", tty=True, runtime="micropython")
    assert "sim 100%|" in tty[0] and NOTE in tty[0] and "sim 5:00" not in tty[0], tty[0]
    check_same_outputs(piped, tty)


class Recorder:
    def __init__(self):
        self.times, self.notes = [], []

    def at(self, t_ms):
        self.times.append(t_ms)

    def note(self, text):
        self.notes.append(text)

    def above_bar(self):
        import contextlib
        return contextlib.nullcontext()


def test_the_runner_reports_simulated_time_and_notes_to_the_bar():
    sc, errors = scenario.load(dict(SCENARIO, duration_s=130, events=SCENARIO["events"][:2]))
    assert errors == []
    spec, files = scenario.resolve(sc)
    for runtime in ("cpython", "micropython"):
        rec = Recorder()
        rows = runner.run(spec, files, runtime, progress=rec)
        assert rows == runner.run(spec, files, runtime), runtime
        if runtime == "micropython":
            assert rec.times == [60000, 120000] and rec.notes == [NOTE + "\n"], (rec.times, rec.notes)
        else:
            assert rec.times == [r[0] for r in rows]


def test_a_bar_only_on_a_terminal_and_never_with_quiet():
    assert not progress.wanted(io.StringIO())
    d = Drain()
    with os.fdopen(os.dup(d.slave), "w") as tty:
        assert progress.wanted(tty) and not progress.wanted(tty, quiet=True)
        bar = progress.SimBar(120000, tty)
        bar.at(60000)
        with bar.above_bar():
            sys.stderr.write("a note\n")
        bar.close()
    err = d.close()
    assert "a note" in err and "2.0/2.0 sim min" in err
    s = io.StringIO()
    bar = progress.SimBar(120000, s)
    bar.at(60000)
    bar.note("a note\n")
    bar.close()
    assert s.getvalue() == "a note\n"


def test_bench_slow_parts_draw_a_bar_on_a_terminal(monkeypatch, capsys):
    from tools import bench
    monkeypatch.setattr(bench, "FAULTS", ("sensor_offset",))
    d = Drain()
    tty = os.fdopen(os.dup(d.slave), "w")
    monkeypatch.setattr(sys, "stderr", tty)
    try:
        out = bench.detection()
    finally:
        tty.close()
        monkeypatch.undo()
    assert "fault detection" in d.close()
    assert out["sensor_offset"]["trip"] == "sensor_range"
    # Not a terminal: nothing but what bench says, as print() says it.
    monkeypatch.setattr(bench, "FAULTS", ("sensor_offset",))
    assert bench.detection() == out
    bench.say("firmware:", 1, "bytes")
    got = capsys.readouterr()
    assert got.out == "firmware: 1 bytes\n" and got.err == ""


def test_make_soaks_flash_fuzz_draws_a_bar_on_a_terminal_only(tmp_path):
    """The flash fuzz's fixture boots thousands of cases per VM in `make
    soak` without a line of output: on a terminal it draws a bar of the
    cases both VMs have booted, past pytest's capture; in a pipe nothing."""
    env = dict(os.environ, FUZZ_EXAMPLES="30", FUZZ_SEED="3")
    env.pop("PYTEST_XDIST_WORKER", None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
           os.path.join(paths.ROOT, "host_tests", "test_fuzz_flash.py"), "-k", "budget"]
    d = Drain()
    r = subprocess.run(cmd, stdout=d.slave, stderr=d.slave, cwd=paths.ROOT, timeout=600, env=env)
    shown = d.close()
    assert r.returncode == 0, shown[-2000:]
    assert "flash fuzz (both VMs)" in shown and "case" in shown, shown[-2000:]
    r = subprocess.run(cmd, capture_output=True, cwd=paths.ROOT, timeout=600, env=env)
    assert r.returncode == 0 and b"flash fuzz" not in r.stdout + r.stderr


def test_the_fuzz_bar_counts_whole_case_lines_as_they_come(tmp_path):
    import test_fuzz_flash
    p = tmp_path / "out.txt"
    seen = [0, 0]
    p.write_bytes(b"C profiles.json 0\nV x\nC profiles.json 1\nC prof")
    assert test_fuzz_flash._count_cases(str(p), seen) == 2
    p.write_bytes(b"C profiles.json 0\nV x\nC profiles.json 1\nC profiles.json 2\nDONE 3\n")
    assert test_fuzz_flash._count_cases(str(p), seen) == 3
    assert test_fuzz_flash._count_cases(str(tmp_path / "none"), seen) == 3
