"""Seeded noise that is identical on CPython and MicroPython.

xorshift32 on integers (no platform random module, no libm): the same seed
gives the same sequence on both VMs, so a scenario's trace is reproducible
and the MicroPython run equals the CPython one. `gauss_q16()` approximates a
standard normal by the Irwin-Hall sum of the 4 bytes of one draw: a byte has
sigma sqrt((256^2 - 1) / 12) = 73.90, the sum 147.80, so
(sum - 510) * 65536 / 147.80 is N(0, 1) in 1/65536 units, with the tails
cut at +/-3.45 sigma (sensor noise is bounded too; the cost is one draw per
sample, which keeps the simulator fast).
"""


class Rng:
    def __init__(self, seed):
        self.x = (seed * 2654435761 + 1) & 0xFFFFFFFF or 1

    def next32(self):
        x = self.x
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.x = x
        return x

    def gauss_q16(self):
        # next32(), inlined: the simulator draws four of these per tick.
        x = self.x
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.x = x
        s = (x & 0xFF) + (x >> 8 & 0xFF) + (x >> 16 & 0xFF) + (x >> 24)
        return (s - 510) * 443 + ((s - 510) * 58 >> 7)          # x 443.41 = 65536 / 147.80
