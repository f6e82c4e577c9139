"""The board's session log and schedule (docs/session-log.md).

Records at every way a session ends (driven through the simulator, so the
real app, buttons and drivers are in the loop), torn writes at every byte,
rotation, free space, due and missed times (also across the 2^30 ms tick
wrap and without a set clock), the catch-up offer after a miss, and power
days remembered across a reboot."""
import copy
import json
import os

import pytest

from hw import sessionlog
from hw.sessionlog import SessionLog
from pump.record import Record, decode, encode, seconds_2000
from pump.schedule import SCHED_DUE, SCHED_EARLY, SCHED_MISSED, SCHED_NONE, Schedule
from tools import paths
from tools.sim import runner, scenario
from tools.sim import summary as S

paths.use_sim()
from engine import Engine  # noqa: E402

SHORT = json.load(open(paths.PROFILES_JSON))
SHORT["start_level"] = "default"            # level 5: the 90 and 190 mmHg targets the peaks are checked against
SHORT["limits"]["pause_timeout_min"] = 1
SHORT["programs"]["standard"] = [{"mode": "stimulation", "minutes": 0.5}, {"mode": "expression", "minutes": 1}]
SHORT["programs"]["power"] = [{"mode": "expression", "minutes": 0.5}, {"rest": 0.5}, {"mode": "expression",
                                                                                      "minutes": 0.5}]


def run(tmp_path, events, duration_s, profiles=None, wall=None, seed=1):
    prof_path = None
    if profiles is not None:
        prof_path = str(tmp_path / "profiles.json")
        with open(prof_path, "w") as f:
            json.dump(profiles, f)
    d = {"board": "sim", "duration_s": duration_s, "seed": seed, "events": events}
    if prof_path:
        d["profiles"] = prof_path
    sc, errors = scenario.load(d)
    assert errors == []
    spec, files = scenario.resolve(sc)
    spec["wall_start_s"] = wall
    flash = tmp_path / "flash"
    flash.mkdir(exist_ok=True)
    rows = list(Engine(spec, files, str(flash)).rows())
    log = SessionLog(str(flash))
    log.load_state()
    return rows, log, flash


def test_record_when_stopped(tmp_path):
    middle = json.load(open(paths.PROFILES_JSON))
    middle["start_level"] = "default"
    _, log, flash = run(tmp_path, [{"at_s": 1, "press": "start"}, {"at_s": 20, "press": "level_up"},
                                   {"at_s": 40, "press": "stop"}], 45, profiles=middle,
                        wall=seconds_2000((2026, 11, 28, 7, 0, 0)))
    (rec,) = log.records()
    assert rec["end"] == "stop" and rec["seq"] == 1 and rec["v"] == 1
    assert rec["start"] == "2026-11-28T07:00:01" and rec["program"] == "standard"
    assert 38 <= rec["duration_s"] <= 39 and rec["duration_at_least"] is False
    assert rec["levels"]["stimulation"] == [5, 6]
    assert 85 <= rec["peak_mmhg"]["stimulation"] <= 105
    assert rec["mode_s"]["stimulation"] >= 38 and rec["faults"] == []
    assert not (flash / "session.cur").exists()


def test_record_at_auto_off(tmp_path):
    _, log, _ = run(tmp_path, [{"at_s": 1, "press": "start"}], 100, profiles=SHORT)
    (rec,) = log.records()
    assert rec["end"] == "auto_off" and 89 <= rec["duration_s"] <= 90
    assert 29 <= rec["mode_s"]["stimulation"] <= 30 and 59 <= rec["mode_s"]["expression"] <= 60
    assert 185 <= rec["peak_mmhg"]["expression"] <= 200
    assert rec["start"] is None                                # the clock was never set


def test_record_at_a_fault(tmp_path):
    _, log, _ = run(tmp_path, [{"at_s": 1, "press": "start"}, {"at_s": 5, "fault": "motor_stall"}], 30)
    (rec,) = log.records()
    assert rec["end"] == "fault" and rec["faults"] == ["no_vacuum"]


def test_record_at_a_pause_timeout(tmp_path):
    _, log, flash = run(tmp_path, [{"at_s": 1, "press": "start"}, {"at_s": 10, "press": "pause"}], 80,
                        profiles=SHORT)
    (rec,) = log.records()
    assert rec["end"] == "pause_timeout" and 59 <= rec["mode_s"]["paused"] <= 60


