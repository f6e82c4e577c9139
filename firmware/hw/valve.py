"""The release valve: a normally-open solenoid on a digital output.

Normally open means it vents when unpowered, so a reset, a brown-out or a
cut wire releases the vacuum (safety rule 7). "Open" here always means
vented, whatever the wiring: energised = closed, and `active_high` says
which pin level energises the coil (a low-side MOSFET: high; some relay
boards: low).
"""


class Valve:
    def __init__(self, pin, active_high=True):
        self.pin = pin
        self.energise = 1 if active_high else 0
        self.rest = 0 if active_high else 1
        self.is_open = None
        self.open()

    def open(self):
        """Vent: de-energise the coil."""
        self.pin.value(self.rest)
        self.is_open = True

    def close(self):
        """Seal for suction: energise the coil."""
        self.pin.value(self.energise)
        self.is_open = False

    def set_open(self, vent):
        """The tick's call, at each phase change: open()/close() inlined
        (a call is ~20 us on an RP2040, and a cycle boundary's tick is the
        one closest to its budget)."""
        if vent:
            if self.is_open is not True:
                self.pin.value(self.rest)
                self.is_open = True
        elif self.is_open is not False:
            self.pin.value(self.energise)
            self.is_open = False
