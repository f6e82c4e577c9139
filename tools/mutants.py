"""`make mutants`: mutation testing of the safety code with cosmic-ray.

Mutates firmware/pump/safety.py, firmware/pump/session.py and the limiting
parts of firmware/pump/control.py (the clamps, the ceiling, the stall and
slew rules, stopping; not the PI and learning arithmetic), one mutant at a
time, and runs a fast selection of the safety tests against each (stopping
at the first failure). A mutant no test notices is printed with its diff.

Everything runs in a scratch copy (out/mutants/repo): cosmic-ray rewrites
the files it mutates, and the working tree may be in use by other runs.

Operators: every number replaced (+1 / -1: the thresholds and constants are
the mitigations), each comparison by its boundary neighbour (< <=) and its
negation (< >=),
`not` added or removed, and/or swapped, True/False swapped, loops run zero
times, arithmetic replaced by its nearest neighbour (+ -, * //, << >>,
& |). Replacements that cannot keep the code an integer program or are
bound to crash it (**, /, %, ^, comparisons turned into `is` or into one
that is neither neighbour nor negation) are left out: they are either caught
at once or not a change a person would make.

    python -m tools.mutants [--resume] [--timeout S] [--minutes M]

Prints the counts (generated, skipped by the filter, killed, survived,
timeouts, incompetent) and each survivor; writes out/mutants/report.json,
which `python -m tools.mutants_table` turns into docs/safety.md's table.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

from tools import paths

OUT = os.path.join(paths.ROOT, "out", "mutants")
WORK = os.path.join(OUT, "repo")
SESSION = os.path.join(OUT, "session.sqlite")
MODULES = ["firmware/pump/safety.py", "firmware/pump/session.py", "firmware/pump/control.py"]
# The test selection: the monitor's and guard's thresholds first (fast and
# precise), then the session, control, properties, and a few sweep cases.
TESTS = ["host_tests/test_safety_mitigations.py", "host_tests/test_safety.py", "host_tests/test_session.py",
         "host_tests/test_control.py", "host_tests/test_cycle.py", "host_tests/test_safety_properties.py",
         "host_tests/test_safety_sweep.py"]
KEEP_BINARY = {("Add", "Sub"), ("Sub", "Add"), ("Mul", "FloorDiv"), ("FloorDiv", "Mul"), ("LShift", "RShift"),
               ("RShift", "LShift"), ("BitAnd", "BitOr"), ("BitOr", "BitAnd")}
# Each comparison to its boundary neighbour and to its negation.
KEEP_COMPARE = {("Lt", "LtE"), ("Lt", "GtE"), ("LtE", "Lt"), ("LtE", "Gt"), ("Gt", "GtE"), ("Gt", "LtE"),
                ("GtE", "Gt"), ("GtE", "Lt"), ("Eq", "NotEq"), ("NotEq", "Eq"), ("Is", "IsNot"), ("IsNot", "Is")}
# control.py: the limiting parts, found by what the lines say.
# (Case-blind: the state is in slots named DUTY_SLOT, _MIN_DUTY, _CEILING, ...)
CONTROL_LIMITS = re.compile(r"ceiling|DUTY_MAX|I_MAX|min_duty|TRIM_M(AX|IN)_PA|DT_MAX_MS|60000|slew|top\b|"
                            r"DUTY_SLOT\] = |return 0|_SAT_MS\] \* 2|sp < 0|sp = 0|_CUT\]", re.I)
CONTROL_FUNCS = ("def off", "def capped")


def copy_repo(dest=WORK):
    if os.path.exists(dest):
        shutil.rmtree(dest)
    ignore = shutil.ignore_patterns(".venv", ".git", "out", ".stubs", "__pycache__", ".hypothesis", "node_modules",
                                    "*.uf2", "*.bin")
    shutil.copytree(paths.ROOT, dest, symlinks=True, ignore=ignore)


# An HTTP worker of cosmic-ray's http distributor, listening on the loopback
# only; each worker mutates and tests in its own copy of the tree.
WORKER = """
import sys
from aiohttp import web
from cosmic_ray.distribution.http import handle_mutate_and_test
app = web.Application()
app.add_routes([web.post("/", handle_mutate_and_test)])
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""
PORT0 = 9876


