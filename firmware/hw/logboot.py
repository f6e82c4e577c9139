"""The session log at boot: read state.json, close a session a power cut
interrupted, and move damaged files out of the way (docs/session-log.md,
"Damaged files at boot"). Boot-only: app.release_boot_modules() drops it
with the loaders, so its bytecode does not stay on the heap of a board that
pumps for hours. Functions of a SessionLog `log` (hw/sessionlog.py).

Whatever is on the flash, nothing here raises: a file that is not whole,
valid and in range is set aside as NAME.bad (for `make logs`) and the
board counts on from its log; never a misread counter or record.
"""
import os

from hw.sessionlog import CURRENT, LOG, OLD_LOG, STATE, each_record
from hw.store import read_bytes, remove, set_aside
from pump.record import decode, encode

MAX_STATE = 16384
# state.json values: counters and times (seconds since 2000) as small
# non-negative ints; power_left a few days.
_TOP = {"boots": 1 << 30, "seq": 1 << 30, "last_start_s": 1 << 31, "power_left": 31, "power_last_s": 1 << 31,
        "levels": 1 << 12}


# The firmware's counters are small ints (31 bits on a Pico); the host's
# importer refuses a record with a larger one (tools/sessions/logfile.py).
_INT_TOP = 1 << 31


def _int(v):
    """v when it is an int (not a bool) below 2^31, else -1."""
    return v if isinstance(v, int) and not isinstance(v, bool) and v < _INT_TOP else -1


def _running(rec):
    """True for one whole record of a running session, as docs/session-log.md
    has it ("end": null): the only thing a session.cur may hold. Checked
    as the host's importer checks a record, so that the power-cut record
    made from it is never one the importer refuses."""
    if not isinstance(rec, dict):
        return False
    try:
        ok = _int(rec["v"]) == 1 and rec["end"] is None and _int(rec["seq"]) > 0 and isinstance(
            rec["duration_at_least"], bool) and isinstance(rec["board_name"], str) and isinstance(rec["faults"], list)
        for k in ("boot", "uptime_s", "duration_s"):
            ok = ok and _int(rec[k]) >= 0
        for k in ("board", "program", "schedule"):
            ok = ok and isinstance(rec[k], str) and rec[k] != ""
        for k in ("mode_s", "peak_mmhg", "levels"):
            for v in rec[k].values():
                if k == "levels":
                    ok = ok and isinstance(v, list)
                    for x in v:
                        ok = ok and _int(x) >= 0
                else:
                    ok = ok and not isinstance(v, bool) and isinstance(v, (int, float)) and 0 <= v < 1e9
        for f in rec["faults"]:
            ok = ok and isinstance(f, str)
        t = rec["start"]
        if ok and t is not None:
            from pump.record import iso, seconds_2000
            ok = iso(seconds_2000([int(t[a:a + 4 if a == 0 else a + 2]) for a in (0, 5, 8, 11, 14, 17)])) == t
        return ok
    except (KeyError, TypeError, AttributeError, ValueError, IndexError):
        return False


def load_state(log):
    """Read state.json into `state` (no file: the initial state). A
    file that is not whole, valid and in range leaves the initial state
    and says why in `damage` (boot sets it aside): never a misread
    counter."""
    log.damage = None
    try:
        data = read_bytes(log.path(STATE), MAX_STATE)
    except ValueError as e:
        data = None
        log.damage = e.args[0]
    if data is not None:
        from pump.jsontext import loads
        saved, why = loads(data)
        if not isinstance(saved, dict):
            why = why or "not an object"
            saved = {}
        if why is None:
            for k in ("boots", "seq", "last_start_s", "power_left", "power_last_s", "levels"):  # one order, both VMs
                v = saved.get(k, log.state[k])
                if not (v is None and k in ("last_start_s", "power_last_s")) and \
                        (isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < _TOP[k]):
                    why = k + ": out of range"
                    break
        if why is None:
            for k in log.state:
                if k in saved:
                    log.state[k] = saved[k]
        else:
            log.damage = why
    return log.state


def boot(log):
    """Load the state, count the boot, close a session a power cut
    interrupted. Returns that session's record (a dict) or None.

    Whatever is on the flash, this returns: a damaged state.json or
    session.cur is moved to NAME.bad (for `make logs`), a folder in the
    place of a log file too; counting goes on from the log's newest
    record, and a session.cur that is not one whole record of a running
    session is never turned into a record."""
    for name in (LOG, OLD_LOG, STATE + ".tmp", CURRENT + ".tmp"):
        p = log.path(name)
        try:
            if os.stat(p)[0] & 0x4000:
                _aside(log, name, "a folder, not a file")
        except OSError:
            pass
    load_state(log)
    if log.damage is not None:
        _aside(log, STATE, log.damage)
    if not log._size(STATE):
        _recount(log)                     # none, or set aside just now
    last = _last_seq(log)
    if log.state["seq"] < last:
        log.state["seq"] = last           # a state.json older than the log: never a session number twice
    log.state["boots"] += 1
    recovered = None
    p = log.path(CURRENT)
    try:
        data = read_bytes(p, MAX_STATE)
        why = "not one whole record of a running session after the log's last"
    except ValueError as e:
        data = b""
        why = e.args[0]
    if data is not None:
        rec = decode(data) if data else None
        seq = rec["seq"] if isinstance(rec, dict) and _running(rec) else -1
        if seq == last:
            remove(p)                       # its record made it into the log before the cut: nothing to add
        elif isinstance(rec, dict) and seq > last:
            rec["end"] = "power_cut"
            rec["duration_at_least"] = True
            log._safely(log._append, encode(rec))
            recovered = rec
            if seq > log.state["seq"]:
                log.state["seq"] = seq
            remove(p)
        else:
            _aside(log, CURRENT, why)
    log.save_state()
    return recovered


def _last_seq(log):
    """The session number of the log's last intact record (0: none).
    Only the end of the file is read."""
    for name in (LOG, OLD_LOG):
        size = log._size(name)
        try:
            with open(log.path(name), "rb") as f:
                f.seek(size - 4096 if size > 4096 else 0)
                lines = f.read().split(b"\n")
        except OSError:
            continue
        i = len(lines) - 1
        while i > 0:
            i -= 1
            rec = decode(lines[i] + b"\n")
            if isinstance(rec, dict) and _int(rec.get("seq")) > 0:
                return rec["seq"]
    return 0


def _aside(log, name, why):
    bad = set_aside(log.path(name))
    print("%s: %s: %s" % (name, why, "kept as " + name + ".bad" if bad else "removed"))


def _recount(log):
    """No usable state.json: the session and boot numbers go on from
    the log's newest record (session numbers are never reused)."""
    for rec in records(log):
        for k, top in (("seq", "seq"), ("boot", "boots")):
            v = _int(rec.get(k))
            if log.state[top] < v < _TOP[top]:
                log.state[top] = v


def records(log):
    """Every intact record, oldest first (the board reads them only to
    count on after a lost state.json; tests)."""
    out = []
    for name in (OLD_LOG, LOG):
        out.extend(each_record(log.path(name)))
    return out