def test_power_cut_is_recorded_at_the_next_boot(tmp_path):
    rows, log, flash = run(tmp_path, [{"at_s": 1, "press": "start"}, {"at_s": 12, "press": "pause"},
                                      {"at_s": 14, "press": "pause"},
                                      {"at_s": 30, "fault": "power_cut", "duration_s": 2},
                                      {"at_s": 40, "press": "start"}, {"at_s": 50, "press": "stop"}], 55)
    recs = log.records()
    assert [r["end"] for r in recs] == ["power_cut", "stop"]
    assert recs[0]["duration_at_least"] is True
    assert 10 <= recs[0]["duration_s"] <= 13                     # the last write: at the pause
    assert [r["seq"] for r in recs] == [1, 2] and [r["boot"] for r in recs] == [1, 2]
    log.boot("x", "sim", ("standard",))                         # a third boot reads the saved state
    assert log.state["boots"] == 3 and log.state["seq"] == 2


def test_writes_happen_only_with_the_motor_off(tmp_path, monkeypatch):
    """Every flash write (state, current session, log) finds the motor
    stopped and the valve vented: the start press, a pause, the minute's
    checkpoints while running (in a release phase) and the stop."""
    import app
    import machine
    seen = []
    apps = []
    real_step = app.App.step

    def step(self, now_ms):
        if not apps or apps[-1] is not self:
            apps.append(self)
        return real_step(self, now_ms)
    monkeypatch.setattr(app.App, "step", step)

    def state():
        return apps[-1].session.state if apps else -1
    real = sessionlog.write_atomic

    def spy(path, text):
        w = machine.world
        seen.append((w.pwm_duty(16), w.level(17), os.path.basename(path), state()))
        real(path, text)
    monkeypatch.setattr(sessionlog, "write_atomic", spy)
    real_append = SessionLog._append

    def spy_append(self, line):
        w = machine.world
        seen.append((w.pwm_duty(16), w.level(17), "sessions.log", state()))
        return real_append(self, line)
    monkeypatch.setattr(SessionLog, "_append", spy_append)
    run(tmp_path, [{"at_s": 1, "press": "start"}, {"at_s": 12, "press": "pause"}, {"at_s": 14, "press": "pause"},
                   {"at_s": 135, "press": "stop"}], 140)
    assert len(seen) >= 7
    assert all(duty == 0 and valve == 0 for duty, valve, _, _ in seen)
    cur = [st for _, _, name, st in seen if name == "session.cur"]
    assert cur[:2] == [0, 2] and cur[2:] == [1, 1]               # start, pause, two checkpoints while running


# -- the file format ---------------------------------------------------------------------

def records(n):
    out = []
    for i in range(n):
        r = Record()
        r.start(i + 1, 849166205 + 3 * 3600 * i, 60 * i, 1, 0, "due")
        r.duration_ms = 1800000
        r.finish(1)
        out.append(r)
    return out


def test_line_format_is_json_tab_crc_newline():
    r = records(1)[0]
    line = encode(r.as_dict("e6614104032f5a2a", "pico", ("standard", "power", "catch_up")))
    text, crc = line[:-1].split("\t")
    import binascii
    assert crc == "%08x" % binascii.crc32(text.encode()) and len(crc) == 8
    assert decode(line) == json.loads(text)
    assert decode(line[:-1]) is None                                  # no newline: torn
    assert decode(line.replace('"pico"', '"pica"')) is None           # bad CRC


def test_a_torn_write_at_any_byte_never_loses_an_earlier_record(tmp_path):
    log = SessionLog(str(tmp_path))
    lines = [encode(r.as_dict("b", "pico", ("standard",))) for r in records(4)]
    data = "".join(lines)
    ends = []
    total = 0
    for ln in lines:
        total += len(ln)
        ends.append(total)
    for cut in range(len(data) + 1):
        with open(tmp_path / "sessions.log", "w") as f:
            f.write(data[:cut])
        got = [r["seq"] for r in log.records()]
        assert got == [i + 1 for i, e in enumerate(ends) if e <= cut], cut


def test_a_torn_session_file_at_boot_is_dropped_not_misread(tmp_path):
    log = SessionLog(str(tmp_path))
    r = records(1)[0]
    line = encode(r.as_dict("b", "pico", ("standard",)))
    for cut in (0, 5, len(line) - 2):
        (tmp_path / "session.cur").write_text(line[:cut])
        assert log.boot("b", "pico", ("standard",)) is None
        assert not (tmp_path / "session.cur").exists()


