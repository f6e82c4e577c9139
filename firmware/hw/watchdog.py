"""Hardware watchdog, fed only after a complete tick (safety rule 6).

If the loop hangs, raises past its handler or a tick never finishes, the
board resets; boot is safe (motor off, valve vented) and never resumes
pumping. rp2 caps the timeout at 8388 ms and a started rp2 watchdog cannot
be stopped, so it is only started when the control loop starts.
"""
RP2_MAX_TIMEOUT_MS = 8388


class Watchdog:
    def __init__(self, wdt_class, timeout_ms):
        if timeout_ms > RP2_MAX_TIMEOUT_MS:
            timeout_ms = RP2_MAX_TIMEOUT_MS
        self.timeout_ms = timeout_ms
        self.wdt = wdt_class(timeout=timeout_ms)
        # feed() is the machine.WDT's own bound method: one C call per tick.
        self.feed = self.wdt.feed
