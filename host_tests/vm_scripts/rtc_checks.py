"""The clock-module drivers (hw/rtc.py) against their chip models
(devices.DS3231Device, PCF8563Device) and the factory, scripted: the same
checks on CPython and on the MicroPython unix port.

Prints one `PASS <check>` or `FAIL <check>: <why>` line per check, in
order, then `info <check> <value>` lines (values read, messages) that must
be identical on both VMs. Usage: rtc_checks.py
"""
import json

import devices
import machine
from hw import board as board_mod
from hw import factory
from hw.rtc import DS3231, PCF8563, RtcError

KINDS = ("ds3231", "pcf8563")
ADDR = {"ds3231": 0x68, "pcf8563": 0x51}
TIME0 = {"ds3231": 0x00, "pcf8563": 0x02}      # first time register
WDAY = {"ds3231": 0x03, "pcf8563": 0x06}       # weekday register
CHECKS = []
INFO = []
DAY_MS = 86400 * 1000


class Fail(Exception):
    pass


def eq(got, want, what=""):
    if got != want:
        raise Fail("%s%r, expected %r" % (what + ": " if what else "", got, want))


def rtc_error(fn, *args):
    """The RtcError fn(*args) raises (anything else, or nothing, fails)."""
    try:
        fn(*args)
    except RtcError as e:
        if e.message != e.args[0] or "\n" in e.message:
            raise Fail("message %r is not args[0] on one line" % e.message)
        return e.message
    except Exception as e:     # noqa: B902 - the point: an OSError must not escape
        raise Fail("raised %s %r, not RtcError" % (type(e).__name__, e.args))
    raise Fail("no RtcError")


def both(f):
    for kind in KINDS:
        CHECKS.append((kind + "_" + f.__name__, f, kind))
    return f


def one(f):
    CHECKS.append((f.__name__, f, None))
    return f


def info(*values):
    INFO.append(" ".join([str(v) for v in values]))


def setup(kind, time=None):
    """A fresh world with the chip on I2C0 (None: a module just powered for
    the first time, its stop flag set) and the driver."""
    w = machine.reset_world("rp2")
    dev = (devices.DS3231Device if kind == "ds3231" else devices.PCF8563Device)(time)
    w.attach_i2c(0, ADDR[kind], dev)
    drv = (DS3231 if kind == "ds3231" else PCF8563)(machine.I2C(0), bus=0)
    return w, dev, drv


def poke_time(kind, dev, values):
    for i in range(7):
        dev.poke(TIME0[kind] + i, values[i])


# -- reading and writing -----------------------------------------------------------------

@both
def reads_datasheet_vectors(kind):
    _, dev, drv = setup(kind, (2030, 6, 15, 8, 0, 0))
    # The same instants in each chip's register order (DS3231: s, min, h,
    # weekday, date, month, year; PCF8563: s, min, h, day, weekday, month, year).
    vectors = [((0x56, 0x34, 0x12, 0x03, 0x31, 0x12, 0x26), (0x56, 0x34, 0x12, 0x31, 0x04, 0x12, 0x26),
                (2026, 12, 31, 12, 34, 56)),
               ((0x00, 0x00, 0x00, 0x06, 0x01, 0x01, 0x00), (0x00, 0x00, 0x00, 0x01, 0x06, 0x01, 0x00),
                (2000, 1, 1, 0, 0, 0)),
               ((0x59, 0x59, 0x23, 0x04, 0x31, 0x12, 0x99), (0x59, 0x59, 0x23, 0x31, 0x04, 0x12, 0x99),
                (2099, 12, 31, 23, 59, 59)),
               ((0x07, 0x08, 0x09, 0x02, 0x29, 0x02, 0x00), (0x07, 0x08, 0x09, 0x29, 0x02, 0x02, 0x00),
                (2000, 2, 29, 9, 8, 7))]
    for ds, pcf, want in vectors:
        poke_time(kind, dev, ds if kind == "ds3231" else pcf)
        eq(drv.read(), want)
    info(kind, "vector", drv.read())


