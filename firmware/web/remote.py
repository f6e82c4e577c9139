"""The phone's presses, fed into the control loop as button presses.

The web app never drives the session itself: a control request becomes the
session event the same press of a board button would make in the current
state (pump/buttons.py's event_for: the same rules, nothing the buttons
cannot do), queued here, and the next tick takes it with the buttons'
own events, in App.step, where a start press's write and every other rule
apply unchanged. Between a request and its tick the state can move on by
one tick, exactly as between a button's debounce and its tick.

A stop is always taken: a full queue is emptied for it (what was waiting,
a start or a level change, would have come before the stop and is undone
by it anyway).
"""
from micropython import const

from pump.buttons import (BTN_LETDOWN, BTN_LEVEL_DOWN, BTN_LEVEL_UP, BTN_PAUSE, BTN_START_STOP, PRESS_DOWN,
                          PRESS_LONG, PRESS_SHORT, event_for)
from pump.codes import EV_POWER_DAYS, EV_PROGRAM, EV_STOP

QUEUE = const(8)

# action name -> (the button, the press) that means it
ACTIONS = {
    "start": (BTN_START_STOP, PRESS_SHORT),
    "stop": (BTN_START_STOP, PRESS_DOWN),
    "pause": (BTN_PAUSE, PRESS_DOWN),            # pause and resume, as the pause button (or let-down held)
    "letdown": (BTN_LETDOWN, PRESS_SHORT),
    "level_up": (BTN_LEVEL_UP, PRESS_DOWN),
    "level_down": (BTN_LEVEL_DOWN, PRESS_DOWN),
    "program": (BTN_START_STOP, PRESS_LONG),     # the next program (idle only)
    "power_days": (BTN_LETDOWN, PRESS_LONG),     # power pumping days on/off (idle only)
}
# the events each action may give: let-down held while running pauses, and
# the web's power_days must never turn into a pause
_ONLY = {"power_days": EV_POWER_DAYS, "program": EV_PROGRAM}


def event_of(action, state):
    """The session event `action` means in `state` (0: nothing now, as a
    button press would do nothing). Raises KeyError for an unknown action."""
    button, kind = ACTIONS[action]
    ev = event_for(button, kind, state)
    only = _ONLY.get(action)
    if only is not None and ev != only:
        return 0
    return ev


class RemoteButtons:
    """Wraps the board's Buttons: poll() returns its events followed by the
    queued remote ones, in `events`, like Buttons.poll."""

    def __init__(self, buttons):
        self.inner = buttons
        self.queue = [0] * QUEUE
        self.queued = 0
        self.merged = [0] * (len(buttons.events) + QUEUE)
        self.events = buttons.events
        self.taken = 0                  # remote events handed to ticks (tests, the console)

    def push(self, ev):
        """Queue a session event for the next tick. False when the queue is
        full (a stop never is: it replaces what waits)."""
        if ev == EV_STOP and self.queued >= QUEUE:
            self.queued = 0
        if self.queued >= QUEUE:
            return False
        self.queue[self.queued] = ev
        self.queued += 1
        return True

    def poll(self, dt_ms, state):
        inner = self.inner
        n = inner.poll(dt_ms, state)
        q = self.queued
        if not q:
            self.events = inner.events
            return n
        merged = self.merged
        i = 0
        while i < n:
            merged[i] = inner.events[i]
            i += 1
        j = 0
        while j < q:
            merged[n + j] = self.queue[j]
            j += 1
        self.queued = 0
        self.taken += q
        self.events = merged
        return n + q
