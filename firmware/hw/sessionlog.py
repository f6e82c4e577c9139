"""The session log on the board's flash (docs/session-log.md).

Only ever written while the motor is off: at boot, at the start press
(before the session starts), on entering a pause or a rest, and at the end
of a session. A flash write can stall the CPU for tens of milliseconds; at
those moments the valve is open and the pump stopped, so a late tick is
harmless.

- state.json (replaced atomically): boot count, the last session number,
  when the last session started (seconds since 2000, when the clock is set),
  power-pumping days left.
- session.cur (replaced atomically): the running session's record with
  "end": null. Found at boot, it becomes a "power_cut" record (its duration
  is the last one written: duration_at_least).
- sessions.log: one line per record; before it would pass `max_bytes` it is
  renamed over sessions.1.log (the oldest records go), and nothing is
  written when the flash would drop below `min_free` bytes.
"""
import os

from hw.store import free_bytes, read_text, write_atomic
from pump.record import decode, encode

LOG = "sessions.log"
OLD_LOG = "sessions.1.log"
CURRENT = "session.cur"
STATE = "state.json"


class SessionLog:
    def __init__(self, root="", max_bytes=16384, min_free=16384):
        self.root = root
        self.max_bytes = max_bytes
        self.min_free = min_free
        self.state = {"boots": 0, "seq": 0, "last_start_s": None, "power_left": 0, "power_last_s": None}
        self.skipped = 0                  # records not written for lack of space

    def path(self, name):
        return self.root + "/" + name if self.root else name

    def _size(self, name):
        try:
            return os.stat(self.path(name))[6]
        except OSError:
            return 0

    def _room(self, n):
        """True when n more bytes keep min_free free (dropping the old log
        first if needed)."""
        if free_bytes(self.root or "/") - n >= self.min_free:
            return True
        if self._size(OLD_LOG):
            os.remove(self.path(OLD_LOG))
            return free_bytes(self.root or "/") - n >= self.min_free
        return False

    def save_state(self):
        import json
        text = json.dumps(self.state)
        if self._room(len(text) * 2):
            write_atomic(self.path(STATE), text)

    def load_state(self):
        import json
        text = read_text(self.path(STATE))
        if text:
            try:
                saved = json.loads(text)
                for k in self.state:
                    if k in saved:
                        self.state[k] = saved[k]
            except ValueError:
                pass                       # a torn state file: start counting afresh
        return self.state

    def boot(self, board_id, board_name, program_names):
        """Load the state, count the boot, close a session a power cut
        interrupted. Returns that session's record (a dict) or None."""
        self.load_state()
        self.state["boots"] += 1
        recovered = None
        cur = read_text(self.path(CURRENT))
        if cur is not None:
            rec = decode(cur)
            if rec is not None:
                rec["end"] = "power_cut"
                rec["duration_at_least"] = True
                self._append(encode(rec))
                recovered = rec
            os.remove(self.path(CURRENT))
        self.save_state()
        return recovered

    def started(self, record):
        """A session began: its number and start time (in memory)."""
        self.state["seq"] = record.seq
        if record.start_s is not None:
            self.state["last_start_s"] = record.start_s

    def begin(self, record, board_id, board_name, program_names):
        """The start press, before the session starts: persist the state and
        the open session."""
        self.save_state()
        self.progress(record, board_id, board_name, program_names)

    def progress(self, record, board_id, board_name, program_names):
        line = encode(record.as_dict(board_id, board_name, program_names))
        if self._room(len(line) * 2):
            write_atomic(self.path(CURRENT), line)

    def end(self, record, board_id, board_name, program_names):
        self._append(encode(record.as_dict(board_id, board_name, program_names)))
        try:
            os.remove(self.path(CURRENT))
        except OSError:
            pass
        self.save_state()

    def _append(self, line):
        if self._size(LOG) + len(line) > self.max_bytes and self._size(LOG):
            os.rename(self.path(LOG), self.path(OLD_LOG))
        if not self._room(len(line) + 1):
            self.skipped += 1
            return False
        size = self._size(LOG)
        with open(self.path(LOG), "a") as f:
            if size and not self._ends_with_newline(size):
                f.write("\n")                   # a torn last line stays one bad line, not two
            f.write(line)
        return True

    def _ends_with_newline(self, size):
        with open(self.path(LOG), "rb") as f:
            f.seek(size - 1)
            return f.read(1) == b"\n"

    def records(self):
        """Every intact record, oldest first (for the board's own use and tests)."""
        out = []
        for name in (OLD_LOG, LOG):
            text = read_text(self.path(name))
            if text:
                for line in text.splitlines(True):
                    rec = decode(line)
                    if rec is not None:
                        out.append(rec)
        return out