def test_rotation_keeps_the_newest_records_in_bounded_space(tmp_path):
    log = SessionLog(str(tmp_path), max_bytes=2000, min_free=0)
    for r in records(40):
        log.end(r, "b", "pico", ("standard",))
    seqs = [r["seq"] for r in log.records()]
    assert seqs == list(range(seqs[0], 41)) and seqs[0] > 1         # newest kept, oldest dropped
    assert os.path.getsize(tmp_path / "sessions.log") <= 2000
    assert os.path.getsize(tmp_path / "sessions.1.log") <= 2000


def test_the_log_never_fills_the_flash(tmp_path, monkeypatch):
    free = {"bytes": 20000}
    monkeypatch.setattr(sessionlog, "free_bytes", lambda path: free["bytes"])
    log = SessionLog(str(tmp_path), min_free=16384)
    r = records(1)[0]
    assert log._append(encode(r.as_dict("b", "pico", ("standard",))))
    free["bytes"] = 16500
    assert not log._append(encode(r.as_dict("b", "pico", ("standard",))))
    assert log.skipped == 1 and len(log.records()) == 1


def running(seq):
    r = Record()
    r.start(seq, None, 60, 1, 0, "none")
    r.duration_ms = 61000
    return r


def test_a_session_cur_whose_record_is_already_logged_is_removed_not_logged_twice(tmp_path):
    """A power cut between the end record's append and session.cur's removal."""
    log = SessionLog(str(tmp_path), min_free=0)
    for r in records(3):
        log.end(r, "b", "pico", ("standard",))
    (tmp_path / "session.cur").write_text(encode(running(3).as_dict("b", "pico", ("standard",))))
    assert SessionLog(str(tmp_path), min_free=0).boot("b", "pico", ("standard",)) is None
    assert [r["seq"] for r in log.records()] == [1, 2, 3]
    assert not (tmp_path / "session.cur").exists() and not (tmp_path / "session.cur.bad").exists()


def test_a_damaged_state_is_set_aside_and_counting_goes_on_from_the_log(tmp_path, capsys):
    log = SessionLog(str(tmp_path), min_free=0)
    for r in records(3):
        log.end(r, "b", "pico", ("standard",))
    (tmp_path / "state.json").write_bytes(b'{"boots": 9, "seq": "\xff"}')
    (tmp_path / "session.cur").write_text(encode(running(4).as_dict("b", "pico", ("standard",))))
    log = SessionLog(str(tmp_path), min_free=0)
    cut = log.boot("b", "pico", ("standard",))
    assert cut["seq"] == 4 and cut["end"] == "power_cut"
    assert log.state["seq"] == 4 and log.state["boots"] == 2          # the records' boot was 1
    assert (tmp_path / "state.json.bad").read_bytes() == b'{"boots": 9, "seq": "\xff"}'
    assert "state.json: not UTF-8 text: kept as state.json.bad" in capsys.readouterr().out


def test_a_session_cur_that_is_not_a_whole_running_record_is_set_aside(tmp_path):
    good = running(4).as_dict("b", "pico", ("standard",))
    for change in ({"seq": "4"}, {"end": "stop"}, {"start": "2026-02-30T10:00:00"}, {"mode_s": {"x": -1}},
                   {"levels": {"stimulation": "5"}}, {"faults": [1]}, {"v": True}, {"board": ""}):
        bad = dict(good, **change)
        (tmp_path / "session.cur").write_text(encode(bad))                # a correct CRC: only the content is wrong
        log = SessionLog(str(tmp_path), min_free=0)
        assert log.boot("b", "pico", ("standard",)) is None, change
        assert (tmp_path / "session.cur.bad").exists() and not (tmp_path / "session.cur").exists()
        assert log.records() == []


def test_a_write_the_flash_refuses_loses_the_record_not_the_pump(tmp_path, monkeypatch, capsys):
    log = SessionLog(str(tmp_path), min_free=0)

    def refuse(path, text):
        raise OSError(28, "no space")
    monkeypatch.setattr(sessionlog, "write_atomic", refuse)
    log.begin(running(1), "b", "pico", ("standard",))                   # state.json and session.cur
    log.end(records(1)[0], "b", "pico", ("standard",))                  # the log append still works
    assert log.failed == 3 and [r["seq"] for r in log.records()] == [1]
    assert "session log: write failed (error 28); the pump goes on" in capsys.readouterr().out


