"""The session as a picture.

Top: what happened when (button presses with the level or target they
led to, program choices, plant changes, injected faults and their clears,
power cuts, trips), each a labelled line through the panels below.
Session panel: phases shaded (only the kinds that occur, in the legend to
the right of the axes, outside the data), the true vacuum drawn light (its
trace, or per-bin range for a long run), every cycle's true peak as a
point and its target as a stepped line. Below it each cycle's peak -
target, the first two cycles of a phase marked apart (the steady-state
figures leave them out). Bottom: zoomed cycles 3-6 of each mode (setpoint
against the true vacuum, with what the firmware read).

`plot` returns what it drew (annotations, legend entries, the line styles)
so that tests check the content, not pixels.
"""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from tools.sim.summary import (FAULTED, LEVEL, PAUSED, READ, RUNNING, SKIP_CYCLES, SP, STATE, TARGET,  # noqa: E402
                               TRUE, T, MODE, VALVE, cycles, last_cycle, phases)
from pump.codes import MODE_NAMES  # noqa: E402

COLORS = {"stimulation": "#cfe8ff", "expression": "#ffe2c6", "mixed": "#e6d9ff", "rest": "#e8e8e8",
          "paused": "#fff7b3", "fault": "#ffc9c9", "off": "#9e9e9e"}
PHASE_LABELS = {"rest": "rest (program)", "fault": "fault (latched)", "off": "power off"}
# Event kind -> (colour, line style, legend label).
EVENT_STYLES = {
    "press": ("#1f4e79", ":", "button press"),
    "level": ("#7d3c98", ":", "level change"),
    "program": ("#117a65", ":", "program choice"),
    "plant": ("#8e6c3a", ":", "plant change"),
    "fault": ("#d35400", "--", "fault injected"),
    "clear": ("#1e8449", "--", "fault cleared"),
    "power_cut": ("#000000", "-", "power cut"),
    "trip": ("#c0392b", "-", "trip"),
}
PRESS_LABELS = {"letdown": "let-down", "level_up": "level up", "level_down": "level down"}
PLANT_LABELS = {"leak_ml_min_at_100mmhg": ("leak", "mL/min"), "volume_ml": ("volume", "mL"),
                "pump_free_flow_lpm": ("pump flow", "L/min"), "pump_max_vacuum_kpa": ("pump max", "kPa"),
                "valve_orifice_mm": ("valve", "mm"), "sensor_noise_mmhg": ("sensor noise", "mmHg"),
                "sensor_latency_ms": ("sensor latency", "ms")}
FAULT_UNITS = {"mmhg": "mmHg", "duration_s": "s"}
ZOOM_CYCLES = 4
MIXED = MODE_NAMES.index("mixed")
LEVEL_WINDOW_S = 1.0       # a level press and the level change it made
LABEL_ROWS = 5
PEAK_COLOR, TARGET_COLOR, TRUE_LIGHT, FIRST_COLOR, CUT_COLOR = "#c0392b", "#1b2631", "#f1b7ae", "#e67e22", "#7f8c8d"


def phase_kinds(rows):
    """The shaded kinds that occur in this run, in the legend's order."""
    seen = {name for name, _, _ in phases(rows)}
    seen |= {k for k, code in (("paused", PAUSED), ("fault", FAULTED), ("off", -1)) if any(r[STATE] == code for r in rows)}
    return [k for k in COLORS if k in seen]


def _shade(ax, rows, to_x):
    for name, a, b in phases(rows):
        ax.axvspan(to_x(rows[a][T]), to_x(rows[b][T]), color=COLORS[name], lw=0)
    run = None
    for i, r in enumerate(rows + [rows[-1]]):
        key = {2: "paused", 4: "fault", -1: "off"}.get(r[STATE]) if i < len(rows) else None
        if run and key != run[0]:
            ax.axvspan(to_x(rows[run[1]][T]), to_x(rows[i - 1][T]), color=COLORS[run[0]], lw=0)
            run = None
        if key and not run:
            run = (key, i)


