"""Battery-backed clock modules on I2C: DS3231 (0x68) and PCF8563 (0x51).

Why it exists: an RP2040 forgets the time at every reset and power-up, and
the session log wants it. A module with a coin cell keeps counting while the
board is off; hw/wallclock.py reads it at boot and writes it when the host
hands the time over. read() vouches for what it returns or raises RtcError
with one line saying why; the pump never needs the time to run.

API: DS3231(i2c) / PCF8563(i2c) (no bus traffic until called), read() ->
(year, month, day, hour, minute, second) with 2000 <= year <= 2099, and
write(t) with that 6-tuple. Any bus OSError becomes RtcError.

Datasheet facts (Maxim DS3231; NXP PCF8563), all registers BCD:
- DS3231 0x00-0x06: seconds, minutes, hours, day of week, date, month,
  year. Hours bit 6 = 12-hour mode (then bit 5 = PM, hours 1-12); in 24-hour
  mode bit 5 is the 20-hours digit. Month bit 7 = century, toggled when the
  year overflows 99 -> 00: set means 2100 or later, refused (written 0).
  0x0E control bit 7 EOSC: 1 stops the oscillator on battery (written 0).
  0x0F status bit 7 OSF: set whenever the oscillator stopped (first power,
  both supplies too low, EOSC); stays set until written 0.
- PCF8563 0x00 control_1: bit 7 TEST1 (external clock test mode), bit 5
  STOP (clock stopped), bit 3 TESTC, the rest written 0. 0x02-0x08: seconds
  (bit 7 VL: supply fell below V_low, "clock integrity not guaranteed"),
  minutes, hours, days, weekdays, century_months, years. Unused bits read
  undefined: masked. Month bit 7 C: 0 = 20xx (datasheet rev 5; rev 10:
  0 = century x, 1 = x + 1): set is refused (19xx, or past 2099), written 0.
- Both count every year divisible by 4 as a leap year (right for 2000-2099)
  and buffer the time registers during one transfer, so time is read and
  written in a single transfer each.
- Day of week, written by the driver and never trusted on read: DS3231
  1 = Monday ... 7 = Sunday (its value is user-defined, only sequential);
  PCF8563 0 = Sunday ... 6 = Saturday (its weekday table).
"""


