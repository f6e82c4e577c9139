"""The suction/release waveform."""
from pump import profiles
from pump.codes import MODE_EXPRESSION, MODE_STIMULATION
from pump.cycle import Cycle


def expression():
    return profiles.defaults().modes[MODE_EXPRESSION]


def test_phases_follow_rate_and_ratio():
    m = expression()                       # 60 cycles/min, 70 % suction
    c = Cycle()
    c.start(m)
    suction = 0
    for _ in range(100):
        suction += c.phase_ms < c.suction_ms
        c.advance(10)
    assert suction == 70                   # 700 ms of 1000 ms, in 10 ms ticks
    assert c.count == 1 and c.phase_ms == 0


def test_setpoint_is_a_ramp_then_a_plateau_then_zero():
    m = expression()
    c = Cycle()
    c.start(m)
    target = 25000
    sps = []
    for _ in range(100):
        sps.append(c.setpoint_pa(target))
        c.advance(10)
    ramp_ticks = m.ramp_ms // 10
    ramp = sps[:ramp_ticks]
    assert ramp[0] == 0
    assert all(b > a for a, b in zip(ramp, ramp[1:]))          # strictly rising: not a step
    steps = [b - a for a, b in zip(ramp, ramp[1:])]
    assert max(steps) - min(steps) <= 1                        # linear
    assert sps[ramp_ticks:70] == [target] * (70 - ramp_ticks)  # plateau to the end of suction
    assert sps[70:] == [0] * 30                                # release


def test_large_dt_keeps_the_phase_in_range():
    m = profiles.defaults().modes[MODE_STIMULATION]
    c = Cycle()
    c.start(m)
    assert c.advance(10 * m.period_ms + 123)
    assert c.phase_ms == 123


def test_load_changes_timing_only_for_the_next_cycle_call():
    p = profiles.defaults()
    c = Cycle()
    c.start(p.modes[MODE_STIMULATION])
    c.advance(250)
    c.load(p.modes[MODE_EXPRESSION])
    assert c.phase_ms == 250 and c.period_ms == 1000


def test_setpoint_looks_one_interval_ahead_on_the_ramp_only():
    m = expression()
    c = Cycle()
    c.start(m)
    assert c.setpoint_pa(25000) == 0
    assert c.setpoint_pa(25000, 10) == 25000 * 10 // m.ramp_ms    # the first tick already pumps
    c.advance(m.suction_ms - 10)
    assert c.setpoint_pa(25000, 10) == 25000
    c.advance(10)
    assert c.setpoint_pa(25000, 10) == 0                          # release stays release
