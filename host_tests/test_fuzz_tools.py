"""Fuzz: the host tools' inputs fail with a message, never a traceback.

Profiles (make profiles-check / profiles-push, sessions --schedule), board
files (make flash BOARD=path, make board BOARD=...), session logs (make
logs, sessions import) and scenarios (make sim): FUZZ_EXAMPLES random and
mutated files each (host_tests/fuzz_cases.py), through the tools' own entry
points. Every bad input gives one line per problem naming the file, the
path and the rule, exit status 2, no traceback, and nothing half-written;
the firmware's loaders (profiles, board) also under hypothesis with any
JSON value anywhere, since the board runs the same code.
"""
import json
import os
import random
import sqlite3
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fuzz_cases
from hw import board as board_mod
from pump import profiles as profiles_mod
from tools import deploy, paths
from tools.sessions import logfile
from tools.sessions.__main__ import main as sessions_main

N = int(os.environ.get("FUZZ_EXAMPLES", "240"))
SEED = os.environ.get("FUZZ_SEED", "1")
PY = sys.executable


def cases(name, n=N, valid=None):
    rnd = random.Random("%s-tools-%s" % (SEED, name))
    return [c for c in fuzz_cases.cases_for(name, rnd, n, valid) if c is not None]


def one_liners(text, path):
    """Problems in an error output: lines that do not name the file, or a traceback."""
    bad = []
    if "Traceback" in text:
        bad.append("a traceback")
    for line in text.splitlines():
        if not line.startswith(path + ":") or len(line) > 400 or len(line) <= len(path) + 3:
            bad.append("not one line naming the file, the path and the rule: %r" % line[:200])
    return bad


# -- profiles --------------------------------------------------------------------------------

def test_profiles_check_on_damaged_files(tmp_path, capsys):
    valid = open(paths.PROFILES_JSON, "rb").read()
    bad, n_refused = [], 0
    for i, data in enumerate(cases("profiles.json", valid=valid)):
        p = str(tmp_path / ("p%d.json" % i))
        with open(p, "wb") as f:
            f.write(data)
        rc = deploy.main(["profiles-check", p])
        out, err = capsys.readouterr()
        if rc == 0:
            if not out.startswith(p + " is valid") or err:
                bad.append((i, "valid without saying so: %r %r" % (out[:100], err[:100])))
            continue
        n_refused += 1
        if rc != 2:
            bad.append((i, "exit status %d" % rc))
        bad += [(i, b) for b in one_liners(err, p)]
    assert not bad, "seed %s:\n%s" % (SEED, "\n".join("%d: %s" % b for b in bad[:20]))
    assert n_refused > N // 2


def test_profiles_check_and_push_hard_cases_from_the_command_line(tmp_path):
    """The issue's tracebacks, through the real processes (make calls these)."""
    files = {"garbage.json": b"\xff\xfe\x00garbage\x9a", "deep.json": b"[" * 1000 + b"]" * 1000,
             "deeper.json": b'{"version": ' + b"[" * 100000, "empty.json": b"", "nul.json":
             open(paths.PROFILES_JSON, "rb").read() + b"\x00"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        p = str(tmp_path / name)
        for cmd in (["profiles-check", p], ["profiles-push", p, "--port", "socket://127.0.0.1:9"]):
            r = subprocess.run([PY, "-m", "tools.deploy"] + cmd, capture_output=True, text=True, cwd=paths.ROOT)
            assert r.returncode == 2 and r.stdout == "", (cmd, r.stdout, r.stderr)
            assert one_liners(r.stderr, p) == [], (cmd, r.stderr)
    assert "empty.json: empty" in subprocess.run([PY, "-m", "tools.deploy", "profiles-check", str(tmp_path / "empty.json")],
                                                 capture_output=True, text=True, cwd=paths.ROOT).stderr


def test_schedule_file_for_the_plan_never_tracebacks(tmp_path, capsys):
    valid = open(paths.PROFILES_JSON, "rb").read()
    db = str(tmp_path / "s.db")
    log = tmp_path / "sessions.log"
    log.write_bytes(fuzz_cases.valid_contents()["sessions.log"])
    assert sessions_main(["--db", db, "import", str(log)]) == 0
    capsys.readouterr()
    bad = []
    for i, data in enumerate(cases("profiles.json", n=min(N, 120), valid=valid)):
        p = str(tmp_path / ("s%d.json" % i))
        with open(p, "wb") as f:
            f.write(data)
        rc = sessions_main(["--db", db, "plan", "--schedule", p, "--now", "2026-01-01T12:00"])
        out, err = capsys.readouterr()
        if rc not in (0, 2) or "Traceback" in err:
            bad.append((i, rc, err[:200]))
    assert not bad, bad[:10]


# -- board files -----------------------------------------------------------------------------

def test_board_files_on_damaged_files(tmp_path):
    bad = []
    for i, data in enumerate(cases("board.json")):
        p = str(tmp_path / ("b%d.json" % i))
        with open(p, "wb") as f:
            f.write(data)
        try:
            deploy.board_file(p)
        except deploy.InputError as e:
            bad += [(i, b) for b in one_liners(str(e), deploy.shown(p))]
    assert not bad, "seed %s:\n%s" % (SEED, "\n".join("%d: %s" % b for b in bad[:20]))


def _json_values(depth=3):
    leaf = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 40, 2 ** 40), st.floats(allow_nan=False),
                     st.text(max_size=12), st.sampled_from(["rp2", "esp32", "analog", "mprls", "LED", "", "\n"]))
    return st.recursive(leaf, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                     st.dictionaries(st.text(max_size=8), kids, max_size=4)),
                        max_leaves=8)


