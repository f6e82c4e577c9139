"""Validated pump profiles in integers: what the running firmware keeps.

Separate from the loader (pump/profiles.py) so that the loader, the checker
and the built-in defaults can be unloaded after boot and their bytecode
freed: these classes are all the control loop needs.
"""


class Mode:
    """One cycling mode in integers: cycle timing and the vacuum per level."""

    def __init__(self, name, cycles_per_min, period_ms, suction_ms, ramp_ms, targets_pa, default_level):
        self.name = name
        self.cycles_per_min = cycles_per_min
        self.period_ms = period_ms
        self.suction_ms = suction_ms
        self.ramp_ms = ramp_ms
        self.targets_pa = targets_pa      # tuple, index = level - 1
        self.levels = len(targets_pa)
        self.default_level = default_level


class Mixed:
    """5 stimulation cycles then 1 expression cycle (K211024), repeating."""

    def __init__(self, stimulation_cycles, expression_cycles, levels, default_level):
        self.name = "mixed"
        self.stimulation_cycles = stimulation_cycles
        self.expression_cycles = expression_cycles
        self.levels = levels
        self.default_level = default_level


class Step:
    """A program step: pump in `mode` (a MODE_* code) or rest (MODE_NONE)."""

    def __init__(self, mode, duration_ms, level):
        self.mode = mode
        self.duration_ms = duration_ms
        self.level = level                # 0 = keep the mode's current level


class Program:
    def __init__(self, name, steps):
        self.name = name
        self.steps = steps
        total = 0
        for s in steps:
            total += s.duration_ms
        self.total_ms = total


# Where a session's levels start (profiles.json "start_level"): level 1 of
# each mode, as commercial pumps power up (the default); each mode's
# default_level; or where the last session left each mode (kept in
# state.json across resets; level 1 before the first session).
START_LOWEST = 0
START_DEFAULT = 1
START_LAST = 2
START_LEVEL_NAMES = ("lowest", "default", "last")


class Profiles:
    """Validated profiles. modes[MODE_STIMULATION], modes[MODE_EXPRESSION],
    modes[MODE_MIXED]; programs in select order."""

    def __init__(self, limit_pa, max_session_ms, pause_timeout_ms, no_vacuum_ms, modes, programs, schedule=None,
                 start_level=START_LOWEST):
        self.limit_pa = limit_pa
        self.max_session_ms = max_session_ms
        self.pause_timeout_ms = pause_timeout_ms
        self.no_vacuum_ms = no_vacuum_ms
        self.modes = modes
        self.programs = programs
        self.schedule = schedule          # pump.schedule.Schedule or None
        self.start_level = start_level    # START_*

    def program_index(self, name):
        for i in range(len(self.programs)):
            if self.programs[i].name == name:
                return i
        raise KeyError(name)
