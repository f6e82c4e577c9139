"""Fuzz: nothing on the flash but board.json stops the pump, on both VMs.

For each file the firmware reads (profiles.json, state.json, session.cur,
sessions.log, reset.flag, clock.set) and for board.json, FUZZ_EXAMPLES cases
(host_tests/fuzz_cases.py: random bytes, byte and JSON mutations of the
valid file, log lines with recomputed CRCs, empty, huge, deeply nested, a
folder in its place) go through the real boot path (app.boot reading the
files from a host folder as the flash) under CPython and under the
MicroPython unix port at once (vm_scripts/flash_fuzz.py), then a start
press and a stop press. Checked:

- boot never raises; only board.json refuses (BoardError, one-line
  `board.json: path: rule` messages); before the press the motor is off
  and the valve open; the start press pumps, the stop press stops;
- config_invalid is shown exactly when profiles.json was refused, and
  every message names the file;
- the session log is never given up; the records the board adds are whole
  to the host's importer (tools/sessions/logfile.py, the contract) and take
  a session number never used before; a damaged state.json or session.cur
  is kept aside as NAME.bad;
- both VMs print the same verdicts and messages, case by case, and add the
  same records.

`make test`: FUZZ_EXAMPLES=240 per file (about 1,680 boots per VM);
`make soak`: FUZZ_EXAMPLES=3000 and another seed per run (FUZZ_SEED).
"""
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

import fuzz_cases
import mpvm
from tools.sessions import logfile

N = int(os.environ.get("FUZZ_EXAMPLES", "240"))
SEED = os.environ.get("FUZZ_SEED", "1")
SCRIPT = os.path.join(mpvm.SCRIPTS, "flash_fuzz.py")
NAMES = fuzz_cases.FLASH_FILES
GOOD_SEQS = (6, 7)                 # the good sessions.log; the good state.json says seq 7


def _start(cmd, env, out):
    return subprocess.Popen(cmd, stdout=open(out, "w"), stderr=subprocess.STDOUT, env=env, cwd=mpvm.ROOT)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, request):
    """Both VMs over the same cases, side by side (one core each). The
    flashes live in /dev/shm when there is one: some 10,000 small writes
    per VM, three times faster than on the disk."""
    cases = str(tmp_path_factory.mktemp("fuzz") / "cases")
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    base = pathlib.Path(tempfile.mkdtemp(prefix="pump-fuzz-", dir=shm or str(tmp_path_factory.getbasetemp())))
    try:
        yield _run_both(cases, base, request.config)
    finally:
        shutil.rmtree(str(base), ignore_errors=True)


def _bar(config, total):
    """A tqdm bar of the cases both VMs have booted (`make soak`'s 21,000
    per VM take minutes), drawn past pytest's capture on a terminal only."""
    import sys as _sys
    from tools import progress
    capman = config.pluginmanager.getplugin("capturemanager")
    if capman is None:
        return None
    from tqdm import tqdm
    with capman.global_and_fixture_disabled():       # the terminal pytest's capture stands in for
        if not progress.wanted(_sys.stderr):
            return None
        return capman, tqdm(total=total, desc="flash fuzz (both VMs)", unit="case", file=_sys.stderr, leave=False,
                            **progress._width(_sys.stderr))


def _count_cases(path, seen):
    """Cases started in a VM's output so far ("C " lines), read on from the
    last offset."""
    try:
        with open(path, "rb") as f:
            f.seek(seen[0])
            data = f.read()
    except OSError:
        return seen[1]
    cut = data.rfind(b"\n") + 1                  # whole lines only
    seen[0] += cut
    seen[1] += sum(1 for line in data[:cut].split(b"\n") if line.startswith(b"C "))
    return seen[1]


