"""When the next session is due, and whether one was missed.

Pure: the app feeds it the time. Two kinds of schedule (profiles.json,
docs/session-log.md):

- every_min: due `every_min` after the last session started. With the
  board's clock set this uses wall time (and survives a reset, the last
  start is remembered in state.json); without it, the time since the last
  session on this boot, which the app accumulates tick by tick (so it is
  immune to the 2^30 ms tick wrap) and `clock_known` is False.
- times: due at each listed time of day; needs the clock.

Due from the due time, missed from due + grace_min, until a session starts.
"""
from micropython import const

SCHED_NONE = const(0)       # no schedule, or nothing to go by
SCHED_EARLY = const(1)      # not due yet
SCHED_DUE = const(2)
SCHED_MISSED = const(3)
SCHED_NAMES = ("none", "early", "due", "missed")
DAY_S = const(86400)


class Schedule:
    def __init__(self, every_min=0, times_min=(), grace_min=45):
        self.every_s = every_min * 60
        self.times_s = tuple(sorted(t * 60 for t in times_min))
        self.grace_s = grace_min * 60
        self.due_s = None               # the due time the last state() found (wall s)

    def state(self, now_s=None, last_start_s=None, since_last_s=None):
        """The schedule state (SCHED_*); the due time goes to self.due_s
        (wall seconds, None when unknown). Returns an int: no allocation.

        now_s: wall clock (seconds) or None when the clock is not set;
        last_start_s: wall time of the last session start, or None;
        since_last_s: seconds since the last session started on this boot,
        or None when there was none."""
        if self.every_s:
            if now_s is not None and last_start_s is not None:
                late = now_s - last_start_s - self.every_s
                self.due_s = last_start_s + self.every_s
            elif since_last_s is not None:
                late = since_last_s - self.every_s
                self.due_s = None
            else:
                self.due_s = None
                return SCHED_NONE
            return self._classify(late)
        if self.times_s and now_s is not None:
            due = self._last_time_before(now_s)
            if last_start_s is not None and last_start_s >= due - self.grace_s:
                self.due_s = self._next_time_after(now_s)            # that slot is done
                return SCHED_EARLY
            self.due_s = due
            return self._classify(now_s - due)
        self.due_s = None
        return SCHED_NONE

    def _classify(self, late_s):
        if late_s < 0:
            return SCHED_EARLY
        if late_s < self.grace_s:
            return SCHED_DUE
        return SCHED_MISSED

    def _last_time_before(self, now_s):
        day = now_s - now_s % DAY_S
        t = now_s - day
        best = None
        for s in self.times_s:
            if s <= t:
                best = s
        if best is None:
            return day - DAY_S + self.times_s[-1]
        return day + best

    def _next_time_after(self, now_s):
        day = now_s - now_s % DAY_S
        t = now_s - day
        for s in self.times_s:
            if s > t:
                return day + s
        return day + DAY_S + self.times_s[0]
