"""The tick calls its parts through bound methods that App and Session take
once (a look-up less per call on the chip, firmware/app.py): each one must
stay the method of the part the object holds now. A part replaced without
its binding would go on being called in the old part's place: the phone's
presses lost, or a safety check run on a monitor nobody else reads."""
import json
import os

from tools import paths

# (binding, the part's attribute, its method) for every bound method the tick
# holds (the clock is the fake's object here, the time module on a board).
APP = [("_ticks_diff", "clock", "ticks_diff"), ("_poll_buttons", "buttons", "poll"), ("_poll_sensor", "sensor", "poll"), ("_tick", "session", "tick"),
       ("_books_tick", "books", "tick"), ("_show", "indicator", "update")]
QUEUED = [("read_ahead", "sensor", "request")]
SESSION = [("_observe", "monitor", "observe"), ("_guard", "monitor", "guard_duty"),
           ("_supervise", "monitor", "supervise"), ("_update", "control", "update")]


def booted(board):
    import machine
    from app import boot
    from fake_clock import FakeClock
    import devices
    files = {"board.json": open(os.path.join(paths.BOARDS, board + ".json")).read(),
             "profiles.json": open(os.path.join(paths.ROOT, "profiles.json")).read()}
    w = machine.reset_world("rp2", FakeClock(0))
    w.logging = False
    if json.loads(files["board.json"])["sensor"]["type"] == "mprls":
        w.attach_i2c(0, 0x18, devices.MPRLSDevice(lambda: 101325))
    else:
        w.attach_adc_uv(26, lambda: 3000000)             # 4.5 V through 2/3: ambient
    return boot(machine, w.clock, files.get), w


def unbound(holder, table):
    """The bindings of `holder` that are not its part's method now."""
    bad = []
    for name, part, method in table:
        b = getattr(holder, name)
        obj = getattr(holder, part)
        if b.__self__ is not obj or b.__func__ is not getattr(type(obj), method):
            bad.append(name)
    return bad


def bound_attributes(obj):
    return sorted(k for k, v in vars(obj).items() if hasattr(v, "__self__") and hasattr(v, "__func__"))


def check(a):
    table = APP + (QUEUED if a.read_ahead is not None else [])
    assert unbound(a, table) == [] and unbound(a.session, SESSION) == []
    # Every bound method they hold is in the tables above (a new one must be added there).
    assert bound_attributes(a) == sorted(n for n, _, _ in table)
    assert bound_attributes(a.session) == sorted(n for n, _, _ in SESSION)


def test_the_tick_calls_the_parts_the_app_holds_through_two_sessions():
    for board in ("sim", "pico_w"):
        a, w = booted(board)
        check(a)
        for press in (1, 2, 1, 2):                       # start, stop, start again, stop
            a.session.press(press)
            for _ in range(300):
                w.clock.advance(10)
                a.step(w.clock.ticks_ms())
            check(a)


def test_use_buttons_moves_the_binding_with_the_buttons():
    a, w = booted("sim")
    board_buttons = a.buttons

    class Wrapped:
        def __init__(self):
            self.events = board_buttons.events
            self.polls = 0

        def poll(self, dt_ms, state):
            self.polls += 1
            return board_buttons.poll(dt_ms, state)
    wrapped = Wrapped()
    a.use_buttons(wrapped)
    check(a)
    for _ in range(3):
        w.clock.advance(10)
        a.step(w.clock.ticks_ms())
    a.use_buttons(board_buttons)
    check(a)
    w.clock.advance(10)
    a.step(w.clock.ticks_ms())
    assert wrapped.polls == 3


def test_the_read_is_queued_ahead_only_when_the_last_conversion_is_done_by_then():
    """The loop queues the read 1 ms before a tick; the conversion the last
    tick's poll started (at most ~1 ms into that tick) must be done by then."""
    from app import read_ahead

    class Part:
        period_ms = 6

        def request(self):
            return 1
    part = Part()
    assert read_ahead(part, 6) is None and read_ahead(part, 7) is None
    assert read_ahead(part, 8) == part.request and read_ahead(part, 10) == part.request
    assert read_ahead(object(), 10) is None               # a sensor that cannot queue its read