def start_workers(n):
    procs = []
    for i in range(n):
        d = os.path.join(OUT, "worker%d" % i)
        copy_repo(d)
        procs.append(subprocess.Popen([sys.executable, "-c", WORKER, str(PORT0 + i)], cwd=d))
    time.sleep(2)
    return procs


def config_text(timeout, workers):
    cmd = "%s -m pytest -x -q -p no:cacheprovider %s" % (sys.executable, " ".join(TESTS))
    lines = [
        "[cosmic-ray]",
        "module-path = %s" % json.dumps(MODULES),
        "timeout = %.1f" % timeout,
        "excluded-modules = []",
        "test-command = %s" % json.dumps(cmd),
        "",
        "[cosmic-ray.distributor]",
        'name = "%s"' % ("http" if workers > 1 else "local"),
        ""]
    if workers > 1:
        lines += ["[cosmic-ray.distributor.http]",
                  "worker-urls = %s" % json.dumps(["http://127.0.0.1:%d" % (PORT0 + i) for i in range(workers)]), ""]
    return "\n".join(lines)


# A slot's index (pump/slots.py): the layout of an array, not a limit.
SLOT_INDEX = re.compile(r"(_[A-Z0-9_]+|[A-Z0-9_]+_SLOT) = const\(")


def init_lines(path):
    """1-based line numbers inside __init__ methods: the construction
    defaults, overwritten before any tick uses them (reset(), new_session(),
    _start() set what matters, and those are mutated); and the slot index
    constants (moving one only swaps two words of an array)."""
    keep = set()
    with open(os.path.join(WORK, path)) as f:
        lines = f.read().split("\n")
    inside = False
    indent = 0
    for i, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("def "):
            inside = stripped.startswith("def __init__")
            indent = len(line) - len(line.lstrip())
        elif inside and stripped and len(line) - len(line.lstrip()) <= indent:
            inside = False
        if inside or SLOT_INDEX.match(line):
            keep.add(i)
    return keep


def control_lines():
    """1-based line numbers of control.py's limiting parts."""
    keep = set()
    with open(os.path.join(WORK, "firmware/pump/control.py")) as f:
        lines = f.read().split("\n")
    in_func = False
    for i, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("def "):
            in_func = stripped.startswith(CONTROL_FUNCS)
        if stripped.startswith("if holding and not"):
            continue                               # conditional integration: control quality, not a limit
        if SLOT_INDEX.match(stripped):
            continue                               # a slot's index: the layout, not a limit
        if in_func or (CONTROL_LIMITS.search(line) and not stripped.startswith("#")):
            keep.add(i)
    return keep


def wanted(op, path, row, control, inits):
    name = op.split("/")[-1]
    if row in inits.get(path, ()) and name in ("NumberReplacer", "ReplaceTrueWithFalse", "ReplaceFalseWithTrue"):
        return False
    if name.startswith("ReplaceBinaryOperator_"):
        a, b = name[len("ReplaceBinaryOperator_"):].split("_")
        if (a, b) not in KEEP_BINARY:
            return False
    elif name.startswith("ReplaceComparisonOperator_"):
        a, b = name[len("ReplaceComparisonOperator_"):].split("_")
        if (a, b) not in KEEP_COMPARE:
            return False
    elif name in ("ReplaceUnaryOperator_USub_UAdd", "ReplaceUnaryOperator_USub_Invert",
                  "ReplaceUnaryOperator_USub_Not"):
        return False
    if path.endswith("control.py") and row not in control:
        return False
    return True


def filter_session():
    from cosmic_ray.work_db import use_db
    from cosmic_ray.work_item import WorkResult, WorkerOutcome
    control = control_lines()
    inits = {m: init_lines(m) for m in MODULES}
    skipped = 0
    total = 0
    with use_db(SESSION) as db:
        for item in list(db.pending_work_items):
            total += 1
            m = item.mutations[0]
            path = str(m.module_path)
            if not wanted(m.operator_name, path, m.start_pos[0], control, inits):
                db.set_result(item.job_id, WorkResult(output=None, test_outcome=None, diff=None,
                                                      worker_outcome=WorkerOutcome.SKIPPED))
                skipped += 1
    return total, skipped


