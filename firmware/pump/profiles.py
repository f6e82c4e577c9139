"""Parse and validate profiles.json into integer-only pump profiles.

The file is what people edit by hand, so every rejection names the path and
the rule (`modes.expression.vacuum_mmhg.max: 400 is above the hard limit
300`) and all problems are reported at once. Floats are allowed in the file
(mmHg, ratios, minutes) and are turned into Pa / ms integers here, at load
time, so the per-tick path never touches a float.

`load_or_defaults` is what the board calls: a file that fails validation
leaves the built-in defaults in force and says so (config_invalid).
"""
from pump import limits
from pump.codes import MODE_EXPRESSION, MODE_MIXED, MODE_NONE, MODE_STIMULATION, MODE_NAMES
from pump.checks import Checker as _Checker
from pump.checks import join as _join
from pump.checks import show as _show
from pump.defaults import DEFAULT_PROFILES
from pump.model import Mixed, Mode, Profiles, Program, Step
from pump.model import START_LEVEL_NAMES, START_LOWEST
from pump.schedule import Schedule

VERSION = 1
# The three programs the firmware, the simulator and the session schedule
# refer to by name; their order is the program-select order.
REQUIRED_PROGRAMS = ("standard", "power", "catch_up")
# The lowest target a level may ask for: below this a cycle cannot be told
# apart from a leak (the no-vacuum check works in fractions of the target).
MIN_TARGET_MMHG = 20
MAX_MIXED_CYCLES = 20

_LIMIT_KEYS = ("max_vacuum_mmhg", "max_session_min", "pause_timeout_min", "no_vacuum_s")
_MODE_KEYS = ("cycles_per_min", "suction_ratio", "ramp_ratio", "vacuum_mmhg", "levels", "default_level")
_MIXED_KEYS = ("stimulation_cycles", "expression_cycles", "default_level")


def _round(x):
    return int(x + 0.5) if x >= 0 else -int(-x + 0.5)


def _limits(c, raw):
    """(max_vacuum_mmhg, max_session_min, pause_timeout_min, no_vacuum_s);
    None for each value that failed."""
    c.obj(raw, "limits", _LIMIT_KEYS)
    if not isinstance(raw, dict):
        return None, None, None, None

    def num(key, lo, hard):
        if key not in raw:
            return None
        return c.number(raw[key], "limits." + key, lo, hard, hard=hard)

    return (num("max_vacuum_mmhg", 50, limits.HARD_MAX_VACUUM_MMHG),
            num("max_session_min", 1, limits.HARD_MAX_SESSION_MIN),
            num("pause_timeout_min", 1, limits.HARD_MAX_PAUSE_MIN),
            num("no_vacuum_s", 3, limits.HARD_MAX_NO_VACUUM_S))


def _targets(c, raw, path, max_target_mmhg, max_mmhg):
    """Level table in mmHg from either {"min","max"} + levels or a list."""
    vac = raw.get("vacuum_mmhg")
    vpath = path + ".vacuum_mmhg"
    headroom = " (limits.max_vacuum_mmhg %s less %d mmHg overshoot headroom)" % (
        _show(max_mmhg), limits.TRIP_HEADROOM_MMHG) if max_mmhg is not None else ""

    def target(v, p):
        v = c.number(v, p, MIN_TARGET_MMHG, 1e9, hard=limits.HARD_MAX_VACUUM_MMHG)
        if v is not None and max_target_mmhg is not None and v > max_target_mmhg:
            c.error(p, "%s is above %s%s" % (_show(v), _show(max_target_mmhg), headroom))
            return None
        return v

    if isinstance(vac, list):
        if "levels" in raw:
            c.error(path + ".levels", "not allowed with a vacuum_mmhg table (the table sets the levels)")
        if not vac or len(vac) > limits.MAX_LEVELS:
            c.error(vpath, "needs 1 to %d levels, has %d" % (limits.MAX_LEVELS, len(vac)))
            return None
        table = []
        for i in range(len(vac)):
            v = target(vac[i], "%s[%d]" % (vpath, i))
            if v is not None and table and table[-1] is not None and v <= table[-1]:
                c.error("%s[%d]" % (vpath, i), "%s is not above level %d (%s)" % (_show(v), i, _show(table[-1])))
                v = None
            table.append(v)
        return None if None in table else table
    if isinstance(vac, dict):
        if not c.obj(vac, vpath, ("min", "max")):
            return None
        lo = target(vac["min"], vpath + ".min")
        hi = target(vac["max"], vpath + ".max")
        if "levels" not in raw:
            return None             # reported as missing by the mode check
        n = c.number(raw["levels"], path + ".levels", 2, limits.MAX_LEVELS, integer=True)
        if lo is None or hi is None or n is None:
            return None
        if lo >= hi:
            c.error(vpath + ".min", "%s is not below max %s" % (_show(lo), _show(hi)))
            return None
        return [lo + (hi - lo) * i / (n - 1) for i in range(n)]
    if "vacuum_mmhg" in raw:
        c.error(vpath, _show(vac) + " is neither a {min, max} object nor a list of levels")
    return None


