"""A pump core wired to the simulator's physical plant, for host tests.

Readings are the plant's true vacuum rounded to Pa (an ideal sensor) unless a
`sensor` callable is given; `sensor(rig)` returns (reading, sensor_fault).
"""
from pump import profiles as profiles_mod
from pump.codes import FAULT_NONE
from pump.safety import SafetyConfig
from pump.session import Session
from plant import Plant

TICK_MS = 10


def make_session(profiles=None, **safety):
    p = profiles or profiles_mod.defaults()
    return Session(p, SafetyConfig(p.limit_pa, **safety))


def middle_profiles():
    """The default profiles with sessions starting at each mode's
    default_level (5 of 9) instead of the lowest level: for tests about
    level steps, limits and targets that need room both ways."""
    import copy
    from pump.defaults import DEFAULT_PROFILES
    raw = copy.deepcopy(DEFAULT_PROFILES)
    raw["start_level"] = "default"
    p, errors = profiles_mod.load(raw)
    assert not errors, errors
    return p


class Rig:
    def __init__(self, session=None, plant=None, sensor=None, tick_ms=TICK_MS):
        self.s = session or make_session()
        self.plant = plant or Plant()
        self.sensor = sensor
        self.tick_ms = tick_ms
        self.t_ms = 0
        self.out = self.s.tick(0, 0)
        self.max_true_pa = 0.0

    def reading(self):
        if self.sensor is not None:
            return self.sensor(self)
        return int(round(self.plant.vacuum_pa)), FAULT_NONE

    def step(self):
        self.plant.step(self.tick_ms, self.out.duty_u16, self.out.valve_open)
        self.t_ms += self.tick_ms
        self.max_true_pa = max(self.max_true_pa, self.plant.vacuum_pa)
        r, f = self.reading()
        self.out = self.s.tick(self.tick_ms, r, f)
        return self.out

    def run(self, ms, until=None):
        """Tick for `ms` (or until `until(out)` is true); returns the outputs'
        (t, state, fault) history as tuples."""
        end = self.t_ms + ms
        seen = []
        while self.t_ms < end:
            out = self.step()
            seen.append((self.t_ms, out.state, out.fault, out.duty_u16, out.valve_open, out.mode))
            if until is not None and until(out):
                break
        return seen

    def press(self, ev):
        return self.s.press(ev)


class Echo:
    """A perfect, instant plant for state-machine tests: each tick reads
    back the previous tick's setpoint, so cycles meet their targets and
    releases vent without simulating air. Hours of session in seconds."""

    def __init__(self, session=None, tick_ms=TICK_MS):
        self.s = session or make_session()
        self.tick_ms = tick_ms
        self.t_ms = 0
        self.out = self.s.tick(0, 0)
        self.max_duty_while_not_running = 0

    def step(self, reading=None):
        r = self.out.setpoint_pa if reading is None else reading
        self.t_ms += self.tick_ms
        self.out = self.s.tick(self.tick_ms, r)
        return self.out

    def run(self, ms, until=None):
        end = self.t_ms + ms
        while self.t_ms < end:
            out = self.step()
            if until is not None and until(out):
                return True
        return False

    def press(self, ev):
        return self.s.press(ev)