def _put(raw, rnd, value):
    """value at a random path of raw (a copy)."""
    raw = json.loads(json.dumps(raw))
    node = raw
    while isinstance(node, dict) and node and rnd.random() < 0.7:
        k = rnd.choice(sorted(node))
        if not isinstance(node[k], (dict, list)) or rnd.random() < 0.3:
            node[k] = value
            return raw
        node = node[k]
    if isinstance(node, dict):
        node[rnd.choice(list(node) + ["", "x", "pin"])] = value
    elif isinstance(node, list) and node:
        node[rnd.randrange(len(node))] = value
    return raw


FILE_RULES = ("empty", "not UTF-8 text", "no such file", "a folder, not a file")


def _path_and_rule(errors):
    """Errors that are not one line of `path: rule` (or a rule about the
    whole file: empty, not UTF-8, too large, not valid JSON at line L ...)."""
    return [e for e in errors if "\n" in e or len(e) > 400 or e.startswith(": ") or (
        ": " not in e and e not in FILE_RULES and "bytes, more than" not in e)]


@settings(max_examples=max(150, N))
@given(value=_json_values(), seed=st.integers(0, 2 ** 16), name=st.sampled_from(fuzz_cases.BOARDS))
def test_board_loader_never_raises_and_every_error_has_a_path(value, seed, name):
    raw = _put(json.loads(fuzz_cases.board_text(name)), random.Random(seed), value)
    b, errors = board_mod.load(raw)
    assert (b is None) == bool(errors)
    assert _path_and_rule(errors) == []


@settings(max_examples=max(150, N))
@given(value=_json_values(), seed=st.integers(0, 2 ** 16))
def test_profiles_loader_never_raises_and_every_error_has_a_path(value, seed):
    raw = _put(json.load(open(paths.PROFILES_JSON)), random.Random(seed), value)
    p, errors = profiles_mod.load(raw)
    assert (p is None) == bool(errors)
    assert _path_and_rule(errors) == []


def test_virtual_board_refuses_a_bad_board_file_in_one_line(tmp_path):
    p = tmp_path / "mine.json"
    p.write_bytes(b"\xff{")
    r = subprocess.run([PY, "-m", "tools.vboard", "--board", str(p), "--flash", str(tmp_path / "f")],
                       capture_output=True, text=True, cwd=paths.ROOT, timeout=60)
    assert r.returncode == 2 and one_liners(r.stderr, str(p)) == [], r.stderr


# -- session logs ----------------------------------------------------------------------------

