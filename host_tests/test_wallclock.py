"""The board's time at boot (firmware/hw/wallclock.py), on both VMs.

An RP2040 loses its RTC at every reset, so the host tools hand their time
through the reset in clock.set; a clock module keeps it across power-off.
Checked: the handed-over time plus the boot's uptime becomes the RTC, the
file is taken once, a damaged or impossible one is ignored with a line
naming it, the module is written with a handed-over time and read
otherwise, and a module that is absent or stopped only costs the clock.
"""
import os

import pytest

import mpvm

SCRIPT = os.path.join(mpvm.SCRIPTS, "wallclock_checks.py")


@pytest.fixture(scope="module")
def lines(tmp_path_factory):
    cp = mpvm.run_cpython(SCRIPT, str(tmp_path_factory.mktemp("cp")))
    mp = mpvm.run(SCRIPT, str(tmp_path_factory.mktemp("mp")))
    return dict(x.split(": ", 1) for x in cp.splitlines()), mp


def test_both_vms_agree(lines):
    cp, mp = lines
    assert "\n".join("%s: %s" % kv for kv in cp.items()) == mp.strip()


@pytest.mark.parametrize("name, wall", [
    ("handover", [2026, 12, 2, 7, 50, 4]),                 # + 1.2 s of uptime since the reset, to the second
    ("handover at midnight", [2027, 1, 1, 0, 0, 2]),       # + 2.6 s: into the next year
    ("handover feb 29", [2028, 2, 29, 12, 0, 0]),
    ("module", [2026, 6, 1, 8, 0, 0]),
    ("rtc kept", [2026, 5, 28, 20, 26, 40]),
])
def test_the_time_a_boot_takes(lines, name, wall):
    got = lines[0][name]
    assert got.startswith("wall %s rtc %s " % (wall, wall)), got     # and the RTC the firmware reads says so
    assert "clock.set" not in got.split("files [")[1]                  # taken


@pytest.mark.parametrize("name, said", [
    ("handover month 13", "clock.set: not a time from 2024 to 2099: ignored"),
    ("handover feb 30", "clock.set: not a time from 2024 to 2099: ignored"),
    ("handover 2021", "clock.set: not a time from 2024 to 2099: ignored"),
    ("handover floats", "clock.set: not a time from 2024 to 2099: ignored"),
    ("handover not json", "clock.set: not UTF-8 text"),
    ("handover folder", "clock.set: a folder, not a file: ignored"),
])
def test_a_bad_handover_is_ignored_with_a_line_naming_it(lines, name, said):
    got = lines[0][name]
    assert got.startswith("wall None rtc [1970, 1, 1, 0, 0, 0] said ['" + said), got
    files = got.split("files [")[1]
    assert "clock.set" not in files.replace("clock.set.bad", "")


def test_a_handed_over_time_is_written_to_the_module(lines):
    assert "written [(2026, 12, 2, 7, 50, 3)]" in lines[0]["handover with module"]
    got = lines[0]["handover module write fails"]
    assert got.startswith("wall [2026, 12, 2, 7, 50, 3] ")
    assert "said ['rtc: no DS3231 answers at 0x68 on I2C0: not written']" in got


@pytest.mark.parametrize("name, said", [
    ("module stopped", "rtc: the DS3231's oscillator stopped: time not kept: running without a clock"),
    ("module before 2024", "rtc: the DS3231 holds a time before 2024: running without a clock"),
])
def test_a_module_that_cannot_say_the_time_costs_only_the_clock(lines, name, said):
    assert lines[0][name].startswith("wall None rtc [1970, 1, 1, 0, 0, 0] said [%r]" % said), lines[0][name]


def test_a_kept_rtc_still_counts_when_the_module_is_absent(lines):
    got = lines[0]["module absent but rtc kept"]
    assert got.startswith("wall [2026, 5, 28, 20, 26, 40] ") and "running without a clock" in got


@pytest.mark.parametrize("chip", ["DS3231Device", "PCF8563Device"])
def test_with_the_real_driver_on_a_model_of_each_chip(lines, chip):
    """hw/rtc.py over the fake I2C on a register-level model of the chip
    (tools/fakes/devices.py): the module is written with a handed-over time
    (and clears its stop flag by it), read at a boot without one, and a
    stopped or absent module costs only the clock."""
    got = lines[0]
    assert got[chip + " handover"] == "wall [2026, 12, 2, 7, 50, 4] said [] module [2026, 12, 2, 7, 50, 7]"
    assert got[chip + " read"] == "wall [2026, 6, 1, 8, 0, 0] said [] module [2026, 6, 1, 8, 0, 3]"
    assert got[chip + " stopped handover"] == got[chip + " handover"]
    stopped = got[chip + " stopped"]
    assert stopped.startswith("wall None said ['rtc: ") and "time not kept: running without a clock']" in stopped
    absent = got[chip + " absent"]
    assert absent.startswith("wall None said ['rtc: no %s answers at 0x%s on I2C0" % (
        chip[:-6], "68" if chip.startswith("DS") else "51")) and absent.endswith("running without a clock'] "
                                                                               "module error " +
                                                                               absent.split("said ['rtc: ")[1]
                                                                               .split(": running")[0])
