"""What to do now, from the session history and the schedule: the host's
side of the recovery rules.

The rules themselves (docs/session-log.md "Recovery rules"), the count of
missed sessions and every text a plan says are firmware/pump/recovery.py,
the one implementation, which the board's web page uses too. This module
reads the schedule of a profiles.json, turns the history's datetimes into
the firmware's wall seconds (since 2000-01-01 00:00, local time) and back,
gives `report` the same figures as datetimes and dates, and lays the plan
out as text.
"""
import json
import os
from datetime import datetime, time, timedelta

from tools import paths

paths.use_firmware()
from pump import recovery  # noqa: E402

SOURCE = recovery.SOURCE
RULES = {n: r for n, r in enumerate(recovery.RULES, 1)}
DEFAULT_EVERY_MIN = recovery.DEFAULT_EVERY_S // 60
DEFAULT_GRACE_MIN = recovery.DEFAULT_GRACE_S // 60

EPOCH = datetime(2000, 1, 1)         # the firmware's wall seconds count from here (pump/record.py)
EPOCH_DAY = EPOCH.date()


def to_s(t):
    """Wall seconds of a datetime (whole seconds: the log has no finer times)."""
    return (t - EPOCH) // timedelta(seconds=1)


def from_s(t_s):
    return None if t_s is None else EPOCH + timedelta(seconds=t_s)


def to_day(d):
    return (d - EPOCH_DAY).days


def from_day(day):
    return EPOCH_DAY + timedelta(days=day)


# -- the schedule --------------------------------------------------------------------

class ScheduleError(Exception):
    def __init__(self, errors):
        Exception.__init__(self, "; ".join(errors))
        self.errors = errors


class Schedule:
    """every_min or times (minutes after midnight, sorted), grace_min, and
    where it came from (said in every output)."""

    def __init__(self, every_min=None, times=None, grace_min=DEFAULT_GRACE_MIN, origin=""):
        self.every_min = every_min
        self.times = sorted(times) if times else None
        self.grace_min = grace_min
        self.origin = origin

    @property
    def every(self):
        return timedelta(minutes=self.every_min)

    @property
    def grace(self):
        return timedelta(minutes=self.grace_min)

    # What pump.recovery reads (the names of the board's pump.schedule.Schedule).
    @property
    def every_s(self):
        return 0 if self.times or not self.every_min else self.every_min * 60

    @property
    def times_s(self):
        return tuple(t * 60 for t in self.times) if self.times else ()

    @property
    def grace_s(self):
        return self.grace_min * 60

    def per_day(self):
        return len(self.times) if self.times else 1440.0 / self.every_min

    def describe(self):
        if self.times:
            what = "at " + ", ".join("%02d:%02d" % divmod(t, 60) for t in self.times)
        else:
            what = "every %d min" % self.every_min
        return "%s, grace %d min (%s)" % (what, self.grace_min, self.origin)

    def slots(self, first_day, last_day):
        """Due times of a `times` schedule from first_day to last_day."""
        out = []
        d = first_day
        while d <= last_day:
            base = datetime.combine(d, time())
            out.extend(base + timedelta(minutes=t) for t in self.times)
            d += timedelta(days=1)
        return out


def default_schedule(why):
    return Schedule(every_min=DEFAULT_EVERY_MIN, grace_min=DEFAULT_GRACE_MIN,
                    origin="default: every 3 hours, %s" % why)


