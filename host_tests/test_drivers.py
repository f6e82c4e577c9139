"""Motor, valve, buttons, indicator, watchdog, display and store against the
fake machine, which records every call the firmware makes."""
import os
import sys

import pytest

import machine
from hw.buttons import Buttons
from hw.display import Display
from hw.indicator import _CALM, _SEQ, PATTERN_WRAP_MS, T_SLOT, Indicator, led_on
from hw.motor import Motor
from hw.store import read_text, write_atomic
from hw.valve import Valve
from hw.watchdog import Watchdog
from pump.buttons import (BTN_LETDOWN, BTN_LEVEL_DOWN, BTN_LEVEL_UP, BTN_PAUSE, BTN_START_STOP, PRESS_DOWN,
                          PRESS_LONG, PRESS_NONE, PRESS_SHORT, Debounce, event_for)
from pump.codes import (EV_LETDOWN, EV_LEVEL_DOWN, EV_LEVEL_UP, EV_PAUSE, EV_PROGRAM, EV_START, EV_STOP,
                        FAULT_CONFIG_INVALID, FAULT_NONE, FAULT_OVER_VACUUM, FAULT_RELEASE_FAIL, FAULT_WATCHDOG_RESET,
                        STATE_DONE, STATE_FAULT, STATE_IDLE, STATE_PAUSED, STATE_RESTING, STATE_RUNNING)
from pump import session as session_mod

EVENT_FIELDS = ("state", "mode", "cycle_mode", "target_pa", "weak", "level", "program", "step", "fault", "notice")


class Outputs(session_mod.Outputs):
    """Outputs as Session.tick refreshes them: every change of a field that
    changes on events moves `seq` (test_session.py checks the session keeps
    that promise), which the indicator's fast path relies on."""

    def __setattr__(self, name, value):
        if name in EVENT_FIELDS and getattr(self, name, value) != value:
            object.__setattr__(self, "seq", self.seq + 1)
        object.__setattr__(self, name, value)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def world():
    return machine.reset_world("rp2")


# -- motor -----------------------------------------------------------------------------

def test_motor_starts_off_and_sets_duty(world):
    m = Motor(machine.PWM(machine.Pin(16), freq=25000, duty_u16=0), min_duty_u16=13107)
    assert world.pwm_duty(16) == 0 and world.pwm[16][0] == 25000
    m.set(30000)
    assert world.pwm_duty(16) == 30000
    m.set(5000)                                   # would only hum: the minimum turning duty
    assert world.pwm_duty(16) == 13107
    m.set(70000)
    assert world.pwm_duty(16) == 65535
    m.off()
    assert world.pwm_duty(16) == 0


def test_motor_writes_only_changes(world):
    m = Motor(machine.PWM(machine.Pin(16), freq=25000, duty_u16=0))
    world.log.clear()
    for _ in range(10):
        m.set(20000)
    assert world.events("pwm_duty") == [("pwm_duty", 16, 20000)]


def test_rp2_pwm_slices_share_a_frequency(world):
    machine.PWM(machine.Pin(16), freq=25000, duty_u16=0)
    machine.PWM(machine.Pin(17), freq=2700, duty_u16=0)
    assert world.pwm[16][0] == 2700                # what the board loader's slice rule prevents


# -- valve -------------------------------------------------------------------------------

@pytest.mark.parametrize("active_high", [True, False])
def test_open_always_means_vented(world, active_high):
    v = Valve(machine.Pin(17, machine.Pin.OUT), active_high)
    assert v.is_open and world.level(17) == (0 if active_high else 1)   # de-energised
    v.close()
    assert world.level(17) == (1 if active_high else 0)                 # energised: sealed
    v.set_open(True)
    assert world.level(17) == (0 if active_high else 1)


# -- buttons (pure) ------------------------------------------------------------------------

def feed(d, pattern, dt=10):
    return [d.update(p, dt) for p in pattern]


