"""Read the board's session log: one record per line, the record's JSON
text, a tab, its CRC-32 as 8 lowercase hex digits, and a newline
(docs/session-log.md is the contract).

A line without its newline, with a bad CRC or with unparsable JSON is torn
(a power cut during a write): it is skipped and reported, and every other
line is kept. A record whose `v` is not 1 is refused, naming the version.
A record that passes its CRC but breaks the record format (a missing key, a
wrong type) is refused the same way, naming the key.

One extension beyond the contract: when a torn line is followed, on the
same line, by a complete record with its own CRC (the board appended the
next record after a write cut short, without starting a new line), that
record is kept and the torn part before it is reported. CRC-32 makes a
false match vanishingly unlikely.
"""
import binascii
import json
import re
from datetime import datetime

VERSION = 1
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
END_REASONS = ("stop", "auto_off", "fault", "pause_timeout", "power_cut")
SCHEDULE_STATES = ("none", "early", "due", "missed")
PROGRAMS = ("standard", "power", "catch_up")

# Kinds of problems, for callers that count them.
TORN = "torn"              # no newline, bad CRC, not JSON, no CRC field, empty line
VERSION_REFUSED = "version"
INVALID = "invalid"        # intact line, but not a version-1 record
IN_PROGRESS = "in_progress"  # "end": null: the session.cur of a session still running

_HEX8 = re.compile(rb"[0-9a-f]{8}\Z")
_MAX_RECOVERY_TRIES = 200


class Record:
    """One intact version-1 record: `data` is the parsed object, `text` its
    JSON text exactly as the board wrote it, `where` "file:line"."""
    __slots__ = ("data", "text", "crc", "path", "line")

    def __init__(self, data, text, crc, path, line):
        self.data = data
        self.text = text
        self.crc = crc
        self.path = path
        self.line = line

    @property
    def key(self):
        return (self.data["board"], self.data["seq"])

    @property
    def is_note(self):
        return self.data.get("kind") == "note"

    @property
    def where(self):
        return "%s:%d" % (self.path, self.line)


class Problem:
    """A line that was skipped (or partly skipped), and why."""
    __slots__ = ("path", "line", "kind", "reason")

    def __init__(self, path, line, kind, reason):
        self.path = path
        self.line = line
        self.kind = kind
        self.reason = reason

    def __str__(self):
        return "%s:%d: %s" % (self.path, self.line, self.reason)

    __repr__ = __str__


def crc_hex(data):
    """The CRC-32 (zlib/binascii polynomial) of `data` as 8 lowercase hex digits."""
    return "%08x" % (binascii.crc32(data) & 0xFFFFFFFF)


def encode(record):
    """One log line for `record` (a dict), as the board writes it."""
    text = json.dumps(record).encode("utf-8")
    return text + b"\t" + crc_hex(text).encode("ascii") + b"\n"


# -- the record's fields ---------------------------------------------------------

# The firmware's integers are MicroPython small ints (31 bits on a Pico): a
# larger one in a record is damage, and SQLite could not store it anyway.
MAX_INT = 2 ** 31 - 1


def _is_int(x, lo=None):
    return type(x) is int and (lo is None or x >= lo) and -MAX_INT - 1 <= x <= MAX_INT


def _is_num(x):
    return type(x) in (int, float) and x >= 0


def _check_start(x):
    if x is None:
        return None
    if not isinstance(x, str):
        return "expected a \"YYYY-MM-DDTHH:MM:SS\" string or null, got %s" % _show(x)
    try:
        datetime.strptime(x, TIME_FORMAT)
    except ValueError:
        return "expected \"YYYY-MM-DDTHH:MM:SS\" or null, got %s" % _show(x)
    return None


def _check_obj(check, what):
    def f(x):
        if not isinstance(x, dict):
            return "expected an object, got %s" % _show(x)
        for k, val in x.items():
            if not check(val):
                plain = k and all(c.isascii() and (c.isalnum() or c == "_") for c in k)
                return "%s: expected %s, got %s" % (k if plain else _show(k), what, _show(val))     # one line
        return None
    return f