def _mode(c, raw, name, max_target_mmhg, max_mmhg):
    path = "modes." + name
    if not isinstance(raw, dict):
        c.obj(raw, path, _MODE_KEYS)
        return None
    keys = _MODE_KEYS if not isinstance(raw.get("vacuum_mmhg"), list) else _MODE_KEYS[:4] + ("default_level",)
    c.obj(raw, path, keys, optional=("levels",))
    cpm = c.number(raw["cycles_per_min"], path + ".cycles_per_min", limits.MIN_CYCLES_PER_MIN,
                   limits.MAX_CYCLES_PER_MIN) if "cycles_per_min" in raw else None
    ratio = c.number(raw["suction_ratio"], path + ".suction_ratio", 0.2, 0.85) if "suction_ratio" in raw else None
    ramp = c.number(raw["ramp_ratio"], path + ".ramp_ratio", 0.1, 0.9) if "ramp_ratio" in raw else None
    table = _targets(c, raw, path, max_target_mmhg, max_mmhg)
    default = None
    if "default_level" in raw:
        default = c.number(raw["default_level"], path + ".default_level", 1,
                           len(table) if table else limits.MAX_LEVELS, integer=True)
    if cpm is None or ratio is None or ramp is None or table is None or default is None:
        return None
    period_ms = _round(60000 / cpm)
    suction_ms = _round(period_ms * ratio)
    release_ms = period_ms - suction_ms
    bad = False
    if release_ms < limits.MIN_RELEASE_MS:
        c.error(path, "release phase %d ms is shorter than %d ms, too short to vent (cycles_per_min %s, suction_ratio %s)"
                % (release_ms, limits.MIN_RELEASE_MS, _show(cpm), _show(ratio)))
        bad = True
    if suction_ms < limits.MIN_SUCTION_MS:
        c.error(path, "suction phase %d ms is shorter than %d ms (cycles_per_min %s, suction_ratio %s)"
                % (suction_ms, limits.MIN_SUCTION_MS, _show(cpm), _show(ratio)))
        bad = True
    if bad:
        return None
    targets = tuple(limits.mmhg_to_pa(v) for v in table)
    return Mode(name, cpm, period_ms, suction_ms, _round(suction_ms * ramp), targets, default)


def _mixed(c, raw, levels):
    path = "modes.mixed"
    c.obj(raw, path, _MIXED_KEYS)
    if not isinstance(raw, dict):
        return None

    def num(key, hi):
        if key not in raw:
            return None
        return c.number(raw[key], path + "." + key, 1, hi, integer=True)

    s = num("stimulation_cycles", MAX_MIXED_CYCLES)
    e = num("expression_cycles", MAX_MIXED_CYCLES)
    d = num("default_level", levels or limits.MAX_LEVELS)
    if s is None or e is None or d is None or not levels:
        return None
    return Mixed(s, e, levels, d)