def _run_both(cases, base, config=None):
    counts = fuzz_cases.write_cases(cases, SEED, N)
    paths = [mpvm.FIRMWARE, mpvm.FAKES, mpvm.SIM_VM]
    env_cp = dict(os.environ, PYTHONPATH=":".join(paths + [os.path.join(mpvm.ROOT, "tools", "cpython_shim")]))
    env_mp = dict(os.environ, MICROPYPATH=":".join(paths + [".frozen"]))
    t0 = time.monotonic()
    procs = {
        "cpython": _start([sys.executable, SCRIPT, cases, str(base / "cp")] + list(NAMES), env_cp,
                          str(base / "cp.txt")),
        "micropython": _start([mpvm.binary(), "-X", "heapsize=16m", SCRIPT, cases, str(base / "mp")] + list(NAMES),
                              env_mp, str(base / "mp.txt")),
    }
    total = sum(counts.values())
    bar = _bar(config, total) if config is not None else None
    if bar is not None:
        seen = {vm: [0, 0] for vm in procs}
        while any(p.poll() is None for p in procs.values()) and time.monotonic() - t0 < 900:
            n = min(_count_cases(str(base / ("cp.txt" if vm == "cpython" else "mp.txt")), seen[vm])
                    for vm in procs)
            with bar[0].global_and_fixture_disabled():
                bar[1].update(n - bar[1].n)
            time.sleep(1)
        with bar[0].global_and_fixture_disabled():
            bar[1].close()
    for p in procs.values():
        p.wait(timeout=900)
    out = {}
    for vm, tag in (("cpython", "cp"), ("micropython", "mp")):
        with open(str(base / (tag + ".txt")), encoding="utf-8", errors="backslashreplace") as f:
            out[vm] = {"text": f.read(), "added": str(base / tag / "added"), "rc": procs[vm].returncode}
    out["counts"] = counts
    out["cases"] = cases
    out["seconds"] = time.monotonic() - t0
    return out


def blocks(text):
    """{(name, i): [lines printed for that case, the V line last]}."""
    out = {}
    key = None
    for line in text.splitlines():
        if line.startswith("C "):
            _, name, i = line.split(" ")
            key = (name, int(i))
            out[key] = []
        elif line.startswith("DONE "):
            key = None
        elif key is not None:
            out[key].append(line)
    return out


@pytest.mark.parametrize("vm", ["cpython", "micropython"])
def test_every_case_boots_and_pumps(runs, vm):
    r = runs[vm]
    assert r["rc"] == 0, r["text"][-3000:]
    total = sum(runs["counts"].values())
    assert ("DONE %d" % total) in r["text"], r["text"][-3000:]
    assert total >= 6 * min(N, 200)
    fails = [line for line in r["text"].splitlines() if line.startswith("FAIL ")]
    assert not fails, "%d of %d cases broke a rule:\n%s" % (len(fails), total, "\n".join(fails[:30]))


def test_both_vms_print_the_same_verdicts_and_messages(runs):
    cp, mp = blocks(runs["cpython"]["text"]), blocks(runs["micropython"]["text"])
    assert sorted(cp) == sorted(mp)
    differ = [(k, cp[k], mp[k]) for k in sorted(cp) if cp[k] != mp[k]]
    assert not differ, "%d cases differ; first:\n%r\n  cpython: %s\n  micropython: %s" % (
        len(differ), differ[0][0], "\n    ".join(differ[0][1]), "\n    ".join(differ[0][2]))


@pytest.mark.parametrize("vm", ["cpython", "micropython"])
def test_messages_name_the_file_and_config_invalid_matches(runs, vm):
    bad = []
    for (name, i), lines in blocks(runs[vm]["text"]).items():
        verdict = [x for x in lines if x.startswith("V ")][-1].split()
        said = [x for x in lines if not x.startswith("FAIL ") and not x.startswith("V ")]
        for x in said:
            named = x.split(": ")[0] in NAMES + ("sensor", "session log") or (
                x.startswith("session ") and x.endswith(" was cut short (power cut or reset): logged"))
            if not named:
                bad.append((name, i, "message without a file: " + x))
            if len(x) > 300:
                bad.append((name, i, "a message of %d characters" % len(x)))
        if name == "profiles.json" and "notice" in verdict:
            refused = any(x.startswith("profiles.json: ") for x in said)
            if refused != (verdict[verdict.index("notice") + 1] == "8"):
                bad.append((name, i, "config_invalid %s but profiles.json %s" % (
                    verdict[verdict.index("notice") + 1], "refused" if refused else "accepted")))
        if name in ("state.json", "session.cur") and any(x.startswith(name + ": ") and "kept as" in x for x in said):
            if name + ".bad" not in verdict and name + ".bad/" not in verdict:
                bad.append((name, i, "said kept aside, no %s.bad" % name))
    assert not bad, "\n".join("%s %d: %s" % b for b in bad[:30])