@pytest.fixture
def fast_dir(tmp_path):
    """A folder in /dev/shm when there is one: hundreds of SQLite files,
    each created with an fsync, take ten times longer on the disk."""
    if not (os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK)):
        yield tmp_path
        return
    import shutil
    import tempfile
    d = tempfile.mkdtemp(prefix="pump-fuzz-", dir="/dev/shm")
    try:
        yield __import__("pathlib").Path(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_session_log_import_on_damaged_logs(fast_dir, capsys):
    tmp_path = fast_dir
    valid = fuzz_cases.valid_contents()["sessions.log"]
    bad = []
    for i, data in enumerate(cases("sessions.log", valid=valid)):
        p = str(tmp_path / ("l%d.log" % i))
        with open(p, "wb") as f:
            f.write(data)
        db = str(tmp_path / ("d%d.db" % i))
        rc = sessions_main(["--db", db, "import", p])
        out, err = capsys.readouterr()
        recs, problems = logfile.parse_bytes(data, p)
        if rc not in (0, 1) or "Traceback" in err:
            bad.append((i, "exit %d %s" % (rc, err[:200])))
            continue
        # Two different records under one (board, seq) in the same file (a
        # mutated seq): the second is set aside as a conflict, also exit 1.
        first = {}
        conflicts = 0
        for r in recs:
            if first.setdefault(r.key, r.data) != r.data:
                conflicts += 1
        if (rc == 1) != bool(problems or conflicts):
            bad.append((i, "exit %d with %d problems and %d conflicts" % (rc, len(problems), conflicts)))
        for line in err.splitlines():
            if not line.startswith(p + ":") or "\n" in line:
                bad.append((i, "not a file:line: reason line: %r" % line[:200]))
        n = sqlite3.connect(db).execute("select count(*) from sessions").fetchone()[0]
        if n != len({r.key for r in recs}):
            bad.append((i, "%d records in the database, %d intact in the file" % (n, len(recs))))
    assert not bad, "seed %s:\n%s" % (SEED, "\n".join("%d: %s" % b for b in bad[:20]))


@pytest.mark.parametrize("field,value", [("seq", 2 ** 64), ("boot", 2 ** 63), ("uptime_s", 10 ** 30),
                                         ("duration_s", 2 ** 31)])
def test_a_log_record_with_an_integer_too_large_is_refused_in_one_line(tmp_path, capsys, field, value):
    """The firmware writes 31-bit integers; a larger one is damage (SQLite
    cannot even store one past 2^63), refused with the file, line and field."""
    good = logfile.parse_bytes(fuzz_cases.valid_contents()["sessions.log"])[0][0].data
    rec = dict(good, **{field: value})
    p = str(tmp_path / "big.log")
    with open(p, "wb") as f:
        f.write(logfile.encode(rec))
    db = str(tmp_path / "d.db")
    assert sessions_main(["--db", db, "import", p]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1 and err.startswith(p + ":1: "), err
    assert "field %s" % field in err and "2147483647" in err, err
    assert sqlite3.connect(db).execute("select count(*) from sessions").fetchone()[0] == 0


def test_unusable_logs_leave_no_database(tmp_path, capsys):
    (tmp_path / "folder.log").mkdir()
    for p in (str(tmp_path / "nosuch.log"), str(tmp_path / "folder.log")):
        db = str(tmp_path / "new.db")
        assert sessions_main(["--db", db, "import", p]) == 2
        err = capsys.readouterr().err
        assert err.startswith(p + ": ") and "Traceback" not in err
        assert not os.path.exists(db)


# -- scenarios (tools/sim belongs to the simulator's owner) ------------------------------------

def test_scenario_files_on_damaged_files(tmp_path):
    from tools.sim import scenario
    valid = open(os.path.join(paths.ROOT, "tools", "scenarios", "standard_letdown.json"), "rb").read()
    bad = []
    for i, data in enumerate(cases("profiles.json", valid=valid)):
        if b"[" * 900 in data or b"{\"a\":" * 90 in data:
            continue                          # nested ~1000 deep: test_scenario_nested_1000_deep
        p = str(tmp_path / ("s%d.json" % i))
        with open(p, "wb") as f:
            f.write(data)
        try:
            sc, errors = scenario.load_file(p)
            if sc is not None:
                scenario.resolve(sc)
        except Exception as e:  # noqa: B902 - that is the finding
            bad.append((i, "%s: %s" % (type(e).__name__, e)))
            continue
        bad += [(i, "not path: rule: %r" % e) for e in _path_and_rule(errors)]
    assert not bad, "seed %s:\n%s" % (SEED, "\n".join("%d: %s" % b for b in bad[:20]))



def _sim(tmp_path, scenario_bytes, extra=None):
    p = tmp_path / "sc.json"
    p.write_bytes(scenario_bytes)
    for name, data in (extra or {}).items():
        (tmp_path / name).write_bytes(data)
    r = subprocess.run([PY, "-m", "tools.sim", str(p)], capture_output=True, text=True, cwd=paths.ROOT, timeout=120)
    return r, str(p)


def test_scenario_nested_1000_deep(tmp_path):
    r, p = _sim(tmp_path, b'{"board": "sim", "events": ' + b"[" * 1000 + b"]" * 1000 + b"}")
    assert r.returncode == 2 and "Traceback" not in r.stderr and one_liners(r.stderr, p) == [], r.stderr


def test_scenario_with_a_binary_profiles_file(tmp_path):
    sc = {"board": "sim", "profiles": "bin.json", "duration_s": 5, "seed": 1, "events": []}
    r, p = _sim(tmp_path, json.dumps(sc).encode(), {"bin.json": b"\xff\xfe\x00\x9a"})
    assert r.returncode == 2 and "Traceback" not in r.stderr and "bin.json" in r.stderr, r.stderr


def test_scenario_negative_duration_is_one_error(tmp_path):
    sc = json.load(open(os.path.join(paths.ROOT, "tools", "scenarios", "standard_letdown.json")))
    sc["duration_s"] = -5
    r, p = _sim(tmp_path, json.dumps(sc).encode())
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [p + ": duration_s: -5 is below the minimum 1"], \
        r.stderr


def test_scenario_missing_file_names_it_once(tmp_path):
    r = subprocess.run([PY, "-m", "tools.sim", "nosuch.json"], capture_output=True, text=True, cwd=paths.ROOT)
    assert r.returncode == 2 and r.stderr.count("nosuch.json") == 1, r.stderr
