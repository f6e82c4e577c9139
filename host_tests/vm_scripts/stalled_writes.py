"""Sessions on a slow flash, on both VMs (CPython, MicroPython).

Usage: <python|micropython> stalled_writes.py SPECS.json WORKDIR STALL_MS
SPECS.json: {name: {"spec": resolved scenario, "files": {...}}} (the test
resolves them with tools/sim/scenario.py). Each scenario runs the real app
in the simulator's engine, with the session log in WORKDIR/<name>, on a
store whose every write (a file replaced, a line appended) advances the
fake clock by STALL_MS: the board stalled by a littlefs write. Prints one
line per scenario, `RESULT ` and a JSON object (host_tests/test_books.py
compares the parsed values across the VMs and checks the facts):

  name, trips (fault codes 1-7 seen in any tick), states (the sequence of
  distinct states), max_dt (the largest dt the core's safety monitor was
  given), writes (one per file write: [name, motor duty, valve level, app
  state or -2 at boot, the trace's peak x10 per cycle mode so far on this
  boot]), feeds (watchdog feeds), unfed_blocks / fed_blocks (runs of
  back-to-back writes while the watchdog runs without / with a feed at the
  fake time they start and at the time they end), longest_block (the most
  writes in one such run), records (the log: [end, duration_s,
  duration_at_least, faults, peak x10 stimulation, peak x10 expression]).
"""
import json
import os
import sys

import machine
from engine import Engine

import hw.sessionlog as sl
from hw.sessionlog import SessionLog
from pump.limits import pa_to_mmhg_x10

SPECS = sys.argv[1]
WORK = sys.argv[2]
STALL = int(sys.argv[3])
MOTOR_PIN = 16
VALVE_PIN = 17

current = {"engine": None, "writes": [], "feeds": 0, "last_feed": None, "open": None, "blocks": [],
           "peak": [0, 0], "world": None}


def see(out):
    """The trace's own peak per cycle mode: the highest vacuum the core
    reported while running (what the record should hold)."""
    cm = out.cycle_mode
    pk = current["peak"]
    if out.state == 1 and (cm == 0 or cm == 1) and out.vacuum_pa > pk[cm]:
        pk[cm] = out.vacuum_pa


def note(name):
    w = machine.world
    eng = current["engine"]
    st = -2                                 # at boot (SessionLog.boot), before the app runs
    if w is current["world"]:
        st = eng.app.session.state
        see(eng.app.session.out)            # this tick's outputs count already
    pk = current["peak"]
    current["writes"].append([name, w.pwm_duty(MOTOR_PIN), w.level(VALVE_PIN), st,
                              pa_to_mmhg_x10(pk[0]), pa_to_mmhg_x10(pk[1])])


real_write = sl.write_atomic
real_append = SessionLog._append
real_feed = machine.WDT.feed


def stall():
    """The board stalls: the plant first catches up to now with the outputs
    that drove it, then runs through the stall with the outputs on the pins
    during the write (the engine's plant only advances on reads and after a
    tick: without this it would run the stall on the next tick's outputs).

    Writes back to back with no feed between form one block; a block must
    start at the fake time of a feed and end at the time of the next feed
    (ticks take no fake time here)."""
    link = current["engine"].link
    w = machine.world
    link.advance()
    t = w.clock.elapsed_ms
    w.clock.advance(STALL)
    link.advance()
    if w.wdt_timeout is None:
        return                              # no watchdog yet
    blk = current["open"]
    if blk is not None and blk[0] is w and blk[2] == t:
        blk[2] = w.clock.elapsed_ms
        blk[3] += 1
        return
    if blk is not None:
        close(False)
    last = current["last_feed"]
    current["open"] = [w, t, w.clock.elapsed_ms, 1, last is not None and last[0] is w and last[1] == t]


def close(end_fed):
    blk = current["open"]
    current["open"] = None
    current["blocks"].append((blk[4] and end_fed, blk[3]))


def slow_write(path, text):
    note(path.split("/")[-1])
    stall()
    real_write(path, text)


def slow_append(self, line):
    note("sessions.log")
    stall()
    return real_append(self, line)


def feed(self):
    w = machine.world
    t = w.clock.elapsed_ms
    current["feeds"] += 1
    blk = current["open"]
    if blk is not None and blk[0] is w:
        close(blk[2] == t)
    current["last_feed"] = (w, t)
    real_feed(self)


sl.write_atomic = slow_write
SessionLog._append = slow_append
machine.WDT.feed = feed


def clean(d):
    try:
        names = os.listdir(d)
    except OSError:
        os.mkdir(d)
        return
    for n in names:
        os.remove(d + "/" + n)


def peak10(p):
    return int(p * 10 + 0.5)


def run(name, entry):
    d = WORK + "/" + name
    clean(d)
    eng = Engine(entry["spec"], entry["files"], d)
    current["engine"] = eng
    current["writes"] = []
    current["feeds"] = 0
    current["last_feed"] = None
    current["open"] = None
    current["blocks"] = []
    current["peak"] = [0, 0]
    current["world"] = None
    trips = []
    states = []
    max_dt = 0
    app = None
    t_prev = 0
    for row in eng.rows():
        st = row[6]
        if not states or states[-1] != st:
            states.append(st)
        f = row[9]
        if 1 <= f <= 7 and f not in trips:
            trips.append(f)
        if st < 0:
            continue
        a = eng.app
        if a is not app:
            current["peak"] = [0, 0]         # a new boot: the trace peak starts again
        current["world"] = machine.world
        see(a.session.out)
        t = a.session.monitor.t_ms
        if a is app:
            dt = (t - t_prev) & 0x1FFFFFFF
            if dt > max_dt:
                max_dt = dt
        app = a
        t_prev = t
    if current["open"] is not None:
        close(False)
    unfed = 0
    longest = 0
    for ok, n in current["blocks"]:
        if not ok:
            unfed += 1
        if n > longest:
            longest = n
    log = SessionLog(d)
    recs = []
    for r in log.records():
        recs.append([r["end"], r["duration_s"], r["duration_at_least"], r["faults"],
                     peak10(r["peak_mmhg"]["stimulation"]), peak10(r["peak_mmhg"]["expression"])])
    print("RESULT " + json.dumps({"name": name, "trips": trips, "states": states, "max_dt": max_dt,
                                  "writes": current["writes"], "feeds": current["feeds"], "unfed_blocks": unfed,
                                  "fed_blocks": len(current["blocks"]) - unfed, "longest_block": longest,
                                  "records": recs}))


def main():
    with open(SPECS) as f:
        specs = json.load(f)
    for name in sorted(specs):
        run(name, specs[name])


main()
