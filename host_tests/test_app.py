"""main.py and app.py under the fake machine: the same checks on CPython and
on the real MicroPython VM (host_tests/vm_scripts/app_checks.py), including
main.py's loop on a flash whose writes stall the board 60, 250 and 1200 ms."""
import os

import pytest

import mpvm

SCRIPT = os.path.join(mpvm.SCRIPTS, "app_checks.py")
CHECKS = [
    "main_first_writes_are_motor_off_and_vent",
    "boot_stays_idle_without_a_start_press",
    "watchdog_not_started_while_idle",
    "start_press_pumps_and_cycles_the_valve",
    "watchdog_fed_once_per_tick_from_the_first_session",
    "ticks_every_10_ms",
    "boot_primes_the_app_and_the_loop_starts_at_dt_0",
    "exception_in_a_tick_stops_the_motor_and_vents",
    "watchdog_not_fed_by_the_failing_tick",
    "board_broken_never_starts_the_motor",
    "board_missing_never_starts_the_motor",
    "board_not_json_never_starts_the_motor",
    "broken_profiles_pumps_only_on_defaults",
    "broken_profiles_session_runs_default_targets",
    "reset_never_resumes_pumping_and_reports_watchdog_reset",
    "config_invalid_shown_before_watchdog_reset",
    "deliberate_reset_is_not_reported_as_watchdog",
    "board_not_utf8_refuses_and_the_console_names_the_file",
    "damaged_files_boot_on_defaults_and_pump",
    "pico_w_queues_the_sensor_read_before_each_tick",
] + ["slow_flash_%dms_%s" % (ms, what) for ms in (60, 250, 1200) for what in (
    # a store whose every write stalls the board (App.flush, books.py)
    "start_pause_checkpoint_stop_never_trip",
    "writes_only_with_motor_off_and_valve_open",
    "core_dt_is_one_tick",
    "loop_resyncs_without_a_burst",
    "watchdog_fed_right_before_and_after_writes")]



@pytest.fixture(scope="module")
def cpython(tmp_path_factory):
    return mpvm.results(mpvm.run_cpython(SCRIPT, str(tmp_path_factory.mktemp("flash_cp"))))


@pytest.fixture(scope="module")
def micropython(tmp_path_factory):
    return mpvm.results(mpvm.run(SCRIPT, str(tmp_path_factory.mktemp("flash_mp"))))


@pytest.mark.parametrize("check", CHECKS)
def test_on_cpython(cpython, check):
    assert cpython.get(check, "missing") == "PASS " + check


@pytest.mark.parametrize("check", CHECKS)
def test_on_micropython(micropython, check):
    assert micropython.get(check, "missing") == "PASS " + check
