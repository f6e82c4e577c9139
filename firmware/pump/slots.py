"""Slot arrays: the tick's hot state as `array("i")` words, for viper code.

Why this exists: on an RP2040 an attribute look-up costs about 3 us and a
viper `ptr32` load 0.04 us (docs/design.md). A class whose per-tick method
`make flash` compiles as viper code (tools/deploy.py VIPER_FUNCTIONS) keeps
that method's state in one `array("i")` with `const` slot indices beside
the class, and the method begins `s = ptr32(self.s)`.

The rules such a method keeps:
- every value stays below 2^30 in magnitude: viper's ints are 32-bit
  machine words on the chip (host_tests/test_small_ints.py);
- the same source runs as bytecode and on CPython, where `ptr32()` below is
  the array itself (viper's compiler treats the name as its cast and never
  calls this function); host_tests/rp2040/slot_parity.py checks that the
  chip and CPython give the same numbers.
"""


def ptr32(slots):
    """Viper's word pointer to `slots`; as bytecode and on CPython, the array."""
    return slots


def slot(i, as_bool=False):
    """A property that reads and writes slot i of `self.s` (as a bool with
    `as_bool`): for the tests and the code off the tick path; the tick path
    indexes the slots itself (a property is a call)."""
    def get(self):
        v = self.s[i]
        return v != 0 if as_bool else v

    def put(self, v):
        self.s[i] = int(v)
    return property(get, put)
