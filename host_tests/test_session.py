"""The session state machine: programs, modes, levels, pause, auto-off, and
the rule that nothing pumps without a start press."""
import copy

from pump import profiles
from pump.codes import (EV_LETDOWN, EV_LEVEL_DOWN, EV_LEVEL_UP, EV_PAUSE, EV_PROGRAM, EV_START, EV_STOP,
                        FAULT_NONE, FAULT_OVER_VACUUM, FAULT_SESSION_LIMIT, MODE_EXPRESSION, MODE_MIXED, MODE_NONE,
                        MODE_STIMULATION, STATE_DONE, STATE_FAULT, STATE_IDLE, STATE_PAUSED, STATE_RESTING, STATE_RUNNING)
from pump.defaults import DEFAULT_PROFILES
from pump.session import remaining_ms
from rig import Echo, Rig, make_session, middle_profiles

MIN = 60000


def echo(**kw):
    return Echo(**kw)


def test_boot_is_idle_and_never_pumps_by_itself():
    e = echo()
    for _ in range(6000):                              # a minute of readings
        out = e.step(0)
        assert out.state == STATE_IDLE and out.duty_u16 == 0 and out.valve_open


def test_start_runs_standard_in_stimulation():
    e = echo()
    assert e.press(EV_START)
    out = e.step()
    assert out.state == STATE_RUNNING and out.mode == MODE_STIMULATION
    assert out.program == 0 and out.level == 1          # the lowest level, as commercial pumps start
    assert not out.valve_open                           # suction first


def test_standard_switches_to_expression_after_two_minutes_by_itself():
    e = echo()
    e.press(EV_START)
    e.run(2 * MIN - 20)
    assert e.out.mode == MODE_STIMULATION
    e.run(20)
    assert e.out.mode == MODE_EXPRESSION                       # the program's step changed
    stim_period = e.s.p.modes[MODE_STIMULATION].period_ms
    assert e.run(stim_period, until=lambda o: o.cycle_mode == MODE_EXPRESSION)
    assert e.out.state == STATE_RUNNING


def test_letdown_switches_at_once_within_one_cycle():
    e = echo()
    e.press(EV_START)
    e.run(10000 + 130)
    assert e.press(EV_LETDOWN)
    assert e.out.cycle_mode == MODE_STIMULATION
    t0 = e.t_ms
    assert e.run(1000, until=lambda o: o.cycle_mode == MODE_EXPRESSION)
    assert e.t_ms - t0 <= e.s.p.modes[MODE_STIMULATION].period_ms
    assert e.out.mode == MODE_EXPRESSION
    # ... and the 2 min step change leaves it in expression.
    e.run(2 * MIN)
    assert e.out.mode == MODE_EXPRESSION


def test_letdown_toggles_back_to_stimulation():
    e = echo()
    e.press(EV_START)
    e.run(3 * MIN)
    assert e.out.mode == MODE_EXPRESSION
    e.press(EV_LETDOWN)
    assert e.run(1000, until=lambda o: o.cycle_mode == MODE_STIMULATION)


def test_level_is_kept_per_mode():
    e = Echo(session=make_session(middle_profiles()))
    e.press(EV_START)
    e.run(1000)
    e.press(EV_LEVEL_UP)
    e.press(EV_LEVEL_UP)
    assert e.step().level == 7
    e.press(EV_LETDOWN)
    e.run(1000)
    assert e.out.mode == MODE_EXPRESSION and e.out.level == 5
    e.press(EV_LEVEL_DOWN)
    assert e.step().level == 4
    e.press(EV_LETDOWN)
    e.run(1000)
    assert e.out.mode == MODE_STIMULATION and e.out.level == 7
    e.press(EV_LETDOWN)
    e.run(1000)
    assert e.out.level == 4


