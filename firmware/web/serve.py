"""The control loop and the web server in one asyncio loop, the loop first.

Boards with `"web": true` run this instead of App.run(): the same tick,
the same drift-free schedule (App.next_wait), with the wait spent in
asyncio.sleep_ms so that the server's task runs meanwhile. asyncio runs
one task at a time and never pre-empts: a tick is never interrupted, and
a due tick waits at most for the server's current step to reach its next
`await` (reading or writing a socket, at most one request line or one
response chunk). That wait is the bound on how late a tick can be under a
request flood; `make bench` measures it (tools/bench_web.py). What could
make it long is kept off: the history and the plan are refused while a
session runs (web/link.py), request bodies and lines are capped at 1 KB,
and at most MAX_CLIENTS requests are handled at once (web/api.py).

A dropped connection only ends that request's task: the pump never waits
for the phone, and nothing the phone asked is half done (a press is one
queued event; a note one queued line).
"""
try:
    import asyncio
except ImportError:
    import uasyncio as asyncio

from hw.store import read_text, write_atomic
from web.pairing import Gate, new_secret, valid_secret

KEY_FILE = "pair.key"
# Heap the history and the plan take while they answer, over the built app's
# (their modules, a record's buffers, the sessions): 47,776 bytes on the
# emulated RP2040 with 60 sessions (tools/rp2040/webbench.py), rounded up.
ANSWER_ROOM_B = 48 * 1024


def secret(urandom, read=read_text, write=write_atomic):
    """The pairing secret: pair.key's, or a new one written there (at boot,
    before the first tick: motor off, valve vented). A damaged file is
    replaced, which unpairs every phone; said on the console."""
    text = read(KEY_FILE)
    if text is not None:
        text = text.strip()
        if valid_secret(text):
            return text
        print("web: pair.key is damaged: a new pairing secret is made (pair the phone again: make pair)")
    text = new_secret(urandom)
    write(KEY_FILE, text)
    return text


async def control(app, link):
    """The control loop as a task: App.step, the live trace's sample, and
    the wait until the next tick, in which the server runs."""
    clock = app.clock
    ahead = app.read_ahead
    app.due_ms = clock.ticks_ms()
    sleep_ms = getattr(asyncio, "sleep_ms", None) or _sleep_ms
    while True:
        if ahead is not None:
            # Right before the tick, not 1 ms early as App.run does (that
            # would be a second pass of asyncio's scheduler every tick, not
            # measured yet): the read's bus time runs during the buttons' poll.
            ahead()
        link.sample(app.step(clock.ticks_ms()))
        await sleep_ms(app.next_wait())


async def _sleep_ms(ms):                 # CPython's asyncio has no sleep_ms
    await asyncio.sleep(ms / 1000)


def make(app, rtc=None, urandom=None, page="web/page.html", sleep_ms=None):
    """(link, server, gate) for `app`: its buttons wrapped so that the
    phone's presses join them (web/remote.py). sleep_ms: how a slowed
    answer waits (tests record it instead)."""
    from web.api import build
    from web.link import Link
    from web.remote import RemoteButtons
    if urandom is None:
        from os import urandom
    remote = RemoteButtons(app.buttons)
    app.use_buttons(remote)
    link = Link(app, remote, app.books.program_names, rtc)
    gate = Gate(secret(urandom), app.clock)
    return link, build(link, gate, page, sleep_ms), gate


def run(app, rtc=None):
    """Bring up Wi-Fi (wifi.json, web/wifi.py), serve the phone app and run
    the pump until an exception (main.py's `finally` then stops the motor
    and vents, as after App.run()). A wifi.json that cannot be used, or no
    safe way onto a network, leaves the pump on its buttons: App.run()."""
    import os
    from hw.store import load_json
    from web import wifi
    try:
        import network  # pyright: ignore[reportMissingImports]  (the Pico W's and ESP32's; the Pico's stubs have none)
    except ImportError:
        network = None
    raw, why = load_json(None, wifi.CONFIG)
    cfg, errors = wifi.check(raw) if why is None else (None, [why])
    for e in errors:
        print("web: " + e)
    mode = "off"
    if cfg is not None:
        mode, _ = wifi.start(network, cfg, app.clock, os.urandom, read_text, write_atomic)
    if cfg is None or mode == "off":
        print("web: the phone app is off; the pump runs on its buttons")
        app.run()
        return
    port = cfg["port"]
    import gc
    buttons = app.buttons
    try:
        link, server, _ = make(app, rtc)
    except MemoryError:
        # The pump does not need the phone: it keeps its own buttons, and
        # the console says why the page will not answer.
        app.use_buttons(buttons)
        gc.collect()
        print("web: not enough memory for the phone app (%d bytes free): the pump runs on its buttons "
              "(docs/web-app.md, Memory)" % gc.mem_free())
        app.run()
        return
    gc.collect()
    free = gc.mem_free()
    # The figure docs/web-app.md asks a builder to read off a real board.
    print("web: heap in use %d bytes, %d free" % (gc.mem_alloc(), free))
    if free < ANSWER_ROOM_B:
        print("web: the history and the plan need about %d bytes more than is free: they may answer 503 "
              "(docs/web-app.md, Memory)" % ANSWER_ROOM_B)
    # A board listens on its Wi-Fi; a host run (the virtual board) on loopback only.
    bind = "127.0.0.1" if mode == "host" else "0.0.0.0"

    async def main():
        asyncio.create_task(server.start_server(bind, port))
        print("web: serving on port %d (make pair prints the pairing link)" % port)
        await control(app, link)

    asyncio.run(main())
