"""Scenario files: validate (path-and-rule messages, like profiles.json)
and resolve into the engine's integer spec.

A scenario (contract, see README):

    {"board": "sim", "profiles": null, "duration_s": 600, "seed": 1,
     "plant": {"leak_ml_min_at_100mmhg": 30},
     "events": [{"at_s": 1, "press": "start"},
                {"at_s": 90, "press": "letdown", "long": false},
                {"at_s": 120, "program": "power"},
                {"at_s": 200, "plant": {"leak_ml_min_at_100mmhg": 400}},
                {"at_s": 300, "fault": "sensor_stuck"},
                {"at_s": 310, "clear": "sensor_stuck"}]}

`profiles` is a path (relative to the scenario file, or the repository),
default the shipped profiles.json. `plant` may also set the sensor model:
`sensor_noise_mmhg` (Gaussian sigma) and `sensor_latency_ms`.
"""
import json
import os

from tools import paths

paths.use_sim()
from pump.checks import Checker, show  # noqa: E402
from pump.model import START_LEVEL_NAMES  # noqa: E402

PRESSES = ("start", "stop", "pause", "letdown", "level_up", "level_down")
PROGRAMS = ("standard", "power", "catch_up")
FAULTS = ("sensor_stuck", "sensor_disconnect", "sensor_noise", "sensor_offset", "valve_stuck_closed",
          "valve_stuck_open", "motor_stall", "power_cut")
# Parameters each fault takes: name -> (default, lo, hi).
FAULT_PARAMS = {
    "sensor_noise": {"mmhg": (5.0, 0.0, 100.0)},
    "sensor_offset": {"mmhg": (-20.0, -200.0, 200.0)},
    "power_cut": {"duration_s": (2.0, 0.1, 3600.0)},
}
SENSOR_DEFAULTS = {"sensor_noise_mmhg": 0.3, "sensor_latency_ms": 0}
PLANT_LIMITS = {
    "volume_ml": (5, 1000), "pump_free_flow_lpm": (0.1, 20), "pump_max_vacuum_kpa": (5, 95),
    "stall_duty": (0, 0.9), "motor_tau_ms": (0, 1000), "leak_ml_min_at_100mmhg": (0, 100000),
    "valve_orifice_mm": (0.1, 10), "ambient_pa": (50000, 110000), "substep_ms": (0.1, 10),
    "sensor_noise_mmhg": (0, 100), "sensor_latency_ms": (0, 500),
}
MAX_DURATION_S = 4 * 3600
SHORT_PRESS_MS = 150


def _micro(x):
    """A float as integer millionths: both VMs turn it back into the same double."""
    return int(round(x * 1000000))


def _plant(c, raw, path):
    if not isinstance(raw, dict):
        c.error(path, show(raw) + " is not an object")
        return {}
    out = {}
    for k in sorted(raw):
        if k not in PLANT_LIMITS:
            c.error(path + "." + k, "unknown key (plant parameters: %s)" % ", ".join(sorted(PLANT_LIMITS)))
            continue
        lo, hi = PLANT_LIMITS[k]
        v = c.number(raw[k], path + "." + k, lo, hi)
        if v is not None:
            out[k] = v
    return out


def load(raw, base_dir=None):
    """Validate a parsed scenario. Returns (scenario dict with defaults, [])
    or (None, errors)."""
    c = Checker()
    if not isinstance(raw, dict):
        return None, ["scenario: " + show(raw) + " is not an object"]
    c.obj(raw, "", ("board", "duration_s", "seed", "events"), optional=("profiles", "plant", "name", "start_level"))
    if "start_level" in raw and (not isinstance(raw["start_level"], str) or raw["start_level"] not in START_LEVEL_NAMES):
        c.error("start_level", "%s is not one of %s" % (show(raw["start_level"]), ", ".join(START_LEVEL_NAMES)))
    board = raw.get("board")
    if "board" in raw:
        if not isinstance(board, str) or not os.path.exists(os.path.join(paths.BOARDS, str(board) + ".json")):
            names = sorted(f[:-5] for f in os.listdir(paths.BOARDS) if f.endswith(".json"))
            c.error("board", "%s is not a board in boards/ (%s)" % (show(board), ", ".join(names)))
    profiles = raw.get("profiles")
    profiles_path = paths.PROFILES_JSON
    if profiles is not None:
        if not isinstance(profiles, str):
            c.error("profiles", show(profiles) + " is not a path")
        else:
            cands = [os.path.join(base_dir, profiles)] if base_dir else []
            cands.append(os.path.join(paths.ROOT, profiles))
            found = [p for p in cands if os.path.exists(p)]
            if not found:
                c.error("profiles", "%s: no such file" % show(profiles))
            else:
                profiles_path = found[0]
                why = _text_problem(profiles_path)
                if why:
                    c.error("profiles", "%s: %s" % (show(profiles), why))
    duration = None
    if "duration_s" in raw:
        duration = c.number(raw["duration_s"], "duration_s", 1, MAX_DURATION_S)
    if "seed" in raw:
        c.number(raw["seed"], "seed", 0, 2 ** 31 - 1, integer=True)
    plant = _plant(c, raw.get("plant", {}), "plant")
    events = raw.get("events")
    if "events" in raw and not isinstance(events, list):
        c.error("events", show(events) + " is not a list")
        events = []
    for i, e in enumerate(events or []):
        _event(c, e, "events[%d]" % i, duration)
    if c.errors:
        return None, c.errors
    out = dict(raw)
    out["profiles_path"] = profiles_path
    out["plant"] = plant
    out["name"] = raw.get("name", "scenario")
    return out, []


