"""Every integer the tick path computes fits a 32-bit port's small int.

On the RP2040 and ESP32 a small int is 31 bits (|x| < 2^30); anything larger
becomes a heap-allocated long int, so the zero-allocation budget holds only
if no intermediate result ever gets there. The unix port is 64-bit and
cannot show this, so this test rewrites the tick-path modules' source: every
arithmetic result (binary, augmented and unary operations) passes through a
check, and then drives the core through random sessions and the physical
plant in every mode.
"""
import ast
import importlib
import sys

import pytest
from hypothesis import given, settings

import test_safety_properties as props
from pump.codes import EV_LETDOWN, EV_PROGRAM, EV_START, STATE_RUNNING

SMALL = 1 << 30
TICK_PATH = ["pump.cycle", "pump.control", "pump.safety", "pump.session"]


def _chk(value):
    if type(value) is int and not -SMALL <= value < SMALL:
        raise OverflowError("%d does not fit a 32-bit port's small int" % value)
    return value


class CheckArithmetic(ast.NodeTransformer):
    def _wrap(self, node):
        return ast.copy_location(ast.Call(func=ast.Name("_chk__", ast.Load()), args=[node], keywords=[]), node)

    def visit_BinOp(self, node):
        self.generic_visit(node)
        return self._wrap(node)

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        return self._wrap(node) if isinstance(node.op, ast.USub) else node

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        load = ast.parse(ast.unparse(node.target), mode="eval").body
        value = self._wrap(ast.BinOp(left=load, op=node.op, right=node.value))
        return ast.copy_location(ast.Assign(targets=[node.target], value=value), node)


@pytest.fixture(scope="module")
def checked_core():
    """Load the tick-path modules with checked arithmetic; restore after."""
    saved = {name: sys.modules.get(name) for name in TICK_PATH}
    try:
        for name in TICK_PATH:
            spec = importlib.util.find_spec(name)
            tree = CheckArithmetic().visit(ast.parse(open(spec.origin).read()))
            ast.fix_missing_locations(tree)
            mod = importlib.util.module_from_spec(spec)
            mod.__dict__["_chk__"] = _chk
            sys.modules[name] = mod
            exec(compile(tree, spec.origin, "exec"), mod.__dict__)
        yield sys.modules["pump.session"]
    finally:
        for name, mod in saved.items():
            sys.modules[name] = mod


def test_the_checker_catches_a_large_product(checked_core):
    c = sys.modules["pump.cycle"].Cycle()
    c.ramp_ms = 10
    c.suction_ms = 10 ** 6
    c.phase_ms = 5
    with pytest.raises(OverflowError):
        c.setpoint_pa(10 ** 9)


@settings(max_examples=100)
@given(props.steps)
def test_random_sessions_stay_in_small_ints(checked_core, seq):
    from pump.safety import SafetyConfig
    s = checked_core.Session(props.P, SafetyConfig(props.P.limit_pa))
    out = s.tick(0, 0)
    for item in seq:
        if item[0] == "press":
            s.press(item[1])
        elif item[0] == "calm":
            for _ in range(item[1]):
                out = s.tick(item[3], out.setpoint_pa + item[2])
        else:
            out = s.tick(*item[1:])


@pytest.mark.parametrize("events", [[EV_START], [EV_START, EV_LETDOWN], [EV_PROGRAM, EV_START]])
def test_closed_loop_sessions_stay_in_small_ints(checked_core, events):
    from pump import profiles
    from pump.safety import SafetyConfig
    from plant import Plant
    p = profiles.defaults()
    s = checked_core.Session(p, SafetyConfig(p.limit_pa))
    plant = Plant(pump_free_flow_lpm=8, volume_ml=40)
    out = s.tick(0, 0)
    for ev in events:
        s.press(ev)
    for i in range(30000):
        plant.step(10, out.duty_u16, out.valve_open)
        out = s.tick(10, int(plant.vacuum_pa) + (i * 7919) % 200 - 100)
    assert out.state == STATE_RUNNING


def test_idle_timers_saturate(checked_core):
    from pump import profiles
    from pump.safety import T_MASK, SafetyConfig
    p = profiles.defaults()
    s = checked_core.Session(p, SafetyConfig(p.limit_pa))
    s.tick(10, 0)
    s.monitor.t_ms = T_MASK - 5           # the monitor's clock just before its wrap
    s.monitor.since_reading_ms = SMALL - 5
    for _ in range(100):
        s.tick(50, None)                  # days idle, then a stale sensor
    assert s.monitor.t_ms < 100 * 50 and s.monitor.since_reading_ms < SMALL
