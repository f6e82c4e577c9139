"""From the engine's rows to the trace CSV and the summary (contract).

A phase is a run of ticks in one pumping mode (running) or in a program's
rest; pauses, faults and idle end a phase. A cycle starts where the valve
closes (suction); its peak is the highest true vacuum until the next cycle
starts, its target the setpoint's plateau. Accuracy figures count from the
third cycle of a phase on (the controller learns in the first two).
"""
import math

from pump.codes import FAULT_NAMES, MODE_NAMES, STATE_NAMES

T, TRUE, READ, SP, DUTY, VALVE, STATE, MODE, CMODE, FAULT, TARGET, LEVEL = range(12)
RUNNING, PAUSED, RESTING, FAULTED = 1, 2, 3, 4
TRACE_COLUMNS = ("t_ms", "vacuum_mmhg", "reading_mmhg", "setpoint_mmhg", "duty_u16", "valve_open", "state",
                 "mode", "fault")
SKIP_CYCLES = 2


def milli(x):
    if x is None:
        return ""
    sign = "-" if x < 0 else ""
    x = abs(x)
    return "%s%d.%03d" % (sign, x // 1000, x % 1000)


def state_name(s):
    return "off" if s < 0 else STATE_NAMES[s]


def write_trace(rows, path):
    with open(path, "w") as f:
        f.write(",".join(TRACE_COLUMNS) + "\n")
        for r in rows:
            f.write("%d,%s,%s,%s,%d,%d,%s,%s,%s\n" % (
                r[T], milli(r[TRUE]), milli(r[READ]), milli(r[SP]), r[DUTY], r[VALVE], state_name(r[STATE]),
                MODE_NAMES[r[MODE]] if r[MODE] >= 0 else "", FAULT_NAMES[r[FAULT]]))


def phases(rows):
    """[(name, first index, last index)] of running-mode and rest phases."""
    out = []
    cur = None
    for i, r in enumerate(rows):
        key = MODE_NAMES[r[MODE]] if r[STATE] == RUNNING and r[MODE] >= 0 else ("rest" if r[STATE] == RESTING
                                                                                  else None)
        if cur is not None and key == cur[0]:
            cur[2] = i
            continue
        if cur is not None:
            out.append(tuple(cur))
        cur = [key, i, i] if key is not None else None
    if cur is not None:
        out.append(tuple(cur))
    return out


def cycles(rows, a, b):
    """Complete cycles in rows[a..b]: (start index, next start index)."""
    starts = [i for i in range(max(a, 1), b + 1) if rows[i][VALVE] == 0 and rows[i - 1][VALVE] == 1]
    return list(zip(starts, starts[1:]))


def _stats(values):
    if not values:
        return None
    return {"mean": round(sum(values) / len(values), 2), "min": round(min(values), 2), "max": round(max(values), 2)}


def cycle_facts(rows, i0, i1):
    """mode, target, peak (mmHg), period (ms), rise to 90 % (ms or None)."""
    seg = rows[i0:i1]
    target = max(r[SP] for r in seg) / 1000.0
    peak = max(r[TRUE] for r in seg) / 1000.0
    rise = None
    for r in seg:
        if r[TRUE] / 1000.0 >= 0.9 * target:
            rise = r[T] - rows[i0][T] + (rows[i0][T] - rows[i0 - 1][T] if i0 > 0 else 0)
            break
    return MODE_NAMES[rows[i0][CMODE]], target, peak, rows[i1][T] - rows[i0][T], rise


def phase_summary(rows, name, a, b, profiles):
    entry = {"phase": name, "start_s": rows[a][T] / 1000.0 - (rows[a][T] - rows[a - 1][T]) / 1000.0 if a else 0.0,
             "end_s": rows[b][T] / 1000.0}
    if name == "rest":
        return entry
    cyc = cycles(rows, a, b)
    entry["cycles"] = len(cyc)
    by_mode = {}
    for k, (i0, i1) in enumerate(cyc):
        if k < SKIP_CYCLES:
            continue
        mode, target, peak, period, rise = cycle_facts(rows, i0, i1)
        m = by_mode.setdefault(mode, {"targets": set(), "errors": [], "peaks": [], "periods": [], "rises": [],
                                      "no_rise": 0})
        m["targets"].add(round(target, 1))
        m["errors"].append(peak - target)
        m["peaks"].append(peak)
        m["periods"].append(period)
        if rise is None:
            m["no_rise"] += 1
        else:
            m["rises"].append(rise)
    out = {}
    for mode, m in by_mode.items():
        code = MODE_NAMES.index(mode)
        target_cpm = profiles.modes[code].cycles_per_min
        measured = 60000.0 / (sum(m["periods"]) / len(m["periods"]))
        errs = m["errors"]
        out[mode] = {
            "cycles_counted": len(errs),
            "cycles_per_min": {"measured": round(measured, 2), "target": target_cpm},
            "peak_mmhg": dict(_stats(m["peaks"]), targets=sorted(m["targets"])),
            "peak_error_mmhg": dict(_stats(errs), rms=round(math.sqrt(sum(e * e for e in errs) / len(errs)), 2),
                                    max_abs=round(max(abs(e) for e in errs), 2)),
            "rise_to_90pct_ms": dict(_stats(m["rises"]) or {}, missed=m["no_rise"]),
        }
    entry["modes"] = out
    return entry


def trips(rows):
    out = []
    for i in range(1, len(rows)):
        r = rows[i]
        if r[STATE] == FAULTED and rows[i - 1][STATE] != FAULTED:
            j = i
            while j < len(rows) and rows[j][STATE] == FAULTED:
                j += 1
            after = max(x[TRUE] for x in rows[i:j]) / 1000.0
            out.append({"t_s": r[T] / 1000.0, "fault": FAULT_NAMES[r[FAULT]],
                        "reading_mmhg": None if r[READ] is None else r[READ] / 1000.0,
                        "max_true_mmhg_after": after, "cleared_s": rows[j][T] / 1000.0 if j < len(rows) else None})
    return out


def injected(spec, rows, trip_list):
    """Each injected fault with the first trip at or after it."""
    out = []
    for e in spec["events"]:
        if e["kind"] != "fault":
            continue
        at = e["at_ms"] / 1000.0
        first = next((t for t in trip_list if t["t_s"] >= at), None)
        out.append({"fault": e["name"], "at_s": at, "trip": first["fault"] if first else None,
                    "detection_ms": round((first["t_s"] - at) * 1000) if first else None})
    return out


def summarize(rows, spec, profiles, name="scenario", runtime="cpython"):
    trip_list = trips(rows)
    return {
        "scenario": name,
        "runtime": runtime,
        "duration_s": spec["duration_ms"] / 1000.0,
        "phases": [phase_summary(rows, n, a, b, profiles) for n, a, b in phases(rows)],
        "trips": trip_list,
        "injected_faults": injected(spec, rows, trip_list),
        "max_true_vacuum_mmhg": max(r[TRUE] for r in rows) / 1000.0 if rows else 0.0,
        "end_state": state_name(rows[-1][STATE]) if rows else None,
    }


def table(summary):
    """The summary as a short text table for the terminal."""
    lines = ["%-12s %8s %8s %6s  %-16s %-22s %-16s" % ("phase", "start", "end", "cycles", "cpm meas/target",
                                                       "peak err mmHg mean/max", "rise90 ms mean/max")]
    for p in summary["phases"]:
        if p["phase"] == "rest":
            lines.append("%-12s %7.1fs %7.1fs" % ("rest", p["start_s"], p["end_s"]))
            continue
        first = True
        for mode, m in sorted(p.get("modes", {}).items()):
            cpm = m["cycles_per_min"]
            err = m["peak_error_mmhg"]
            rise = m["rise_to_90pct_ms"]
            lines.append("%-12s %7.1fs %7.1fs %6d  %6.2f / %-6g  %+6.2f / %5.2f (%s)   %s" % (
                p["phase"] if first else "  " + mode, p["start_s"], p["end_s"], p["cycles"], cpm["measured"],
                cpm["target"], err["mean"], err["max_abs"], ",".join("%g" % t for t in m["peak_mmhg"]["targets"]),
                "%.0f / %.0f" % (rise["mean"], rise["max"]) if "mean" in rise else "-"))
            first = False
        if first:
            lines.append("%-12s %7.1fs %7.1fs %6d" % (p["phase"], p["start_s"], p["end_s"], p.get("cycles", 0)))
    for t in summary["trips"]:
        lines.append("trip %-14s at %8.2fs  reading %s  highest true vacuum after %.1f mmHg" % (
            t["fault"], t["t_s"], "-" if t["reading_mmhg"] is None else "%.1f" % t["reading_mmhg"],
            t["max_true_mmhg_after"]))
    lines.append("highest true vacuum %.1f mmHg; ends %s" % (summary["max_true_vacuum_mmhg"], summary["end_state"]))
    return "\n".join(lines)
