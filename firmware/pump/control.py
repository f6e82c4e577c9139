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

The controller's state is one `array("i")` of slots (`Control.s`), so that
`update()`, which runs every tick, is viper code on an RP2040 (pump/slots.py
says why and what such code keeps to).
"""
from array import array

from micropython import const

from pump.slots import ptr32, slot

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


# Slots of Control.s: the configuration first, then the state reset()
# clears. The session reads and zeroes the duty slot itself (DUTY_SLOT): a
# property would be a call on the tick path.
_MIN_DUTY = const(0)
_SLEW = const(1)
_CEILING = const(2)
DUTY_SLOT = const(3)
_INTEG = const(4)
_SAT_MS = const(5)
_HOLD_SUM = const(6)
_HOLD_MS = const(7)
_LAST_PA = const(8)
_SINCE_MS = const(9)
_SLOPE_Q4 = const(10)        # Pa per ms, x16
_SP = const(11)              # the internal setpoint of the last update
_CUT = const(12)             # the blind-push guard capped this cycle's duty
_TRIM = const(13)            # 2 slots, per cycling mode (stimulation, expression)
_FF = const(15)              # 2 slots: the plateau duty learned per cycling mode
# The highest fresh reading of the running cycle: update() sees every
# running tick's reading anyway; the session reads it and zeroes it at each
# cycle's start.
PEAK_SLOT = const(17)
_N_SLOTS = const(18)


class Control:
    def __init__(self, min_duty_u16, slew_u16_per_ms, ceiling_pa):
        s = array("i", [0] * _N_SLOTS)
        self.s = s
        s[_MIN_DUTY] = min_duty_u16
        s[_SLEW] = slew_u16_per_ms
        s[_CEILING] = ceiling_pa
        self.trim_targets = [0, 0]   # the target each trim was learned at
        self.reset()

    # What the tests read (the board's tick path reads the slots).
    duty = slot(DUTY_SLOT)
    integ = slot(_INTEG)
    sp = slot(_SP)
    min_duty = slot(_MIN_DUTY)
    ceiling_pa = slot(_CEILING)
    peak_pa = slot(PEAK_SLOT)

    @property
    def cut(self):
        return self.s[_CUT] != 0

    @property
    def trims(self):
        """The peak trims per cycling mode (a writable view)."""
        return memoryview(self.s)[_TRIM:_TRIM + 2]

    @property
    def ffs(self):
        """The plateau duties per cycling mode (a writable view)."""
        return memoryview(self.s)[_FF:_FF + 2]

    def reset(self):
        """Forget everything learned: a new session, or after a fault."""
        s = self.s
        for i in range(DUTY_SLOT, _N_SLOTS):
            s[i] = 0
        self.trim_targets[0] = 0
        self.trim_targets[1] = 0

    def new_target(self, mode, target_pa):
        """A cycle of `mode` starts with target_pa: rescale its trim if the
        target moved. |trim| <= 8000 and target <= 40000 keep the product
        below 2^30."""
        old = self.trim_targets[mode]
        if old != target_pa:
            if old > 0:
                s = self.s
                s[_TRIM + mode] = s[_TRIM + mode] * target_pa // old
            self.trim_targets[mode] = target_pa

    # (viper on an RP2040: tools/deploy.py VIPER_FUNCTIONS)
    def update(self, dt_ms: int, setpoint_pa: int, vacuum_pa: int, holding: int, mode: int,
               fresh: int = 0) -> int:
        """One tick of suction: returns duty_u16 (the internal setpoint it
        aimed at stays in the sp slot). `holding` is true on the plateau
        (after the ramp), where the plateau duty is learned and the
        integrator runs; `fresh`: vacuum_pa is a new reading (the slope
        follows it, in both phases). setpoint_pa < 0 is a release-phase
        tick: the motor is off. mode: 0 or 1 (the cycling mode)."""
        s = ptr32(self.s)
        since = s[_SINCE_MS] + dt_ms
        slope = s[_SLOPE_Q4]
        if fresh:
            if 0 < since <= DT_MAX_MS:
                d = vacuum_pa - s[_LAST_PA]
                if d > 20000:
                    d = 20000
                elif d < -20000:
                    d = -20000
                slope = (d << 4) // since
            else:
                slope = 0
            s[_SLOPE_Q4] = slope
            s[_LAST_PA] = vacuum_pa
            since = 0
            if vacuum_pa > s[PEAK_SLOT]:
                s[PEAK_SLOT] = vacuum_pa
        s[_SINCE_MS] = since
        if setpoint_pa < 0:
            s[DUTY_SLOT] = 0
            return 0
        if dt_ms > DT_MAX_MS:
            dt_ms = DT_MAX_MS
        sp = 0
        if setpoint_pa > 0:
            sp = setpoint_pa + s[_TRIM + mode]
            ceiling = s[_CEILING]
            if sp > ceiling:
                sp = ceiling
            elif sp < 0:
                sp = 0
        s[_SP] = sp
        err = sp - vacuum_pa
        if slope > 0:
            err -= slope * LEAD_MS >> 4
        if err > 60000:
            err = 60000
        elif err < -60000:
            err = -60000
        integ = s[_INTEG]
        u = s[_FF + mode] + err * KP_NUM // KP_DEN + (integ >> I_SHIFT)
        # Conditional integration: only when the output is not pinned in the
        # direction the error would push it.
        if holding and not ((u >= DUTY_MAX and err > 0) or (u <= 0 and err < 0)):
            integ += err * dt_ms * KI_NUM
            if integ > I_MAX:
                integ = I_MAX
            elif integ < -I_MAX:
                integ = -I_MAX
            s[_INTEG] = integ
        min_duty = s[_MIN_DUTY]
        if u >= DUTY_MAX:
            u = DUTY_MAX
            s[_SAT_MS] += dt_ms
        elif u < min_duty:
            # Below the stall duty the motor only hums: off, or just turning.
            u = 0 if u < min_duty // 2 else min_duty
        top = s[DUTY_SLOT] + s[_SLEW] * dt_ms
        if top < min_duty:
            top = min_duty
        if u > top:
            u = top
        s[DUTY_SLOT] = u
        # Learn the duty that holds the plateau only while actually on it.
        if holding and -HOLD_BAND_PA < sp - vacuum_pa < HOLD_BAND_PA:
            s[_HOLD_SUM] += u * dt_ms >> 4
            s[_HOLD_MS] += dt_ms
        return u

    def capped(self, duty):
        """The blind-push guard allows only `duty` (< this tick's): below the
        stall duty the motor only hums, so off. Falling: no slew limit."""
        s = self.s
        s[DUTY_SLOT] = duty if duty >= s[_MIN_DUTY] else 0
        s[_CUT] = 1

    def off(self):
        """Release, rest, pause, fault: motor off now (no slew limit)."""
        self.s[DUTY_SLOT] = 0
        return 0

    # (viper on an RP2040: tools/deploy.py VIPER_FUNCTIONS)
    def end_cycle(self, mode: int, target_pa: int, peak_pa: int, suction_ms: int):
        """After a cycle: learn the plateau duty and trim the next peak."""
        s = ptr32(self.s)
        # A cycle that never reached its plateau says nothing new about the
        # duty that holds it: keep the last one (forgetting it would start the
        # next cycle weaker still, and a plant short of target would never
        # climb back into the band where it is learned).
        # Nor does a cycle whose push the blind-push guard cut short (the
        # restart after a cut runs slew-limited, below what holds the plateau).
        if s[_HOLD_MS] > 0 and s[_CUT] == 0:
            s[_FF + mode] = (s[_HOLD_SUM] // s[_HOLD_MS]) << 4
        err = target_pa - peak_pa
        trim = s[_TRIM + mode]
        # Do not push harder when the pump was flat out for most of suction.
        if err < 0 or s[_SAT_MS] * 2 < suction_ms:
            trim += err * TRIM_NUM // TRIM_DEN
        if trim > TRIM_MAX_PA:
            trim = TRIM_MAX_PA
        elif trim < TRIM_MIN_PA:
            trim = TRIM_MIN_PA
        s[_TRIM + mode] = trim
        s[_INTEG] = 0
        s[_SAT_MS] = 0
        s[_HOLD_SUM] = 0
        s[_HOLD_MS] = 0
        s[_CUT] = 0
