"""Wires the hardware to the pump core. `App.step(now_ms)` is one control
tick; `App.run()` is the drift-free loop; `boot()` loads the files and
builds everything.

One tick, in this order: read the sensor (non-blocking), turn button
presses into session events, tick the core, apply duty and valve, update
the indicator, and only then feed the watchdog (safety rule 6). A tick that
raises never reaches the feed; main.py's `finally` stops the motor and vents.

`machine` and the clock (the `time` module on the board: ticks_ms, ticks_add,
ticks_diff, sleep_ms) are passed in, so host runs hand in fakes.

The loaders (profiles, board file, factory) are imported inside boot() only:
main.py calls release_boot_modules() afterwards so that their bytecode,
some 30 KB, leaves the heap of a board that must run for hours.
"""
import sys

from hw.sensors import NEW, SensorError
from hw.watchdog import Watchdog
from pump.codes import (END_AUTO_OFF, END_FAULT, END_STOP, EV_POWER_DAYS, EV_START, FAULT_CONFIG_INVALID, FAULT_NONE,
                        FAULT_WATCHDOG_RESET, STATE_DONE, STATE_FAULT, STATE_IDLE, STATE_PAUSED, STATE_RESTING,
                        STATE_RUNNING)
from pump.limits import TRIP_HEADROOM_MMHG, mmhg_to_pa
from pump.record import Record
from pump.safety import SafetyConfig
from pump.schedule import SCHED_MISSED, SCHED_NAMES, SCHED_NONE
from pump.session import Session

BOARD_FILE = "board.json"
PROFILES_FILE = "profiles.json"
# Left by `make flash` just before its reset: rp2 reports any machine.reset()
# as WDT_RESET, and a deliberate reset is not the watchdog's.
DELIBERATE_RESET_FILE = "reset.flag"
# A vacuum pump cannot make positive pressure: a reading this far below
# ambient is a zero offset. An offset as large as the overshoot headroom
# would let the true vacuum pass the limit while the reading stays under
# it, so it is a sensor_range trip (it shows whenever the line is vented).
MIN_PLAUSIBLE_PA = -mmhg_to_pa(TRIP_HEADROOM_MMHG)
# Absolute sensors: while idle and vented for REZERO_AFTER_MS, readings within
# REZERO_WINDOW_PA of zero pull the measured ambient along (weather moves it
# ~1 kPa a day). Larger offsets are not absorbed: they stay faults.
REZERO_AFTER_MS = 5000
REZERO_WINDOW_PA = mmhg_to_pa(8)
# Power pumping "for the next days": three sessions, one a day at most (a
# power session counts when it ran 20 min or more; a day is 20 h apart).
POWER_DAYS = 3
POWER_MIN_S = 20 * 60
POWER_GAP_S = 20 * 3600
SINCE_CAP_S = 30 * 86400
# Only needed while booting (see release_boot_modules).
BOOT_MODULES = ("pump.profiles", "pump.checks", "pump.defaults", "hw.board", "hw.factory")


class BoardError(Exception):
    """The board file is missing or invalid: the firmware refuses to pump."""

    def __init__(self, errors):
        super().__init__("; ".join(errors))
        self.errors = errors


def tick_ms(board, sensor):
    """The control period: the board's rate, or the sensor's when slower."""
    ms = 1000 // board.tick_hz
    return sensor.period_ms if sensor.period_ms > ms else ms


def safety_config(board, profiles, sensor):
    """Safety limits from the profile and the built sensor's timing and range."""
    period = sensor.period_ms
    tick = tick_ms(board, sensor)
    return SafetyConfig(
        profiles.limit_pa,
        sensor_min_pa=MIN_PLAUSIBLE_PA,
        sensor_max_pa=sensor.max_vacuum_pa,
        # Four sample periods (or ten ticks) without a reading is a dead sensor.
        stale_ms=max(4 * period, 10 * tick, 100),
        # A healthy valve halves the vacuum in ~50 ms; allow three samples more.
        release_check_ms=max(3 * period, 250),
        no_vacuum_ms=profiles.no_vacuum_ms)