@both
def writes_one_transfer_of_bcd_and_reads_back(kind):
    _, dev, drv = setup(kind)
    drv.write((2026, 12, 31, 12, 34, 56))
    regs = tuple(dev.regs[TIME0[kind]:TIME0[kind] + 7])
    eq(regs, (0x56, 0x34, 0x12, 0x04, 0x31, 0x12, 0x26) if kind == "ds3231" else
       (0x56, 0x34, 0x12, 0x31, 0x04, 0x12, 0x26), "registers")
    eq(drv.read(), (2026, 12, 31, 12, 34, 56))
    for t in ((2000, 1, 1, 0, 0, 0), (2099, 12, 31, 23, 59, 59), (2024, 2, 29, 7, 5, 3), (2041, 10, 9, 19, 48, 20)):
        drv.write(t)
        eq(drv.read(), t)
        eq(dev.time(), t, "the chip's own time")
    eq((dev.time_writes, dev.partial_time_writes, dev.partial_time_reads, dev.bad_writes), (5, 0, 0, 0),
       "time writes, torn writes, torn reads, bad writes")


@both
def time_runs_with_the_fake_clock(kind):
    w, dev, drv = setup(kind)
    drv.write((2026, 12, 31, 23, 59, 58))
    w.clock.advance(1999)
    eq(drv.read(), (2026, 12, 31, 23, 59, 59))
    w.clock.advance(1)
    eq(drv.read(), (2027, 1, 1, 0, 0, 0))
    eq(dev.regs[WDAY[kind]], 5, "weekday register stepped at midnight (Friday)")
    w.clock.advance(365 * DAY_MS + 3723 * 1000)
    eq(drv.read(), (2028, 1, 1, 1, 2, 3))
    w.clock.advance(366 * DAY_MS)                         # 2028 is a leap year
    eq(drv.read(), (2029, 1, 1, 1, 2, 3))
    eq(dev.regs[WDAY[kind]], 1, "weekday register (Monday)")
    info(kind, "after two years", drv.read())


@both
def leap_years(kind):
    w, dev, drv = setup(kind)
    drv.write((2028, 2, 28, 23, 59, 59))
    w.clock.advance(1000)
    eq(drv.read(), (2028, 2, 29, 0, 0, 0))
    w.clock.advance(DAY_MS)
    eq(drv.read(), (2028, 3, 1, 0, 0, 0))
    drv.write((2027, 2, 28, 23, 59, 59))
    w.clock.advance(1000)
    eq(drv.read(), (2027, 3, 1, 0, 0, 0))
    drv.write((2000, 2, 29, 12, 0, 0))                    # 2000: divisible by 400, a leap year
    eq(drv.read(), (2000, 2, 29, 12, 0, 0))
    info(kind, rtc_error(drv.write, (2027, 2, 29, 0, 0, 0)))
    poke_time(kind, dev, (0, 0, 0, 1, 0x29, 0x02, 0x27) if kind == "ds3231" else (0, 0, 0, 0x29, 1, 0x02, 0x27))
    info(kind, rtc_error(drv.read))


@both
def weekday_register_written(kind):
    _, dev, drv = setup(kind)
    # (date, DS3231 1 = Monday ... 7 = Sunday, PCF8563 0 = Sunday ... 6 = Saturday)
    for date, ds, pcf in (((2000, 1, 1), 6, 6), ((2026, 1, 4), 7, 0), ((2026, 12, 31), 4, 4), ((2024, 2, 29), 4, 4),
                          ((2099, 12, 31), 4, 4), ((2000, 2, 29), 2, 2), ((2026, 5, 1), 5, 5)):
        drv.write(date + (10, 0, 0))
        eq(dev.regs[WDAY[kind]], ds if kind == "ds3231" else pcf, "weekday of %r" % (date,))


@both
def stop_flag_refuses_and_write_clears_it(kind):
    w, dev, drv = setup(kind, (2026, 3, 1, 10, 0, 0))
    eq(drv.read(), (2026, 3, 1, 10, 0, 0))
    dev.lose_power()                                      # supply off, coin cell flat
    w.clock.advance(5000)
    msg = rtc_error(drv.read)
    if "lost power or its battery is flat: time not kept" not in msg:
        raise Fail(msg)
    info(kind, msg)
    if kind == "ds3231":
        dev.poke(0x0E, 0x9C)                              # EOSC set: would stop on battery
        dev.poke(0x0F, 0x8B)                              # OSF, EN32kHz, A2F, A1F
    drv.write((2026, 3, 1, 10, 0, 5))
    eq(drv.read(), (2026, 3, 1, 10, 0, 5))
    if kind == "ds3231":
        eq((dev.regs[0x0E], dev.regs[0x0F]), (0x1C, 0x0B), "control, status: EOSC and OSF cleared, rest kept")
    else:
        eq(dev.regs[0x02] & 0x80, 0, "VL")
        eq(dev.regs[0x00], 0x08, "control_1: TESTC kept")
    w.clock.advance(2000)
    eq(drv.read(), (2026, 3, 1, 10, 0, 7))