def test_level_changes_the_target_at_the_next_cycle_and_stays_in_range():
    e = Echo(session=make_session(middle_profiles()))
    e.press(EV_START)
    e.run(1000)
    stim = e.s.p.modes[MODE_STIMULATION]
    period = stim.period_ms
    assert e.out.target_pa == stim.targets_pa[4]
    while e.s.cycle.phase_ms != 200:                # mid-suction
        e.step()
    for _ in range(20):
        e.press(EV_LEVEL_UP)
    assert e.step().level == stim.levels                        # shown at once
    assert e.out.target_pa == stim.targets_pa[4]                # this cycle keeps its target
    e.run(period)
    assert e.out.target_pa == stim.targets_pa[-1]               # the next one has the new one
    assert not e.press(EV_LEVEL_UP)
    for _ in range(20):
        e.press(EV_LEVEL_DOWN)
    e.run(period)
    assert e.out.level == 1 and e.out.target_pa == stim.targets_pa[0]
    assert not e.press(EV_LEVEL_DOWN)


def test_auto_off_at_thirty_minutes_with_session_limit():
    e = echo()
    e.press(EV_START)
    assert e.run(31 * MIN, until=lambda o: o.state != STATE_RUNNING)
    assert e.t_ms == 30 * MIN
    assert e.out.state == STATE_DONE and e.out.fault == FAULT_SESSION_LIMIT
    assert e.out.duty_u16 == 0 and e.out.valve_open
    assert e.out.elapsed_ms == 30 * MIN and remaining_ms(e.out) == 0      # what the display shows at the end
    e.run(60 * MIN)                                              # nothing restarts by itself
    assert e.out.state == STATE_DONE
    assert e.press(EV_START)
    assert e.step().state == STATE_RUNNING and e.out.fault == FAULT_NONE


def test_session_limit_holds_even_if_a_program_were_longer():
    """Validation keeps programs within limits.max_session_min; the session
    enforces the limit again on its own (defence in depth)."""
    p = profiles.defaults()
    p.max_session_ms = 20 * MIN
    e = Echo(session=make_session(p))
    e.press(EV_START)
    assert e.run(31 * MIN, until=lambda o: o.state != STATE_RUNNING)
    assert e.t_ms == 20 * MIN and e.out.fault == FAULT_SESSION_LIMIT


def test_stop_is_immediate():
    e = Rig()
    e.press(EV_START)
    e.run(500, until=lambda o: o.duty_u16 > 0)
    assert e.out.duty_u16 > 0 and not e.out.valve_open
    assert e.press(EV_STOP)
    out = e.step()
    assert out.state == STATE_IDLE and out.duty_u16 == 0 and out.valve_open and out.mode == MODE_NONE


def test_pause_and_resume():
    e = echo()
    e.press(EV_START)
    e.run(5000)
    assert e.press(EV_PAUSE)
    for _ in range(300):
        out = e.step()
        assert out.state == STATE_PAUSED and out.duty_u16 == 0 and out.valve_open
    elapsed = e.out.elapsed_ms
    assert e.press(EV_PAUSE)
    e.run(1000)
    assert e.out.state == STATE_RUNNING
    assert e.out.elapsed_ms == elapsed + 1000                  # the program clock stood still


def test_pause_timeout_ends_the_session_and_never_restarts():
    e = echo()
    e.press(EV_START)
    e.run(5000)
    e.press(EV_PAUSE)
    assert e.run(11 * MIN, until=lambda o: o.state != STATE_PAUSED)
    assert e.out.state == STATE_DONE and e.s.end_reason == 4
    e.run(30 * MIN)
    assert e.out.state == STATE_DONE and e.out.duty_u16 == 0
    assert not e.press(EV_PAUSE)                                # no resume out of done