class App:
    def __init__(self, machine, clock, board, profiles, hardware, notice=FAULT_NONE, sensor_fault=FAULT_NONE,
                 log=None, board_id="", wall_s=None):
        """hardware: factory.build()'s drivers, the sensor already begun;
        sensor_fault: the code its begin() failed with (then reported on
        every tick: the person sees the blink code, nothing pumps);
        log: the SessionLog (None: sessions are not recorded); wall_s: the
        wall clock at boot in seconds since 2000, None when it is not set."""
        self.machine = machine
        self.clock = clock
        self.watchdog_ms = board.watchdog_ms
        self.motor = hardware.motor
        self.valve = hardware.valve
        self.sensor = hardware.sensor
        self.buttons = hardware.buttons
        self.indicator = hardware.indicator
        m = board.motor
        self.session = Session(profiles, safety_config(board, profiles, self.sensor), m["min_duty"],
                               m["slew_u16_per_ms"], notice)
        self.tick_ms = tick_ms(board, self.sensor)
        self.last_ms = None
        self.wdt = None
        self.pending_fault = sensor_fault
        self.reading = None              # what the last tick read (Pa or None)
        self.rezero = hasattr(self.sensor, "ambient_pa")
        self.vented_ms = 0
        # Session record, log and schedule.
        self.log = log
        self.board_id = board_id
        self.board_name = board.name
        self.program_names = tuple(p.name for p in profiles.programs)
        self.record = Record()
        self.seq = 0
        self.prev_state = STATE_IDLE
        self.wall0_s = wall_s
        self.uptime_s = 0
        self.sub_ms = 0
        self.since_last_s = None         # since the last session started on this boot
        self.since_power_s = None        # since the last counted power session on this boot
        self.schedule = profiles.schedule
        self.sched = SCHED_NONE
        self.sched_due_s = None
        self.check_ms = 0
        self.standard = profiles.program_index("standard")
        self.catch_up = profiles.program_index("catch_up")
        self.power = profiles.program_index("power")
        self.choose_program()

    def step(self, now_ms):
        """One control tick at time now_ms (ticks_ms). Returns the outputs."""
        dt = 0 if self.last_ms is None else self.clock.ticks_diff(now_ms, self.last_ms)
        self.last_ms = now_ms
        status = self.sensor.poll()
        reading = self.sensor.vacuum_pa if status == NEW else None
        self.reading = reading
        fault = status if status > 0 else self.pending_fault
        s = self.session
        n = self.buttons.poll(dt, s.state)
        i = 0
        while i < n:
            ev = self.buttons.events[i]
            if ev == EV_POWER_DAYS:
                self.toggle_power_days()
            else:
                if ev == EV_START and (s.state == STATE_IDLE or s.state == STATE_DONE):
                    self.begin_record(True)          # written now, before the motor starts
                s.press(ev)
            i += 1
        out = s.tick(dt, reading, fault)
        self.motor.set(out.duty_u16)
        self.valve.set_open(out.valve_open)
        if self.rezero:
            self.track_ambient(dt, out.state, reading)
        if out.state != self.prev_state:
            self.transition(self.prev_state, out)
            self.prev_state = out.state
        self.record.update(dt, out)
        self.keep_time(dt)
        self.indicator.update(dt, out)
        if self.wdt is None and out.state == STATE_RUNNING:
            self.start_watchdog()
        if self.wdt is not None:
            self.wdt.feed()
        return out

    # -- session record and log (writes only while the motor is off) -------
    def begin_record(self, write):
        log = self.log
        self.seq = (log.state["seq"] if log is not None else self.seq) + 1
        boots = log.state["boots"] if log is not None else 0
        self.record.start(self.seq, self.wall_now(), self.uptime_s, boots, self.session.program, SCHED_NAMES[self.sched])
        self.since_last_s = 0
        if log is not None:
            log.started(self.record)
            if write:
                log.begin(self.record, self.board_id, self.board_name, self.program_names)

    def transition(self, prev, out):
        st = out.state
        rec = self.record
        if (st == STATE_RUNNING or st == STATE_PAUSED or st == STATE_RESTING) and not rec.active:
            self.begin_record(False)         # started without a button: written at the next pause, rest or end
        if rec.active:
            if st == STATE_FAULT:
                rec.fault(out.fault)
                self.end_record(END_FAULT)
            elif st == STATE_IDLE or st == STATE_DONE:
                self.end_record(self.session.end_reason)
            elif (st == STATE_PAUSED or st == STATE_RESTING) and self.log is not None:
                self.log.progress(rec, self.board_id, self.board_name, self.program_names)
        if st == STATE_IDLE or st == STATE_DONE:
            self.choose_program()            # back to idle: what the next start runs

    def end_record(self, end):
        rec = self.record
        rec.finish(end)
        log = self.log
        if rec.program == self.power and rec.duration_ms // 1000 >= POWER_MIN_S and \
                (end == END_AUTO_OFF or end == END_STOP) and log is not None and log.state["power_left"] > 0:
            log.state["power_left"] -= 1
            log.state["power_last_s"] = rec.start_s
            self.since_power_s = 0
        if log is not None:
            log.end(rec, self.board_id, self.board_name, self.program_names)

    def toggle_power_days(self):
        """Idle: power pumping once a day for the next days, on or off."""
        log = self.log
        if log is None:
            return
        log.state["power_left"] = 0 if log.state["power_left"] > 0 else POWER_DAYS
        log.save_state()
        self.choose_program()

    def choose_program(self):
        """The program the next start runs: power on a power day, catch_up
        after a missed session, otherwise standard (the person can still
        change it with a long press)."""
        log = self.log
        prog = self.standard
        if log is not None and log.state["power_left"] > 0:
            last = log.state["power_last_s"]
            now = self.wall_now()
            if self.since_power_s is not None:
                due = self.since_power_s >= POWER_GAP_S
            elif last is not None and now is not None:
                due = now - last >= POWER_GAP_S
            else:
                due = True
            if due:
                prog = self.power
        if prog == self.standard and self.sched == SCHED_MISSED:
            prog = self.catch_up
        self.session.select_program(prog)

    # -- time and the schedule (integers only: this runs every tick) --------
    def wall_now(self):
        return None if self.wall0_s is None else self.wall0_s + self.uptime_s

    def keep_time(self, dt):
        self.sub_ms += dt
        while self.sub_ms >= 1000:
            self.sub_ms -= 1000
            self.uptime_s += 1
            if self.since_last_s is not None and self.since_last_s < SINCE_CAP_S:
                self.since_last_s += 1
            if self.since_power_s is not None and self.since_power_s < SINCE_CAP_S:
                self.since_power_s += 1
        self.check_ms += dt
        if self.check_ms >= 1000 and self.schedule is not None:
            self.check_ms = 0
            last = self.log.state["last_start_s"] if self.log is not None else None
            sched = self.schedule.state(self.wall_now(), last, self.since_last_s)
            if sched != self.sched:
                self.sched = sched
                self.indicator.sched = sched
                st = self.session.state
                if st == STATE_IDLE or st == STATE_DONE:
                    self.choose_program()

    def track_ambient(self, dt, state, reading):
        if state != STATE_IDLE and state != STATE_DONE:
            self.vented_ms = 0
            return
        if self.vented_ms < REZERO_AFTER_MS:
            self.vented_ms += dt
        elif reading is not None and -REZERO_WINDOW_PA <= reading <= REZERO_WINDOW_PA:
            # vacuum = ambient - absolute: a reading above zero means the
            # ambient estimate is high. First-order, 16 readings.
            self.sensor.ambient_pa -= reading // 16

    def start_watchdog(self):
        """Started with the first session, not at boot: a started rp2
        watchdog cannot be stopped, and an idle board (motor off, valve
        vented) must stay reachable for flashing. From then on every tick
        feeds it."""
        self.wdt = Watchdog(self.machine.WDT, self.watchdog_ms)

    def run(self):
        """The control loop: ticks every tick_ms, drift-free."""
        clock = self.clock
        due = clock.ticks_ms()
        while True:
            self.step(clock.ticks_ms())
            due = clock.ticks_add(due, self.tick_ms)
            wait = clock.ticks_diff(due, clock.ticks_ms())
            if wait > 0:
                clock.sleep_ms(wait)
            elif wait < -10 * self.tick_ms:
                due = clock.ticks_ms()          # far behind: resync, no burst of catch-up ticks

    def safe(self):
        """Motor off, valve vented (any exception path)."""
        self.motor.off()
        self.valve.open()


