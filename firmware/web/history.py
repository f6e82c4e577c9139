"""The history and the plan the phone shows, read from the board's own log.

Imported by the web app on request, never at boot: it reads sessions.log
(and sessions.1.log) line by line, 4 KB at most a line (a longer one fails
its CRC, never fills the heap), joins the phone's notes from notes.log,
and hands the sessions to pump/recovery.py, the same rules as the host's
`python -m tools.sessions plan`.

A session is kept as a small object (Past), not the record's dict: a full
log is some 60 records, and the dicts would take several KB of a Pico W's heap.
On an RP2040 a record costs some 30 ms to read and check (CRC, JSON): the
history is sent record by record and the plan's reading pauses after
each line and once more before the rules decide, so the control task runs
in between (web/serve.py).
"""
from hw.sessionlog import LOG, NOTES, OLD_LOG, OLD_NOTES, each_record
from pump.record import seconds_2000



class Past:
    """One session of the log, as much of it as the page and the plan use."""

    def __init__(self, seq, start_s, duration_s, program, peak_x10, end, faults, schedule, at_least):
        self.seq = seq
        self.start_s = start_s
        self.duration_s = duration_s
        self.program = program
        self.peak_x10 = peak_x10
        self.end = end
        self.faults = faults
        self.schedule = schedule
        self.at_least = at_least


def _lines(log, names):
    for name in names:
        for rec in each_record(log.path(name)):
            yield rec


def start_s(text):
    """Wall seconds of a record's "YYYY-MM-DDTHH:MM:SS", None when absent or
    not that shape."""
    if not isinstance(text, str) or len(text) != 19:
        return None
    try:
        return seconds_2000((int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]),
                             int(text[14:16]), int(text[17:19])))
    except ValueError:
        return None


def session_of(r, board_id):
    """A session record of this board as a Past, or None."""
    if r.get("v") != 1 or r.get("board") != board_id or "kind" in r or not isinstance(r.get("seq"), int):
        return None
    peak = r.get("peak_mmhg")
    p = 0
    if isinstance(peak, dict):
        for v in peak.values():
            if isinstance(v, (int, float)) and v * 10 > p:
                p = int(v * 10 + 0.5)
    faults = r.get("faults")
    program, end, schedule = r.get("program"), r.get("end"), r.get("schedule")
    return Past(r["seq"], start_s(r.get("start")), r.get("duration_s"), program if isinstance(program, str) else "?",
                p, end if isinstance(end, str) else None, tuple(faults) if isinstance(faults, list) else (),
                schedule if isinstance(schedule, str) else "none", r.get("duration_at_least") is True)


def add_note(out, r, board_id):
    """Merge a note record of this board into {seq: (left_ml, right_ml,
    note)}: a later note replaces an earlier one, field by field where given."""
    if r.get("v") != 1 or r.get("kind") != "note" or r.get("board") != board_id:
        return
    seq = r.get("seq")
    old = out.get(seq, (None, None, None))
    out[seq] = (r.get("left_ml") if r.get("left_ml") is not None else old[0],
                r.get("right_ml") if r.get("right_ml") is not None else old[1],
                r.get("note") if r.get("note") is not None else old[2])


def volume(n):
    """The total of a note's sides (None when neither was entered)."""
    if n is None or (n[0] is None and n[1] is None):
        return None
    return (n[0] or 0) + (n[1] or 0)


def history_body(log, board_id, days, now_s):
    """The history as JSON text in pieces, oldest session first: {"now_s",
    "sessions": [{seq, start_s, duration_s, program, peak_x10, end, faults,
    duration_at_least, left_ml, right_ml, note}]}, the sessions of the last
    `days` days (all when the clock is not set). A generator: the server
    writes each piece before the next is made, and every write lets the
    control task run, so no stretch is longer than one record's work."""
    import gc
    import json
    gc.collect()                    # each line needs a 4 KB buffer: start from the largest free runs
    ns = {}
    for r in _lines(log, (OLD_NOTES, NOTES)):
        add_note(ns, r, board_id)
        yield ""
    lo = None if now_s is None else now_s - days * 86400
    yield '{"now_s": %s, "sessions": [' % json.dumps(now_s)
    sep = ""
    for r in _lines(log, (OLD_LOG, LOG)):
        s = session_of(r, board_id)
        if s is None or (lo is not None and s.start_s is not None and s.start_s < lo):
            yield ""
            continue
        n = ns.get(s.seq)
        yield sep + json.dumps({"seq": s.seq, "start_s": s.start_s, "duration_s": s.duration_s,
                                "program": s.program, "peak_x10": s.peak_x10, "end": s.end,
                                "faults": list(s.faults), "duration_at_least": s.at_least,
                                "left_ml": n[0] if n else None, "right_ml": n[1] if n else None,
                                "note": n[2] if n else None})
        sep = ", "
    yield "]}"


async def plan(log, board_id, schedule, now_s, pause):
    """What the recovery rules say now: {state, due_s, suggestions: [{rule,
    name, action, reason}], notes}. The log is read one line per stretch
    (`await pause()` between them); the rules then run in two stretches,
    the history's timeline and misses, then the plan. now_s None:
    the clock is not set, and the rules cannot count missed sessions."""
    if now_s is None:
        return {"state": "unknown", "due_s": None, "suggestions": [],
                "notes": ["The board's clock is not set: open this page on the phone to set it."]}
    import gc
    gc.collect()                    # as in history_body: 4 KB per line read
    ns = {}
    for r in _lines(log, (OLD_NOTES, NOTES)):
        add_note(ns, r, board_id)
        await pause()
    from pump import recovery
    ss = []
    for r in _lines(log, (OLD_LOG, LOG)):
        s = session_of(r, board_id)
        if s is not None:
            ss.append(recovery.Session(s.start_s, board_id, s.seq, s.program, s.schedule, volume(ns.get(s.seq)),
                                       s.faults, s.end or "stop", s.at_least, label="session %d" % s.seq))
        await pause()
    said = []
    sch = schedule
    if sch is None:
        sch = _Default()
        said.append("profiles.json has no schedule: one session every 3 hours is assumed.")
    h = recovery.History(ss, sch, now_s)
    await pause()                   # the timeline and the misses, then the rules: two stretches
    p = recovery.Plan(h)
    if not ss:
        said.append("No sessions on this board yet.")
    return {"state": p.state, "due_s": p.due_s,
            "suggestions": [{"rule": g.rule, "name": g.name, "action": g.action, "reason": g.reason}
                            for g in p.suggestions],
            "notes": said + [n for n in p.notes if "make logs" not in n]}


class _Default:
    """The plan's schedule when profiles.json names none."""
    every_s = 0
    times_s = ()
    grace_s = 0

    def __init__(self):
        from pump.recovery import DEFAULT_EVERY_S, DEFAULT_GRACE_S
        self.every_s = DEFAULT_EVERY_S
        self.grace_s = DEFAULT_GRACE_S
