"""What to do now, from the session history and the schedule, each
suggestion with its reason and the rule it follows.

The rules (docs/session-log.md "Recovery rules", from docs/pump-figures.md "Programs"):

1 pump-now: a session is due or overdue -> pump as soon as possible; when
  it is more than the grace period late, start gently (catch_up).
2 extra-session: a session missed today -> add an extra session later
  today to make the volume up.
3 power-pumping: two or more missed sessions within the last 24 h, or the
  daily volume falling three days in a row -> power pumping once a day for
  2-3 days.
4 lactation-consultant: output still falling after power-pumping days (the
  average of the 3 days after them lower than of the days before), or
  falling five days in a row -> talk to a lactation consultant.
5 on-track: none of the above -> say so and name the next due time.

Plus practical notes on faults in the recent sessions and on records
without a time. Everything here is arithmetic on the log; none of it is
medical advice.

Missed sessions (the same count for the plan and the report):
- `every_min`: slots fall every_min after a session start (the board's own
  rule: a session is due every_min after the last start, and missed after
  due + grace); each slot with no start by its due + grace_min is one
  missed session, so a 12 h gap on a 3 h schedule is 3 misses (the 3, 6
  and 9 h slots), and so is each such slot between the last start and now.
  The board's
  `missed` state counts only where the host cannot see the gap (the session
  before it has no time, or it is the first of the history).
- `times`: each listed time of day is a slot; a slot is kept by a session
  starting before its own grace ends and after both the previous slot's
  grace and half the time from the previous slot (window_start); a slot
  with none whose grace has ended is missed.
- A record without a time (clock unset, not placeable by uptime) may have
  kept a slot: one miss between the known sessions around it is marked
  "possibly kept" and not counted.
"""
import json
import os
from datetime import datetime, time, timedelta

SOURCE = 'docs/session-log.md "Recovery rules" (from docs/pump-figures.md "Programs")'
RULES = {
    1: ("pump-now", "a session due or overdue -> pump as soon as possible; start gently (catch_up) "
                    "when more than the grace period late"),
    2: ("extra-session", "a session missed today -> add an extra session later today to make the volume up"),
    3: ("power-pumping", "two or more missed sessions within 24 h, or daily volume falling three days in a "
                         "row -> power pumping once a day for 2-3 days"),
    4: ("lactation-consultant", "output still falling after power-pumping days, or falling five days in a "
                                "row -> talk to a lactation consultant"),
    5: ("on-track", "nothing due and nothing to catch up -> keep going; the next due time"),
}
DEFAULT_EVERY_MIN = 180
DEFAULT_GRACE_MIN = 45
RECENT_DAYS = 7              # "recent" for a perfect history and for fault notes
POWER_DAYS_MAX = 3           # "once a day for 2-3 days"
FALLING_POWER_DAYS = 3       # decreases in a row of the daily volume for rule 3
FALLING_CONSULT_DAYS = 5     # ... and for rule 4
AFTER_POWER_DAYS = 3         # days after the power-pumping days compared with the days before
POWER_BLOCK_GAP_DAYS = 2     # power days at most this far apart are one block


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


# -- the history against the schedule ----------------------------------------------

class Miss:
    """A missed session. due: when it was due (None when only the board's
    `missed` state says so); deadline: when it counted as missed; gap: the
    time without a session; possibly_kept: a time-unknown record may have
    kept it (not counted)."""

    def __init__(self, due, deadline, how, gap=None, session=None):
        self.due = due
        self.deadline = deadline
        self.how = how              # "gap", "slot", "board", "open"
        self.gap = gap
        self.session = session      # the session that came after (None: none yet)
        self.possibly_kept = False

    @property
    def at(self):
        return self.due or self.deadline

    def describe(self):
        if self.how == "board":
            return "the board said the session it started at %s was after a missed one" % hm(self.deadline)
        if self.how == "slot":
            return "the %s session (nothing started by %s)" % (hm(self.due), hm(self.deadline))
        if self.gap is not None:
            return "the session due at %s (%s without a session)" % (hm(self.due), span(self.gap))
        return "the session due at %s (nothing started by %s)" % (hm(self.due), hm(self.deadline))

    def __repr__(self):
        return "<Miss %s %s%s>" % (self.how, self.at, " possibly kept" if self.possibly_kept else "")