def test_power_program_rests_and_resumes_by_itself():
    e = echo()
    e.press(EV_PROGRAM)
    assert e.s.program == 1
    e.press(EV_START)
    states = []
    while e.out.state != STATE_DONE and e.t_ms < 70 * MIN:
        e.step()
        if not states or states[-1][0] != e.out.state:
            states.append((e.out.state, e.t_ms))
        if e.out.state == STATE_RESTING:
            assert e.out.duty_u16 == 0 and e.out.valve_open and e.out.mode == MODE_NONE
    assert [s for s, _ in states] == [STATE_RUNNING, STATE_RESTING, STATE_RUNNING, STATE_RESTING,
                                      STATE_RUNNING, STATE_DONE]
    times = [t for _, t in states]
    assert [round((b - a) / MIN) for a, b in zip(times, times[1:])] == [20, 10, 10, 10, 10]
    assert e.out.fault == FAULT_SESSION_LIMIT


def test_pause_during_rest_resumes_to_rest():
    e = echo()
    e.press(EV_PROGRAM)
    e.press(EV_START)
    e.run(21 * MIN)
    assert e.out.state == STATE_RESTING
    e.press(EV_PAUSE)
    assert e.step().state == STATE_PAUSED
    e.press(EV_PAUSE)
    assert e.step().state == STATE_RESTING


def test_program_select_cycles_in_idle_only():
    e = echo()
    names = [e.s.p.programs[e.s.program].name]
    for _ in range(3):
        assert e.press(EV_PROGRAM)
        names.append(e.s.p.programs[e.s.program].name)
    assert names == ["standard", "power", "catch_up", "standard"]
    e.press(EV_START)
    assert not e.press(EV_PROGRAM)
    assert not e.s.select_program(1)


def test_a_program_index_the_profile_does_not_have_is_refused():
    """select_program() is also called with indices from state.json and the
    phone: one past the end, or -1 (which Python would take as the last
    program), chooses nothing (mutation testing: both went unnoticed)."""
    s = make_session()
    n = len(s.p.programs)
    assert not s.select_program(-1) and s.program == 0
    assert not s.select_program(n) and s.program == 0
    assert s.select_program(n - 1) and s.program == n - 1


def test_a_program_step_shows_on_the_tick_it_begins_also_between_two_cycles():
    """The display and the phone show the new step (mode, step number) on
    the tick the program reaches it, not at the next cycle's end. A pause
    restarts the cycles, so the two-minute step change of "standard" falls
    inside a cycle (mutation testing: a step change that left the outputs
    stale until the cycle ended went unnoticed, because without the pause
    both fall on the same tick)."""
    e = echo()
    e.press(EV_START)
    e.run(5000)
    e.press(EV_PAUSE)
    e.run(30)
    e.press(EV_PAUSE)
    while e.s.out.elapsed_ms < 2 * MIN - 10:
        out = e.step()
        assert out.step == 0 and out.mode == MODE_STIMULATION
    out = e.step()
    assert e.s.step == 1 and e.s.cycle.phase_ms > 0      # mid-cycle
    assert out.step == 1 and out.mode == MODE_EXPRESSION and out.cycle_mode == MODE_STIMULATION


def test_idle_resting_and_done_show_no_level_and_no_target():
    """A level and a target are shown only while a mode runs (the display
    and the phone would show "level 1" in a rest)."""
    e = echo()
    assert e.step().level == 0 and e.out.target_pa == 0
    e.press(EV_PROGRAM)                                  # power: it rests after 20 min
    e.press(EV_START)
    assert e.step().level == 1 and e.out.target_pa > 0
    assert e.run(21 * MIN, until=lambda o: o.state == STATE_RESTING)
    assert e.out.level == 0 and e.out.target_pa == 0
    e.press(EV_STOP)
    assert e.step().level == 0 and e.out.target_pa == 0 and e.out.state == STATE_IDLE


def test_catch_up_starts_gently():
    e = echo()
    e.s.select_program(2)
    e.press(EV_START)
    e.run(1000)
    assert e.out.mode == MODE_STIMULATION and e.out.level == 1
    e.run(3 * MIN)
    assert e.out.mode == MODE_EXPRESSION and e.out.level == 3
    assert e.run(13 * MIN, until=lambda o: o.state == STATE_DONE)
    assert abs(e.t_ms - 15 * MIN) <= 20


