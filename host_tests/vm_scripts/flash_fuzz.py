"""Boot the real firmware on a flash holding one damaged file, on both VMs.

Usage: <python|micropython> flash_fuzz.py CASES WORK NAME [NAME ...]
For every case of every NAME (host_tests/fuzz_cases.py wrote them under
CASES/NAME/), WORK/flash is filled with a good flash (the pico board file,
the default profiles, a state.json, a sessions.log of two records) and
NAME replaced by the case (bytes, or a folder). Then, as on the board
(app.boot with no read function: the files are read from the current
folder), it boots under the fake machine with the app_checks plant, ticks
idle, presses start, ticks, presses stop.

Prints, per case, what the firmware printed and one verdict line
`V NAME i ...` (the notice, refused or not, pumped or not, the files left,
the number of log lines added), so the test can compare the two VMs line by
line; saves the bytes the board appended to sessions.log in WORK/added/
for the host's importer to check; and prints `FAIL NAME i: why` when a rule
broke:
- boot raised (anything but BoardError, and that only for board.json,
  with one-line `board.json: ...` messages);
- the motor ran or the valve closed before the start press;
- no pumping after the start press, or not idle after the stop press
  (unless board.json was changed);
- the session log was given up;
- reset.flag still there after boot, or a watchdog reset reported with it.
"""
import os
import sys

import fake_time
import machine
from plant import Plant

IS_CPYTHON = sys.implementation.name == "cpython"
CASES, WORK = sys.argv[1], sys.argv[2]
NAMES = sys.argv[3:]
ROOT = os.getcwd()
FLASH = WORK + "/flash"
LOG = "sessions.log"
FTIME = fake_time.load()


def isdir(p):
    try:
        return os.stat(p)[0] & 0x4000 != 0
    except OSError:
        return False


def rmtree(p):
    if isdir(p):
        for n in os.listdir(p):
            rmtree(p + "/" + n)
        os.rmdir(p)
    else:
        try:
            os.remove(p)
        except OSError:
            pass


def read(p):
    with open(p, "rb") as f:
        return f.read()


def write(p, data):
    with open(p, "wb") as f:
        f.write(data)


GOOD = {}


def good_flash():
    """The good files, from the cases' own valid contents (case folders
    hold no good copies: build them as fuzz_cases.valid_contents does)."""
    if not GOOD:
        GOOD["board.json"] = read(ROOT + "/boards/pico.json")
        GOOD["profiles.json"] = read(ROOT + "/profiles.json")
        GOOD["state.json"] = read(CASES + "/good/state.json")
        GOOD["sessions.log"] = read(CASES + "/good/sessions.log")
        GOOD["session.cur"] = read(CASES + "/good/session.cur")
    return GOOD


class Coupling:
    """The simulator's plant behind the fake machine (as app_checks.py)."""

    def __init__(self, world):
        self.w = world
        self.plant = Plant()
        self.t = 0

    def volts(self):
        now = self.w.clock.elapsed_ms
        if now > self.t:
            sealed = self.w.levels.get(17, 0) == 1
            self.plant.step(now - self.t, self.w.pwm_duty(16), not sealed)
            self.t = now
        return (4500.0 - 40.0 * self.plant.vacuum_pa / 1000.0) * 0.6667 / 1000.0


def listing():
    out = []
    for n in sorted(os.listdir(".")):
        out.append(n + ("/" if isdir(n) else ""))
    return out


