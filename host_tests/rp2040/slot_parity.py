"""The slot functions (tools/deploy.py VIPER_FUNCTIONS) over fixed inputs:
run on the emulated Pico, where make flash compiled them as viper code, and
on CPython, where ptr32() is the array itself; test_rp2040.py compares the
two outputs line by line. The inputs cross every clamp and both signs (a
negative slot is where a viper word and a Python int could part). The HEAP
line is what tickbench.drive times its (here empty) button script from."""
from hw.indicator import T_SLOT, Indicator
from hw.sensors.analog import AnalogSensor
from pump.control import Control
from pump import profiles
from pump.codes import EV_LETDOWN, EV_LEVEL_UP, EV_PAUSE, EV_START, EV_STOP
from pump.safety import VAC_SLOT, Monitor, SafetyConfig
from pump.session import Session


def control_rows():
    c = Control(13107, 1100, 38000)
    acc = 0
    for i in range(1200):
        mode = 1 if i % 320 < 160 else 0
        if i % 80 == 0:
            c.new_target(mode, 30000 if i % 240 else 12000)
        ph = i % 80
        sp = -1 if ph >= 50 else (30000 * ph // 20 if ph < 20 else 30000)
        v = (i * 7919) % 46000 - 3000                  # anywhere, below ambient too ...
        if i % 400 < 250:
            v = (sp if sp > 0 else 0) + (i * 7919) % 1200 - 500     # ... or near the setpoint
        d = c.update(10 if i % 9 else 61, sp, v, ph > 20, mode, i % 3 != 0)
        if ph == 79:
            c.end_cycle(mode, 30000, (i * 31) % 45000, 500)
        if i % 331 == 0:
            c.capped(d // 3)
        acc = (acc * 31 + d + c.integ + 7 * c.sp + c.trims[mode] + c.ffs[mode]) % 1000000007
        if i % 200 == 199:
            print("control", i, acc, d, c.integ, c.sp, c.trims[0], c.trims[1], c.ffs[0], c.ffs[1])


class ADC:
    def __init__(self):
        self.i = 0

    def read_u16(self):
        self.i += 1
        i = self.i
        if i % 401 == 0:
            raise OSError(5)
        if i % 307 == 0:
            return 65535
        return (i * 2654435761) % 60000 + 2000


def sensor_rows():
    s = AnalogSensor(ADC(), "rp2", 2 / 3, 4500, -40, samples=4)
    acc = 0
    for i in range(600):
        st = s.poll()
        acc = (acc * 31 + st * 1000003 + s.vacuum_pa) % 1000000007
        if i % 100 == 99:
            print("sensor", i, acc, st, s.vacuum_pa)


def monitor_rows():
    """The monitor's viper checks over readings of every kind: in range,
    past the limit, below ambient, frozen, not ints, too big for a machine
    word (a truncating cast would make 2**32 + 100 read as 100 Pa), and
    driver faults; each trip is cleared when it can be."""
    m = Monitor(SafetyConfig(33331, stale_ms=60, release_check_ms=250, stuck_band_pa=3))
    odd = (None, 1.5, True, 2 ** 32 + 100, -(2 ** 33), 2 ** 30, -(2 ** 30) - 1, "7")
    acc = 0
    v = 0
    for i in range(1500):
        ph = i % 70
        valve_open = ph >= 45
        if i % 500 < 250:
            v = (i * 7919) % 36000 - 2500 if not valve_open else v // 2
        elif i % 500 < 400:
            v = 25000 + i % 3                        # held, with noise: a valve that does not vent
        else:
            v = 25000                                # held still: a frozen sensor
        reading = v if i % 4 != 1 else None
        if i % 97 == 0:
            reading = odd[(i // 97) % len(odd)]
        elif 600 <= i < 650:
            reading = 20000                          # frozen
        fault = (5, 3, 12)[i % 3] if i % 251 == 17 else 0
        dt = 600 if i % 131 == 0 else (0 if i % 13 == 0 else 10)
        f = m.observe(dt, reading, fault)
        duty = 0
        if not valve_open:
            if ph == 0:
                m.suction_start()
            duty = m.guard_duty(dt, (i * 40503) % 65536)
        f = m.supervise(dt, duty, valve_open, i % 500 < 450)
        acc = (acc * 31 + f * 1000003 + duty + 7 * m.pred_pa + 3 * m.rise_ref + m.proof_k16
               + m.seg_ratio + m.last_inc + m.vacuum_pa + m.since_reading_ms + m.t_ms) % 1000000007
        if f and i % 5 == 0:
            m.s[VAC_SLOT] = 0                           # the reading back at ambient ...
            m.clear()                                # ... so the trip may clear
        if i % 150 == 149:
            print("monitor", i, acc, f, duty, m.pred_pa, m.rise_ref, m.proof_k16, m.vacuum_pa, m.since_reading_ms)


def session_rows():
    """The controller's and the monitor's viper functions as a session
    calls them, over a crude plant (vacuum chases the duty, vents with the
    valve): long and zero dts, a level step and the switch to expression."""
    p = profiles.defaults()
    s = Session(p, SafetyConfig(p.limit_pa))
    v = 0
    acc = 0
    out = s.tick(0, 0)
    s.press(EV_START)
    for i in range(1500):
        if i == 400:
            s.press(EV_LEVEL_UP)
        if i == 700:
            s.press(EV_LETDOWN)
        if out.valve_open:
            v = v * 3 // 4
        else:
            v += (out.duty_u16 >> 6) - v // 40
        dt = 10 if i % 37 else (0 if i % 2 else 55)
        out = s.tick(dt, v + (i * 7919) % 300 - 150 if i % 3 else None)
        acc = (acc * 31 + out.duty_u16 + 7 * out.setpoint_pa + out.valve_open + 3 * s.control.peak_pa) % 1000000007
        if i % 150 == 149:
            print("session", i, acc, out.state, out.duty_u16, out.setpoint_pa, s.control.peak_pa, s.cycle.phase_ms)


class LogPin:
    """An LED pin that counts its edges."""
    def __init__(self):
        self.level = -1
        self.edges = 0

    def value(self, v=None):
        if v is not None and v != self.level:
            self.level = v
            self.edges += 1


def indicator_rows():
    """The indicator's viper fast path against its changes: every state's
    pattern, the weak warning, a program number, the schedule, the wrap of
    the pattern clock (long dts)."""
    from pump.session import Outputs
    pin = LogPin()
    ind = Indicator(pin, True)
    out = Outputs()
    acc = 0
    states = (0, 1, 2, 3, 4, 5)
    for i in range(2400):
        if i % 200 == 0:
            out.state = states[(i // 200) % 6]
            out.fault = 4 if out.state == 4 else 0
            out.weak = (i // 200) % 4 == 1
            out.seq += 1
        if i == 1300:
            out.program = 2
            out.seq += 1
        if i % 700 == 650:
            ind.set_schedule(1 + (i // 700) % 2)
        ind.update(10 if i % 50 else 450000, out)
        acc = (acc * 31 + pin.level * 7 + ind.s[T_SLOT] + pin.edges) % 1000000007
        if i % 240 == 239:
            print("indicator", i, acc, pin.level, pin.edges, ind.s[T_SLOT])


class BooksLog:
    """The session log as the books see it: its state and what was written."""
    def __init__(self):
        self.state = {"boots": 0, "seq": 0, "last_start_s": None, "power_left": 0, "power_last_s": None,
                      "levels": 0}
        self.acc = 0

    def mark(self, *values):
        for v in values:
            self.acc = (self.acc * 31 + v) % 1000000007

    def started(self, rec):
        self.mark(1, rec.seq)

    def progress(self, rec, board_id, board_name, names):
        self.mark(2, rec.duration_ms, rec.mode_ms[0], rec.mode_ms[1], rec.mode_ms[3], rec.mode_ms[4],
                  rec.peak_pa[0], rec.peak_pa[1])

    def end(self, rec, board_id, board_name, names):
        self.progress(rec, board_id, board_name, names)
        self.mark(3, rec.end, rec.levels[0], rec.levels[1])

    def save_state(self):
        self.mark(4)


class Gauge:
    """An absolute sensor's ambient, as the books re-zero it."""
    ambient_pa = 101325


class Shown:
    def set_schedule(self, sched):
        pass


def books_rows():
    """The books' viper tick as the app calls it: ambient tracked while idle,
    a session's time per mode and peaks per cycle mode into the record, a
    checkpoint after a minute of session time, a pause, a stop, a second
    session; the writes done as App.flush does them (motor 0, valve open)."""
    from books import CHECK_SLOT, SAVED_SLOT, SUB_SLOT, Books
    p = profiles.defaults()
    s = Session(p, SafetyConfig(p.limit_pa))
    log = BooksLog()
    sensor = Gauge()
    b = Books(s, p, Shown(), sensor, log, "b", "n", None, 0)
    v = 0
    acc = 0
    for i in range(3000):
        if i in (250, 2850):
            b.start_press()
            s.press(EV_START)
        elif i in (300, 380):
            s.press(EV_PAUSE)
        elif i == 600:
            s.press(EV_LEVEL_UP)
        elif i == 900:
            s.press(EV_LETDOWN)
        elif i == 2650:
            s.press(EV_STOP)
        out = s.out
        if out.valve_open:
            v = v * 3 // 4
        else:
            v += (out.duty_u16 >> 4) - v // 20
        dt = 50 if i % 2 else 10
        reading = v + (i * 7919) % 300 - 150 if i % 7 != 3 else None
        out = s.tick(dt, reading)
        b.tick(dt, out, reading)
        if out.duty_u16 == 0 and out.valve_open:
            while b.pending:
                b.write()
        rec = b.record
        acc = (acc * 31 + rec.duration_ms + 3 * rec.mode_ms[0] + 5 * rec.mode_ms[1] + 7 * rec.peak_pa[0]
               + 11 * rec.peak_pa[1] + b.s[SUB_SLOT] + b.s[CHECK_SLOT] + b.pending + sensor.ambient_pa + b.vented_ms
               + b.uptime_s) % 1000000007
        if i % 200 == 199:
            print("books", i, acc, log.acc, out.state, rec.duration_ms, rec.mode_ms[4], b.s[SAVED_SLOT], b.writes,
                  sensor.ambient_pa)


print("HEAP")
control_rows()
sensor_rows()
monitor_rows()
session_rows()
indicator_rows()
books_rows()
print("PARITY done")