def parse_schedule(raw, origin):
    """The `schedule` object of a profiles.json, checked like the firmware's
    rules in docs/session-log.md. Raises ScheduleError (every problem, with
    its path and rule)."""
    errs = []

    def bad(path, msg):
        errs.append("schedule%s: %s" % (path, msg))

    if not isinstance(raw, dict):
        raise ScheduleError(["schedule: must be an object"])
    unknown = sorted(set(raw) - {"every_min", "times", "grace_min"})
    if unknown:
        bad("", "unknown key(s) " + ", ".join(unknown))
    every, times = raw.get("every_min"), raw.get("times")
    if (every is None) == (times is None):
        bad("", "give exactly one of every_min and times")
    if every is not None and (type(every) is not int or not 60 <= every <= 720):
        bad(".every_min", "%s is not a whole number of minutes in 60-720" % json.dumps(every))
    parsed = []
    if times is not None:
        if not isinstance(times, list) or not 1 <= len(times) <= 12:
            bad(".times", "must be a list of 1-12 \"HH:MM\" times")
        else:
            for i, t in enumerate(times):
                ok = isinstance(t, str) and len(t) == 5 and t[2] == ":" and all("0" <= c <= "9" for c in t[:2] + t[3:])
                if ok and int(t[:2]) < 24 and int(t[3:]) < 60:
                    parsed.append(int(t[:2]) * 60 + int(t[3:]))
                else:
                    bad(".times[%d]" % i, "%s is not a time \"HH:MM\"" % json.dumps(t))
            if len(set(parsed)) != len(parsed):
                bad(".times", "a time is listed twice")
    grace = raw.get("grace_min", DEFAULT_GRACE_MIN)
    if type(grace) is not int or not 5 <= grace <= 180:
        bad(".grace_min", "%s is not a whole number of minutes in 5-180" % json.dumps(grace))
    if errs:
        raise ScheduleError(errs)
    note = "" if "grace_min" in raw else "; no grace_min, %d assumed" % DEFAULT_GRACE_MIN
    return Schedule(every_min=every, times=parsed or None, grace_min=grace, origin=origin + note)


def load_schedule(path=None, default_path="profiles.json"):
    """The schedule of a profiles.json (path, else ./profiles.json when
    present), else the every-3-hours default, saying which. Raises
    ScheduleError for a file that cannot be used."""
    if path is None:
        if not os.path.exists(default_path):
            return default_schedule("no %s here" % default_path)
        path = default_path
    # The firmware's own reader: what the board would read, the same messages.
    from tools import deploy
    from pump.jsontext import loads
    try:
        raw, why = loads(deploy.read_input(path))
    except deploy.InputError as e:
        raise ScheduleError(e.lines)
    if why is not None:
        raise ScheduleError(["%s: %s" % (path, why)])
    if not isinstance(raw, dict):
        raise ScheduleError(["%s: not a profiles file (not a JSON object)" % path])
    if "schedule" not in raw:
        return default_schedule("%s has no schedule" % path)
    try:
        return parse_schedule(raw["schedule"], "from %s" % path)
    except ScheduleError as e:
        raise ScheduleError(["%s: %s" % (path, x) for x in e.errors])


# -- the history against the schedule, as datetimes -----------------------------------

def hm(t):
    return recovery.hm(None if t is None else to_s(t))


