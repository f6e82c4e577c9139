"""The history as a report: one self-contained HTML page (charts embedded
as base64 PNG, no external assets), the PNG charts next to it, and a short
summary for the terminal.

Charts (matplotlib, Agg backend, as tools/sim/plot.py):
  sessions_per_day.png  sessions per day by program, missed sessions stacked
                        on top, the schedule's sessions per day
  intervals.png         time between sessions, against the schedule's
                        interval and interval + grace
  durations.png         duration of each session, coloured by program
  volume.png            volume per day where entered (partial days hatched)
Power-pumping days (a session with the `power` program) are shaded in all.
The tables (terminal and HTML) get left and right columns when a session
has its volume per breast; a legend is drawn only when a chart has
something labelled (matplotlib warns about an empty one).
"""
import base64
import html
import os
from datetime import datetime, time, timedelta

from tools.sessions.plan import History, hm, span

CHARTS = ("sessions_per_day", "intervals", "durations", "volume")
PROGRAM_COLORS = {"standard": "#4a90d9", "power": "#8e44ad", "catch_up": "#27ae60", "manual": "#7f8c8d"}
OTHER_COLORS = ("#e67e22", "#16a085", "#c0392b", "#2c3e50", "#d35400")
POWER_SHADE = "#efe3f7"
MISSED_COLOR = "#e74c3c"


def program_color(name, _seen={}):
    if name in PROGRAM_COLORS:
        return PROGRAM_COLORS[name]
    if name not in _seen:
        _seen[name] = OTHER_COLORS[len(_seen) % len(OTHER_COLORS)]
    return _seen[name]


