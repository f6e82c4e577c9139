"""make's first step: is this Python one the pinned requirements install on?

    python tools/check_python.py

Exit 0 (and nothing printed) for Python 3.11; a one-line warning and exit
0 for a later 3.x (untested: the pinned numpy, matplotlib, contourpy and
pillow wheels may be missing and pip would try to build them); a one-line
error and exit 2 for anything older (numpy 2.4, matplotlib 3.11, contourpy
1.3, pillow 13, fonttools 4.68, hypothesis 6.170 and python-dateutil 4
declare Requires-Python >= 3.11, so pip finds no matching distribution).

Written to run on any Python, 2.7 included (no f-strings), since its job
is to explain a wrong interpreter.
"""
import sys

TESTED = (3, 11)


def main():
    v = sys.version_info
    here = "%d.%d.%d (%s)" % (v[0], v[1], v[2], sys.executable)
    fix = "install Python 3.11 and run make PYTHON=python3.11"
    if tuple(v[:2]) < TESTED:
        sys.stderr.write("make: Python %s is too old: this project works with Python 3.11 (requirements.txt is "
                         "pinned for it; numpy, matplotlib, hypothesis need >= 3.11): %s\n" % (here, fix))
        return 2
    if tuple(v[:2]) > TESTED or v[0] > 3:
        sys.stderr.write("make: warning: Python %s is untested: this project works with Python 3.11 "
                         "(requirements.txt is pinned for it); if pip fails, %s\n" % (here, fix))
    return 0


if __name__ == "__main__":
    sys.exit(main())
