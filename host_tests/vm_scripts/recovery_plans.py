"""pump/recovery.py's plans on both VMs (host_tests/test_recovery.py runs
this under CPython and MicroPython and compares the output).

Usage: <python|micropython> recovery_plans.py CASES
CASES is a JSON list of histories: {"every_min", "times_min", "grace_min",
"now_s", "first_day", "sessions": [[start_s, board, seq, program,
schedule, volume, faults, end, duration_at_least, from_uptime, manual,
label, between_lo_s, between_hi_s], ...]}; a float volume is "f:" and the
hex of its IEEE double (JSON text would be parsed differently by the two
VMs). Prints one JSON line per history: the whole plan, the misses and the
per-day figures from first_day to today, every float as "f:" + hex, every
Miss and Session by its index, dicts as sorted [key, value] pairs (the VMs
order dicts differently).
"""
import json
import struct
import sys
from binascii import hexlify, unhexlify

from pump import recovery
from pump.schedule import Schedule


def volume(v):
    if isinstance(v, str):
        return struct.unpack("<d", unhexlify(v[2:]))[0]
    return v


def session(i, row):
    return recovery.Session(row[0], board=row[1], seq=row[2], program=row[3], schedule=row[4],
                            volume_ml=volume(row[5]), faults=row[6], end=row[7], duration_at_least=row[8],
                            from_uptime=row[9], manual=row[10], label=row[11], between=(row[12], row[13]), ref=i)


def enc(v, misses):
    if isinstance(v, float):
        return "f:" + str(hexlify(struct.pack("<d", v)), "ascii")
    if isinstance(v, recovery.Miss):
        return ["miss", misses[id(v)]]
    if isinstance(v, recovery.Session):
        return ["session", v.ref]
    if isinstance(v, dict):
        return [[k, enc(v[k], misses)] for k in sorted(v)]
    if isinstance(v, (list, tuple)):
        return [enc(x, misses) for x in v]
    return v


def plan_of(case):
    sch = Schedule(case["every_min"], case["times_min"], case["grace_min"])
    sessions = [session(i, row) for i, row in enumerate(case["sessions"])]
    try:
        p = recovery.make_plan(sessions, sch, case["now_s"])
    except Exception as e:
        return ["error", type(e).__name__]
    h = p.history
    misses = {}
    for i, m in enumerate(h.misses):
        misses[id(m)] = i
    today = case["now_s"] // recovery.DAY_S
    days = [[d.day, [s.ref for s in d.sessions], enc(d.misses, misses), enc(d.volume_ml, misses), d.volume_sessions,
             d.power, d.volume_complete] for d in h.days(case["first_day"], today)]
    lu = h.latest_unknown()
    return [p.state, p.due_s, p.deadline_s,
            [[s.rule, s.name, s.action, s.reason, enc(s.data, misses)] for s in p.suggestions],
            p.notes,
            [[m.due_s, m.deadline_s, m.at_s, m.how, m.gap_s, None if m.after is None else m.after.ref,
              m.possibly_kept, m.describe()] for m in h.misses],
            enc(h.counted, misses), [s.ref for s in h.known], [s.ref for s in h.unknown], [s.ref for s in h.future],
            None if lu is None else lu.ref, enc(p.volumes, misses), p.falling_days, p.power_days,
            enc(p.misses_24, misses), enc(p.misses_today, misses), days]


with open(sys.argv[1]) as f:
    cases = json.load(f)
for case in cases:
    print(json.dumps(plan_of(case)))