def test_debounce_ignores_bounces():
    d = Debounce(debounce_ms=30, long_ms=1500)
    kinds = feed(d, [True, False, True, False, True, False] * 3)
    assert PRESS_DOWN not in kinds


def test_short_press_is_down_then_short_on_release():
    d = Debounce(30, 1500)
    kinds = feed(d, [True] * 20 + [False] * 10)
    assert [k for k in kinds if k != PRESS_NONE] == [PRESS_DOWN, PRESS_SHORT]
    assert kinds.index(PRESS_DOWN) == 3                         # after 30 ms of stable contact


def test_long_press_fires_once_while_held_and_no_short():
    d = Debounce(30, 1500)
    kinds = feed(d, [True] * 300 + [False] * 10)
    assert [k for k in kinds if k != PRESS_NONE] == [PRESS_DOWN, PRESS_LONG]


def test_consumed_press_gives_no_short():
    d = Debounce(30, 1500)
    kinds = feed(d, [True] * 5)
    assert PRESS_DOWN in kinds
    d.consume()
    assert [k for k in feed(d, [True] * 5 + [False] * 10) if k != PRESS_NONE] == []


@pytest.mark.parametrize("state,kind,event", [
    (STATE_IDLE, PRESS_SHORT, EV_START), (STATE_DONE, PRESS_SHORT, EV_START),
    (STATE_IDLE, PRESS_LONG, EV_PROGRAM), (STATE_IDLE, PRESS_DOWN, 0),
    (STATE_RUNNING, PRESS_DOWN, EV_STOP), (STATE_PAUSED, PRESS_DOWN, EV_STOP),
    (STATE_RESTING, PRESS_DOWN, EV_STOP), (STATE_FAULT, PRESS_DOWN, EV_STOP),
    (STATE_RUNNING, PRESS_SHORT, 0), (STATE_RUNNING, PRESS_LONG, 0),
])
def test_start_stop_meaning(state, kind, event):
    assert event_for(BTN_START_STOP, kind, state) == event


def test_other_buttons_meaning():
    assert event_for(BTN_LETDOWN, PRESS_SHORT, STATE_RUNNING) == EV_LETDOWN
    assert event_for(BTN_LETDOWN, PRESS_LONG, STATE_RUNNING) == EV_PAUSE
    assert event_for(BTN_LEVEL_UP, PRESS_DOWN, STATE_RUNNING) == EV_LEVEL_UP
    assert event_for(BTN_LEVEL_DOWN, PRESS_DOWN, STATE_RUNNING) == EV_LEVEL_DOWN
    assert event_for(BTN_LEVEL_DOWN, PRESS_SHORT, STATE_RUNNING) == 0   # acts on the press, not twice
    assert event_for(BTN_PAUSE, PRESS_DOWN, STATE_RUNNING) == EV_PAUSE


# -- buttons (pins) --------------------------------------------------------------------------

def make_buttons(world):
    pins = [machine.Pin(n, machine.Pin.IN, machine.Pin.PULL_UP) for n in (10, 11, 12, 13)] + [None]
    return Buttons(pins, active_low=True, debounce_ms=30, long_ms=1500)


