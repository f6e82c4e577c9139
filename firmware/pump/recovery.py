"""What to do now after missed sessions: the recovery rules of
docs/session-log.md ("Recovery rules"), from the session history and the
schedule, each suggestion with its rule, its reason and the figures behind
it.

Why this module exists: the host's `python -m tools.sessions plan` and
`report` and the phone page the board will serve must give the same
advice, so the rules have one implementation, and it has to run on the
board. Hence pure (no datetime, time, files or machine), plain classes and
integers, nothing a MicroPython build lacks. The board imports it only
when the page asks for the plan, not at boot.

Units:
- times are wall seconds since 2000-01-01 00:00 local time, as the
  firmware counts them (pump/record.py). Seconds, not minutes: records
  start at any second, and the grace boundaries are compared to the second;
- day numbers are time // 86400 (day 0 is 2000-01-01);
- volumes are mL as entered (int or float; None: not entered).

A schedule is any object with `every_s` (0: none), `times_s` (sorted
seconds after midnight) and `grace_s`, as pump.schedule.Schedule has.

Memory: one small object per session, per missed slot and per day from the
first session to now. A last session long past means many missed slots (8
a day on a 3 h schedule, each one an object, as the host counts them): a
month of them is some 240 objects, which the board's web app must allow for.

The rules (from docs/pump-figures.md "Programs"):

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
- `every_s`: slots fall every_s after a session start (the board's own
  rule: a session is due every_s after the last start, and missed after
  due + grace); each slot with no start by its due + grace_s is one
  missed session, so a 12 h gap on a 3 h schedule is 3 misses (the 3, 6
  and 9 h slots), and so is each such slot between the last start and now.
  The board's `missed` state counts only where the host cannot see the gap
  (the session before it has no time, or it is the first of the history).
- `times_s`: each listed time of day is a slot; a slot is kept by a session
  starting before its own grace ends and after both the previous slot's
  grace and half the time from the previous slot (window start); a slot
  with none whose grace has ended is missed.
- A record without a time (clock unset, not placeable by uptime) may have
  kept a slot: one miss between the known sessions around it is marked
  "possibly kept" and not counted.
"""
from pump.record import civil_days      # the firmware's one calendar (the records' dates too)

DAY_S = 86400
RECENT_DAYS = 7              # "recent" for a perfect history and for fault notes
POWER_DAYS_MAX = 3           # "once a day for 2-3 days"
FALLING_POWER_DAYS = 3       # decreases in a row of the daily volume for rule 3
FALLING_CONSULT_DAYS = 5     # ... and for rule 4
AFTER_POWER_DAYS = 3         # days after the power-pumping days compared with the days before
POWER_BLOCK_GAP_DAYS = 2     # power days at most this far apart are one block

# Without a schedule in profiles.json the plan counts on one session every
# 3 hours with 45 minutes' grace (the host's plan and the board's page alike).
DEFAULT_EVERY_S = 3 * 3600
DEFAULT_GRACE_S = 45 * 60

SOURCE = 'docs/session-log.md "Recovery rules" (from docs/pump-figures.md "Programs")'
# Rule n is RULES[n - 1]: (name, what it says).
RULES = (
    ("pump-now", "a session due or overdue -> pump as soon as possible; start gently (catch_up) "
                 "when more than the grace period late"),
    ("extra-session", "a session missed today -> add an extra session later today to make the volume up"),
    ("power-pumping", "two or more missed sessions within 24 h, or daily volume falling three days in a "
                      "row -> power pumping once a day for 2-3 days"),
    ("lactation-consultant", "output still falling after power-pumping days, or falling five days in a "
                             "row -> talk to a lactation consultant"),
    ("on-track", "nothing due and nothing to catch up -> keep going; the next due time"),
)

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


# -- dates and texts ---------------------------------------------------------------

def date_text(day):
    return "%04d-%02d-%02d" % civil_days(day)


def hm(t_s):
    """"YYYY-MM-DD HH:MM" of a time, "?" for None."""
    if t_s is None:
        return "?"
    day = t_s // DAY_S
    return "%s %s" % (date_text(day), clock(t_s))


