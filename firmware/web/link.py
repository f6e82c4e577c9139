"""What the web app reads from the pump and asks of it: the bridge between
the routes (web/api.py) and the running App. No web framework here, so the
same code is tested on both VMs without a server.

Everything here runs in the server's task, between two ticks (asyncio runs
one task at a time): it reads the App's state, it never changes the
session directly. Presses go through the RemoteButtons queue (web/remote.py)
to the next tick; a note goes to the books, which write it at a tick with
the motor off and the valve open (App.flush); the clock is the one value
set here, a plain assignment the next tick picks up.

Work whose cost grows with the log (the history, the plan) is refused while
a session runs (`busy()`): a long computation between two ticks would make
the next tick late, and nothing in it is needed while pumping.
"""
from micropython import const

from pump.codes import FAULT_NAMES, MODE_NAMES, STATE_DONE, STATE_IDLE, STATE_NAMES
from pump.limits import pa_to_mmhg_x10
from pump.schedule import SCHED_NAMES
from pump.session import remaining_ms
from web.remote import event_of

SAMPLES = const(256)                 # the live trace: 256 samples
SAMPLE_TICKS = const(5)              # one sample every 5 ticks (50 ms at 100 Hz): 12.8 s of trace
# The samples' numbers start again at 0 after this many (9.7 days at 50 ms):
# a multiple of SAMPLES, and a small int on a 32-bit port (no allocation per tick).
SAMPLE_WRAP = const(SAMPLES * 65536)
MAX_NOTE_CHARS = const(200)
MAX_ML = const(2000)                 # per breast, as tools/sessions accepts
NOTE_VERSION = const(1)


class Refused(Exception):
    """A request the pump will not do: `status` (HTTP) and why, in words."""

    def __init__(self, status, why):
        super().__init__(why)
        self.status = status
        self.why = why


class Link:
    def __init__(self, app, remote, program_names, rtc=None):
        """rtc: the board's clock module driver (hw/rtc.py), or None."""
        self.app = app
        self.remote = remote
        self.rtc = rtc
        self.program_names = program_names
        self.vac = [0] * SAMPLES            # mmHg x10
        self.set = [0] * SAMPLES
        self.n = 0                          # samples taken (the next one's number)
        self.every = 0

    # -- the tick side: one call per tick from the control task (integers only) --------
    def sample(self, out):
        self.every += 1
        if self.every < SAMPLE_TICKS:
            return
        self.every = 0
        i = self.n % SAMPLES
        self.vac[i] = pa_to_mmhg_x10(out.vacuum_pa)
        self.set[i] = pa_to_mmhg_x10(out.setpoint_pa)
        self.n = self.n + 1 if self.n + 1 < SAMPLE_WRAP else 0

    # -- reads -------------------------------------------------------------------------
    def busy(self):
        st = self.app.session.state
        return not (st == STATE_IDLE or st == STATE_DONE)

    def status(self, since=-1):
        """The live view: state and the trace's samples after number `since`
        (all kept ones for -1). Times in seconds, vacuum in mmHg x10."""
        app = self.app
        o = app.session.out
        books = app.books
        log = books.log
        n = self.n
        if since >= n:
            since = -1                      # a page from before the numbers started again
        first = n - SAMPLES if n > SAMPLES else 0
        if since + 1 > first:
            first = since + 1
        wall = books.wall_now()
        sched = books.schedule
        return {
            "state": STATE_NAMES[o.state],
            "mode": MODE_NAMES[o.mode] if o.mode >= 0 else None,
            "level": o.level,
            "program": self.program_names[o.program] if 0 <= o.program < len(self.program_names) else "?",
            "programs": list(self.program_names),
            "step": o.step,
            "elapsed_s": o.elapsed_ms // 1000,
            "left_s": remaining_ms(o) // 1000,
            "vacuum_x10": pa_to_mmhg_x10(o.vacuum_pa),
            "target_x10": pa_to_mmhg_x10(o.target_pa),
            "fault": FAULT_NAMES[o.fault] or None,
            "notice": FAULT_NAMES[o.notice] or None,
            "weak": o.weak,
            "schedule": SCHED_NAMES[books.sched],
            "due_s": sched.due_s if sched is not None else None,
            "now_s": wall,
            "power_left": log.state["power_left"] if log is not None else 0,
            "seq": books.record.seq if books.record.active else books.closed.seq,
            "first": first,
            "vac": [self.vac[k % SAMPLES] for k in range(first, n)],
            "set": [self.set[k % SAMPLES] for k in range(first, n)],
        }

    # -- the pump's controls --------------------------------------------------------------
    def control(self, action):
        """Queue the press `action` means now; returns the event's name.
        Refused (409) when a button would do nothing now, (400) for an
        unknown action, (503) when the queue is full."""
        if not isinstance(action, str):
            raise Refused(400, "action must be one of: " + ", ".join(sorted(_actions())))
        try:
            ev = event_of(action, self.app.session.state)
        except KeyError:
            raise Refused(400, "unknown action %r: one of %s" % (action, ", ".join(sorted(_actions()))))
        if not ev:
            raise Refused(409, "%s does nothing while the pump is %s" % (action, STATE_NAMES[self.app.session.state]))
        if not self.remote.push(ev):
            raise Refused(503, "too many presses waiting: try again")
        return action

    def set_clock(self, t):
        """t: the phone's local time [y, mo, d, h, mi, s]: the books' wall
        clock, the port's RTC and a clock module when the board has one."""
        from hw.wallclock import parse, set_rtc
        from pump.record import seconds_2000
        v = parse(t)
        if v is None:
            raise Refused(400, "local must be [year, month, day, hour, minute, second], a date from 2024 to 2099")
        app = self.app
        app.books.set_wall(seconds_2000(v))
        try:
            set_rtc(app.machine, v)
        except Exception as e:               # a port without a settable RTC: the books still have the time
            print("web: RTC not set (%r)" % e)
        rtc = self.rtc
        if rtc is not None:
            try:
                rtc.write(v)
            except Exception as e:
                print("web: clock module not set (%r)" % e)
        return seconds_2000(v)

    def note(self, body):
        """A note for session `seq` of this board: left_ml, right_ml (0-2000
        or null), note (text up to MAX_NOTE_CHARS, or null). Queued for
        notes.log; the books write it with the motor off and the valve open."""
        if not isinstance(body, dict):
            raise Refused(400, "send a JSON object: {seq, left_ml, right_ml, note}")
        seq = body.get("seq")
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
            raise Refused(400, "seq must be a session number (1 or more)")
        rec = {"v": NOTE_VERSION, "kind": "note", "board": self.app.books.board_id, "seq": seq}
        given = False
        for side in ("left_ml", "right_ml"):
            v = body.get(side)
            if v is not None:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not (0 <= v <= MAX_ML):
                    raise Refused(400, "%s must be a number of mL from 0 to %d, or null" % (side, MAX_ML))
                given = True
            rec[side] = v
        text = body.get("note")
        if text is not None:
            if not isinstance(text, str) or len(text) > MAX_NOTE_CHARS:
                raise Refused(400, "note must be text of at most %d characters, or null" % MAX_NOTE_CHARS)
            given = True
        rec["note"] = text
        if not given:
            raise Refused(400, "nothing to note: give left_ml, right_ml or note")
        from pump.record import encode, iso
        rec["at"] = iso(self.app.books.wall_now())
        if not self.app.books.note(encode(rec)):
            raise Refused(503, "notes are waiting to be written (or the board keeps no log): try again")
        return rec


def _actions():
    from web.remote import ACTIONS
    return ACTIONS.keys()
