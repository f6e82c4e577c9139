"""The wall clock at boot: where the board's time comes from.

An RP2040 has no battery-backed clock: MicroPython's rp2 port starts its
RTC at 2021-01-01 at every reset and power-up, and the host's
`mpremote rtc --set` is lost by the reset that restarts the firmware. So
the time reaches a new boot from one of three places, best first:

1. clock.set: the host tools (make flash, make logs, make profiles-*) set
   the RTC and then, in the last command before the reset, have the board
   write its own time to this file. This boot reads it, adds its own
   uptime (ticks_ms counts from the reset, and the reset follows the write
   within a fraction of a second) and sets the RTC. The file is taken once.
   A battery-backed clock module is written with the same time.
2. A battery-backed clock module (DS3231 or PCF8563, hw/rtc.py) named in
   the board file: read into the RTC. Absent, unpowered or with a stopped
   oscillator it is said on the console and the board runs without a clock.
3. The port's RTC when it still holds a plausible time (a soft reset keeps
   it; so does an RP2350 across machine.reset()).

Never a reason to refuse to pump: without a time the sessions are logged
with their boot count and uptime, and `make logs` places them
(docs/session-log.md).
"""
from pump.record import CLOCK_SET_YEAR, civil, seconds_2000

HANDOVER_FILE = "clock.set"
_TOP_YEAR = 2099                    # both clock modules count 2000-2099


def parse(value):
    """The (year, month, day, hour, minute, second) a clock.set value
    holds, or None when it is not six whole numbers forming a date from
    CLOCK_SET_YEAR to 2099."""
    if not isinstance(value, list) or len(value) != 6:
        return None
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int):
            return None
    y, mo, d, h, mi, s = value
    if not (CLOCK_SET_YEAR <= y <= _TOP_YEAR and 1 <= mo <= 12 and 0 <= h < 24 and 0 <= mi < 60 and 0 <= s < 60):
        return None
    if d < 1 or d > days_in_month(y, mo):
        return None
    return (y, mo, d, h, mi, s)


def days_in_month(y, mo):
    if mo == 2:
        return 29 if y % 4 == 0 and (y % 100 != 0 or y % 400 == 0) else 28
    return 30 if mo in (4, 6, 9, 11) else 31


def weekday(t):
    """Monday 0 ... Sunday 6, as machine.RTC().datetime() takes it
    (2000-01-01 was a Saturday)."""
    s = seconds_2000(t)
    return 0 if s is None else (s // 86400 + 5) % 7


def set_rtc(machine, t):
    machine.RTC().datetime((t[0], t[1], t[2], weekday(t), t[3], t[4], t[5], 0))


def take_handover(clock, read=None):
    """(time, message): the time clock.set hands over, advanced by this
    boot's uptime, or None; the file is removed whatever it holds. `read`
    is hw.store.load_json's reader (None: the flash)."""
    from hw.store import load_json
    value, why = load_json(read, HANDOVER_FILE)
    if read is None:
        from hw.store import remove, set_aside
        if not remove(HANDOVER_FILE):
            set_aside(HANDOVER_FILE)
    if why is not None:
        return None, why + ": ignored"
    if value is None:
        return None, None
    t = parse(value)
    s = None if t is None else seconds_2000(t)
    if s is None:
        return None, HANDOVER_FILE + ": not a time from %d to 2099: ignored" % CLOCK_SET_YEAR
    up_s = (clock.ticks_ms() + 500) // 1000
    return civil(s + up_s), None


def boot_wall(machine, clock, rtc=None, rtc_name="", read=None, say=print):
    """Set the port's RTC from the best source and return the wall time as
    a localtime()-like tuple (year, month, day, hour, minute, second), or
    None when no source knows it. `rtc`: the clock module's driver or None.
    Every failure is a console line, never an exception."""
    try:
        t, why = take_handover(clock, read)
    except Exception as e:          # noqa: B902 - a damaged file never stops the boot
        t, why = None, "%s: unreadable (%r): ignored" % (HANDOVER_FILE, e)
    if why:
        say(why)
    if t is not None:
        set_rtc(machine, t)
        if rtc is not None:
            try:
                rtc.write(t)
            except Exception as e:  # noqa: B902 - RtcError, or anything else a broken module causes
                say("rtc: %s: not written" % _said(e))
        return t
    if rtc is not None:
        try:
            t = parse(list(rtc.read()))
            if t is None:
                say("rtc: the %s holds a time before %d: running without a clock" % (rtc_name, CLOCK_SET_YEAR))
            else:
                set_rtc(machine, t)
                return t
        except Exception as e:      # noqa: B902
            say("rtc: %s: running without a clock" % _said(e))
    now = clock.localtime()
    if now[0] < CLOCK_SET_YEAR:
        return None
    return tuple(now[:6])


def _said(e):
    m = getattr(e, "message", None)
    if m:
        return m
    return "%s %s" % (type(e).__name__, e.args[0] if e.args else "")
