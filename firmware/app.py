"""Wires the hardware to the pump core. `App.step(now_ms)` is one control
tick; `App.run()` is the drift-free loop; `boot()` loads the files and
builds everything. The session books (record, log, schedule, power days,
ambient) live in books.py.

One tick, in this order: turn button presses into session events, read
the sensor (non-blocking), tick the core, apply duty and valve, keep the
books, update the indicator, and only then feed the watchdog (safety rule
6). A tick that raises never reaches the feed; main.py's `finally` stops the
motor and vents.

Flash writes happen in one place, `App.flush()`: the books only request them
(`Books.pending`), and flush performs them only when the outputs on the pins
are motor duty 0 and valve open, in two spots of a tick: at its end, right
after the outputs are applied, and at a start press, before the core's tick,
while the previous (idle) outputs still stand. A write stalls the loop for
up to ~1.2 s; flush feeds the watchdog before and after it and hides the
stall from the core's timers (the next dt is one nominal tick, run()
shifts its schedule by the stall), so a deliberate stall never trips
sensor_stale and never runs the motor blind. Why that is safe, what the
timers lose and the bound: books.py.

`machine` and the clock (the `time` module on the board: ticks_ms, ticks_add,
ticks_diff, sleep_ms) are passed in, so host runs hand in fakes.

The loaders (startup.py's boot(), profiles, board file, factory) are
imported inside boot() only: main.py calls release_boot_modules()
afterwards so that their bytecode, some 30 KB, leaves the heap of a board
that must run for hours.
"""
import sys

