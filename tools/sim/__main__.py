"""python -m tools.sim SCENARIO.json [--runtime cpython|micropython]
                     [--trace OUT.csv] [--summary OUT.json] [--plot OUT.png] [--quiet]

Runs the real firmware (app.py, the drivers, the pump core) against the
physical plant through the fake machine, prints a summary table, and
writes what was asked for. While it runs, a progress bar in simulated
minutes is drawn on stderr when stderr is a terminal (not with --quiet).
Exit status 2 for a scenario that fails validation (every error with its
path), 1 for a failed run.
"""
import argparse
import json
import os
import sys
import time

from tools import paths
from tools.progress import SimBar
from tools.sim import runner, scenario
from tools.sim import summary as summary_mod

paths.use_sim()


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.sim", description=__doc__.split("\n\n")[1])
    ap.add_argument("scenario")
    ap.add_argument("--runtime", choices=("cpython", "micropython"), default="cpython")
    ap.add_argument("--trace", help="trace CSV, one row per control tick")
    ap.add_argument("--summary", help="summary JSON")
    ap.add_argument("--plot", help="plot PNG")
    ap.add_argument("--quiet", action="store_true", help="no progress bar (there is none when stderr is not "
                    "a terminal)")
    args = ap.parse_args(argv)
    sc, errors = scenario.load_file(args.scenario)
    if errors:
        for e in errors:
            print("%s: %s" % (args.scenario, e), file=sys.stderr)
        return 2
    from pump import profiles as profiles_mod
    spec, files = scenario.resolve(sc)
    prof, perrors = profiles_mod.loads(files["profiles.json"])
    if perrors:
        print("%s: the profiles file is invalid; the firmware will run on its defaults:" % sc["profiles_path"],
              file=sys.stderr)
        for e in perrors:
            print("  " + e, file=sys.stderr)
        prof = profiles_mod.defaults()
    name = os.path.splitext(os.path.basename(args.scenario))[0]
    print("simulating %s: %g s on board %s (%s)" % (name, sc["duration_s"], sc["board"], args.runtime),
          file=sys.stderr)
    started = time.perf_counter()
    bar = SimBar(sc["duration_s"] * 1000, sys.stderr, quiet=args.quiet)
    try:
        rows = runner.run(spec, files, args.runtime, progress=bar)
    except RuntimeError as e:
        bar.close()
        print(str(e), file=sys.stderr)
        return 1
    bar.close()
    wall = time.perf_counter() - started
    summ = summary_mod.summarize(rows, spec, prof, name, args.runtime)
    summ["wall_s"] = round(wall, 2)
    summ["speed_x_real_time"] = round(sc["duration_s"] / wall, 1) if wall > 0 else None
    print(summary_mod.table(summ))
    print("%d ticks in %.1f s wall: %.0fx real time" % (len(rows), wall, summ["speed_x_real_time"] or 0))
    for path in (args.trace, args.summary, args.plot):
        if path and os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
    if args.trace:
        summary_mod.write_trace(rows, args.trace)
    if args.summary:
        with open(args.summary, "w") as f:
            json.dump(summ, f, indent=1)
    if args.plot:
        from tools.sim import plot
        plot.plot(rows, summ, args.plot, "%s (%s, seed %d)" % (name, sc["board"], sc["seed"]), sc["events"])
    for path in (args.trace, args.summary, args.plot):
        if path:
            print("wrote " + path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
