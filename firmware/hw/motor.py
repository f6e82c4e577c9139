"""The vacuum pump motor: one PWM channel into a logic-level MOSFET.

The PWM runs above the audible range (25 kHz by default, docs/pump-figures.md); duty
is `duty_u16` on both rp2 and esp32. Off is duty 0. Duties between 0 and
the board's `min_duty_u16` only make a DC motor hum without turning, so
they are raised to the minimum (the core avoids them already; the driver
enforces it whatever calls it).
"""


class Motor:
    def __init__(self, pwm, min_duty_u16=0):
        self.pwm = pwm
        self.min_duty = min_duty_u16
        self.duty = -1
        self.off()

    def set(self, duty_u16):
        if duty_u16 <= 0:
            duty_u16 = 0
        elif duty_u16 > 65535:
            duty_u16 = 65535
        elif duty_u16 < self.min_duty:
            duty_u16 = self.min_duty
        if duty_u16 != self.duty:
            self.pwm.duty_u16(duty_u16)
            self.duty = duty_u16

    def off(self):
        self.pwm.duty_u16(0)
        self.duty = 0