def hm(t):
    return t.strftime("%Y-%m-%d %H:%M") if t else "?"


def span(td):
    m = int(td.total_seconds() // 60)
    if m < 60:
        return "%d min" % m
    return "%d h %02d min" % divmod(m, 60)


class DayStat:
    def __init__(self, day):
        self.day = day
        self.sessions = []
        self.misses = []
        self.volume_ml = 0.0
        self.volume_sessions = 0

    @property
    def power(self):
        return any(s.program == "power" for s in self.sessions)

    @property
    def volume_complete(self):
        """Every session of the day has its volume entered (and there is one)."""
        return bool(self.sessions) and self.volume_sessions == len(self.sessions)

    @property
    def volume(self):
        return self.volume_ml if self.volume_complete else None


class History:
    """Sessions up to `now` against a schedule: the known timeline, the
    time-unknown records, the misses, per-day figures and the due status."""

    def __init__(self, sessions, schedule, now):
        self.schedule = schedule
        self.now = now
        self.all = sessions
        self.known = sorted((s for s in sessions if s.when is not None and s.when <= now),
                            key=lambda s: (s.when, s.board, s.seq))
        self.future = [s for s in sessions if s.when is not None and s.when > now]
        self.unknown = [s for s in sessions if s.when is None]
        self.misses = self._misses()
        self._mark_possibly_kept()
        self.counted = [m for m in self.misses if not m.possibly_kept]

    # the misses
    def _misses(self):
        if not self.known:
            return []
        if self.schedule.times:
            return self._slot_misses()
        sch, out = self.schedule, []
        for i, s in enumerate(self.known):
            if i == 0:
                if s.schedule == "missed":
                    out.append(Miss(None, s.when, "board", session=s))
                continue
            prev = self.known[i - 1]
            gap = s.when - prev.when
            if gap > sch.every + sch.grace:
                out += self._gap_slots(prev.when, s.when, "gap", s)
            elif s.schedule == "missed" and self._unknown_between(prev.when, s.when):
                out.append(Miss(None, s.when, "board", session=s))
        last = self.known[-1]
        out += self._gap_slots(last.when, self.now, "open", None)
        return out

    def _gap_slots(self, start, end, how, after):
        """One Miss per slot of an `every_min` schedule between a session
        start and the next start (or now): slot k is due at start + k x
        every and missed when nothing started by its due + grace. A 12 h gap
        on a 3 h schedule misses the 3, 6 and 9 h slots; the session at 12 h
        keeps the fourth."""
        sch, out = self.schedule, []
        due = start + sch.every
        while due + sch.grace < end:
            out.append(Miss(due, due + sch.grace, how, None if out else end - start, after))
            due += sch.every
        return out

    def _unknown_between(self, a, b):
        return any((u.between[0] is None or u.between[0] <= a) and (u.between[1] is None or u.between[1] >= b)
                   for u in self.unknown)

    def _slot_misses(self):
        sch = self.schedule
        first = self.known[0].when
        slots = sch.slots(first.date() - timedelta(days=1), self.now.date() + timedelta(days=1))
        starts = [s.when for s in self.known]
        out = []
        for j in range(1, len(slots)):
            due = slots[j]
            deadline = due + sch.grace
            if deadline < first or deadline >= self.now:
                continue
            lo = window_start(slots, j, sch.grace)
            if not any(lo < t <= deadline for t in starts):
                after = [s for s in self.known if s.when > deadline]
                out.append(Miss(due, deadline, "slot", session=after[0] if after else None))
        return out

    def _mark_possibly_kept(self):
        for u in sorted(self.unknown, key=lambda s: (s.board, s.seq)):
            lo, hi = u.between
            for m in self.misses:
                if m.possibly_kept or m.how == "board":
                    continue
                if (lo is None or m.deadline > lo) and (hi is None or m.deadline < hi):
                    m.possibly_kept = True
                    break

    # per day
    def days(self, first, last):
        """[DayStat] for every day from first to last (dates)."""
        stats = {}
        d = first
        while d <= last:
            stats[d] = DayStat(d)
            d += timedelta(days=1)
        for s in self.known:
            st = stats.get(s.when.date())
            if st:
                st.sessions.append(s)
                if s.volume_ml is not None:
                    st.volume_ml += s.volume_ml
                    st.volume_sessions += 1
        for m in self.counted:
            st = stats.get(m.at.date())
            if st:
                st.misses.append(m)
        return [stats[k] for k in sorted(stats)]

    def power_days(self):
        return sorted({s.when.date() for s in self.known if s.program == "power"})

    def daily_volumes(self, first=None, last=None):
        """{date: mL} for the days whose every session has a volume."""
        if not self.known:
            return {}
        first = first or self.known[0].when.date()
        last = last or self.now.date()
        return {d.day: d.volume for d in self.days(first, last) if d.volume is not None}

    # now
    def latest_unknown(self):
        """A time-unknown record that came after the last known session of its board."""
        last_known = {}
        for s in self.known:
            last_known[s.board] = max(last_known.get(s.board, 0), s.seq)
        late = [u for u in self.unknown if not u.manual and u.seq > last_known.get(u.board, 0)]
        return late[0] if late else None

    def status(self):
        """(state, due, deadline): state is "none" (no history), "unknown"
        (the latest record has no time), "not_due", "due" or "overdue";
        due is when the session is or was due, deadline when it counts as
        missed (not_due: the next due time)."""
        if not self.known:
            return ("unknown" if self.unknown else "none"), None, None
        if self.latest_unknown() is not None:
            return "unknown", None, None
        sch, now, last = self.schedule, self.now, self.known[-1].when
        if not sch.times:
            due = last + sch.every
            deadline = due + sch.grace
            if now < due:
                return "not_due", due, deadline
            return ("due" if now <= deadline else "overdue"), due, deadline
        slots = sch.slots(now.date() - timedelta(days=3), now.date() + timedelta(days=2))
        starts = [s.when for s in self.known]
        j = next(j for j in range(2, len(slots)) if slots[j - 1] + sch.grace < now <= slots[j] + sch.grace)
        if any(window_start(slots, j, sch.grace) < t <= now for t in starts):    # kept: the next one
            return "not_due", slots[j + 1], slots[j + 1] + sch.grace
        prev_deadline = slots[j - 1] + sch.grace
        prev_missed = prev_deadline >= self.known[0].when and \
            not any(window_start(slots, j - 1, sch.grace) < t <= prev_deadline for t in starts)
        if prev_missed and not any(prev_deadline < t <= now for t in starts):   # no catch-up yet
            return "overdue", slots[j - 1], prev_deadline
        if now < slots[j]:
            return "not_due", slots[j], slots[j] + sch.grace
        return "due", slots[j], slots[j] + sch.grace


def window_start(slots, j, grace):
    """A `times` slot j is kept by a session starting after this and up to
    its due time + grace: after the previous slot's grace ended and after
    half the time from the previous slot (a late session for the previous
    slot is its catch-up, not an early one for this slot)."""
    prev = slots[j - 1]
    return max(prev + grace, prev + (slots[j] - prev) / 2)


# -- the volume --------------------------------------------------------------------

def falling_run(vols, end):
    """How many day-over-day decreases in a row end on day `end` ({date: mL})."""
    n, d = 0, end
    while d in vols and d - timedelta(days=1) in vols and vols[d] < vols[d - timedelta(days=1)]:
        n += 1
        d -= timedelta(days=1)
    return n


def power_blocks(days):
    """Power days grouped into blocks: [(first, last)]."""
    blocks = []
    for d in days:
        if blocks and (d - blocks[-1][1]).days <= POWER_BLOCK_GAP_DAYS:
            blocks[-1][1] = d
        else:
            blocks.append([d, d])
    return [tuple(b) for b in blocks]


def mean(xs):
    return sum(xs) / len(xs)


# -- the plan ----------------------------------------------------------------------

class Suggestion:
    def __init__(self, rule, action, reason):
        self.rule = rule
        self.name = RULES[rule][0]
        self.action = action
        self.reason = reason

    @property
    def rule_text(self):
        return "rule %d (%s): %s. Source: %s" % (self.rule, self.name, RULES[self.rule][1], SOURCE)

    def __repr__(self):
        return "<Suggestion rule %d %s>" % (self.rule, self.name)


class Plan:
    def __init__(self, history):
        self.history = history
        self.suggestions = []
        self.notes = []
        self.state = None
        self.due = None
        self.deadline = None

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


def _dates(ds):
    return ", ".join(d.isoformat() for d in ds)


def make_plan(sessions, schedule, now):
    h = History(sessions, schedule, now)
    p = Plan(h)
    sch = schedule
    today = now.date()
    if not h.known and not h.unknown:
        p.state = "none"
        p.notes.append("No sessions in the history yet: import the board's log with "
                       "`make logs` (it pulls them to out/board-logs/ and imports them; or "
                       "`python -m tools.sessions import out/board-logs/sessions.log`).")
        return p

    # rule 1: due or overdue now
    state, due, deadline = h.status()
    p.state, p.due, p.deadline = state, due, deadline
    last = h.known[-1] if h.known else None
    if state == "due":
        p.suggestions.append(Suggestion(1, "A session is due now: pump when you can.", (
            "the session was due at %s and %s of the %d min grace are left; %s" % (
                due.strftime("%H:%M"), span(deadline - now), sch.grace_min, _since(last, now)))))
    elif state == "overdue":
        p.suggestions.append(Suggestion(1, (
            "Pump as soon as you can, and start gently: choose the catch_up program (low-level stimulation, "
            "then a short expression at a low level), especially if your breasts feel full."), (
            "the session due at %s is %s late, more than the %d min grace; %s" % (
                due.strftime("%H:%M"), span(now - due), sch.grace_min, _since(last, now)))))

    # rules 3 and 4 first decide; they are printed after rules 1-2
    misses_24 = [m for m in h.counted if now - timedelta(hours=24) < m.at <= now]
    misses_today = [m for m in h.counted if m.at.date() == today]
    vols = h.daily_volumes()
    yesterday = today - timedelta(days=1)
    fall = falling_run(vols, yesterday)
    pdays = h.power_days()
    recent_power = [d for d in pdays if today - timedelta(days=POWER_DAYS_MAX - 1) <= d <= today]

    consult = []
    after_power_falling = False
    blocks = power_blocks([d for d in pdays if d < today])
    if blocks:
        b0, b1 = blocks[-1]
        before = [vols[b0 - timedelta(days=k)] for k in range(1, AFTER_POWER_DAYS + 1)
                  if b0 - timedelta(days=k) in vols]
        after_days = [b1 + timedelta(days=k) for k in range(1, AFTER_POWER_DAYS + 1)]
        after = [vols[d] for d in after_days if d in vols and d < today]
        recent = (today - after_days[-1]).days <= RECENT_DAYS
        if len(before) >= 2 and len(after) == AFTER_POWER_DAYS and recent and mean(after) < mean(before):
            after_power_falling = True
            consult.append("after the power-pumping days (%s) the daily volume averaged %.0f mL on the %d days "
                           "after (%s), lower than %.0f mL on the days before" % (
                               _dates(sorted({b0, b1})), mean(after), AFTER_POWER_DAYS,
                               _dates(after_days), mean(before)))
        elif len(before) >= 2 and blocks[-1][1] >= today - timedelta(days=AFTER_POWER_DAYS + 1) and \
                len(after) < AFTER_POWER_DAYS:
            p.notes.append("%d of the %d days after the power-pumping days have a full day's volume so far; "
                           "rule 4 compares them with the days before once all %d are in." % (
                               len(after), AFTER_POWER_DAYS, AFTER_POWER_DAYS))
    if fall >= FALLING_CONSULT_DAYS:
        consult.append("the daily volume fell %d days in a row (%s)" % (fall, _vol_run(vols, yesterday, fall)))

    power_why = []
    if len(misses_24) >= 2:
        power_why.append("%d sessions missed in the last 24 h: %s" % (
            len(misses_24), "; ".join(m.describe() for m in misses_24)))
    if fall >= FALLING_POWER_DAYS and not after_power_falling:
        power_why.append("the daily volume fell %d days in a row (%s)" % (fall, _vol_run(vols, yesterday, fall)))
    power_today = False
    power_sugg = None
    if power_why:
        why = "; and ".join(power_why)
        if len(recent_power) >= POWER_DAYS_MAX:
            power_sugg = Suggestion(3, (
                "Power pumping: the 2-3 days are done (%s). Keep to your schedule and keep entering the "
                "volume; rule 4 looks at the days after." % _dates(recent_power)), why)
        elif today in recent_power:
            power_sugg = Suggestion(3, (
                "Today's power pumping is done. Once more a day for %s (2-3 days in all)." % (
                    "one or two more days" if len(recent_power) == 1 else "at most one more day")), why)
        else:
            power_today = True
            extra = ""
            if misses_today:
                extra = " Today's power session can also stand in for the extra session (rule 2)."
            done = (" You power-pumped on %s; this continues it." % _dates(recent_power)) if recent_power else ""
            power_sugg = Suggestion(3, (
                "Power pump once a day for the next 2-3 days: the power program (about an hour: pumping "
                "and rest in turns, 20-10-10-10-10 min), in place of one of your usual sessions or in addition "
                "to them." + done + extra), why)

    # rule 2: a miss today
    if misses_today and not power_today:
        n = len(misses_today)
        p.suggestions.append(Suggestion(2, (
            "Add one extra session later today (15-30 min, any program) to make the volume up. If you "
            "already added one after the miss, nothing more is needed."), (
            "%s today: %s" % ("1 session missed" if n == 1 else "%d sessions missed" % n,
                              "; ".join(m.describe() for m in misses_today)))))
    if power_sugg:
        p.suggestions.append(power_sugg)
    if consult:
        p.suggestions.append(Suggestion(4, (
            "Consider talking to a lactation consultant (IBCLC), a midwife or your doctor about your supply. "
            "Output can fall for many reasons and many of them can be helped; this log cannot tell which "
            "applies to you."), "; and ".join(consult)))

    # rule 5: on track
    if not p.suggestions and state == "not_due":
        week = [m for m in h.counted if now - timedelta(days=RECENT_DAYS) < m.at <= now]
        span_days = min(RECENT_DAYS, max(1, (now - h.known[0].when).days))
        n_week = len([s for s in h.known if now - timedelta(days=RECENT_DAYS) < s.when <= now])
        if not week:
            why = "every scheduled session in the last %d day%s was kept (%d sessions)" % (
                span_days, "" if span_days == 1 else "s", n_week)
        elif misses_24:
            why = "%d session%s missed in the last 24 h, none today; nothing to catch up now" % (
                len(misses_24), "" if len(misses_24) == 1 else "s")
        else:
            why = "no session missed in the last 24 h (%d in the last %d days)" % (len(week), RECENT_DAYS)
        p.suggestions.append(Suggestion(5, "On track. The next session is due at %s (counts as missed after "
                                           "%s)." % (hm(due), deadline.strftime("%H:%M")), why))

    _notes(p, h)
    return p


def _since(last, now):
    return "the last session started at %s, %s ago" % (hm(last.when), span(now - last.when)) if last else \
        "no session with a known time yet"


def _vol_run(vols, end, n):
    days = [end - timedelta(days=k) for k in range(n, -1, -1)]
    return ", ".join("%s %.0f mL" % (d.strftime("%m-%d"), vols[d]) for d in days)


FAULT_NOTES = {
    "no_vacuum": ("the pump could not build vacuum. Most often this is the fit or seal of the breast shield "
                  "(shield size, how it sits, a valve membrane or tubing not seated); check those first, then "
                  "for a leak or a weak pump (README.md, Safety behaviour)"),
    "over_vacuum": ("a reading went above the profile limit. Check the sensor calibration against a gauge "
                    "(docs/hardware.md) and that the release valve vents"),
    "release_fail": "the valve did not vent in time: check the release valve and its tubing",
    "sensor_stuck": "the reading did not follow the pump: check the sensor, its tube and its wiring",
    "sensor_range": "the sensor read out of range: check its wiring and calibration",
    "sensor_stale": "the sensor stopped giving readings: check its wiring",
    "sensor_io": "the sensor reported I/O errors: check its wiring and connectors",
}


def _notes(p, h):
    now = h.now
    recent = [s for s in h.known if now - timedelta(days=RECENT_DAYS) < s.when <= now]
    counts = {}
    for s in recent:
        for f in sorted(set(s.faults)):
            counts[f] = counts.get(f, 0) + 1
    for f in sorted(counts, key=lambda k: (-counts[k], k)):
        what = FAULT_NOTES.get(f, "see README.md, Safety behaviour")
        p.notes.append("%s in %d of the last %d sessions (%d days): %s." % (
            f, counts[f], len(recent), RECENT_DAYS, what))
    cut = [s for s in recent if s.end == "power_cut" or s.duration_at_least]
    if cut:
        p.notes.append("%d of the last %d sessions ended without their end being seen (a power cut): their "
                       "durations are minimums; check the power supply." % (len(cut), len(recent)))
    placed = [s for s in h.all if s.when_from == "uptime"]
    if placed:
        p.notes.append("%d session%s had no clock time; placed from the board's uptime next to a session of "
                       "the same boot: %s." % (len(placed), "" if len(placed) == 1 else "s",
                                               ", ".join("%s at %s" % (s.label, hm(s.when)) for s in placed)))
    if h.unknown:
        p.notes.append("%d session%s without a time (the board's clock was not set, and no session of the same "
                       "boot had one): %s. They are not placed on the timeline%s. `make flash` sets the clock." % (
                           len(h.unknown), "" if len(h.unknown) == 1 else "s",
                           ", ".join(_between(s) for s in h.unknown),
                           "; a missed session they may have kept is not counted"
                           if any(m.possibly_kept for m in h.misses) else ""))
    if p.state == "unknown":
        lu = h.latest_unknown()
        p.notes.append("The latest session (%s) has no time, so when the next one is due cannot be worked out; "
                       "going by the board: its own display/LED knows the time since that session." % (
                           lu.label if lu else "?"))
    if h.future:
        p.notes.append("%d session%s start after %s (ignored here)." % (
            len(h.future), "" if len(h.future) == 1 else "s", hm(now)))


def _between(s):
    lo, hi = s.between
    if lo and hi:
        return "%s (between %s and %s)" % (s.label, hm(lo), hm(hi))
    if lo:
        return "%s (after %s)" % (s.label, hm(lo))
    if hi:
        return "%s (before %s)" % (s.label, hm(hi))
    return s.label


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

