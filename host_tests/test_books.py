"""The session books (firmware/books.py) and the one place that writes them
(App.flush): what is requested when, that a write waits for motor 0 and an
open valve, that a slow flash (250 ms and 1200 ms per write) never trips
anything or runs the motor blind, on CPython and on MicroPython, that the
watchdog is fed around every write, that checkpoints bound what a power
cut loses, and that a normal tick still allocates nothing."""
import json
import os

import pytest

import mpvm
from books import CHECK_SLOT, CHECKPOINT_MS, W_BEGIN, W_CUR, W_END, W_STATE, Books
from pump import profiles as profiles_mod
from pump.codes import EV_PAUSE, EV_START, EV_STOP, STATE_IDLE, STATE_PAUSED, STATE_RUNNING
from pump.record import Record
from pump.safety import SafetyConfig
from pump.session import Session
from tools import paths
from tools.sim import scenario

SHORT = json.load(open(paths.PROFILES_JSON))
SHORT["start_level"] = "default"            # level 5: the 90 and 190 mmHg targets the peaks are checked against
SHORT["limits"]["pause_timeout_min"] = 1
SHORT["programs"]["standard"] = [{"mode": "stimulation", "minutes": 0.5}, {"mode": "expression", "minutes": 1}]
SHORT["programs"]["power"] = [{"mode": "expression", "minutes": 0.5}, {"rest": 0.5},
                              {"mode": "expression", "minutes": 0.5}]


# -- the books alone -----------------------------------------------------------------------

class FakeLog:
    """SessionLog's interface, writing nothing: what was asked, in order."""

    def __init__(self):
        self.state = {"boots": 1, "seq": 0, "last_start_s": None, "power_left": 0, "power_last_s": None}
        self.calls = []

    def started(self, record):
        self.state["seq"] = record.seq

    def save_state(self):
        self.calls.append(("state", self.state["seq"]))

    def progress(self, record, board_id, board_name, names):
        self.calls.append(("cur", record.seq, record.duration_ms))

    def end(self, record, board_id, board_name, names):
        self.calls.append(("end", record.seq, record.end, record.duration_ms))


def flush(books):
    """What App.flush does with the books, without the outputs check."""
    while books.pending:
        books.write()


class Indicator:
    sched = 0


class Bench:
    """The core and the books, ticked by hand with a perfect plant (each
    tick reads back the last setpoint)."""

    def __init__(self, log=None, sensor=None):
        p = profiles_mod.defaults()
        self.s = Session(p, SafetyConfig(p.limit_pa))
        self.log = log
        self.b = Books(self.s, p, Indicator(), sensor if sensor is not None else object(), log, "b", "bench")
        self.out = self.s.tick(0, 0)

    def tick(self, n=1):
        for _ in range(n):
            self.out = self.s.tick(10, self.out.setpoint_pa)
            self.b.tick(10, self.out, self.out.setpoint_pa)
        return self.out

    def start(self):
        self.b.start_press()
        self.s.press(EV_START)


def test_a_start_press_requests_state_and_session_file_and_nothing_is_written_by_the_books():
    log = FakeLog()
    k = Bench(log)
    k.start()
    assert k.b.pending == W_BEGIN == W_STATE | W_CUR
    k.tick(500)
    assert log.calls == []                           # only write() writes, and only the app calls it
    k.b.write()
    assert log.calls == [("state", 1)] and k.b.pending == W_CUR      # one file per call
    k.b.write()
    assert log.calls == [("state", 1), ("cur", 1, 5000)] and k.b.pending == 0


