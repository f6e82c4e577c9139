"""Tick cost, loop stalls and heap on the emulated Pico (`make bench-rp2040`).

Why it exists: the budgets in the README are about a Pico, so they are
measured on one: MicroPython v1.28.0 on the emulated RP2040, in its
cycle-counted microseconds, with the board's real drivers, littlefs and the
pump plant at the pins.

How: the board is flashed (`make flash` through the bench), the firmware's
own `boot()` builds the app on the board, and a small harness sent with
`mpremote run` calls `App.step()` at the board's tick rate exactly as
`App.run()` does (with the sensor's read queued 1 ms before each tick
where the app has a read_ahead, that call's time counted in the tick),
timing every call with `time.ticks_us()` and noting the state it ended in, while the bench presses the buttons and injects a fault
from the outside: idle, stimulation, expression, mixed, rest, paused, fault.
The longest single call is the longest loop stall (the flash writes happen
inside it), reported with the state change it came with. Heap in use is
`gc.mem_alloc()` after boot() and release_boot_modules(), collected.

Prints a table; `--json` also writes it. `--bytecode` flashes the firmware
without its machine code (`make flash BYTECODE=1`): what that code costs
in heap and buys in tick time.
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
from tools.rp2040.bench import BOOT_S, Bench

PROFILES = os.path.join(paths.ROOT, "host_tests", "rp2040", "profiles_bench.json")
STATES = ("idle", "stimulation", "expression", "mixed", "rest", "paused", "fault")

# The harnesses' pacing, as App.run() does it: the next tick's due time
# and wait from the app's own next_wait() (one tick_ms after the last was
# due, moved on by a flash write's stall, resynced when far behind); with
# the app's read_ahead the sensor's read queued 1 ms before the tick. `a` is that
# call's time, which the harness adds to the next tick's: the loop spends
# it on the tick as surely as step() does. (The second sleep_ms call it
# takes is not in it: README, "Measured on the emulated Pico".)
PACE = """    w = app.next_wait()
    a = 0
    if ahead is not None and w > 1:
        clock.sleep_ms(w - 1)
        t1 = clock.ticks_us()
        ahead()
        a = clock.ticks_diff(clock.ticks_us(), t1)
        clock.sleep_ms(1)
    elif w > 0:
        clock.sleep_ms(w)"""

# Runs on the board. Allocation here is the harness's, never the tick's:
# the timings go into preallocated arrays.
# DELIBERATE_BOOT: every harness boots the app after mpremote's soft reset,
# which follows main.py's own boot after the flash's reset. rp2 reports
# any machine.reset() as WDT_RESET, and main.py's boot has already taken
# the reset.flag that said it was deliberate: without a new one the
# harness's boot shows a watchdog_reset notice, and the idle ticks it
# measures pay for its blink pattern (60 us more a tick on `pico`). Each
# harness writes the flag right before its boot().
HARNESS = r"""
import gc, time, machine, micropython
from array import array
open("reset.flag", "w").close()         # a deliberate boot: DELIBERATE_BOOT above says why
from app import boot, release_boot_modules
app = boot(machine, time)
release_boot_modules()
gc.collect()
print("HEAP", gc.mem_alloc(), gc.mem_free())
import sys
print("MODS", " ".join(sorted(sys.modules)))
gc.collect()
N = %(seconds)d * 1000 // app.tick_ms
us = array("H", bytes(2 * N))
st = bytearray(N)
md = bytearray(N)
tick = app.tick_ms
print("AHEAD", app.read_ahead is not None)


# The ticks in a function: its names are locals, so what the timed span
# holds besides step() (the clock's calls) costs the same whatever else the
# harness defines (as module globals, a harness change once moved every
# median 27 us).
def ticks(app, N, us, st, md, clock):
    ahead = app.read_ahead
    a = 0
    app.due_ms = clock.ticks_ms()
    i = 0
    while i < N:
        t0 = clock.ticks_us()
        out = app.step(clock.ticks_ms())
        d = clock.ticks_diff(clock.ticks_us(), t0) + a
        us[i] = d if d < 65535 else 65535
        st[i] = out.state
        md[i] = out.mode + 1
        i += 1
%(pace)s


ticks(app, N, us, st, md, time)
app.safe()
# The watchdog runs since the first session and cannot be stopped: feed it
# while the samples go out over USB.
wdt = app.wdt
print("TICKS", tick, N)
j = 0
while j < N:
    if wdt is not None:
        wdt.feed()
    print("T", " ".join("%%d,%%d,%%d" %% (us[k], st[k], md[k]) for k in range(j, min(N, j + 50))))
    j += 50