def clock(t_s):
    """"HH:MM" of a time."""
    return "%02d:%02d" % (t_s % DAY_S // 3600, t_s % 3600 // 60)


def span(dt_s):
    """A duration in whole minutes: "40 min", "12 h 05 min"."""
    m = dt_s // 60
    if m < 60:
        return "%d min" % m
    return "%d h %02d min" % divmod(m, 60)


def ml(v):
    """Volume to the mL as CPython's "%.0f" rounds it (half to even);
    MicroPython's "%.0f" rounds halves up, round() agrees on both."""
    return "%d" % round(v)


def _dates(days):
    return ", ".join(date_text(d) for d in days)


def _plural(n):
    return "" if n == 1 else "s"


# -- the history ---------------------------------------------------------------------

class Session:
    """One session as the rules see it.

    start_s: its start (None: time unknown); board, seq: its key; program;
    schedule: the board's schedule state at its start ("missed": after a
    missed one); volume_ml: the total entered (None: not entered); faults:
    trip names; end: how it ended; duration_at_least: the end was not seen;
    from_uptime: start_s was placed from the board's uptime; manual: typed
    in by hand; label: how texts name it; between: for a time-unknown one,
    the known starts (or None) of the sessions around it on its board; ref:
    the caller's own object, handed back untouched."""

    def __init__(self, start_s, board="", seq=0, program="standard", schedule="none", volume_ml=None,
                 faults=(), end="stop", duration_at_least=False, from_uptime=False, manual=False, label="",
                 between=(None, None), ref=None):
        self.start_s = start_s
        self.board = board
        self.seq = seq
        self.program = program
        self.schedule = schedule
        self.volume_ml = volume_ml
        self.faults = faults
        self.end = end
        self.duration_at_least = duration_at_least
        self.from_uptime = from_uptime
        self.manual = manual
        self.label = label
        self.between = between
        self.ref = ref


class Miss:
    """A missed session. due_s: when it was due (None when only the board's
    `missed` state says so); deadline_s: when it counted as missed; at_s:
    due_s, else deadline_s (the time it counts on); how: "gap" (between two
    sessions), "open" (since the last one), "slot" (a listed time) or
    "board"; gap_s: the time without a session (the first miss of a gap);
    after: the session that came after (None: none yet); possibly_kept: a
    time-unknown record may have kept it (not counted)."""

    def __init__(self, due_s, deadline_s, how, gap_s, after):
        self.due_s = due_s
        self.deadline_s = deadline_s
        self.at_s = deadline_s if due_s is None else due_s
        self.how = how
        self.gap_s = gap_s
        self.after = after
        self.possibly_kept = False

    def describe(self):
        if self.how == "board":
            return "the board said the session it started at %s was after a missed one" % hm(self.deadline_s)
        if self.how == "slot":
            return "the %s session (nothing started by %s)" % (hm(self.due_s), hm(self.deadline_s))
        if self.gap_s is not None:
            return "the session due at %s (%s without a session)" % (hm(self.due_s), span(self.gap_s))
        return "the session due at %s (nothing started by %s)" % (hm(self.due_s), hm(self.deadline_s))


class DayStat:
    """One day: its sessions with a known time, its counted misses, and the
    volume entered (volume_ml over volume_sessions of its sessions)."""

    def __init__(self, day):
        self.day = day
        self.sessions = []
        self.misses = []
        self.volume_ml = 0
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


def ordered(items, key):
    """items sorted by key(item), stable, with key called once per item.

    Not list.sort(key=...): MicroPython's sort is a quicksort that calls the
    key at every comparison and takes n^2/2 of them on input already in
    order (a board's log is), so 60 sessions cost ~3,600 key calls and
    tuples, over half a second of an RP2040 (tools/rp2040/webbench.py). Here
    each key is made once, in-order input is only checked, and the item's
    index breaks ties, so both VMs give the same order."""
    keyed = [(key(x), i) for i, x in enumerate(items)]
    for i in range(1, len(keyed)):
        if keyed[i] < keyed[i - 1]:
            keyed.sort()
            break
    return [items[i] for _, i in keyed]


def _first_above(xs, x):
    """Index of the first item of the sorted list xs above x (len(xs): none)."""
    lo, hi = 0, len(xs)
    while lo < hi:
        mid = (lo + hi) // 2
        if xs[mid] > x:
            hi = mid
        else:
            lo = mid + 1
    return lo


class History:
    """Sessions up to now_s against a schedule: the known timeline (by start,
    board, seq), the time-unknown records, the misses, per-day figures and
    the due status."""

    def __init__(self, sessions, sch, now_s):
        if not (sch.every_s or sch.times_s):
            raise ValueError("no schedule: every_s or times_s")
        self.sch = sch
        self.now_s = now_s
        self.all = sessions
        known = ordered([s for s in sessions if s.start_s is not None and s.start_s <= now_s],
                        lambda s: (s.start_s, s.board, s.seq))
        self.known = known
        self.starts = [s.start_s for s in known]
        self.future = [s for s in sessions if s.start_s is not None and s.start_s > now_s]
        self.unknown = [s for s in sessions if s.start_s is None]
        self.misses = [] if not known else self._slot_misses() if sch.times_s else self._gap_misses()
        self._mark_possibly_kept()
        self.counted = [m for m in self.misses if not m.possibly_kept]

    def _started(self, lo_s, hi_s):
        """A known session started after lo_s and up to hi_s."""
        i = _first_above(self.starts, lo_s)
        return i < len(self.starts) and self.starts[i] <= hi_s

    # every_s: slots from each start
    def _gap_misses(self):
        out = []
        limit_s = self.sch.every_s + self.sch.grace_s
        prev = None
        # The board's own "missed" state counts only where the gap cannot be
        # seen here: at the first session, or with a time-unknown one between.
        for s in self.known:
            if prev is None:
                if s.schedule == "missed":
                    out.append(Miss(None, s.start_s, "board", None, s))
            elif s.start_s - prev.start_s > limit_s:
                self._gap_slots(out, prev.start_s, s.start_s, "gap", s)
            elif s.schedule == "missed" and self._unknown_between(prev.start_s, s.start_s):
                out.append(Miss(None, s.start_s, "board", None, s))
            prev = s
        self._gap_slots(out, self.starts[-1], self.now_s, "open", None)
        return out

    def _gap_slots(self, out, start_s, end_s, how, after):
        """One Miss per slot between a session start and the next start (or
        now): slot k is due at start + k x every_s and missed when nothing
        started by its due + grace. A 12 h gap on a 3 h schedule misses the
        3, 6 and 9 h slots; the session at 12 h keeps the fourth."""
        every_s, grace_s = self.sch.every_s, self.sch.grace_s
        due = start_s + every_s
        gap_s = end_s - start_s              # said with the gap's first miss only
        while due + grace_s < end_s:
            out.append(Miss(due, due + grace_s, how, gap_s, after))
            gap_s = None
            due += every_s

    def _unknown_between(self, a_s, b_s):
        for u in self.unknown:
            lo, hi = u.between
            if (lo is None or lo <= a_s) and (hi is None or hi >= b_s):
                return True
        return False

    # times_s: listed times of day
    def _slot(self, day0, k):
        """Due time of slot k, counted from the first listed time of day day0."""
        times = self.sch.times_s
        return (day0 + k // len(times)) * DAY_S + times[k % len(times)]

    def _window_start(self, day0, k):
        """Slot k is kept by a session starting after this and up to its due
        + grace: after the previous slot's grace ended and after half the
        time from the previous slot (a late session for the previous slot is
        its catch-up, not an early one for this slot). The half is floored:
        starts are whole seconds, so `start > floor(half)` is `start > half`."""
        prev = self._slot(day0, k - 1)
        half_s = (self._slot(day0, k) - prev) // 2
        grace_s = self.sch.grace_s
        return prev + (grace_s if grace_s > half_s else half_s)

    def _slot_misses(self):
        grace_s = self.sch.grace_s
        first_s = self.starts[0]
        day0 = first_s // DAY_S - 1          # the day before the first session: its last slot counts
        out = []
        k = 1
        while True:
            due = self._slot(day0, k)
            deadline = due + grace_s
            if deadline >= self.now_s:       # not missed yet, nor any later slot
                return out
            if deadline >= first_s and not self._started(self._window_start(day0, k), deadline):
                i = _first_above(self.starts, deadline)
                out.append(Miss(due, deadline, "slot", None, self.known[i] if i < len(self.known) else None))
            k += 1

    def _mark_possibly_kept(self):
        for u in ordered(self.unknown, lambda s: (s.board, s.seq)):
            lo, hi = u.between
            for m in self.misses:
                if m.possibly_kept or m.how == "board":
                    continue
                if (lo is None or m.deadline_s > lo) and (hi is None or m.deadline_s < hi):
                    m.possibly_kept = True
                    break

    # per day
    def days(self, first_day, last_day):
        """[DayStat] for every day from first_day to last_day."""
        out = [DayStat(d) for d in range(first_day, last_day + 1)]
        for s in self.known:
            i = s.start_s // DAY_S - first_day
            if 0 <= i < len(out):
                st = out[i]
                st.sessions.append(s)
                if s.volume_ml is not None:
                    st.volume_ml += s.volume_ml
                    st.volume_sessions += 1
        for m in self.counted:
            i = m.at_s // DAY_S - first_day
            if 0 <= i < len(out):
                out[i].misses.append(m)
        return out

    def power_days(self):
        return sorted({s.start_s // DAY_S for s in self.known if s.program == "power"})

    def daily_volumes(self, first_day=None, last_day=None):
        """{day: mL} for the days whose every session has a volume (from the
        first known session to today unless told)."""
        vols = {}
        if not self.known:
            return vols
        if first_day is None:
            first_day = self.starts[0] // DAY_S
        if last_day is None:
            last_day = self.now_s // DAY_S
        for d in self.days(first_day, last_day):
            if d.volume_complete:
                vols[d.day] = d.volume_ml
        return vols

    # now
    def latest_unknown(self):
        """A time-unknown record that came after the last known session of its board."""
        last_seq = {}
        for s in self.known:
            if s.seq > last_seq.get(s.board, 0):
                last_seq[s.board] = s.seq
        for u in self.unknown:
            if not u.manual and u.seq > last_seq.get(u.board, 0):
                return u
        return None

    def status(self):
        """(state, due_s, deadline_s): state is "none" (no history), "unknown"
        (the latest record has no time), "not_due", "due" or "overdue";
        due_s is when the session is or was due, deadline_s when it counts as
        missed (not_due: the next due time)."""
        if not self.known:
            return ("unknown" if self.unknown else "none"), None, None
        if self.latest_unknown() is not None:
            return "unknown", None, None
        sch, now = self.sch, self.now_s
        grace_s = sch.grace_s
        if not sch.times_s:
            due = self.starts[-1] + sch.every_s
            if now < due:
                return "not_due", due, due + grace_s
            return ("due" if now <= due + grace_s else "overdue"), due, due + grace_s
        day0 = now // DAY_S - 3
        k = 2                                # slot k is the one whose grace now is in
        while not self._slot(day0, k - 1) + grace_s < now <= self._slot(day0, k) + grace_s:
            k += 1
        if self._started(self._window_start(day0, k), now):              # kept: the next one
            due = self._slot(day0, k + 1)
            return "not_due", due, due + grace_s
        prev_deadline = self._slot(day0, k - 1) + grace_s
        prev_missed = prev_deadline >= self.starts[0] and \
            not self._started(self._window_start(day0, k - 1), prev_deadline)
        if prev_missed and not self._started(prev_deadline, now):        # no catch-up yet
            return "overdue", self._slot(day0, k - 1), prev_deadline
        due = self._slot(day0, k)
        return ("not_due" if now < due else "due"), due, due + grace_s


# -- the volume --------------------------------------------------------------------

def falling_run(vols, end_day):
    """How many day-over-day decreases in a row end on end_day ({day: mL})."""
    n, d = 0, end_day
    while d in vols and d - 1 in vols and vols[d] < vols[d - 1]:
        n += 1
        d -= 1
    return n


def power_blocks(days):
    """Power days (sorted day numbers) grouped into blocks: [(first, last)]."""
    blocks = []
    for d in days:
        if blocks and d - blocks[-1][1] <= POWER_BLOCK_GAP_DAYS:
            blocks[-1] = (blocks[-1][0], d)
        else:
            blocks.append((d, d))
    return blocks


def mean(xs):
    """Summed left to right as MicroPython's sum() does (CPython 3.12's
    sum() compensates, and would differ in the last bit)."""
    total = 0
    for x in xs:
        total += x
    return total / len(xs)


def _vol_run(vols, end_day, n):
    return ", ".join("%02d-%02d %s mL" % (civil_days(d)[1:] + (ml(vols[d]),)) for d in range(end_day - n, end_day + 1))


# -- the plan ----------------------------------------------------------------------

class Suggestion:
    """rule (1-5), name, action (what to do), reason (why, from the log) and
    data: the figures the reason was made from."""

    def __init__(self, rule, action, reason, data):
        self.rule = rule
        self.name = RULES[rule - 1][0]
        self.action = action
        self.reason = reason
        self.data = data


class Plan:
    """The plan for history.now_s: state, due_s, deadline_s as
    History.status(); suggestions in the order to show them; notes; and the
    figures the rules looked at (misses_24, misses_today, volumes {day: mL},
    falling_days ending yesterday, power_days)."""

    def __init__(self, history):
        self.history = history
        self.state, self.due_s, self.deadline_s = history.status()
        self.suggestions = []
        self.notes = []
        self.misses_24 = []
        self.misses_today = []
        self.volumes = {}
        self.falling_days = 0
        self.power_days = []
        if not history.known and not history.unknown:
            self.notes.append("No sessions in the history yet: import the board's log with "
                              "`make logs` (it pulls them to out/board-logs/ and imports them; or "
                              "`python -m tools.sessions import out/board-logs/sessions.log`).")
            return
        self._decide()
        self._notes()

    def rules(self):
        return [s.rule for s in self.suggestions]

    def _decide(self):
        h = self.history
        now, grace_min = h.now_s, h.sch.grace_s // 60
        today = now // DAY_S
        add = self.suggestions.append

        # rule 1: due or overdue now
        state, due, deadline = self.state, self.due_s, self.deadline_s
        last = h.known[-1] if h.known else None
        if state == "due":
            add(Suggestion(1, "A session is due now: pump when you can.", (
                "the session was due at %s and %s of the %d min grace are left; %s" % (
                    clock(due), span(deadline - now), grace_min, _since(last, now))),
                {"due_s": due, "deadline_s": deadline}))
        elif state == "overdue":
            add(Suggestion(1, (
                "Pump as soon as you can, and start gently: choose the catch_up program (low-level stimulation, "
                "then a short expression at a low level), especially if your breasts feel full."), (
                "the session due at %s is %s late, more than the %d min grace; %s" % (
                    clock(due), span(now - due), grace_min, _since(last, now))),
                {"due_s": due, "deadline_s": deadline}))

        # rules 3 and 4 first decide; they are shown after rules 1-2
        misses_24 = self.misses_24 = [m for m in h.counted if now - DAY_S < m.at_s <= now]
        misses_today = self.misses_today = [m for m in h.counted if m.at_s // DAY_S == today]
        vols = self.volumes = h.daily_volumes()
        yesterday = today - 1
        fall = self.falling_days = falling_run(vols, yesterday)
        pdays = self.power_days = h.power_days()
        recent_power = [d for d in pdays if today - (POWER_DAYS_MAX - 1) <= d <= today]

        consult = []
        block = before_ml = after_ml = None      # rule 4's figures after power days
        after_power_falling = False
        blocks = power_blocks([d for d in pdays if d < today])
        if blocks:
            b0, b1 = blocks[-1]
            before = [vols[b0 - k] for k in range(1, AFTER_POWER_DAYS + 1) if b0 - k in vols]
            after_days = [b1 + k for k in range(1, AFTER_POWER_DAYS + 1)]
            after = [vols[d] for d in after_days if d in vols and d < today]
            recent = today - after_days[-1] <= RECENT_DAYS
            if len(before) >= 2 and len(after) == AFTER_POWER_DAYS and recent and mean(after) < mean(before):
                after_power_falling = True
                block, before_ml, after_ml = (b0, b1), mean(before), mean(after)
                consult.append("after the power-pumping days (%s) the daily volume averaged %s mL on the %d days "
                               "after (%s), lower than %s mL on the days before" % (
                                   _dates([b0] if b0 == b1 else [b0, b1]), ml(after_ml), AFTER_POWER_DAYS,
                                   _dates(after_days), ml(before_ml)))
            elif len(before) >= 2 and b1 >= today - (AFTER_POWER_DAYS + 1) and len(after) < AFTER_POWER_DAYS:
                self.notes.append("%d of the %d days after the power-pumping days have a full day's volume so far; "
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
            data = {"misses": misses_24, "falling_days": fall, "power_days": recent_power}
            if len(recent_power) >= POWER_DAYS_MAX:
                power_sugg = Suggestion(3, (
                    "Power pumping: the 2-3 days are done (%s). Keep to your schedule and keep entering the "
                    "volume; rule 4 looks at the days after." % _dates(recent_power)), why, data)
            elif today in recent_power:
                power_sugg = Suggestion(3, (
                    "Today's power pumping is done. Once more a day for %s (2-3 days in all)." % (
                        "one or two more days" if len(recent_power) == 1 else "at most one more day")), why, data)
            else:
                power_today = True
                extra = ""
                if misses_today:
                    extra = " Today's power session can also stand in for the extra session (rule 2)."
                done = (" You power-pumped on %s; this continues it." % _dates(recent_power)) if recent_power else ""
                power_sugg = Suggestion(3, (
                    "Power pump once a day for the next 2-3 days: the power program (about an hour: pumping "
                    "and rest in turns, 20-10-10-10-10 min), in place of one of your usual sessions or in addition "
                    "to them." + done + extra), why, data)

        # rule 2: a miss today (today's power session stands in for it)
        if misses_today and not power_today:
            n = len(misses_today)
            add(Suggestion(2, (
                "Add one extra session later today (15-30 min, any program) to make the volume up. If you "
                "already added one after the miss, nothing more is needed."), (
                "%s today: %s" % ("1 session missed" if n == 1 else "%d sessions missed" % n,
                                  "; ".join(m.describe() for m in misses_today))),
                {"misses": misses_today}))
        if power_sugg:
            add(power_sugg)
        if consult:
            add(Suggestion(4, (
                "Consider talking to a lactation consultant (IBCLC), a midwife or your doctor about your supply. "
                "Output can fall for many reasons and many of them can be helped; this log cannot tell which "
                "applies to you."), "; and ".join(consult),
                {"falling_days": fall, "power_block": block, "before_ml": before_ml, "after_ml": after_ml}))

        # rule 5: on track
        if not self.suggestions and state == "not_due":
            week = [m for m in h.counted if now - RECENT_DAYS * DAY_S < m.at_s <= now]
            span_days = min(RECENT_DAYS, max(1, (now - h.starts[0]) // DAY_S))
            n_week = len([s for s in h.known if now - RECENT_DAYS * DAY_S < s.start_s <= now])
            if not week:
                why = "every scheduled session in the last %d day%s was kept (%d sessions)" % (
                    span_days, _plural(span_days), n_week)
            elif misses_24:
                why = "%d session%s missed in the last 24 h, none today; nothing to catch up now" % (
                    len(misses_24), _plural(len(misses_24)))
            else:
                why = "no session missed in the last 24 h (%d in the last %d days)" % (len(week), RECENT_DAYS)
            add(Suggestion(5, "On track. The next session is due at %s (counts as missed after %s)." % (
                hm(due), clock(deadline)), why, {"due_s": due, "deadline_s": deadline, "misses_week": week}))

    def _notes(self):
        h = self.history
        now = h.now_s
        add = self.notes.append
        recent = [s for s in h.known if now - RECENT_DAYS * DAY_S < s.start_s <= now]
        counts = {}
        for s in recent:
            for f in set(s.faults):
                counts[f] = counts.get(f, 0) + 1
        for f in sorted(counts, key=lambda k: (-counts[k], k)):
            add("%s in %d of the last %d sessions (%d days): %s." % (
                f, counts[f], len(recent), RECENT_DAYS, FAULT_NOTES.get(f, "see README.md, Safety behaviour")))
        cut = [s for s in recent if s.end == "power_cut" or s.duration_at_least]
        if cut:
            add("%d of the last %d sessions ended without their end being seen (a power cut): their "
                "durations are minimums; check the power supply." % (len(cut), len(recent)))
        placed = [s for s in h.all if s.from_uptime]
        if placed:
            add("%d session%s had no clock time; placed from the board's uptime next to a session of "
                "the same boot: %s." % (len(placed), _plural(len(placed)),
                                        ", ".join("%s at %s" % (s.label, hm(s.start_s)) for s in placed)))
        if h.unknown:
            add("%d session%s without a time (the board's clock was not set, and no session of the same "
                "boot had one): %s. They are not placed on the timeline%s. `make flash` sets the clock." % (
                    len(h.unknown), _plural(len(h.unknown)), ", ".join(_between(s) for s in h.unknown),
                    "; a missed session they may have kept is not counted"
                    if any(m.possibly_kept for m in h.misses) else ""))
        if self.state == "unknown":
            lu = h.latest_unknown()
            add("The latest session (%s) has no time, so when the next one is due cannot be worked out; "
                "going by the board: its own display/LED knows the time since that session." % (
                    lu.label if lu else "?"))
        if h.future:
            add("%d session%s start after %s (ignored here)." % (len(h.future), _plural(len(h.future)), hm(now)))


def make_plan(sessions, sch, now_s):
    """The plan for now_s from [Session] and a schedule (see the module's docstring)."""
    return Plan(History(sessions, sch, now_s))


def _since(last, now_s):
    if last is None:
        return "no session with a known time yet"
    return "the last session started at %s, %s ago" % (hm(last.start_s), span(now_s - last.start_s))


def _between(s):
    lo, hi = s.between
    if lo is not None and hi is not None:
        return "%s (between %s and %s)" % (s.label, hm(lo), hm(hi))
    if lo is not None:
        return "%s (after %s)" % (s.label, hm(lo))
    if hi is not None:
        return "%s (before %s)" % (s.label, hm(hi))
    return s.label
