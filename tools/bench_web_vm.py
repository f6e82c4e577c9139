"""The control loop beside the web server, in the MicroPython VM (unix port),
in real time: how late do ticks come while requests arrive?

Usage: micropython bench_web_vm.py WORKDIR PORT SECONDS STATE
Runs the real app (the sim board with web on, the default profiles, the
session log in WORKDIR) on the fake machine with an integer plant, with
web/serve.py's own control task and microdot serving on 127.0.0.1:PORT.
STATE idle keeps the pump idle (the history and the plan are served);
running starts a session first (they are refused). For SECONDS it records
when each tick starts (ticks_us), then prints one JSON line: the tick
intervals' median, 99th percentile and maximum in us, the ticks, the
requests the server handled and turned away, and the heap in use (this
64-bit port's objects are about twice a board's) before and after the web
app was built. tools/bench_web.py floods it
from the host.
"""
import gc
import json
import os
import sys

import utime

import machine
from intplant import IntPlant
from real_asyncio import asyncio

WORK, PORT, SECONDS, STATE = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ROOT = os.getcwd()
SECRET = bytes(range(16))


class RealClock:
    """Real time for the firmware and the fake machine (the unix port's
    ticks; the firmware only ever takes differences)."""

    def __init__(self):
        self.t0 = utime.ticks_ms()
        self.now = self.t0

    @property
    def elapsed_ms(self):
        return utime.ticks_diff(utime.ticks_ms(), self.t0)

    def ticks_ms(self):
        return utime.ticks_ms()

    def ticks_us(self):
        return utime.ticks_us()

    def ticks_add(self, t, d):
        return utime.ticks_add(t, d)

    def ticks_diff(self, a, b):
        return utime.ticks_diff(a, b)

    def sleep_ms(self, ms):
        utime.sleep_ms(ms)


class SteppedPlant(IntPlant):
    """Stepped by the sensor's reads (the control task reads once a tick)."""

    def uv(self):
        self.step()
        return IntPlant.uv(self)


def released():
    return 1


class Done(Exception):
    pass


def main():
    for n in os.listdir(WORK):
        os.remove(WORK + "/" + n)
    import app
    from hw.sessionlog import SessionLog
    from web import serve
    clock = RealClock()
    w = machine.reset_world("rp2", clock)
    w.logging = False
    plant = SteppedPlant(w)
    w.attach_adc_uv(26, plant.uv)
    for pin in (10, 11, 12, 13, 14):
        w.attach_input(pin, released)
    with open(ROOT + "/boards/sim.json") as f:
        board = json.load(f)
    board["web"] = True
    with open(ROOT + "/profiles.json") as f:
        profiles = f.read()
    files = {"board.json": json.dumps(board), "profiles.json": profiles}
    a = app.boot(machine, clock, files.get, SessionLog(WORK))
    here = os.getcwd()
    os.chdir(WORK)
    gc.collect()
    heap_app = gc.mem_alloc()
    link, server, gate = serve.make(a, urandom=lambda n: SECRET[:n], page=ROOT + "/firmware/web/page.html")
    os.chdir(here)
    gc.collect()
    heap_web = gc.mem_alloc()
    n_max = SECONDS * 100 + 100
    starts = [0] * n_max
    count = [0]
    step = a.step

    def timed_step(now_ms):
        i = count[0]
        if i >= n_max:
            raise Done()
        starts[i] = utime.ticks_us()
        count[0] = i + 1
        return step(now_ms)
    a.step = timed_step
    if STATE == "running":
        link.control("start")

    async def run():
        asyncio.create_task(server.start_server("127.0.0.1", PORT))
        print("READY")
        await serve.control(a, link)

    gc.collect()
    try:
        asyncio.run(run())
    except Done:
        pass
    n = count[0]
    gaps = sorted(utime.ticks_diff(starts[i + 1], starts[i]) for i in range(100, n - 1))  # after the start-up
    print(json.dumps({"ticks": n, "median_us": gaps[len(gaps) // 2], "p99_us": gaps[len(gaps) * 99 // 100],
                      "max_us": gaps[-1], "state": ("idle", "running")[a.session.state == 1],
                      "turned_away": server.turned_away, "refused": gate.refused,
                      "heap_app_bytes": heap_app, "heap_with_web_bytes": heap_web}))


main()