def _level_changes(rows):
    """[(t_s, level, target mmHg or None)] where the level changes while
    pumping; the target is the one the next cycle takes (levels apply at
    cycle boundaries), None in mixed mode (its cycles alternate targets)."""
    out = []
    for i in range(1, len(rows)):
        r, p = rows[i], rows[i - 1]
        if r[LEVEL] == p[LEVEL] or r[STATE] not in (RUNNING, PAUSED) or p[STATE] not in (RUNNING, PAUSED):
            continue
        target = r[TARGET]
        for j in range(i, min(len(rows), i + 500)):
            if rows[j][LEVEL] != r[LEVEL]:
                break
            if rows[j][TARGET] != p[TARGET]:
                target = rows[j][TARGET]
                break
        out.append((r[T] / 1000.0, r[LEVEL], None if r[MODE] == MIXED else target / 1000.0))
    return out


def _fmt(x):
    return ("%.1f" % x).rstrip("0").rstrip(".")


def _level_text(level, target):
    return "%d" % level if target is None else "%d (%s mmHg)" % (level, _fmt(target))


def annotations(rows, summary, events=()):
    """What the plot marks, in time order: [{"t_s", "kind", "label"}].

    `events` are the scenario's own (`at_s` and one action); trips come
    from the summary, level changes from the trace (a level press is
    labelled with the level and target it led to)."""
    out = []
    levels = _level_changes(rows)
    used = set()
    for e in events or ():
        t = float(e["at_s"])
        if "press" in e:
            label = PRESS_LABELS.get(e["press"], e["press"]) + (" (long)" if e.get("long") else "")
            if e["press"] in ("level_up", "level_down"):
                k = next((k for k, (tl, _, _) in enumerate(levels) if k not in used and t <= tl <= t + LEVEL_WINDOW_S),
                         None)
                if k is not None:
                    used.add(k)
                    label += " -> " + _level_text(*levels[k][1:])
            out.append({"t_s": t, "kind": "press", "label": label})
        elif "program" in e:
            out.append({"t_s": t, "kind": "program", "label": "program " + e["program"]})
        elif "plant" in e:
            parts = []
            for key, v in sorted(e["plant"].items()):
                name, unit = PLANT_LABELS.get(key, (key, ""))
                parts.append(("%s %s %s" % (name, _fmt(v), unit)).strip())
            out.append({"t_s": t, "kind": "plant", "label": ", ".join(parts)})
        elif "fault" in e:
            params = " ".join("%s %s" % (_fmt(e[k]), FAULT_UNITS.get(k, k)) for k in sorted(e) if k in FAULT_UNITS)
            if e["fault"] == "power_cut":
                out.append({"t_s": t, "kind": "power_cut", "label": ("power cut " + params).strip()})
            else:
                out.append({"t_s": t, "kind": "fault", "label": ("inject %s %s" % (e["fault"], params)).strip()})
        elif "clear" in e:
            out.append({"t_s": t, "kind": "clear", "label": "clear " + e["clear"]})
    for k, (t, level, target) in enumerate(levels):
        if k not in used:
            out.append({"t_s": t, "kind": "level", "label": "level " + _level_text(level, target)})
    for trip in summary.get("trips", []):
        out.append({"t_s": trip["t_s"], "kind": "trip", "label": "trip " + trip["fault"]})
    out.sort(key=lambda a: a["t_s"])
    return out


def label_groups(annotations, span_s, gap_fraction=0.02):
    """The labels to write: a run of annotations of one kind and one base
    label (the part before " -> "), each within `gap_fraction` of the span
    of the previous, is one label ("level down x4 -> 1 (50 mmHg)": the
    count, and where the last one led). [{"t_s", "kind", "label", "count"}]"""
    out = []
    for a in annotations:
        base, _, result = a["label"].partition(" -> ")
        g = out[-1] if out else None
        if g and g["kind"] == a["kind"] and g["base"] == base and a["t_s"] - g["t_last"] <= gap_fraction * span_s:
            g["count"] += 1
            g["t_last"] = a["t_s"]
            g["result"] = result
            continue
        out.append({"t_s": a["t_s"], "t_last": a["t_s"], "kind": a["kind"], "base": base, "result": result,
                    "count": 1})
    return [{"t_s": g["t_s"], "kind": g["kind"], "count": g["count"],
             "label": g["base"] + (" x%d" % g["count"] if g["count"] > 1 else "") +
             (" -> " + g["result"] if g["result"] else "")} for g in out]


