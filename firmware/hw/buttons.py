"""The board's push buttons: pins in, session events out.

Polled once per tick (a button is a slow signal; polling keeps interrupt
handlers and their allocation out of the firmware). Buttons switch to ground
with the internal pull-up by default (`active_low`). Debounce and the meaning
of each press live in pump/buttons.py.
"""
from pump.buttons import PRESS_DOWN, PRESS_NONE, Debounce, event_for


class Buttons:
    def __init__(self, pins, active_low=True, debounce_ms=30, long_ms=1500):
        """pins: a list indexed by BTN_*, None where the board has no such
        button."""
        self.pins = pins
        self.pressed_level = 0 if active_low else 1
        self.debounce = [Debounce(debounce_ms, long_ms) if p is not None else None for p in pins]
        self.events = [0] * len(pins)
        self.count = 0
        # The pins' bound value() methods, made once: nearly every tick only
        # reads them (quiet: every button released and its debounce settled,
        # so no debouncer would change; a Python call costs ~10 us on a Pico).
        self.reads = tuple(p.value for p in pins if p is not None)
        self.quiet = False

    def poll(self, dt_ms, state):
        """Update every button; fills self.events[:self.count] with the
        session events this tick produced, and returns the count."""
        if self.quiet:
            lv = self.pressed_level
            for r in self.reads:
                if r() == lv:
                    break
            else:
                self.count = 0
                return 0
        n = 0
        i = 0
        quiet = True
        count = len(self.pins)
        while i < count:                  # not `for ... range()`: no iterator per tick
            d = self.debounce[i]
            if d is not None:
                kind = d.update(self.pins[i].value() == self.pressed_level, dt_ms)
                ev = event_for(i, kind, state) if kind != PRESS_NONE else 0
                if ev:
                    if kind == PRESS_DOWN:
                        d.consume()
                    self.events[n] = ev
                    n += 1
                if d.raw or d.pressed or d.raw_ms < d.debounce_ms:
                    quiet = False
            i += 1
        self.quiet = quiet
        self.count = n
        return n