def _simple(check, what):
    def f(x):
        return None if check(x) else "expected %s, got %s" % (what, _show(x))
    return f


# key -> function returning None or what is wrong. Every key is always
# present in version 1 (the contract's table).
FIELDS = {
    "v": _simple(lambda x: x == VERSION, "1"),
    "board": _simple(lambda x: isinstance(x, str) and x != "", "a non-empty string"),
    "board_name": _simple(lambda x: isinstance(x, str), "a string"),
    "seq": _simple(lambda x: _is_int(x, 1), "an integer from 1 to 2147483647"),
    "boot": _simple(lambda x: _is_int(x, 0), "an integer from 0 to 2147483647"),
    "start": _check_start,
    "uptime_s": _simple(lambda x: _is_int(x, 0), "an integer from 0 to 2147483647"),
    "duration_s": _simple(lambda x: _is_int(x, 0), "an integer from 0 to 2147483647"),
    "duration_at_least": _simple(lambda x: type(x) is bool, "true or false"),
    "program": _simple(lambda x: isinstance(x, str) and x != "", "a non-empty string"),
    "mode_s": _check_obj(_is_num, "a number >= 0"),
    "levels": _check_obj(lambda v: isinstance(v, list) and all(_is_int(i) for i in v), "a list of small integers"),
    "peak_mmhg": _check_obj(_is_num, "a number >= 0"),
    "faults": _simple(lambda x: isinstance(x, list) and all(isinstance(i, str) for i in x), "a list of strings"),
    "end": _simple(lambda x: isinstance(x, str) and x != "", "a non-empty string"),
    "schedule": _simple(lambda x: isinstance(x, str) and x != "", "a non-empty string"),
}


def _show(x):
    s = json.dumps(x)
    return s if len(s) <= 40 else s[:37] + "..."


MAX_NOTE_ML = 2000
MAX_NOTE_CHARS = 200


def _ml_or_null(x):
    if x is None:
        return None
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not 0 <= x <= MAX_NOTE_ML:
        return "%s is not null or a number of mL in 0-%d" % (_show(x), MAX_NOTE_ML)
    return None


def check_note(obj):
    """(kind, reason) for a note record (notes.log, the phone's volumes and
    remark for a session) that cannot be imported, or None."""
    missing = [k for k in ("board", "seq", "left_ml", "right_ml", "note") if k not in obj]
    if missing:
        return INVALID, "note: missing fields: " + ", ".join(missing)
    if not isinstance(obj["board"], str) or not obj["board"]:
        return INVALID, "note: field board: %s is not a board id" % _show(obj["board"])
    if type(obj["seq"]) is not int or obj["seq"] < 1:
        return INVALID, "note: field seq: %s is not a session number" % _show(obj["seq"])
    for k in ("left_ml", "right_ml"):
        why = _ml_or_null(obj[k])
        if why:
            return INVALID, "note: field %s: %s" % (k, why)
    n = obj["note"]
    if n is not None and (not isinstance(n, str) or len(n) > MAX_NOTE_CHARS):
        return INVALID, "note: field note: %s is not null or text of at most %d characters" % (
            _show(n), MAX_NOTE_CHARS)
    if obj["left_ml"] is None and obj["right_ml"] is None and n is None:
        return INVALID, "note: nothing in it (no volume, no note)"
    return None