@both
def absent_or_dead_module_is_an_rtc_error(kind):
    w, dev, drv = setup(kind, (2026, 3, 1, 10, 0, 0))
    w.detach_i2c(0, ADDR[kind])
    msg = rtc_error(drv.read)
    eq(msg, "no %s answers at 0x%02x on I2C0: module missing, unpowered or miswired" % (kind.upper(), ADDR[kind]))
    info(kind, msg)
    rtc_error(drv.write, (2026, 3, 1, 10, 0, 0))
    w.attach_i2c(0, ADDR[kind], dev)
    eq(drv.read(), (2026, 3, 1, 10, 0, 0))
    dev.nack = True                                       # unpowered on a live bus
    rtc_error(drv.read)
    rtc_error(drv.write, (2026, 3, 1, 10, 0, 0))
    dev.nack = False
    w.i2c_fail[0] = 110                                   # SDA held low: every transfer times out
    rtc_error(drv.read)
    w.i2c_fail[0] = 0
    eq(drv.read(), (2026, 3, 1, 10, 0, 0))
    bare = (DS3231 if kind == "ds3231" else PCF8563)(machine.I2C(0))
    w.detach_i2c(0, ADDR[kind])
    info(kind, rtc_error(bare.read))                      # no bus number given: the address alone


@both
def invalid_registers_are_an_rtc_error(kind):
    _, dev, drv = setup(kind, (2026, 3, 1, 10, 0, 0))
    t0 = TIME0[kind]
    # (register offset from the seconds register, value)
    ds = ((0, 0x5A), (0, 0x60), (1, 0x7F), (2, 0x24), (2, 0x1A), (4, 0x00), (4, 0x32), (4, 0x3A), (5, 0x00),
          (5, 0x13), (5, 0x0A), (6, 0xA0), (6, 0x9F))
    pcf = ((0, 0x5A), (0, 0x60), (1, 0x7F), (2, 0x24), (2, 0x1A), (3, 0x00), (3, 0x32), (3, 0x3A), (5, 0x00),
           (5, 0x13), (5, 0x0A), (6, 0xA0), (6, 0x9F))
    for off, value in ds if kind == "ds3231" else pcf:
        dev.set_time((2026, 3, 1, 10, 0, 0))
        dev.poke(t0 + off, value)
        msg = rtc_error(drv.read)
        if "registers hold no valid time" not in msg:
            raise Fail(msg)
    dev.set_time((2026, 4, 30, 10, 0, 0))
    dev.poke(t0 + (4 if kind == "ds3231" else 3), 0x31)   # 31 April
    info(kind, rtc_error(drv.read))


@both
def century_bit_is_refused_and_written_zero(kind):
    w, dev, drv = setup(kind)
    drv.write((2099, 12, 31, 23, 59, 59))
    w.clock.advance(1000)                                 # the chip toggles the century bit at 99 -> 00
    eq(dev.time(), (2100, 1, 1, 0, 0, 0))
    info(kind, rtc_error(drv.read))
    drv.write((2026, 1, 1, 0, 0, 0))
    eq(dev.regs[TIME0[kind] + 5] & 0x80, 0, "century bit")
    eq(drv.read(), (2026, 1, 1, 0, 0, 0))


@both
def write_refuses_what_the_module_cannot_hold(kind):
    _, dev, drv = setup(kind, (2026, 3, 1, 10, 0, 0))
    before = dev.transfers
    for t in ((1999, 12, 31, 23, 59, 59), (2100, 1, 1, 0, 0, 0), (2026, 13, 1, 0, 0, 0), (2026, 0, 1, 0, 0, 0),
              (2026, 4, 31, 0, 0, 0), (2026, 1, 0, 0, 0, 0), (2026, 1, 1, 24, 0, 0), (2026, 1, 1, 0, 60, 0),
              (2026, 1, 1, 0, 0, 60), (2026, 1, 1, -1, 0, 0), (2026, 1, 1, 0, 0), (2026, 1, 1, 0, 0, 0, 0),
              (2026, 1, 1, True, 0, 0), (2026, 1, 1, 0, 0, "0"), None, "2026-01-01 00:00:00", 2026):
        rtc_error(drv.write, t)
    eq(dev.transfers, before, "bus transfers for refused times")
    info(kind, rtc_error(drv.write, (2100, 1, 1, 0, 0, 0)))
    drv.write([2026, 3, 1, 10, 0, 0])                     # a list is a sequence of six too
    eq(drv.read(), (2026, 3, 1, 10, 0, 0))


