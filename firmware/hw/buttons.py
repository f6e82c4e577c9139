"""The board's push buttons: pins in, session events out.

Polled once per tick (a button is a slow signal; polling keeps interrupt
handlers and their allocation out of the firmware). Buttons switch to ground
with the internal pull-up by default (`active_low`). Debounce and the meaning
of each press live in pump/buttons.py.

On an RP2040 the quiet tick (every button released and settled, nearly
every tick) reads all the buttons at once: SIO's GPIO_IN register holds
the input level of every GPIO, bit n for GPIO n, and one `machine.mem32`
read of it costs about 3 us on the chip: the quiet poll took 63 us
(emulated Pico, idle) against 91 with four `Pin.value()` calls and their
loop. Only when a button is at its pressed level do the pins and
debouncers run, and then (on an RP2040) only the pressed or unsettled
ones: a released, settled debouncer would change nothing, and each costs
about 60 us on the chip, which a held button paid on every tick of its
press for the other three.
"""
from micropython import const

from pump.buttons import PRESS_DOWN, PRESS_NONE, Debounce, event_for

# RP2040 datasheet 2.3.1.7: SIO base 0xd0000000, GPIO_IN at offset 0x004.
SIO_GPIO_IN = const(0xD0000004)


class Buttons:
    def __init__(self, pins, active_low=True, debounce_ms=30, long_ms=1500, gpio_in=None, gpios=()):
        """pins: a list indexed by BTN_*, None where the board has no such
        button; gpio_in: rp2's machine.mem32 (None elsewhere) with gpios,
        the buttons' GPIO numbers, for the one-read quiet check."""
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
        self.gpio_in = gpio_in
        self.mask = 0
        for n in gpios:
            self.mask |= 1 << n
        if gpio_in is not None and not self.mask:
            raise ValueError("buttons: the register check needs the buttons' GPIO numbers")
        # The register's button bits when none is pressed.
        self.released_bits = self.mask if active_low else 0
        # Per button (indexed like pins): its GPIO_IN bit, 0 without one.
        self.bit = [0] * len(pins)
        if gpio_in is not None:
            present = [i for i, p in enumerate(pins) if p is not None]
            if len(gpios) != len(present):
                raise ValueError("buttons: one GPIO number per button for the register check")
            for i, n in zip(present, gpios):
                self.bit[i] = 1 << n

    def poll(self, dt_ms, state):
        """Update every button; fills self.events[:self.count] with the
        session events this tick produced, and returns the count."""
        mem = self.gpio_in
        if self.quiet:
            if mem is not None:
                if mem[SIO_GPIO_IN] & self.mask == self.released_bits:
                    self.count = 0
                    return 0
            else:
                lv = self.pressed_level
                for r in self.reads:
                    if r() == lv:
                        break
                else:
                    self.count = 0
                    return 0
        # The buttons the register shows released (bits as in self.bit; 0
        # without a register: every debouncer runs).
        released = 0
        if mem is not None:
            released = ~(mem[SIO_GPIO_IN] ^ self.released_bits) & self.mask
        n = 0
        i = 0
        quiet = True
        count = len(self.pins)
        while i < count:                  # not `for ... range()`: no iterator per tick
            d = self.debounce[i]
            if d is not None and not (released & self.bit[i] and not d.raw and not d.pressed
                                      and d.raw_ms >= d.debounce_ms):
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
