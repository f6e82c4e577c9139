"""Where a tick's time goes on the emulated Pico (`make bench-rp2040-parts`).

Why it exists: the tick budget (500 us median) is judged on the chip, and a
change to the tick is worth making only when the chip says the part it
touches is where the time goes. tickbench gives the whole tick; this gives
its parts, per state.

How: the same board, bench script and button presses as tickbench, but
the harness first replaces each part's method where the tick calls it (the
bound methods App and Session keep: the sensor's poll, the buttons,
Session.tick and its monitor and controller; the outputs' refresh, the
books, the indicator) with a wrapper that adds the call's
`ticks_us()` span to that part's sum for the tick; per state it prints the
mean per tick of every part. A wrapper costs a call, two clock reads and
a sum (printed: a no-op's call with and without one): a part's figure
includes the wrappers of the parts inside it, the whole tick here is
slower than tickbench's by all of them, and "App.step itself" (the tick
less its top-level parts) holds its own parts' wrappers. Ticks over 5 ms (the flash writes)
are left out.
"""
import sys

from tools.rp2040.tickbench import PACE, RUN_S, STATES, drive, name_of, per_board_main

# (key, object path on the board, method, arity), outer parts first.
PARTS = [
    ("buttons", "app", "_poll_buttons", 2),
    ("sensor", "app", "_poll_sensor", 0),
    ("session.tick", "app", "_tick", 3),
    ("  monitor.observe", "app.session", "_observe", 3),
    ("  control.update", "app.session", "_update", 6),
    ("  monitor.guard_duty", "app.session", "_guard", 2),
    ("  monitor.supervise", "app.session", "_supervise", 4),
    ("  _refresh", "app.session", "_refresh", 2),
    ("motor.set", "app.motor", "set", 1),
    ("valve.set_open", "app.valve", "set_open", 1),
    ("books.tick", "app", "_books_tick", 3),
    ("indicator.update", "app", "_show", 2),
]
TOP = ("buttons", "sensor", "session.tick", "motor.set", "valve.set_open", "books.tick", "indicator.update")
BUCKETS = 6 * 4                   # state 0-5 x (mode + 1) 0-3

HARNESS = r"""
import gc, time, machine
from array import array
open("reset.flag", "w").close()         # a deliberate boot: tools/rp2040/tickbench.py DELIBERATE_BOOT says why
from app import boot, release_boot_modules
app = boot(machine, time)
release_boot_modules()
gc.collect()
print("HEAP", gc.mem_alloc(), gc.mem_free())
K = %(k)d
B = %(buckets)d
cur = array("i", bytes(4 * K))
acc = array("i", bytes(4 * K * B))
cnt = array("i", bytes(4 * B))
tot = array("i", bytes(4 * B))
us = time.ticks_us
diff = time.ticks_diff
def wrap(obj, name, k, arity):
    f = getattr(obj, name)
    if arity == 0:
        def w():
            t = us(); r = f(); cur[k] += diff(us(), t); return r
    elif arity == 1:
        def w(a):
            t = us(); r = f(a); cur[k] += diff(us(), t); return r
    elif arity == 2:
        def w(a, b):
            t = us(); r = f(a, b); cur[k] += diff(us(), t); return r
    elif arity == 3:
        def w(a, b, c):
            t = us(); r = f(a, b, c); cur[k] += diff(us(), t); return r
    elif arity == 4:
        def w(a, b, c, d):
            t = us(); r = f(a, b, c, d); cur[k] += diff(us(), t); return r
    else:
        def w(a, b, c, d, e, g):
            t = us(); r = f(a, b, c, d, e, g); cur[k] += diff(us(), t); return r
    setattr(obj, name, w)
    return w
%(wraps)s
class Noop:
    def f(self):
        return 0
n0 = Noop()
def calls():
    i = 0
    t = us()
    while i < 200:
        n0.f()
        i += 1
    return diff(us(), t)
bare = calls()
wrap(n0, "f", 0, 0)
print("OVH", (calls() - bare) // 200)
cur[0] = 0
N = %(seconds)d * 1000 // app.tick_ms
clock = time
ahead = app.read_ahead
a = 0
app.due_ms = clock.ticks_ms()
i = 0
while i < N:
    t0 = us()
    out = app.step(clock.ticks_ms())
    d = diff(us(), t0) + a
    if d < 5000:
        b = out.state * 4 + out.mode + 1
        cnt[b] += 1
        tot[b] += d
        j = 0
        while j < K:
            acc[b * K + j] += cur[j]
            j += 1
    j = 0
    while j < K:
        cur[j] = 0
        j += 1
    i += 1
%(pace)s
app.safe()
wdt = app.wdt
b = 0
while b < B:
    if wdt is not None:
        wdt.feed()
    if cnt[b]:
        print("P", b, cnt[b], tot[b], " ".join(str(acc[b * K + j]) for j in range(K)))
    b += 1
print("END")
"""


def harness():
    wraps = []
    for k, (_, path, method, arity) in enumerate(PARTS):
        wraps.append("wrap(%s, %r, %d, %d)" % (path, method, k, arity))
    return HARNESS % {"k": len(PARTS), "buckets": BUCKETS, "wraps": "\n".join(wraps), "seconds": RUN_S,
                      "pace": PACE}


def measure(board, timing="typical", out=print):
    """{"wrapper_us": n, "states": {state: {"ticks": n, "tick_us": mean, part: mean us}}}"""
    text = drive(board, harness(), timing, out=out)
    overhead = int(text.split("OVH", 1)[1].split()[0])
    sums = {}
    for line in text.splitlines():
        if not line.startswith("P "):
            continue
        f = [int(x) for x in line.split()[1:]]
        b, n, total, parts = f[0], f[1], f[2], f[3:]
        name = name_of(b // 4, b % 4 - 1)
        s = sums.setdefault(name, [0, 0, [0] * len(PARTS)])
        s[0] += n
        s[1] += total
        s[2] = [x + y for x, y in zip(s[2], parts)]
    states = {}
    for name in STATES:
        if name not in sums:
            continue
        n, total, parts = sums[name]
        row = {"ticks": n, "tick_us": round(total / n)}
        for (key, _, _, _), x in zip(PARTS, parts):
            row[key.strip()] = round(x / n)
        top = sum(row[k] for k in TOP)
        row["App.step itself"] = row["tick_us"] - top
        states[name] = row
    return {"board": board, "wrapper_us": overhead, "states": states}


def table(result, out=print):
    names = [s for s in STATES if s in result["states"]]
    keys = [p[0] for p in PARTS] + ["App.step itself", "whole tick (wrapped)"]
    out("%s: mean us per tick by part (each wrapper adds %d us, counted in its caller)"
        % (result["board"], result["wrapper_us"]))
    out("%-24s" % "part" + "".join("%12s" % s for s in names))
    for key in keys:
        field = "tick_us" if key.startswith("whole") else key.strip()
        out("%-24s" % key + "".join("%12s" % result["states"][s].get(field, "") for s in names))


def main(argv=None):
    return per_board_main("tools.rp2040.tickparts", __doc__, measure, table, "pico", argv)


if __name__ == "__main__":
    sys.exit(main())