def test_levels_reset_to_the_start_level_for_a_new_session():
    for p, start in ((None, 1), (middle_profiles(), 5)):
        e = Echo(session=make_session(p))
        e.s.select_program(2)                       # catch_up: its steps set their own levels
        e.press(EV_START)
        e.run(1000)
        e.press(EV_LEVEL_UP)
        e.press(EV_STOP)
        e.s.select_program(0)
        e.press(EV_START)
        assert e.step().level == start


def _profiles_with(start_level):
    raw = copy.deepcopy(DEFAULT_PROFILES)
    raw["start_level"] = start_level
    p, errors = profiles.load(raw)
    assert not errors
    return p


def test_sessions_start_at_the_lowest_level_of_every_mode_by_default():
    """No start_level in profiles.json: level 1 in stimulation, expression
    and mixed, the gentlest a first-time user can get."""
    assert profiles.defaults().start_level == 0
    e = echo()
    e.press(EV_START)
    assert e.step().level == 1 and e.out.target_pa == e.s.p.modes[MODE_STIMULATION].targets_pa[0]
    e.press(EV_LETDOWN)
    e.run(1000)
    assert e.out.mode == MODE_EXPRESSION and e.out.level == 1
    assert e.s.levels == [1, 1, 1]


def test_start_level_last_starts_where_the_last_session_left_each_mode():
    e = Echo(session=make_session(_profiles_with("last")))
    e.press(EV_START)                                # no last session yet: the lowest
    assert e.step().level == 1
    for _ in range(3):
        e.press(EV_LEVEL_UP)                         # stimulation 4
    e.press(EV_LETDOWN)
    e.run(1000)
    for _ in range(6):
        e.press(EV_LEVEL_UP)                         # expression 7
    e.step()
    e.press(EV_STOP)
    e.run(1000)
    e.s.last_levels = e.s.packed_levels()            # what the books keep in state.json at the end
    e.press(EV_START)
    assert e.step().level == 4
    e.press(EV_LETDOWN)
    e.run(1000)
    assert e.out.level == 7
    # a kept level the profile no longer has (fewer levels now), or nothing kept: the lowest
    e.press(EV_STOP)
    e.run(1000)
    e.s.last_levels = 15 | 15 << 4 | 15 << 8
    e.press(EV_START)
    assert e.step().level == 1 and e.s.levels == [1, 1, 1]


def test_the_levels_kept_in_state_json_are_four_bits_a_mode_and_all_three_come_back():
    """state.json keeps the last levels packed, 4 bits per mode in the
    order stimulation, expression, mixed; each comes back at the next start
    (mutation testing: the mixed level's shift went unnoticed)."""
    s = make_session(_profiles_with("last"))
    s.levels[:] = [4, 7, 3]
    assert s.packed_levels() == 4 | 7 << 4 | 3 << 8
    s.last_levels = s.packed_levels()
    s.levels[:] = [1, 1, 1]
    s._default_levels()
    assert s.levels == [4, 7, 3]
    top = [m.levels for m in s.p.modes]              # the strongest level comes back as well
    s.last_levels = top[0] | top[1] << 4 | top[2] << 8
    s._default_levels()
    assert s.levels == top


def test_start_level_default_starts_at_each_modes_default_level():
    e = Echo(session=make_session(_profiles_with("default")))
    e.press(EV_START)
    assert e.step().level == 5
    assert e.s.levels == [m.default_level for m in e.s.p.modes]


def test_start_level_must_be_one_of_the_three_rules():
    for bad in ("highest", 1, None, ["last"]):
        raw = copy.deepcopy(DEFAULT_PROFILES)
        raw["start_level"] = bad
        p, errors = profiles.load(raw)
        assert p is None and len(errors) == 1 and errors[0].startswith("start_level: ") and \
            errors[0].endswith(" is not one of lowest, default, last"), errors


