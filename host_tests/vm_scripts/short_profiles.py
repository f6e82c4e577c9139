"""The shipped profiles with programs and timeouts shortened, so a test can
reach a program's end, a rest and a pause timeout in seconds of ticks.
Runs under CPython and MicroPython."""
from pump import profiles


def short_profiles(scale=1):
    """Programs of 3, 3 and 1.5 minutes, times `scale`."""
    raw = profiles.DEFAULT_PROFILES
    d = {}
    for k in raw:
        d[k] = raw[k]
    limits = {}
    for k in raw["limits"]:
        limits[k] = raw["limits"][k]
    limits["pause_timeout_min"] = 1
    d["limits"] = limits
    k = scale
    d["programs"] = {
        "standard": [{"mode": "stimulation", "minutes": 1 * k}, {"mode": "expression", "minutes": 2 * k}],
        "power": [{"mode": "expression", "minutes": 1 * k}, {"rest": 0.5 * k}, {"mode": "expression", "minutes": 0.5 * k},
                  {"rest": 0.5 * k}, {"mode": "mixed", "minutes": 0.5 * k}],
        "catch_up": [{"mode": "stimulation", "minutes": 0.5 * k, "level": 1},
                     {"mode": "expression", "minutes": 1 * k, "level": 3}],
    }
    p, errors = profiles.load(d)
    if errors:
        raise ValueError(errors)
    return p