def _records(path):
    with open(path, "rb") as f:
        data = f.read()
    recs, problems = logfile.parse_bytes(data.lstrip(b"\n"), os.path.basename(path))
    return recs, problems


def _rounded(v):
    if isinstance(v, float):
        return round(v, 6)
    if isinstance(v, dict):
        return {k: _rounded(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_rounded(x) for x in v]
    return v


def test_added_records_are_whole_and_new_and_the_same_on_both_vms(runs):
    cp_dir, mp_dir = runs["cpython"]["added"], runs["micropython"]["added"]
    bad = []
    for f in sorted(os.listdir(cp_dir)):
        name, i = f.rsplit("-", 1)
        recs, problems = _records(os.path.join(cp_dir, f))
        mp_recs, mp_problems = _records(os.path.join(mp_dir, f))
        if problems or mp_problems:
            bad.append((f, "the board added lines the importer refuses: %s" % (problems or mp_problems)[:2]))
            continue
        if [_rounded(r.data) for r in recs] != [_rounded(r.data) for r in mp_recs]:
            bad.append((f, "the VMs added different records"))
        ends = [r.data["end"] for r in recs]
        if ends[-1:] != ["stop"] and name != "board.json":
            bad.append((f, "the last added record ends %s, not stop" % ends[-1:]))
        for r in recs:
            if r.data["seq"] <= max(GOOD_SEQS) and name != "board.json":
                bad.append((f, "session number %d used again (the log has %s)" % (r.data["seq"], GOOD_SEQS)))
        if len(set(r.data["seq"] for r in recs)) != len(recs):
            bad.append((f, "one session number twice in the added records"))
    assert not bad, "%d problems:\n%s" % (len(bad), "\n".join("%s: %s" % b for b in bad[:30]))


def test_a_whole_session_cur_becomes_one_power_cut_record(runs):
    """Case 2 is the good session.cur unchanged (session 8, running): logged
    once as a power cut, and the new session is 9."""
    for vm in ("cpython", "micropython"):
        recs, problems = _records(os.path.join(runs[vm]["added"], "session.cur-2"))
        assert not problems
        assert [(r.data["seq"], r.data["end"], r.data["duration_at_least"]) for r in recs] == [
            (8, "power_cut", True), (9, "stop", False)]


def test_clock_set_gives_the_time_only_when_it_is_a_whole_valid_time(runs):
    """Case 2 is the valid file (as make flash leaves it): the boot takes
    its time; a case gives a time only when it is six whole numbers
    forming a real date, the time they say (the fake board's uptime at
    boot is under half a second)."""
    from hw.wallclock import parse
    from pump.jsontext import loads
    from pump.record import seconds_2000
    got = {}
    for (name, i), lines in blocks(runs["cpython"]["text"]).items():
        if name == "clock.set":
            v = [x for x in lines if x.startswith("V ")][-1].split()
            got[i] = v[v.index("wall") + 1]
    assert got[2] == str(seconds_2000((2026, 12, 2, 7, 50, 3)))
    wrong = []
    folder = os.path.join(runs["cases"], "clock.set")
    for i, wall in got.items():
        path = os.path.join(folder, str(i))
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            v, _why = loads(f.read())                   # the firmware's strict reader
        ok = parse(v) if isinstance(v, list) else None
        if str(seconds_2000(ok) if ok else None) != wall and not (ok is None and wall == "None"):
            wrong.append((i, v, wall))
    assert not wrong, wrong[:10]


def test_fuzz_budget(runs):
    """make test's share: both VMs side by side within ~60 s on 2 cores."""
    print("fuzz: %d flash cases per VM in %.1f s" % (sum(runs["counts"].values()), runs["seconds"]))
    if N <= 300:
        assert runs["seconds"] < 90