def test_folders_in_the_place_of_log_files_are_moved_aside(tmp_path):
    for name in ("sessions.log", "state.json", "session.cur", "state.json.tmp"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "inside").write_text("x")
    log = SessionLog(str(tmp_path), min_free=0)
    assert log.boot("b", "pico", ("standard",)) is None
    log.end(records(1)[0], "b", "pico", ("standard",))
    assert [r["seq"] for r in log.records()] == [1]
    for name in ("sessions.log", "state.json", "session.cur", "state.json.tmp"):
        assert (tmp_path / (name + ".bad") / "inside").exists(), name


# -- schedule --------------------------------------------------------------------------------

def test_interval_schedule_with_the_clock():
    s = Schedule(every_min=180, grace_min=45)
    t0 = 849166205
    assert s.state(t0 + 179 * 60, t0, None) == SCHED_EARLY
    assert s.state(t0 + 180 * 60, t0, None) == SCHED_DUE
    assert s.state(t0 + 224 * 60, t0, None) == SCHED_DUE
    assert s.state(t0 + 225 * 60, t0, None) == SCHED_MISSED


def test_interval_schedule_without_the_clock():
    s = Schedule(every_min=180, grace_min=45)
    assert s.state(None, None, None) == SCHED_NONE                    # nothing to go by
    assert s.state(None, None, 179 * 60) == SCHED_EARLY
    assert s.state(None, None, 200 * 60) == SCHED_DUE
    assert s.state(None, None, 300 * 60) == SCHED_MISSED


def test_times_of_day_schedule():
    s = Schedule(times_min=(6 * 60, 9 * 60, 21 * 60), grace_min=30)
    day = seconds_2000((2026, 11, 28, 0, 0, 0))
    at = lambda h, m: day + (h * 60 + m) * 60  # noqa: E731
    assert s.state(at(9, 10), at(6, 5), None) == SCHED_DUE
    assert s.state(at(9, 40), at(6, 5), None) == SCHED_MISSED
    assert s.state(at(9, 40), at(9, 2), None) == SCHED_EARLY          # done
    assert s.state(at(2, 0), at(21, 10) - 86400, None) == SCHED_EARLY   # after midnight, last done
    assert s.state(at(2, 0), at(9, 0) - 86400, None) == SCHED_MISSED    # 21:00 yesterday missed
    assert s.state(at(10, 0), None, None) == SCHED_MISSED
    assert Schedule(times_min=(360,), grace_min=30).state(None, None, 99999) == SCHED_NONE   # needs the clock


def app_with(tmp_path, schedule, start_ms=0, wall=None, press_start=True):
    """The real app on the fake machine with the fake clock, ticked by hand."""
    import machine
    from app import boot
    from fake_clock import FakeClock
    prof = copy.deepcopy(SHORT)
    prof["schedule"] = schedule
    files = {"board.json": open(os.path.join(paths.BOARDS, "sim.json")).read(), "profiles.json": json.dumps(prof)}
    w = machine.reset_world("rp2", FakeClock(start_ms))
    w.logging = False
    n = [0]

    def ambient_uv():                                        # 4.5 V through 2/3, with a little noise
        n[0] += 1
        return 3000000 + (n[0] * 7919 % 5) * 800
    w.attach_adc_uv(26, ambient_uv)
    log = SessionLog(str(tmp_path))
    a = boot(machine, w.clock, files.get, log, wall)
    return a, w


