"""Closed-loop vacuum control: setpoint and reading (Pa) -> motor duty_u16.

Integer PI with feed-forward, anti-windup and a per-cycle peak correction:

- feed-forward: the duty that held the previous cycle's plateau, so a new
  suction phase starts near the right effort instead of from zero;
- P and I on the tracking error during suction, with conditional integration
  (the integrator does not grow while the output is saturated: anti-windup);
- peak correction (iterative learning): after each cycle the measured peak is
  compared with the target and the next cycle's internal setpoint is trimmed
  by a fraction of the error, within TRIM_MIN_PA..TRIM_MAX_PA. This removes the
  systematic overshoot that sensor latency and motor inertia cause, which PI
  on a 0.3-0.7 s phase cannot. The trim never lifts the internal setpoint
  above `ceiling_pa` (the profile limit less its headroom), and it does not
  grow while the pump was flat out (the plant, not the trim, was short).
  Overshoot and shortfall scale with the target, so when a mode's target
  changes (a level step) its trim is scaled by new/old target;
- the motor is off in release, never turns at a duty below `min_duty_u16`
  (it would stall and hum), and rises at most `slew_u16_per_ms` for quiet
  starts. Falling duty is never slew-limited: stopping must be immediate.

All arithmetic is on small ints (< 2^30 on a 32-bit port). Gains are integer
ratios; errors are Pa (<= 40 kPa), dt is clamped to DT_MAX_MS.
"""
from micropython import const

DUTY_MAX = const(65535)
DT_MAX_MS = const(50)

# Proportional: KP_NUM / KP_DEN duty per Pa. 12 duty/Pa: full duty at an
# error of ~40 mmHg, 1/8 duty at 5 mmHg.
KP_NUM = const(12)
KP_DEN = const(1)
# Integral in duty/256 units: += err_pa * dt_ms * KI_NUM.
KI_NUM = const(8)
I_SHIFT = const(8)
I_MAX = const(DUTY_MAX << 8)
# Lead: control acts on the reading extrapolated LEAD_MS ahead along its
# measured slope, covering motor spin-down and one sensor period, which
# otherwise overshoot a fast rise by 10-20 mmHg.
LEAD_MS = const(30)
# The plateau duty is learned only within this band of the setpoint (3 mmHg).
HOLD_BAND_PA = const(400)
# Peak correction: trim += (target - peak) * TRIM_NUM / TRIM_DEN per cycle.
TRIM_NUM = const(1)
TRIM_DEN = const(2)
TRIM_MAX_PA = const(2666)        # up to 20 mmHg above target
TRIM_MIN_PA = const(-8000)       # down to 60 mmHg below: always the safe way