@both
def constructor_touches_no_bus(kind):
    w = machine.reset_world("rp2")                        # nothing attached: every transfer would raise
    (DS3231 if kind == "ds3231" else PCF8563)(machine.I2C(0), bus=0)
    eq([e for e in w.log if e[0] != "i2c_init"], [], "bus events")


@both
def model_pointer_wraps_and_takes_multibyte_writes(kind):
    w, dev, drv = setup(kind, (2026, 3, 1, 10, 0, 0))
    i2c, a = machine.I2C(0), ADDR[kind]
    if kind == "ds3231":
        eq(tuple(i2c.readfrom_mem(a, 0x11, 4)), (25, 0x00, 0x00, 0x00), "0x11, 0x12, then 0x00, 0x01")
        i2c.writeto(a, b"\x10\x05")                       # pointer 0x10 (aging), then one data byte
        i2c.writeto(a, b"\x10")                           # pointer only
        eq(tuple(i2c.readfrom(a, 1)), (0x05,), "aging offset")
        i2c.writeto(a, b"\x12\xaa\x30")                   # 0x12 (read-only temperature), wraps to 0x00
        eq((dev.regs[0x12], dev.regs[0x00], dev.bad_writes), (0x00, 0x30, 1), "temp LSB, seconds, bad writes")
    else:
        dev.poke(0x0F, 0x77)
        eq(tuple(i2c.readfrom_mem(a, 0x0F, 3)), (0x77, 0x08, 0x00), "0x0F, then 0x00, 0x01")
        i2c.writeto(a, b"\x0f\x11\x08\x00\x30")           # timer, control_1, control_2, seconds
        eq((dev.regs[0x0F], dev.regs[0x02], dev.bad_writes), (0x11, 0x30, 0), "timer, seconds, bad writes")
    eq(drv.read(), (2026, 3, 1, 10, 0, 30))
    eq(dev.partial_time_writes, 1, "the seconds-only write counted as torn")


@one
def ds3231_twelve_hour_mode(kind):
    w, dev, drv = setup("ds3231", (2026, 5, 1, 0, 0, 0))
    for t, reg in (((2026, 5, 1, 0, 30, 0), 0x52), ((2026, 5, 1, 11, 59, 0), 0x51), ((2026, 5, 1, 12, 0, 0), 0x72),
                   ((2026, 5, 1, 13, 5, 0), 0x61), ((2026, 5, 1, 23, 59, 59), 0x71)):
        dev.set_time(t, hour12=True)                      # as another program may have left it
        eq(dev.regs[2], reg, "hours register for %r" % (t,))
        eq(drv.read(), t)
    w.clock.advance(1000)                                 # 11:59:59 PM -> 12:00:00 AM the next day
    eq(drv.read(), (2026, 5, 2, 0, 0, 0))
    eq(dev.regs[2], 0x52, "hours register after midnight")
    for bad in (0x40, 0x53, 0x60, 0x4A):                  # 0, 13, PM 0, 0A in 12-hour mode
        dev.set_time((2026, 5, 1, 10, 0, 0), hour12=True)
        dev.poke(2, bad)
        rtc_error(drv.read)
    drv.write((2026, 5, 1, 15, 0, 0))
    eq(dev.regs[2], 0x15, "written in 24-hour mode")
    eq(drv.read(), (2026, 5, 1, 15, 0, 0))


@one
def pcf8563_masks_undefined_bits(kind):
    _, dev, drv = setup("pcf8563", (2026, 12, 31, 12, 34, 56))
    dev.undefined_bits = 0xFF                             # the unused bits read 1
    eq(tuple(dev.regs[2:9]), (0x56, 0x34, 0x12, 0x31, 0x04, 0x12, 0x26), "stored")
    eq(tuple(machine.I2C(0).readfrom_mem(0x51, 0x03, 4)), (0xB4, 0xD2, 0xF1, 0xFC), "read with undefined bits")
    eq(drv.read(), (2026, 12, 31, 12, 34, 56))


@one
def pcf8563_stop_bit_refuses_and_write_restarts_the_clock(kind):
    w, dev, drv = setup("pcf8563", (2026, 3, 1, 10, 0, 0))
    dev.poke(0x00, 0xFF)                                  # STOP, TEST1, TESTC, N bits all set
    w.clock.advance(10000)
    eq(dev.time(), (2026, 3, 1, 10, 0, 0), "stopped chip's time")
    info("pcf8563", rtc_error(drv.read))
    drv.write((2026, 3, 1, 11, 0, 0))
    eq((dev.regs[0x00], dev.bad_writes), (0x08, 0), "control_1 written: TESTC kept, the rest 0")
    w.clock.advance(3000)
    eq(drv.read(), (2026, 3, 1, 11, 0, 3))