from books import Books
from hw.sensors import NEW
from hw.watchdog import Watchdog
from pump.codes import EV_POWER_DAYS, EV_START, FAULT_NONE, STATE_DONE, STATE_IDLE, STATE_RUNNING
from pump.limits import TRIP_HEADROOM_MMHG, mmhg_to_pa
from pump.safety import SafetyConfig
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
# Only needed while booting (see release_boot_modules).
BOOT_MODULES = ("startup", "pump.profiles", "pump.checks", "pump.defaults", "pump.jsontext", "hw.board", "hw.factory",
                "hw.logboot", "hw.wallclock", "hw.rtc")


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
    read_ahead = None        # what the loop calls before each tick: read_ahead() below

    def __init__(self, machine, clock, board, profiles, hardware, notice=FAULT_NONE, sensor_fault=FAULT_NONE,
                 log=None, board_id="", wall_s=None, uptime0_s=0):
        """hardware: factory.build()'s drivers, the sensor already begun;
        sensor_fault: the code its begin() failed with (then reported on
        every tick: the person sees the blink code, nothing pumps);
        log: the SessionLog (None: sessions are not recorded); wall_s: the
        wall clock at boot in seconds since 2000, None when it is not set;
        uptime0_s: seconds since the reset at boot (records count uptime
        from the reset)."""
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
        self.stall_ms = 0                # write stalls since next_wait() last moved the schedule by them
        self.due_ms = 0                  # the next tick's due time (ticks_ms): the loop's, kept by next_wait()
        self.books = Books(self.session, profiles, self.indicator, self.sensor, log, board_id, board.name, wall_s,
                           uptime0_s)
        self.log = log
        self.rtc = getattr(hardware, "rtc", None)   # a clock module's driver (the phone app sets it)
        self.web = board.web
        # The tick calls its parts through bound methods taken here, not
        # looked up on each part at each call: 3-6 us less a call on an
        # RP2040, ~40 us a tick. A part is never replaced, except the
        # buttons by the phone app, through use_buttons().
        self._ticks_diff = clock.ticks_diff
        self._poll_sensor = self.sensor.poll
        self._tick = self.session.tick
        self._books_tick = self.books.tick
        self._show = self.indicator.update
        self.use_buttons(self.buttons)
        ahead = read_ahead(self.sensor, self.tick_ms)
        if ahead is not None:
            self.read_ahead = ahead

    def use_buttons(self, buttons):
        """Poll `buttons` from the next tick on (web/serve.py wraps the
        board's buttons so that the phone's presses join them)."""
        self.buttons = buttons
        self._poll_buttons = buttons.poll

    def step(self, now_ms):
        """One control tick at time now_ms (ticks_ms). Returns the outputs."""
        last = self.last_ms
        dt = 0 if last is None else self._ticks_diff(now_ms, last)
        if dt < 0:
            dt = 0
        self.last_ms = now_ms
        s = self.session
        books = self.books
        n = self._poll_buttons(dt, s.state)
        i = 0
        while i < n:
            ev = self.buttons.events[i]
            if ev == EV_POWER_DAYS:
                books.power_days()
            else:
                if ev == EV_START and (s.state == STATE_IDLE or s.state == STATE_DONE):
                    books.start_press()
                    # The start-press write: before the session's first
                    # running tick; s.out is still the previous tick's
                    # (idle) outputs, the ones on the pins.
                    self.flush(s.out)
                s.press(ev)
            i += 1
        # Read after the presses: never a reading from before a start-press write.
        sensor = self.sensor
        status = self._poll_sensor()
        reading = sensor.vacuum_pa if status == NEW else None
        self.reading = reading
        fault = status if status > 0 else self.pending_fault
        out = self._tick(dt, reading, fault)
        # The drivers only when the output changes (a call costs more than
        # the comparison); they clamp and remember what is on the pin.
        motor = self.motor
        duty = out.duty_u16
        if duty != motor.duty:
            motor.set(duty)
        valve = self.valve
        vent = out.valve_open
        if vent != valve.is_open:
            valve.set_open(vent)
        self._books_tick(dt, out, reading)
        self._show(dt, out)
        wdt = self.wdt
        if wdt is None and out.state == STATE_RUNNING:
            wdt = self.start_watchdog()
        if wdt is not None:
            wdt.feed()                       # the machine.WDT's own feed (hw/watchdog.py)
        if books.pending:
            self.flush(out)
        return out

    def prime(self):
        """The first tick's one-time work, done by boot() instead of the
        loop's first tick: the session's first refresh, the books' first
        look at the state, the LED's first pattern and the buttons' first
        read, 1.2 ms on a Pico against 0.4 for an idle tick. Time does not
        move (dt 0), the sensor is left for the loop's first tick, and no
        press can complete in no time; nothing is written (a write the books
        ask for waits for that tick)."""
        s = self.session
        self.buttons.poll(0, s.state)
        out = s.tick(0, None, self.pending_fault)
        self.books.tick(0, out, None)
        self.indicator.update(0, out)

    def flush(self, out):
        """The one place the flash is written: the books' pending writes,
        only when `out`, the outputs on the pins, are motor 0 and valve
        open (otherwise they wait for such a tick: a release phase).

        Each write stalls the loop. The watchdog is fed before and after
        each one. `last_ms` moves on by the measured stall, so the core's
        next dt does not contain it: the sensor went unread because the CPU
        was busy, and a stale timer counting the stall would trip
        sensor_stale after every write (a dt that large would also jump the
        cycle and the controller). run() moves its schedule by the same
        amount; the books count the stall as session and wall time."""
        if out.duty_u16 != 0 or not out.valve_open:
            return
        clock = self.clock
        books = self.books
        wdt = self.wdt
        t0 = clock.ticks_ms()
        while books.pending:
            if wdt is not None:
                wdt.feed()
            books.write()                       # one file (the end: a log append and state.json)
        if wdt is not None:
            wdt.feed()
        stall = clock.ticks_diff(clock.ticks_ms(), t0)
        if stall > 0:
            if self.last_ms is not None:
                self.last_ms = clock.ticks_add(self.last_ms, stall)
            self.stall_ms += stall
            books.stalled(stall, out)

    def start_watchdog(self):
        """Started with the first session, not at boot: a started rp2
        watchdog cannot be stopped, and an idle board (motor off, valve
        vented) must stay reachable for flashing. From then on every tick
        feeds it."""
        self.wdt = Watchdog(self.machine.WDT, self.watchdog_ms)
        return self.wdt

    def run(self):
        """The control loop: ticks every tick_ms, drift-free. A tick that
        wrote the flash moves the schedule on by the stall: the next tick
        comes one tick_ms after the write, not at once (no burst of
        catch-up ticks, and its dt is one tick, as the core was told).
        With a read_ahead the loop wakes 1 ms before a tick to queue the
        sensor's read (a late tick's poll queues it itself)."""
        clock = self.clock
        ahead = self.read_ahead
        self.due_ms = clock.ticks_ms()
        while True:
            self.step(clock.ticks_ms())
            wait = self.next_wait()
            if ahead is not None and wait > 1:
                clock.sleep_ms(wait - 1)
                ahead()
                wait = 1
            if wait > 0:
                clock.sleep_ms(wait)

    def next_wait(self):
        """ms to wait for the next tick (0 when late) after the tick due at
        due_ms, which moves on to the next one; web/serve.py's loop waits
        the same way. One int, not a tuple: the loop allocates nothing a
        tick either (a collection would stall it)."""
        clock = self.clock
        due = clock.ticks_add(self.due_ms, self.tick_ms + self.stall_ms)
        self.stall_ms = 0
        wait = clock.ticks_diff(due, clock.ticks_ms())
        if wait <= 0:
            if wait < -10 * self.tick_ms:
                due = clock.ticks_ms()          # far behind: resync, no burst of catch-up ticks
            wait = 0
        self.due_ms = due
        return wait

    def safe(self):
        """Motor off, valve vented (any exception path)."""
        self.motor.off()
        self.valve.open()