class RtcError(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


def _bcd(v):
    """A BCD byte's value, or -1 when a digit is above 9."""
    hi, lo = v >> 4, v & 0x0F
    return hi * 10 + lo if hi < 10 and lo < 10 else -1


def _b(n):
    return (n // 10) << 4 | n % 10


def _mdays(y, mo):
    if mo == 2:
        return 29 if y % 4 == 0 else 28       # 2000-2099: every fourth year
    return 30 if mo in (4, 6, 9, 11) else 31


def _weekday(y, mo, d):
    """Monday 0 ... Sunday 6 (2000-01-01 was a Saturday)."""
    n = (y - 2000) * 365 + (y - 1997) // 4 + d - 1    # (y - 1997) // 4: leap days before y
    m = 1
    while m < mo:
        n += _mdays(y, m)
        m += 1
    return (n + 5) % 7


def _valid(t):
    y, mo, d, h, mi, s = t
    return 2000 <= y <= 2099 and 1 <= mo <= 12 and 1 <= d <= _mdays(y, mo) and 0 <= h <= 23 \
        and 0 <= mi <= 59 and 0 <= s <= 59


class _Module:
    name = ""
    addr = 0

    def __init__(self, i2c, bus=None):
        self._i2c = i2c
        self._at = "0x%02x" % self.addr if bus is None else "0x%02x on I2C%d" % (self.addr, bus)

    def _absent(self):
        return RtcError("no %s answers at %s: module missing, unpowered or miswired" % (self.name, self._at))

    def _get(self, reg, n):
        try:
            return self._i2c.readfrom_mem(self.addr, reg, n)
        except OSError:
            pass
        raise self._absent()

    def _put(self, reg, buf):
        try:
            self._i2c.writeto_mem(self.addr, reg, buf)
            return
        except OSError:
            pass
        raise self._absent()

    def _stopped(self, why):
        return RtcError("%s %s: the module lost power or its battery is flat: time not kept" % (self.name, why))

    def _checked(self, t, regs):
        if not _valid(t):
            raise RtcError("%s registers hold no valid time (%s): damaged module, or another chip at %s" % (
                self.name, " ".join(["%02x" % v for v in regs]), self._at))
        return t

    def _fields(self, t):
        """t's fields and its weekday (Monday 0), or RtcError: nothing is
        written from a tuple the module cannot hold."""
        ok = isinstance(t, (tuple, list)) and len(t) == 6
        if ok:
            for v in t:
                ok = ok and type(v) is int
        if not ok or not _valid(t):
            raise RtcError("%s cannot hold %r: it keeps (year, month, day, hour, minute, second) from 2000 to "
                           "2099" % (self.name, t))
        y, mo, d, h, mi, s = t
        return y, mo, d, h, mi, s, _weekday(y, mo, d)


class DS3231(_Module):
    name = "DS3231"
    addr = 0x68

    def read(self):
        r = self._get(0x00, 16)               # time 0x00-0x06 ... control 0x0E, status 0x0F: one snapshot
        if r[15] & 0x80:
            raise self._stopped("oscillator stopped (OSF)")
        if r[5] & 0x80:
            raise RtcError("DS3231 century bit set: a year past 2099, or set by other software: set the clock")
        hr = r[2]
        if hr & 0x40:                         # 12-hour mode: 12 AM is 0 h, 12 PM is 12 h
            h = _bcd(hr & 0x1F)
            h = h % 12 + (12 if hr & 0x20 else 0) if 1 <= h <= 12 else -1
        else:
            h = _bcd(hr & 0x3F)
        return self._checked((2000 + _bcd(r[6]), _bcd(r[5] & 0x1F), _bcd(r[4] & 0x3F), h, _bcd(r[1] & 0x7F),
                              _bcd(r[0] & 0x7F)), r[0:7])

    def write(self, t):
        y, mo, d, h, mi, s, wd = self._fields(t)
        # 24-hour mode, century 0; then EOSC and OSF cleared, the other
        # control and status bits kept (writing A1F/A2F back as read leaves
        # them: they clear only on a 0).
        self._put(0x00, bytes((_b(s), _b(mi), _b(h), wd + 1, _b(d), _b(mo), _b(y - 2000))))
        c = self._get(0x0E, 2)
        self._put(0x0E, bytes((c[0] & 0x7F, c[1] & 0x7F)))


class PCF8563(_Module):
    name = "PCF8563"
    addr = 0x51

    def read(self):
        r = self._get(0x00, 9)                # control_1, control_2, time 0x02-0x08: one snapshot
        if r[2] & 0x80:
            raise self._stopped("voltage-low flag (VL) set")
        if r[0] & 0xA0:
            raise RtcError("PCF8563 clock stopped (STOP or TEST1 set in control_1): time not kept: set the clock")
        if r[7] & 0x80:
            raise RtcError("PCF8563 century bit set: 19xx or a year past 2099, or set by other software: set the "
                           "clock")
        return self._checked((2000 + _bcd(r[8]), _bcd(r[7] & 0x1F), _bcd(r[5] & 0x3F), _bcd(r[4] & 0x3F),
                              _bcd(r[3] & 0x7F), _bcd(r[2] & 0x7F)), r[2:9])

    def write(self, t):
        y, mo, d, h, mi, s, wd = self._fields(t)
        # VL = 0 and C = 0 with the time; then STOP and TEST1 cleared, TESTC
        # kept and the unused control_1 bits written 0 as the datasheet asks.
        self._put(0x02, bytes((_b(s), _b(mi), _b(h), _b(d), (wd + 1) % 7, _b(mo), _b(y - 2000))))
        c = self._get(0x00, 1)
        self._put(0x00, bytes((c[0] & 0x08,)))