def _program(c, raw, name, modes, max_session):
    path = _join("programs", name)
    if not isinstance(raw, list):
        c.error(path, _show(raw) + " is not a list of steps")
        return None
    if not raw:
        c.error(path, "has no steps")
        return None
    steps = []
    pumps = False
    total_min = 0
    ok = True
    for i in range(len(raw)):
        p = "%s[%d]" % (path, i)
        st = raw[i]
        if not isinstance(st, dict):
            c.error(p, _show(st) + " is not an object")
            ok = False
            continue
        if "rest" in st:
            if not c.obj(st, p, ("rest",)):
                ok = False
                continue
            minutes = c.number(st["rest"], p + ".rest", 0.1, limits.HARD_MAX_SESSION_MIN)
            if minutes is None:
                ok = False
                continue
            steps.append(Step(MODE_NONE, _round(minutes * 60000), 0))
            total_min += minutes
            continue
        if not c.obj(st, p, ("mode", "minutes"), optional=("level",)):
            if "mode" not in st and "minutes" not in st:
                c.error(p, 'needs either "mode" and "minutes" or "rest"')
            ok = False
            if "mode" not in st or "minutes" not in st:
                continue
        mode_name = st["mode"]
        code = MODE_NONE
        for m in range(len(MODE_NAMES)):
            if MODE_NAMES[m] == mode_name:
                code = m
        if code == MODE_NONE:
            c.error(p + ".mode", "%s is not a mode (%s)" % (_show(mode_name), ", ".join(MODE_NAMES)))
            ok = False
        minutes = c.number(st["minutes"], p + ".minutes", 0.1, limits.HARD_MAX_SESSION_MIN)
        if minutes is None:
            ok = False
        else:
            total_min += minutes
        level = 0
        if "level" in st and code != MODE_NONE:
            top = modes[code].levels if modes[code] is not None else limits.MAX_LEVELS
            level = c.number(st["level"], p + ".level", 1, top, integer=True)
            if level is None:
                ok = False
        if ok and minutes is not None and level is not None:
            steps.append(Step(code, _round(minutes * 60000), level))
            pumps = True
    if not ok:
        return None
    if not pumps:
        c.error(path, "has only rest steps")
        return None
    if max_session is not None and total_min > max_session:
        c.error(path, "total %s min is above limits.max_session_min %s" % (_show(total_min), _show(max_session)))
        return None
    return Program(name, tuple(steps))


def load(raw):
    """Validate a parsed profiles object. Returns (Profiles, []) or (None, errors)."""
    c = _Checker()
    if not isinstance(raw, dict):
        return None, ["profiles: " + _show(raw) + " is not an object"]
    c.obj(raw, "", ("version", "limits", "modes", "programs"), optional=("schedule", "start_level"))
    if "version" in raw and raw["version"] != VERSION:
        c.error("version", "%s is not supported (this firmware reads version %d)" % (_show(raw["version"]), VERSION))
        return None, c.errors
    max_mmhg, session, pause, no_vac = (None, None, None, None)
    if "limits" in raw:
        max_mmhg, session, pause, no_vac = _limits(c, raw["limits"])
    max_target = max_mmhg - limits.TRIP_HEADROOM_MMHG if max_mmhg is not None else None

    modes = [None, None, None]  # type: list
    raw_modes = raw.get("modes")
    if "modes" in raw:
        c.obj(raw_modes, "modes", MODE_NAMES)
    if isinstance(raw_modes, dict):
        for code in (MODE_STIMULATION, MODE_EXPRESSION):
            name = MODE_NAMES[code]
            if name in raw_modes:
                modes[code] = _mode(c, raw_modes[name], name, max_target, max_mmhg)
        if "mixed" in raw_modes:
            st, ex = modes[MODE_STIMULATION], modes[MODE_EXPRESSION]
            levels = min(st.levels, ex.levels) if st is not None and ex is not None else 0
            modes[MODE_MIXED] = _mixed(c, raw_modes["mixed"], levels)

    programs = []
    raw_programs = raw.get("programs")
    if "programs" in raw and not isinstance(raw_programs, dict):
        c.error("programs", _show(raw_programs) + " is not an object")
    elif isinstance(raw_programs, dict):
        for name in REQUIRED_PROGRAMS:
            if name not in raw_programs:
                c.error("programs." + name, "missing")
        names = [n for n in REQUIRED_PROGRAMS if n in raw_programs]
        names += sorted(n for n in raw_programs if n not in REQUIRED_PROGRAMS)
        for name in names:
            programs.append(_program(c, raw_programs[name], name, modes, session))
    schedule = _schedule(c, raw["schedule"]) if "schedule" in raw else None
    start_level = START_LOWEST
    if "start_level" in raw:
        if raw["start_level"] in START_LEVEL_NAMES and isinstance(raw["start_level"], str):
            start_level = START_LEVEL_NAMES.index(raw["start_level"])
        else:
            c.error("start_level", "%s is not one of %s" % (_show(raw["start_level"]), ", ".join(START_LEVEL_NAMES)))
    if c.errors or max_mmhg is None or session is None or pause is None or no_vac is None:
        return None, c.errors
    return Profiles(limits.mmhg_to_pa(max_mmhg), _round(session * 60000), _round(pause * 60000),
                    _round(no_vac * 1000), tuple(modes), tuple(programs), schedule, start_level), []


