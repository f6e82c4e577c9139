"""A virtual clock with the boards' tick arithmetic (wraps at 2^30 ms).

The unix port of MicroPython wraps its ticks at 2^62 and CPython has none, so
a wrap bug would never show on the host with the real `time` module. Host
runs (tests, simulator, app under the fake `machine`) use this clock
instead; it implements `ticks_ms`, `ticks_add`, `ticks_diff` and `sleep_ms`
exactly as MicroPython's extmod/modtime does for a 2^30 period, and runs
unchanged under CPython and the MicroPython VM.
"""

TICKS_PERIOD = 1 << 30
TICKS_MAX = TICKS_PERIOD - 1
TICKS_HALFPERIOD = TICKS_PERIOD >> 1


def ticks_add(ticks, delta):
    return (ticks + delta) & TICKS_MAX


def ticks_diff(end, start):
    # Signed difference in (-2^29, 2^29], as the boards compute it.
    return ((end - start + TICKS_HALFPERIOD) & TICKS_MAX) - TICKS_HALFPERIOD


class ClockStop(Exception):
    """Raised by sleep_ms once the run's time budget is spent: how a host run
    of the firmware's endless main loop ends."""


class FakeClock:
    """Time only moves when the host says so (`advance`) or the firmware
    sleeps (`sleep_ms`), so runs are deterministic."""

    def __init__(self, start_ms=0):
        self.now = start_ms & TICKS_MAX
        self.slept_ms = 0
        self.elapsed_ms = 0
        self.stop_after_ms = None

    def ticks_ms(self):
        return self.now

    def ticks_us(self):
        return (self.now * 1000) & TICKS_MAX

    def ticks_add(self, ticks, delta):
        return ticks_add(ticks, delta)

    def ticks_diff(self, end, start):
        return ticks_diff(end, start)

    def advance(self, ms):
        self.now = (self.now + ms) & TICKS_MAX
        self.elapsed_ms += ms

    def sleep_ms(self, ms):
        if self.stop_after_ms is not None and self.elapsed_ms >= self.stop_after_ms:
            raise ClockStop()
        if ms > 0:
            self.advance(ms)
            self.slept_ms += ms
