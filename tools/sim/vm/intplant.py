"""A small integer vacuum plant for runs that measure the firmware, not the
air: allocation and cost benches, the web app's checks. Vacuum in Pa (int)
from the motor duty and the valve level on the fake machine's pins 16 and
17; the analog sensor's pin voltage (XGZP6847A through a 2/3 divider) in
microvolts. The simulator's physical plant is tools/sim/vm/plant.py."""


class IntPlant:
    def __init__(self, world):
        self.w = world
        self.v = 0
        self.broken = False               # the sensor reads 0 V (sensor_range)

    def uv(self):
        if self.broken:
            return 0
        return (4500000 - 40 * self.v) * 2 // 3

    def step(self):
        """One 10 ms step of the pump and the valve."""
        w = self.w
        duty = w.pwm[16][1] if 16 in w.pwm else 0
        v = self.v
        if duty > 8000:
            v += (duty - 8000) * (60000 - v) // 60000 * 10 // 60
        if w.levels.get(17, 0) == 0:
            v -= v * 10 // 40
        v -= v // 4000
        self.v = v if v > 0 else 0
