"""Heap allocation per full app tick with the session log on (MicroPython).

Usage: micropython app_alloc.py WORKDIR TICKS
The real app (boot with the sim board and the default profiles, the session
log in WORKDIR) on the fake machine with an integer plant; a start press
through the button pin, then TICKS ticks of 10 ms, each measured on its own
with the GC disabled (gc.mem_alloc before and after). A tick that wrote the
flash (the start press, a checkpoint) may allocate; every other tick must
not. Prints `checkpoints N`, `write_ticks_allocating N`,
`other_ticks_allocating N` and `state S` (the session state at the end).
"""
import gc
import os
import sys

import machine
from intplant import IntPlant

WORK = sys.argv[1]
TICKS = int(sys.argv[2])
ROOT = os.getcwd()


class Start:
    """The start button (active low), pressed from `at` for `hold` ms."""

    def __init__(self, clock, at, hold):
        self.clock = clock
        self.at = at
        self.end = at + hold

    def level(self):
        t = self.clock.elapsed_ms
        return 0 if self.at <= t < self.end else 1


def released():
    return 1


def main():
    for n in os.listdir(WORK):
        os.remove(WORK + "/" + n)
    import app
    from hw.sessionlog import SessionLog
    w = machine.reset_world("rp2")
    w.logging = False
    plant = IntPlant(w)
    w.attach_adc_uv(26, plant.uv)
    for pin in (11, 12, 13, 14):
        w.attach_input(pin, released)
    start = Start(w.clock, 3000, 200)
    w.attach_input(10, start.level)
    with open(ROOT + "/boards/sim.json") as f:
        board = f.read()
    with open(ROOT + "/profiles.json") as f:
        profiles = f.read()
    files = {"board.json": board, "profiles.json": profiles}
    a = app.boot(machine, w.clock, files.get, SessionLog(WORK))
    books = a.books
    clock = w.clock
    i = 0
    while i < 280:                       # idle, unmeasured: first-time attribute creation
        plant.step()
        clock.advance(10)
        a.step(clock.ticks_ms())
        i += 1
    write_alloc = 0
    other = 0
    checkpoints = 0
    gc.collect()
    gc.disable()
    i = 0
    while i < TICKS:
        plant.step()
        clock.advance(10)
        w0 = books.writes
        before = gc.mem_alloc()
        a.step(clock.ticks_ms())
        after = gc.mem_alloc()
        if books.writes != w0:
            if a.session.state == 1 and books.record.duration_ms > 1000:
                checkpoints += 1
            if after != before:
                write_alloc += 1
        elif after != before:
            other += 1
        i += 1
    gc.enable()
    print("checkpoints", checkpoints)
    print("write_ticks_allocating", write_alloc)
    print("other_ticks_allocating", other)
    print("state", a.session.state)


main()
