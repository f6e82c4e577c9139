"""Fake `time` for host runs of the firmware (main.py, the virtual board).

Under the MicroPython unix port a `time.py` on MICROPYPATH overrides the
built-in (whose ticks wrap at 2^62, not the boards' 2^30); under CPython the
tests put this module into sys.modules as `time` while main.py runs. All
functions read the fake machine's shared FakeClock, so pins, devices and
time move together and deterministically.
"""
import machine


def _clock():
    return machine.world.clock


def ticks_ms():
    return _clock().ticks_ms()


def ticks_us():
    return _clock().ticks_us()


def ticks_add(t, delta):
    return _clock().ticks_add(t, delta)


def ticks_diff(a, b):
    return _clock().ticks_diff(a, b)


def sleep_ms(ms):
    _clock().sleep_ms(ms)


def sleep_us(us):
    _clock().sleep_ms(us // 1000)


def sleep(s):
    _clock().sleep_ms(int(s * 1000))


def time():
    return machine.world.epoch_s + _clock().elapsed_ms // 1000


def localtime(secs=None):
    return gmtime(secs)


def gmtime(secs=None):
    if secs is None:
        secs = time()
    days, rem = divmod(int(secs), 86400)
    hh, rem = divmod(rem, 3600)
    mm, ss = divmod(rem, 60)
    wday = (days + 3) % 7                      # 1970-01-01 was a Thursday
    y = 1970
    while True:
        n = 366 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 365
        if days < n:
            break
        days -= n
        y += 1
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    mdays = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    m = 0
    while days >= mdays[m]:
        days -= mdays[m]
        m += 1
    yday = sum(mdays[:m]) + days + 1
    return (y, m + 1, days + 1, hh, mm, ss, wday, yday)
