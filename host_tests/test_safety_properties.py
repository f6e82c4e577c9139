"""Safety properties over random sequences of events, dt and readings.

Readings include spikes far above the limit, negative values, huge jumps,
NaN/inf floats and objects no driver should return; dt includes zero, loop
stalls and negative garbage. After every tick:

- a reading above the limit (or any garbage) leaves motor 0 / valve open in
  that very tick, in the fault state;
- nothing but the running state ever drives the motor or closes the valve;
- the commanded vacuum (shaped and internal setpoint) never exceeds the limit;
- a latched fault never clears without a stop press;
- the motor only runs after a start (or resume) press that no idle, fault
  or done state has cancelled since.
"""
from hypothesis import given, settings
from hypothesis import strategies as st

from pump.safety import SafetyConfig
from pump.session import Session
from pump.codes import (EV_LETDOWN, EV_LEVEL_DOWN, EV_LEVEL_UP, EV_PAUSE, EV_PROGRAM, EV_START, EV_STOP,
                        FAULT_NONE, FAULT_RELEASE_FAIL, FAULT_SENSOR_IO, FAULT_SENSOR_RANGE, FAULT_SENSOR_STALE, STATE_DONE,
                        STATE_FAULT, STATE_IDLE, STATE_PAUSED, STATE_RUNNING, TRIP_CODES)
from pump.control import DUTY_MAX
from vm_scripts.short_profiles import short_profiles

# Short programs and a 1 min pause timeout: random runs reach done, rests
# and timeouts, not only the first minutes of a session.
P = short_profiles(scale=0.2)
LIMIT = P.limit_pa


def make_session():
    return Session(P, SafetyConfig(P.limit_pa))

EVENTS = [EV_START, EV_STOP, EV_PAUSE, EV_LETDOWN, EV_LEVEL_UP, EV_LEVEL_DOWN, EV_PROGRAM]

normal = st.integers(-2000, LIMIT)
spike = st.integers(LIMIT + 1, 10 ** 12)
negative = st.integers(-10 ** 9, -1)
garbage = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3), st.booleans(),
                    st.binary(max_size=3), st.just([1]))
reading = st.one_of(st.none(), normal, normal, normal, normal, spike, negative, garbage)
dt = st.one_of(st.just(10), st.integers(0, 40), st.integers(0, 120000), st.integers(-1000, -1), st.just(2.5))
sensor_fault = st.sampled_from([FAULT_NONE] * 12 + [FAULT_SENSOR_IO, FAULT_SENSOR_RANGE, FAULT_SENSOR_STALE])
# Start, pause and program select weighted up so runs reach rests and pauses.
press = st.tuples(st.just("press"), st.sampled_from(EVENTS + [EV_START, EV_START, EV_PAUSE, EV_PAUSE, EV_PROGRAM]))
tick = st.tuples(st.just("tick"), dt, reading, sensor_fault)
# Runs of plausible ticks so sessions actually get going between the chaos:
# the reading follows the previous setpoint (an ideal plant) plus an offset.
calm = st.tuples(st.just("calm"), st.integers(1, 1500), st.integers(-300, 300), st.sampled_from([10, 50]))
steps = st.lists(st.one_of(press, press, calm, calm, calm, tick), max_size=60)


def is_bad(r):
    return r is not None and (type(r) is not int or r > LIMIT)


def check_tick(s, out, r, state_before, stopped, armed):
    assert 0 <= out.duty_u16 <= DUTY_MAX
    if is_bad(r):
        assert out.state == STATE_FAULT and out.duty_u16 == 0 and out.valve_open
    if out.state != STATE_RUNNING:
        assert out.duty_u16 == 0 and out.valve_open and out.setpoint_pa == 0
    if out.valve_open:
        assert out.duty_u16 == 0                     # the motor never pulls against a venting valve (release)
    assert out.setpoint_pa <= LIMIT
    assert s.control.sp <= LIMIT                     # the trimmed setpoint control aimed at
    if state_before == STATE_FAULT and not stopped:
        assert out.state == STATE_FAULT and out.fault in TRIP_CODES
    if out.duty_u16 > 0:
        assert armed
    # The fault shown after every tick: the monitor's latched trip, or
    # session_limit after an auto-off; none while idle, running, resting or paused.
    assert out.fault == (s.monitor.fault or s.ended_fault)
    if out.state not in (STATE_FAULT, STATE_DONE):
        assert out.fault == FAULT_NONE


@settings(max_examples=max(settings().max_examples, 400))
@given(steps)
def test_random_sequences_never_break_the_safety_rules(seq):
    s = make_session()
    out = s.tick(0, 0)
    armed = False
    stopped = False
    shown = (out.fault, out.seq)
    for item in seq:
        if item[0] == "press":
            ev = item[1]
            before = s.state
            changed = s.press(ev)
            if ev == EV_STOP:
                stopped = True
            if changed and (ev == EV_START or (ev == EV_PAUSE and before == STATE_PAUSED)):
                armed = True
            continue
        if item[0] == "calm":
            ticks = [(item[3], None, FAULT_NONE)] * item[1]
        else:
            ticks = [item[1:]]
        for d, r, f in ticks:
            if item[0] == "calm":
                r = out.setpoint_pa + item[2] + (s.out.elapsed_ms // 10 % 7) * 20
            before = s.state
            out = s.tick(d, r, f)
            check_tick(s, out, r, before, stopped, armed)
            # The LED's blink code follows out.seq (hw/indicator.py's fast
            # path): no fault code may change without it moving.
            if out.fault != shown[0]:
                assert out.seq != shown[1], (shown, out.fault, out.state)
            shown = (out.fault, out.seq)
            stopped = False
            if out.state in (STATE_IDLE, STATE_FAULT, STATE_DONE):
                armed = False


@given(st.lists(st.tuples(st.integers(0, 60), st.one_of(normal, st.none())), min_size=1, max_size=400),
       st.integers(0, 6))
def test_a_latched_fault_never_clears_by_itself(ticks, which):
    """Whatever readings follow a trip (including perfect ambient ones),
    only a stop press leaves the fault state."""
    s = make_session()
    s.press(EV_START)
    s.tick(10, 0)
    trips = [(LIMIT + 1, FAULT_NONE), (None, FAULT_SENSOR_IO), (None, FAULT_SENSOR_RANGE),
             (-10 ** 6, FAULT_NONE), (float("nan"), FAULT_NONE), (None, FAULT_SENSOR_STALE), ("x", FAULT_NONE)]
    r, f = trips[which]
    out = s.tick(10, r, f)
    assert out.state == STATE_FAULT
    code = out.fault
    shown = (out.fault, out.seq)
    for d, r in ticks:
        out = s.tick(d, r)
        assert out.state == STATE_FAULT and out.duty_u16 == 0 and out.valve_open
        assert out.fault == code or out.fault == FAULT_RELEASE_FAIL
        if out.fault != shown[0]:                # release_fail replaced the trip: the LED must see it
            assert out.seq != shown[1], shown
        shown = (out.fault, out.seq)
    for _ in range(5):
        s.tick(10, 0)
    assert s.press(EV_STOP)
    assert s.tick(10, 0).state == STATE_IDLE


@given(st.lists(st.sampled_from(EVENTS + [EV_PROGRAM] * 2), max_size=40))
def test_events_alone_never_pump_without_a_start(events):
    s = make_session()
    for ev in events:
        if ev == EV_START:
            continue
        s.press(ev)
        for _ in range(5):
            out = s.tick(10, 0)
            assert out.duty_u16 == 0 and out.valve_open and out.state != STATE_RUNNING
