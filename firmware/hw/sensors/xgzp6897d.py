"""CFSensor XGZP6897D / XGZP6847D: I2C (0x6D), gauge, temperature compensated.

Why it exists: a digital gauge part (no ambient to measure) that covers a
pump's range; common in -100..0 kPa and +/-100 kPa versions.

Protocol (CFSensor datasheet via docs/sensors.md):
- Write 0x0A to register 0x30: one combined pressure + temperature
  conversion. Bit 3 of 0x30 ("sco") reads 1 until it is done (a few ms,
  longer with high oversampling; up to ~20 ms): poll it, never sleep.
- 5 bytes from 0x06: pressure (24-bit two's complement), temperature
  (16-bit two's complement, 1/256 deg C).
- P (Pa, gauge) = signed24 / K; K by the range's positive magnitude:
  65-131 kPa -> 64 (K = 64 for a -100..0 kPa part is an inference: check
  the part). Vacuum = -P. 0x800000 is -2^23 (a popular driver makes it
  +2^23: a full-vacuum reading turned into overpressure).
- The codes at the 24-bit ends (0x7FFFFF, 0x800000) are the K-scaled end of
  the range: a saturated reading, so RANGE.
- (unverified) newer parts may answer at 0x58 with another register map.
"""
from micropython import const

from hw.sensors import (FAULT_SENSOR_IO, FAULT_SENSOR_RANGE, NEW, NONE,
                        SensorError, read_blocking)

_REG_CMD = const(0x30)
_REG_DATA = const(0x06)
_SCO = const(0x08)
_START = b"\x0a"                  # sco=1, combined pressure + temperature


class XGZP6897D:
    period_ms = 6

    def __init__(self, i2c, k=64, address=0x6D):
        k = int(k)
        if k <= 0:
            raise ValueError("XGZP6897D k must be a positive int")
        self._i2c, self._k, self._addr = i2c, k, address
        self._cmd = bytearray(1)
        self._buf = bytearray(5)
        self._pending = False
        # K only says the rated range lies in (2^22/K, 2^23/K] Pa: promise
        # the lower end (65536 Pa for K = 64) so the board check never
        # trusts a reading beyond the part's rating.
        self.max_vacuum_pa = (1 << 22) // k
        self.raw = 0              # last signed pressure code
        self.temp_c256 = 0        # last temperature, 1/256 deg C
        self.vacuum_pa = 0

    def begin(self, clock):
        self._pending = False
        try:
            read_blocking(self, clock, 100)
        except SensorError as e:
            raise SensorError(e.code, "XGZP6897D at 0x%02x: %s" % (self._addr, e.message))

    def read(self, clock, timeout_ms=500):
        return read_blocking(self, clock, timeout_ms)

    def poll(self):
        i2c, a, b = self._i2c, self._addr, self._buf
        try:
            if not self._pending:
                i2c.writeto_mem(a, _REG_CMD, _START)
                self._pending = True
                return NONE                     # collect on a later poll
            i2c.readfrom_mem_into(a, _REG_CMD, self._cmd)
            if self._cmd[0] & _SCO:
                return NONE                     # still converting
            i2c.readfrom_mem_into(a, _REG_DATA, b)
            i2c.writeto_mem(a, _REG_CMD, _START)  # next conversion runs meanwhile
        except OSError:
            self._pending = False
            return FAULT_SENSOR_IO
        t = (b[3] << 8) | b[4]
        self.temp_c256 = t - 0x10000 if t & 0x8000 else t
        raw = (b[0] << 16) | (b[1] << 8) | b[2]
        if raw & 0x800000:
            raw -= 0x1000000                    # 0x800000 -> -8388608
        self.raw = raw
        if raw == 0x7FFFFF or raw == -0x800000:
            return FAULT_SENSOR_RANGE
        # vacuum = -raw / K, rounded half up; |raw| < 2^23.
        self.vacuum_pa = (self._k // 2 - raw) // self._k
        return NEW
