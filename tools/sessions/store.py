"""The session history in SQLite, and the history as Python objects.

A board record is keyed by (board, seq) and kept exactly as the board wrote
it (its JSON text and CRC); importing it again adds nothing, and a record
seen again with different content is reported and kept aside in
`conflicts`, never written over the first one. What the pump cannot
measure (volume, a note) lives in `entries`, keyed the same way, so it can
be entered before or after the log is imported. Sessions entered by hand
have board "manual" and their own numbers 1, 2, ...

Schema versions: 1 (the first); 2 adds `entries.left_ml` / `right_ml`
(volume per breast) and the table `exports` (what was sent where, so an
export to Baby Buddy sends each session once). A version-1 database is
migrated in place when it is opened (its data kept); a newer one is refused.
"""
import json
import os
import sqlite3
from datetime import datetime, timedelta

from tools.sessions import logfile

SCHEMA_VERSION = 2
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
    volume_ml  REAL,                      -- 0-2000 mL, NULL = not entered; left + right when both are
    note       TEXT,
    updated_at TEXT    NOT NULL,
    left_ml    REAL,                      -- per breast, 0-2000 mL, NULL = not entered (schema 2)
    right_ml   REAL,
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
-- When a boot of a board began, in host time: `make logs` reads the board's
-- boot count and uptime and takes its own clock's time minus the uptime. It
-- places the records of that boot that have no clock time (start NULL).
CREATE TABLE IF NOT EXISTS boots (
    board      TEXT    NOT NULL,
    boot       INTEGER NOT NULL,
    started    TEXT    NOT NULL,          -- 'YYYY-MM-DDTHH:MM:SS' host local time
    seen_at    TEXT    NOT NULL,
    PRIMARY KEY (board, boot)
);
-- The phone's notes read from the board's notes.log, each applied to
-- `entries` once: importing the file again changes nothing (and does not
-- undo a later `add`).
CREATE TABLE IF NOT EXISTS board_notes (
    board       TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    record      TEXT    NOT NULL,          -- the note's JSON text as on the board
    source      TEXT    NOT NULL,
    imported_at TEXT    NOT NULL,
    UNIQUE (board, record)
);
-- What was sent where (schema 2): one row per session and target (the
-- Baby Buddy endpoint URL), with the id the target gave it, so exporting
-- again sends only the sessions not sent yet.
CREATE TABLE IF NOT EXISTS exports (
    board      TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    target     TEXT    NOT NULL,          -- e.g. 'https://baby.example/api/pumping/'
    remote_id  TEXT,                      -- the id in the answer
    child      INTEGER,
    amount     REAL,                      -- the volume sent (mL)
    sent_at    TEXT    NOT NULL,
    PRIMARY KEY (board, seq, target)
);
"""

# Columns a version-1 database lacks, added by the migration 1 -> 2.
_V2_COLUMNS = (("entries", "left_ml", "REAL"), ("entries", "right_ml", "REAL"))


class StoreError(Exception):
    pass


class VolumeError(StoreError):
    """Volumes that cannot be stored together (out of range, or a total
    that left + right do not add up to). The message is one line."""


VOLUME_TOLERANCE_ML = 0.01    # typed decimals: 60.1 + 45.2 is 105.3 give or take a float's last bit


def _ml(v):
    return "%g mL" % v


def check_ml(what, v):
    """A volume of one session (total or one breast): a finite number in
    0-MAX_VOLUME_ML. Raises VolumeError naming `what`."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v in (float("inf"), float("-inf")):
        raise VolumeError("%s %r is not a number of mL" % (what, v))
    if not 0 <= v <= MAX_VOLUME_ML:
        raise VolumeError("%s %g mL is outside 0-%d mL" % (what, v, MAX_VOLUME_ML))