def tick_for(a, w, ms, step=100):
    out = None
    for _ in range(ms // step):
        w.clock.advance(step)
        out = a.step(w.clock.ticks_ms())
    return out


@pytest.mark.parametrize("start_ms", [0, (1 << 30) - 90 * 60 * 1000])
def test_due_and_missed_without_a_clock_across_the_tick_wrap(tmp_path, start_ms):
    a, w = app_with(tmp_path, {"every_min": 60, "grace_min": 30}, start_ms)
    a.session.press(1)                                       # a session ...
    tick_for(a, w, 5000, 10)
    a.session.press(2)                                       # ... stopped at 5 s
    tick_for(a, w, 1000, 10)
    assert a.books.sched == SCHED_EARLY
    tick_for(a, w, (60 * 60 - 7) * 1000)
    assert a.books.sched == SCHED_EARLY
    tick_for(a, w, 3000)
    assert a.books.sched == SCHED_DUE                        # 60 min after the start
    tick_for(a, w, 30 * 60 * 1000)
    assert a.books.sched == SCHED_MISSED                     # ... plus 30 min of grace
    assert a.session.program == a.books.catch_up             # the next start offers catch_up
    assert a.indicator.sched == SCHED_MISSED


def test_times_of_day_with_the_clock_and_the_catch_up_offer(tmp_path):
    wall = (2026, 11, 28, 8, 50, 0)
    a, w = app_with(tmp_path, {"times": ["06:00", "09:00"], "grace_min": 30}, wall=wall)
    tick_for(a, w, 2000)
    assert a.books.sched == SCHED_MISSED                     # 06:00 was missed
    assert a.session.program == a.books.catch_up
    a.session.press(1)
    tick_for(a, w, 3000, 10)
    a.session.press(2)
    tick_for(a, w, 2000, 10)
    assert a.books.sched == SCHED_EARLY and a.session.program == a.books.standard
    rec = a.log.records()[-1]
    assert rec["program"] == "catch_up" and rec["schedule"] == "missed"
    tick_for(a, w, 15 * 60 * 1000)
    # 09:05: the 08:50 session, within the grace before 09:00, counts for it.
    assert a.books.sched == SCHED_EARLY
    assert a.books.schedule.due_s == seconds_2000((2026, 11, 29, 6, 0, 0))


def test_power_days_survive_a_reboot_and_count_down(tmp_path):
    prof = copy.deepcopy(SHORT)
    prof["programs"]["power"] = [{"mode": "expression", "minutes": 10}, {"rest": 1}, {"mode": "expression",
                                                                                      "minutes": 10}]
    events = [{"at_s": 1, "press": "letdown", "long": True},       # idle: power days on
              {"at_s": 5, "press": "start"}]
    rows, log, flash = run(tmp_path, events, 5 + 21 * 60 + 10, profiles=prof)
    rec = log.records()[-1]
    assert rec["program"] == "power" and rec["end"] == "auto_off" and rec["duration_s"] >= 20 * 60
    assert log.state["power_left"] == 2                            # one power day done
    # A reset: the choice is remembered. Without a set clock the board
    # cannot tell a day has passed since the last power session: it offers
    # power again at the next start (it says nothing it cannot know).
    rows2, log2, _ = run(tmp_path, [{"at_s": 2, "press": "start"}, {"at_s": 8, "press": "stop"}], 10,
                         profiles=prof)
    rec2 = log2.records()[-1]
    assert rec2["program"] == "power" and rec2["seq"] == 2 and log2.state["power_left"] == 2
    # Switched off again: standard.
    rows3, log3, _ = run(tmp_path, [{"at_s": 1, "press": "letdown", "long": True}, {"at_s": 5, "press": "start"},
                                    {"at_s": 8, "press": "stop"}], 10, profiles=prof)
    assert log3.state["power_left"] == 0 and log3.records()[-1]["program"] == "standard"


def test_log_files_behave_the_same_under_micropython(tmp_path):
    import mpvm
    script = os.path.join(mpvm.SCRIPTS, "sessionlog_checks.py")
    (tmp_path / "cp").mkdir()
    (tmp_path / "mp").mkdir()
    cp = mpvm.run_cpython(script, str(tmp_path / "cp"))
    mp = mpvm.run(script, str(tmp_path / "mp"))
    assert cp == mp
    lines = dict(line.split(" ", 1) for line in cp.splitlines())
    assert lines["roundtrip"].startswith("[1, 2, 3, 4, 5] pause_timeout standard ['no_vacuum']")
    assert lines["torn"].endswith(" cuts 0 bad")
    assert lines["rotation"] == "True 30 True True"
    assert lines["torn_current"] == "None False []"
    assert lines["power_cut"] == "9 power_cut True ['power_cut'] 2"


def test_a_record_appended_after_a_torn_line_is_kept(tmp_path):
    log = SessionLog(str(tmp_path), min_free=0)
    a, b, c = records(3)
    log.end(a, "b", "pico", ("standard",))
    with open(tmp_path / "sessions.log", "a") as f:
        f.write(encode(b.as_dict("b", "pico", ("standard",)))[:30])      # a power cut mid-write
    log.end(c, "b", "pico", ("standard",))
    assert [r["seq"] for r in log.records()] == [1, 3]


def test_the_host_tools_import_what_the_firmware_writes(tmp_path):
    """The contract from both sides: the firmware's writer, the host's reader."""
    _, log, flash = run(tmp_path, [{"at_s": 1, "press": "start"}, {"at_s": 12, "press": "pause"},
                                   {"at_s": 14, "press": "pause"},
                                   {"at_s": 30, "fault": "power_cut", "duration_s": 2},
                                   {"at_s": 40, "press": "start"}, {"at_s": 50, "press": "stop"}], 55,
                        wall=seconds_2000((2026, 11, 28, 7, 0, 0)))
    import subprocess
    import sys
    db = tmp_path / "s.db"
    proc = subprocess.run([sys.executable, "-m", "tools.sessions", "--db", str(db), "import",
                           str(flash / "sessions.log")], capture_output=True, text=True, cwd=paths.ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 new" in proc.stdout
    again = subprocess.run([sys.executable, "-m", "tools.sessions", "--db", str(db), "import",
                            str(flash / "sessions.log")], capture_output=True, text=True, cwd=paths.ROOT)
    assert "0 new" in again.stdout and "2 already known" in again.stdout


def test_without_a_clock_the_board_says_what_it_counts_from(tmp_path, capsys):
    app_with(tmp_path, {"every_min": 180, "grace_min": 45})
    assert "clock not set: the schedule counts from the last session on this boot" in capsys.readouterr().out
    app_with(tmp_path, {"every_min": 180, "grace_min": 45}, wall=(2026, 11, 28, 8, 0, 0))
    assert "clock not set" not in capsys.readouterr().out


def test_start_level_last_is_kept_across_a_power_cut(tmp_path):
    """profiles start_level "last": the next session starts at the levels
    the last one ended with, also after the board lost power (state.json);
    with the default ("lowest") it starts at level 1 again."""
    events = [{"at_s": 1, "press": "start"}, {"at_s": 5, "press": "level_up"}, {"at_s": 6, "press": "level_up"},
              {"at_s": 10, "press": "stop"}, {"at_s": 12, "fault": "power_cut", "duration_s": 2},
              {"at_s": 20, "press": "start"}, {"at_s": 25, "press": "stop"}]
    for rule, second in (("last", [3]), ("lowest", [1])):
        prof = json.load(open(paths.PROFILES_JSON))
        prof["start_level"] = rule
        (tmp_path / rule).mkdir()
        _, log, _ = run(tmp_path / rule, events, 30, profiles=prof)
        recs = log.records()
        assert [r["end"] for r in recs] == ["stop", "stop"], recs
        assert recs[0]["levels"]["stimulation"] == [1, 2, 3]
        assert recs[1]["levels"]["stimulation"] == second
        assert log.state["levels"] & 15 == second[0]


def test_records_are_read_in_small_pieces_and_an_overlong_line_is_skipped(tmp_path):
    """each_record (the history, the plan, a lost state.json) needs no block
    larger than LINE_PIECE, keeps a valid line of any length up to
    LINE_LIMIT and skips a longer one without losing the lines after it."""
    ok = {"v": 1, "seq": 1, "pad": "x" * 3000}
    big = {"v": 1, "seq": 2, "pad": "y" * 5000}
    short = {"v": 1, "seq": 3}
    path = tmp_path / "sessions.log"
    path.write_text(encode(ok) + encode(big) + "torn, no CRC\n" + encode(short))
    assert len(encode(ok)) > sessionlog.LINE_PIECE and len(encode(big)) > sessionlog.LINE_LIMIT

    class Spy:
        def __init__(self, f):
            self.f = f
            self.asked = []

        def readline(self, n=-1):
            self.asked.append(n)
            return self.f.readline(n)

        def close(self):
            self.f.close()
    spies = []
    real_open = open

    def spy_open(p, mode="r"):
        spies.append(Spy(real_open(p, mode)))
        return spies[-1]
    sessionlog.open = spy_open
    try:
        got = list(sessionlog.each_record(str(path)))
    finally:
        del sessionlog.open
    assert [r["seq"] for r in got] == [1, 3]
    assert set(spies[0].asked) == {sessionlog.LINE_PIECE}
