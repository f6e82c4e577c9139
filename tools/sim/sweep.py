"""Deterministic fault-instant sweeps: the real firmware in the loop (the
simulator's engine: app.py, the drivers, the pump core, the fake machine and
the plant), warmed up once per case, then branched at every instant of a
window with one sensor fault injected at that instant.

Branching is a process fork of the warmed-up simulation (copy-on-write: the
child continues exactly the parent's state, generator and fake hardware
included), so a case costs only its own horizon, not the warm-up. The parent
walks the window tick by tick and forks a child for each instant; the child
injects the fault (in the middle of a tick when the instant falls there),
runs until the firmware trips (and a few ticks more) or the horizon ends,
and reports the highest true vacuum from the injection on.

Faults:
- freeze: the element's output stops at its value at the instant
  (sensor_stuck);
- saturate: the element stops following above the true vacuum at the
  instant (clipped there) while its noise goes on, so the reading stays
  plausible and changing: nothing but the blind-push guard can see it;
- disconnect: readings stop arriving (I2C: I/O errors, analog: the input
  falls to 0 V, HX710B: DOUT never falls, so only sensor_stale sees it).

`python -m tools.sim.sweep [--full]` prints the grid; the tests
(host_tests/test_safety_sweep.py) assert on it.
"""
import json
import os
import sys

from tools import paths
from tools.sim import scenario

paths.use_sim()
from engine import Engine  # noqa: E402
from plant import PA_PER_MMHG  # noqa: E402

# The slowest sensor the firmware accepts: an HX710B at 40 Hz (25 ms ticks,
# 250 ms stale time), here on the simulator's board, calibrated (divided
# down) so that it reads past the limit + 20 mmHg, as the firmware demands.
HX710B_40HZ = "hx710b_40hz"
STATE_FAULT = 4
FAULTS = ("freeze", "saturate", "disconnect")
MODES = ("stimulation", "expression", "mixed")
# Plants: default and the four corners of volume x pump strength at +/-50 %,
# each with the leak at -50 % (a leak only lowers the vacuum: the least leak
# is the worst case for over-vacuum); `make soak` runs the full 3 x 3 x 3 grid.
DEFAULT_PLANT = {"volume_ml": 74.0, "pump_free_flow_lpm": 5.0, "leak_ml_min_at_100mmhg": 15.0}


def plant_variant(volume, pump, leak):
    """Plant overrides for fractions (-0.5, 0, +0.5) of the default."""
    d = DEFAULT_PLANT
    return {"volume_ml": d["volume_ml"] * (1 + volume), "pump_free_flow_lpm": d["pump_free_flow_lpm"] * (1 + pump),
            "leak_ml_min_at_100mmhg": d["leak_ml_min_at_100mmhg"] * (1 + leak)}


CORNERS = [(0, 0, 0), (-0.5, 0.5, -0.5), (-0.5, -0.5, -0.5), (0.5, 0.5, -0.5), (0.5, -0.5, -0.5)]
GRID = [(a, b, c) for a in (-0.5, 0, 0.5) for b in (-0.5, 0, 0.5) for c in (-0.5, 0, 0.5)]


def board_object(name):
    if name == HX710B_40HZ:
        with open(os.path.join(paths.BOARDS, "sim.json")) as f:
            b = json.load(f)
        b["name"] = HX710B_40HZ
        b["sensor"] = {"type": "hx710b", "sck": 20, "dout": 21, "rate_hz": 40, "offset": 0,
                       "counts_per_kpa": 100000}
        return b
    with open(os.path.join(paths.BOARDS, name + ".json")) as f:
        return json.load(f)


def warm_scenario(board, mode, plant, level_steps=4, seed=1):
    """Start, the mode (expression: a let-down press; mixed: its profiles),
    `level_steps` level presses from the default (5 + 4 = the top level 9)."""
    events = [{"at_s": 0.5, "press": "start"}]
    t = 1.0
    if mode == "expression":
        events.append({"at_s": t, "press": "letdown"})
        t += 0.5
    press = "level_up" if level_steps > 0 else "level_down"
    for _ in range(abs(level_steps)):
        events.append({"at_s": t, "press": press})
        t += 0.4
    d = {"board": "sim" if board == HX710B_40HZ else board, "duration_s": 600, "seed": seed,
         "plant": dict(plant), "events": events}
    if mode == "mixed":
        d["profiles"] = "profiles_mixed.json"
    sc, errors = scenario.load(d)
    if errors:
        raise ValueError("; ".join(errors))
    spec, files = scenario.resolve(sc)
    if board == HX710B_40HZ:
        b = board_object(board)
        spec["board"] = b
        files = dict(files)
        files["board.json"] = json.dumps(b)
    return spec, files


def _inject(eng, fault, at_ms):
    eng.link.advance(at_ms)
    if fault == "freeze":
        eng.fault("sensor_stuck", {}, True, at_ms)
    elif fault == "saturate":
        eng.signal.ceiling_pa = eng.plant.vacuum_pa
    elif fault == "disconnect":
        eng.fault("sensor_disconnect", {}, True, at_ms)
    else:
        raise ValueError(fault)


def _child(eng, gen, fault, at_ms, horizon_ms, after_trip_ms):
    _inject(eng, fault, at_ms)
    link = eng.link
    link.max_pa = eng.plant.vacuum_pa
    trip_ms = None
    trip = 0
    duty_after_trip = 0
    end = at_ms + horizon_ms
    for row in gen:
        if trip_ms is None and row[6] == STATE_FAULT:
            trip_ms = row[0]
            trip = row[9]
            end = min(end, row[0] + after_trip_ms)
        elif trip_ms is not None and row[4] > duty_after_trip:
            duty_after_trip = row[4]
        if row[0] >= end:
            break
    return {"at_ms": at_ms, "max_pa": link.max_pa, "trip": trip,
            "detect_ms": None if trip_ms is None else trip_ms - at_ms, "duty_after_trip": duty_after_trip}