class Report:
    """Everything the page, the charts and the terminal summary show."""

    def __init__(self, sessions, schedule, now, days=14, orphans=(), conflicts=0):
        self.now = now
        self.schedule = schedule
        self.history = History(sessions, schedule, now)
        self.last_day = now.date()
        self.first_day = self.last_day - timedelta(days=days - 1)
        if self.history.known:     # the days before the history began say nothing
            self.first_day = max(self.first_day, self.history.known[0].when.date())
        self.days = self.history.days(self.first_day, self.last_day)
        self.sessions = [s for d in self.days for s in d.sessions]
        self.misses = [m for d in self.days for m in d.misses]
        self.possibly_kept = [m for m in self.history.misses if m.possibly_kept
                              and self.first_day <= m.at.date() <= self.last_day]
        self.unknown = self.history.unknown
        self.orphans = list(orphans)
        self.conflicts = conflicts

    # -- the terminal ------------------------------------------------------------
    def summary(self):
        n_days = len(self.days)
        active = [d for d in self.days if d.sessions or d.misses]
        out = ["Sessions %s to %s (%d day%s, the last one so far); schedule %s" % (
            self.first_day, self.last_day, n_days, "" if n_days == 1 else "s", self.schedule.describe())]
        full = self.full_days()
        per_day = sum(len(d.sessions) for d in full) / float(len(full))
        out.append("  %s, %.1f sessions/day over %s (the schedule asks %.1f/day), %d missed" % (
            _n(len(self.sessions), "session"), per_day,
            ("the " + _n(len(full), "whole day")) if full is not self.days else "today so far",
            self.schedule.per_day(), len(self.misses)))
        if self.possibly_kept:
            out.append("  %d more possibly missed: a session without a time may have kept them" %
                       len(self.possibly_kept))
        sides = self.has_sides()
        out.append("  day         sessions  missed  " + ("left     right    " if sides else "") + "volume")
        for d in active:
            vol = "%.0f mL" % d.volume_ml if d.volume_complete else (
                "%.0f mL (%d of %d entered)" % (d.volume_ml, d.volume_sessions, len(d.sessions))
                if d.volume_sessions else "-")
            if sides:
                vol = "%-9s%-9s%s" % tuple([_ml(v) or "-" for v in _sides(d.sessions)] + [vol])
            out.append("  %s  %8d  %6d  %s%s%s" % (d.day, len(d.sessions), len(d.misses), vol,
                                                    "  power pumping" if d.power else "",
                                                    "  (so far)" if d.day == self.now.date() else ""))
        vols = [d.volume for d in full if d.volume is not None]
        if vols:
            out.append("  volume: %s fully entered, average %.0f mL/day" % (
                _n(len(vols), "day"), sum(vols) / len(vols)))
        faults = {}
        for s in self.sessions:
            for f in s.faults:
                faults[f] = faults.get(f, 0) + 1
        if faults:
            out.append("  faults: " + ", ".join("%s x%d" % (k, faults[k]) for k in sorted(faults)))
        if self.unknown:
            out.append("  time unknown: %d session%s (%s)" % (
                len(self.unknown), "" if len(self.unknown) == 1 else "s",
                ", ".join(s.label for s in self.unknown)))
        placed = [s for s in self.sessions if s.when_from == "uptime"]
        if placed:
            out.append("  placed from uptime (clock unset): %s" % ", ".join(s.label for s in placed))
        if self.orphans:
            out.append("  entries for sessions not imported yet: %s" % ", ".join(
                "%s #%d" % (b[:8], q) for b, q, _, _ in self.orphans))
        if self.conflicts:
            out.append("  %d record(s) seen again with different content (kept aside; see import)" % self.conflicts)
        return "\n".join(out)

    def has_sides(self):
        """Some session of the report has a volume per breast: the tables show left and right."""
        return any(s.left_ml is not None or s.right_ml is not None for s in self.sessions + list(self.unknown))

    def full_days(self):
        """The days of the range that are over (all of them but today), or all when none is."""
        full = [d for d in self.days if d.day < self.now.date()]
        return full or self.days

    # -- charts ---------------------------------------------------------------------
    def charts(self, folder):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        paths = {}
        for name in CHARTS:
            fig, ax = plt.subplots(figsize=(11, 4.2))
            getattr(self, "_chart_" + name)(ax, plt)
            fig.tight_layout()
            path = os.path.join(folder, name + ".png")
            fig.savefig(path, dpi=100, metadata={"Software": None})
            plt.close(fig)
            paths[name] = path
        return paths

    def _x(self, t):
        import matplotlib.dates as mdates
        return mdates.date2num(t)

    def _day_x(self, d):
        return self._x(datetime.combine(d, time()))

    def _frame(self, ax, label_power=True):
        import matplotlib.dates as mdates
        first = self.power_shade(ax, label_power)
        ax.set_xlim(self._day_x(self.first_day), self._day_x(self.last_day + timedelta(days=1)))
        loc = mdates.DayLocator(interval=max(1, len(self.days) // 14))
        ax.xaxis.set_major_locator(loc)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
        ax.grid(axis="y", color="#dddddd", lw=0.6)
        return first

    def power_shade(self, ax, label=True):
        done = False
        for d in self.days:
            if d.power:
                ax.axvspan(self._day_x(d.day), self._day_x(d.day + timedelta(days=1)), color=POWER_SHADE, lw=0,
                           zorder=0, label="power-pumping day" if label and not done else None)
                done = True
        return done

    def _programs(self):
        names = []
        for s in self.sessions:
            if s.program not in names:
                names.append(s.program)
        order = list(PROGRAM_COLORS)
        return sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n))

    def _chart_sessions_per_day(self, ax, plt):
        self._frame(ax)
        xs = [self._day_x(d.day) + 0.5 for d in self.days]
        bottom = [0] * len(self.days)
        for prog in self._programs():
            hs = [sum(1 for s in d.sessions if s.program == prog) for d in self.days]
            ax.bar(xs, hs, 0.8, bottom=bottom, color=program_color(prog), label=_plain(prog), zorder=2)
            bottom = [b + h for b, h in zip(bottom, hs)]
        missed = [len(d.misses) for d in self.days]
        mx = [(x, b, m) for x, b, m in zip(xs, bottom, missed) if m]
        if mx:
            ax.bar([x for x, _, _ in mx], [m for _, _, m in mx], 0.8, bottom=[b for _, b, _ in mx], color="white",
                   edgecolor=MISSED_COLOR, hatch="xx", lw=1, label="missed", zorder=2)
            for x, b, m in mx:
                ax.annotate("%d missed" % m, (x, b + m), ha="center", va="bottom", fontsize=7,
                            color=MISSED_COLOR)
        if self.days[-1].day == self.now.date():
            ax.annotate("so far", (xs[-1], 0), ha="center", va="bottom", fontsize=7, color="#333333",
                        xytext=(0, 2), textcoords="offset points", zorder=4)
        ax.axhline(self.schedule.per_day(), color="#555555", ls="--", lw=1,
                   label="schedule: %.1f/day" % self.schedule.per_day())
        ax.set_ylabel("sessions")
        ax.set_ylim(0, max([self.schedule.per_day()] + [b + m for b, m in zip(bottom, missed)]) * 1.25 + 0.5)
        ax.set_title("Sessions per day, missed sessions marked")
        _legend(ax, ncol=4)

    def _expected_gap(self, t):
        sch = self.schedule
        if not sch.times:
            return sch.every
        slots = sch.slots(t.date() - timedelta(days=1), t.date() + timedelta(days=1))
        for j in range(1, len(slots)):
            if slots[j] + sch.grace >= t:
                return slots[j] - slots[j - 1]
        return timedelta(days=1)

    def _chart_intervals(self, ax, plt):
        self._frame(ax)
        known = self.history.known
        pts = []
        for i in range(1, len(known)):
            s = known[i]
            if self.first_day <= s.when.date() <= self.last_day:
                gap = (s.when - known[i - 1].when).total_seconds() / 3600.0
                exp = self._expected_gap(s.when).total_seconds() / 3600.0
                pts.append((self._x(s.when), gap, exp))
        grace_h = self.schedule.grace_min / 60.0
        if self.schedule.times:
            if pts:
                xs = [p[0] for p in pts]
                ax.step(xs, [p[2] for p in pts], where="mid", color="#555555", lw=1, label="schedule interval")
                ax.step(xs, [p[2] + grace_h for p in pts], where="mid", color=MISSED_COLOR, ls="--", lw=1,
                        label="interval + grace")
        else:
            every_h = self.schedule.every_min / 60.0
            ax.axhline(every_h, color="#555555", lw=1, label="every %d min" % self.schedule.every_min)
            ax.axhline(every_h + grace_h, color=MISSED_COLOR, ls="--", lw=1,
                       label="+ grace %d min" % self.schedule.grace_min)
        ok = [p for p in pts if p[1] <= p[2] + grace_h]
        late = [p for p in pts if p[1] > p[2] + grace_h]
        if ok:
            ax.plot([p[0] for p in ok], [p[1] for p in ok], "o", ms=4, color="#4a90d9", label="on time", zorder=3)
        if late:
            ax.plot([p[0] for p in late], [p[1] for p in late], "o", ms=5, color=MISSED_COLOR,
                    label="later than interval + grace", zorder=3)
        if not pts:
            ax.text(0.5, 0.5, "fewer than two sessions with a known time", transform=ax.transAxes,
                    ha="center", va="center", color="#777777")
        ax.set_ylim(0, max([p[1] for p in pts] + [p[2] + grace_h for p in pts] +
                           [(self.schedule.every_min or 180) / 60.0 + grace_h]) * 1.15)
        ax.set_ylabel("hours since the previous session")
        ax.set_title("Time between sessions against the schedule")
        _legend(ax, ncol=5)

    def _chart_durations(self, ax, plt):
        self._frame(ax)
        seen = set()
        for s in self.sessions:
            label = _plain(s.program) if s.program not in seen else None
            seen.add(s.program)
            ax.bar(self._x(s.when), s.duration_s / 60.0, 0.045, align="edge", color=program_color(s.program),
                   edgecolor=MISSED_COLOR if s.end == "fault" else "none", lw=1,
                   hatch="//" if s.duration_at_least else None, label=label, zorder=2)
        if any(s.duration_at_least for s in self.sessions):
            ax.bar([0], [0], color="white", edgecolor="#555555", hatch="//", label="end not seen (at least)")
        if any(s.end == "fault" for s in self.sessions):
            ax.bar([0], [0], color="white", edgecolor=MISSED_COLOR, label="ended on a fault")
        if not self.sessions:
            ax.text(0.5, 0.5, "no sessions with a known time in these days", transform=ax.transAxes,
                    ha="center", va="center", color="#777777")
        ax.set_ylabel("minutes")
        ax.set_title("Duration and program of each session")
        _legend(ax, ncol=6)

    def _chart_volume(self, ax, plt):
        self._frame(ax)
        xs_full, ys_full, xs_part, ys_part = [], [], [], []
        for d in self.days:
            x = self._day_x(d.day) + 0.5
            if d.volume_complete:
                xs_full.append(x)
                ys_full.append(d.volume_ml)
            elif d.volume_sessions:
                xs_part.append(x)
                ys_part.append(d.volume_ml)
        if xs_full:
            ax.bar(xs_full, ys_full, 0.8, color="#f5b041", label="volume (every session entered)", zorder=2)
        if xs_part:
            ax.bar(xs_part, ys_part, 0.8, color="#fdebd0", edgecolor="#f5b041", hatch="..",
                   label="partial (some sessions without a volume)", zorder=2)
        if self.days[-1].day == self.now.date() and self.days[-1].volume_sessions:
            ax.annotate("so far", (self._day_x(self.last_day) + 0.5, 0), ha="center", va="bottom", fontsize=7,
                        xytext=(0, 2), textcoords="offset points", zorder=4)
        if not (xs_full or xs_part):
            ax.text(0.5, 0.5, "no volume entered yet:\npython -m tools.sessions add SEQ --volume-ml X",
                    transform=ax.transAxes, ha="center", va="center", color="#777777")
            ax.set_ylim(0, 1)
        ax.set_ylabel("mL per day")
        ax.set_title("Volume per day (as entered)")
        _legend(ax, ncol=3)

    # -- the page -----------------------------------------------------------------
    def html(self, pngs):
        e = html.escape
        sides = self.has_sides()
        rows = []
        for s in sorted(self.sessions, key=lambda s: s.when, reverse=True):
            when = hm(s.when) + (" (from uptime)" if s.when_from == "uptime" else "")
            side_cells = "<td>%s</td><td>%s</td>" % (_ml(s.left_ml), _ml(s.right_ml)) if sides else ""
            rows.append("<tr%s><td>%s</td><td>%s</td><td>%s</td><td>%s%s</td><td>%s</td><td>%s</td>"
                        "<td>%s</td>%s<td>%s</td><td>%s</td></tr>" % (
                            ' class="manual"' if s.manual else "", e(when), e(s.label + (" (manual)" if s.manual
                                                                                         else "")),
                            e(s.program), e(span(timedelta(seconds=s.duration_s))),
                            " or more" if s.duration_at_least else "", e(s.end or ""),
                            e(", ".join(s.faults)), e(s.schedule or ""), side_cells,
                            "" if s.volume_ml is None else "%.0f mL" % s.volume_ml, e(s.note or "")))
        miss_rows = "".join("<li>%s</li>" % e(m.describe()) for m in self.misses)
        maybe = "".join("<li>%s (a session without a time may have kept it)</li>" % e(m.describe())
                        for m in self.possibly_kept)
        unknown = "".join("<li>%s: %s, %s%s</li>" % (
            e(s.label), e(s.program), e(span(timedelta(seconds=s.duration_s))),
            e(_between_text(s))) for s in self.unknown)
        days = []
        for d in self.days:
            vol = "" if not d.volume_sessions else ("%.0f mL" % d.volume_ml if d.volume_complete else
                                                   "%.0f mL (%d of %d entered)" % (
                                                       d.volume_ml, d.volume_sessions, len(d.sessions)))
            side_cells = "".join("<td>%s</td>" % _ml(v) for v in _sides(d.sessions)) if sides else ""
            days.append("<tr%s><td>%s</td><td>%d</td><td>%d</td>%s<td>%s</td><td>%s</td></tr>" % (
                ' class="power"' if d.power else "", d.day, len(d.sessions), len(d.misses), side_cells, vol,
                "power pumping" if d.power else ""))
        imgs = []
        titles = {"sessions_per_day": "Sessions per day", "intervals": "Time between sessions",
                  "durations": "Duration and program", "volume": "Volume per day"}
        for name in CHARTS:
            with open(pngs[name], "rb") as f:
                data = base64.b64encode(f.read()).decode("ascii")
            imgs.append('<h2>%s</h2>\n<img alt="%s" src="data:image/png;base64,%s">' % (
                titles[name], e(titles[name]), data))
        summary = e(self.summary())
        return PAGE % {
            "title": e("Pumping sessions %s to %s" % (self.first_day, self.last_day)),
            "generated": e(hm(self.now)),
            "schedule": e(self.schedule.describe()),
            "summary": summary,
            "charts": "\n".join(imgs),
            "days": "\n".join(days),
            "missed": miss_rows or "<li>none</li>",
            "maybe": ("<h3>Possibly missed</h3><ul>%s</ul>" % maybe) if maybe else "",
            "unknown": ("<h2>Time unknown</h2><p>The board's clock was not set and no session of the same boot "
                        "had a time, so these are not on the charts (no time is made up):</p><ul>%s</ul>"
                        % unknown) if unknown else "",
            "rows": "\n".join(rows) or '<tr><td colspan="%d">no sessions in these days</td></tr>' % (
                11 if sides else 9),
            "day_sides": "<th>left</th><th>right</th>" if sides else "",
            "sides": "<th>left</th><th>right</th>" if sides else "",
        }

    def write(self, folder):
        os.makedirs(folder, exist_ok=True)
        pngs = self.charts(folder)
        page = os.path.join(folder, "report.html")
        with open(page, "w", encoding="utf-8") as f:
            f.write(self.html(pngs))
        return page, pngs


