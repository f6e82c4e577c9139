"""Protocol-level models of the pressure sensors, for the fake `machine`.

Each model speaks its part's real protocol on the fake world's pins, ADC or
I2C bus and takes a *source* callable for the physical quantity:

- HX710BModule(world, sck, dout, source): source() -> the raw count the
  bridge would produce (int; the model saturates it to 24 bits).
- MPRLSDevice(source): source() -> absolute pressure, Pa.
- XGZP6897DDevice(source, k): source() -> gauge pressure, Pa (< 0 under vacuum).
- XGZP6847AOutput(source, ...): source() -> gauge Pa; .pin_volts() for
  world.attach_adc (sensor transfer function and the board's divider).
- DS3231Device(time), PCF8563Device(time): battery-backed clock chips, a
  register file whose time runs with world.clock (see _ClockChip).

Timing comes from world.clock (time moves only when the host advances it or
the firmware sleeps). Failure knobs are plain attributes (see each class);
counters record what the firmware did, so tests can check the protocol.

Runs under CPython and the MicroPython unix port. In steady state the
models allocate nothing when their sources return ints (the simulator
measures the firmware's heap use through them); the fake machine's ADC
itself computes in floats.
"""

HX_DEFAULT_PULSES = 25          # after power-up/reset: differential, 10 Hz
SAT_POS = 0x7FFFFF
SAT_NEG = -0x800000


def _sat24(x):
    x = int(x)
    if x > SAT_POS:
        return SAT_POS
    if x < SAT_NEG:
        return SAT_NEG
    return x


class HX710BModule:
    """HX710B: DOUT high while converting (100 ms at 10 Hz, 25 ms at 40 Hz;
    `startup_ms` after power-up or a power-down reset), low when ready; each
    SCK rising edge presents the next bit MSB first; the 25th pulse drives
    DOUT high; 25/26/27 pulses pick the next conversion's mode. A read
    sequence ends when the clock moves on.

    The first conversion after power-up or a mode change is unsettled: it
    reads `settle_error` counts off. Knobs: stuck_low (DOUT always 0),
    never_ready (DOUT always 1), raw_override (None or a 24-bit code to send).
    Counters: reads (finished sequences), seq_counts[n] (sequences of n
    pulses, n >= 31 in the last slot), protocol_errors (sequences of < 25 or
    > 27 pulses, pulses while not ready), early_pulses, unprotected_pulses
    (rising edges while IRQs were enabled), powerdowns (SCK high while time
    passed)."""

    def __init__(self, world, sck_pin, dout_pin, source, startup_ms=400, settle_error=777777):
        self.world = world
        self.clock = world.clock
        self.source = source
        self.startup_ms = startup_ms
        self.settle_error = settle_error
        self.stuck_low = False
        self.never_ready = False
        self.raw_override = None
        self.reads = 0
        self.seq_counts = [0] * 32
        self.protocol_errors = 0
        self.early_pulses = 0
        self.unprotected_pulses = 0
        self.powerdowns = 0
        self.mode = HX_DEFAULT_PULSES
        self.sck = 0
        self.pulses = 0
        self.data = 0
        self.t_last = 0
        self.t_high = 0
        self._power_up()
        world.attach_input(dout_pin, self.dout)
        world.attach_write_hook(sck_pin, self.on_sck)

    def _power_up(self):
        self.mode = HX_DEFAULT_PULSES
        self.settling = True
        self.t_start = self.clock.ticks_ms()
        self.conv_ms = self.startup_ms
        self.pulses = 0

    def period_ms(self):
        return 100 if self.mode == 25 else 25

    def ready(self):
        return self.clock.ticks_diff(self.clock.ticks_ms(), self.t_start) >= self.conv_ms

    def _end_sequence(self):
        # The clock moved since the last pulse: the read sequence is over.
        n = self.pulses
        if n == 0 or self.clock.ticks_ms() == self.t_last:
            return
        self.pulses = 0
        self.reads += 1
        self.seq_counts[n if n < 31 else 31] += 1
        if n < 25 or n > 27:
            self.protocol_errors += 1
            self.settling = True              # a communication error: data unreliable
        else:
            self.settling = n != self.mode
            self.mode = n
        self.t_start = self.t_last            # next conversion starts after the pulses
        self.conv_ms = self.period_ms()

    def dout(self):
        if self.stuck_low:
            return 0
        if self.never_ready:
            return 1
        self._end_sequence()
        n = self.pulses
        if n:
            return (self.data >> (24 - n)) & 1 if n <= 24 else 1
        return 0 if self.ready() else 1

    def on_sck(self, level):
        self._end_sequence()
        now = self.clock.ticks_ms()
        if not level:
            if self.sck and now != self.t_high:
                self.powerdowns += 1          # high across a clock step: > 60 us
                self._power_up()
            self.sck = 0
            return
        if self.sck:
            return
        self.sck = 1
        self.t_high = now
        if self.world.irq_disabled == 0:
            self.unprotected_pulses += 1
        if self.pulses == 0 and (self.never_ready or not self.ready()):
            self.early_pulses += 1
            self.protocol_errors += 1
            return
        if self.pulses == 0:
            self.data = self._sample()
        self.pulses += 1
        self.t_last = now

    def _sample(self):
        if self.raw_override is not None:
            return self.raw_override & 0xFFFFFF
        raw = self.source()
        if self.settling:
            raw += self.settle_error
        return _sat24(raw) & 0xFFFFFF


