"""The session history in SQLite, and the history as Python objects.

A board record is keyed by (board, seq) and kept exactly as the board wrote
it (its JSON text and CRC); importing it again adds nothing, and a record
seen again with different content is reported and kept aside in
`conflicts`, never written over the first one. What the pump cannot
measure (volume, a note) lives in `entries`, keyed the same way, so it can
be entered before or after the log is imported. Sessions entered by hand
have board "manual" and their own numbers 1, 2, ...
"""
import json
import os
import sqlite3
from datetime import datetime, timedelta

from tools.sessions import logfile

SCHEMA_VERSION = 1
MANUAL = "manual"
MAX_VOLUME_ML = 2000

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- One row per session: a board record (manual = 0) or a session entered by hand (manual = 1).
CREATE TABLE IF NOT EXISTS sessions (
    board             TEXT    NOT NULL,  -- hex of machine.unique_id(); 'manual' for hand-entered sessions
    seq               INTEGER NOT NULL,  -- session number on that board, from 1, never reused
    manual            INTEGER NOT NULL DEFAULT 0,
    board_name        TEXT    NOT NULL,
    boot              INTEGER,           -- boot counter at the start (NULL for manual)
    start             TEXT,              -- 'YYYY-MM-DDTHH:MM:SS' board local time; NULL = clock unset
    uptime_s          INTEGER,           -- seconds since boot at the start (NULL for manual)
    duration_s        INTEGER NOT NULL,
    duration_at_least INTEGER NOT NULL,  -- 1: the end was not seen (power cut)
    program           TEXT    NOT NULL,
    end_reason        TEXT    NOT NULL,  -- the record's `end`
    schedule          TEXT    NOT NULL,  -- schedule state at the start: none, early, due, missed
    faults            TEXT    NOT NULL,  -- JSON list of fault codes, in order
    record            TEXT,              -- the record's JSON text exactly as on the board (NULL for manual)
    crc               TEXT,              -- its CRC-32 as on the board
    source            TEXT    NOT NULL,  -- file:line it was first imported from, or 'add'
    imported_at       TEXT    NOT NULL,
    PRIMARY KEY (board, seq)
);
-- What the pump cannot measure, entered with `add`.
CREATE TABLE IF NOT EXISTS entries (
    board      TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    volume_ml  REAL,                      -- 0-2000 mL, NULL = not entered
    note       TEXT,
    updated_at TEXT    NOT NULL,
    PRIMARY KEY (board, seq)
);
-- A record seen again with other content than the one imported first.
CREATE TABLE IF NOT EXISTS conflicts (
    board   TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    record  TEXT    NOT NULL,
    source  TEXT    NOT NULL,
    seen_at TEXT    NOT NULL,
    UNIQUE (board, seq, record)
);
"""


class StoreError(Exception):
    pass


def _now_text():
    return datetime.now().replace(microsecond=0).isoformat()


class ImportResult:
    def __init__(self):
        self.new = []        # Records added
        self.known = []      # Records already in the history, same content
        self.conflicts = []  # (Record, [keys that differ])


class Session:
    """One session of the history, with where it sits in time.

    when: the start as a datetime (from the board's clock, from its uptime
    next to a record of the same boot that has a clock time, or typed in by
    hand), or None: time unknown. when_from: "clock", "uptime", "manual" or
    None. between: for a time-unknown session, the known starts of the
    sessions before and after it on the same board (either may be None).
    """

    def __init__(self, row, volume_ml=None, note=None):
        self.board = row["board"]
        self.seq = row["seq"]
        self.manual = bool(row["manual"])
        self.board_name = row["board_name"]
        self.boot = row["boot"]
        self.start = datetime.strptime(row["start"], logfile.TIME_FORMAT) if row["start"] else None
        self.uptime_s = row["uptime_s"]
        self.duration_s = row["duration_s"]
        self.duration_at_least = bool(row["duration_at_least"])
        self.program = row["program"]
        self.end = row["end_reason"]
        self.schedule = row["schedule"]
        self.faults = json.loads(row["faults"])
        self.record = json.loads(row["record"]) if row["record"] else None
        self.volume_ml = volume_ml
        self.note = note
        self.when = self.start
        self.when_from = ("manual" if self.manual else "clock") if self.start else None
        self.between = (None, None)

    @property
    def label(self):
        if self.manual:
            return "manual #%d" % self.seq
        return "%s #%d" % (self.board_name or self.board, self.seq)

    def __repr__(self):
        return "<Session %s %s %s>" % (self.label, self.when, self.program)


class Store:
    def __init__(self, path):
        self.path = path
        try:
            self.db = sqlite3.connect(path)
            self.db.row_factory = sqlite3.Row
            self.db.executescript(SCHEMA)
            row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                with self.db:
                    self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif row["value"] != str(SCHEMA_VERSION):
                raise StoreError("%s has schema version %s; this tool reads %d" % (path, row["value"],
                                                                                    SCHEMA_VERSION))
        except sqlite3.DatabaseError as e:
            raise StoreError("%s is not a session database (%s)" % (path, e))

    def close(self):
        self.db.close()

    # -- import ----------------------------------------------------------------
    def import_records(self, records):
        """Add the records not yet known. Idempotent; one transaction."""
        res = ImportResult()
        now = _now_text()
        with self.db:
            for rec in records:
                d = rec.data
                row = self.db.execute("SELECT record FROM sessions WHERE board = ? AND seq = ?",
                                      (d["board"], d["seq"])).fetchone()
                if row is not None:
                    old = json.loads(row["record"]) if row["record"] else {}
                    if old == d:
                        res.known.append(rec)
                    else:
                        keys = sorted(k for k in set(old) | set(d) if old.get(k) != d.get(k))
                        res.conflicts.append((rec, keys))
                        self.db.execute("INSERT OR IGNORE INTO conflicts VALUES (?, ?, ?, ?, ?)",
                                        (d["board"], d["seq"], rec.text, rec.where, now))
                    continue
                self.db.execute(
                    "INSERT INTO sessions VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (d["board"], d["seq"], d["board_name"], d["boot"], d["start"], d["uptime_s"],
                     d["duration_s"], int(d["duration_at_least"]), d["program"], d["end"], d["schedule"],
                     json.dumps(d["faults"]), rec.text, rec.crc, rec.where, now))
                res.new.append(rec)
        return res

    # -- what the pump cannot measure -----------------------------------------
    def boards(self):
        """[(board, board_name)] of the boards with records, in id order."""
        return [(r["board"], r["board_name"]) for r in self.db.execute(
            "SELECT board, MAX(board_name) AS board_name FROM sessions WHERE manual = 0 "
            "GROUP BY board ORDER BY board")]

    def has_session(self, board, seq):
        return self.db.execute("SELECT 1 FROM sessions WHERE board = ? AND seq = ?",
                               (board, seq)).fetchone() is not None

    def entry(self, board, seq):
        row = self.db.execute("SELECT volume_ml, note FROM entries WHERE board = ? AND seq = ?",
                              (board, seq)).fetchone()
        return (row["volume_ml"], row["note"]) if row else (None, None)

    def set_entry(self, board, seq, volume_ml=None, note=None, set_volume=False, set_note=False):
        """Set the volume and/or the note of (board, seq). Returns the old (volume, note)."""
        if set_volume and volume_ml is not None and not (0 <= volume_ml <= MAX_VOLUME_ML):
            raise StoreError("volume %g mL is outside 0-%d mL" % (volume_ml, MAX_VOLUME_ML))
        old = self.entry(board, seq)
        vol = volume_ml if set_volume else old[0]
        txt = note if set_note else old[1]
        if txt == "":
            txt = None
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?)",
                            (board, seq, vol, txt, _now_text()))
        return old

    def add_manual(self, start, duration_s=0, program=MANUAL, volume_ml=None, note=None):
        """A session pumped without a record (by hand, another pump). Returns its number."""
        if volume_ml is not None and not (0 <= volume_ml <= MAX_VOLUME_ML):
            raise StoreError("volume %g mL is outside 0-%d mL" % (volume_ml, MAX_VOLUME_ML))
        row = self.db.execute("SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM sessions WHERE board = ?",
                              (MANUAL,)).fetchone()
        seq = row["n"]
        now = _now_text()
        with self.db:
            self.db.execute(
                "INSERT INTO sessions VALUES (?, ?, 1, ?, NULL, ?, NULL, ?, 0, ?, 'manual', 'none', '[]', "
                "NULL, NULL, 'add', ?)",
                (MANUAL, seq, MANUAL, start.strftime(logfile.TIME_FORMAT), int(duration_s), program, now))
            if volume_ml is not None or note:
                self.db.execute("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?)",
                                (MANUAL, seq, volume_ml, note or None, now))
        return seq

    def conflict_count(self):
        return self.db.execute("SELECT COUNT(*) FROM conflicts").fetchone()[0]

    # -- the history -------------------------------------------------------------
    def sessions(self):
        """Every session with its volume and note, placed in time (place_times)."""
        entries = {(r["board"], r["seq"]): (r["volume_ml"], r["note"])
                   for r in self.db.execute("SELECT * FROM entries")}
        out = []
        for row in self.db.execute("SELECT * FROM sessions ORDER BY board, seq"):
            vol, note = entries.get((row["board"], row["seq"]), (None, None))
            out.append(Session(row, vol, note))
        place_times(out)
        return out

    def orphan_entries(self):
        """Entries for sessions not imported (yet): [(board, seq, volume, note)]."""
        return [(r["board"], r["seq"], r["volume_ml"], r["note"]) for r in self.db.execute(
            "SELECT e.* FROM entries e LEFT JOIN sessions s ON s.board = e.board AND s.seq = e.seq "
            "WHERE s.board IS NULL ORDER BY e.board, e.seq")]


def place_times(sessions):
    """Give a start to records whose clock was unset, from their uptime next
    to a record of the same board and boot that has a clock time:
    start = that record's start + (uptime difference). The nearest such
    record (by session number) is used, and only when the order agrees (a
    later session has a larger uptime). Otherwise the time stays unknown and
    `between` gets the known starts of the sessions around it."""
    by_board = {}
    for s in sessions:
        if not s.manual:
            by_board.setdefault(s.board, []).append(s)
    for recs in by_board.values():
        recs.sort(key=lambda s: s.seq)
        for s in recs:
            if s.start is not None or s.uptime_s is None:
                continue
            refs = [r for r in recs if r.boot == s.boot and r.start is not None and r.uptime_s is not None]
            refs.sort(key=lambda r: abs(r.seq - s.seq))
            for r in refs:
                diff = s.uptime_s - r.uptime_s
                if (s.seq > r.seq and diff >= r.duration_s) or (s.seq < r.seq and -diff >= s.duration_s):
                    s.when = r.start + timedelta(seconds=diff)
                    s.when_from = "uptime"
                    break
        for i, s in enumerate(recs):
            if s.when is None:
                before = [r.when for r in recs[:i] if r.when is not None]
                after = [r.when for r in recs[i + 1:] if r.when is not None]
                s.between = (before[-1] if before else None, after[0] if after else None)
    return sessions


def open_store(path):
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise StoreError("no folder %s for the database" % folder)
    return Store(path)
