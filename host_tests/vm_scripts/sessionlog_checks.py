"""The session log's file handling on both VMs (CPython, MicroPython).

Usage: <python|micropython> sessionlog_checks.py WORKDIR
Prints results line by line; the test compares the two VMs' output and
checks the facts: records round-trip through the file, a write torn at any
byte never loses an earlier record, rotation keeps the newest records, a
torn current-session file at boot is dropped, a whole one becomes a
power-cut record.
"""
import os
import sys

from hw.sessionlog import SessionLog
from pump.record import Record, encode

DIR = sys.argv[1]
PROGRAMS = ("standard", "power", "catch_up")


def clean():
    for n in os.listdir(DIR):
        os.remove(DIR + "/" + n)


def rec(i):
    r = Record()
    r.start(i, 849166205 + 10800 * i, 60 * i, 1, i % 3, "due")
    r.duration_ms = 1800000 + i
    r.mode_ms[1] = 1680000
    r.levels[1] = 1 << 5
    r.peak_pa[1] = 25331
    r.fault(7)
    r.finish(1 + i % 5)
    return r


clean()
log = SessionLog(DIR, max_bytes=100000, min_free=0)
for i in range(1, 6):
    log.end(rec(i), "e6614104032f5a2a", "pico", PROGRAMS)
out = log.records()
print("roundtrip", [r["seq"] for r in out], out[2]["end"], out[2]["program"], out[2]["faults"],
      sorted(out[2]["levels"].items()), sorted(out[2]["peak_mmhg"].items()), out[2]["start"], out[2]["duration_s"])

with open(DIR + "/sessions.log") as f:
    data = f.read()
lines = data.splitlines(True)
ends = []
total = 0
for ln in lines:
    total += len(ln)
    ends.append(total)
bad = 0
cut = 0
while cut <= len(data):
    with open(DIR + "/sessions.log", "w") as f:
        f.write(data[:cut])
    got = [r["seq"] for r in log.records()]
    want = [i + 1 for i in range(len(ends)) if ends[i] <= cut]
    if got != want:
        bad += 1
    cut += 1
print("torn", len(data) + 1, "cuts", bad, "bad")

clean()
log = SessionLog(DIR, max_bytes=1500, min_free=0)
for i in range(1, 31):
    log.end(rec(i), "b", "pico", PROGRAMS)
seqs = [r["seq"] for r in log.records()]
print("rotation", seqs[0] > 1, seqs[-1], seqs == list(range(seqs[0], 31)),
      os.stat(DIR + "/sessions.log")[6] <= 1500)

clean()
running = rec(9)
running.end = 0                       # session.cur holds a running session: "end": null
line = encode(running.as_dict("b", "pico", PROGRAMS))
with open(DIR + "/session.cur", "w") as f:
    f.write(line[:40])
log = SessionLog(DIR, min_free=0)
print("torn_current", log.boot("b", "pico", PROGRAMS), "session.cur" in os.listdir(DIR), log.records())
with open(DIR + "/session.cur", "w") as f:
    f.write(line)
log = SessionLog(DIR, min_free=0)
cut = log.boot("b", "pico", PROGRAMS)
print("power_cut", cut["seq"], cut["end"], cut["duration_at_least"], [r["end"] for r in log.records()],
      log.state["boots"])
