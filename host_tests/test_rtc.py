"""Clock-module drivers (hw/rtc.py: DS3231, PCF8563) against models of the
chips (tools/fakes/devices.py) that keep BCD registers and count with the
fake clock as the chips do.

The checks live in vm_scripts/rtc_checks.py and run under CPython and the
MicroPython unix port; both must pass every check and print the same
values and messages. The property tests below (CPython) hold the drivers'
calendar against Python's datetime, and a static check keeps the module
free of floats (it goes onto a Pico).
"""
import ast
import datetime
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

import devices
import machine
import mpvm
from hw import rtc
from hw.rtc import DS3231, PCF8563, RtcError

SCRIPT = os.path.join(mpvm.SCRIPTS, "rtc_checks.py")
BOTH = [
    "reads_datasheet_vectors",
    "writes_one_transfer_of_bcd_and_reads_back",
    "time_runs_with_the_fake_clock",
    "leap_years",
    "weekday_register_written",
    "stop_flag_refuses_and_write_clears_it",
    "absent_or_dead_module_is_an_rtc_error",
    "invalid_registers_are_an_rtc_error",
    "century_bit_is_refused_and_written_zero",
    "write_refuses_what_the_module_cannot_hold",
    "constructor_touches_no_bus",
    "model_pointer_wraps_and_takes_multibyte_writes",
]
CHECKS = [kind + "_" + name for name in BOTH for kind in ("ds3231", "pcf8563")] + [
    "ds3231_twelve_hour_mode",
    "pcf8563_masks_undefined_bits",
    "pcf8563_stop_bit_refuses_and_write_restarts_the_clock",
    "factory_without_a_clock_module",
    "factory_shares_the_sensor_bus_and_touches_no_bus",
    "factory_gives_a_lone_module_its_own_bus_at_100khz",
    "board_rtc_rules",
]
FIRST = datetime.datetime(2000, 1, 1)
LAST = datetime.datetime(2099, 12, 31, 23, 59, 59)


def results(text):
    out = {}
    for line in text.splitlines():
        if line.startswith("PASS ") or line.startswith("FAIL "):
            out[line[5:].split(":")[0]] = line
    return out


@pytest.fixture(scope="module")
def runs():
    return mpvm.run_cpython(SCRIPT), mpvm.run(SCRIPT)


@pytest.mark.parametrize("check", CHECKS)
def test_on_cpython(runs, check):
    assert results(runs[0]).get(check, "missing") == "PASS " + check


@pytest.mark.parametrize("check", CHECKS)
def test_on_micropython(runs, check):
    assert results(runs[1]).get(check, "missing") == "PASS " + check


def test_both_vms_print_the_same_values_and_messages(runs):
    cp, mp = runs
    assert cp == mp
    assert sorted(results(cp)) == sorted(CHECKS)               # every check in the script is listed here
    assert sum(1 for line in cp.splitlines() if line.startswith("info ")) >= 20


def test_factory_imports_the_driver_only_for_a_board_that_names_a_module(tmp_path):
    script = tmp_path / "lazy.py"
    script.write_text(
        "import json, sys, machine\n"
        "from hw import board, factory\n"
        "raw = json.load(open('boards/pico.json'))\n"
        "machine.reset_world('rp2')\n"
        "factory.build(machine, board.load(raw)[0])\n"
        "print('without', 'hw.rtc' in sys.modules)\n"
        "raw['rtc'] = {'type': 'pcf8563', 'i2c': 1, 'sda': 2, 'scl': 3}\n"
        "machine.reset_world('rp2')\n"
        "hw = factory.build(machine, board.load(raw)[0])\n"
        "print('with', 'hw.rtc' in sys.modules, hw.rtc is not None)\n")
    want = "without False\nwith True True\n"
    assert mpvm.run_cpython(str(script)) == want
    assert mpvm.run(str(script)) == want


def test_driver_has_no_float_arithmetic():
    """Integer math only: no float literal and no true division."""
    path = os.path.join(mpvm.FIRMWARE, "hw", "rtc.py")
    tree = ast.parse(open(path).read())
    for node in ast.walk(tree):
        assert not (isinstance(node, ast.Constant) and isinstance(node.value, float)), ast.dump(node)
        assert not isinstance(node, ast.Div), "true division at line %d" % node.lineno


def test_weekday_of_every_day_2000_to_2099():
    day = datetime.date(2000, 1, 1)
    while day.year < 2100:
        assert rtc._weekday(day.year, day.month, day.day) == day.weekday(), day
        day += datetime.timedelta(days=1)


def make(kind, t):
    w = machine.reset_world("rp2")
    w.logging = False
    dev = (devices.DS3231Device if kind == "ds3231" else devices.PCF8563Device)(t)
    w.attach_i2c(0, dev_addr(kind), dev)
    return w, dev, (DS3231 if kind == "ds3231" else PCF8563)(machine.I2C(0), bus=0)


def dev_addr(kind):
    return 0x68 if kind == "ds3231" else 0x51


instants = st.datetimes(min_value=FIRST, max_value=LAST).map(lambda d: d.replace(microsecond=0))


@given(kind=st.sampled_from(["ds3231", "pcf8563"]), start=instants,
       seconds=st.integers(0, 3 * 366 * 86400), hour12=st.booleans())
def test_chip_models_count_as_the_calendar_does(kind, start, seconds, hour12):
    """Set by another program (12-hour mode on a DS3231), read after any
    time: the calendar's answer, or RtcError past 2099."""
    t = start.timetuple()[:6]
    w, dev, drv = make(kind, None)
    dev.set_time(t, hour12=hour12 and kind == "ds3231")
    dev.regs[0x0F if kind == "ds3231" else 0x02] &= 0x7F       # a module that kept its time
    w.clock.advance(seconds * 1000)
    want = start + datetime.timedelta(seconds=seconds)
    if want > LAST:
        with pytest.raises(RtcError, match="century bit set"):
            drv.read()
    else:
        assert drv.read() == want.timetuple()[:6]
        assert dev.regs[0x03 if kind == "ds3231" else 0x06] == (want.isoweekday() if kind == "ds3231"
                                                                 else want.isoweekday() % 7)


@given(kind=st.sampled_from(["ds3231", "pcf8563"]), t=instants)
def test_write_then_read_any_time(kind, t):
    _, dev, drv = make(kind, None)
    drv.write(t.timetuple()[:6])
    assert drv.read() == t.timetuple()[:6]
    assert dev.time() == t.timetuple()[:6]
    assert (dev.partial_time_writes, dev.partial_time_reads, dev.bad_writes) == (0, 0, 0)


@given(kind=st.sampled_from(["ds3231", "pcf8563"]), regs=st.lists(st.integers(0, 255), min_size=7, max_size=7))
def test_any_register_contents_give_a_valid_time_or_an_rtc_error(kind, regs):
    _, dev, drv = make(kind, (2026, 1, 1, 0, 0, 0))
    base = 0x00 if kind == "ds3231" else 0x02
    for i, v in enumerate(regs):
        dev.poke(base + i, v)
    try:
        t = drv.read()
    except RtcError as e:
        assert e.message and "\n" not in e.message
        return
    datetime.datetime(*t)                                       # a real instant
    assert 2000 <= t[0] <= 2099
