"""The books: what the board remembers about sessions, kept beside the
control loop. The session record, the log writes it needs, the schedule
(due / missed, the catch-up offer), power-pumping days, and the ambient
estimate of an absolute sensor (docs/session-log.md is the file format).

Why a module of its own: a flash write is the one thing on this board that
stalls the loop for a long time (see below), so *when* a write happens is a
safety question, and it must be answered in one place a reader can find.
The books never write on their own initiative. They decide *what* must be
written and set bits in `pending`; the app performs them (App.flush, the
only caller of `write()`) in a tick whose outputs it has just set to motor
duty 0 and valve open, checked on the outputs themselves. The one exception
is the start press: its write runs in the press tick before the session's
first running tick, while the previous tick's idle outputs (motor 0, valve
open) are still the ones on the pins; the same check guards it.

What is written, and when it is requested:
- the start press: state.json (the new session number) and session.cur;
- entering a pause or a rest step: session.cur;
- a checkpoint: session.cur, once CHECKPOINT_MS of session time (pauses and
  rests included) has passed since it was last written; performed at the
  next tick with motor 0 and valve open, which while running is the release
  phase of the current cycle;
- the end (stop, auto-off, fault, pause timeout): the record appended to
  sessions.log, session.cur removed, state.json;
- power days on or off: state.json.
End, pause, rest and power-day ticks are always idle-safe (the core forces
motor 0 and valve open in every state but running), so those are written in
the tick that requests them; only a checkpoint ever waits.

A write stalls the loop. On an (emulated) Pico under MicroPython 1.28 the
start press's two littlefs replaces took 180-210 ms of CPU and an end record
95-131 ms, even with instant flash; a real W25Q16JV adds ~45 ms typical and
up to 400 ms per 4 KB sector erase, the whole chip stalled. The host tests
use 250 ms and 1200 ms per file.
- The outputs are safe during the stall: the motor's PWM holds duty 0 and
  the normally-open valve is open, both set before the write starts, so the
  breast only vents while nothing runs; no decision is taken on a stale
  reading, because no tick runs.
- The watchdog is fed right before and right after each write (App.flush
  calls `write()` once per file: state.json, session.cur, or the end, which
  is one log append and state.json), so the longest time without a feed is
  one write, never a write plus the tick before it; a write that hangs
  longer than the watchdog timeout (4 s, at most 8.4 s on rp2) still resets
  the board, which boots safe.
- The stall is invisible to the core's timers: App.flush moves `last_ms`
  forward by the measured stall, so the next tick's dt is the time since the
  previous tick less the stall (one nominal tick under App.run, which moves
  its drift-free schedule by the stall too, instead of bursting catch-up
  ticks). The sensor was not read because the CPU was busy, not because it
  died: the first tick after the write reads it again and a dead sensor
  still trips sensor_stale one stale time later. The stale limit is not
  widened.
- What the core's timers lose: each write's stall, once. Session time, the
  cycle phase (the release it lands in lasts one stall longer: more venting),
  the pause timeout, the stale, release-check and no_vacuum timers, button
  hold times and LED patterns all run late by the stall. Writes come at most
  once per CHECKPOINT_MS while a session runs, plus one at the start, each
  pause and rest, and the end: with 1.2 s stalls the core runs about 2 %
  slow (an auto-off comes ~37 s late after 30 min at worst, ~8 s with 250 ms
  stalls). The app reads the sensor after the presses, so the first running
  tick after a start-press write never acts on a reading taken before the
  write; an I2C sensor converts one sample ahead, so its first reading after
  any write may date from before it. Either way the chamber only vented
  during the stall (motor 0, valve open), so such a reading shows more
  vacuum than there is, never less, for one tick.
- The books' own clocks do not lose it: `stalled()` adds the stall to the
  record (the session really lasted that long) and to uptime, so the wall
  time, the schedule and power days stay true.

Checkpoints bound what a power cut loses. The record found at the next boot
(end "power_cut", duration_at_least true) is the last session.cur that was
completely written. That write happened less than CHECKPOINT_MS + the
longest suction phase of the running profile + one tick + one write of
session time before the cut (suction 0.3 s stimulation / 0.7 s expression
with the default profiles, at most 3.4 s for any profile the validator
accepts; a write <= 1.2 s): a power cut loses less than 62 s with the
defaults and 65 s with any profile, i.e. at most the last minute of
duration and mode seconds and that minute's peaks and levels. A session cut
within its first minute is recovered with duration 0 and peaks 0: all the
board knew. A write skipped for lack of flash space (docs/session-log.md)
loses one more interval.

Per tick (`tick()`) everything is integer arithmetic and allocates nothing;
`write()` allocates (JSON text) and blocks, by design only in the ticks
above.
"""
from array import array

from micropython import const