def test_a_checkpoint_is_requested_every_minute_of_session_time():
    log = FakeLog()
    k = Bench(log)
    k.start()
    flush(k.b)
    k.tick(CHECKPOINT_MS // 10 - 1)
    assert k.b.pending == 0
    k.tick()
    assert k.b.pending == W_CUR
    k.tick(50)
    assert k.b.pending == W_CUR                      # it waits for the app; asked once
    flush(k.b)
    assert log.calls[-1] == ("cur", 1, CHECKPOINT_MS + 500)
    k.tick(CHECKPOINT_MS // 10 - 1)
    assert k.b.pending == 0
    k.tick()
    assert k.b.pending == W_CUR


def test_pause_and_end_request_their_writes_and_a_pause_restarts_the_checkpoint_interval():
    log = FakeLog()
    k = Bench(log)
    k.start()
    flush(k.b)
    k.tick(3000)
    k.s.press(EV_PAUSE)
    out = k.tick()
    assert out.state == STATE_PAUSED and k.b.pending == W_CUR
    flush(k.b)
    k.tick(CHECKPOINT_MS // 10 - 1)                  # a minute after the pause's write: not before
    assert k.b.pending == 0
    k.s.press(EV_STOP)
    out = k.tick()
    assert out.state == STATE_IDLE and k.b.pending == W_END
    flush(k.b)
    assert log.calls[-1][:3] == ("end", 1, 1)        # END_STOP


def test_a_closed_record_is_not_overwritten_by_the_next_start_before_its_write():
    log = FakeLog()
    k = Bench(log)
    k.start()
    flush(k.b)
    k.tick(700)
    k.s.press(EV_STOP)
    k.tick()
    k.start()                                        # (the app never lets this happen unwritten)
    k.tick(10)
    flush(k.b)
    assert log.calls[-2:] == [("end", 1, 1, 7000), ("cur", 2, 100)]


def test_without_a_log_nothing_is_ever_pending():
    k = Bench(None)
    k.start()
    k.tick(CHECKPOINT_MS // 10 + 100)
    k.s.press(EV_PAUSE)
    k.tick()
    k.s.press(EV_STOP)
    k.tick()
    assert k.b.pending == 0 and k.b.seq == 1


def test_without_a_schedule_the_once_a_second_counter_still_wraps():
    """A counter added to every tick and never reset leaves a 32-bit port's
    small ints after 2^30 ms (12.4 days of uptime): from then on every tick
    would allocate. The schedule check's counter wraps each second whether
    or not the profiles have a schedule."""
    k = Bench()
    assert k.b.schedule is None
    k.tick(1000)                                     # 10 s idle
    assert 0 <= k.b.s[CHECK_SLOT] < 1000 and k.b.uptime_s == 10


def test_a_stall_counts_as_session_and_wall_time():
    log = FakeLog()
    k = Bench(log)
    k.start()
    k.tick(100)
    out = k.out
    assert out.state == STATE_RUNNING
    before = (k.b.record.duration_ms, k.b.uptime_s)
    k.b.stalled(1200, out)
    assert k.b.record.duration_ms == before[0] + 1200 and k.b.uptime_s == before[1] + 1


def test_two_records_alternate_without_allocating_new_ones():
    k = Bench(FakeLog())
    recs = {id(k.b.record), id(k.b.closed)}
    for _ in range(3):
        k.start()
        k.tick(20)
        k.s.press(EV_STOP)
        k.tick()
        flush(k.b)
    assert {id(k.b.record), id(k.b.closed)} == recs and isinstance(k.b.record, Record)


def test_an_absolute_sensor_is_rezeroed_only_when_idle_vented_and_near_zero():
    class Absolute:
        ambient_pa = 100000
    sensor = Absolute()
    k = Bench(FakeLog(), sensor)
    out = k.out
    for _ in range(500):                             # 5 s idle and vented first
        k.b.tick(10, out, 160)
    assert sensor.ambient_pa == 100000
    k.b.tick(10, out, 160)
    assert sensor.ambient_pa == 99990                # 1/16 of the offset
    k.b.tick(10, out, 2000)                          # 15 mmHg: an offset, not weather
    assert sensor.ambient_pa == 99990
    k.start()
    out = k.tick()
    k.b.tick(10, out, 160)
    assert out.state == STATE_RUNNING and sensor.ambient_pa == 99990 and k.b.vented_ms == 0
    # Idle again after a session: the 5 s vented wait starts over.
    k.s.press(EV_STOP)
    out = k.s.tick(10, 0)
    for _ in range(500):
        k.b.tick(10, out, 160)
    assert out.state != STATE_RUNNING and sensor.ambient_pa == 99990
    k.b.tick(10, out, 160)
    assert sensor.ambient_pa == 99980


def test_the_books_index_the_records_slots_where_the_record_keeps_them():
    """Books.tick (viper on an RP2040) indexes the open record's slots by
    its own consts: they must be pump/record.py's."""
    import books
    from pump import record
    for name in ("ACTIVE", "DURATION", "MODE", "PEAK", "BUCKET", "PEAK_I", "SEEN"):
        assert getattr(books, "_R_" + name) == getattr(record, "R_" + name), name


def test_the_record_follows_the_codes_pump_codes_defines():
    """Record._follow compares with its own copies of the state and mode
    codes (an imported name is a look-up at every use on the board): each
    copy must be the original's value."""
    from pump import codes, record
    assert (record._RUNNING, record._PAUSED, record._RESTING, record._STIMULATION, record._EXPRESSION) == (
        codes.STATE_RUNNING, codes.STATE_PAUSED, codes.STATE_RESTING, codes.MODE_STIMULATION, codes.MODE_EXPRESSION)


# -- a slow flash, through the simulator, on both VMs ------------------------------------------

def resolved(events, duration_s, profiles=SHORT):
    d = {"board": "sim", "duration_s": duration_s, "seed": 1, "events": events}
    sc, errors = scenario.load(d)
    assert errors == []
    spec, files = scenario.resolve(sc)
    files["profiles.json"] = json.dumps(profiles)
    return {"spec": spec, "files": files}


SCENARIOS = {
    # start, pause, resume, a checkpoint, auto-off at 90 s; start again, stop
    "standard": ([{"at_s": 1, "press": "start"}, {"at_s": 12, "press": "pause"}, {"at_s": 14, "press": "pause"},
                  {"at_s": 105, "press": "start"}, {"at_s": 112, "press": "stop"}], 118),
    # power: expression, a rest, expression
    "power": ([{"at_s": 1, "program": "power"}, {"at_s": 5, "press": "start"}], 110),
    # a trip (no seal) and its record; cleared; another session
    "fault": ([{"at_s": 1, "press": "start"}, {"at_s": 5, "fault": "motor_stall"}, {"at_s": 25, "press": "stop"},
               {"at_s": 26, "clear": "motor_stall"}, {"at_s": 30, "press": "start"}, {"at_s": 36, "press": "stop"}],
              40),
    # power cuts after 75 s and after 10 s of session
    "cut75": ([{"at_s": 1, "press": "start"}, {"at_s": 76, "fault": "power_cut", "duration_s": 2}], 82),
    "cut10": ([{"at_s": 1, "press": "start"}, {"at_s": 11, "fault": "power_cut", "duration_s": 2}], 16),
}


@pytest.fixture(scope="module")
def specs(tmp_path_factory):
    path = tmp_path_factory.mktemp("specs") / "specs.json"
    with open(path, "w") as f:
        json.dump({name: resolved(ev, d) for name, (ev, d) in SCENARIOS.items()}, f)
    return str(path)


def stalled(specs, tmp_path_factory, runtime, stall):
    script = os.path.join(mpvm.SCRIPTS, "stalled_writes.py")
    work = str(tmp_path_factory.mktemp("flash_%s_%d" % (runtime, stall)))
    run = mpvm.run if runtime == "micropython" else mpvm.run_cpython
    out = {}
    for line in run(script, specs, work, stall).splitlines():
        if not line.startswith("RESULT "):
            continue                                    # the board's own messages
        r = json.loads(line[7:])
        out[r["name"]] = r
    assert set(out) == set(SCENARIOS)
    return out


STALLS = [0, 250, 1200]
RUNS = {}


@pytest.fixture(params=[(rt, st) for rt in ("cpython", "micropython") for st in STALLS],
                ids=lambda p: "%s-%dms" % p)
def slow(request, specs, tmp_path_factory):
    key = request.param
    if key not in RUNS:
        RUNS[key] = stalled(specs, tmp_path_factory, *key)
    return key[1], RUNS[key]


def test_writes_on_a_slow_flash_never_trip_anything(slow):
    stall, runs = slow
    for name in ("standard", "power", "cut75", "cut10"):
        assert runs[name]["trips"] == [], name
    assert runs["fault"]["trips"] == [7]                     # no_vacuum, and nothing else after its write


def test_the_core_never_sees_a_stall_in_its_dt(slow):
    stall, runs = slow
    for name, r in runs.items():
        assert r["max_dt"] == 10, name


def test_every_write_finds_motor_off_and_valve_open(slow):
    stall, runs = slow
    for name, r in runs.items():
        assert r["writes"], name
        for w in r["writes"]:
            assert w[1] == 0 and w[2] == 0, (name, w)            # duty 0, valve pin low = open


def test_checkpoints_are_written_while_running_in_a_release_phase(slow):
    stall, runs = slow
    for name in ("standard", "cut75"):
        cur_running = [w for w in runs[name]["writes"] if w[0] == "session.cur" and w[3] == STATE_RUNNING]
        assert cur_running, name
    assert [w[3] for w in runs["standard"]["writes"] if w[0] == "session.cur"][:3] == [0, 2, 1]   # start, pause, cp
    assert 3 in [w[3] for w in runs["power"]["writes"] if w[0] == "session.cur"]                  # the rest


def test_the_watchdog_is_fed_right_before_and_after_each_write(slow):
    """Ticks take no fake time here: a feed at the very time a write starts
    and one at the time it ends mean the write is never charged the tick
    before or after it. One SessionLog call (the end: a log append and
    state.json) is the longest stretch without a feed."""
    stall, runs = slow
    for name, r in runs.items():
        assert r["feeds"] > 500 and r["unfed_blocks"] == 0, name
        assert r["longest_block"] <= 2, name
    if stall:
        assert runs["standard"]["fed_blocks"] >= 3 and runs["fault"]["fed_blocks"] >= 3    # incl. 2nd start


def test_records_on_a_slow_flash(slow):
    stall, runs = slow
    std = runs["standard"]["records"]
    assert [r[0] for r in std] == ["auto_off", "stop"]
    assert 89 <= std[0][1] <= 90 + 6 * stall // 1000 + 1 and std[0][3] == []
    power = runs["power"]["records"]
    assert [r[0] for r in power] == ["auto_off"] and power[0][1] >= 89
    fault = runs["fault"]["records"]
    assert [(r[0], r[3]) for r in fault] == [("fault", ["no_vacuum"]), ("stop", [])]


def test_a_power_cut_after_75_s_loses_at_most_the_last_minute(slow):
    stall, runs = slow
    r = runs["cut75"]
    (rec,) = r["records"]
    end, duration, at_least, faults, stim10, expr10 = rec
    assert end == "power_cut" and at_least is True
    assert 60 <= duration <= 75
    # The peaks are what the trace showed up to the last session.cur write.
    last = [w for w in r["writes"] if w[0] == "session.cur"][-1]
    assert (stim10, expr10) == (last[4], last[5])
    assert 850 <= stim10 <= 1050 and 1850 <= expr10 <= 2000   # level 5: 90 and 190 mmHg targets


def test_a_power_cut_in_the_first_minute_is_honest_about_it(slow):
    stall, runs = slow
    (rec,) = runs["cut10"]["records"]
    end, duration, at_least, faults, stim10, expr10 = rec
    # Only the start was written: the record says "at least 0 s", and
    # nothing it did not see.
    assert end == "power_cut" and at_least is True and duration >= 0 and faults == []
    assert (duration, stim10, expr10) == (0, 0, 0)


@pytest.mark.parametrize("stall", STALLS)
def test_both_vms_keep_the_same_books(specs, tmp_path_factory, stall):
    for rt in ("cpython", "micropython"):
        if (rt, stall) not in RUNS:
            RUNS[(rt, stall)] = stalled(specs, tmp_path_factory, rt, stall)
    assert RUNS[("cpython", stall)] == RUNS[("micropython", stall)]


# -- allocation: a normal tick allocates nothing, a write tick may -------------------------------

def test_only_write_ticks_allocate(tmp_path):
    out = mpvm.run(os.path.join(mpvm.SCRIPTS, "app_alloc.py"), str(tmp_path), 6500)
    res = dict(line.split(" ", 1) for line in out.splitlines())
    assert int(res["checkpoints"]) >= 1                           # the run crossed a checkpoint
    assert int(res["write_ticks_allocating"]) >= 1                # and the method sees its allocation
    assert res["other_ticks_allocating"] == "0", res
    assert res["state"] == "1"
