"""Buttons, pure: debounce, short and long presses, and what a press means.

A debouncer turns a raw contact into clean edges: a change counts only after
it has held for `debounce_ms`. Each press yields DOWN at once, then LONG
after `long_ms` held, or SHORT on release before that.

What a press means depends on the state, so that the safety-relevant
actions act on the press itself, not on its release:
- start/stop: while a session runs, pauses or rests, or in a fault, DOWN is
  stop (immediate); idle or done: SHORT starts, LONG selects the next program.
- let-down: SHORT toggles stimulation/expression; LONG pauses or resumes;
  in idle, LONG switches power pumping for the next days on or off.
- level up / level down: DOWN, so lowering the vacuum is never delayed.
- pause (optional button): DOWN pauses or resumes.
A press that acted on DOWN is consumed: its release starts nothing.
"""
from micropython import const

from pump.codes import (EV_LETDOWN, EV_LEVEL_DOWN, EV_LEVEL_UP, EV_PAUSE, EV_POWER_DAYS, EV_PROGRAM, EV_START,
                        EV_STOP, STATE_DONE, STATE_IDLE)

PRESS_NONE = const(0)
PRESS_DOWN = const(1)
PRESS_SHORT = const(2)
PRESS_LONG = const(3)

BTN_START_STOP = const(0)
BTN_LETDOWN = const(1)
BTN_LEVEL_UP = const(2)
BTN_LEVEL_DOWN = const(3)
BTN_PAUSE = const(4)
BUTTON_NAMES = ("start_stop", "letdown", "level_up", "level_down", "pause")


class Debounce:
    def __init__(self, debounce_ms=30, long_ms=1500):
        self.debounce_ms = debounce_ms
        self.long_ms = long_ms
        self.raw = False
        self.raw_ms = 0             # how long the raw level has held
        self.pressed = False        # debounced
        self.held_ms = 0
        self.done = False           # long fired or press consumed

    def update(self, raw, dt_ms):
        """Feed the raw contact (True = pressed) and elapsed time."""
        if raw != self.raw:
            self.raw = raw
            self.raw_ms = 0
        elif self.raw_ms < self.debounce_ms:
            self.raw_ms += dt_ms
        if self.raw_ms >= self.debounce_ms and raw != self.pressed:
            self.pressed = raw
            if raw:
                self.held_ms = 0
                self.done = False
                return PRESS_DOWN
            if not self.done:
                return PRESS_SHORT
            return PRESS_NONE
        if self.pressed and not self.done:
            self.held_ms += dt_ms
            if self.held_ms >= self.long_ms:
                self.done = True
                return PRESS_LONG
        return PRESS_NONE

    def consume(self):
        """The DOWN edge acted: no SHORT or LONG for this press."""
        self.done = True


def event_for(button, kind, state):
    """The session event (EV_*) a press means in `state`, or 0."""
    idle = state == STATE_IDLE or state == STATE_DONE
    if button == BTN_START_STOP:
        if kind == PRESS_DOWN and not idle:
            return EV_STOP
        if kind == PRESS_SHORT and idle:
            return EV_START
        if kind == PRESS_LONG and idle:
            return EV_PROGRAM
    elif button == BTN_LETDOWN:
        if kind == PRESS_SHORT:
            return EV_LETDOWN
        if kind == PRESS_LONG:
            return EV_POWER_DAYS if idle else EV_PAUSE
    elif kind == PRESS_DOWN:
        if button == BTN_LEVEL_UP:
            return EV_LEVEL_UP
        if button == BTN_LEVEL_DOWN:
            return EV_LEVEL_DOWN
        if button == BTN_PAUSE:
            return EV_PAUSE
    return 0
