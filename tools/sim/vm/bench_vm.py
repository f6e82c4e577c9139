"""Benchmarks inside the MicroPython VM (the unix port), for `make bench`.

    micropython bench_vm.py alloc TICKS        heap bytes per full app tick, per state
    micropython bench_vm.py ticks STATE N      run N full app ticks in STATE (for callgrind)
    micropython bench_vm.py loop N             N iterations of `x = x + 1` (the yardstick)
    micropython bench_vm.py heap               heap in use after boot (firmware objects)

A full tick is App.step(): sensor poll (analog driver through the fake ADC),
buttons, the pump core, motor, valve, indicator, watchdog. The plant here is
an integer model so that the harness itself allocates nothing; the fake
machine records nothing (logging off).
"""
import gc
import json
import sys

import machine
from intplant import IntPlant

STATES = ("idle", "stimulation", "expression", "mixed", "rest", "paused", "fault")
ROOT = sys.argv[-1] if sys.argv[-1].startswith("/") else "."


def profiles_text(state):
    with open(ROOT + "/profiles.json") as f:
        p = json.load(f)
    if state == "mixed":
        p["programs"]["standard"] = [{"mode": "mixed", "minutes": 30}]
    elif state == "rest":
        p["programs"]["standard"] = [{"mode": "stimulation", "minutes": 0.1}, {"rest": 29}]
    return json.dumps(p)


def build(state):
    import app
    w = machine.reset_world("rp2")
    w.logging = False
    plant = IntPlant(w)
    w.attach_adc_uv(26, plant.uv)
    with open(ROOT + "/boards/sim.json") as f:
        board = f.read()
    files = {"board.json": board, "profiles.json": profiles_text(state)}
    a = app.boot(machine, w.clock, lambda name: files.get(name))
    s = a.session
    if state != "idle":
        s.press(1)                                   # EV_START
    if state == "expression":
        s.press(4)                                   # EV_LETDOWN
    return a, w, plant


def run(a, w, plant, n):
    i = 0
    clock = w.clock
    while i < n:
        plant.step()
        clock.advance(10)
        a.step(clock.ticks_ms())
        i += 1


def settle(state):
    a, w, plant = build(state)
    run(a, w, plant, 800 if state != "rest" else 1200)
    if state == "paused":
        a.session.press(3)                           # EV_PAUSE
    if state == "fault":
        plant.broken = True                          # the sensor reads 0 V: sensor_range
    run(a, w, plant, 300)
    want = {"idle": 0, "stimulation": 1, "expression": 1, "mixed": 1, "rest": 3, "paused": 2, "fault": 4}[state]
    if a.session.state != want:
        raise SystemExit("%s: state %d, expected %d" % (state, a.session.state, want))
    return a, w, plant


def main():
    what = sys.argv[1]
    if what == "alloc":
        n = int(sys.argv[2])
        for state in STATES:
            a, w, plant = settle(state)
            gc.collect()
            gc.disable()
            before = gc.mem_alloc()
            run(a, w, plant, n)
            after = gc.mem_alloc()
            gc.enable()
            print(state, after - before)
    elif what == "ticks":
        a, w, plant = settle(sys.argv[2])
        run(a, w, plant, int(sys.argv[3]))
    elif what == "core":
        # The pump core alone (Session.tick) with readings from the integer plant.
        a, w, plant = settle(sys.argv[2])
        s = a.session
        n = int(sys.argv[3])
        i = 0
        out = s.out
        while i < n:
            plant.step()
            out = s.tick(10, plant.v, 0)
            i += 1
    elif what == "harness":
        # The harness without the firmware: plant and clock only.
        a, w, plant = settle(sys.argv[2])
        n = int(sys.argv[3])
        i = 0
        clock = w.clock
        while i < n:
            plant.step()
            clock.advance(10)
            i += 1
    elif what == "loop":
        n = int(sys.argv[2])
        x = 0
        while x < n:
            x = x + 1
    elif what == "heap":
        w = machine.reset_world("rp2")
        w.logging = False
        gc.collect()
        before = gc.mem_alloc()
        a, w, plant = build("idle")
        gc.collect()
        booted = gc.mem_alloc() - before
        import app
        app.release_boot_modules()
        print("heap_boot", booted)
        print("heap", gc.mem_alloc() - before)


main()