# -- the factory ---------------------------------------------------------------------------

def board_file(name, rtc="absent"):
    with open("boards/%s.json" % name) as f:
        raw = json.load(f)
    if rtc != "absent":
        raw["rtc"] = rtc
    b, errors = board_mod.load(raw)
    if errors:
        raise Fail("; ".join(errors))
    return b


@one
def factory_without_a_clock_module(kind):
    for name in ("pico", "pico_w", "esp32_devkitc"):
        for rtc in ("absent", None):
            machine.reset_world("esp32" if name.startswith("esp32") else "rp2")
            eq(factory.build(machine, board_file(name, rtc)).rtc, None, name)


@one
def factory_shares_the_sensor_bus_and_touches_no_bus(kind):
    for name, kind2, sda, scl in (("pico_w", "ds3231", 4, 5), ("esp32_devkitc", "pcf8563", 21, 22)):
        w = machine.reset_world("esp32" if name.startswith("esp32") else "rp2")
        hw = factory.build(machine, board_file(name, {"type": kind2, "i2c": 0, "sda": sda, "scl": scl}))
        eq(type(hw.rtc).__name__, kind2.upper(), name)
        eq(hw.rtc._i2c is hw.sensor._i2c, True, "one machine.I2C for the bus")
        eq([e for e in w.log if e[0] == "i2c_init"], [("i2c_init", 0, scl, sda, 400000)], "buses made")
        eq([e for e in w.log if e[0].startswith("i2c_") and e[0] != "i2c_init"], [], "transfers while building")
        info(name, rtc_error(hw.rtc.read))                # nothing attached


@one
def factory_gives_a_lone_module_its_own_bus_at_100khz(kind):
    w = machine.reset_world("rp2")
    hw = factory.build(machine, board_file("pico", {"type": "ds3231", "i2c": 0, "sda": 4, "scl": 5}))
    eq([e for e in w.log if e[0] == "i2c_init"], [("i2c_init", 0, 5, 4, 100000)], "buses made")
    dev = devices.DS3231Device((2026, 7, 8, 9, 10, 11))
    w.attach_i2c(0, 0x68, dev)
    eq(hw.rtc.read(), (2026, 7, 8, 9, 10, 11))
    eq(factory.Hardware(1, 2, 3, 4, 5).rtc, None, "Hardware() without rtc")


@one
def board_rtc_rules(kind):
    """The loader's rtc rules (their messages: test_board.py) give the same
    messages on both VMs: printed as info lines."""
    cases = (("pico", {"type": "ds1307", "i2c": 0, "sda": 4, "scl": 5}), ("pico", True), ("pico", [1]),
             ("pico", {"type": "ds3231", "i2c": 2, "sda": 4, "freq": 1}),
             ("pico", {"type": "ds3231", "i2c": 0, "sda": 6, "scl": 7}),
             ("pico", {"type": "ds3231", "i2c": 0, "sda": 16, "scl": 17}),
             ("pico", {"type": "ds3231", "i2c": 0.0, "sda": True, "scl": "GP5"}),
             ("pico_w", {"type": "pcf8563", "i2c": 0, "sda": 8, "scl": 9}),
             ("pico_w", {"type": "pcf8563", "i2c": 1, "sda": 4, "scl": 5}),
             ("esp32_devkitc", {"type": "pcf8563", "i2c": 1, "sda": 34, "scl": 22}))
    for name, rtc in cases:
        with open("boards/%s.json" % name) as f:
            raw = json.load(f)
        raw["rtc"] = rtc
        b, errors = board_mod.load(raw)
        eq(b, None, "refused")
        for e in errors:
            info("board", name, e)
    with open("boards/esp32_devkitc.json") as f:
        raw = json.load(f)
    raw["sensor"]["freq"] = 1000000
    raw["rtc"] = {"type": "ds3231", "i2c": 0, "sda": 21, "scl": 22}
    for e in board_mod.load(raw)[1]:
        info("board esp32_devkitc", e)


def main():
    for name, fn, kind in CHECKS:
        try:
            fn(kind)
            print("PASS " + name)
        except Exception as e:     # noqa: B902 - report every check
            print("FAIL %s: %s %s" % (name, type(e).__name__, e.args[0] if e.args else ""))
    for line in INFO:
        print("info " + line)


main()
