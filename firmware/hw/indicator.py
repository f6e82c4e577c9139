"""What the person sees and hears: LED patterns, an optional buzzer, and an
optional display (hw/display.py).

LED patterns (period, on-intervals), chosen to be told apart at a glance:
- running: on; with the "target not reached" warning, on with a short
  dark blink every second.
- paused: 1 Hz, half on.  resting: a 200 ms glow every 2 s.
- idle: a 50 ms heartbeat every 3 s; with a notice, 2 (watchdog reset) or
  3 (config_invalid: defaults in force) quick flashes instead; when a
  scheduled session is due, a slow blink (1 s on, 1 s off); when it was
  missed, long-short (600 ms on, 200 off, 200 on, 1 s off).
- done (auto-off): 100 ms every second.
- fault: a blink code, N flashes for fault code N (over_vacuum 1,
  sensor_range 2, sensor_stale 3, sensor_stuck 4, sensor_io 5,
  release_fail 6, no_vacuum 7), then a 1.5 s pause.
The buzzer beeps once on start, twice on stop or auto-off, one long beep
when a scheduled session falls due and two when it is missed, N times when
program N is selected (1 standard, 2 power, 3 catch_up, ...), and sounds a
long tone on a trip, repeated every 10 s while the fault stands. The LED
flashes the program number the same way when one is selected in idle.
"""
from array import array

from micropython import const

from pump.schedule import SCHED_DUE, SCHED_MISSED
from pump.slots import ptr32

from pump.codes import (FAULT_CONFIG_INVALID, FAULT_NONE, FAULT_WATCHDOG_RESET, STATE_DONE, STATE_FAULT,
                        STATE_IDLE, STATE_PAUSED, STATE_RESTING, STATE_RUNNING)

FLASH_ON_MS = const(200)
FLASH_OFF_MS = const(300)
CODE_GAP_MS = const(1500)
BEEP_MS = const(80)
LONG_BEEP_MS = const(400)
FAULT_TONE_MS = const(1000)
FAULT_REPEAT_MS = const(10000)
# The least common multiple of every pattern period (1, 2, 3 s and the
# blink-code periods 2-5 s): pattern time wraps here without a visible jump
# and stays a small int however long the board runs.
PATTERN_WRAP_MS = const(1260000)
# Slots of Indicator.s (pump/slots.py): what update's fast path reads. The
# tests read T_SLOT through `s` too: no properties on this class (on
# MicroPython a class with one makes each attribute store on its instances
# look the class up first, and _change stores several).
T_SLOT = const(0)
_WAIT_MS = const(1)
_CALM = const(2)
_SEQ = const(3)
_N_SLOTS = const(4)
# Every pattern changes level only at multiples of this much pattern time.
# The LED is worked out at its next change (and at once when what it
# shows changes), not every tick: the update's full path costs several
# hundred us on a Pico, its fast path a few tens. The blink codes and
# flash groups are looked at every EDGE_MS; the one-interval patterns
# (period, first `on` ms lit) know their next edge; a steady LED waits
# HOLD_MS between looks.
EDGE_MS = const(50)
HOLD_MS = const(1000)


def _flashes(t, n, period, on_ms=50, gap_ms=150):
    """n quick flashes at the start of each period."""
    t = t % period
    k = t // (on_ms + gap_ms)
    return k < n and t % (on_ms + gap_ms) < on_ms


def led_on(state, fault, notice, weak, t_ms, sched=0):
    """The LED level for a state at time t_ms (pure; tested directly)."""
    if state == STATE_RUNNING:
        return not (weak and t_ms % 1000 < 100)
    if state == STATE_PAUSED:
        return t_ms % 1000 < 500
    if state == STATE_RESTING:
        return t_ms % 2000 < 200
    if state == STATE_DONE:
        return t_ms % 1000 < 100
    if state == STATE_FAULT:
        flash = FLASH_ON_MS + FLASH_OFF_MS
        period = fault * flash + CODE_GAP_MS
        # Dark for FLASH_OFF_MS first: the LED was on while running, and a
        # first flash that continued it could not be counted.
        t = (t_ms + period - FLASH_OFF_MS) % period
        return t < fault * flash and t % flash < FLASH_ON_MS
    if notice == FAULT_CONFIG_INVALID:
        return _flashes(t_ms, 3, 3000)
    if notice == FAULT_WATCHDOG_RESET:
        return _flashes(t_ms, 2, 3000)
    if sched == SCHED_DUE:
        return t_ms % 2000 < 1000
    if sched == SCHED_MISSED:
        t = t_ms % 2000
        return t < 600 or 800 <= t < 1000
    return t_ms % 3000 < 50


