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
- notes.log: what the phone adds to a session (volume per breast, a note),
  one note record per line, the same format; kept the same way in
  NOTES_MAX_BYTES with notes.1.log.
"""
import os

from hw.store import free_bytes, remove, write_atomic
from pump.record import decode, encode

LOG = "sessions.log"
OLD_LOG = "sessions.1.log"
NOTES = "notes.log"                 # the phone's notes (volumes, a remark), the same line format
OLD_NOTES = "notes.1.log"
NOTES_MAX_BYTES = 8192
CURRENT = "session.cur"
STATE = "state.json"
LINE_PIECE = 512                    # bytes read at a time: never a large block of a fragmented heap
LINE_LIMIT = 4096                   # a longer line fails its CRC anyway: skipped without being kept


def each_record(path):
    """The intact records of a log file, one at a time (torn or damaged lines
    are skipped). A line is read in pieces of LINE_PIECE bytes, so that
    reading needs no block larger than that (a Pico's heap after boot has
    plenty of room but few large free runs), and one longer than LINE_LIMIT
    is skipped without being kept. A file that is missing, a folder, or
    fails to read gives what it gave up to there."""
    try:
        f = open(path, "rb")
    except OSError:
        return
    try:
        while True:
            line = f.readline(LINE_PIECE)
            if not line:
                break
            if line[-1:] != b"\n":
                parts = [line]
                n = len(line)
                while line and line[-1:] != b"\n":
                    line = f.readline(LINE_PIECE)
                    n += len(line)
                    if n <= LINE_LIMIT:
                        parts.append(line)
                if n > LINE_LIMIT:
                    continue
                line = b"".join(parts)
            rec = decode(line)
            if isinstance(rec, dict):
                yield rec
    except OSError:
        return
    finally:
        f.close()


class SessionLog:
    def __init__(self, root="", max_bytes=16384, min_free=16384):
        self.root = root
        self.max_bytes = max_bytes
        self.min_free = min_free
        self.state = {"boots": 0, "seq": 0, "last_start_s": None, "power_left": 0, "power_last_s": None,
                      "levels": 0}
        self.skipped = 0                  # records not written for lack of space
        self.failed = 0                   # writes the flash refused (OSError): the record is lost, pumping goes on
        self.damage = None                # why state.json was not used at load_state(), or None

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
            remove(self.path(OLD_LOG))
            return free_bytes(self.root or "/") - n >= self.min_free
        return False

    def _safely(self, write, *args):
        """A write the flash refuses (OSError: a folder in the way, a full
        or failing flash) loses that record, never the pumping: the control
        loop must not die of a log."""
        try:
            write(*args)
        except OSError as e:
            self.failed += 1
            print("session log: write failed (error %s); the pump goes on" % (e.args[0] if e.args else "?"))

    def save_state(self):
        self._safely(self._save_state)

    def _save_state(self):
        import json
        text = json.dumps(self.state)
        if self._room(len(text) * 2):
            write_atomic(self.path(STATE), text)

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
        self._safely(self._progress, record, board_id, board_name, program_names)

    def _progress(self, record, board_id, board_name, program_names):
        line = encode(record.as_dict(board_id, board_name, program_names))
        if self._room(len(line) * 2):
            write_atomic(self.path(CURRENT), line)

    def end(self, record, board_id, board_name, program_names):
        self._safely(self._append, encode(record.as_dict(board_id, board_name, program_names)))
        remove(self.path(CURRENT))
        self.save_state()

    def notes(self, lines):
        """Append the phone's note lines to notes.log (one write)."""
        self._safely(self._append, "".join(lines), NOTES, OLD_NOTES, NOTES_MAX_BYTES)

    def _append(self, line, name=LOG, old=OLD_LOG, max_bytes=0):
        max_bytes = max_bytes or self.max_bytes
        if self._size(name) + len(line) > max_bytes and self._size(name):
            os.rename(self.path(name), self.path(old))
        if not self._room(len(line) + 1):
            self.skipped += 1
            return False
        size = self._size(name)
        with open(self.path(name), "a") as f:
            if size and not self._ends_with_newline(name, size):
                f.write("\n")                   # a torn last line stays one bad line, not two
            f.write(line)
        return True

    def _ends_with_newline(self, name, size):
        with open(self.path(name), "rb") as f:
            f.seek(size - 1)
            return f.read(1) == b"\n"

    # -- boot time only (hw/logboot.py, released after boot with the loaders) --
    def load_state(self):
        """Read state.json into `state`; `damage` says why a file was not
        used (hw/logboot.py)."""
        from hw.logboot import load_state
        return load_state(self)

    def boot(self, board_id, board_name, program_names):
        """Load the state, count the boot, close a session a power cut
        interrupted; returns that session's record (a dict) or None.
        Whatever is on the flash, this returns (hw/logboot.py)."""
        from hw.logboot import boot
        return boot(self)

    def records(self):
        """Every intact record, oldest first (hw/logboot.py)."""
        from hw.logboot import records
        return records(self)
