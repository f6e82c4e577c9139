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

import fake_time
import machine
from fake_clock import ClockStop
from plant import Plant

IS_CPYTHON = sys.implementation.name == "cpython"
HERE = sys.argv[1] if len(sys.argv) > 1 else "."
ROOT = os.getcwd()                    # the repository (the test runs us from there)
RESULTS = []
FTIME = fake_time.load()


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


def c_boot_primes_the_app():
    """boot() does the first tick's one-time work (App.prime): the LED
    already shows the idle pattern and the session has refreshed what it
    shows, while the loop's first tick still comes with dt 0 and takes the
    first reading."""
    write_files("pico")
    w, _ = new_world()
    os.chdir(HERE)
    try:
        import app as app_mod
        a = app_mod.boot(machine, FTIME)
    finally:
        os.chdir(ROOT)
    led = [e for e in w.log if e[0] == "pin" and e[1] == 25]
    out = a.session.out
    # indicator.s[3]: the out.seq it last showed (_SEQ in hw/indicator.py; a VM script cannot import it)
    ok = led and out.seq > 0 and a.indicator.s[3] == out.seq and a.last_ms is None and a.reading is None
    check("boot_primes_the_app_and_the_loop_starts_at_dt_0", ok, "LED writes %r, seq %d shown %d, last_ms %r" % (
        led, out.seq, a.indicator.s[3], a.last_ms))


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
    # the built-in defaults start at the lowest level
    check("broken_profiles_session_runs_default_targets", out.state == 1 and hi == defaults.modes[0].targets_pa[0],
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


def capture_print():
    """Collect what the firmware prints (builtins.print is replaceable on both VMs)."""
    import builtins
    said = []
    real = builtins.print

    def fake(*args, **kw):
        said.append(" ".join(str(a) for a in args))
    builtins.print = fake
    return said, lambda: setattr(builtins, "print", real)


def c_damaged_board_file_names_it():
    write_files(None, board_text="")
    with open(HERE + "/board.json", "wb") as f:
        f.write(b'{"name": "pico\xff"}')
    w, _ = new_world()
    w.attach_input(10, lambda: 0)                      # start held down the whole time
    said, restore = capture_print()
    try:
        end = run_main(2000)
    finally:
        restore()
    ok = isinstance(end, ClockStop) and not any(d > 0 for d in motor_duties(w)) and 16 not in w.pwm \
        and "board.json: not UTF-8 text" in said and "refusing to pump until board.json is fixed" in said
    check("board_not_utf8_refuses_and_the_console_names_the_file", ok, "%r %r" % (end, said[:3]))


def c_damaged_files_still_pump():
    """Issue 11: one damaged byte in any file but board.json never stops the pump."""
    write_files("pico")
    for name, data in (("profiles.json", b"\x00\xff binary garbage \x9a"), ("state.json", b'{"seq": 4, "boots": \xff}'),
                       ("session.cur", b'{"v": 1, "board": "\xc0\x80"}\tdeadbeef\n'), ("sessions.log", b"\xfe\xff\n"),
                       ("reset.flag", b"\xff\xfe")):
        with open(HERE + "/" + name, "wb") as f:
            f.write(data)
    w, plant = new_world(cause=machine.WDT_RESET)
    hold(w, 10, 1000, 200)
    rec = Recorder()
    said, restore = capture_print()
    try:
        end = run_main(4000)
    finally:
        restore()
        rec.restore()
    files = os.listdir(HERE)
    ok = isinstance(end, ClockStop) and max(motor_duties(w)) > 13000 and any(t[1] == 1 for t in rec.ticks) \
        and rec.ticks[0][5] == 8 and "state.json.bad" in files and "session.cur.bad" in files \
        and "reset.flag" not in files and "profiles.json: not UTF-8 text" in said
    check("damaged_files_boot_on_defaults_and_pump", ok, "%r notice %r files %r said %r" % (
        end, rec.ticks[0][5] if rec.ticks else None, sorted(files), said[:6]))
    for name in ("state.json.bad", "session.cur.bad", "sessions.log", "state.json", "session.cur", "profiles.json"):
        try:
            os.remove(HERE + "/" + name)
        except OSError:
            pass


class SlowFlash:
    """Every file write (a replace, a log append) advances the fake clock
    by `ms`: the board stalled by a littlefs write. The plant catches up to
    the write's start first and then runs through the stall with the
    outputs on the pins (it only advances on sensor reads otherwise).

    Watches in constant memory (70 s of ticks in lists would fragment the
    VM's heap): each write (motor duty, valve level, session state), every
    tick (trips, state changes, the dt the safety monitor was given, the
    time to the next tick against one tick plus that tick's stalls), and
    the watchdog feeds around runs of back-to-back writes ("blocks"): one
    must come at the fake time a block starts and one at the time it ends
    (ticks take no fake time here)."""

    def __init__(self, ms, plant):
        import app
        import hw.sessionlog as sl
        from hw.sessionlog import SessionLog
        self.app_mod = app
        self.sl = sl
        self.cls = SessionLog
        self.ms = ms
        self.plant = plant
        self.app = None
        self.writes = []
        self.trips = []
        self.states = []
        self.dts = []
        self.bad_gaps = []
        self.stalled_ticks = 0
        self.prev = None                  # (now_ms, monitor t_ms, stall_ms) of the last tick
        self.last_feed = -1
        self.open = None                  # [start, end, fed at start]
        self.blocks = 0
        self.unfed = []
        self.real_step = app.App.step
        self.real_write = sl.write_atomic
        self.real_append = SessionLog._append
        self.real_feed = machine.WDT.feed
        me = self

        def step(self_app, now_ms):
            me.app = self_app
            out = me.real_step(self_app, now_ms)
            me.tick(now_ms, out, self_app)
            return out

        def write(path, text):
            me.stall(path.split("/")[-1])
            me.real_write(path, text)

        def append(self_log, line):
            me.stall("sessions.log")
            return me.real_append(self_log, line)

        def feed(self_wdt):
            me.fed(machine.world.clock.elapsed_ms)
            me.real_feed(self_wdt)
        app.App.step = step
        sl.write_atomic = write
        SessionLog._append = append
        machine.WDT.feed = feed

    def tick(self, now, out, a):
        if 1 <= out.fault <= 7 and out.fault not in self.trips:
            self.trips.append(out.fault)
        if not self.states or self.states[-1] != out.state:
            self.states.append(out.state)
        t = a.session.monitor.t_ms
        if self.prev is not None:
            dt = (t - self.prev[1]) & 0x1FFFFFFF
            if dt not in self.dts:
                self.dts.append(dt)
            gap = now - self.prev[0]
            if gap != 10 + self.prev[2] and len(self.bad_gaps) < 5:
                self.bad_gaps.append((self.prev[0], gap, self.prev[2]))
        if a.stall_ms:
            self.stalled_ticks += 1
        self.prev = (now, t, a.stall_ms)

    def stall(self, name):
        w = machine.world
        a = self.app
        self.writes.append((name, w.pwm_duty(16), w.level(17), a.session.state if a is not None else -1))
        self.plant.advance()
        t = w.clock.elapsed_ms
        w.clock.advance(self.ms)
        self.plant.advance()
        end = w.clock.elapsed_ms
        if w.wdt_timeout is None:
            return                          # no watchdog yet
        blk = self.open
        if blk is not None and blk[1] == t:
            blk[1] = end                    # back to back, no feed between
            return
        if blk is not None:
            self.close(False)
        self.open = [t, end, self.last_feed == t]

    def fed(self, t):
        if self.open is not None:
            self.close(self.open[1] == t)
        self.last_feed = t

    def close(self, end_fed):
        blk = self.open
        self.open = None
        self.blocks += 1
        if not (blk[2] and end_fed):
            self.unfed.append((blk[0], blk[1]))

    def restore(self):
        if self.open is not None:
            self.close(False)
        self.app_mod.App.step = self.real_step
        self.sl.write_atomic = self.real_write
        self.cls._append = self.real_append
        machine.WDT.feed = self.real_feed


def c_slow_flash():
    for ms in (60, 250, 1200):
        write_files("pico")
        w, plant = new_world()
        w.logging = False                             # 70 s of pin calls would not fit the VM's heap
        clock = w.clock
        # start at 3 s (boot writes state.json: up to 1.2 s); let-down long
        # presses: pause at 7 s, resume at 11 s; stop at 70 s
        w.attach_input(11, lambda: 0 if 7000 <= clock.elapsed_ms < 8700 or 11000 <= clock.elapsed_ms < 12700 else 1)
        w.attach_input(10, lambda: 0 if 3000 <= clock.elapsed_ms < 3200 or 70000 <= clock.elapsed_ms < 70200 else 1)
        slow = SlowFlash(ms, plant)
        try:
            end = run_main(72000)
        finally:
            slow.restore()
        label = "slow_flash_%dms_" % ms
        check(label + "start_pause_checkpoint_stop_never_trip",
              isinstance(end, ClockStop) and not slow.trips and slow.states == [0, 1, 2, 1, 0],
              "end %r trips %r states %r" % (end, slow.trips, slow.states))
        unsafe = [x for x in slow.writes if x[1] != 0 or x[2] != 0]
        kinds = [(x[0], x[3]) for x in slow.writes]
        ok = not unsafe and ("session.cur", 0) in kinds and ("session.cur", 2) in kinds \
            and ("session.cur", 1) in kinds and ("sessions.log", 0) in kinds      # start, pause, checkpoint, end
        check(label + "writes_only_with_motor_off_and_valve_open", ok, "unsafe %r writes %r" % (unsafe, kinds))
        check(label + "core_dt_is_one_tick", slow.dts == [10], repr(slow.dts))
        # The loop's next tick comes one tick after the write, never at once.
        check(label + "loop_resyncs_without_a_burst", not slow.bad_gaps and slow.stalled_ticks >= 4,
              "%r, %d stalled ticks" % (slow.bad_gaps, slow.stalled_ticks))
        check(label + "watchdog_fed_right_before_and_after_writes", not slow.unfed and slow.blocks >= 3,
              "%d blocks, unfed %r" % (slow.blocks, slow.unfed))


def c_queued_read():
    """pico_w: main.py's loop (App.run) queues the MPRLS's read before each
    tick (app.read_ahead), never while the part is still converting, through
    a start press (its flash write comes between the read and the poll that
    collects it) and a session."""
    import app
    import devices
    write_files("pico_w")
    w, plant = new_world()

    def absolute_pa():
        plant.advance()
        return 101325 - int(plant.v)
    dev = devices.MPRLSDevice(absolute_pa)
    w.attach_i2c(0, 0x18, dev)
    hold(w, 10, 1000, 200)                            # start press
    seen = []
    # Reads of a part still converting before the loop's second tick are
    # not the loop's: begin()'s ambient reads poll it, and the first tick,
    # which nothing read ahead for, reads the conversion begin() started.
    busy_at_boot = []
    orig = app.App.step

    def step(self_app, now_ms):
        if len(seen) == 1:
            busy_at_boot.append(dev.reads_busy)
        seen.append(len(machine.i2c_block(0).rx))
        return orig(self_app, now_ms)
    app.App.step = step
    rec = Recorder()
    try:
        end = run_main(4000)
    finally:
        app.App.step = orig
        rec.restore()
    ahead = rec.app is not None and rec.app.read_ahead is not None
    busy = dev.reads_busy - busy_at_boot[0] if busy_at_boot else -1
    running = [t for t in rec.ticks if t[1] == 1]
    waiting = seen[2:]                                # the loop's first ticks: the first conversion
    ok = isinstance(end, ClockStop) and ahead and len(waiting) > 300 \
        and all(n == 4 for n in waiting) and busy == 0 and running and not any(t[4] for t in rec.ticks) \
        and 5000 < plant.max_pa < 20000 and os.stat(HERE + "/session.cur")[6] > 0
    check("pico_w_queues_the_sensor_read_before_each_tick", bool(ok),
          "%r ahead %s, RX bytes as a tick starts %r, reads while converting %d, %d running ticks, faults %r, "
          "peak %d Pa" % (end, ahead, sorted(set(waiting)), busy, len(running),
                          sorted(set(t[4] for t in rec.ticks)), plant.max_pa))


CHECKS = {
    "first_writes": c_first_writes,
    "idle": c_idle_never_pumps,
    "start": c_start_pumps,
    "prime": c_boot_primes_the_app,
    "exception": c_exception_in_tick,
    "broken_board": c_broken_board,
    "broken_profiles": c_broken_profiles,
    "reset": c_reset_never_resumes,
    "notices": c_broken_profiles_and_wdt_prefers_config_notice,
    "deliberate": c_deliberate_reset_is_not_a_watchdog_reset,
    "slow_flash": c_slow_flash,
    "damaged_board": c_damaged_board_file_names_it,
    "damaged_files": c_damaged_files_still_pump,
    "queued_read": c_queued_read,
}

for name in (sys.argv[2:] or list(CHECKS)):
    try:
        CHECKS[name]()
    except Exception as e:  # noqa: B902 - report, keep going
        check(name, False, "raised %r" % e)
