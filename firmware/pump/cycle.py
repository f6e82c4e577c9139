"""The suction/release waveform: where in the cycle we are and what to aim for.

One cycle is `period_ms = 60000 / cycles_per_min` long. It starts with the
suction phase (valve closed): the setpoint ramps linearly from ambient to the
level's target over `ramp_ms` and then holds it, so vacuum builds smoothly
instead of as a step. The release phase (valve open, motor off) follows and
lasts to the end of the period. Parameters change only at a cycle boundary,
so a mode or step change never cuts a suction phase short or stretches it.
"""


class Cycle:
    """Suction while phase_ms < suction_ms, release from there to period_ms.
    Session.tick inlines advance() (its boundary too) and setpoint_pa(),
    and a mode-changing boundary inlines load() (a call is dear on an
    RP2040): these methods are the definition, and host_tests/test_session.py
    checks the inlined copies against them."""

    def __init__(self):
        self.period_ms = 0
        self.suction_ms = 0
        self.ramp_ms = 0
        self.phase_ms = 0
        self.count = 0              # cycles completed since start()

    def start(self, mode):
        """Begin a new cycle at the start of suction with `mode`'s timing."""
        self.load(mode)
        self.phase_ms = 0
        self.count = 0

    def load(self, mode):
        self.period_ms = mode.period_ms
        self.suction_ms = mode.suction_ms
        self.ramp_ms = mode.ramp_ms

    def advance(self, dt_ms):
        """Move time on; True when a cycle boundary was crossed (the caller
        then loads the next cycle's mode)."""
        phase = self.phase_ms + dt_ms
        if phase < self.period_ms:
            self.phase_ms = phase
            return False
        # A long dt (loop stall) may skip whole cycles: the phase stays in range.
        self.phase_ms = phase % self.period_ms
        self.count += 1
        return True

    def setpoint_pa(self, target_pa, ahead_ms=0):
        """Ramp to target_pa over ramp_ms, hold to the end of suction, then 0.
        ahead_ms: a tick's output holds until the next tick, so control aims
        at the ramp's value at the end of that interval (without it every
        suction phase would start one tick late, which at the top of a short
        phase costs several mmHg of peak)."""
        phase = self.phase_ms
        if phase >= self.suction_ms:
            return 0
        phase += ahead_ms
        if phase < self.ramp_ms:
            # target <= 40 kPa and phase < 2 s keep the product below 2^30.
            return target_pa * phase // self.ramp_ms
        return target_pa
