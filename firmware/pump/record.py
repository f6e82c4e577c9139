"""The session record: what one session was, as the log stores it.

`Record` is filled tick by tick from the session's outputs with integer
arithmetic only (it runs on the control path and allocates nothing there);
`line()` turns it into one log line at the end, between sessions, when
allocation is fine. The format is docs/session-log.md (record version 1):
the JSON text, a tab, its CRC-32 in hex, a newline, so a line torn by a
power cut is recognised and skipped, never misread.

Wall time is counted in seconds since 2000-01-01 from the `localtime()`
tuple, whatever epoch the port's time.time() uses; a year before 2024 means
the board's clock was never set.
"""
import json
from array import array

from binascii import crc32
from micropython import const

from pump.codes import END_NAMES, FAULT_NAMES, MODE_EXPRESSION, MODE_MIXED, MODE_NAMES, MODE_STIMULATION
from pump.slots import slot

VERSION = 1
CLOCK_SET_YEAR = 2024
MAX_FAULTS = 8
_MDAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

# Slots of Record.s: what every tick of a session moves, read and written
# by Books.tick as viper code on an RP2040 (books.py keeps the same numbers
# as its own consts: a viper index must be a const of its own module;
# test_books checks they agree). Durations are ms, peaks Pa: well under 2^30.
R_ACTIVE = const(0)
R_DURATION = const(1)
R_MODE = const(2)           # 5 slots: ms in stimulation, expression, mixed, rest, paused
R_PEAK = const(7)           # 2 slots: the peak (Pa) per cycle mode
R_BUCKET = const(9)         # the R_MODE slot the time goes to, less R_MODE (-1: none)
R_PEAK_I = const(10)        # the R_PEAK slot a reading may raise, less R_PEAK (-1: none)
R_SEEN = const(11)          # out.seq when bucket and peak were worked out
R_SLOTS = const(12)
# The codes _follow compares with, as this module's consts (an imported name
# is a look-up at every use on an RP2040); test_books.py holds them equal.
_RUNNING = const(1)         # STATE_RUNNING
_PAUSED = const(2)          # STATE_PAUSED
_RESTING = const(3)         # STATE_RESTING
_STIMULATION = const(0)     # MODE_STIMULATION
_EXPRESSION = const(1)      # MODE_EXPRESSION


def _leap(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def seconds_2000(t):
    """Seconds since 2000-01-01 00:00 from a (year, month, day, hour, minute,
    second, ...) tuple, or None when the clock is not set."""
    y, mo, d = t[0], t[1], t[2]
    if y < CLOCK_SET_YEAR:
        return None
    days = d - 1
    for yy in range(2000, y):
        days += 366 if _leap(yy) else 365
    for m in range(1, mo):
        days += 29 if m == 2 and _leap(y) else _MDAYS[m - 1]
    return ((days * 24 + t[3]) * 60 + t[4]) * 60 + t[5]


def civil_days(day):
    """(year, month, day of month) of a day number, day 0 = 2000-01-01
    (Howard Hinnant's civil_from_days, proleptic Gregorian; floor division
    keeps it right before 2000 too). Small ints for any date a person logs."""
    z = day + 730425                     # days from 0000-03-01 to 2000-01-01
    era = z // 146097                    # 400-year eras
    doe = z - era * 146097               # day of the era, 0-146096
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365     # year of the era, 0-399
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)                      # day of a year from March 1
    mp = (5 * doy + 2) // 153            # month from March, 0-11
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if m <= 2 else 0), m, doy - (153 * mp + 2) // 5 + 1


