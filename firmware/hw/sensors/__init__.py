"""Pressure sensor drivers: one module per family, one contract.

Every driver is built with its pins/bus already created (board.py does that
from the board file) and its calibration, and offers:

- `period_ms`: nominal time between new readings (the app ticks no faster).
- `max_vacuum_pa`: the highest vacuum the part can report as configured; the
  board check refuses a profile limit the sensor cannot see.
- `begin()`: blocking start-up, once at boot (before the control loop): e.g.
  an absolute sensor measures ambient here. Raises SensorError on failure.
- `poll()`: non-blocking, once per tick. Returns NEW with the reading in
  `vacuum_pa` (int Pa, vacuum-positive: 0 = ambient), NONE when nothing new
  is ready, or a fault code (FAULT_SENSOR_IO, FAULT_SENSOR_RANGE). It never
  waits for a conversion, never raises (bus OSErrors become FAULT_SENSOR_IO)
  and allocates nothing in steady state.
- `read(clock, timeout_ms)`: blocking convenience for calibration and the
  REPL: polls until a reading arrives; returns Pa or raises SensorError.

Saturation is always a fault, never a pressure (docs/sensors.md: a saturated
sensor reads a plausible value while the real vacuum climbs).
"""
from micropython import const

from pump.codes import FAULT_SENSOR_IO, FAULT_SENSOR_RANGE, FAULT_SENSOR_STALE

NEW = const(0)
NONE = const(-1)


class SensorError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class Gain:
    """round(x * gain) in small ints, for |x| <= xmax < 2^28.

    A 32-bit port's small ints end at 2^30, so a 24-bit count cannot simply
    be multiplied by a scale factor. At load time the gain becomes m / 2^s
    with 2^14 <= |m| <= 2^15, and x is split at bit k so that both halves
    times m stay below 2^30; apply() is then integer-only and allocation-free.
    """

    def __init__(self, gain, xmax):
        k = 0
        while (xmax >> k) >= 1 << 14:
            k += 1
        s = 0
        while abs(gain) * (1 << (s + 1)) < 32768:
            s += 1
        x = gain * (1 << s)
        m = int(x + 0.5) if x >= 0 else -int(0.5 - x)
        if s < k or abs(m) > 32768:
            raise ValueError("calibration out of the integer range")
        self.m = m
        self.k = k
        self.mask = (1 << k) - 1
        self.d = s - k
        self.half = 1 << (s - k) >> 1

    def apply(self, x):
        m = self.m
        k = self.k
        y = (x >> k) * m + (((x & self.mask) * m) >> k)
        return (y + self.half) >> self.d


def read_blocking(sensor, clock, timeout_ms):
    """Poll `sensor` until a reading arrives (for read() implementations)."""
    start = clock.ticks_ms()
    while True:
        status = sensor.poll()
        if status == NEW:
            return sensor.vacuum_pa
        if status > 0:
            raise SensorError(status, "sensor fault %d" % status)
        if clock.ticks_diff(clock.ticks_ms(), start) > timeout_ms:
            raise SensorError(FAULT_SENSOR_STALE, "no reading within %d ms" % timeout_ms)
        clock.sleep_ms(1)


__all__ = ("NEW", "NONE", "Gain", "SensorError", "read_blocking", "FAULT_SENSOR_IO", "FAULT_SENSOR_RANGE")
