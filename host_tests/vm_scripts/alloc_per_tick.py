"""Heap bytes allocated per steady-state tick, per state/mode (MicroPython).

Usage: micropython alloc_per_tick.py [TICKS]
Prints `<name> <bytes allocated over TICKS ticks>` per line. Each case is
warmed up first (first-time attribute creation, learning), then measured
with the GC disabled using gc.mem_alloc(). Under CPython it prints nothing
useful (no gc.mem_alloc) and exits.
"""
import gc
import sys

from pump.codes import EV_LETDOWN, EV_PAUSE, EV_PROGRAM, EV_START, FAULT_SENSOR_IO
from pump.safety import SafetyConfig
from pump.session import Session
from scripted_sessions import Noise, ToyPlant
from short_profiles import short_profiles

P = short_profiles(scale=10)


def session_in(case):
    s = Session(P, SafetyConfig(P.limit_pa))
    if case == "idle":
        return s
    if case in ("rest", "mixed"):
        s.press(EV_PROGRAM)                      # power: expr 10, rest 5, expr 5, rest 5, mixed 5 min
    s.press(EV_START)
    return s


def drive(s, plant, noise, n, case, t):
    """Tick n times; returns the session time reached. No allocation here."""
    out = s.out
    i = 0
    while i < n:
        plant.step(10, out.duty_u16, out.valve_open)
        r = plant.v + noise.next(81) - 40
        f = 0
        if case == "fault":
            f = FAULT_SENSOR_IO
        elif case == "canary":
            r = r + 0.5                          # a float per tick: must show up
        out = s.tick(10, r, f)
        i += 1
    return t + n * 10


def measure(case, ticks):
    s = session_in(case)
    plant = ToyPlant()
    noise = Noise(7)
    t = 0
    if case == "expression":
        s.press(EV_LETDOWN)
    if case == "rest":
        t = drive(s, plant, noise, 60500, case, t)   # into the first rest step
    if case == "mixed":
        t = drive(s, plant, noise, 150500, case, t)  # into the mixed step
    if case == "paused":
        s.press(EV_PAUSE)
    t = drive(s, plant, noise, 3000, case, t)        # warm-up
    state, mode = {"idle": (0, -1), "stimulation": (1, 0), "expression": (1, 1), "mixed": (1, 2),
                   "rest": (3, -1), "fault": (4, -1), "paused": (2, 0), "canary": (4, -1)}[case]
    if (s.out.state, s.out.mode) != (state, mode):
        raise SystemExit("%s: wrong state/mode %d/%d" % (case, s.out.state, s.out.mode))
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    drive(s, plant, noise, ticks, case, t)
    after = gc.mem_alloc()
    gc.enable()
    return after - before


def main():
    if not hasattr(gc, "mem_alloc"):
        return
    ticks = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    for case in ("idle", "stimulation", "expression", "mixed", "rest", "fault", "paused", "canary"):
        print(case, measure(case, ticks))


main()
