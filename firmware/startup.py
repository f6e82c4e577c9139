"""Boot: read the board file and the profiles, build the hardware and the
app. A module of its own so that its bytecode leaves the heap after boot
(app.release_boot_modules()): the control loop never needs it again.
"""
from app import BOARD_FILE, DELIBERATE_RESET_FILE, PROFILES_FILE, App, BoardError
from hw.sensors import SensorError
from hw.store import load_json
from pump.codes import FAULT_CONFIG_INVALID, FAULT_NONE, FAULT_WATCHDOG_RESET


def load_profiles(read):
    """(Profiles, errors): errors non-empty means the file was refused and
    the built-in defaults are in force (config_invalid). No file: the
    defaults, no error. Nothing in the file can raise out of here."""
    from pump import profiles as profiles_mod
    raw, why = load_json(read, PROFILES_FILE)
    if why is not None:
        return profiles_mod.defaults(), [why]
    if raw is None:
        return profiles_mod.defaults(), []
    try:
        p, errors = profiles_mod.load(raw)
    except Exception as e:                  # a validator bug must not stop the pump (the fuzz tests look for it)
        p, errors = None, ["cannot be checked (%s)" % type(e).__name__]
    if p is None:
        return profiles_mod.defaults(), [PROFILES_FILE + ": " + e for e in errors]
    return p, []


def boot(machine, clock, read_text=None, log=None, wall=None):
    """Load board and profiles, build the app. Raises BoardError when the
    board file is missing or invalid, or its sensor cannot see the limit.
    Nothing in any other file stops the pump: a broken profiles.json only
    prints its errors (the defaults are in force and the indicator shows
    config_invalid); a damaged state.json or session.cur is set aside by
    the session log, which never raises out of here.

    On the board (read_text None) the files are read from the flash (with a
    size limit, as bytes), the session log lives there and the wall clock
    is the clock module's localtime(); host runs pass read_text(name) (str,
    bytes or None), a SessionLog or nothing, and `wall` (a localtime()-like
    tuple) or None."""
    from hw import board as board_mod
    from hw import factory
    if read_text is None:
        from hw.sessionlog import SessionLog
        log = SessionLog()
    raw, why = load_json(read_text, BOARD_FILE)
    if why is not None or raw is None:
        raise BoardError([why or BOARD_FILE + ": missing"])
    board, errors = board_mod.load(raw)
    if board is None:
        raise BoardError([BOARD_FILE + ": " + e for e in errors])
    profiles, perrors = load_profiles(read_text)
    for e in perrors:
        print(e)
    try:
        hardware = factory.build(machine, board)        # valve vented, motor off
    except ValueError as e:                             # a driver refusing the board file's values
        raise BoardError([BOARD_FILE + ": %s" % (e.args[0] if e.args else "refused by a driver")])
    except ImportError as e:
        # make flash copies only the drivers its board file names: this
        # board.json names a part whose driver was not flashed with it.
        raise BoardError([BOARD_FILE + ": names a part whose driver is not on the board (%s): flash the firmware "
                          "for this board file (make flash BOARD=...)" % (e.args[0] if e.args else e)])
    # Blocking sensor start-up with the valve open and the pump off: an
    # absolute sensor measures ambient here.
    sensor_fault = FAULT_NONE
    try:
        hardware.sensor.begin(clock)
    except SensorError as e:
        print("sensor:", e.message)
        sensor_fault = e.code
    if not sensor_fault:
        errors = board_mod.check_sensor_covers(hardware.sensor.max_vacuum_pa, profiles.limit_pa)
        if errors:
            raise BoardError([BOARD_FILE + ": " + e for e in errors])
    uptime0_s = 0
    if read_text is None:
        # After the hardware (a clock module may share the sensor's bus)
        # and before the log, whose records carry the time.
        from hw.wallclock import boot_wall
        rtc_cfg = board.raw.get("rtc")
        wall = boot_wall(machine, clock, hardware.rtc, rtc_cfg["type"].upper() if rtc_cfg else "")
        uptime0_s = clock.ticks_ms() // 1000        # records count uptime from the reset, as make logs reads it
    notice = FAULT_NONE
    deliberate = _take_flag(read_text)
    if perrors:
        notice = FAULT_CONFIG_INVALID
    elif machine.reset_cause() == machine.WDT_RESET and not deliberate:
        notice = FAULT_WATCHDOG_RESET
    from pump.record import seconds_2000
    board_id = "".join("%02x" % b for b in machine.unique_id())
    if log is not None:
        try:
            cut = log.boot(board_id, board.name, [p.name for p in profiles.programs])
            if cut is not None:
                print("session %d was cut short (power cut or reset): logged" % cut["seq"])
        except Exception as e:              # the log never stops the pump; the fuzz tests look for this line
            print("session log unavailable: %r" % e)
            log = None
    wall_s = seconds_2000(wall) if wall is not None else None
    if profiles.schedule is not None and wall_s is None:
        print("clock not set: the schedule counts from the last session on this boot "
              "(make flash sets the clock)")
    app = App(machine, clock, board, profiles, hardware, notice, sensor_fault, log, board_id, wall_s, uptime0_s)
    app.prime()
    return app


def _take_flag(read):
    """True when reset.flag is there (make flash/logs/profiles-* reset the
    board deliberately), removing it. Whatever it holds (its content is
    never read) or a folder of that name: the flag counts once."""
    if read is not None:
        try:
            return read(DELIBERATE_RESET_FILE) is not None
        except ValueError:
            return True
    import os
    try:
        os.stat(DELIBERATE_RESET_FILE)
    except OSError:
        return False
    from hw.store import remove, set_aside
    if not remove(DELIBERATE_RESET_FILE):
        set_aside(DELIBERATE_RESET_FILE)
    return True
