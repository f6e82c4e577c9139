"""main.py and app.py under the fake machine, on CPython and MicroPython.

Usage: <python|micropython> app_checks.py WORKDIR [CHECK ...]
Runs the named checks (all by default) and prints one line per check:
`PASS name` or `FAIL name: reason`. host_tests/test_app.py runs this script
under both VMs and requires every check to pass on both. WORKDIR is a
scratch folder used as the board's flash (board.json, profiles.json).

The plant is a small vacuum model coupled through the fake machine: the
motor's PWM duty and the valve pin drive it, the analog sensor's ADC pin
reads it (XGZP6847A transfer function through the board's divider).
"""
import json
import os
import sys

import machine
from fake_clock import ClockStop
from plant import Plant

IS_CPYTHON = sys.implementation.name == "cpython"
HERE = sys.argv[1] if len(sys.argv) > 1 else "."
ROOT = os.getcwd()                    # the repository (the test runs us from there)
RESULTS = []


def fake_time():
    """The fake `time` module: under MicroPython it already is `time` (on
    MICROPYPATH); under CPython put it into sys.modules for main.py."""
    if IS_CPYTHON:
        import importlib.util
        spec = importlib.util.spec_from_file_location("time", os.path.join(ROOT, "tools", "fakes", "time.py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    import time
    return time


FTIME = fake_time()


class Coupling:
    """The simulator's physical plant, advanced lazily to the fake clock with
    the motor duty and valve level the firmware drives through the fake
    machine, and read back through the analog sensor's ADC pin (XGZP6847A,
    -40 mV/kPa from 4.5 V at ambient, 2/3 divider)."""

    def __init__(self, world, motor_pin=16, valve_pin=17):
        self.w = world
        self.motor_pin = motor_pin
        self.valve_pin = valve_pin
        self.plant = Plant()
        self.t = 0
        self.max_pa = 0.0

    def advance(self):
        now = self.w.clock.elapsed_ms
        if now > self.t:
            sealed = self.w.levels.get(self.valve_pin, 0) == 1
            v = self.plant.step(now - self.t, self.w.pwm_duty(self.motor_pin), not sealed)
            self.t = now
            if v > self.max_pa:
                self.max_pa = v

    @property
    def v(self):
        return self.plant.vacuum_pa

    def volts(self):
        self.advance()
        sensor_mv = 4500.0 - 40.0 * self.plant.vacuum_pa / 1000.0
        return sensor_mv * 0.6667 / 1000.0


def write_files(board="pico", profiles=None, board_text=None):
    for name in ("board.json", "profiles.json"):
        p = HERE + "/" + name
        try:
            os.remove(p)
        except OSError:
            pass
    if board_text is None and board is not None:
        with open(ROOT + "/boards/" + board + ".json") as f:
            board_text = f.read()
    if board_text is not None:
        with open(HERE + "/board.json", "w") as f:
            f.write(board_text)
    if profiles is not None:
        with open(HERE + "/profiles.json", "w") as f:
            f.write(profiles)


def new_world(cause=machine.PWRON_RESET):
    w = machine.reset_world("rp2")
    w.reset_cause_value = cause
    plant = Coupling(w)
    w.attach_adc(26, plant.volts)
    for pin in (10, 11, 12, 13, 14):
        w.attach_input(pin, lambda: 1)                  # released (pull-up)
    return w, plant


def hold(world, pin, at_ms, for_ms):
    clock = world.clock
    world.attach_input(pin, lambda: 0 if at_ms <= clock.elapsed_ms < at_ms + for_ms else 1)


class Recorder:
    """Wraps App.step to see every tick's outputs and the app object."""

    def __init__(self):
        import app
        self.app_mod = app
        self.orig = app.App.step
        self.ticks = []
        self.app = None
        rec = self

        def step(self_app, now_ms):
            rec.app = self_app
            out = rec.orig(self_app, now_ms)
            rec.ticks.append((now_ms, out.state, out.duty_u16, out.valve_open, out.fault, out.notice))
            return out
        app.App.step = step

    def restore(self):
        self.app_mod.App.step = self.orig


def run_main(ms):
    """Run firmware/main.py until the fake clock has run `ms`; returns the
    exception that ended it (ClockStop normally)."""
    machine.world.clock.stop_after_ms = ms
    os.chdir(HERE)
    sys.modules.pop("main", None)
    if IS_CPYTHON:
        saved = sys.modules.get("time")
        sys.modules["time"] = FTIME
    try:
        import main  # noqa: F401
    except BaseException as e:  # noqa: B902 - main.py must end by an exception here
        return e
    finally:
        if IS_CPYTHON:
            sys.modules["time"] = saved
        os.chdir(ROOT)
    return None


def check(name, ok, why=""):
    RESULTS.append(name)
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + why))