def started_mixed(**mixed):
    """A session running a 5-minute mixed program (the mixed mode's
    settings changed by `mixed`), started."""
    raw = copy.deepcopy(DEFAULT_PROFILES)
    raw["modes"]["mixed"].update(mixed)
    raw["programs"]["mix"] = [{"mode": "mixed", "minutes": 5}]
    p, errors = profiles.load(raw)
    assert not errors
    e = Echo(session=make_session(p))
    e.s.select_program(p.program_index("mix"))
    e.press(EV_START)
    return e


def mixed_cycle_modes(e, n):
    """The cycle modes of a started mixed session's first n cycles."""
    seq = [e.step().cycle_mode]
    count = e.s.cycle.count
    while len(seq) < n:
        out = e.step()
        if e.s.cycle.count != count:
            count = e.s.cycle.count
            seq.append(out.cycle_mode)
    assert e.out.mode == MODE_MIXED
    return seq


def test_mixed_mode_runs_five_stimulation_then_one_expression():
    S, X = MODE_STIMULATION, MODE_EXPRESSION
    assert mixed_cycle_modes(started_mixed(), 13) == [S, S, S, S, S, X, S, S, S, S, S, X, S]


def test_mixed_mode_runs_the_pattern_its_settings_give_from_the_first_cycle():
    """The session's first cycle and the cycle boundaries both count the
    pattern (mutation testing: the first cycle's count could be wrong
    unnoticed with the default 5 + 1)."""
    S, X = MODE_STIMULATION, MODE_EXPRESSION
    assert mixed_cycle_modes(started_mixed(stimulation_cycles=2, expression_cycles=1), 7) == [S, S, X, S, S, X, S]
    assert mixed_cycle_modes(started_mixed(stimulation_cycles=1, expression_cycles=3), 9) == [S, X, X, X, S, X, X, X, S]
    assert mixed_cycle_modes(started_mixed(stimulation_cycles=1, expression_cycles=1), 4) == [S, X, S, X]


def test_every_cycle_mode_change_moves_out_seq():
    """The indicator, the record and the display redraw only when out.seq
    moves: in a mixed session changing mode at every cycle, each boundary
    must move it, however many come one after another, and it stays within
    30 bits (a small int on the board: a larger one is heap)."""
    e = started_mixed(stimulation_cycles=1, expression_cycles=1)
    seen = [(e.step().cycle_mode, e.out.seq)]
    while len(seen) < 12:
        out = e.step()
        if out.cycle_mode != seen[-1][0]:
            seen.append((out.cycle_mode, out.seq))
    seqs = [q for _, q in seen]
    assert len(set(seqs)) == len(seqs), seqs
    assert all(0 <= q <= 0x3FFFFFFF for q in seqs), seqs


