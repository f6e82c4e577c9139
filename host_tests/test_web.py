"""The phone app's API (firmware/web/) on CPython and on the real MicroPython
VM, through microdot's own test client (host_tests/vm_scripts/web_checks.py
holds the checks: pairing and its lock, every control and every refusal,
the live trace, notes, history, the plan and the clock), and the pairing
secret's pieces on their own."""
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mpvm

SCRIPT = os.path.join(mpvm.SCRIPTS, "web_checks.py")
CHECKS = [
    "nothing_answers_without_the_secret", "a_missing_secret_is_not_a_guess", "a_wrong_secret_is_refused",
    "wrong_secrets_are_slowed_after_a_few", "then_the_door_locks_even_for_the_right_secret",
    "the_lock_opens_after_its_time", "each_further_lock_lasts_twice_as_long",
    "the_pairing_link_sets_a_locked_down_cookie", "a_wrong_pairing_link_sets_nothing",
    "the_paired_phone_gets_the_page", "the_secret_is_made_once_and_kept",
    "start_starts_a_session", "level_up_and_down_move_one_level", "letdown_switches_the_mode",
    "pause_pauses_and_resumes", "program_is_refused_while_pumping",
    "power_days_is_refused_while_pumping_and_pauses_nothing", "stop_stops",
    "program_selects_the_next_program_when_idle", "power_days_toggles_when_idle",
    "a_stop_is_taken_when_the_queue_is_full", "unknown_actions_are_refused",
    "no_route_changes_a_limit_or_a_profile", "a_post_that_is_not_json_is_refused", "stop_while_idle_does_nothing",
    "status_has_the_state_and_the_trace", "status_since_sends_only_new_samples",
    "the_trace_keeps_the_last_256_samples", "the_phone_sets_the_clock", "history_and_plan_wait_while_pumping",
    "a_note_is_written_to_notes_log_at_the_next_tick", "the_history_shows_the_session_with_its_note",
    "bad_notes_are_refused", "a_bad_clock_is_refused", "the_plan_changes_after_a_missed_session",
    "the_plan_lets_the_loop_run_between_the_timeline_and_the_rules", "the_history_and_the_rules_leave_the_heap_after_answering",
]
# gc.mem_alloc() and stream writes that always yield: MicroPython only
MICROPYTHON_CHECKS = CHECKS + ["the_tick_with_the_web_app_allocates_nothing",
                               "the_history_is_sent_record_by_record_letting_the_loop_run",
                               "dropped_connections_change_nothing_on_the_pump"]



@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    return mpvm.microdot_path(tmp_path_factory.mktemp("mplib"))


@pytest.fixture(scope="module")
def cpython(tmp_path_factory, lib):
    return mpvm.results(mpvm.run_cpython(SCRIPT, str(tmp_path_factory.mktemp("flash_cp")),
                                    paths=mpvm.DEFAULT_PATHS + (lib,)))


@pytest.fixture(scope="module")
def micropython(tmp_path_factory, lib):
    return mpvm.results(mpvm.run(SCRIPT, str(tmp_path_factory.mktemp("flash_mp")), paths=mpvm.DEFAULT_PATHS + (lib,)))


@pytest.mark.parametrize("check", CHECKS)
def test_on_cpython(cpython, check):
    assert cpython.get(check, "missing") == "PASS " + check


@pytest.mark.parametrize("check", MICROPYTHON_CHECKS)
def test_on_micropython(micropython, check):
    assert micropython.get(check, "missing") == "PASS " + check


def test_every_check_is_listed(cpython, micropython):
    assert sorted(cpython) == sorted(CHECKS)
    assert sorted(micropython) == sorted(MICROPYTHON_CHECKS)


# -- the secret -----------------------------------------------------------------------

from tools import paths  # noqa: E402

paths.use_sim()
from fake_clock import FakeClock  # noqa: E402
from web import pairing  # noqa: E402


@settings(max_examples=300)
@given(st.binary(min_size=0, max_size=40), st.binary(min_size=0, max_size=40))
def test_same_is_equality(a, b):
    assert pairing.same(a, b) == (a == b)


def test_same_reads_every_byte_whatever_the_first_difference():
    class Counting(bytes):
        reads = 0

        def __getitem__(self, i):
            Counting.reads += 1
            return bytes.__getitem__(self, i)

    secret = Counting(b"a" * 32)
    seen = []
    for given_ in (b"b" + b"a" * 31, b"a" * 31 + b"b", b"a" * 32, b"", b"x" * 64):
        Counting.reads = 0
        pairing.same(secret, given_)
        seen.append(Counting.reads)
    assert seen == [32] * 5


