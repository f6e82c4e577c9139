"""Honeywell MPRLS0025PA00001A: I2C (0x18), absolute, 0-25 psi.

Why it exists: a calibrated, temperature-compensated digital part that
covers any pump vacuum with margin and reports its own faults.

Protocol (Honeywell datasheet via docs/sensors.md, Linux/Zephyr drivers):
- Write AA 00 00 to start a conversion (~5 ms); read 4 bytes: status, then
  a 24-bit big-endian count.
- Status 0x40 = powered and good; 0x20 busy; 0x04 memory integrity failed;
  0x01 math saturation. Anything but exactly 0x40 is not a reading.
- Transfer function A: P = (count - 1677722) * 172369 / 13421772 Pa, valid
  for counts 1677722..15099494 (10..90 % of 2^24). Outside that is outside
  the calibrated range (and below 0 Pa absolute impossible): RANGE.
- Absolute: vacuum = ambient - P. begin() measures ambient (the valve must be
  open) from several conversions and refuses an implausible or unsteady one:
  a boot-time ambient measured under residual vacuum would make every later
  reading too low, i.e. the real vacuum higher than the firmware believes.
  `ambient_pa` may be refreshed by the app while the line is vented.
"""
from micropython import const

from hw.sensors import (FAULT_SENSOR_IO, FAULT_SENSOR_RANGE, NEW, NONE,
                        SensorError, read_blocking)

_START = b"\xaa\x00\x00"
_COUNT_MIN = const(1677722)       # 0 Pa
_COUNT_MAX = const(15099494)      # 172369 Pa (25 psi)
_M = const(861845)                # round(172369 * 2^26 / 13421772)
_AMBIENT_N = const(8)
_AMBIENT_MIN_PA = const(50000)    # ~5500 m altitude
_AMBIENT_MAX_PA = const(110000)   # above any weather at sea level
_AMBIENT_SPREAD_PA = const(500)   # ~4 mmHg: still venting, or a leak


class MPRLS:
    period_ms = 6

    def __init__(self, i2c, address=0x18):
        self._i2c, self._addr = i2c, address
        self._buf = bytearray(4)
        self._pending = False         # a conversion was started, not yet collected
        self.ambient_pa = 0
        self.abs_pa = 0
        self.vacuum_pa = 0
        # Vacuum at 0 Pa absolute = ambient; before begin() the lowest
        # ambient begin() accepts.
        self.max_vacuum_pa = _AMBIENT_MIN_PA

    def begin(self, clock):
        self._pending = False
        total, lo, hi = 0, 1 << 20, -1
        i = 0
        while i < _AMBIENT_N:
            try:
                read_blocking(self, clock, 100)
            except SensorError as e:
                raise SensorError(e.code, "MPRLS at 0x%02x: %s" % (self._addr, e.message))
            p = self.abs_pa
            total += p
            lo, hi = min(lo, p), max(hi, p)
            i += 1
        ambient = (total + _AMBIENT_N // 2) // _AMBIENT_N
        if not _AMBIENT_MIN_PA <= ambient <= _AMBIENT_MAX_PA or hi - lo > _AMBIENT_SPREAD_PA:
            raise SensorError(FAULT_SENSOR_RANGE, "MPRLS ambient %d Pa (spread %d Pa) is not "
                              "a steady atmosphere: valve open, pump off?" % (ambient, hi - lo))
        self.ambient_pa = ambient
        self.max_vacuum_pa = ambient

    def read(self, clock, timeout_ms=500):
        return read_blocking(self, clock, timeout_ms)

    def poll(self):
        i2c, b = self._i2c, self._buf
        try:
            if not self._pending:
                i2c.writeto(self._addr, _START)
                self._pending = True
                return NONE                   # collect on a later poll
            i2c.readfrom_into(self._addr, b)
            s = b[0]
            if s & 0x60 == 0x60:
                return NONE                   # powered, still busy: keep waiting
            i2c.writeto(self._addr, _START)   # next conversion runs meanwhile
        except OSError:
            self._pending = False             # restart from scratch next poll
            return FAULT_SENSOR_IO
        if s != 0x40:
            if s & 0x40 and s & 0x01 and not s & 0x04:
                return FAULT_SENSOR_RANGE     # math saturation
            return FAULT_SENSOR_IO            # no power bit, integrity, stray bits
        count = (b[1] << 16) | (b[2] << 8) | b[3]
        if count < _COUNT_MIN or count > _COUNT_MAX:
            return FAULT_SENSOR_RANGE
        # P = d * 172369 / 13421772 = d * _M / 2^26, d < 2^24 split in bytes
        # so that no product exceeds 2^28.
        d = count - _COUNT_MIN
        y = ((d & 0xFF) * _M) >> 8
        y = (((d >> 8) & 0xFF) * _M + y) >> 8
        p = ((d >> 16) * _M + y + 512) >> 10
        self.abs_pa = p
        self.vacuum_pa = self.ambient_pa - p
        return NEW