def next_change_ms(state, notice, weak, t_ms, sched=0):
    """Pattern time from t_ms until led_on() may give another level (> 0)."""
    if state == STATE_RUNNING:
        if not weak:
            return HOLD_MS
        period, on = 1000, 100
    elif state == STATE_PAUSED:
        period, on = 1000, 500
    elif state == STATE_RESTING:
        period, on = 2000, 200
    elif state == STATE_DONE:
        period, on = 1000, 100
    elif state == STATE_FAULT or notice == FAULT_CONFIG_INVALID or notice == FAULT_WATCHDOG_RESET \
            or sched == SCHED_MISSED:
        return EDGE_MS - t_ms % EDGE_MS
    elif sched == SCHED_DUE:
        period, on = 2000, 1000
    else:
        period, on = 3000, 50
    phase = t_ms % period
    return on - phase if phase < on else period - phase


class Indicator:
    def __init__(self, led_pin, led_active_high=True, buzzer=None, display=None):
        self.led = led_pin
        self.on_level = 1 if led_active_high else 0
        self.led_level = -1
        self.buzzer = buzzer            # a machine.PWM at the buzzer's frequency, or None
        self.buzzer_duty = 0
        self.beeps = 0                  # beeps still to sound
        self.tone_left = 0              # ms the current tone still sounds
        self.gap_left = 0               # ms of silence before the next beep
        self.alarm_in = 0               # ms to the next fault tone
        self.display = display
        self.state = STATE_IDLE
        self.program = -1
        self.sched = 0                  # pump.schedule SCHED_*: due/missed shown while idle
        self.sched_shown = 0
        self.beep_len = BEEP_MS
        self.show_program_ms = 0        # LED shows the program number while > 0
        # t, the pattern time since the state began (wraps at PATTERN_WRAP_MS);
        # the time until the LED may change level; calm, nothing sounds or
        # shows on its own clock; the out.seq last shown: the fast path's
        # slots (pump/slots.py).
        s = array("i", [0] * _N_SLOTS)
        s[_SEQ] = -1
        self.s = s
        self.wait_set = 0               # the wait _change left: what the fast path counted down from
        self.weak = False               # the out.weak and out.notice the LED shows
        self.notice = FAULT_NONE

    def set_schedule(self, sched):
        """The schedule's state (pump.schedule SCHED_*) changed: shown at the next update."""
        self.sched = sched
        self.s[_CALM] = 0

    # (viper on an RP2040: tools/deploy.py VIPER_FUNCTIONS)
    def update(self, dt_ms: int, out):
        """Once per tick, after the outputs are applied. Most ticks change
        nothing the person can see or hear: when nothing sounds, no program
        number is showing, the LED's next edge is still ahead and nothing it
        shows has changed, only the clocks move on."""
        s = ptr32(self.s)
        wait = s[_WAIT_MS] - dt_ms
        # out.seq moves whenever state, program or weak may have changed (the
        # notice is fixed at boot); set_schedule() ends calm.
        if wait > 0 and s[_CALM]:
            if int(out.seq) != s[_SEQ]:
                # Most refreshes change nothing the LED or the buzzer shows: a
                # cycle boundary of mixed mode, a program step, a level. What
                # _change answers at once is a new state, program, weak or
                # notice; a new fault code (a trip replacing another) shows
                # at the LED's next edge on either path. (On an RP2040 the
                # slow path is ~95 us of a mixed boundary's tick, the tick
                # nearest its budget.)
                if out.state != self.state or out.program != self.program \
                        or out.weak != self.weak or out.notice != self.notice:
                    self._change(dt_ms, out)
                    return
                s[_SEQ] = int(out.seq)
            t = s[T_SLOT] + dt_ms
            if t < PATTERN_WRAP_MS:
                s[T_SLOT] = t
                s[_WAIT_MS] = wait
                return
        self._change(dt_ms, out)

    def _change(self, dt_ms, out):
        """A tick on which something may show or sound."""
        s = self.s
        t = s[T_SLOT] + dt_ms
        if t >= PATTERN_WRAP_MS:
            t -= PATTERN_WRAP_MS
        s[T_SLOT] = t
        wait = s[_WAIT_MS] - dt_ms
        # The time since the last _change: this tick and the quiet ticks the
        # fast path counted off the wait (for the fault alarm's clock).
        elapsed = self.wait_set - wait
        st = out.state
        if st != self.state:
            self._announce(self.state, st)
            self.state = st
            # Each state's pattern starts at its beginning: a trip shows a
            # whole first group of its blink code (counted from one, not
            # from wherever the old pattern's clock stood).
            s[T_SLOT] = t = 0
            wait = 0
        if out.program != self.program:
            if self.program >= 0:                 # a selection, not boot
                self.beeps = out.program + 1
                self.show_program_ms = 3000
            self.program = out.program
        if self.sched != self.sched_shown:
            if st == STATE_IDLE and (self.sched == SCHED_DUE or self.sched == SCHED_MISSED):
                self.beeps = 1 if self.sched == SCHED_DUE else 2
                self.beep_len = LONG_BEEP_MS
            self.sched_shown = self.sched
            wait = 0
        if out.weak != self.weak or out.notice != self.notice:
            self.weak = out.weak
            self.notice = out.notice
            wait = 0
        if self.show_program_ms > 0:
            self.show_program_ms -= dt_ms
            self._show(_flashes(3000 - self.show_program_ms, out.program + 1, 3000, 150, 250))
            wait = 0                              # its own clock: every tick while it shows, then at once
        elif wait <= 0:
            self._show(led_on(st, out.fault, out.notice, out.weak, t, self.sched))
            wait = next_change_ms(st, out.notice, out.weak, t, self.sched)
        bz = self.buzzer
        if bz is not None and (self.beeps or self.tone_left > 0 or self.gap_left > 0 or self.buzzer_duty
                               or st == STATE_FAULT):
            self._buzz(dt_ms, st == STATE_FAULT, elapsed)
        if self.display is not None:
            self.display.update(dt_ms, out)
        s[_SEQ] = out.seq
        quiet = bz is None or not (self.beeps or self.tone_left > 0 or self.gap_left > 0 or self.buzzer_duty)
        # While a fault stands and nothing sounds, the next thing to happen on
        # its own clock is the alarm's next tone: the wait ends there. (The
        # fault code itself cannot change unseen: out.seq moves with it.)
        if quiet and bz is not None and st == STATE_FAULT and self.alarm_in < wait:
            wait = self.alarm_in
        s[_WAIT_MS] = wait
        self.wait_set = wait
        s[_CALM] = 1 if self.display is None and self.show_program_ms <= 0 and quiet else 0

    def _show(self, lit):
        level = self.on_level if lit else 1 - self.on_level
        if level != self.led_level:
            self.led.value(level)
            self.led_level = level

    def _announce(self, old, new):
        if new == STATE_RUNNING and (old == STATE_IDLE or old == STATE_DONE):
            self.beeps = 1
        elif (new == STATE_IDLE or new == STATE_DONE) and old != STATE_FAULT:
            self.beeps = 2
        elif new == STATE_FAULT:
            self.beeps = 0
            self.alarm_in = 0
        if new != STATE_FAULT and old == STATE_FAULT:
            self.tone_left = 0

    def _buzz(self, dt_ms, fault, elapsed_ms):
        """The buzzer's tick. A tone or a gap runs only on ticks that come
        here, so they count dt_ms; the fault alarm's clock also runs through
        the quiet ticks the fast path skipped: elapsed_ms."""
        if fault:
            self.alarm_in -= elapsed_ms
            if self.alarm_in <= 0:
                self.alarm_in = FAULT_REPEAT_MS
                self.tone_left = FAULT_TONE_MS
        elif self.beeps > 0 and self.tone_left <= 0 and self.gap_left <= 0:
            self.beeps -= 1
            self.tone_left = self.beep_len
            self.gap_left = 3 * self.beep_len
            if self.beeps == 0:
                self.beep_len = BEEP_MS
        sound = self.tone_left > 0
        if self.tone_left > 0:
            self.tone_left -= dt_ms
        if self.gap_left > 0:
            self.gap_left -= dt_ms
        duty = 32768 if sound else 0
        bz = self.buzzer
        if duty != self.buzzer_duty and bz is not None:
            bz.duty_u16(duty)
            self.buzzer_duty = duty
