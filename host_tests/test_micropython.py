"""The core under a real MicroPython VM (the unix port from PyPI).

- parity: scripted sessions give identical output, tick for tick, under
  CPython and MicroPython; so do the validation messages;
- the 2^30 ms tick wrap: a session started just before the wrap behaves
  exactly like one started at 0;
- allocation: a steady-state tick allocates 0 bytes of heap in every state
  (deterministic: a test, not a benchmark).
"""
import os

import pytest

import mpvm

SCRIPTS = mpvm.SCRIPTS
SESSIONS = ["standard_letdown", "power_rests", "over_vacuum_clear"]
NEAR_WRAP = (1 << 30) - 60000          # one minute before ticks_ms wraps


def script(name):
    return os.path.join(SCRIPTS, name)


@pytest.fixture(scope="module")
def runs():
    """name -> (cpython output, micropython output, micropython across wrap)."""
    out = {}
    for name in SESSIONS:
        out[name] = (mpvm.run_cpython(script("scripted_sessions.py"), name),
                     mpvm.run(script("scripted_sessions.py"), name),
                     mpvm.run(script("scripted_sessions.py"), name, NEAR_WRAP))
    return out


def states(text):
    return [line.split()[2] for line in text.splitlines()]


@pytest.mark.parametrize("name", SESSIONS)
def test_session_is_identical_tick_for_tick(runs, name):
    cp, mp, _ = runs[name]
    cp_lines, mp_lines = cp.splitlines(), mp.splitlines()
    assert len(cp_lines) == len(mp_lines) > 1000
    for i, (a, b) in enumerate(zip(cp_lines, mp_lines)):
        assert a == b, "first difference at tick %d" % i


def test_scripts_exercise_what_they_claim(runs):
    std = runs["standard_letdown"][0]
    assert {"1", "2", "5"} <= set(states(std))            # running, paused, done (auto-off)
    assert any(line.split()[4] == "1" for line in std.splitlines())   # expression cycles
    power = runs["power_rests"][0]
    assert "3" in states(power)                           # resting
    assert any(line.split()[3] == "2" for line in power.splitlines())  # mixed mode
    ov = runs["over_vacuum_clear"][0]
    seq = [s for i, s in enumerate(states(ov)) if i == 0 or s != states(ov)[i - 1]]
    assert seq == ["0", "1", "4", "0", "1", "0"]             # trip, clear, start again, stop
    assert any(line.split()[9] == "1" for line in ov.splitlines())   # over_vacuum


@pytest.mark.parametrize("name", SESSIONS)
def test_a_session_across_the_tick_wrap_is_unchanged(runs, name):
    _, mp, mp_wrap = runs[name]
    assert mp_wrap == mp


def test_validation_messages_are_identical():
    cp = mpvm.run_cpython(script("profile_errors.py"))
    mp = mpvm.run(script("profile_errors.py"))
    assert cp == mp
    assert "limits.max_vacuum_mmhg: 400 is above the hard limit 300" in cp


def test_zero_heap_allocation_per_steady_tick():
    ticks = 5000
    lines = mpvm.run(script("alloc_per_tick.py"), ticks).split()
    result = dict(zip(lines[::2], (int(x) for x in lines[1::2])))
    assert result.pop("canary") >= ticks * 16               # the method can see allocation
    assert set(result) == {"idle", "stimulation", "expression", "mixed", "rest", "fault", "paused"}
    assert result == dict.fromkeys(result, 0)