def label_rows(labels, span_s, width_fraction_per_char=0.0055, rows=LABEL_ROWS):
    """A row (0 = lowest) for each label so that labels in one row do not
    overlap; when every row is taken, the one free soonest."""
    ends = [float("-inf")] * rows
    out = []
    for a in labels:
        start = a["t_s"]
        k = next((k for k in range(rows) if ends[k] <= start), None)
        if k is None:
            k = min(range(rows), key=lambda j: ends[j])
        ends[k] = start + (len(a["label"]) + 2) * width_fraction_per_char * span_s
        out.append(k)
    return out


def cycle_points(rows):
    """Every cycle of every pumping phase, the last included:
    [(t_ms at its start, target mmHg, peak mmHg, first: one of the phase's
    first SKIP_CYCLES, cut: a last cycle the phase's end cut short, t_ms
    at its end)] and a None after each phase (a gap in the line)."""
    out = []
    for name, a, b in phases(rows):
        if name == "rest":
            continue
        cyc = [(i0, i1, True) for i0, i1 in cycles(rows, a, b)]
        last = last_cycle(rows, a, b)
        if last is not None:
            cyc.append(last)
        for k, (i0, i1, complete) in enumerate(cyc):
            seg = rows[i0:i1]
            target = max(r[SP] for r in seg) / 1000.0
            peak = max(r[TRUE] for r in seg) / 1000.0
            out.append((rows[i0][T], target, peak, k < SKIP_CYCLES, not complete, rows[i1 - 1][T]))
        if cyc:
            out.append(None)
    return out