class MPRLSDevice:
    """MPRLS at 0x18: AA 00 00 starts a conversion of `conversion_ms`; a
    4-byte read returns status (0x40 powered, 0x20 busy, 0x04 integrity,
    0x01 saturation) and the count of the last finished conversion
    (transfer function A). Knobs: busy_forever, integrity_fail, saturated,
    no_power, nack (OSError(5) on every transfer), count_override,
    status_override. Counters: starts, starts_while_busy, reads,
    reads_busy, bad_commands."""

    def __init__(self, source, conversion_ms=5, clock=None):
        import machine
        self.clock = clock if clock is not None else machine.world.clock
        self.source = source
        self.conversion_ms = conversion_ms
        self.busy_forever = False
        self.integrity_fail = False
        self.saturated = False
        self.no_power = False
        self.nack = False
        self.count_override = None
        self.status_override = None
        self.starts = 0
        self.starts_while_busy = 0
        self.reads = 0
        self.reads_busy = 0
        self.bad_commands = 0
        self.t_start = 0
        self.converting = False
        self.count = 0
        self.sat = False

    def _busy(self):
        if not self.converting:
            return False
        if self.busy_forever:
            return True
        if self.clock.ticks_diff(self.clock.ticks_ms(), self.t_start) < self.conversion_ms:
            return True
        # finished: latch the result
        self.converting = False
        p = int(self.source())
        c = 1677722 + (p * 13421772 + 86184) // 172369
        self.sat = c < 0 or c > 0xFFFFFF
        self.count = 0 if c < 0 else (0xFFFFFF if c > 0xFFFFFF else c)
        return False

    def write(self, buf):
        if self.nack:
            raise OSError(5)
        if len(buf) == 3 and buf[0] == 0xAA and buf[1] == 0 and buf[2] == 0:
            if self._busy():
                self.starts_while_busy += 1
            self.starts += 1
            self.converting = True
            self.t_start = self.clock.ticks_ms()
        else:
            self.bad_commands += 1

    def read_into(self, buf):
        if self.nack:
            raise OSError(5)
        self.reads += 1
        busy = self._busy()
        if busy:
            self.reads_busy += 1
        s = 0 if self.no_power else 0x40
        if busy:
            s |= 0x20
        if self.integrity_fail:
            s |= 0x04
        if self.saturated or self.sat:
            s |= 0x01
        if self.status_override is not None:
            s = self.status_override
        c = self.count if self.count_override is None else self.count_override
        n = len(buf)
        if n > 0:
            buf[0] = s
        if n > 1:
            buf[1] = (c >> 16) & 0xFF
        if n > 2:
            buf[2] = (c >> 8) & 0xFF
        if n > 3:
            buf[3] = c & 0xFF

    def write_mem(self, reg, buf):
        self.bad_commands += 1

    def read_mem_into(self, reg, buf):
        self.bad_commands += 1
        self.read_into(buf)