def check_record(obj):
    """(kind, reason) for a parsed record that cannot be imported, or None.
    A note record ("kind": "note", notes.log) is checked by check_note."""
    if not isinstance(obj, dict):
        return INVALID, "not a record: the JSON is not an object"
    if "v" not in obj:
        return INVALID, "missing fields: v"
    v = obj["v"]
    if v != VERSION or type(v) is not int:
        return VERSION_REFUSED, "record version %s is not supported (this tool reads %d)" % (_show(v), VERSION)
    if "kind" in obj:
        if obj["kind"] == "note":
            return check_note(obj)
        return INVALID, "unknown record kind %s" % _show(obj["kind"])
    missing = [k for k in FIELDS if k not in obj]
    if missing:
        return INVALID, "missing fields: " + ", ".join(missing)
    if obj["end"] is None:
        return IN_PROGRESS, ("session %s still in progress (\"end\": null, as in session.cur): not imported; "
                             "the board writes its record when it ends" % _show(obj["seq"]))
    for k, check in FIELDS.items():
        why = check(obj[k])
        if why:
            return INVALID, "field %s: %s" % (k, why)
    return None


# -- lines -------------------------------------------------------------------------

def _split(line):
    """(json bytes, crc text) if the line's CRC matches, else (None, reason)."""
    tab = line.rfind(b"\t")
    if tab < 0:
        return None, "no tab and CRC after the JSON"
    body, crc = line[:tab], line[tab + 1:]
    if not _HEX8.match(crc):
        return None, "the CRC field is not 8 lowercase hex digits (%s)" % _show(crc.decode("utf-8", "replace"))
    real = crc_hex(body)
    if real != crc.decode("ascii"):
        return None, "bad CRC (the line says %s, its JSON gives %s)" % (crc.decode("ascii"), real)
    return body, real


def _record(body, crc, path, n):
    """(Record, None) or (None, (kind, reason)) for a line whose CRC matched."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None, (INVALID, "the CRC matches but the text is not UTF-8")
    try:
        obj = json.loads(text)
    except ValueError as e:
        return None, (TORN, "not JSON (%s)" % e.args[0].split(":")[0])
    bad = check_record(obj)
    if bad:
        return None, bad
    return Record(obj, text, crc, path, n), None


def _recover(line):
    """A complete record at the end of a torn line: (offset, body, crc) or None."""
    tries = 0
    pos = line.find(b"{", 1)
    while pos > 0 and tries < _MAX_RECOVERY_TRIES:
        tries += 1
        body, crc = _split(line[pos:])
        if body is not None:
            return pos, body, crc
        pos = line.find(b"{", pos + 1)
    return None


def parse_bytes(data, path="sessions.log"):
    """Every intact record of a log file's bytes, and every problem.
    Returns (records, problems), both in file order."""
    records, problems = [], []
    lines = data.split(b"\n")
    tail = lines.pop()        # what follows the last newline: b"" for a whole file
    for i, line in enumerate(lines, 1):
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line.strip():
            problems.append(Problem(path, i, TORN, "empty line"))
            continue
        body, crc = _split(line)
        if body is None:
            why = crc
            found = _recover(line)
            if found is None:
                problems.append(Problem(path, i, TORN, "torn line: " + why))
                continue
            pos, body, crc = found
            problems.append(Problem(path, i, TORN, "torn line: its first %d bytes are a record cut short (%s); "
                                    "the complete record after them was kept" % (pos, why)))
        rec, bad = _record(body, crc, path, i)
        if bad:
            kind, reason = bad
            problems.append(Problem(path, i, kind, ("torn line: " + reason) if kind == TORN else reason))
        else:
            records.append(rec)
    if tail:
        n = len(lines) + 1
        body, _ = _split(tail.rstrip(b"\r"))
        why = ("torn line: no newline at the end (the write was cut short, e.g. by a power cut)"
               if body is None else
               "torn line: no newline at the end; the record's CRC matches, but a line without its newline "
               "counts as torn (contract) and is skipped")
        problems.append(Problem(path, n, TORN, why))
    return records, problems


def parse_file(path, display=None):
    """parse_bytes on a file. Raises OSError when it cannot be read."""
    with open(path, "rb") as f:
        data = f.read()
    return parse_bytes(data, display or path)


def start_time(data):
    """The record's `start` as a datetime, or None when the clock was unset."""
    s = data.get("start")
    return datetime.strptime(s, TIME_FORMAT) if s else None