def civil(s2000):
    """(year, month, day, hour, minute, second) from seconds since 2000."""
    days, rem = divmod(s2000, 86400)
    y, m, d = civil_days(days)
    return (y, m, d, rem // 3600, rem // 60 % 60, rem % 60)


def iso(s2000):
    """"YYYY-MM-DDTHH:MM:SS" from seconds since 2000, or None."""
    if s2000 is None:
        return None
    return "%04d-%02d-%02dT%02d:%02d:%02d" % civil(s2000)


def encode(obj):
    """One log line: JSON, a tab, CRC-32 hex, newline."""
    text = json.dumps(obj)
    return "%s\t%08x\n" % (text, crc32(text.encode()) & 0xFFFFFFFF)


def decode(line):
    """The value of an intact line (bytes or str), or None for a torn or
    corrupt one: no newline at the end, a CRC that does not match, or JSON
    that is not strict (pump/jsontext.py: the same verdict on both VMs).
    The caller checks that the value is the record it expects."""
    if isinstance(line, str):
        line = line.encode()
    if not line.endswith(b"\n"):
        return None
    i = line.rfind(b"\t")
    if i < 0:
        return None
    text = line[:i]
    if ("%08x" % (crc32(text) & 0xFFFFFFFF)).encode() != line[i + 1:-1]:
        return None
    from pump.jsontext import loads
    return loads(text)[0]


class Record:
    def __init__(self):
        self.s = array("i", bytes(4 * R_SLOTS))
        self.levels = [0, 0, 0]             # bit n = level n used, per mode
        self.faults = [0] * MAX_FAULTS
        self.n_faults = 0
        self.start(0, None, 0, 0, 0, "none")
        self.active = False

    active = slot(R_ACTIVE, True)
    duration_ms = slot(R_DURATION)
    seen_seq = slot(R_SEEN)
    bucket = slot(R_BUCKET)
    peak_i = slot(R_PEAK_I)

    @property
    def mode_ms(self):
        """ms per stimulation, expression, mixed, rest, paused (a writable view)."""
        return memoryview(self.s)[R_MODE:R_MODE + 5]

    @property
    def peak_pa(self):
        """The peak per cycle mode, Pa (a writable view)."""
        return memoryview(self.s)[R_PEAK:R_PEAK + 2]

    def start(self, seq, start_s, uptime_s, boot, program, schedule):
        self.seq = seq
        self.start_s = start_s
        self.uptime_s = uptime_s
        self.boot = boot
        self.program = program
        self.schedule = schedule
        s = self.s
        i = 0
        while i < R_SLOTS:
            s[i] = 0
            i += 1
        self.levels[0] = self.levels[1] = self.levels[2] = 0
        self.n_faults = 0
        self.end = 0
        self.at_least = False
        s[R_ACTIVE] = 1
        s[R_SEEN] = -1
        s[R_BUCKET] = -1
        s[R_PEAK_I] = -1

    def update(self, dt_ms, out):
        """dt_ms more of the session (allocation-free): a write's stall
        (Books.stalled); the tick does the same in Books.tick. Where the
        time and the peak go depends only on the outputs that move out.seq
        (state, mode, level, cycle mode): worked out when it moves."""
        s = self.s
        if not s[R_ACTIVE]:
            return
        s[R_DURATION] += dt_ms
        if out.seq != s[R_SEEN]:
            self._follow(out)
        b = s[R_BUCKET]
        if b >= 0:
            s[R_MODE + b] += dt_ms
        cm = s[R_PEAK_I]
        if cm >= 0 and out.vacuum_pa > s[R_PEAK + cm]:
            s[R_PEAK + cm] = out.vacuum_pa

    def _follow(self, out):
        """The mode_ms bucket (-1: none) and the peak (-1: none) of the
        outputs' state, and the level they show marked as used."""
        s = self.s
        s[R_SEEN] = out.seq
        st = out.state
        b = -1
        cm = -1
        if st == _RUNNING:
            m = out.mode
            if m >= 0:
                b = m
                if out.level < 30:
                    self.levels[m] |= 1 << out.level
            c = out.cycle_mode
            if c == _STIMULATION or c == _EXPRESSION:
                cm = c
        elif st == _RESTING:
            b = 3
        elif st == _PAUSED:
            b = 4
        s[R_BUCKET] = b
        s[R_PEAK_I] = cm

    def fault(self, code):
        if self.active and self.n_faults < MAX_FAULTS:
            self.faults[self.n_faults] = code
            self.n_faults += 1

    def finish(self, end):
        self.end = end
        self.active = False

    def as_dict(self, board_id, board_name, program_names):
        from pump.limits import pa_to_mmhg_x10
        lv = {}
        for m in (MODE_STIMULATION, MODE_EXPRESSION, MODE_MIXED):
            lv[MODE_NAMES[m]] = [n for n in range(1, 30) if self.levels[m] >> n & 1]
        return {
            "v": VERSION, "board": board_id, "board_name": board_name, "seq": self.seq, "boot": self.boot,
            "start": iso(self.start_s), "uptime_s": self.uptime_s, "duration_s": self.duration_ms // 1000,
            "duration_at_least": self.at_least,
            "program": program_names[self.program] if 0 <= self.program < len(program_names) else "?",
            "mode_s": {"stimulation": self.mode_ms[0] // 1000, "expression": self.mode_ms[1] // 1000,
                       "mixed": self.mode_ms[2] // 1000, "rest": self.mode_ms[3] // 1000,
                       "paused": self.mode_ms[4] // 1000},
            "levels": lv,
            "peak_mmhg": {"stimulation": pa_to_mmhg_x10(self.peak_pa[0]) / 10,
                          "expression": pa_to_mmhg_x10(self.peak_pa[1]) / 10},
            "faults": [FAULT_NAMES[self.faults[i]] for i in range(self.n_faults)],
            "end": END_NAMES[self.end] if self.end else None,
            "schedule": self.schedule,
        }
