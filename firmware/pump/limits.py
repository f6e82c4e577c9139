"""Hard limits: the one place for numbers that no configuration can raise.

profiles.json and the board file may lower any of these; the loaders refuse a
value above them and the safety monitor clamps against them again at run time.
Vacuum is positive (0 = ambient). Units are in the names.
"""
from micropython import const

# Rule 1 of docs/design.md. 300 mmHg is the top of what cleared powered pumps reach
# (docs/pump-figures.md); the default profile stays at 250.
HARD_MAX_VACUUM_MMHG = const(300)

# 1 mmHg = 133.322387 Pa; kept as an integer ratio so conversion is exact and
# identical on single- and double-precision floats.
PA_PER_MMHG_NUM = const(133322)
PA_PER_MMHG_DEN = const(1000)

# A level's target must stay this far below the profile's trip limit: normal
# control overshoot and sensor noise must not trip over_vacuum.
TRIP_HEADROOM_MMHG = const(15)

# Cycle rates and phase lengths. Cleared pumps span 19-134 cycles/min
# (docs/pump-figures.md); a release phase shorter than ~150 ms does not vent a typical
# normally-open valve, so the nipple would never see ambient.
MIN_CYCLES_PER_MIN = const(15)
MAX_CYCLES_PER_MIN = const(140)
MIN_RELEASE_MS = const(150)
MIN_SUCTION_MS = const(150)

# Session length: auto-off is mandatory; the longest shipped program (power
# pumping) is 60 min.
HARD_MAX_SESSION_MIN = const(90)
HARD_MAX_PAUSE_MIN = const(30)

# Sensor supervision. No reading for longer than this is a trip even if a
# board file asks for more (a 10 Hz sensor gets 5 periods).
HARD_MAX_STALE_MS = const(500)
# Vacuum that cannot be built for this long stops the session (no seal).
HARD_MAX_NO_VACUUM_S = const(30)
# How long a release may take to vent before it is a release_fail trip.
HARD_MAX_RELEASE_CHECK_MS = const(1000)

# Levels per mode.
MAX_LEVELS = const(20)


def mmhg_to_pa(mmhg):
    """mmHg (int or float, load time only) -> Pa (int, rounded)."""
    scaled = mmhg * PA_PER_MMHG_NUM
    if scaled >= 0:
        return int((scaled + PA_PER_MMHG_DEN // 2) // PA_PER_MMHG_DEN)
    return -int((-scaled + PA_PER_MMHG_DEN // 2) // PA_PER_MMHG_DEN)


def pa_to_mmhg_x10(pa):
    """Pa (int) -> tenths of mmHg (int, rounded); small-int safe to 8 MPa."""
    scaled = pa * 10 * PA_PER_MMHG_DEN // 100
    if scaled >= 0:
        return (scaled + PA_PER_MMHG_NUM // 200) // (PA_PER_MMHG_NUM // 100)
    return -((-scaled + PA_PER_MMHG_NUM // 200) // (PA_PER_MMHG_NUM // 100))


HARD_MAX_VACUUM_PA = mmhg_to_pa(HARD_MAX_VACUUM_MMHG)