def test_every_mixed_cycle_runs_on_a_trim_scaled_to_its_own_target():
    """The controller's peak trim is learned per cycling mode at one target
    and rescaled when a cycle of that mode starts at another
    (Control.new_target). In mixed mode the modes take turns, and a level
    change moves both targets: from its first tick, each cycle's trim must
    be the one for the target it runs at."""
    e = started_mixed(stimulation_cycles=2, expression_cycles=1)
    ctl = e.s.control
    seen = set()
    for i in range(6000):
        if i in (1500, 3000):
            e.press(EV_LEVEL_UP)
        out = e.step(e.out.setpoint_pa * 9 // 10)       # short of target: the trims move
        assert out.mode == MODE_MIXED
        cm = e.s.cycle_mode
        assert ctl.trim_targets[cm] == e.s.cycle_target_pa, (i, cm, ctl.trim_targets, e.s.cycle_target_pa)
        seen.add((cm, e.s.cycle_target_pa))
    assert len(seen) == 6, seen                           # both modes at three levels each


def test_one_outputs_object_is_reused():
    s = make_session()
    first = s.tick(10, 0)
    s.press(EV_START)
    for _ in range(100):
        assert s.tick(10, 0) is first


def test_garbage_dt_is_treated_as_no_time():
    s = make_session()
    s.press(EV_START)
    s.tick(10, 0)
    before = s.out.elapsed_ms
    s.tick(-500, 0)
    s.tick(-1, 0)                    # a clock read out of order by a millisecond
    s.tick(3.7, 0)
    assert s.out.elapsed_ms == before


def test_every_change_of_an_event_driven_output_moves_its_seq():
    """The indicator skips the ticks whose out.seq it has already shown
    (hw/indicator.py): a state, mode, level, program, step, fault or weak change
    that left seq where it was would never reach the LED or the buzzer."""
    from hypothesis import given, settings, strategies as st
    fields = ("state", "mode", "cycle_mode", "target_pa", "weak", "level", "program", "step", "fault", "notice")
    events = st.sampled_from([None, EV_START, EV_STOP, EV_PAUSE, EV_LETDOWN, EV_LEVEL_UP, EV_LEVEL_DOWN,
                              EV_PROGRAM])

    @settings(max_examples=40, deadline=None)
    @given(st.lists(st.tuples(events, st.integers(1, 300)), max_size=25))
    def check(script):
        e = echo()
        seen = None
        for ev, ticks in script:
            if ev is not None:
                e.press(ev)
            for _ in range(ticks):
                out = e.step()
                now = tuple(getattr(out, f) for f in fields)
                if seen is not None and now != seen[1]:
                    assert out.seq != seen[0], (seen[1], now)
                seen = (out.seq, now)
    check()


def test_the_outputs_show_what_the_session_holds_after_every_tick():
    """A mixed cycle boundary writes what changes with it (cycle_mode,
    target_pa, weak) onto the outputs itself instead of refreshing them all
    (on an RP2040 the whole refresh made that tick miss its budget): after
    every tick, whatever the presses and however far short of its target
    the pump falls, each event-driven output must be what the session holds."""
    from hypothesis import given, settings, strategies as st
    raw = copy.deepcopy(DEFAULT_PROFILES)
    raw["modes"]["mixed"].update(stimulation_cycles=2, expression_cycles=1)
    raw["programs"]["standard"] = [{"mode": "mixed", "minutes": 3}, {"mode": "stimulation", "minutes": 1}]
    p, errors = profiles.load(raw)
    assert not errors, errors
    events = st.sampled_from([None, None, EV_START, EV_STOP, EV_PAUSE, EV_LETDOWN, EV_LEVEL_UP, EV_LEVEL_DOWN,
                              EV_PROGRAM])
    seen = set()

    @settings(max_examples=30, deadline=None)
    @given(st.lists(st.tuples(events, st.integers(55, 100), st.integers(1, 800)), max_size=16))
    def check(script):
        e = Echo(session=make_session(p))
        for ev, reach, ticks in script:             # reach: % of the setpoint the pump builds
            if ev is not None:
                e.press(ev)
            for _ in range(ticks):
                out = e.step(e.out.setpoint_pa * reach // 100)
                s = e.s
                running = out.state == STATE_RUNNING
                assert (out.state, out.mode, out.cycle_mode, out.target_pa, out.weak, out.level) == (
                    s.state, s.mode, s.cycle_mode, s.cycle_target_pa if running else 0, s.weak and running,
                    s.levels[s.mode] if s.mode != MODE_NONE else 0)
                if running and s.mode == MODE_MIXED:
                    seen.add((out.cycle_mode, out.weak))
    check()
    assert seen == {(MODE_STIMULATION, False), (MODE_STIMULATION, True), (MODE_EXPRESSION, False),
                    (MODE_EXPRESSION, True)}, seen


def test_a_cycle_that_ends_as_the_last_one_did_leaves_out_seq_where_it_was():
    """out.seq moves when something shown changes, not at every cycle's
    end: a cycle of the same mode and target, with the weak flag as it
    was, leaves it, so the indicator, the record and the display stay on
    their quiet paths (on an RP2040 a moved seq made each cycle's last tick
    some 360 us dearer). The level's new target moves it at the next cycle."""
    e = Echo(session=make_session(middle_profiles()))
    e.press(EV_START)
    e.run(1000)
    seq = e.out.seq
    count = e.s.cycle.count
    e.run(30000)
    assert e.s.cycle.count >= count + 40 and e.out.seq == seq and e.out.mode == MODE_STIMULATION
    target = e.out.target_pa
    e.press(EV_LEVEL_UP)
    e.step()
    assert e.out.seq != seq
    seq = e.out.seq
    assert e.run(1000, until=lambda o: o.target_pa != target)
    assert e.out.seq != seq and e.out.target_pa > target


def test_the_setpoint_each_tick_is_the_cycle_waveform_one_interval_ahead():
    """Session.tick computes the cycle's advance and setpoint inline (a call
    is dear on an RP2040): every running tick, at uneven tick lengths and
    ticks longer than the 50 ms the control looks ahead, its setpoint is
    Cycle.setpoint_pa's for the phase reached, in suction and in release,
    in every mode, across level changes and cycle boundaries."""
    from pump.cycle import Cycle
    s = make_session(middle_profiles())
    s.tick(0, 0)
    s.press(EV_START)
    dts = [10, 7, 13, 1, 10, 60, 10, 3, 25, 10, 10, 51, 9]
    sp = 0
    seen = set()
    for i in range(6000):
        if i == 1500:
            s.press(EV_LEVEL_UP)
        if i == 3000:
            s.press(EV_LETDOWN)
        dt = dts[i % len(dts)]
        ref = Cycle()
        ref.load(s.p.modes[s.cycle_mode])       # the timing of the cycle this tick is in
        ref.phase_ms = s.cycle.phase_ms
        out = s.tick(dt, sp)
        if out.state != STATE_RUNNING:
            continue
        if ref.advance(dt):                      # the boundary: the new cycle's timing
            ref.load(s.p.modes[s.cycle_mode])
        assert ref.phase_ms == s.cycle.phase_ms
        assert out.setpoint_pa == ref.setpoint_pa(s.cycle_target_pa, min(dt, 50)), i
        assert out.valve_open == (ref.phase_ms >= ref.suction_ms)
        seen.add((out.cycle_mode, out.valve_open, 0 < out.setpoint_pa < s.cycle_target_pa))
        sp = out.setpoint_pa
    assert seen >= {(MODE_STIMULATION, False, True), (MODE_STIMULATION, True, False),
                    (MODE_EXPRESSION, False, True), (MODE_EXPRESSION, False, False), (MODE_EXPRESSION, True, False)}


def test_the_session_time_shown_is_the_sessions_in_every_state():
    """The outputs show the session time (the ticks' time while running or
    resting since the start press, counted here by the test itself) and
    the program's time left after every tick: the display and the phone see
    it in every state, also after a stop, a pause, a fault clear or a
    program choice."""
    from hypothesis import given, settings, strategies as st
    events = st.sampled_from([None, EV_START, EV_STOP, EV_PAUSE, EV_PROGRAM])

    @settings(max_examples=40, deadline=None)
    @given(st.lists(st.tuples(events, st.integers(1, 400)), max_size=20))
    def check(script):
        e = echo()
        s = e.s
        counted = 0
        for ev, ticks in script:
            if ev is not None:
                was = s.state
                if e.press(ev) and ev == EV_START and was in (STATE_IDLE, STATE_DONE):
                    counted = 0
            for _ in range(ticks):
                if s.state in (STATE_RUNNING, STATE_RESTING):
                    counted += e.tick_ms
                out = e.step()
                total = s.p.programs[s.program].total_ms
                assert out.elapsed_ms == counted
                assert remaining_ms(out) == max(total - counted, 0)
    check()


def test_mode_and_level_presses_count_while_running_or_paused_and_nowhere_else():
    """Let-down and level presses change the session only while it runs or
    is paused (a level chosen during a pause is the one it resumes at);
    when idle or in a fault they change nothing and say so (mutation
    testing: "or paused" turned into "or not paused" went unnoticed)."""
    e = Echo(session=make_session(middle_profiles()))
    before = list(e.s.levels)
    for ev in (EV_LETDOWN, EV_LEVEL_UP, EV_LEVEL_DOWN):
        assert not e.press(ev)                       # idle
    assert e.s.levels == before and e.s.mode == MODE_NONE
    e.press(EV_START)
    e.run(1000)
    assert e.press(EV_PAUSE) and e.s.state == STATE_PAUSED
    assert e.press(EV_LEVEL_UP) and e.s.levels[MODE_STIMULATION] == before[MODE_STIMULATION] + 1
    assert e.press(EV_LETDOWN) and e.s.mode == MODE_EXPRESSION
    assert e.press(EV_PAUSE)                         # resume
    e.run(1000)
    assert e.out.state == STATE_RUNNING and e.out.mode == MODE_EXPRESSION
    e.s.monitor.trip(FAULT_OVER_VACUUM)
    e.run(100)
    assert e.out.state == STATE_FAULT
    levels = list(e.s.levels)
    for ev in (EV_LETDOWN, EV_LEVEL_UP, EV_LEVEL_DOWN):
        assert not e.press(ev)                       # fault
    assert e.s.levels == levels


def test_the_session_reads_the_codes_and_slots_its_modules_define():
    """Session.tick compares with its own copies of the state codes and
    reads the monitor's and the controller's slots by its own copies of
    their indices (an imported const is a look-up at every use on the
    board): each copy must be the original's value."""
    import pump.session as S
    from pump import codes, control, safety
    assert (S._RUNNING, S._PAUSED, S._RESTING, S._FAULT) == (
        codes.STATE_RUNNING, codes.STATE_PAUSED, codes.STATE_RESTING, codes.STATE_FAULT)
    assert (S._STIMULATION, S._EXPRESSION, S._MIXED) == (codes.MODE_STIMULATION, codes.MODE_EXPRESSION,
                                                         codes.MODE_MIXED)
    assert (S._TRIP, S._VAC, S._FRESH, S._DUTY, S._PEAK) == (
        safety.FAULT_SLOT, safety.VAC_SLOT, safety.FRESH_SLOT, control.DUTY_SLOT, control.PEAK_SLOT)


def test_every_suction_phase_starts_soft_and_rises_no_faster_than_the_slew_limit():
    """The release phase leaves the motor at rest for the next push: each
    suction phase starts at most at the stall duty and no tick's duty
    climbs more than the slew limit over the one before (the soft start the
    board's slew_u16_per_ms sets), through stimulation and expression."""
    from pump.session import DEFAULT_MIN_DUTY_U16, DEFAULT_SLEW_U16_PER_MS
    r = Rig(session=make_session(middle_profiles()))
    r.press(EV_START)
    seen = r.run(2 * MIN + 30000)
    assert {m for *_, m in seen} == {MODE_STIMULATION, MODE_EXPRESSION}
    starts = 0
    prev_duty, prev_open = 0, True
    for t, state, fault, duty, valve_open, mode in seen:
        assert state == STATE_RUNNING and fault == FAULT_NONE
        assert duty <= max(prev_duty + DEFAULT_SLEW_U16_PER_MS * r.tick_ms, DEFAULT_MIN_DUTY_U16), t
        if prev_open and not valve_open:
            starts += 1
            assert duty <= DEFAULT_MIN_DUTY_U16, t
        prev_duty, prev_open = duty, valve_open
    assert starts > 100