class XGZP6897DDevice:
    """XGZP6897D at 0x6D: 0x0A to register 0x30 starts a combined
    conversion of `conversion_ms`; 0x30 reads 0x0A (sco set) until done,
    then 0x02; 0x06..0x0A hold pressure (24-bit, Pa * k) and temperature
    (16-bit, 1/256 deg C). Knobs: busy_forever, nack, raw_override (24-bit
    code), temp_c256. Counters: starts, status_reads, data_reads,
    data_reads_busy (data read while a conversion ran), bad_commands."""

    def __init__(self, source, k=64, conversion_ms=6, clock=None):
        import machine
        self.clock = clock if clock is not None else machine.world.clock
        self.source = source
        self.k = k
        self.conversion_ms = conversion_ms
        self.busy_forever = False
        self.nack = False
        self.raw_override = None
        self.temp_c256 = 25 * 256
        self.starts = 0
        self.status_reads = 0
        self.data_reads = 0
        self.data_reads_busy = 0
        self.bad_commands = 0
        self.converting = False
        self.t_start = 0
        self.raw = 0

    def _busy(self):
        if not self.converting:
            return False
        if self.busy_forever:
            return True
        if self.clock.ticks_diff(self.clock.ticks_ms(), self.t_start) < self.conversion_ms:
            return True
        self.converting = False
        self.raw = _sat24(self.source() * self.k) & 0xFFFFFF
        return False

    def write_mem(self, reg, buf):
        if self.nack:
            raise OSError(5)
        if reg == 0x30 and len(buf) == 1 and buf[0] == 0x0A:
            self._busy()
            self.starts += 1
            self.converting = True
            self.t_start = self.clock.ticks_ms()
        else:
            self.bad_commands += 1

    def read_mem_into(self, reg, buf):
        if self.nack:
            raise OSError(5)
        busy = self._busy()
        if reg == 0x30:
            self.status_reads += 1
            buf[0] = 0x0A if busy else 0x02
            return
        if reg != 0x06:
            self.bad_commands += 1
            return
        self.data_reads += 1
        if busy:
            self.data_reads_busy += 1
        r = self.raw if self.raw_override is None else self.raw_override & 0xFFFFFF
        t = self.temp_c256 & 0xFFFF
        n = len(buf)
        if n > 0:
            buf[0] = r >> 16
        if n > 1:
            buf[1] = (r >> 8) & 0xFF
        if n > 2:
            buf[2] = r & 0xFF
        if n > 3:
            buf[3] = t >> 8
        if n > 4:
            buf[4] = t & 0xFF

    def write(self, buf):
        self.bad_commands += 1

    def read_into(self, buf):
        self.bad_commands += 1


class XGZP6847AOutput:
    """XGZP6847A analog output behind the board's divider: V = 0.5 + 4.0 *
    (P - Pmin) / (Pmax - Pmin) at a 5 V supply (scaled with `supply_v`),
    clamped to [clamp_lo_v, clamp_hi_v]. pin_volts() is the ADC source.
    Knobs: open_wire (pin pulled to 0 V), shorted_to_supply, volts_override."""

    def __init__(self, source, pmin_pa=-100000, pmax_pa=0, divider=2.0 / 3.0,
                 supply_v=5.0, clamp_lo_v=0.1, clamp_hi_v=4.9):
        self.source = source
        self.pmin_pa = pmin_pa
        self.span_pa = pmax_pa - pmin_pa
        self.divider = divider
        self.supply_v = supply_v
        self.clamp_lo_v = clamp_lo_v
        self.clamp_hi_v = clamp_hi_v
        self.open_wire = False
        self.shorted_to_supply = False
        self.volts_override = None

    def sensor_volts(self):
        if self.volts_override is not None:
            return self.volts_override
        if self.shorted_to_supply:
            return self.supply_v
        k = self.supply_v / 5.0
        v = k * (0.5 + 4.0 * (self.source() - self.pmin_pa) / self.span_pa)
        if v < self.clamp_lo_v:
            return self.clamp_lo_v
        if v > self.clamp_hi_v:
            return self.clamp_hi_v
        return v

    def pin_volts(self):
        if self.open_wire:
            return 0.0
        return self.sensor_volts() * self.divider


# -- battery-backed clock chips ----------------------------------------------------

_MDAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _from_bcd(v):
    hi, lo = v >> 4, v & 0x0F
    return hi * 10 + lo if hi < 10 and lo < 10 else -1