def read_ahead(sensor, tick_ms):
    """What the loop calls a moment before each tick (App.run, web/serve.py),
    or None: a sensor's request() to queue its bus read ahead of the tick
    (hw/sensors/mprls.py MPRLSFifo.request), so that the transfer (~117 us
    at 400 kHz) runs while the CPU sleeps and the tick's poll finds the
    bytes waiting instead of waiting for them. The bytes are the ones the
    poll would read itself: the part holds its last conversion until the
    poll starts the next, a start-press write between the two included.
    Only when the conversion the last tick's poll started is done 1 ms
    before the next tick: that poll comes at most ~1 ms into its tick (a
    flash write before it moves the schedule on by its stall), so
    tick_ms - 2 must cover the part's period; at a faster tick every poll
    queues its own read (a read of a part still converting gets no reading)."""
    request = getattr(sensor, "request", None)
    if request is None or tick_ms - 2 < sensor.period_ms:
        return None
    return request


def boot(machine, clock, read_text=None, log=None, wall=None):
    """Load board and profiles, build the app: startup.boot(), a boot-only
    module whose bytecode release_boot_modules() frees (what each argument
    means and what stops the pump is said there)."""
    from startup import boot as boot_app
    return boot_app(machine, clock, read_text, log, wall)


def release_boot_modules():
    """Drop the boot-only modules (the loaders, the defaults literal, the
    factory) so the garbage collector frees their bytecode. Nothing the
    control loop uses refers to them: the profile data classes live in
    pump/model.py. A later import would simply load them again."""
    release_modules(BOOT_MODULES)


def release_modules(names):
    """Forget the modules `names` (and their attribute on the parent
    package), then collect: their bytecode leaves the heap once nothing
    else refers to it."""
    import gc
    for name in names:
        if sys.modules.pop(name, None) is not None:
            parent, _, child = name.rpartition(".")
            pkg = sys.modules.get(parent)
            if pkg is not None and hasattr(pkg, child):
                delattr(pkg, child)
    gc.collect()