def press(world, b, pin, ms, state):
    """Hold a button for ms (pin pulled to ground), then release; returns
    the events, tick by tick."""
    events = []
    world.levels[pin] = 0
    for _ in range(ms // 10):
        n = b.poll(10, state)
        events += b.events[:n]
    world.levels[pin] = 1
    for _ in range(10):
        n = b.poll(10, state)
        events += b.events[:n]
    return events


def test_idle_start_press(world):
    b = make_buttons(world)
    assert press(world, b, 10, 200, STATE_IDLE) == [EV_START]


def test_stop_acts_on_the_press_and_the_release_starts_nothing(world):
    b = make_buttons(world)
    world.levels[10] = 0
    events = []
    for _ in range(5):
        events += b.events[:b.poll(10, STATE_RUNNING)]
    assert events == [EV_STOP]                     # 40 ms into the press
    world.levels[10] = 1
    for _ in range(10):                            # the session is idle now
        events += b.events[:b.poll(10, STATE_IDLE)]
    assert events == [EV_STOP]


def test_buttons_read_with_pull_ups(world):
    make_buttons(world)
    assert all(world.pulls[n] == machine.Pin.PULL_UP for n in (10, 11, 12, 13))
    assert machine.Pin(10).value() == 1            # released reads high


def test_the_fake_gpio_in_register_holds_every_input_level_by_gpio_number(world):
    """The RP2040's SIO GPIO_IN as the fake models it (bit n = GPIO n), so
    the buttons' one-read quiet check is tested against the register's
    meaning, and a register the fake does not model fails loudly."""
    make_buttons(world)
    assert machine.mem32[0xD0000004] & 0x3C00 == 0x3C00          # 10-13 pulled up, released
    world.levels[12] = 0
    assert machine.mem32[0xD0000004] & 0x3C00 == 0x2C00
    with pytest.raises(ValueError):
        machine.mem32[0xD0000008]


def factory_buttons(port, pins):
    from hw.factory import make_buttons as build
    spec = {"start_stop": pins[0], "letdown": pins[1], "level_up": pins[2], "level_down": pins[3], "pause": None,
            "active_low": True, "debounce_ms": 30, "long_press_ms": 1500}
    return build(machine, spec, port)


@pytest.mark.parametrize("port,pins", [("rp2", (10, 11, 12, 13)), ("esp32", (25, 26, 27, 33))])
def test_rp2_quiet_ticks_read_one_register_and_no_pin(world, port, pins, monkeypatch):
    """On rp2 a tick with every button released and settled costs one
    GPIO_IN read instead of four Pin.value() calls (~120 us on the chip);
    a press is still seen on the tick it shows in the register."""
    world.port = port
    reads = []
    real = machine.Pin.value
    monkeypatch.setattr(machine.Pin, "value", lambda self, v=None: reads.append(self.id) or real(self, v))
    b = factory_buttons(port, pins)
    for _ in range(5):
        b.poll(10, STATE_IDLE)                    # settle
    del reads[:]
    for _ in range(10):
        assert b.poll(10, STATE_IDLE) == 0
    assert len(reads) == (0 if port == "rp2" else 40)
    assert press(world, b, pins[0], 200, STATE_IDLE) == [EV_START]
    assert press(world, b, pins[3], 100, STATE_RUNNING) == [EV_LEVEL_DOWN]


def test_rp2_a_held_button_runs_only_its_own_debouncer_and_a_second_press_still_counts(world, monkeypatch):
    """While one button is held (a long press: 1.5 s of ticks) the others,
    released and settled, are not read: their debouncers would change
    nothing (about 60 us each a tick on the chip). A second button pressed
    during the hold is seen as at any other time."""
    world.port = "rp2"
    pins = (10, 11, 12, 13)
    reads = []
    real = machine.Pin.value
    monkeypatch.setattr(machine.Pin, "value", lambda self, v=None: reads.append(self.id) or real(self, v))
    b = factory_buttons("rp2", pins)
    for _ in range(5):
        b.poll(10, STATE_RUNNING)                 # settle
    del reads[:]
    world.levels[11] = 0                          # let-down held: a long press pauses
    events = []
    for _ in range(100):
        events += b.events[:b.poll(10, STATE_RUNNING)]
    assert set(reads) == {11} and len(reads) == 100
    world.levels[13] = 0                          # level down while let-down is still held
    for _ in range(10):
        events += b.events[:b.poll(10, STATE_RUNNING)]
    world.levels[13] = 1
    for _ in range(60):
        events += b.events[:b.poll(10, STATE_RUNNING)]
    world.levels[11] = 1
    for _ in range(10):
        events += b.events[:b.poll(10, STATE_RUNNING)]
    assert events == [EV_LEVEL_DOWN, EV_PAUSE]


def test_the_register_check_needs_one_gpio_number_per_button(world):
    pins = [machine.Pin(n, machine.Pin.IN, machine.Pin.PULL_UP) for n in (10, 11)] + [None]
    with pytest.raises(ValueError):
        Buttons(pins, gpio_in=machine.mem32, gpios=(10,))


def test_a_register_check_without_the_buttons_gpio_numbers_is_refused(world):
    """An empty mask would read every tick as "all released": no press,
    not even stop, would ever reach the debouncers."""
    pins = [machine.Pin(10, machine.Pin.IN, machine.Pin.PULL_UP)]
    with pytest.raises(ValueError):
        Buttons(pins, gpio_in=machine.mem32, gpios=())


def test_two_buttons_in_one_tick(world):
    b = make_buttons(world)
    world.levels[12] = 0
    world.levels[13] = 0
    events = []
    for _ in range(5):
        events += b.events[:b.poll(10, STATE_RUNNING)]
    assert sorted(events) == sorted([EV_LEVEL_UP, EV_LEVEL_DOWN])


# -- indicator ----------------------------------------------------------------------------------

def pattern(state, fault=FAULT_NONE, notice=FAULT_NONE, weak=False, ms=6000):
    return [led_on(state, fault, notice, weak, t) for t in range(0, ms, 10)]


def flashes(levels):
    """How many separate lit intervals."""
    return sum(1 for a, b in zip([False] + levels, levels) if b and not a)


def test_each_state_has_its_own_pattern():
    pats = {s: tuple(pattern(s)) for s in (STATE_IDLE, STATE_RUNNING, STATE_PAUSED, STATE_RESTING, STATE_DONE)}
    assert len(set(pats.values())) == 5
    assert all(pattern(STATE_RUNNING))                               # solid on
    assert flashes(pattern(STATE_PAUSED)) == 6                       # 1 Hz for 6 s


def test_fault_blink_code_counts_the_fault_number():
    for code in range(1, 8):
        period = code * 500 + 1500
        assert flashes(pattern(STATE_FAULT, fault=code, ms=period)) == code
    over = pattern(STATE_FAULT, fault=FAULT_OVER_VACUUM, ms=2000)
    release = pattern(STATE_FAULT, fault=FAULT_RELEASE_FAIL, ms=4500)
    assert sum(over) * 6 == sum(release)                             # 1 flash vs 6 flashes


def test_a_trip_shows_a_whole_first_group_whatever_the_pattern_clock(world):
    """Someone counting flashes counts the first group: it must be whole,
    even when the trip lands mid-way through the old pattern's period."""
    from pump.codes import FAULT_SENSOR_STUCK
    for before_ms in (0, 730, 1260, 2990, 4410):
        ind = Indicator(machine.Pin(25, machine.Pin.OUT), True)
        out = Outputs()
        out.state = STATE_RUNNING
        for _ in range(before_ms // 10):
            ind.update(10, out)
        out.state = STATE_FAULT
        out.fault = FAULT_SENSOR_STUCK
        lit = []
        for _ in range(4 * 50 + 150):               # one group and its pause: 3.5 s
            ind.update(10, out)
            lit.append(world.level(25) == 1)
        # Dark at once (the running LED was on), then four flashes, then the pause.
        assert not any(lit[:30]) and lit[30] and flashes(lit) == 4 and not any(lit[-140:]), before_ms


def test_notices_show_in_idle():
    assert pattern(STATE_IDLE, notice=FAULT_CONFIG_INVALID) != pattern(STATE_IDLE)
    assert flashes(pattern(STATE_IDLE, notice=FAULT_CONFIG_INVALID, ms=3000)) == 3


def test_schedule_due_and_missed_show_in_idle():
    from pump.schedule import SCHED_DUE, SCHED_MISSED
    idle = pattern(STATE_IDLE)
    due = [led_on(STATE_IDLE, 0, 0, False, t, SCHED_DUE) for t in range(0, 6000, 10)]
    missed = [led_on(STATE_IDLE, 0, 0, False, t, SCHED_MISSED) for t in range(0, 6000, 10)]
    assert len({tuple(idle), tuple(due), tuple(missed)}) == 3
    assert flashes(due) == 3 and flashes(missed) == 6                 # 0.5 Hz; long-short every 2 s


def test_a_due_session_beeps_once_long(world):
    from pump.schedule import SCHED_DUE
    ind = Indicator(machine.Pin(25, machine.Pin.OUT), True, machine.PWM(machine.Pin(18), freq=2700, duty_u16=0))
    out = Outputs()
    ind.update(10, out)
    ind.set_schedule(SCHED_DUE)
    tones = []
    for _ in range(300):
        ind.update(10, out)
        tones.append(world.pwm_duty(18) > 0)
    assert flashes(tones) == 1 and sum(tones) == 40            # one 400 ms beep


def test_weak_warning_while_running():
    assert not all(pattern(STATE_RUNNING, weak=True))


def test_indicator_drives_led_and_buzzer(world):
    led = machine.Pin(25, machine.Pin.OUT)
    buzzer = machine.PWM(machine.Pin(18), freq=2700, duty_u16=0)
    ind = Indicator(led, True, buzzer)
    out = Outputs()
    out.state = STATE_RUNNING
    beeping = []
    for _ in range(100):
        ind.update(10, out)
        beeping.append(world.pwm_duty(18) > 0)
    assert world.level(25) == 1                                 # running: LED on
    assert flashes(beeping) == 1                                # one beep on start
    out.state = STATE_FAULT
    out.fault = FAULT_OVER_VACUUM
    tone = []
    for _ in range(1200):                                       # 12 s of fault
        ind.update(10, out)
        tone.append(world.pwm_duty(18) > 0)
    assert tone[:100] == [True] * 100 and not any(tone[100:1000])   # 1 s tone, then quiet ...
    assert tone[1000]                                           # ... repeated every 10 s


def test_program_selection_is_announced(world):
    led = machine.Pin(25, machine.Pin.OUT)
    buzzer = machine.PWM(machine.Pin(18), freq=2700, duty_u16=0)
    ind = Indicator(led, True, buzzer)
    out = Outputs()
    for _ in range(50):
        ind.update(10, out)                                     # boot: program 0, nothing announced
    assert world.pwm_duty(18) == 0
    out.program = 2                                             # catch_up selected
    tones, lit = [], []
    for _ in range(300):
        ind.update(10, out)
        tones.append(world.pwm_duty(18) > 0)
        lit.append(world.level(25) == 1)
    assert flashes(tones) == 3 and flashes(lit[:280]) == 3      # then the idle heartbeat resumes


def test_a_change_the_led_shows_is_shown_in_the_tick_it_happens(world):
    """The indicator's quiet-tick shortcut must not hold back a change of
    what the LED shows until its next pattern edge: a due session, the
    "target not reached" warning, a notice and a program selection each
    show in their own tick."""
    from pump.schedule import SCHED_DUE

    def ticked(state, ms, change):
        ind = Indicator(machine.Pin(25, machine.Pin.OUT), True)
        out = Outputs()
        out.state = state
        for _ in range(ms // 10):
            ind.update(10, out)
        before = world.level(25)
        change(ind, out)
        ind.update(10, out)
        return before, world.level(25)
    # idle, 220 ms in: the heartbeat is dark, a due session's slow blink is lit
    before, after = ticked(STATE_IDLE, 210, lambda ind, out: ind.set_schedule(SCHED_DUE))
    assert (before, after) == (0, 1)               # 10 ms into a 50 ms edge interval: a quiet tick
    # running, 40 ms in: on; weak blinks dark for the first 100 ms of each second
    before, after = ticked(STATE_RUNNING, 30, lambda ind, out: setattr(out, "weak", True))
    assert (before, after) == (1, 0)
    # idle, 220 ms in: config_invalid's third quick flash is lit
    before, after = ticked(STATE_IDLE, 210, lambda ind, out: setattr(out, "notice", FAULT_CONFIG_INVALID))
    assert (before, after) == (0, 1)
    # idle: a program selection flashes its number from the tick it is made
    before, after = ticked(STATE_IDLE, 210, lambda ind, out: setattr(out, "program", 1))
    assert (before, after) == (0, 1)


def test_indicator_time_wraps_without_drift(world):
    ind = Indicator(machine.Pin(25, machine.Pin.OUT), True)
    out = Outputs()
    for _ in range(2000):
        ind.update(1000, out)
    assert 0 <= ind.s[T_SLOT] < PATTERN_WRAP_MS


# -- watchdog -------------------------------------------------------------------------------

def test_watchdog_timeout_within_rp2_limit(world):
    w = Watchdog(machine.WDT, 20000)
    assert world.wdt_timeout == 8388 and w.timeout_ms == 8388
    w.feed()
    assert world.wdt_feeds == 1


# -- display -------------------------------------------------------------------------------

def test_display_draws_and_sends_one_page_per_tick(world):
    sys.path.insert(0, os.path.join(ROOT, "tools", "fakes", "optional"))
    try:
        import ssd1306
    finally:
        sys.path.pop(0)
    oled = ssd1306.SSD1306_I2C(128, 64, None)
    d = Display(oled, refresh_ms=1000)
    out = Outputs()
    out.state, out.mode, out.level, out.vacuum_pa = STATE_RUNNING, 1, 5, 25331
    out.elapsed_ms, out.total_ms = 125000, 1800000          # 1,675 s left
    sent = []
    for _ in range(10):
        d.update(10, out)
        sent.append(oled.data_bytes)
    assert oled.lines[0] == "expression L5" and oled.lines[16] == "190 mmHg"
    assert oled.lines[32] == "02:05 / 30:00"
    assert [b - a for a, b in zip([0] + sent, sent)][1:9] == [128] * 8   # 8 pages, one per tick
    assert oled.data_bytes == 1024


def test_missing_display_driver_leaves_the_pump_working(world, monkeypatch, capsys):
    from hw import factory
    monkeypatch.setitem(sys.modules, "ssd1306", None)
    assert factory.make_display(machine, {"i2c": 1, "sda": 2, "scl": 3, "address": 60,
                                          "width": 128, "height": 64}, {}) is None
    assert "mip install ssd1306" in capsys.readouterr().out


# -- store ------------------------------------------------------------------------------------

def test_store_reads_missing_as_none_and_replaces_atomically(tmp_path):
    p = str(tmp_path / "profiles.json")
    assert read_text(p) is None
    write_atomic(p, "one")
    write_atomic(p, "two")
    assert read_text(p) == "two" and not os.path.exists(p + ".tmp")


def _pattern_steps():
    from hypothesis import strategies as st
    return st.lists(st.tuples(st.integers(1, 40),                       # dt_ms
                              st.sampled_from([STATE_IDLE, STATE_RUNNING, STATE_PAUSED, STATE_RESTING, STATE_DONE,
                                               STATE_FAULT]),
                              st.integers(1, 7),
                              st.sampled_from([FAULT_NONE, FAULT_CONFIG_INVALID, FAULT_WATCHDOG_RESET]),
                              st.booleans(), st.integers(0, 3)),
                    min_size=1, max_size=60)


def test_the_led_is_not_looked_at_again_until_after_its_next_change():
    """next_change_ms() lets the indicator skip the pattern until then: it
    must never lie beyond the pattern's true next change, for every pattern
    and every ms of pattern time."""
    from hw.indicator import next_change_ms
    from pump.schedule import SCHED_DUE, SCHED_MISSED
    combos = [(st, f, n, w, sc) for st in (STATE_IDLE, STATE_RUNNING, STATE_PAUSED, STATE_RESTING, STATE_DONE,
                                           STATE_FAULT)
              for f in (range(1, 8) if st == STATE_FAULT else (FAULT_NONE,))
              for n in (FAULT_NONE, FAULT_CONFIG_INVALID, FAULT_WATCHDOG_RESET)
              for w in (False, True) for sc in (0, SCHED_DUE, SCHED_MISSED)]
    span = 6000
    for st, f, n, w, sc in combos:
        lit = [led_on(st, f, n, w, t, sc) for t in range(span)]
        change = [span * 2] * span                 # the next t with another level
        for t in range(span - 2, -1, -1):
            change[t] = t + 1 if lit[t + 1] != lit[t] else change[t + 1]
        for t in range(0, 4000):
            wait = next_change_ms(st, n, w, t, sc)
            assert 0 < wait <= change[t] - t, (st, f, n, w, sc, t, wait)


def test_the_led_worked_out_once_per_edge_is_the_led_worked_out_every_tick():
    """The indicator evaluates its pattern only when pattern time reaches the
    pattern's next change (next_change_ms) or what it shows changes: the
    level on the pin must be exactly the pattern's level at every tick, as
    if evaluated each time."""
    from hypothesis import given, settings
    from pump.schedule import SCHED_DUE, SCHED_MISSED

    @settings(max_examples=300, deadline=None)
    @given(_pattern_steps())
    def check(steps):
        w = machine.reset_world("rp2")
        w.logging = False
        ind = Indicator(machine.Pin(25, machine.Pin.OUT), True)
        out = Outputs()
        for k, (dt, state, fault, notice, weak, sched) in enumerate(steps):
            for _ in range(1 + k % 7):                  # a few ticks per setting: edges are crossed
                out.state = state
                out.fault = fault if state == STATE_FAULT else FAULT_NONE
                out.notice = notice
                out.weak = weak
                if ind.sched != (0, SCHED_DUE, SCHED_MISSED, 0)[sched]:
                    ind.set_schedule((0, SCHED_DUE, SCHED_MISSED, 0)[sched])
                ind.update(dt, out)
                if ind.show_program_ms > 0:
                    continue
                want = led_on(out.state, out.fault, out.notice, out.weak, ind.s[T_SLOT], ind.sched)
                assert (w.level(25) == 1) == want, (k, ind.s[T_SLOT], state)
    check()


def test_the_quiet_fast_path_sounds_and_shows_what_every_tick_would():
    """The indicator skips the ticks on which nothing can change, also
    while a fault stands (its alarm tone repeats on its own clock): the LED
    and the buzzer must be, tick by tick, what an indicator that works out
    everything on every tick drives, across states, fault codes that
    replace each other, program selections and the schedule."""
    from hypothesis import given, settings, strategies as st
    from pump.schedule import SCHED_DUE, SCHED_MISSED
    steps = st.lists(st.tuples(st.integers(1, 40),
                               st.sampled_from([STATE_IDLE, STATE_RUNNING, STATE_PAUSED, STATE_DONE, STATE_FAULT,
                                                STATE_FAULT]),
                               st.integers(1, 7), st.integers(0, 2), st.integers(0, 2),
                               st.integers(1, 1500)),                      # ticks at this setting
                     min_size=1, max_size=12)

    @settings(max_examples=60, deadline=None)
    @given(steps)
    def check(script):
        w = machine.reset_world("rp2")
        w.logging = False
        fast = Indicator(machine.Pin(25, machine.Pin.OUT), True, machine.PWM(machine.Pin(18), freq=2700, duty_u16=0))
        every = Indicator(machine.Pin(15, machine.Pin.OUT), True, machine.PWM(machine.Pin(19), freq=2700, duty_u16=0))
        out = Outputs()
        for k, (dt, state, fault, program, sched, ticks) in enumerate(script):
            out.state = state
            out.fault = fault if state == STATE_FAULT else FAULT_NONE
            out.program = program
            for ind in (fast, every):
                if ind.sched != (0, SCHED_DUE, SCHED_MISSED)[sched]:
                    ind.set_schedule((0, SCHED_DUE, SCHED_MISSED)[sched])
            for i in range(ticks):
                every.s[_CALM] = 0                      # never quiet: the full path every tick
                fast.update(dt, out)
                every.update(dt, out)
                assert (w.level(25), w.pwm_duty(18)) == (w.level(15), w.pwm_duty(19)), (k, i, state, fault)
    check()


def test_a_standing_fault_is_mostly_quiet_ticks(world):
    """While a fault stands and the alarm is between tones, the indicator
    works out the LED only at its 50 ms edges and the alarm's next tone, not
    on every tick (on an RP2040 its full path costs ~190 us a tick)."""
    ind = Indicator(machine.Pin(25, machine.Pin.OUT), True, machine.PWM(machine.Pin(18), freq=2700, duty_u16=0))
    out = Outputs()
    ind.update(10, out)
    out.state = STATE_FAULT
    out.fault = FAULT_OVER_VACUUM
    full = [0]
    change = ind._change

    def counted(dt_ms, o):
        full[0] += 1
        change(dt_ms, o)
    ind._change = counted
    tone = []
    for _ in range(2100):                                   # 21 s of fault
        ind.update(10, out)
        tone.append(world.pwm_duty(18) > 0)
    assert tone[:100] == [True] * 100 and not any(tone[100:1000]) and tone[1000:1100] == [True] * 100
    assert tone[2000]
    # The three 1 s tones every tick (300), the LED's edges every 50 ms between.
    assert full[0] <= 300 + 2100 // 5 + 10, full[0]


def test_a_refresh_that_changes_nothing_shown_is_a_quiet_tick(world):
    """A mixed cycle boundary, a program step or a level change moves
    out.seq and changes nothing the LED or the buzzer shows: the indicator
    must not work its pattern out again for them (on an RP2040 its full path
    costs ~140 us, which the tick of a mixed boundary cannot spare), and
    what it drives stays what an indicator without refreshes drives."""
    def indicator(led, bz):
        return Indicator(machine.Pin(led, machine.Pin.OUT), True, machine.PWM(machine.Pin(bz), freq=2700, duty_u16=0))
    moved, still = indicator(25, 18), indicator(15, 19)
    a, b = Outputs(), Outputs()
    full = {}
    for ind, out in ((moved, a), (still, b)):
        out.state = STATE_RUNNING
        out.mode = 2
        for _ in range(300):                                    # the start's beep is over
            ind.update(10, out)
        change = ind._change

        def counted(dt_ms, o, change=change, ind=ind):
            full[ind] = full.get(ind, 0) + 1
            change(dt_ms, o)
        ind._change = counted
        full[ind] = 0
    for i in range(3000):
        if i % 70 == 0:                                         # a mixed boundary: the other mode, its target
            a.cycle_mode = 1 - a.cycle_mode if a.cycle_mode >= 0 else 0
            a.target_pa = 20000 + 100 * (i % 3)
        if i % 700 == 0:                                        # a program step, a level
            a.step += 1
            a.level = 1 + i % 5
        seq = a.seq
        moved.update(10, a)
        still.update(10, b)
        assert (world.level(25), world.pwm_duty(18)) == (world.level(15), world.pwm_duty(19)), i
        assert moved.s[_SEQ] == seq
    assert a.seq > 40 and full[moved] == full[still], (a.seq, full)


def test_a_fault_tone_stops_when_the_fault_is_cleared(world):
    """The buzzer is only serviced while something sounds or is due: the
    tone still sounding when the fault clears must be switched off."""
    ind = Indicator(machine.Pin(25, machine.Pin.OUT), True, machine.PWM(machine.Pin(18), freq=2700, duty_u16=0))
    out = Outputs()
    ind.update(10, out)
    out.state = STATE_FAULT
    out.fault = FAULT_OVER_VACUUM
    for _ in range(20):
        ind.update(10, out)
    assert world.pwm_duty(18) > 0                                 # the trip's long tone
    out.state = STATE_IDLE
    out.fault = FAULT_NONE
    ind.update(10, out)
    assert world.pwm_duty(18) == 0
    for _ in range(1500):
        ind.update(10, out)
        assert world.pwm_duty(18) == 0 or ind.beeps or ind.tone_left > 0
