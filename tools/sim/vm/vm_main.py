"""The simulator inside the MicroPython VM: `micropython vm_main.py SPEC.json`.

SPEC.json holds the resolved scenario and the board's files (tools/sim/
runner.py writes it). Prints one line per row (integers, "-" for none) on
stdout and progress on stderr every simulated minute.
"""
import json
import sys

from engine import Engine


def main():
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    files = spec.pop("files")
    nxt = 60000
    for row in Engine(spec, files).rows():
        print(" ".join("-" if x is None else str(x) for x in row))
        if row[0] >= nxt:
            sys.stderr.write("sim %d:%02d\n" % (row[0] // 60000, row[0] // 1000 % 60))
            nxt += 60000


main()