def _to_bcd(n):
    return (n // 10) << 4 | n % 10


def _chip_mdays(yy, mo):
    """Both chips: February has 29 days when the year register is divisible
    by 4, 00 included (so 2100 is wrongly a leap year, as on the chips)."""
    return 29 if mo == 2 and yy % 4 == 0 else _MDAYS[mo - 1]


def _chip_day(c, yy, mo, d):
    """Day number in the chips' calendar: century bit, year register, ..."""
    n = c * 36525 + yy * 365 + (yy + 3) // 4 + d - 1
    for m in range(1, mo):
        n += _chip_mdays(yy, m)
    return n


def _chip_date(n):
    c, n = (n // 36525) & 1, n % 36525      # the century bit toggles at 99 -> 00
    yy = 0
    while n >= (366 if yy % 4 == 0 else 365):
        n -= 366 if yy % 4 == 0 else 365
        yy += 1
    mo = 1
    while n >= _chip_mdays(yy, mo):
        n -= _chip_mdays(yy, mo)
        mo += 1
    return c, yy, mo, n + 1


class _ClockChip:
    """A clock chip's register file on the fake I2C bus (attach with
    world.attach_i2c). Every transfer (its START) first brings the time
    registers up to world.clock.elapsed_ms, one count per whole second, by
    the chip's own calendar: BCD, the century bit toggled at year 99 -> 00,
    its leap-year rule, the weekday register stepped at midnight in its own
    range, 12-hour mode kept (DS3231). Registers holding an illogical time
    stop counting (the datasheets: "undefined operation"). A transfer's
    first byte written sets the register pointer; reads and writes go on
    from it and wrap past the last register to 0x00.

    Knobs: nack (OSError(5) on every transfer, as the fake bus answers for
    an address with no device: an unpowered module), poke(reg, value) (a raw
    register value, no masking: garbage), set_time(t) (what another program
    may have set), lose_power() (the supply and the coin cell both gone:
    power-on register values and the stop flag set; the chip counts on from
    them). Counters: transfers, time_writes (transfers that wrote time
    registers), partial_time_writes / partial_time_reads (transfers that
    covered only some of the time registers: a torn time), bad_writes
    (bits written that the datasheet says must be written 0, writes to
    read-only registers)."""

    SIZE = 0
    TIME = 0                                # first time register (seconds)
    WDAY0 = 0                               # weekday register range: WDAY0 .. WDAY0 + 6

    def __init__(self, time=None, clock=None):
        import machine
        self.clock = clock if clock is not None else machine.world.clock
        self.regs = bytearray(self.SIZE)
        self.ptr = 0
        self.nack = False
        self.transfers = 0
        self.time_writes = 0
        self.partial_time_writes = 0
        self.partial_time_reads = 0
        self.bad_writes = 0
        self.lose_power()
        if time is not None:
            self.set_time(time)
            self._clear_stop_flag()

    # -- what tests set and look at ------------------------------------------------
    def lose_power(self):
        self._power_on()
        self.t_ms = self.clock.elapsed_ms

    def poke(self, reg, value):
        self._sync()
        self.regs[reg] = value

    def set_time(self, t, hour12=False):
        """Time registers from (year 2000-2199, month, day, hour, minute,
        second); the weekday register as the driver would write it."""
        self._sync()
        y, mo, d, h, mi, s = t
        c, yy = (y - 2000) // 100, (y - 2000) % 100
        self._encode(c, yy, mo, d, h, mi, s, hour12)
        self.regs[self.TIME + self.WDAY_OFFSET] = self.WDAY0 + self._weekday_of(_chip_day(c, yy, mo, d))
        self.t_ms = self.clock.elapsed_ms

    def time(self):
        """(year, month, day, hour, minute, second) now, 24-hour, century
        bit as +100 years; None while the registers hold no valid time."""
        self._sync()
        v = self._decode()
        if v is None:
            return None
        c, yy, mo, d, h, mi, s = v
        return (2000 + 100 * c + yy, mo, d, h, mi, s)

    # -- the bus -------------------------------------------------------------------
    def _start(self):
        if self.nack:
            raise OSError(5)
        self.transfers += 1
        self._sync()

    def write(self, buf):
        self._start()
        if len(buf):
            self._write_from(buf[0], buf[1:])

    def write_mem(self, reg, buf):
        self._start()
        self._write_from(reg, buf)

    def read_into(self, buf):
        self._start()
        self._read(buf)

    def read_mem_into(self, reg, buf):
        self._start()
        self.ptr = reg % self.SIZE
        self._read(buf)

    def _read(self, buf):
        covered = 0
        for i in range(len(buf)):
            p = self.ptr
            buf[i] = self._load(p)
            if self.TIME <= p < self.TIME + 7:
                covered |= 1 << (p - self.TIME)
            self.ptr = (p + 1) % self.SIZE
        if covered and covered != 0x7F:
            self.partial_time_reads += 1

    def _write_from(self, reg, data):
        self.ptr = reg % self.SIZE
        covered = 0
        for v in data:
            p = self.ptr
            self._store(p, v)
            if self.TIME <= p < self.TIME + 7:
                covered |= 1 << (p - self.TIME)
            self.ptr = (p + 1) % self.SIZE
        if covered:
            self.time_writes += 1
            if covered != 0x7F:
                self.partial_time_writes += 1

    # -- counting ------------------------------------------------------------------
    def _sync(self):
        now = self.clock.elapsed_ms
        n = (now - self.t_ms) // 1000
        if n <= 0:
            return
        self.t_ms += n * 1000
        if not self._running():
            return
        v = self._decode()
        if v is None:
            return
        c, yy, mo, d, h, mi, s = v
        day0 = _chip_day(c, yy, mo, d)
        total = ((day0 * 24 + h) * 60 + mi) * 60 + s + n
        day, rem = total // 86400, total % 86400
        c, yy, mo, d = _chip_date(day)
        self._encode(c, yy, mo, d, rem // 3600, rem // 60 % 60, rem % 60, self._hour12())
        w = self.TIME + self.WDAY_OFFSET
        if self.WDAY0 <= self.regs[w] <= self.WDAY0 + 6:
            self.regs[w] = self.WDAY0 + (self.regs[w] - self.WDAY0 + day - day0) % 7

    def _weekday_of(self, day):
        """Weekday register offset from WDAY0 for a chip day number, in the
        driver's convention (day 0 = 2000-01-01, a Saturday)."""
        return (day + self.SAT) % 7

    def _fields(self):
        """Raw (c, yy, mo, d, h, mi, s) from the registers, -1 for bad BCD."""
        raise NotImplementedError

    def _decode(self):
        v = self._fields()
        c, yy, mo, d, h, mi, s = v
        if yy < 0 or not 1 <= mo <= 12 or not 1 <= d <= _chip_mdays(yy, mo) or not 0 <= h <= 23 \
                or not 0 <= mi <= 59 or not 0 <= s <= 59:
            return None
        return v


class DS3231Device(_ClockChip):
    """Maxim DS3231 at 0x68: registers 0x00-0x12 (time 0x00-0x06, alarms
    0x07-0x0D, control 0x0E, status 0x0F, aging 0x10, temperature 0x11-0x12,
    read-only). Bits the datasheet shows as 0 read 0. Status: OSF (bit 7),
    A2F, A1F clear only when written 0; EN32kHz is written; BSY read-only.
    Writing the seconds register restarts the second (the countdown chain).
    Weekday register 1-7 (the driver's 1 = Monday). Power-on: time 00:00:00
    2000-01-01, control 0x1C, status 0x88 (OSF, EN32kHz)."""

    SIZE = 0x13
    TIME = 0x00
    WDAY_OFFSET = 3
    WDAY0 = 1
    SAT = 5                                 # 2000-01-01: Saturday = 6 with 1 = Monday
    _MASK = (0x7F, 0x7F, 0x7F, 0x07, 0x3F, 0x9F, 0xFF) + (0xFF,) * 7 + (0xFF, 0x8F, 0xFF, 0xFF, 0xC0)

    def _power_on(self):
        r = self.regs
        for i in range(self.SIZE):
            r[i] = 0
        r[3], r[4], r[5] = 1, 1, 1
        r[0x0E], r[0x0F] = 0x1C, 0x88
        r[0x11] = 25                        # 25.00 C

    def _clear_stop_flag(self):
        self.regs[0x0F] &= 0x7F

    def _running(self):
        return True                         # on VCC the oscillator always runs (EOSC acts on battery only)

    def _hour12(self):
        return bool(self.regs[2] & 0x40)

    def _load(self, p):
        return self.regs[p]

    def _store(self, p, v):
        r = self.regs
        if p >= 0x11:
            self.bad_writes += 1            # temperature: read-only
        elif p == 0x0F:
            r[p] = (r[p] & v & 0x83) | (v & 0x08) | (r[p] & 0x04)
        else:
            if v & ~self._MASK[p] & 0xFF:
                self.bad_writes += 1
            r[p] = v & self._MASK[p]
        if p == 0:
            self.t_ms = self.clock.elapsed_ms

    def _encode(self, c, yy, mo, d, h, mi, s, hour12):
        r = self.regs
        if hour12:
            h12 = h % 12 or 12
            hr = 0x40 | (0x20 if h >= 12 else 0) | _to_bcd(h12)
        else:
            hr = _to_bcd(h)
        r[0], r[1], r[2] = _to_bcd(s), _to_bcd(mi), hr
        r[4], r[5], r[6] = _to_bcd(d), (c << 7) | _to_bcd(mo), _to_bcd(yy)

    def _fields(self):
        r = self.regs
        hr = r[2]
        if hr & 0x40:
            h = _from_bcd(hr & 0x1F)
            h = h % 12 + (12 if hr & 0x20 else 0) if 1 <= h <= 12 else -1
        else:
            h = _from_bcd(hr & 0x3F)
        return (r[5] >> 7, _from_bcd(r[6]), _from_bcd(r[5] & 0x1F), _from_bcd(r[4] & 0x3F), h,
                _from_bcd(r[1] & 0x7F), _from_bcd(r[0] & 0x7F))


class PCF8563Device(_ClockChip):
    """NXP PCF8563 at 0x51: registers 0x00-0x0F (control_1, control_2, time
    0x02-0x08, alarms 0x09-0x0C, CLKOUT 0x0D, timer 0x0E-0x0F). Unused bits
    read as `undefined_bits` (0x00 or 0xFF: the datasheet leaves them
    undefined); bits marked N must be written 0 (bad_writes). VL (bit 7 of
    0x02) is kept until written. STOP or TEST1 in control_1 stop the count;
    releasing STOP restarts the second. AF/TF in control_2 clear only when
    written 0. Weekday register 0-6 (0 = Sunday). Power-on: control_1 0x08
    (TESTC), VL set, time 00:00:00 2000-01-01, alarms disabled."""

    SIZE = 0x10
    TIME = 0x02
    WDAY_OFFSET = 4
    WDAY0 = 0
    SAT = 6                                 # 2000-01-01: Saturday = 6 with 0 = Sunday
    # Implemented bits per register; the rest read undefined.
    _MASK = (0xA8, 0x1F, 0xFF, 0x7F, 0x3F, 0x3F, 0x07, 0x9F, 0xFF, 0xFF, 0xBF, 0xBF, 0x87, 0x83, 0x83, 0xFF)

    def __init__(self, time=None, clock=None):
        self.undefined_bits = 0x00
        _ClockChip.__init__(self, time, clock)

    def _power_on(self):
        r = self.regs
        for i in range(self.SIZE):
            r[i] = 0
        r[0], r[2], r[5], r[6], r[7] = 0x08, 0x80, 1, 6, 1
        r[9], r[10], r[11], r[12], r[13], r[14] = 0x80, 0x80, 0x80, 0x80, 0x80, 0x03

    def _clear_stop_flag(self):
        self.regs[2] &= 0x7F

    def _running(self):
        return not self.regs[0] & 0xA0      # STOP, or TEST1 (counting from an external clock)

    def _hour12(self):
        return False

    def _load(self, p):
        m = self._MASK[p]
        return (self.regs[p] & m) | (self.undefined_bits & ~m & 0xFF)

    def _store(self, p, v):
        r = self.regs
        m = self._MASK[p]
        if p in (0, 1) and v & ~m & 0xFF:
            self.bad_writes += 1            # N bits: "should always be written with logic 0"
        if p == 0 and r[0] & 0x20 and not v & 0x20:
            self.t_ms = self.clock.elapsed_ms   # STOP released: the divider chain starts from 0
        if p == 1:
            r[1] = (v & 0x13) | (r[1] & v & 0x0C)
        else:
            r[p] = v & m

    def _encode(self, c, yy, mo, d, h, mi, s, hour12):
        r = self.regs
        r[2] = (r[2] & 0x80) | _to_bcd(s)   # VL kept
        r[3], r[4], r[5] = _to_bcd(mi), _to_bcd(h), _to_bcd(d)
        r[7], r[8] = (c << 7) | _to_bcd(mo), _to_bcd(yy)

    def _fields(self):
        r = self.regs
        return (r[7] >> 7, _from_bcd(r[8]), _from_bcd(r[7] & 0x1F), _from_bcd(r[5] & 0x3F),
                _from_bcd(r[4] & 0x3F), _from_bcd(r[3] & 0x7F), _from_bcd(r[2] & 0x7F))