def plot(rows, summary, path, title="", events=()):
    """Draw the run into `path` (PNG). Returns what was drawn:
    {"annotations", "labels", "label_rows", "phase_kinds", "legend",
    "legend_outside", "styles", "peaks"}."""
    modes = []
    for name, a, b in phases(rows):
        if name != "rest" and name not in [m for m, _, _ in modes] and len(cycles(rows, a, b)) > 3:
            modes.append((name, a, b))
    n = max(1, len(modes))
    anns = annotations(rows, summary, events)
    span_s = rows[-1][T] / 1000.0 or 1.0
    labels = label_groups(anns, span_s)
    lrows = label_rows(labels, span_s)
    used_rows = max(lrows) + 1 if lrows else 1
    fig = plt.figure(figsize=(14, 9.6 + 0.17 * used_rows), layout="constrained")
    gs = fig.add_gridspec(4, n, height_ratios=(0.1 + 0.085 * used_rows, 1.5, 0.6, 1.1))
    strip = fig.add_subplot(gs[0, :])
    ax = fig.add_subplot(gs[1, :], sharex=strip)
    err_ax = fig.add_subplot(gs[2, :], sharex=strip)
    minutes = rows[-1][T] > 300000
    scale = 60000.0 if minutes else 1000.0
    to_x = (lambda t_ms: t_ms / scale)
    kinds = phase_kinds(rows)
    for a_ in (ax, err_ax):
        _shade(a_, rows, to_x)
    handles = []
    if len(rows) <= 6000:
        ts = [to_x(r[T]) for r in rows]
        ax.plot(ts, [r[SP] / 1000.0 for r in rows], color="#9aa5ad", lw=0.5)
        ax.plot(ts, [r[TRUE] / 1000.0 for r in rows], color=TRUE_LIGHT, lw=0.6)
        handles += [Line2D([], [], color=TRUE_LIGHT, lw=1.5, label="true vacuum"),
                    Line2D([], [], color="#9aa5ad", lw=1, label="setpoint")]
        envelope_alpha = 1.0
    else:
        # Too many cycles to draw one by one: the per-bin range of the true
        # vacuum, light, under the per-cycle points.
        nb = max(1, len(rows) // 1500)
        bins = [rows[i:i + nb] for i in range(0, len(rows), nb)]
        envelope_alpha = 0.3
        ax.fill_between([to_x(b[0][T]) for b in bins], [min(r[TRUE] for r in b) / 1000.0 for b in bins],
                        [max(r[TRUE] for r in b) / 1000.0 for b in bins], color=TRUE_LIGHT, alpha=envelope_alpha,
                        lw=0)
        handles.append(Patch(color=TRUE_LIGHT, alpha=envelope_alpha, label="true vacuum (range)"))
    points = cycle_points(rows)
    tx, ty = [], []
    for k, p in enumerate(points):
        if p is None:                   # the phase's last step runs to its cycle's end, then a gap
            tx += [to_x(points[k - 1][5]), float("nan")]
            ty += [points[k - 1][1], float("nan")]
        else:
            tx.append(to_x(p[0]))
            ty.append(p[1])
    real = [p for p in points if p is not None]
    # The target on top, thin, so that a peak off it shows on either side.
    target_line, = ax.plot(tx, ty, color=TARGET_COLOR, lw=0.9, drawstyle="steps-post", label="target (per cycle)",
                           zorder=4)
    peak_line, = ax.plot([to_x(p[0]) for p in real], [p[2] for p in real], "o", ms=3, mew=0, color=PEAK_COLOR,
                         label="true peak (per cycle)", zorder=3)
    handles += [peak_line, target_line]
    ax.set_ylim(bottom=-5, top=max([r[TRUE] for r in rows] + [r[SP] for r in rows]) / 1000.0 * 1.08 + 5)
    steady = [p for p in real if not p[3] and not p[4]]
    first = [p for p in real if p[3] and not p[4]]
    cut = [p for p in real if p[4]]
    err_ax.axhline(0, color="#555555", lw=0.6)
    for y in (-10, 10):
        err_ax.axhline(y, color="#999999", lw=0.6, ls=":")
    err_ax.plot([to_x(p[0]) for p in steady], [p[2] - p[1] for p in steady], "o", ms=2, mew=0, color=PEAK_COLOR)
    err_ax.plot([to_x(p[0]) for p in first], [p[2] - p[1] for p in first], "^", ms=4.5, mew=0, color=FIRST_COLOR)
    err_ax.plot([to_x(p[0]) for p in cut], [p[2] - p[1] for p in cut], "x", ms=4, color=CUT_COLOR)
    if real:
        lo = min(p[2] - p[1] for p in real)
        hi = max(p[2] - p[1] for p in real)
        err_ax.set_ylim(min(-12, lo - 2), max(12, hi + 2))
    err_ax.set_ylabel("peak - target\n(mmHg)")
    err_ax.set_xlabel("time (%s)" % ("min" if minutes else "s"))
    err_handles = [Line2D([], [], ls="", marker="^", ms=5, color=FIRST_COLOR,
                          label="first %d cycles of a phase" % SKIP_CYCLES),
                   Line2D([], [], ls="", marker="o", ms=3, color=PEAK_COLOR, label="cycle 3 on (steady)"),
                   Line2D([], [], ls="", marker="x", ms=4, color=CUT_COLOR, label="last cycle, cut by the phase end"),
                   Line2D([], [], ls=":", color="#999999", label="+/-10 mmHg")]
    err_ax.legend(handles=err_handles, loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7, frameon=False)

    # Events: a line through the session and error panels, the label above.
    used_kinds = []
    for a in anns:
        color, ls, _ = EVENT_STYLES[a["kind"]]
        x = a["t_s"] * 1000.0 / scale
        for a_ in (ax, err_ax):
            a_.axvline(x, color=color, lw=1.1 if a["kind"] in ("trip", "power_cut") else 0.8, ls=ls, zorder=5)
        strip.plot([x, x], [0, 0.6], color=color, lw=0.8, ls=ls)
        if a["kind"] not in used_kinds:
            used_kinds.append(a["kind"])
    for a, k in zip(labels, lrows):
        color = EVENT_STYLES[a["kind"]][0]
        x = a["t_s"] * 1000.0 / scale
        strip.plot([x, x], [0, k + 0.15], color=color, lw=0.5)
        strip.text(x, k + 0.2, " " + a["label"], color=color, fontsize=7, va="bottom", ha="left", clip_on=False)
    strip.set_ylim(0, used_rows + 0.1)
    strip.set_yticks([])
    strip.tick_params(axis="x", labelbottom=False)
    for side in ("left", "right", "top"):
        strip.spines[side].set_visible(False)
    strip.set_title(title or summary.get("scenario", ""))
    if not anns:
        strip.text(0.5, 0.5, "no events", transform=strip.transAxes, ha="center", va="center", fontsize=8,
                   color="#777777")
    handles += [Patch(color=COLORS[k], label=PHASE_LABELS.get(k, k)) for k in kinds]
    handles += [Line2D([], [], color=EVENT_STYLES[k][0], ls=EVENT_STYLES[k][1], label=EVENT_STYLES[k][2])
                for k in EVENT_STYLES if k in used_kinds]
    leg = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7, frameon=False)
    ax.set_ylabel("vacuum (mmHg)")
    ax.tick_params(axis="x", labelbottom=False)
    for k, (name, a, b) in enumerate(modes):
        z = fig.add_subplot(gs[3, k])
        cyc = cycles(rows, a, b)
        i0 = cyc[2][0] if len(cyc) > 2 else a
        i1 = cyc[min(len(cyc) - 1, 2 + ZOOM_CYCLES - 1)][1] if len(cyc) > 2 else b
        seg = rows[i0:i1 + 1]
        tz = [(r[T] - seg[0][T]) / 1000.0 for r in seg]
        for j in range(1, len(seg)):
            if seg[j][VALVE] == 0:
                z.axvspan(tz[j - 1], tz[j], color="#f3f3f3", lw=0)
        z.plot(tz, [r[SP] / 1000.0 for r in seg], color="#555555", lw=1, label="setpoint")
        z.plot(tz, [r[TRUE] / 1000.0 for r in seg], color="#c0392b", lw=1.2, label="true")
        rd = [(tz[j], seg[j][READ] / 1000.0) for j in range(len(seg)) if seg[j][READ] is not None]
        if rd:
            z.plot([x for x, _ in rd], [y for _, y in rd], ".", ms=2, color="#2c3e50", label="reading")
        z.set_title("%s, cycles 3-%d (from %.1f s; grey: suction)" % (name, 2 + ZOOM_CYCLES, seg[0][T] / 1000.0),
                    fontsize=9)
        z.set_xlabel("s")
        if k == 0:
            z.set_ylabel("mmHg")
        if k == len(modes) - 1:
            z.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.005, 1.0), frameon=False)
    fig.savefig(path, dpi=110)
    fig.canvas.draw()
    box, leg_box = ax.get_window_extent(), leg.get_window_extent()
    drawn = {
        "annotations": anns, "labels": labels, "label_rows": lrows, "phase_kinds": kinds,
        "legend": [t.get_text() for t in leg.get_texts()],
        "legend_outside": leg_box.x0 >= box.x1 or leg_box.x1 <= box.x0 or leg_box.y0 >= box.y1
        or leg_box.y1 <= box.y0,
        "styles": {"peaks": {"marker": peak_line.get_marker(), "linestyle": peak_line.get_linestyle()},
                   "target": {"marker": target_line.get_marker(), "drawstyle": target_line.get_drawstyle()},
                   "envelope_alpha": envelope_alpha},
        "peaks": [(p[0] / 1000.0, p[2]) for p in real],
    }
    plt.close(fig)
    return drawn