def _legend(ax, ncol):
    """A legend when something on the chart has a label (matplotlib warns
    about an empty one: a history with no session on a chart)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper left", ncol=ncol)


def _sides(sessions):
    """(left mL, right mL) summed over the sessions with that side entered; None where none has."""
    lefts = [s.left_ml for s in sessions if s.left_ml is not None]
    rights = [s.right_ml for s in sessions if s.right_ml is not None]
    return (sum(lefts) if lefts else None), (sum(rights) if rights else None)


def _ml(v):
    return "" if v is None else "%.0f mL" % v


def _plain(text):
    """A name as matplotlib text, never as mathtext (a user program may contain $)."""
    return text.replace("$", r"\$")


def _n(n, word):
    return "%d %s%s" % (n, word, "" if n == 1 else "s")


def _between_text(s):
    lo, hi = s.between
    if lo and hi:
        return ", between %s and %s" % (hm(lo), hm(hi))
    if lo:
        return ", after %s" % hm(lo)
    if hi:
        return ", before %s" % hm(hi)
    return ""


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>%(title)s</title>
<style>
body { font-family: sans-serif; margin: 1.5em; color: #222; max-width: 1150px; }
img { max-width: 100%%; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { border-bottom: 1px solid #ddd; padding: 0.2em 0.6em; text-align: left; }
tr.power { background: #efe3f7; }
tr.manual td:nth-child(2) { font-style: italic; }
pre { background: #f6f6f6; padding: 0.8em; }
.small { color: #666; font-size: 0.85em; }
</style>
</head>
<body>
<h1>%(title)s</h1>
<p class="small">Made %(generated)s from the board's session log. Schedule: %(schedule)s.
Missed sessions follow docs/session-log.md: a gap longer than the interval plus grace, a listed time with
no session by its grace, or the board's own "missed" state where the gap cannot be seen.</p>
<pre>%(summary)s</pre>
%(charts)s
<h2>Days</h2>
<table><tr><th>day</th><th>sessions</th><th>missed</th>%(day_sides)s<th>volume</th><th></th></tr>
%(days)s
</table>
<h2>Missed sessions</h2>
<ul>%(missed)s</ul>
%(maybe)s
%(unknown)s
<h2>Sessions</h2>
<table><tr><th>start</th><th>session</th><th>program</th><th>duration</th><th>end</th><th>faults</th>
<th>schedule</th>%(sides)s<th>volume</th><th>note</th></tr>
%(rows)s
</table>
</body>
</html>
"""