def _hhmm(c, v, path):
    """Minutes after midnight from "HH:MM", or None (with the error)."""
    ok = isinstance(v, str) and len(v) == 5 and v[2] == ":"
    if ok:
        for ch in v[:2] + v[3:]:
            ok = ok and "0" <= ch <= "9"          # ASCII digits (isdigit() takes others on CPython)
    if ok:
        h, m = int(v[:2]), int(v[3:])
        if h < 24 and m < 60:
            return h * 60 + m
    c.error(path, _show(v) + " is not a time of day (\"HH:MM\", 00:00-23:59)")
    return None


def _schedule(c, raw):
    """A Schedule from {"every_min"} or {"times"}, with "grace_min"."""
    path = "schedule"
    if not isinstance(raw, dict):
        c.error(path, _show(raw) + " is not an object")
        return None
    kinds = [k for k in ("every_min", "times") if k in raw]
    if len(kinds) != 1:
        c.error(path, 'needs either "every_min" or "times", has %s' % (" and ".join(kinds) or "neither"))
        return None
    c.obj(raw, path, (kinds[0], "grace_min"))
    grace = c.number(raw["grace_min"], path + ".grace_min", 5, 180, integer=True) if "grace_min" in raw else None
    if kinds[0] == "every_min":
        every = c.number(raw["every_min"], path + ".every_min", 60, 720, integer=True)
        if every is None or grace is None:
            return None
        return Schedule(every_min=every, grace_min=grace)
    times = raw["times"]
    if not isinstance(times, list) or not 1 <= len(times) <= 12:
        c.error(path + ".times", "needs a list of 1 to 12 times of day")
        return None
    mins = []
    for i in range(len(times)):
        m = _hhmm(c, times[i], "%s.times[%d]" % (path, i))
        if m is not None and m in mins:
            c.error("%s.times[%d]" % (path, i), "%s appears twice" % _show(times[i]))
            m = None
        mins.append(m)
    if None in mins or grace is None:
        return None
    return Schedule(times_min=mins, grace_min=grace)


def loads(text):
    """Parse a file's text (or bytes) and validate it. Returns (Profiles, [])
    or (None, errors); a file that is not strict JSON gives one error, the
    same on both VMs (pump/jsontext.py): `empty`, `not UTF-8 text`,
    `line 3 column 5: expected , or }`."""
    from pump.jsontext import loads as parse
    raw, why = parse(text)
    if why is not None:
        return None, [why]
    return load(raw)


def defaults():
    # type: () -> Profiles
    """The built-in profiles (the shipped profiles.json); always valid."""
    p, errors = load(DEFAULT_PROFILES)
    if p is None:
        raise ValueError("built-in profiles invalid: " + "; ".join(errors))
    return p


def load_or_defaults(text):
    # type: (str | None) -> tuple[Profiles, list]
    """What the board does at boot: (profiles, errors). Non-empty errors mean
    the file was refused and the built-in defaults are in force
    (config_invalid); text None means no file (defaults, no error)."""
    if text is None:
        return defaults(), []
    p, errors = loads(text)
    if p is None:
        return defaults(), errors
    return p, []