def report():
    from cosmic_ray.work_db import use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome
    counts = {"generated": 0, "skipped": 0, "killed": 0, "survived": 0, "timeout": 0, "incompetent": 0,
              "pending": 0}
    survivors = []
    with use_db(SESSION) as db:
        for item, result in db.completed_work_items:
            counts["generated"] += 1
            m = item.mutations[0]
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                counts["skipped"] += 1
            elif result.worker_outcome == WorkerOutcome.NORMAL:
                if result.test_outcome == TestOutcome.KILLED and result.output == "timeout":
                    counts["timeout"] += 1      # an endless loop or a hang: noticed, a kill
                elif result.test_outcome == TestOutcome.SURVIVED:
                    counts["survived"] += 1
                    survivors.append({"job": item.job_id, "file": str(m.module_path), "line": m.start_pos[0],
                                      "operator": m.operator_name, "occurrence": m.occurrence,
                                      "diff": result.diff})
                elif result.test_outcome == TestOutcome.INCOMPETENT:
                    counts["incompetent"] += 1
                else:
                    counts["killed"] += 1
            else:
                counts["incompetent"] += 1
        counts["pending"] = sum(1 for _ in db.pending_work_items)
        counts["generated"] += counts["pending"]
    return counts, survivors


def cosmic_ray(*args):
    exe = os.path.join(os.path.dirname(sys.executable), "cosmic-ray")
    subprocess.run([exe] + list(args), cwd=WORK, check=True)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.mutants")
    ap.add_argument("--resume", action="store_true", help="continue the last session in out/mutants")
    ap.add_argument("--timeout", type=float, default=40.0, help="seconds per mutant (a hang is a kill)")
    ap.add_argument("--minutes", type=float, default=55.0, help="stop the run after this long (--resume goes on)")
    ap.add_argument("--workers", type=int, default=2, help="mutants tested at once (each in its own copy)")
    args = ap.parse_args(argv)
    os.makedirs(OUT, exist_ok=True)
    # The sweep tests run their short selection (test_safety_sweep.py).
    os.environ["SWEEP"] = "mutants"
    cfg = os.path.join(OUT, "cosmic-ray.toml")
    started = time.time()
    if not args.resume or not os.path.exists(SESSION):
        copy_repo()
        with open(cfg, "w") as f:
            f.write(config_text(args.timeout, args.workers))
        if os.path.exists(SESSION):
            os.remove(SESSION)
        cosmic_ray("init", cfg, SESSION)
        total, skipped = filter_session()
        print("mutants: %d generated, %d left out by the operator and control.py filters" % (total, skipped),
              flush=True)
        base = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"] + TESTS,
                              cwd=WORK, capture_output=True, text=True)
        if base.returncode != 0:
            print(base.stdout[-3000:])
            print("the unmutated copy fails its tests: nothing to measure")
            return 1
    else:
        for m in MODULES:                          # a stopped run may have left a mutant on disk
            shutil.copy(os.path.join(paths.ROOT, m), os.path.join(WORK, m))
        with open(cfg, "w") as f:
            f.write(config_text(args.timeout, args.workers))
        filter_session()
    workers = start_workers(args.workers) if args.workers > 1 else []
    exe = os.path.join(os.path.dirname(sys.executable), "cosmic-ray")
    proc = subprocess.Popen([exe, "exec", cfg, SESSION], cwd=WORK)
    try:
        proc.wait(timeout=args.minutes * 60)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait()
        print("stopped after %g min: `python -m tools.mutants --resume` goes on" % args.minutes)
    finally:
        for w in workers:
            w.terminate()
            w.wait()
    counts, survivors = report()
    with open(os.path.join(OUT, "report.json"), "w") as f:
        json.dump({"counts": counts, "survivors": survivors}, f, indent=1)
    for s in survivors:
        print("SURVIVED %s:%d %s (job %s)" % (s["file"], s["line"], s["operator"], s["job"]))
        for line in (s["diff"] or "").splitlines():
            if line.startswith(("+", "-")) and not line.startswith(("+++", "---")):
                print("    " + line)
    print("mutants: %(generated)d generated, %(skipped)d left out, %(killed)d killed, %(timeout)d timed out "
          "(killed), %(survived)d survived, %(incompetent)d incompetent, %(pending)d pending" % counts)
    print("%.0f min" % ((time.time() - started) / 60))
    return 0


if __name__ == "__main__":
    sys.exit(main())
