"""Scripted sessions that run unchanged under CPython and MicroPython.

Usage: <python or micropython> scripted_sessions.py NAME [START_TICKS_MS]
Prints one line per tick: t, dt, state, mode, cycle mode, duty, valve,
setpoint, target, fault, level, step. The parity test runs it on both VMs
and requires identical output. The plant is a small integer model (not the
simulator's float plant) so both VMs compute it bit for bit; readings carry
deterministic pseudo-random noise and occasional missing samples. Ticks are
timed with the fake clock (2^30 wrap) so a session can cross the wrap.
"""
import sys

from fake_clock import FakeClock
from pump.codes import (EV_LETDOWN, EV_LEVEL_DOWN, EV_LEVEL_UP, EV_PAUSE, EV_PROGRAM, EV_START, EV_STOP)
from pump.safety import SafetyConfig
from pump.session import Session
from short_profiles import short_profiles

TICK_MS = 10


class ToyPlant:
    """Integer vacuum (Pa): pump flow falls with vacuum, orifice-like vent."""

    def __init__(self):
        self.v = 0

    def step(self, dt, duty, valve_open):
        v = self.v
        if duty > 8000:
            v += (duty - 8000) * (60000 - v) // 60000 * dt // 600
        if valve_open:
            v -= v * dt // 40
        v -= v * dt // 40000                    # small leak
        self.v = v if v > 0 else 0


class Noise:
    """A 31-bit LCG: the same sequence on both VMs."""

    def __init__(self, seed):
        self.x = seed

    def next(self, span):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return self.x % span


# Each script: list of (at_ms, action). Actions: an EV_* code, "spike",
# "select:<index>".
SCRIPTS = {
    "standard_letdown": [(500, EV_START), (30000, EV_LETDOWN), (40000, EV_LEVEL_UP), (41000, EV_LEVEL_UP),
                         (60000, EV_LEVEL_DOWN), (90000, EV_PAUSE), (95000, EV_PAUSE), (200000, EV_STOP)],
    "power_rests": [(0, EV_PROGRAM), (1000, EV_START), (20000, EV_LEVEL_UP), (70000, EV_LETDOWN),
                    (150000, EV_LEVEL_DOWN), (200000, EV_STOP)],
    "over_vacuum_clear": [(500, EV_START), (15000, "spike"), (15020, EV_STOP), (16000, EV_STOP),
                          (21000, EV_START), (30000, EV_STOP)],
}
END_MS = {"standard_letdown": 200500, "power_rests": 205000, "over_vacuum_clear": 31000}


def run(name, start_ms):
    p = short_profiles()
    session = Session(p, SafetyConfig(p.limit_pa))
    plant = ToyPlant()
    noise = Noise(12345)
    clock = FakeClock(start_ms)
    script = SCRIPTS[name]
    i = 0
    t0 = clock.ticks_ms()
    last = t0
    t = 0
    end = END_MS[name]
    out = session.out
    while t <= end:
        while i < len(script) and script[i][0] <= t:
            action = script[i][1]
            if action == "spike":
                plant.v = p.limit_pa + 500
            else:
                session.press(action)
            i += 1
        now = clock.ticks_ms()
        dt = clock.ticks_diff(now, last)
        last = now
        plant.step(dt, out.duty_u16, out.valve_open)
        r = None if noise.next(50) == 0 else plant.v + noise.next(81) - 40
        out = session.tick(dt, r)
        print(t, dt, out.state, out.mode, out.cycle_mode, out.duty_u16, 1 if out.valve_open else 0,
              out.setpoint_pa, out.target_pa, out.fault, out.level, out.step)
        clock.advance(TICK_MS)
        t = clock.ticks_diff(clock.ticks_ms(), t0)


if __name__ == "__main__":
    run(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0)