def one(name, i, case):
    import app
    rmtree(FLASH)
    os.mkdir(FLASH)
    files = dict(good_flash())
    if name != "session.cur":
        del files["session.cur"]
    if name == "reset.flag":
        files["reset.flag"] = b""
    for n in files:
        if n != name:
            write(FLASH + "/" + n, files[n])
    if isdir(case):
        os.mkdir(FLASH + "/" + name)
        for n in os.listdir(case):
            write(FLASH + "/" + name + "/" + n, read(case + "/" + n))
    else:
        write(FLASH + "/" + name, read(case))
    w = machine.reset_world("rp2")
    w.logging = False
    if name == "reset.flag":
        w.reset_cause_value = machine.WDT_RESET      # rp2 reports machine.reset() so: the flag says it was deliberate
    plant = Coupling(w)
    w.attach_adc(26, plant.volts)
    clock = w.clock
    press = []
    w.attach_input(10, lambda: 0 if press and press[0] <= clock.elapsed_ms < press[0] + 100 else 1)
    for pin in (11, 12, 13, 14):
        w.attach_input(pin, lambda: 1)
    fails = []
    mpin, vpin, vopen = 16, 17, 0
    if name == "board.json" and not isdir(case):
        try:
            import json
            raw = json.loads(read(case))
            m, v = raw["motor"]["pin"], raw["valve"]["pin"]
            if isinstance(m, int) and isinstance(v, int) and isinstance(raw["valve"]["active_high"], bool):
                mpin, vpin = m, v
                vopen = 0 if raw["valve"]["active_high"] else 1
        except Exception:  # noqa: B902 - refused anyway; the pico pins then
            pass

    def safe():
        """Motor duty 0, and the valve pin driven to its open level or not
        driven at all (undriven, the normally-open valve is open)."""
        return w.pwm_duty(mpin) == 0 and w.levels.get(vpin, vopen) == vopen

    os.chdir(FLASH)
    try:
        orig = read(LOG) if name != "sessions.log" or not isdir(LOG) else b""
        try:
            a = app.boot(machine, FTIME)
        except app.BoardError as e:
            for line in e.errors:
                if "\n" in line or not line.startswith("board.json: ") or len(line) > 400:
                    fails.append("not a one-line board.json message: %r" % line)
            if name != "board.json":
                fails.append("refused over " + name)
            if not safe():
                fails.append("outputs not safe after a refusal")
            for line in e.errors:
                print(line)
            print("V %s %d refused %d errors" % (name, i, len(e.errors)))
            return fails
        except Exception as e:  # noqa: B902 - that is the finding
            fails.append("boot raised %s %s" % (type(e).__name__, e))
            print("V %s %d raised" % (name, i))
            return fails
        notice = a.session.out.notice
        out = None
        was_safe = safe()
        pumped = False
        t0 = clock.elapsed_ms
        press.append(t0 + 200)
        while clock.elapsed_ms < t0 + 500:
            FTIME.sleep_ms(10)
            out = a.step(FTIME.ticks_ms())
            if clock.elapsed_ms < t0 + 200 and not safe():
                was_safe = False
            if out.state == 1 and w.pwm_duty(mpin) > 0:
                pumped = True
        press[0] = clock.elapsed_ms + 10                # stop
        while clock.elapsed_ms < t0 + 750:
            FTIME.sleep_ms(10)
            out = a.step(FTIME.ticks_ms())
        if not was_safe:
            fails.append("the motor ran or the valve closed before the start press")
        if name != "board.json":
            if not pumped:
                fails.append("no pumping after a start press")
            if out.state != 0:
                fails.append("not idle after the stop press (state %d)" % out.state)
        if a.log is None:
            fails.append("the session log was given up")
        if name == "reset.flag" and ("reset.flag" in os.listdir(".") or notice == 9):
            fails.append("reset.flag not taken (notice %d)" % notice)
        if name == "clock.set" and "clock.set" in os.listdir("."):
            fails.append("clock.set not taken")
        new = read(LOG) if not isdir(LOG) else b""
        added = new[len(orig):] if new[:len(orig)] == orig else new
        write(WORK + "/added/%s-%d" % (name, i), added)
        print("V %s %d notice %d pumped %d files %s added %d wall %s" % (
            name, i, notice, pumped, " ".join(listing()), added.count(b"\n"), a.books.wall0_s))
        return fails
    finally:
        os.chdir(ROOT)


def main():
    for d in (WORK, WORK + "/added"):
        if not isdir(d):
            os.mkdir(d)
    n = 0
    for name in NAMES:
        d = CASES + "/" + name
        idx = sorted(int(x.split(".")[0]) for x in os.listdir(d))
        for i in idx:
            p = d + "/" + str(i)
            if isdir(p + ".dir"):
                p = p + ".dir"
            print("C %s %d" % (name, i))
            for f in one(name, i, p):
                print("FAIL %s %d: %s" % (name, i, f))
            n += 1
    print("DONE %d" % n)


main()