print("END")
"""

def indented(pace):
    """PACE for a loop inside a function."""
    return "\n".join("    " + line for line in pace.split("\n"))


# (at virtual second after the harness starts, action)
# The bench profile's standard program: stimulation 6 s, expression 6 s,
# mixed 6 s, rest 6 s, expression 12 s; paused in the last step, then a fault.
SCRIPT = [(2.0, ("press", "start_stop")), (29.0, ("long", "letdown")), (33.0, ("long", "letdown")),
          (44.0, ("fault", "sensor_disconnect"))]
RUN_S = 50


def name_of(state, mode):
    # codes: STATE_IDLE 0, RUNNING 1, PAUSED 2, RESTING 3, FAULT 4, DONE 5; MODE stim 0, expr 1, mixed 2
    if state == 1:
        return ("stimulation", "expression", "mixed")[mode] if mode >= 0 else "running"
    return {0: "idle", 2: "paused", 3: "rest", 4: "fault", 5: "idle"}[state]


def percentile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def resident_code_bytes(board, modules, machine_code=True):
    """The .mpy bytes of the firmware modules still imported after boot, from
    the board's own build: on the stock firmware their bytecode and
    constants are loaded into the heap, in a frozen build (boards/manifest.py)
    they stay in flash. The heap after boot less this is the frozen build's
    estimate (module dicts and the objects the app builds remain)."""
    from tools import deploy
    with deploy.built(board, machine_code=machine_code) as files:
        total = 0
        for name in modules:
            dev = name.replace(".", "/")
            for cand in (dev + ".mpy", dev + "/__init__.mpy"):
                if cand in files:
                    total += os.path.getsize(files[cand])
        return total


def settled(b, after):
    """Run the emulated board until main.py is up again after `after`,
    which reset it; a board that does not come back is the bench's error,
    not a later "could not enter raw repl"."""
    if not b.settle():
        raise RuntimeError("the emulated board did not come back up within %.0f s after %s" % (BOOT_S, after))


def drive(board, harness, timing="typical", image=None, out=print, actions=None, machine_code=True):
    """Flash `board` on an emulated Pico (unless `image` holds one; as
    bytecode only with machine_code=False, `make flash BYTECODE=1`), run the
    harness text there with mpremote while the bench presses the buttons
    and injects the fault of `actions` (default SCRIPT; timed from the
    harness's HEAP line), and return what it printed."""
    mpremote = os.path.join(paths.ROOT, ".venv", "bin", "mpremote")
    with Bench(board, image=image, listen=True, flash_timing=timing) as b:
        port = "socket://127.0.0.1:%d" % b.port
        b.run(1.5)

        if image is None:
            out("  %s: make flash%s through the emulated board ..." % (board, "" if machine_code else " BYTECODE=1"))
            b.host(["make", "-s", "--no-print-directory", "flash", "BOARD=" + board, "PORT=" + port]
                   + ([] if machine_code else ["BYTECODE=1"]))
            settled(b, "make flash")
            b.host(["make", "-s", "--no-print-directory", "profiles-push", "FILE=" + PROFILES, "PORT=" + port])
            settled(b, "make profiles-push")
        out("  %s: %d s of ticks at %s flash timing ..." % (board, RUN_S, timing))
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
            f.write(harness)
            script = f.name
        p = subprocess.Popen([mpremote, "connect", port, "run", script], cwd=paths.ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # The harness starts ticking once boot() is done: time the script from its HEAP line.
        t0 = None
        pending = list(SCRIPT if actions is None else actions)
        while p.poll() is None:
            b.step()
            if t0 is None and b"HEAP" in b.console[-4000:]:
                t0 = b.t_ns
            if t0 is not None and pending and b.t_ns - t0 >= pending[0][0] * 1e9:
                _, (kind, arg) = pending.pop(0)
                if kind == "press":
                    b._button(arg, True)
                    b.run(0.12)
                    b._button(arg, False)
                elif kind == "long":
                    b._button(arg, True)
                    b.run(1.8)
                    b._button(arg, False)
                else:
                    b.fault(arg)
        with p.stdout:
            text = p.stdout.read()
        os.unlink(script)
        if p.returncode:
            raise RuntimeError("harness failed: " + text[-3000:])
    return text


def measure(board, timing="typical", image=None, out=print, machine_code=True):
    """{state: {median_us, worst_us, n}, stall: {...}, heap_bytes} for a board
    (flashed as bytecode only with machine_code=False)."""
    text = drive(board, HARNESS % {"seconds": RUN_S, "pace": indented(PACE)}, timing, image, out,
                 machine_code=machine_code)
    heap = [int(x) for x in text.split("HEAP", 1)[1].split()[:2]]
    resident = text.split("MODS", 1)[1].split("\n", 1)[0].split()
    samples = []
    for line in text.splitlines():
        if line.startswith("T "):
            for item in line[2:].split():
                us, st, md = (int(x) for x in item.split(","))
                samples.append((us, st, md - 1))
    per = {}
    for us, st, md in samples:
        per.setdefault(name_of(st, md), []).append(us)
    code = resident_code_bytes(board, resident, machine_code)
    result = {"board": board, "flash_timing": timing, "machine_code": machine_code, "read_ahead": "AHEAD True" in text, "heap_alloc_bytes": heap[0], "heap_free_bytes": heap[1],
              "resident_modules": resident, "resident_mpy_bytes": code,
              "frozen_heap_estimate_bytes": heap[0] - code, "states": {}}
    for s in STATES:
        xs = per.get(s, [])
        # The tick that changes state also does that change's bookkeeping (and
        # writes): it is the stall, reported below, not the state's tick cost.
        result["states"][s] = {"n": len(xs), "median_us": percentile(xs, 0.5) if xs else None,
                               "p99_us": percentile(xs, 0.99) if xs else None}
    # Worst tick per state, excluding the ticks at a state change (those are stalls).
    worst = {}
    stall = (0, None)
    for i, (us, st, md) in enumerate(samples):
        name = name_of(st, md)
        prev = name_of(samples[i - 1][1], samples[i - 1][2]) if i else name
        if name != prev or (i + 1 < len(samples) and name_of(samples[i + 1][1], samples[i + 1][2]) != name):
            if us > stall[0]:
                stall = (us, "%s -> %s" % (prev, name))
            continue
        worst[name] = max(worst.get(name, 0), us)
        if us > stall[0] and us > 5000:
            stall = (us, "during %s" % name)
    for s in STATES:
        result["states"][s]["worst_us"] = worst.get(s)
    result["longest_stall_us"] = stall[0]
    result["longest_stall_at"] = stall[1]
    return result


def table(results, out=print):
    # A bytecode-only build's row says so: its figures are not the shipped build's.
    w = max([8] + [len(_label(r)) for r in results])
    out("%-*s %-8s " % (w, "board", "flash") + " ".join("%-17s" % s for s in STATES))
    out("%-*s %-8s " % (w, "", "") + " ".join("%-17s" % "median/worst us" for _ in STATES))
    for r in results:
        cells = []
        for s in STATES:
            c = r["states"][s]
            cells.append("%-17s" % ("%s/%s" % (c["median_us"], c["worst_us"]) if c["n"] else "-"))
        out("%-*s %-8s " % (w, _label(r), r["flash_timing"]) + " ".join(cells))
    for r in results:
        out("%s, %s flash: longest loop stall %.1f ms (%s); heap in use after boot %d bytes (%d free); "
            "frozen build (boards/manifest.py) about %d bytes (%d bytes of resident .mpy in flash instead)" % (
                _label(r), r["flash_timing"], r["longest_stall_us"] / 1000, r["longest_stall_at"],
                r["heap_alloc_bytes"], r["heap_free_bytes"], r["frozen_heap_estimate_bytes"],
                r["resident_mpy_bytes"]))


def _label(r):
    return r["board"] if r.get("machine_code", True) else r["board"] + " (bytecode)"


def per_board_main(prog, doc, measure, table, default_boards, argv=None):
    """The command line of a per-board bench (tickparts, heapparts): measure
    each of --boards on the emulated chip, print its table as it comes, and
    write all results to --json."""
    ap = argparse.ArgumentParser(prog="python -m " + prog, description=doc.split("\n\n")[0])
    ap.add_argument("--boards", default=default_boards)
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    why = chip.missing()
    if why:
        print("rp2040: " + why, file=sys.stderr)
        return 2
    results = []
    for board in args.boards.split(","):
        r = measure(board, out=lambda s: print(s, flush=True))
        table(r)
        results.append(r)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.rp2040.tickbench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--boards", default="pico,pico_w")
    ap.add_argument("--timings", default="typical,worst")
    ap.add_argument("--bytecode", action="store_true",
                    help="flash the firmware as bytecode only (make flash BYTECODE=1): what its machine code buys")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    why = chip.missing()
    if why:
        print("rp2040: " + why, file=sys.stderr)
        return 2
    results = []
    t0 = time.time()
    for board in args.boards.split(","):
        for timing in args.timings.split(","):
            results.append(measure(board, timing, out=lambda s: print(s, flush=True), machine_code=not args.bytecode))
    table(results)
    print("(%.0f s of wall time)" % (time.time() - t0))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