def motor_duties(w):
    return [e[2] for e in w.log if e[0] == "pwm_duty" and e[1] == 16]


def valve_levels(w):
    return [e[2] for e in w.log if e[0] == "pin" and e[1] == 17]


# -- checks ------------------------------------------------------------------------

def c_first_writes():
    write_files("pico")
    w, _ = new_world()
    run_main(300)
    pins = [e for e in w.log if e[0] in ("pin_init", "pwm_init", "pin")]
    first = pins[:4]
    ok = first[0] == ("pin_init", 16, 1, 0) and first[1] == ("pin", 16, 0) \
        and first[2] == ("pin_init", 17, 1, 0) and first[3] == ("pin", 17, 0)
    check("main_first_writes_are_motor_off_and_vent", ok, repr(first))


def c_idle_never_pumps():
    write_files("pico")
    w, plant = new_world()
    rec = Recorder()
    end = run_main(5000)
    rec.restore()
    ok = isinstance(end, ClockStop) and not any(d > 0 for d in motor_duties(w)) \
        and not any(valve_levels(w)) and len(rec.ticks) >= 490 and all(t[1] == 0 for t in rec.ticks)
    check("boot_stays_idle_without_a_start_press", ok, "%r %d ticks" % (end, len(rec.ticks)))
    check("watchdog_not_started_while_idle", w.wdt_timeout is None, repr(w.wdt_timeout))


def c_start_pumps():
    write_files("pico")
    w, plant = new_world()
    hold(w, 10, 1000, 200)                            # start press
    rec = Recorder()
    run_main(6000)
    rec.restore()
    duties = motor_duties(w)
    running = [t for t in rec.ticks if t[1] == 1]
    closes = sum(1 for a, b in zip(valve_levels(w), valve_levels(w)[1:]) if b and not a)
    ok = running and rec.ticks[-1][1] == 1 and not any(t[4] for t in rec.ticks) and max(duties) > 13000 \
        and closes >= 7 and 5000 < plant.max_pa < 20000        # ~8 stimulation cycles up to ~90 mmHg
    check("start_press_pumps_and_cycles_the_valve", bool(ok), "state %r faults %r max duty %r closes %d peak %d Pa" % (
        rec.ticks[-1][1] if rec.ticks else None, sorted(set(t[4] for t in rec.ticks)),
        max(duties) if duties else None, closes, plant.max_pa))
    first_run = running[0][0] if running else 0
    feeds_ok = w.wdt_timeout == 4000 and w.wdt_feeds == len([t for t in rec.ticks if t[0] >= first_run])
    check("watchdog_fed_once_per_tick_from_the_first_session", feeds_ok, "%r feeds %d" % (w.wdt_timeout, w.wdt_feeds))
    steps = [b[0] - a[0] for a, b in zip(rec.ticks, rec.ticks[1:])]
    check("ticks_every_10_ms", steps and min(steps) == 10 and max(steps) == 10, repr(sorted(set(steps))))


def c_exception_in_tick():
    write_files("pico")
    w, plant = new_world()
    hold(w, 10, 500, 200)
    clock = w.clock

    def volts():
        if clock.elapsed_ms >= 3005:
            raise ValueError("driver bug")
        return plant.volts()
    w.attach_adc(26, volts)
    rec = Recorder()
    end = run_main(10000)
    rec.restore()
    ok = isinstance(end, ValueError) and w.pwm_duty(16) == 0 and w.level(16) == 0 and w.level(17) == 0
    check("exception_in_a_tick_stops_the_motor_and_vents", ok, "%r duty %d" % (end, w.pwm_duty(16)))
    # Every completed tick since the first session fed it once; the tick
    # that raised did not complete and did not feed.
    first = [i for i, t in enumerate(rec.ticks) if t[1] == 1][0]
    completed = len(rec.ticks) - first
    check("watchdog_not_fed_by_the_failing_tick", w.wdt_feeds == completed,
          "feeds %d completed ticks %d" % (w.wdt_feeds, completed))