def test_new_secret_is_128_bits_of_urandom_in_hex():
    s = pairing.new_secret(lambda n: bytes([0xA5] * n))
    assert s == "a5" * 16 and pairing.valid_secret(s)
    assert pairing.new_secret(os.urandom) != pairing.new_secret(os.urandom)
    for bad in ("A5" * 16, "a5" * 15, "g" * 32, None, 5, "a5" * 16 + "\n"):
        assert not pairing.valid_secret(bad)


def test_lock_grows_and_stops_at_an_hour():
    clock = FakeClock(0)
    g = pairing.Gate("ab" * 16, clock)
    locks = []
    for _ in range(6):
        for _ in range(pairing.LOCK_AFTER):
            verdict, ms = g.check("cd" * 16)
        assert verdict == pairing.LOCKED
        locks.append(ms)
        clock.advance(ms)
        assert g.check("ab" * 16) == (pairing.OK, 0)
    assert locks == [300000, 600000, 1200000, 2400000, 3600000, 3600000]


def test_a_right_secret_resets_the_count_of_wrong_ones():
    g = pairing.Gate("ab" * 16, FakeClock(0))
    for _ in range(pairing.LOCK_AFTER - 1):
        g.check("cd" * 16)
    assert g.check("ab" * 16) == (pairing.OK, 0)
    assert g.check("cd" * 16) == (pairing.WRONG, 0)


# -- the page -------------------------------------------------------------------------

PAGE = os.path.join(paths.FIRMWARE, "web", "page.html")


def page_text():
    with open(PAGE, encoding="utf-8") as f:
        return f.read()


def test_the_page_needs_nothing_from_elsewhere_and_fits_the_flash():
    import re
    page = page_text()
    assert not re.search(r"https?://", page), "the page must not load anything from another host"
    assert "<script src" not in page and "<link" not in page and "@import" not in page
    assert len(page.encode()) < 16 * 1024


def test_stop_needs_nothing_but_itself():
    """The stop button is the page's first control and its handler is inline:
    it works while the rest of the page is still loading."""
    page = page_text()
    body = page[page.index("<body>"):]
    first = body[body.index("<button"):body.index("</button>")]
    assert 'id="stop"' in first and "fetch('/api/control'" in first and "stop" in first
    assert body.index('id="stop"') < body.index("<script>")


def test_the_page_says_what_to_do_for_every_fault_and_notice():
    from pump.codes import FAULT_NAMES
    page = page_text()
    for name in FAULT_NAMES[1:]:
        assert "%s:\"" % name in page, name


def test_the_flood_bench_runs_the_real_loop_and_server():
    """make bench's flood measurement (tools/bench_web.py), one short case:
    the VM ticked the whole time and the attacker met the lock."""
    from tools import bench_web
    r = bench_web.run_case("idle", "attacker", 1)
    assert r["ticks"] == 200 and r["median_us"] > 0 and r["max_us"] >= r["p99_us"] >= r["median_us"]
    assert r["answers"].get("429", 0) > 0 and r["refused"] >= 10


def test_the_phones_clock_sets_the_books_the_rtc_and_a_clock_module():
    from pump.record import seconds_2000
    from web.link import Link, Refused

    class Books:
        uptime_s = 100
        wall0_s = None

        def set_wall(self, s):
            self.wall0_s = s - self.uptime_s

    class PortRTC:
        set_to = None

        def datetime(self, t):
            PortRTC.set_to = t

    class Machine:
        RTC = PortRTC

    class App:
        books = Books()
        machine = Machine()

    class Module:
        written = None

        def write(self, t):
            self.written = t
    module = Module()
    link = Link(App(), None, ("standard",), rtc=module)
    t = [2026, 12, 3, 8, 30, 15]
    assert link.set_clock(t) == seconds_2000(tuple(t))
    assert App.books.wall0_s + Books.uptime_s == seconds_2000(tuple(t))
    assert PortRTC.set_to == (2026, 12, 3, 3, 8, 30, 15, 0)             # Thursday: weekday 3
    assert tuple(module.written) == tuple(t)
    with pytest.raises(Refused):
        link.set_clock([2026, 2, 30, 8, 0, 0])


def test_the_trace_numbers_start_again_before_they_leave_small_ints():
    from web.link import SAMPLE_TICKS, SAMPLE_WRAP, SAMPLES, Link
    assert SAMPLE_WRAP % SAMPLES == 0 and SAMPLE_WRAP < 1 << 30

    class Out:
        vacuum_pa = 1000
        setpoint_pa = 2000
    link = Link(None, None, ())
    link.n = SAMPLE_WRAP - 1
    for _ in range(2 * SAMPLE_TICKS):
        link.sample(Out())
    assert link.n == 1