def _fork(fn):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                   # the branch: report and leave, nothing else
        os.close(r)
        try:
            out = json.dumps(fn()).encode()
        except BaseException as e:                 # noqa: B902 - reported to the parent
            out = json.dumps({"error": repr(e)}).encode()
        try:
            while out:
                n = os.write(w, out)
                out = out[n:]
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    os.waitpid(pid, 0)
    res = json.loads(b"".join(chunks).decode())
    if "error" in res:
        raise RuntimeError("sweep branch failed: " + res["error"])
    return res


class WarmupTrip(Exception):
    """The firmware tripped before the fault was injected (a plant too weak
    for the level ends in no_vacuum): nothing to sweep."""


def suction_starts(eng, gen, after_ms, count):
    """Run to the first `count` suction starts (valve closing) after
    after_ms; returns their times (the parent stays at the last one)."""
    starts = []
    prev_open = 1
    for row in gen:
        if row[6] == STATE_FAULT:
            raise WarmupTrip("tripped %d during the warm-up at %d ms" % (row[9], row[0]))
        if row[0] > after_ms and prev_open == 1 and row[5] == 0 and row[6] == 1:
            starts.append(row[0])
            if len(starts) == count:
                break
        prev_open = row[5]
    return starts


def sweep(board, mode, plant, fault, window_ms=None, step_ms=10, warm_ms=None, horizon_ms=None,
          after_trip_ms=50, level_steps=4, seed=1):
    """One case: warm up, then inject `fault` at every step_ms over window_ms
    (default: the cycle, or in mixed mode the expression cycle and the
    stimulation cycle after it) from a suction start. Returns the list of
    branch results and the case's facts."""
    spec, files = warm_scenario(board, mode, plant, level_steps, seed)
    eng = Engine(spec, files)
    gen = eng.rows()
    if warm_ms is None:
        # Past the level presses and the first cycles' learning; before a
        # plant too weak for the top level ends in no_vacuum (10 s).
        warm_ms = {"stimulation": 6000, "expression": 8000, "mixed": 6000}[mode]
    # Start the window at a cycle start: in mixed mode the expression cycle
    # (the one after five stimulation cycles).
    if mode == "mixed":
        starts = []
        while True:
            t = suction_starts(eng, gen, warm_ms if not starts else starts[-1], 1)[0]
            starts.append(t)
            if eng.app.session.cycle_mode == 1:
                break
        start = starts[-1]
    else:
        start = suction_starts(eng, gen, warm_ms, 1)[0]
    period = eng.app.session.p.modes[eng.app.session.cycle_mode].period_ms
    if window_ms is None:
        window_ms = period + (600 if mode == "mixed" else 0)
    if horizon_ms is None:
        # A frozen or silent sensor trips within two cycles (the branch ends
        # there); a saturated one may never trip, so its branch runs on for
        # the cycles in which the peak correction has grown to its maximum
        # (in mixed mode: into the next expression cycle).
        horizon_ms = 3500 if fault != "saturate" else (5000 if mode == "mixed" else 3000)
    tick = eng.tick_ms
    # The parent stands at the tick that closed the valve (time `start`).
    results = []
    now = start
    for at in range(start, start + window_ms, step_ms):
        while now + tick <= at:
            row = next(gen)
            now = row[0]
        results.append(_fork(lambda: _child(eng, gen, fault, at, horizon_ms, after_trip_ms)))
    facts = {"board": board, "mode": mode, "plant": plant, "fault": fault, "window_start_ms": start,
             "window_ms": window_ms, "step_ms": step_ms, "tick_ms": tick,
             "limit_pa": eng.app.session.monitor.cfg.limit_pa,
             "max_pa": max(r["max_pa"] for r in results)}
    return results, facts


def mmhg(pa):
    return pa / PA_PER_MMHG


def main(argv=None):
    import argparse
    import time
    ap = argparse.ArgumentParser(prog="python -m tools.sim.sweep")
    ap.add_argument("--boards", default="sim,esp32_devkitc," + HX710B_40HZ)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--faults", default=",".join(FAULTS))
    ap.add_argument("--grid", action="store_true", help="the 27 plants of the soak grid, not the 5 corners")
    ap.add_argument("--step", type=int, default=10)
    args = ap.parse_args(argv)
    plants = GRID if args.grid else CORNERS
    worst = 0.0
    t0 = time.perf_counter()
    for board in args.boards.split(","):
        for mode in args.modes.split(","):
            for fault in args.faults.split(","):
                for pv in plants:
                    t = time.perf_counter()
                    res, facts = sweep(board, mode, plant_variant(*pv), fault, step_ms=args.step)
                    top = max(res, key=lambda r: r["max_pa"])
                    worst = max(worst, facts["max_pa"])
                    trips = {}
                    for r in res:
                        trips[r["trip"]] = trips.get(r["trip"], 0) + 1
                    print("%-14s %-11s %-10s %-18s n=%3d max %6.1f mmHg (at +%4d ms) trips %s  %.1fs" % (
                        board, mode, fault, "%+d/%+d/%+d%%" % tuple(int(100 * x) for x in pv), len(res),
                        mmhg(facts["max_pa"]), top["at_ms"] - facts["window_start_ms"], trips,
                        time.perf_counter() - t), flush=True)
    print("worst %.1f mmHg; %.0f s" % (mmhg(worst), time.perf_counter() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