def c_broken_board():
    for label, text in (("broken", '{"name": "pico", "port": "rp2"}'), ("missing", None), ("not_json", "{")):
        if text is None:
            write_files(None)
        else:
            write_files(None, board_text=text)
        w, _ = new_world()
        w.attach_input(10, lambda: 0)                  # start held down the whole time
        end = run_main(3000)
        leds = [e for e in w.log if e[0] == "pin" and e[1] == "LED"]
        ok = isinstance(end, ClockStop) and not any(d > 0 for d in motor_duties(w)) and 16 not in w.pwm \
            and len(leds) > 20
        check("board_%s_never_starts_the_motor" % label, ok, "%r leds %d" % (end, len(leds)))


def c_broken_profiles():
    raw = json.load(open(ROOT + "/profiles.json"))
    raw["modes"]["expression"]["vacuum_mmhg"]["max"] = 400
    write_files("pico", profiles=json.dumps(raw))
    w, plant = new_world()
    os.chdir(HERE)
    import app
    from pump import profiles
    a = app.boot(machine, FTIME)                 # the board path: files and the log in the flash folder
    out = a.step(FTIME.ticks_ms())
    defaults = profiles.defaults()
    same = [m.targets_pa for m in a.session.p.modes[:2]] == [m.targets_pa for m in defaults.modes[:2]]
    check("broken_profiles_pumps_only_on_defaults", same and out.notice == 8, "notice %d" % out.notice)
    hold(w, 10, 100, 200)
    hi = 0
    for _ in range(1500):
        FTIME.sleep_ms(10)
        out = a.step(FTIME.ticks_ms())
        if out.state == 1:
            hi = max(hi, out.target_pa)
    os.chdir(ROOT)
    check("broken_profiles_session_runs_default_targets", out.state == 1 and hi == defaults.modes[0].targets_pa[4],
          "state %d fault %d target %d" % (out.state, out.fault, hi))


def c_reset_never_resumes():
    write_files("pico")
    w, plant = new_world()
    hold(w, 10, 500, 200)
    run_main(3000)
    pumped = max(motor_duties(w)) > 0
    w2, _ = new_world(cause=machine.WDT_RESET)      # the watchdog reset the board mid-session
    rec = Recorder()
    run_main(5000)
    rec.restore()
    ok = pumped and not any(d > 0 for d in motor_duties(w2)) and all(t[1] == 0 for t in rec.ticks) \
        and rec.ticks[-1][5] == 9
    check("reset_never_resumes_pumping_and_reports_watchdog_reset", ok,
          "notice %r" % (rec.ticks[-1][5] if rec.ticks else None))


def c_broken_profiles_and_wdt_prefers_config_notice():
    raw = json.load(open(ROOT + "/profiles.json"))
    raw["version"] = 7
    write_files("pico", profiles=json.dumps(raw))
    w, _ = new_world(cause=machine.WDT_RESET)
    rec = Recorder()
    run_main(500)
    rec.restore()
    check("config_invalid_shown_before_watchdog_reset", rec.ticks and rec.ticks[-1][5] == 8, repr(rec.ticks[-1:]))


def c_deliberate_reset_is_not_a_watchdog_reset():
    write_files("pico")
    with open(HERE + "/reset.flag", "w") as f:
        f.write("")
    w, _ = new_world(cause=machine.WDT_RESET)       # rp2 reports machine.reset() this way
    rec = Recorder()
    run_main(500)
    rec.restore()
    gone = "reset.flag" not in os.listdir(HERE)
    check("deliberate_reset_is_not_reported_as_watchdog", rec.ticks and rec.ticks[-1][5] == 0 and gone,
          repr(rec.ticks[-1:]))


CHECKS = {
    "first_writes": c_first_writes,
    "idle": c_idle_never_pumps,
    "start": c_start_pumps,
    "exception": c_exception_in_tick,
    "broken_board": c_broken_board,
    "broken_profiles": c_broken_profiles,
    "reset": c_reset_never_resumes,
    "notices": c_broken_profiles_and_wdt_prefers_config_notice,
    "deliberate": c_deliberate_reset_is_not_a_watchdog_reset,
}

for name in (sys.argv[2:] or list(CHECKS)):
    try:
        CHECKS[name]()
    except Exception as e:  # noqa: B902 - report, keep going
        check(name, False, "raised %r" % e)
