"""The session as a picture: the whole run with phases shaded and trips
marked, and zoomed panels of a few cycles of each mode (setpoint against
the true vacuum, with what the firmware read)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from tools.sim.summary import READ, SP, STATE, TRUE, T, VALVE, cycles, phases  # noqa: E402

COLORS = {"stimulation": "#cfe8ff", "expression": "#ffe2c6", "mixed": "#e6d9ff", "rest": "#e8e8e8",
          "paused": "#fff7b3", "fault": "#ffc9c9", "off": "#bbbbbb"}
ZOOM_CYCLES = 4


def _shade(ax, rows, to_s):
    for name, a, b in phases(rows):
        ax.axvspan(to_s(rows[a][T]), to_s(rows[b][T]), color=COLORS[name], lw=0)
    run = None
    for i, r in enumerate(rows + [rows[-1]]):
        key = {2: "paused", 4: "fault", -1: "off"}.get(r[STATE]) if i < len(rows) else None
        if run and key != run[0]:
            ax.axvspan(to_s(rows[run[1]][T]), to_s(rows[i - 1][T]), color=COLORS[run[0]], lw=0)
            run = None
        if key and not run:
            run = (key, i)


def plot(rows, summary, path, title=""):
    modes = []
    for name, a, b in phases(rows):
        if name != "rest" and name not in [m for m, _, _ in modes] and len(cycles(rows, a, b)) > 3:
            modes.append((name, a, b))
    n = max(1, len(modes))
    fig = plt.figure(figsize=(13, 7.5))
    gs = fig.add_gridspec(2, n, height_ratios=(1.2, 1))
    ax = fig.add_subplot(gs[0, :])
    minutes = rows[-1][T] > 300000
    scale = 60000.0 if minutes else 1000.0
    to_s = (lambda t: t / scale)
    _shade(ax, rows, to_s)
    if len(rows) <= 6000:
        ts = [to_s(r[T]) for r in rows]
        ax.plot(ts, [r[SP] / 1000.0 for r in rows], color="#555555", lw=0.6, label="setpoint")
        ax.plot(ts, [r[TRUE] / 1000.0 for r in rows], color="#c0392b", lw=0.6, label="true vacuum")
    else:
        # Too many cycles to draw one by one: per-bin envelope of the true
        # vacuum (filled), its peaks (line), and the target (the setpoint's top).
        n = max(1, len(rows) // 1500)
        bins = [rows[i:i + n] for i in range(0, len(rows), n)]
        tb = [to_s(b[0][T]) for b in bins]
        hi = [max(r[TRUE] for r in b) / 1000.0 for b in bins]
        lo = [min(r[TRUE] for r in b) / 1000.0 for b in bins]
        ax.fill_between(tb, lo, hi, color="#e8a39b", lw=0, label="true vacuum (range)")
        ax.plot(tb, hi, color="#c0392b", lw=0.8, label="true vacuum (peaks)")
        ax.plot(tb, [max(r[SP] for r in b) / 1000.0 for b in bins], color="#333333", lw=0.8, ls="--",
                label="target")
    for t in summary["trips"]:
        ax.axvline(t["t_s"] * 1000 / scale, color="red", lw=1.2)
        ax.annotate(t["fault"], (t["t_s"] * 1000 / scale, ax.get_ylim()[1] * 0.95), color="red", rotation=90,
                    va="top", ha="right", fontsize=8)
    ax.set_xlabel("time (%s)" % ("min" if minutes else "s"))
    ax.set_ylabel("vacuum (mmHg)")
    ax.set_title(title or summary.get("scenario", ""))
    handles = [plt.Rectangle((0, 0), 1, 1, color=COLORS[k]) for k in COLORS]
    leg1 = ax.legend(loc="upper right", fontsize=8)
    ax.add_artist(leg1)
    ax.legend(handles, list(COLORS), loc="upper left", fontsize=7, ncol=4)
    for k, (name, a, b) in enumerate(modes):
        z = fig.add_subplot(gs[1, k])
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
        z.set_title("%s, cycles 3-%d (from %.1f s)" % (name, 2 + ZOOM_CYCLES, seg[0][T] / 1000.0), fontsize=9)
        z.set_xlabel("s")
        if k == 0:
            z.set_ylabel("mmHg")
            z.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