def load_board(text):
    """(Board, []) or (None, errors) from board file text (None = missing)."""
    from hw import board as board_mod
    if text is None:
        return None, [BOARD_FILE + ": missing"]
    import json
    try:
        raw = json.loads(text)
    except ValueError as e:
        return None, [BOARD_FILE + ": not valid JSON (%s)" % e]
    return board_mod.load(raw)


def boot(machine, clock, read_text=None, log=None, wall=None):
    """Load board and profiles, build the app. Raises BoardError when the
    board file is missing or invalid, or its sensor cannot see the limit.
    A broken profiles.json only prints its errors: the defaults are in force
    and the indicator shows config_invalid.

    On the board (read_text None) the session log lives on the flash and
    the wall clock is the clock module's localtime(); host runs pass a
    SessionLog or nothing, and `wall` (a localtime()-like tuple) or None."""
    from hw import board as board_mod
    from hw import factory
    from pump import profiles as profiles_mod
    if read_text is None:
        from hw import store
        from hw.sessionlog import SessionLog
        read_text = store.read_text
        log = SessionLog()
        wall = clock.localtime()
    board, errors = load_board(read_text(BOARD_FILE))
    if board is None:
        raise BoardError(errors)
    profiles, perrors = profiles_mod.load_or_defaults(read_text(PROFILES_FILE))
    for e in perrors:
        print(PROFILES_FILE + ":", e)
    hardware = factory.build(machine, board)            # valve vented, motor off
    # Blocking sensor start-up with the valve open and the pump off: an
    # absolute sensor measures ambient here.
    sensor_fault = FAULT_NONE
    try:
        hardware.sensor.begin(clock)
    except SensorError as e:
        print("sensor:", e.message)
        sensor_fault = e.code
    if not sensor_fault:
        errors = board_mod.check_sensor_covers(hardware.sensor.max_vacuum_pa, profiles.limit_pa)
        if errors:
            raise BoardError(errors)
    notice = FAULT_NONE
    deliberate = read_text(DELIBERATE_RESET_FILE) is not None
    if deliberate:
        import os
        try:
            os.remove(DELIBERATE_RESET_FILE)
        except OSError:
            pass
    if perrors:
        notice = FAULT_CONFIG_INVALID
    elif machine.reset_cause() == machine.WDT_RESET and not deliberate:
        notice = FAULT_WATCHDOG_RESET
    from pump.record import seconds_2000
    board_id = "".join("%02x" % b for b in machine.unique_id())
    if log is not None:
        try:
            cut = log.boot(board_id, board.name, [p.name for p in profiles.programs])
            if cut is not None:
                print("session %d was cut short (power cut or reset): logged" % cut["seq"])
        except OSError as e:
            print("session log unavailable:", e)
            log = None
    wall_s = seconds_2000(wall) if wall is not None else None
    if profiles.schedule is not None and wall_s is None:
        print("clock not set: the schedule counts from the last session on this boot "
              "(make flash sets the clock)")
    return App(machine, clock, board, profiles, hardware, notice, sensor_fault, log, board_id, wall_s)


def release_boot_modules():
    """Drop the boot-only modules (the loaders, the defaults literal, the
    factory) so the garbage collector frees their bytecode. Nothing the
    control loop uses refers to them: the profile data classes live in
    pump/model.py. A later import would simply load them again."""
    import gc
    for name in BOOT_MODULES:
        if sys.modules.pop(name, None) is not None:
            parent, _, child = name.rpartition(".")
            pkg = sys.modules.get(parent)
            if pkg is not None and hasattr(pkg, child):
                delattr(pkg, child)
    gc.collect()