def span(td):
    return recovery.span(td // timedelta(seconds=1))


def core_session(s):
    """The recovery.Session of a store.Session (s itself as its ref)."""
    lo, hi = s.between
    return recovery.Session(
        None if s.when is None else to_s(s.when), board=s.board, seq=s.seq, program=s.program,
        schedule=s.schedule, volume_ml=s.volume_ml, faults=s.faults, end=s.end,
        duration_at_least=s.duration_at_least, from_uptime=s.when_from == "uptime", manual=s.manual,
        label=s.label, between=(None if lo is None else to_s(lo), None if hi is None else to_s(hi)), ref=s)


class Miss:
    """A recovery.Miss in datetimes: due (None when only the board's `missed`
    state says so), deadline, at, how, gap (timedelta or None), session (the
    one that came after, None: none yet), possibly_kept."""

    def __init__(self, core):
        self.core = core
        self.due = from_s(core.due_s)
        self.deadline = from_s(core.deadline_s)
        self.how = core.how
        self.gap = None if core.gap_s is None else timedelta(seconds=core.gap_s)
        self.session = core.after.ref if core.after is not None else None

    @property
    def at(self):
        return from_s(self.core.at_s)

    @property
    def possibly_kept(self):
        return self.core.possibly_kept

    def describe(self):
        return self.core.describe()

    def __repr__(self):
        return "<Miss %s %s%s>" % (self.how, self.at, " possibly kept" if self.possibly_kept else "")


class DayStat:
    """A recovery.DayStat with its date, the store's sessions and Miss."""

    def __init__(self, core, misses):
        self.day = from_day(core.day)
        self.sessions = [s.ref for s in core.sessions]
        self.misses = [misses[id(m)] for m in core.misses]
        self.volume_ml = core.volume_ml
        self.volume_sessions = core.volume_sessions
        self.power = core.power
        self.volume_complete = core.volume_complete
        self.volume = core.volume


class History:
    """Sessions up to `now` against a schedule (recovery.History): the known
    timeline, the time-unknown records, the misses, per-day figures and the
    due status, as the store's sessions and datetimes."""

    def __init__(self, sessions, schedule, now, core=None):
        self.schedule = schedule
        self.now = now
        self.all = sessions
        if core is None:
            core = recovery.History([core_session(s) for s in sessions], schedule, to_s(now))
        self.core = core
        self.known = [s.ref for s in self.core.known]
        self.future = [s.ref for s in self.core.future]
        self.unknown = [s.ref for s in self.core.unknown]
        self.misses = [Miss(m) for m in self.core.misses]
        self._by_core = {id(m.core): m for m in self.misses}
        self.counted = [self._by_core[id(m)] for m in self.core.counted]

    def days(self, first, last):
        """[DayStat] for every day from first to last (dates)."""
        return [DayStat(d, self._by_core) for d in self.core.days(to_day(first), to_day(last))]

    def power_days(self):
        return [from_day(d) for d in self.core.power_days()]

    def daily_volumes(self, first=None, last=None):
        """{date: mL} for the days whose every session has a volume."""
        vols = self.core.daily_volumes(None if first is None else to_day(first), None if last is None else to_day(last))
        return {from_day(d): v for d, v in vols.items()}

    def latest_unknown(self):
        u = self.core.latest_unknown()
        return None if u is None else u.ref

    def status(self):
        state, due_s, deadline_s = self.core.status()
        return state, from_s(due_s), from_s(deadline_s)


# -- the plan ----------------------------------------------------------------------

class Suggestion:
    """A recovery.Suggestion: rule, name, action, reason, data (its figures,
    as recovery gives them: seconds, day numbers, recovery.Miss)."""

    def __init__(self, core):
        self.rule = core.rule
        self.name = core.name
        self.action = core.action
        self.reason = core.reason
        self.data = core.data

    @property
    def rule_text(self):
        return "rule %d (%s): %s. Source: %s" % (self.rule, self.name, RULES[self.rule][1], SOURCE)

    def __repr__(self):
        return "<Suggestion rule %d %s>" % (self.rule, self.name)


class Plan:
    """A recovery.Plan with datetimes (due, deadline), the History above and
    the text the `plan` command prints."""

    def __init__(self, history, core):
        self.history = history
        self.core = core
        self.suggestions = [Suggestion(s) for s in core.suggestions]
        self.notes = core.notes
        self.state = core.state
        self.due = from_s(core.due_s)
        self.deadline = from_s(core.deadline_s)

    def rules(self):
        return [s.rule for s in self.suggestions]

    def text(self):
        h = self.history
        out = ["Plan for %s" % hm(h.now), "Schedule: %s" % h.schedule.describe()]
        if h.known:
            last = h.known[-1]
            out.append("Last session: %s, %s, %s%s (%s%s)" % (
                hm(last.when), last.program, span(timedelta(seconds=last.duration_s)),
                " or more" if last.duration_at_least else "", last.label,
                ", time from the board's uptime" if last.when_from == "uptime" else ""))
        if self.state == "not_due":
            out.append("Next due: %s (counts as missed after %s)" % (hm(self.due), hm(self.deadline)))
        elif self.state in ("due", "overdue"):
            out.append("Due: %s (%s)" % (hm(self.due), "now" if self.state == "due" else
                                          "overdue by %s" % span(h.now - self.due)))
        out.append("")
        for i, s in enumerate(self.suggestions, 1):
            out.append("%d. %s" % (i, s.action))
            out.append("   Why: %s" % s.reason)
            out.append("   Rule %d (%s): %s." % (s.rule, s.name, RULES[s.rule][1]))
        if self.suggestions:
            out.append("   Rules from " + SOURCE + ".")
        else:
            out.append("No suggestion: see the notes.")
        if self.notes:
            out.append("")
            out.append("Notes:")
            out.extend("- " + n for n in self.notes)
        out.append("")
        out.append("This plan is arithmetic on your session log and the usual advice; it is not medical "
                   "advice. Your own sense of how you feel, and a professional's, come first.")
        return "\n".join(out)


def make_plan(sessions, schedule, now):
    core = recovery.make_plan([core_session(s) for s in sessions], schedule, to_s(now))
    return Plan(History(sessions, schedule, now, core.history), core)


def parse_now(text):
    """--now "YYYY-MM-DDTHH:MM" (seconds allowed); None: the computer's clock."""
    if text is None:
        return datetime.now().replace(second=0, microsecond=0)
    for fmt in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            pass
    raise ValueError("%r is not a time \"YYYY-MM-DDTHH:MM\"" % text)