def _event(c, e, path, duration):
    if not isinstance(e, dict):
        c.error(path, show(e) + " is not an object")
        return
    actions = [k for k in ("press", "program", "plant", "fault", "clear") if k in e]
    if "at_s" in e:                       # missing: reported by the key check below
        c.number(e["at_s"], path + ".at_s", 0, duration if isinstance(duration, (int, float)) else MAX_DURATION_S)
    elif len(actions) != 1:
        c.error(path + ".at_s", "missing")
    if len(actions) != 1:
        c.error(path, "needs exactly one action (press, program, plant, fault, clear), has %s" % (
            ", ".join(actions) or "none"))
        return
    a = actions[0]
    if a == "press":
        c.obj(e, path, ("at_s", "press"), optional=("long",))
        if e["press"] not in PRESSES:
            c.error(path + ".press", "%s is not a button press (%s)" % (show(e["press"]), ", ".join(PRESSES)))
        if "long" in e and not isinstance(e["long"], bool):
            c.error(path + ".long", show(e["long"]) + " is not true or false")
    elif a == "program":
        c.obj(e, path, ("at_s", "program"))
        if e["program"] not in PROGRAMS:
            c.error(path + ".program", "%s is not a program (%s)" % (show(e["program"]), ", ".join(PROGRAMS)))
    elif a == "plant":
        c.obj(e, path, ("at_s", "plant"))
        _plant(c, e["plant"], path + ".plant")
    elif a == "fault":
        name = e["fault"]
        if name not in FAULTS:
            c.error(path + ".fault", "%s is not a fault (%s)" % (show(name), ", ".join(FAULTS)))
            return
        params = FAULT_PARAMS.get(name, {})
        c.obj(e, path, ("at_s", "fault"), optional=tuple(params))
        for k in params:
            if k in e:
                c.number(e[k], path + "." + k, params[k][1], params[k][2])
    else:
        c.obj(e, path, ("at_s", "clear"))
        if e["clear"] not in FAULTS or e["clear"] == "power_cut":
            c.error(path + ".clear", "%s is not a fault that can be cleared (%s)" % (
                show(e["clear"]), ", ".join(f for f in FAULTS if f != "power_cut")))


def _text_problem(path):
    """None when `path` holds text the firmware would parse, else why not
    (the profiles file of a scenario goes onto the simulated flash)."""
    from pump import jsontext
    from tools import deploy
    try:
        data = deploy.read_input(path)
    except deploy.InputError as e:
        return "; ".join(e.errors)
    return jsontext.text(data)[1]


def load_file(path):
    """(scenario, []) or (None, errors), reading strict JSON from `path`
    with the firmware's own parser (pump/jsontext.py: size, UTF-8, nesting
    depth). The errors do not name the file; the caller prefixes it."""
    from pump import jsontext
    from tools import deploy
    try:
        data = deploy.read_input(path)
    except deploy.InputError as e:
        return None, e.errors
    raw, why = jsontext.loads(data)
    if why is not None:
        return None, [why]
    return load(raw, os.path.dirname(os.path.abspath(path)))


def resolve(sc):
    """The engine's spec: board object, integer millionths, times in ms."""
    with open(os.path.join(paths.BOARDS, sc["board"] + ".json")) as f:
        board_text = f.read()
    with open(sc["profiles_path"], encoding="utf-8") as f:
        profiles_text = f.read()
    if "start_level" in sc:
        # The scenario's own start level over the profiles' (the measurement
        # scenarios start at each mode's default level, 5 of 9).
        prof = json.loads(profiles_text)
        prof["start_level"] = sc["start_level"]
        profiles_text = json.dumps(prof, indent=2)
    board = json.loads(board_text)
    plant = {}
    sensor = dict(SENSOR_DEFAULTS)
    for k, v in sc["plant"].items():
        if k in sensor:
            sensor[k] = v
        else:
            plant[k] = _micro(v)
    long_ms = board["buttons"]["long_press_ms"]
    events = []
    for e in sc["events"]:
        at = int(round(e["at_s"] * 1000))
        if "press" in e:
            name = {"start": "start_stop", "stop": "start_stop"}.get(e["press"], e["press"])
            events.append({"at_ms": at, "kind": "press", "button": name,
                           "hold_ms": long_ms + 200 if e.get("long") else SHORT_PRESS_MS})
        elif "program" in e:
            events.append({"at_ms": at, "kind": "program", "index": PROGRAMS.index(e["program"])})
        elif "plant" in e:
            events.append({"at_ms": at, "kind": "plant", "set": {k: _micro(v) for k, v in e["plant"].items()}})
        elif "fault" in e:
            params = {}
            for k, (default, _lo, _hi) in FAULT_PARAMS.get(e["fault"], {}).items():
                params[k] = _micro(e.get(k, default))
            events.append({"at_ms": at, "kind": "fault", "name": e["fault"], "params": params})
        else:
            events.append({"at_ms": at, "kind": "clear", "name": e["clear"]})
    spec = {
        "board": board,
        "duration_ms": int(round(sc["duration_s"] * 1000)),
        "seed": sc["seed"],
        "plant": plant,
        "sensor": {"noise_pa": _micro(sensor["sensor_noise_mmhg"] * 133.322387),
                   "latency_ms": int(sensor["sensor_latency_ms"])},
        "events": events,
        "clock_start_ms": 0,
    }
    files = {"board.json": board_text, "profiles.json": profiles_text}
    return spec, files