def combine_volumes(old, total=None, left=None, right=None):
    """The volumes of a session after `add` gives some of them.

    old: {"volume_ml", "left_ml", "right_ml"} as stored (missing = None).
    A side not given keeps its stored value. With a total given: both sides
    known must add up to it, one side known gives the other as the rest.
    Without a total but with a side given: the total is the sum of the
    sides known (one side alone: that side; the other is not entered).
    Nothing given: as stored. Returns the same keys; raises VolumeError."""
    for what, v in (("the total", total), ("left", left), ("right", right)):
        if v is not None:
            check_ml(what, v)
    l = left if left is not None else old.get("left_ml")
    r = right if right is not None else old.get("right_ml")
    if total is not None:
        if l is not None and r is not None:
            if abs(l + r - total) > VOLUME_TOLERANCE_ML:
                where = "" if left is not None and right is not None else " (as entered before)"
                raise VolumeError("left %s + right %s%s = %s, but the total is %s: give values that agree, or the "
                                  "sides alone (the total follows them)" % (_ml(l), _ml(r), where, _ml(l + r),
                                                                             _ml(total)))
        elif l is not None or r is not None:
            side, known = ("left", l) if l is not None else ("right", r)
            if known > total + VOLUME_TOLERANCE_ML:
                raise VolumeError("%s %s is more than the total %s" % (side, _ml(known), _ml(total)))
            rest = round(max(0.0, total - known), 2)
            l, r = (known, rest) if side == "left" else (rest, known)
        t = total
    elif left is not None or right is not None:
        t = round((l or 0) + (r or 0), 2)
    else:
        t = old.get("volume_ml")
    if t is not None and t > MAX_VOLUME_ML + VOLUME_TOLERANCE_ML:
        raise VolumeError("left %s + right %s = %s is more than %d mL for one session" % (
            _ml(l or 0), _ml(r or 0), _ml(t), MAX_VOLUME_ML))
    return {"volume_ml": t, "left_ml": l, "right_ml": r}


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
    volume_ml is the session's total; left_ml / right_ml the volume per
    breast where entered (None otherwise).
    """

    def __init__(self, row, volume_ml=None, note=None, left_ml=None, right_ml=None):
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
        self.volume_ml = volume_ml      # the total: left + right when both were entered
        self.left_ml = left_ml
        self.right_ml = right_ml
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
            version = self._version()          # before anything is written: a newer database stays as it is
            self.db.executescript(SCHEMA)
            if version is None:
                with self.db:
                    self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif version < SCHEMA_VERSION:
                self._migrate()
        except sqlite3.DatabaseError as e:
            raise StoreError("%s is not a session database (%s)" % (path, e))

    def _version(self):
        """The database's schema version (int), or None for a new one.
        Raises StoreError for a version this tool cannot read."""
        has_meta = self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
        row = has_meta and self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if not row:
            return None
        text = row["value"]
        if not (isinstance(text, str) and text.isdigit() and 1 <= int(text) <= SCHEMA_VERSION):
            raise StoreError("%s has schema version %s; this tool reads %d" % (self.path, text, SCHEMA_VERSION))
        return int(text)

    def _migrate(self):
        """Bring an older database to SCHEMA_VERSION in place, keeping its
        data, in one transaction (a second process opening it at the same
        time waits, then finds it done). 1 -> 2: the per-breast columns of
        `entries` (`exports` is made by SCHEMA)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if self._version() < SCHEMA_VERSION:
                for table, column, kind in _V2_COLUMNS:
                    have = [r["name"] for r in self.db.execute("PRAGMA table_info(%s)" % table)]
                    if column not in have:
                        self.db.execute("ALTER TABLE %s ADD COLUMN %s %s" % (table, column, kind))
                self.db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise

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

    def import_notes(self, notes):
        """Apply the phone's note records (notes.log) not applied before, in
        order: the sides and the note they give, as `add --left-ml --right-ml
        --note` would. Returns (applied, known, refused): refused holds
        (record, reason) for volumes that cannot be stored."""
        applied, known, refused = [], [], []
        now = _now_text()
        for rec in notes:
            d = rec.data
            row = self.db.execute("SELECT 1 FROM board_notes WHERE board = ? AND record = ?",
                                  (d["board"], rec.text)).fetchone()
            if row is not None:
                known.append(rec)
                continue
            try:
                old = self.entry_row(d["board"], d["seq"])
                new = combine_volumes(old, None, d["left_ml"], d["right_ml"])
            except VolumeError as e:
                refused.append((rec, str(e)))
                continue
            note = d["note"] if d["note"] is not None else old["note"]
            with self.db:
                self._write_entry(d["board"], d["seq"], new, note, now)
                self.db.execute("INSERT INTO board_notes VALUES (?, ?, ?, ?, ?)",
                                (d["board"], d["seq"], rec.text, rec.where, now))
            applied.append(rec)
        return applied, known, refused

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
        row = self.entry_row(board, seq)
        return row["volume_ml"], row["note"]

    def entry_row(self, board, seq):
        """{"volume_ml", "left_ml", "right_ml", "note"} of (board, seq), None where not entered."""
        row = self.db.execute("SELECT volume_ml, left_ml, right_ml, note FROM entries WHERE board = ? AND seq = ?",
                              (board, seq)).fetchone()
        keys = ("volume_ml", "left_ml", "right_ml", "note")
        return {k: (row[k] if row else None) for k in keys}

    def _write_entry(self, board, seq, vols, note, now):
        self.db.execute("INSERT OR REPLACE INTO entries (board, seq, volume_ml, note, updated_at, left_ml, right_ml) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (board, seq, vols["volume_ml"], note or None, now, vols["left_ml"], vols["right_ml"]))

    def set_volumes(self, board, seq, total=None, left=None, right=None, note=None, set_note=False):
        """Set what `add` gives for (board, seq): volumes as combine_volumes
        says, and the note when set_note ("" clears it). Returns (old, new)
        entry_row dicts. Raises VolumeError, leaving the entry as it was."""
        old = self.entry_row(board, seq)
        new = combine_volumes(old, total, left, right)
        new["note"] = (note or None) if set_note else old["note"]
        with self.db:
            self._write_entry(board, seq, new, new["note"], _now_text())
        return old, new

    def set_entry(self, board, seq, volume_ml=None, note=None, set_volume=False, set_note=False):
        """Set the total volume and/or the note of (board, seq); a volume of
        None with set_volume clears the volumes. Returns the old (volume, note)."""
        old = self.entry_row(board, seq)
        if set_volume and volume_ml is None:
            vols = {"volume_ml": None, "left_ml": None, "right_ml": None}
        else:
            vols = combine_volumes(old, volume_ml if set_volume else None)
        txt = note if set_note else old["note"]
        with self.db:
            self._write_entry(board, seq, vols, txt, _now_text())
        return old["volume_ml"], old["note"]

    def add_manual(self, start, duration_s=0, program=MANUAL, volume_ml=None, note=None, left_ml=None,
                   right_ml=None):
        """A session pumped without a record (by hand, another pump). Returns its number."""
        vols = combine_volumes({}, volume_ml, left_ml, right_ml)
        row = self.db.execute("SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM sessions WHERE board = ?",
                              (MANUAL,)).fetchone()
        seq = row["n"]
        now = _now_text()
        with self.db:
            self.db.execute(
                "INSERT INTO sessions VALUES (?, ?, 1, ?, NULL, ?, NULL, ?, 0, ?, 'manual', 'none', '[]', "
                "NULL, NULL, 'add', ?)",
                (MANUAL, seq, MANUAL, start.strftime(logfile.TIME_FORMAT), int(duration_s), program, now))
            if vols["volume_ml"] is not None or note:
                self._write_entry(MANUAL, seq, vols, note, now)
        return seq

    def add_boot(self, board, boot, started):
        """Remember that `boot` of `board` began at `started` (datetime). The
        first anchor of a boot is kept: a later pull of the same boot only
        adds the time the board spent at its prompt to the error."""
        with self.db:
            self.db.execute("INSERT OR IGNORE INTO boots VALUES (?, ?, ?, ?)",
                            (board, boot, started.strftime(logfile.TIME_FORMAT), _now_text()))

    def boot_sessions(self, board, boot):
        """[{"uptime_s", "duration_s", "start"}] of the records of one boot
        of a board, as imported (start None: no clock time)."""
        return [dict(r) for r in self.db.execute(
            "SELECT uptime_s, duration_s, start FROM sessions WHERE board = ? AND boot = ?", (board, boot))]

    def boot_starts(self):
        return {(r["board"], r["boot"]): datetime.strptime(r["started"], logfile.TIME_FORMAT)
                for r in self.db.execute("SELECT * FROM boots")}

    def conflict_count(self):
        return self.db.execute("SELECT COUNT(*) FROM conflicts").fetchone()[0]

    # -- the history -------------------------------------------------------------
    def sessions(self):
        """Every session with its volume and note, placed in time (place_times)."""
        entries = {(r["board"], r["seq"]): (r["volume_ml"], r["note"], r["left_ml"], r["right_ml"])
                   for r in self.db.execute("SELECT * FROM entries")}
        out = []
        for row in self.db.execute("SELECT * FROM sessions ORDER BY board, seq"):
            vol, note, left, right = entries.get((row["board"], row["seq"]), (None, None, None, None))
            out.append(Session(row, vol, note, left, right))
        place_times(out, self.boot_starts())
        return out

    # -- exports -------------------------------------------------------------------
    def exported(self, target):
        """{(board, seq): {"remote_id", "amount", "child", "sent_at"}} of what was sent to `target`."""
        return {(r["board"], r["seq"]): {k: r[k] for k in ("remote_id", "amount", "child", "sent_at")}
                for r in self.db.execute("SELECT * FROM exports WHERE target = ?", (target,))}

    def record_export(self, board, seq, target, remote_id, child, amount):
        """Remember that (board, seq) was sent to `target` as `remote_id`; committed at once."""
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO exports VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (board, seq, target, None if remote_id is None else str(remote_id), child, amount,
                             _now_text()))

    def orphan_entries(self):
        """Entries for sessions not imported (yet): [(board, seq, volume, note)]."""
        return [(r["board"], r["seq"], r["volume_ml"], r["note"]) for r in self.db.execute(
            "SELECT e.* FROM entries e LEFT JOIN sessions s ON s.board = e.board AND s.seq = e.seq "
            "WHERE s.board IS NULL ORDER BY e.board, e.seq")]


def place_times(sessions, boot_starts=None):
    """Give a start to records whose clock was unset, from their uptime:
    with the start of their boot as `make logs` saw it (boot_starts:
    {(board, boot): datetime}), start = boot start + uptime; else next to
    a record of the same board and boot that has a clock time:
    start = that record's start + (uptime difference). The nearest such
    record (by session number) is used, and only when the order agrees (a
    later session has a larger uptime). Otherwise the time stays unknown and
    `between` gets the known starts of the sessions around it."""
    boot_starts = boot_starts or {}
    by_board = {}
    for s in sessions:
        if not s.manual:
            by_board.setdefault(s.board, []).append(s)
    for recs in by_board.values():
        recs.sort(key=lambda s: s.seq)
        for s in recs:
            if s.start is not None or s.uptime_s is None:
                continue
            began = boot_starts.get((s.board, s.boot))
            if began is not None:
                s.when = began + timedelta(seconds=s.uptime_s)
                s.when_from = "uptime"
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