from pump.codes import (END_AUTO_OFF, END_FAULT, END_STOP, STATE_DONE, STATE_FAULT, STATE_IDLE, STATE_PAUSED,
                        STATE_RESTING, STATE_RUNNING)
from pump.limits import mmhg_to_pa
from pump.record import Record
from pump.schedule import SCHED_MISSED, SCHED_NAMES, SCHED_NONE
from pump.slots import ptr32

# Pending writes (bits of Books.pending).
W_STATE = 1           # state.json
W_CUR = 2             # session.cur: the open record
W_END = 4             # the closed record into sessions.log, session.cur gone, state.json
W_BEGIN = 3           # W_STATE | W_CUR: the start of a session
W_NOTE = 8            # the phone's notes (volumes per breast, a remark) into notes.log
# Notes waiting for a write (the web app refuses more: a flood cannot fill the heap).
NOTES_WAITING = 4

# Session time between two writes of session.cur while a session runs.
CHECKPOINT_MS = const(60000)
# Absolute sensors: while idle and vented for REZERO_AFTER_MS, readings within
# REZERO_WINDOW_PA of zero pull the measured ambient along (weather moves it
# ~1 kPa a day). Larger offsets are not absorbed: they stay faults.
REZERO_AFTER_MS = 5000
REZERO_WINDOW_PA = mmhg_to_pa(8)
# Power pumping "for the next days": three sessions, one a day at most (a
# power session counts when it ran 20 min or more; a day is 20 h apart).
POWER_DAYS = 3
POWER_MIN_S = 20 * 60
POWER_GAP_S = 20 * 3600
SINCE_CAP_S = 30 * 86400

# Slots of Books.s, what the tick reads and moves (Books.tick is viper code
# on an RP2040, pump/slots.py): the second's clocks, the checkpoint's mark,
# the out.seq last looked at and whether ambient is tracked now. The tests
# read the public ones through `s`: no properties on this class (a class
# with one makes each attribute store on its instances slower on MicroPython).
SUB_SLOT = const(0)             # ms into the uptime's current second
CHECK_SLOT = const(1)           # ms since the schedule was last looked at
SAVED_SLOT = const(2)           # record duration_ms when session.cur was last written
_SEEN = const(3)            # out.seq when the state was last compared
_TRACK = const(4)           # 1: an absolute sensor, idle or done (track_ambient runs)
_LOGGED = const(5)          # 1: there is a log (checkpoints are requested)
_SLOTS = const(6)
# The record's slots (pump/record.py R_*; a viper index must be a const of
# this module; test_books checks that they agree).
_R_ACTIVE = const(0)
_R_DURATION = const(1)
_R_MODE = const(2)
_R_PEAK = const(7)
_R_BUCKET = const(9)
_R_PEAK_I = const(10)
_R_SEEN = const(11)


