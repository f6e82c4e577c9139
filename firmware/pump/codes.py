"""Small-integer codes for states, modes, events, faults and notices.

The per-tick path passes these ints around (no strings are built per tick);
the name tuples turn them into the contract's words for logs, the simulator
trace and the display. Index = code.
"""
from micropython import const

STATE_IDLE = const(0)
STATE_RUNNING = const(1)
STATE_PAUSED = const(2)
STATE_RESTING = const(3)
STATE_FAULT = const(4)
STATE_DONE = const(5)
STATE_NAMES = ("idle", "running", "paused", "resting", "fault", "done")

MODE_NONE = const(-1)
MODE_STIMULATION = const(0)
MODE_EXPRESSION = const(1)
MODE_MIXED = const(2)
MODE_NAMES = ("stimulation", "expression", "mixed")

EV_START = const(1)
EV_STOP = const(2)
EV_PAUSE = const(3)          # toggles pause / resume
EV_LETDOWN = const(4)        # let-down / mode toggle
EV_LEVEL_UP = const(5)
EV_LEVEL_DOWN = const(6)
EV_PROGRAM = const(7)        # select the next program (idle only)
EV_POWER_DAYS = const(8)     # idle: power pumping for the next days, on/off (app-level)
EVENT_NAMES = ("", "start", "stop", "pause", "letdown", "level_up",
               "level_down", "program", "power_days")

# Fault codes (docs/design.md contract). Trips are 1..7; session_limit ends a
# session and is not a fault; config_invalid and watchdog_reset are notices.
FAULT_NONE = const(0)
FAULT_OVER_VACUUM = const(1)
FAULT_SENSOR_RANGE = const(2)
FAULT_SENSOR_STALE = const(3)
FAULT_SENSOR_STUCK = const(4)
FAULT_SENSOR_IO = const(5)
FAULT_RELEASE_FAIL = const(6)
FAULT_NO_VACUUM = const(7)
FAULT_CONFIG_INVALID = const(8)
FAULT_WATCHDOG_RESET = const(9)
FAULT_SESSION_LIMIT = const(10)
FAULT_NAMES = ("", "over_vacuum", "sensor_range", "sensor_stale",
               "sensor_stuck", "sensor_io", "release_fail", "no_vacuum",
               "config_invalid", "watchdog_reset", "session_limit")
TRIP_CODES = (FAULT_OVER_VACUUM, FAULT_SENSOR_RANGE, FAULT_SENSOR_STALE,
              FAULT_SENSOR_STUCK, FAULT_SENSOR_IO, FAULT_RELEASE_FAIL,
              FAULT_NO_VACUUM)

# Why a session ended (for the session record and the display).
END_NONE = const(0)
END_STOP = const(1)
END_AUTO_OFF = const(2)
END_FAULT = const(3)
END_PAUSE_TIMEOUT = const(4)
END_POWER_CUT = const(5)
END_NAMES = ("", "stop", "auto_off", "fault", "pause_timeout", "power_cut")
