"""From the engine's rows to the trace CSV and the summary (contract).

A phase is a run of ticks in one pumping mode (running) or in a program's
rest; pauses, faults and idle end a phase. A cycle starts where the valve
closes (suction); its peak is the highest true vacuum until the next cycle
starts, its target the setpoint's plateau. Accuracy figures count from the
third cycle of a phase on (the controller learns in the first two); the
first two cycles and the phase's last one (which ends in the next phase, or
is cut short by a rest, pause, stop or trip) are reported on their own
(`first_cycles`, `last_cycle`), never dropped.
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
    target, peak, rise = _peak_facts(rows, i0, i1)
    return MODE_NAMES[rows[i0][CMODE]], target, peak, rows[i1][T] - rows[i0][T], rise


def _peak_facts(rows, i0, i1):
    """target, peak (mmHg) and rise to 90 % (ms or None) of rows[i0:i1]."""
    seg = rows[i0:i1]
    target = max(r[SP] for r in seg) / 1000.0
    peak = max(r[TRUE] for r in seg) / 1000.0
    rise = None
    for r in seg:
        if r[TRUE] / 1000.0 >= 0.9 * target:
            rise = r[T] - rows[i0][T] + (rows[i0][T] - rows[i0 - 1][T] if i0 > 0 else 0)
            break
    return target, peak, rise


def last_cycle(rows, a, b):
    """The phase's last cycle, the one `cycles` cannot close inside the
    phase: (start index, end index, complete). It is complete when the pump
    runs on to the next suction start (in the next phase: a mode change);
    else it ends where the running does (rest, pause, stop, trip, the end of
    the run), `end` exclusive. None for a phase without a suction start."""
    starts = [i for i in range(max(a, 1), b + 1) if rows[i][VALVE] == 0 and rows[i - 1][VALVE] == 1]
    if not starts:
        return None
    i0 = starts[-1]
    j = i0 + 1
    while j < len(rows) and rows[j][STATE] == RUNNING:
        if rows[j][VALVE] == 0 and rows[j - 1][VALVE] == 1:
            return i0, j, True
        j += 1
    return i0, j, False


def _cycle_entry(rows, number, i0, i1, complete=True):
    """One cycle reported on its own (JSON): its number in the phase from 1."""
    if complete:
        mode, target, peak, period, rise = cycle_facts(rows, i0, i1)
    else:
        mode, period = MODE_NAMES[rows[i0][CMODE]], None
        target, peak, rise = _peak_facts(rows, i0, i1)
    return {"cycle": number, "mode": mode, "start_s": rows[i0][T] / 1000.0, "target_mmhg": round(target, 2),
            "peak_mmhg": round(peak, 2), "error_mmhg": round(peak - target, 2), "period_ms": period,
            "rise_to_90pct_ms": rise, "complete": complete}


def phase_summary(rows, name, a, b, profiles):
    entry = {"phase": name, "start_s": rows[a][T] / 1000.0 - (rows[a][T] - rows[a - 1][T]) / 1000.0 if a else 0.0,
             "end_s": rows[b][T] / 1000.0}
    if name == "rest":
        return entry
    cyc = cycles(rows, a, b)
    entry["cycles"] = len(cyc)
    entry["first_cycles"] = [_cycle_entry(rows, k + 1, i0, i1) for k, (i0, i1) in enumerate(cyc[:SKIP_CYCLES])]
    last = last_cycle(rows, a, b)
    entry["last_cycle"] = None if last is None else _cycle_entry(rows, len(cyc) + 1, *last)
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


# The terminal table: (key, header, units, width); every cell fits its width
# (lists of targets are abbreviated), so the columns never shift.
COLUMNS = (
    ("phase", "phase", "  mode", 13),
    ("from", "from", "s", 7),
    ("to", "to", "s", 7),
    ("cycles", "cycles", "steady", 6),
    ("cpm", "cycles/min", "meas / set", 13),
    ("target", "target", "mmHg", 11),
    ("peak", "peak mean", "mmHg", 9),
    ("err", "peak - target", "mean / rms mmHg", 15),
    ("worst", "largest |err|", "mmHg", 13),
    ("rise", "rise to 90 %", "mean / max ms", 13),
    ("missed", "no rise", "cycles", 7),
)
EDGE_COLUMNS = (
    ("phase", "phase", "", 13),
    ("from", "from", "s", 7),
    ("first", "cycle 1", "peak / target (err)", 20),
    ("second", "cycle 2", "peak / target (err)", 20),
    ("last", "last cycle", "n: peak / target (err)", 28),
    ("worst", "largest |err|", "mmHg (cycle)", 15),
)


def _num(x, digits=1):
    """A figure without a trailing .0 (targets are whole mmHg mostly)."""
    text = "%.*f" % (digits, x)
    return text[:-2] if text.endswith(".0") else text


def targets_text(targets, width=11):
    """A list of targets that fits `width`: all of them when they fit, else
    lowest-highest and how many ("50-130 (9)")."""
    text = ",".join(_num(t) for t in targets)
    if len(text) > width and targets:
        text = "%s-%s (%d)" % (_num(min(targets)), _num(max(targets)), len(targets))
    return text[:width]


def _row(columns, cells):
    out = []
    for k, (key, _h, _u, width) in enumerate(columns):
        text = str(cells.get(key, ""))[:width]
        out.append(text.ljust(width) if k == 0 else text.rjust(width))
    return "  ".join(out).rstrip()


def _header(columns):
    return [_row(columns, {c[0]: c[1] for c in columns}), _row(columns, {c[0]: c[2] for c in columns})]


def _cycle_cell(c, numbered=False):
    if c is None:
        return "-"
    err = c["error_mmhg"] if abs(c["error_mmhg"]) >= 0.05 else 0.0     # no "-0.0"
    text = "%.1f / %s (%+.1f)" % (c["peak_mmhg"], _num(c["target_mmhg"]), err)
    if numbered:
        text = "%d: %s%s" % (c["cycle"], text, "" if c["complete"] else " cut")
    return text


def _mode_cells(m):
    cpm, err, rise = m["cycles_per_min"], m["peak_error_mmhg"], m["rise_to_90pct_ms"]
    return {"cycles": m["cycles_counted"], "cpm": "%.2f / %g" % (cpm["measured"], cpm["target"]),
            "target": targets_text(m["peak_mmhg"]["targets"]), "peak": "%.2f" % m["peak_mmhg"]["mean"],
            "err": "%+.2f / %.2f" % (err["mean"], err["rms"]), "worst": "%.2f" % err["max_abs"],
            "rise": "%.0f / %.0f" % (rise["mean"], rise["max"]) if "mean" in rise else "-",
            "missed": rise["missed"]}


def table(summary):
    """The summary as text tables for the terminal: the steady state of
    each phase and mode, then the first two and the last cycle of each
    phase (left out of the steady state), trips, injected faults."""
    lines = ["steady state, from the 3rd cycle of each phase (error = a cycle's peak - its target)"]
    lines += _header(COLUMNS)
    for p in summary["phases"]:
        cells = {"phase": p["phase"], "from": "%.1f" % p["start_s"], "to": "%.1f" % p["end_s"]}
        modes = sorted(p.get("modes", {}).items())
        if len(modes) == 1 and modes[0][0] == p["phase"]:
            cells.update(_mode_cells(modes[0][1]))
            modes = []
        elif p["phase"] != "rest" and not modes:
            cells["cycles"] = 0
        lines.append(_row(COLUMNS, cells))
        for mode, m in modes:
            lines.append(_row(COLUMNS, dict(_mode_cells(m), phase="  " + mode)))
    edges = [p for p in summary["phases"] if p.get("first_cycles") or p.get("last_cycle")]
    if edges:
        lines.append("")
        lines.append("first and last cycles of each phase (not in the steady state above), mmHg")
        lines += _header(EDGE_COLUMNS)
        for p in edges:
            firsts = p["first_cycles"]
            # A cut cycle's peak says where it was stopped, not how it was controlled.
            shown = [c for c in firsts + [p["last_cycle"]] if c and c["complete"]]
            worst = max(shown, key=lambda c: abs(c["error_mmhg"])) if shown else None
            lines.append(_row(EDGE_COLUMNS, {
                "phase": p["phase"], "from": "%.1f" % p["start_s"],
                "first": _cycle_cell(firsts[0] if firsts else None),
                "second": _cycle_cell(firsts[1] if len(firsts) > 1 else None),
                "last": _cycle_cell(p["last_cycle"], numbered=True),
                "worst": "%+.1f (cycle %d)" % (worst["error_mmhg"], worst["cycle"]) if worst else "-"}))
        if any(p["last_cycle"] and not p["last_cycle"]["complete"] for p in edges):
            lines.append("cut: the phase ended (rest, pause, stop, trip or the run's end) before the next suction;"
                         " not in largest |err|")
    lines.append("")
    for t in summary["trips"]:
        lines.append("trip %-14s at %8.2f s  reading %s  highest true vacuum after %.1f mmHg" % (
            t["fault"], t["t_s"], "-" if t["reading_mmhg"] is None else "%.1f mmHg" % t["reading_mmhg"],
            t["max_true_mmhg_after"]))
    for f in summary.get("injected_faults", []):
        if f["fault"] == "power_cut":
            what = "the power off, then a boot"
        else:
            what = "no trip" if f["trip"] is None else "tripped %s after %d ms" % (f["trip"], f["detection_ms"])
        lines.append("injected %-18s at %8.2f s  %s" % (f["fault"], f["at_s"], what))
    lines.append("highest true vacuum %.1f mmHg; state at the end of the run: %s" % (
        summary["max_true_vacuum_mmhg"], summary["end_state"]))
    return "\n".join(lines)