class Control:
    def __init__(self, min_duty_u16, slew_u16_per_ms, ceiling_pa):
        self.min_duty = min_duty_u16
        self.slew = slew_u16_per_ms
        self.ceiling_pa = ceiling_pa
        self.trims = [0, 0]          # per cycling mode (stimulation, expression)
        self.trim_targets = [0, 0]   # the target each trim was learned at
        self.ffs = [0, 0]            # plateau duty learned per cycling mode
        self.reset()

    def reset(self):
        """Forget everything learned: a new session, or after a fault."""
        self.duty = 0
        self.integ = 0
        self.trims[0] = 0
        self.trims[1] = 0
        self.trim_targets[0] = 0
        self.trim_targets[1] = 0
        self.ffs[0] = 0
        self.ffs[1] = 0
        self.sat_ms = 0
        self.hold_duty_sum = 0
        self.hold_ms = 0
        self.last_pa = 0
        self.since_ms = 0
        self.slope_q4 = 0            # Pa per ms, x16
        self.sp = 0                  # the internal setpoint of the last update
        self.cut = False             # the blind-push guard capped this cycle's duty

    def new_target(self, mode, target_pa):
        """A cycle of `mode` starts with target_pa: rescale its trim if the
        target moved. |trim| <= 8000 and target <= 40000 keep the product
        below 2^30."""
        old = self.trim_targets[mode]
        if old != target_pa:
            if old > 0:
                self.trims[mode] = self.trims[mode] * target_pa // old
            self.trim_targets[mode] = target_pa

    def update(self, dt_ms, setpoint_pa, vacuum_pa, holding, mode, fresh=False):
        """One tick of suction: returns duty_u16 (the internal setpoint it
        aimed at stays in self.sp). `holding` is True on the plateau (after
        the ramp), where the plateau duty is learned and the integrator runs;
        `fresh`: vacuum_pa is a new reading (the slope follows it, in both
        phases). setpoint_pa < 0 is a release-phase tick: the motor is off.
        Locals instead of repeated attribute look-ups: this runs every tick."""
        since = self.since_ms + dt_ms
        slope = self.slope_q4
        if fresh:
            if 0 < since <= DT_MAX_MS:
                d = vacuum_pa - self.last_pa
                if d > 20000:
                    d = 20000
                elif d < -20000:
                    d = -20000
                slope = (d << 4) // since
            else:
                slope = 0
            self.slope_q4 = slope
            self.last_pa = vacuum_pa
            since = 0
        self.since_ms = since
        if setpoint_pa < 0:
            self.duty = 0
            return 0
        if dt_ms > DT_MAX_MS:
            dt_ms = DT_MAX_MS
        sp = 0
        if setpoint_pa > 0:
            sp = setpoint_pa + self.trims[mode]
            ceiling = self.ceiling_pa
            if sp > ceiling:
                sp = ceiling
            elif sp < 0:
                sp = 0
        self.sp = sp
        err = sp - vacuum_pa
        if slope > 0:
            err -= slope * LEAD_MS >> 4
        if err > 60000:
            err = 60000
        elif err < -60000:
            err = -60000
        integ = self.integ
        u = self.ffs[mode] + err * KP_NUM // KP_DEN + (integ >> I_SHIFT)
        # Conditional integration: only when the output is not pinned in the
        # direction the error would push it.
        if holding and not ((u >= DUTY_MAX and err > 0) or (u <= 0 and err < 0)):
            integ += err * dt_ms * KI_NUM
            if integ > I_MAX:
                integ = I_MAX
            elif integ < -I_MAX:
                integ = -I_MAX
            self.integ = integ
        min_duty = self.min_duty
        if u >= DUTY_MAX:
            u = DUTY_MAX
            self.sat_ms += dt_ms
        elif u < min_duty:
            # Below the stall duty the motor only hums: off, or just turning.
            u = 0 if u < min_duty // 2 else min_duty
        top = self.duty + self.slew * dt_ms
        if top < min_duty:
            top = min_duty
        if u > top:
            u = top
        self.duty = u
        # Learn the duty that holds the plateau only while actually on it.
        if holding and -HOLD_BAND_PA < sp - vacuum_pa < HOLD_BAND_PA:
            self.hold_duty_sum += u * dt_ms >> 4
            self.hold_ms += dt_ms
        return u

    def capped(self, duty):
        """The blind-push guard allows only `duty` (< this tick's): below the
        stall duty the motor only hums, so off. Falling: no slew limit."""
        self.duty = duty if duty >= self.min_duty else 0
        self.cut = True

    def off(self):
        """Release, rest, pause, fault: motor off now (no slew limit)."""
        self.duty = 0
        return 0

    def end_cycle(self, mode, target_pa, peak_pa, suction_ms):
        """After a cycle: learn the plateau duty and trim the next peak."""
        # A cycle that never reached its plateau says nothing new about the
        # duty that holds it: keep the last one (forgetting it would start the
        # next cycle weaker still, and a plant short of target would never
        # climb back into the band where it is learned).
        # Nor does a cycle whose push the blind-push guard cut short (the
        # restart after a cut runs slew-limited, below what holds the plateau).
        if self.hold_ms > 0 and not self.cut:
            self.ffs[mode] = (self.hold_duty_sum // self.hold_ms) << 4
        err = target_pa - peak_pa
        trim = self.trims[mode]
        # Do not push harder when the pump was flat out for most of suction.
        if err < 0 or self.sat_ms * 2 < suction_ms:
            trim += err * TRIM_NUM // TRIM_DEN
        if trim > TRIM_MAX_PA:
            trim = TRIM_MAX_PA
        elif trim < TRIM_MIN_PA:
            trim = TRIM_MIN_PA
        self.trims[mode] = trim
        self.integ = 0
        self.sat_ms = 0
        self.hold_duty_sum = 0
        self.hold_ms = 0
        self.cut = False