class Books:
    def __init__(self, session, profiles, indicator, sensor, log=None, board_id="", board_name="", wall_s=None,
                 uptime0_s=0):
        """session: the pump core (its program is chosen here); indicator:
        shows the schedule state; sensor: re-zeroed when it has an
        `ambient_pa`; log: the SessionLog (None: nothing is recorded on the
        flash); wall_s: the wall clock at boot in seconds since 2000, None
        when it is not set; uptime0_s: the uptime at boot (seconds since
        the reset), where the records' uptime starts."""
        self.session = session
        self.indicator = indicator
        self.sensor = sensor
        self.rezero = hasattr(sensor, "ambient_pa")
        self.vented_ms = 0
        self.log = log
        s = array("i", bytes(4 * _SLOTS))
        self.s = s
        s[_SEEN] = -1
        s[_LOGGED] = 1 if log is not None else 0
        s[_TRACK] = 1 if self.rezero else 0         # idle (moved() keeps it from the first state change on)
        self.board_id = board_id
        self.board_name = board_name
        self.program_names = tuple(p.name for p in profiles.programs)
        # Two records: the open one and the last closed one, whose end may
        # still wait to be written when the next one begins.
        self.record = Record()
        self.closed = Record()
        self.pending = 0
        self.notes = []                  # note lines waiting for W_NOTE
        self.writes = 0                  # write() calls that wrote something (tests, bench)
        self.seq = 0
        self.prev_state = STATE_IDLE
        self.wall0_s = wall_s
        self.uptime_s = 0                # since boot; the records add uptime0_s
        self.uptime0_s = uptime0_s
        self.since_last_s = None         # since the last session started on this boot
        self.since_power_s = None        # since the last counted power session on this boot
        self.schedule = profiles.schedule
        self.sched = SCHED_NONE
        if log is not None:
            session.last_levels = log.state.get("levels", 0)
        self.standard = profiles.program_index("standard")
        self.catch_up = profiles.program_index("catch_up")
        self.power = profiles.program_index("power")
        self.choose_program()

    # -- events ------------------------------------------------------------------
    def start_press(self):
        """A start press in idle or done, before the session starts: a new
        record, its write requested (the app performs it in this tick)."""
        self.begin()

    def note(self, line):
        """A note from the phone (an encoded note record, web/link.py) to be
        appended to notes.log by the next write. False when NOTES_WAITING
        notes already wait or there is no log."""
        if self.log is None or len(self.notes) >= NOTES_WAITING:
            return False
        self.notes.append(line)
        self.pending |= W_NOTE
        return True

    def set_wall(self, wall_s):
        """The wall clock is now wall_s (seconds since 2000, board local
        time: the phone's clock). Uptime and the records' durations are
        untouched; the schedule is looked at again within a second."""
        self.wall0_s = wall_s - self.uptime_s

    def power_days(self):
        """Idle: power pumping once a day for the next days, on or off."""
        log = self.log
        if log is None:
            return
        log.state["power_left"] = 0 if log.state["power_left"] > 0 else POWER_DAYS
        self.pending |= W_STATE
        self.choose_program()

    # -- every tick (integers only, no allocation) --------------------------------
    # (viper on an RP2040: tools/deploy.py VIPER_FUNCTIONS)
    def tick(self, dt: int, out, reading):
        """After the outputs are applied: ambient, state changes, the record,
        the clock and the schedule, and the checkpoint request. The state
        changes only where out.seq moves (Session._refresh), so it and where
        the record's time and peak go are looked at only then (`moved`)."""
        s = ptr32(self.s)
        if int(out.seq) != s[_SEEN]:
            self.moved(out)
        if s[_TRACK]:
            self.track_ambient(dt, out.state, reading)
        r = ptr32(self.record.s)
        if r[_R_ACTIVE]:
            # Record.update(dt, out), inlined for the ticks where out.seq
            # stands still (a call costs as much as five look-ups on an RP2040).
            d = r[_R_DURATION] + dt
            r[_R_DURATION] = d
            b = r[_R_BUCKET]
            if b >= 0:
                r[_R_MODE + b] += dt
            cm = r[_R_PEAK_I]
            if cm >= 0:
                v = int(out.vacuum_pa)
                if v > r[_R_PEAK + cm]:
                    r[_R_PEAK + cm] = v
            if d - s[SAVED_SLOT] >= CHECKPOINT_MS and s[_LOGGED]:
                self.checkpoint_due()
        # keep_time() inlined for the ticks inside a second (most of them).
        sub = s[SUB_SLOT] + dt
        check = s[CHECK_SLOT] + dt
        if sub < 1000 and check < 1000:
            s[SUB_SLOT] = sub
            s[CHECK_SLOT] = check
        else:
            self.keep_time(dt)

    def moved(self, out):
        """out.seq moved: a state change (a record begun or ended, whether
        ambient is tracked) and where the open record's time and peak go.
        Most moves are not state changes (a mixed cycle boundary, a step, a
        level): their tick pays only for the record's part. The record's
        slots are read as slots here, not through its properties (a property
        is a call)."""
        s = self.s
        s[_SEEN] = out.seq
        st = out.state
        if st != self.prev_state:
            self.transition(out)
            self.prev_state = st
            # Ambient moves only while idle or done; leaving them restarts the wait.
            idle = st == STATE_IDLE or st == STATE_DONE
            s[_TRACK] = 1 if self.rezero and idle else 0
            if not idle:
                self.vented_ms = 0
        rec = self.record
        r = rec.s
        if r[_R_ACTIVE] and out.seq != r[_R_SEEN]:
            rec._follow(out)

    def checkpoint_due(self):
        """CHECKPOINT_MS of session time since session.cur was last written:
        write it at the next tick with motor 0 and valve open."""
        self.pending |= W_CUR

    def stalled(self, ms, out):
        """A write held the loop for ms: the session and the wall clock went
        on (the core's timers deliberately do not see it)."""
        self.record.update(ms, out)
        self.keep_time(ms)

    # -- the writes (only ever called by App.flush) ----------------------------------
    def write(self):
        """Perform one pending write (the end of a session, state.json, or
        session.cur, in that order) and clear it from `pending`: blocks for
        one flash write (the end: a log append and state.json) and
        allocates. Only App.flush calls it, with motor 0 and the valve
        open, feeding the watchdog between calls."""
        p = self.pending
        log = self.log
        if log is None:
            self.pending = 0
            return
        names = self.program_names
        if p & W_END:
            self.pending = p & ~(W_END | W_STATE)
            log.end(self.closed, self.board_id, self.board_name, names)      # state.json too
        elif p & W_STATE:
            self.pending = p & ~W_STATE
            log.save_state()
        elif p & W_NOTE:
            self.pending = p & ~W_NOTE
            notes = self.notes
            self.notes = []
            log.notes(notes)
        else:
            self.pending = 0
            rec = self.record
            if not rec.active:
                return
            log.progress(rec, self.board_id, self.board_name, names)
            self.s[SAVED_SLOT] = rec.duration_ms
        self.writes += 1

    # -- session record -------------------------------------------------------------
    def begin(self):
        log = self.log
        self.seq = (log.state["seq"] if log is not None else self.seq) + 1
        boots = log.state["boots"] if log is not None else 0
        self.record.start(self.seq, self.wall_now(), self.uptime0_s + self.uptime_s, boots, self.session.program,
                          SCHED_NAMES[self.sched])
        self.s[SAVED_SLOT] = 0
        self.since_last_s = 0
        if log is not None:
            log.started(self.record)
            self.pending |= W_BEGIN

    def transition(self, out):
        st = out.state
        rec = self.record
        if (st == STATE_RUNNING or st == STATE_PAUSED or st == STATE_RESTING) and not rec.active:
            self.begin()                 # started without a button: written at the next safe tick
        if rec.active:
            if st == STATE_FAULT:
                rec.fault(out.fault)
                self.end_record(END_FAULT)
            elif st == STATE_IDLE or st == STATE_DONE:
                self.end_record(self.session.end_reason)
            elif (st == STATE_PAUSED or st == STATE_RESTING) and self.log is not None:
                self.pending |= W_CUR
        if st == STATE_IDLE or st == STATE_DONE:
            self.choose_program()        # back to idle: what the next start runs

    def end_record(self, end):
        rec = self.record
        rec.finish(end)
        log = self.log
        if rec.program == self.power and rec.duration_ms // 1000 >= POWER_MIN_S and \
                (end == END_AUTO_OFF or end == END_STOP) and log is not None and log.state["power_left"] > 0:
            log.state["power_left"] -= 1
            log.state["power_last_s"] = rec.start_s
            self.since_power_s = 0
        # Where this session left each mode's level: the next one starts
        # there with start_level "last" (state.json, written with the end).
        levels = self.session.packed_levels()
        self.session.last_levels = levels
        # The closed record waits in `closed` for its write; the next
        # session fills the other one.
        self.record = self.closed
        self.closed = rec
        if log is not None:
            log.state["levels"] = levels
            self.pending = (self.pending & ~W_CUR) | W_END

    def choose_program(self):
        """The program the next start runs: power on a power day, catch_up
        after a missed session, otherwise standard (the person can still
        change it with a long press)."""
        log = self.log
        prog = self.standard
        if log is not None and log.state["power_left"] > 0:
            last = log.state["power_last_s"]
            now = self.wall_now()
            if self.since_power_s is not None:
                due = self.since_power_s >= POWER_GAP_S
            elif last is not None and now is not None:
                due = now - last >= POWER_GAP_S
            else:
                due = True
            if due:
                prog = self.power
        if prog == self.standard and self.sched == SCHED_MISSED:
            prog = self.catch_up
        self.session.select_program(prog)

    # -- time and the schedule (integers only: this runs every tick) ------------------
    def wall_now(self):
        return None if self.wall0_s is None else self.wall0_s + self.uptime_s

    def keep_time(self, dt):
        s = self.s
        sub = s[SUB_SLOT] + dt
        while sub >= 1000:
            sub -= 1000
            self.uptime_s += 1
            if self.since_last_s is not None and self.since_last_s < SINCE_CAP_S:
                self.since_last_s += 1
            if self.since_power_s is not None and self.since_power_s < SINCE_CAP_S:
                self.since_power_s += 1
        s[SUB_SLOT] = sub
        check = s[CHECK_SLOT] + dt
        if check < 1000:
            s[CHECK_SLOT] = check
            return
        s[CHECK_SLOT] = 0          # with or without a schedule: a counter that never wraps leaves small ints
        if self.schedule is not None:
            last = self.log.state["last_start_s"] if self.log is not None else None
            sched = self.schedule.state(self.wall_now(), last, self.since_last_s)
            if sched != self.sched:
                self.sched = sched
                self.indicator.set_schedule(sched)
                st = self.session.state
                if st == STATE_IDLE or st == STATE_DONE:
                    self.choose_program()

    def track_ambient(self, dt, state, reading):
        if state != STATE_IDLE and state != STATE_DONE:
            self.vented_ms = 0
            return
        if self.vented_ms < REZERO_AFTER_MS:
            self.vented_ms += dt
        elif reading is not None and -REZERO_WINDOW_PA <= reading <= REZERO_WINDOW_PA:
            # vacuum = ambient - absolute: a reading above zero means the
            # ambient estimate is high. First-order, 16 readings.
            self.sensor.ambient_pa -= reading // 16
