"""The phone app's API through microdot's test client, on CPython and MicroPython.

Usage: <python|micropython> web_checks.py WORKDIR [CHECK ...]
Prints `PASS name` or `FAIL name: reason` per check; host_tests/test_web.py
runs it under both VMs and requires every check on both. WORKDIR is the
board's flash (the session log, notes.log, pair.key).

The real app (app.boot with the sim board, web on, the default profiles,
the session log in WORKDIR) on the fake machine with an integer plant; the
web app built by web/serve.make() around it, with a fixed urandom and a
sleep that records instead of waiting. Requests go through microdot's
TestClient; ticks are run by hand between them (the server's task runs
between ticks on the board as well).
"""
import json
import os
import sys

import machine
from intplant import IntPlant
from real_asyncio import asyncio
from microdot.test_client import TestClient

WORK = sys.argv[1]
ONLY = sys.argv[2:]
ROOT = os.getcwd()
SECRET_BYTES = bytes(range(16))
SECRET = "000102030405060708090a0b0c0d0e0f"


def released():
    return 1


class Board:
    """One boot of the board with the web app: ticks and requests."""

    def __init__(self, profiles=None, fresh=True):
        if fresh:
            for n in os.listdir(WORK):
                os.remove(WORK + "/" + n)
        import app
        from hw.sessionlog import SessionLog
        from web import api, serve
        w = machine.reset_world("rp2")
        w.logging = False
        self.w = w
        self.plant = IntPlant(w)
        w.attach_adc_uv(26, self.plant.uv)
        for pin in (10, 11, 12, 13, 14):
            w.attach_input(pin, released)
        with open(ROOT + "/boards/sim.json") as f:
            board = json.load(f)
        board["web"] = True
        if profiles is None:
            with open(ROOT + "/profiles.json") as f:
                profiles = f.read()
        files = {"board.json": json.dumps(board), "profiles.json": profiles}
        self.app = app.boot(machine, w.clock, files.get, SessionLog(WORK))
        self.clock = w.clock
        self.slept = []
        here = os.getcwd()
        os.chdir(WORK)                        # pair.key lands in the board's flash
        try:
            self.link, self.server, self.gate = serve.make(self.app, urandom=lambda n: SECRET_BYTES[:n],
                                                           page=ROOT + "/firmware/web/page.html",
                                                           sleep_ms=self.sleep)
        finally:
            os.chdir(here)
        self.api = api

    async def sleep(self, ms):
        self.slept.append(ms)

    def tick(self, n=1):
        out = None
        for _ in range(n):
            self.plant.step()
            self.clock.advance(10)
            out = self.app.step(self.clock.ticks_ms())
            self.link.sample(out)
        return out

    def client(self, secret=SECRET):
        return TestClient(self.server, cookies={self.api.COOKIE: secret} if secret is not None else None)

    def run(self, coro):
        return asyncio.run(coro)

    def get(self, path, secret=SECRET):
        return self.run(self.client(secret).get(path))

    def post(self, path, body, secret=SECRET, headers=None):
        return self.run(self.client(secret).post(path, headers=headers, body=body))

    def control(self, action, secret=SECRET):
        return self.post("/api/control", {"action": action}, secret)

    @property
    def state(self):
        from pump.codes import STATE_NAMES
        return STATE_NAMES[self.app.session.state]


RESULTS = []


def check(name, ok, why=""):
    RESULTS.append(name)
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + why))


CHECKS = []


def case(f):
    CHECKS.append(f)
    return f


# -- pairing -------------------------------------------------------------------------

@case
def c_no_secret():
    b = Board()
    codes = [b.get(p, secret=None).status_code for p in ("/", "/api/status", "/api/history", "/api/plan")]
    codes.append(b.post("/api/control", {"action": "start"}, secret=None).status_code)
    b.tick(20)
    check("nothing_answers_without_the_secret", codes == [401] * 5 and b.state == "idle", repr(codes))
    check("a_missing_secret_is_not_a_guess", b.gate.wrong == 0, repr(b.gate.wrong))


@case
def c_wrong_secret():
    from web.pairing import FREE_TRIES, LOCK_AFTER, SLOW_MS
    b = Board()
    wrong = "f" * 32
    codes = []
    for _ in range(LOCK_AFTER - 1):
        codes.append(b.control("start", secret=wrong).status_code)
    b.tick(20)
    ok = codes == [401] * (LOCK_AFTER - 1) and b.state == "idle"
    check("a_wrong_secret_is_refused", ok, repr(codes) + " " + b.state)
    check("wrong_secrets_are_slowed_after_a_few",
          b.slept == [SLOW_MS] * (LOCK_AFTER - 1 - FREE_TRIES), repr(b.slept))
    r = b.control("start", secret=wrong)
    locked = b.control("start")                      # the right secret, while locked
    b.tick(20)
    check("then_the_door_locks_even_for_the_right_secret",
          r.status_code == 429 and locked.status_code == 429 and b.state == "idle"
          and locked.headers.get("Retry-After") == "300", "%d %d %r" % (
              r.status_code, locked.status_code, locked.headers))
    b.tick(300 * 100)                                # five minutes of idle ticks
    ok = b.control("start").status_code == 202
    b.tick(5)
    check("the_lock_opens_after_its_time", ok and b.state == "running", b.state + " " + str(b.app.session.out.fault))
    for _ in range(LOCK_AFTER):
        r = b.get("/api/status", secret=wrong)
    check("each_further_lock_lasts_twice_as_long",
          r.status_code == 429 and r.headers.get("Retry-After") == "600", "%d %r" % (r.status_code, r.headers))


@case
def c_pairing_link():
    b = Board()
    r = b.get("/pair?k=" + SECRET, secret=None)
    cookie = "".join(r.headers.get("Set-Cookie", []))
    ok = r.status_code == 302 and r.headers.get("Location") == "/" and ("pump_key=" + SECRET) in cookie \
        and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    check("the_pairing_link_sets_a_locked_down_cookie", ok, "%d %r" % (r.status_code, r.headers))
    bad = b.get("/pair?k=" + "0" * 32, secret=None)
    check("a_wrong_pairing_link_sets_nothing", bad.status_code == 401 and "Set-Cookie" not in bad.headers,
          "%d %r" % (bad.status_code, bad.headers))
    page = b.get("/")
    check("the_paired_phone_gets_the_page", page.status_code == 200 and "<html" in (page.text or ""),
          "%d" % page.status_code)
    with open(WORK + "/pair.key") as f:
        kept = f.read().strip()
    b2 = Board(fresh=False)
    check("the_secret_is_made_once_and_kept", kept == SECRET and b2.gate.secret == SECRET.encode(), kept)


# -- controls --------------------------------------------------------------------------

@case
def c_controls():
    from pump.codes import MODE_NAMES
    b = Board()
    b.tick(50)
    r = b.control("start")
    b.tick(1)
    check("start_starts_a_session", r.status_code == 202 and b.state == "running", "%d %s" % (r.status_code,
                                                                                          b.state))
    b.tick(100)
    level = b.app.session.out.level
    b.control("level_up")
    b.tick(1)
    up = b.app.session.out.level
    b.control("level_down")
    b.tick(1)
    check("level_up_and_down_move_one_level", up == level + 1 and b.app.session.out.level == level,
          "%d %d %d" % (level, up, b.app.session.out.level))
    mode = b.app.session.mode
    b.control("letdown")
    b.tick(1)
    check("letdown_switches_the_mode", b.app.session.mode != mode, "%s -> %s" % (
        MODE_NAMES[mode], MODE_NAMES[b.app.session.mode]))
    b.control("pause")
    b.tick(1)
    paused = b.state
    b.control("pause")
    b.tick(1)
    check("pause_pauses_and_resumes", paused == "paused" and b.state == "running", paused + " " + b.state)
    r = b.control("program")
    check("program_is_refused_while_pumping", r.status_code == 409 and "running" in r.json["error"],
          "%d %r" % (r.status_code, r.json))
    r = b.control("power_days")
    check("power_days_is_refused_while_pumping_and_pauses_nothing", r.status_code == 409 and (
        b.tick(1) or b.state == "running"), "%d %s" % (r.status_code, b.state))
    r = b.control("stop")
    b.tick(1)
    check("stop_stops", r.status_code == 202 and b.state in ("idle", "done") and b.app.session.out.duty_u16 == 0
          and b.app.session.out.valve_open, b.state)
    prog = b.app.session.program
    b.control("program")
    b.tick(1)
    check("program_selects_the_next_program_when_idle", b.app.session.program != prog,
          "%d %d" % (prog, b.app.session.program))
    left = b.app.books.log.state["power_left"]
    r = b.control("power_days")
    b.tick(1)
    check("power_days_toggles_when_idle", r.status_code == 202 and b.app.books.log.state["power_left"] != left,
          "%d %r" % (r.status_code, b.app.books.log.state))


@case
def c_stop_beats_a_full_queue():
    b = Board()
    b.control("start")
    b.tick(50)
    codes = [b.control("level_up").status_code for _ in range(12)]
    r = b.control("stop")
    b.tick(1)
    check("a_stop_is_taken_when_the_queue_is_full", codes[:8] == [202] * 8 and codes[8:] == [503] * 4
          and r.status_code == 202 and b.state in ("idle", "done"), "%r %d %s" % (codes, r.status_code, b.state))


@case
def c_refusals():
    b = Board()
    limit = b.app.session.monitor.cfg.limit_pa if hasattr(b.app.session.monitor, "cfg") else None
    targets = [p.targets_pa for p in b.app.session.p.modes if hasattr(p, "targets_pa")]
    codes = [b.control("boost").status_code, b.post("/api/control", {"action": 3}).status_code,
             b.post("/api/control", [1]).status_code]
    check("unknown_actions_are_refused", codes == [400, 400, 400], repr(codes))
    tried = [b.post(p, {"limit_mmhg": 400, "level": 99, "targets_mmhg": [400]}).status_code
             for p in ("/api/limits", "/api/profiles", "/api/level", "/api/control")]
    after = [p.targets_pa for p in b.app.session.p.modes if hasattr(p, "targets_pa")]
    limit_after = b.app.session.monitor.cfg.limit_pa if limit is not None else None
    check("no_route_changes_a_limit_or_a_profile", tried == [404, 404, 404, 400] and after == targets
          and limit_after == limit, repr(tried))
    r = b.post("/api/control", "action=start", headers={"Content-Type": "application/x-www-form-urlencoded"})
    b.tick(5)
    check("a_post_that_is_not_json_is_refused", r.status_code == 415 and b.state == "idle",
          "%d %s" % (r.status_code, b.state))
    r = b.control("stop")
    check("stop_while_idle_does_nothing", r.status_code == 409, "%d" % r.status_code)


# -- the live view ------------------------------------------------------------------------

@case
def c_status():
    b = Board()
    b.control("start")
    b.tick(300)
    r = b.get("/api/status")
    s = r.json
    ok = r.status_code == 200 and s["state"] == "running" and s["mode"] == "stimulation" and s["elapsed_s"] == 2 \
        and len(s["vac"]) == 60 and len(s["set"]) == 60 and max(s["vac"]) > 100 and s["first"] == 0
    check("status_has_the_state_and_the_trace", ok, repr({k: s[k] for k in s if k not in ("vac", "set")}))
    n = s["first"] + len(s["vac"])
    b.tick(10)
    s2 = b.get("/api/status?since=%d" % (n - 1)).json
    check("status_since_sends_only_new_samples", s2["first"] == n and len(s2["vac"]) == 2, repr(
        (s2["first"], len(s2["vac"]))))
    b.tick(2000)
    s3 = b.get("/api/status?since=-1").json
    check("the_trace_keeps_the_last_256_samples", len(s3["vac"]) == 256, repr(len(s3["vac"])))


# -- notes, history, plan, clock ----------------------------------------------------------

@case
def c_notes_and_history():
    b = Board()
    r = b.post("/api/clock", {"local": [2026, 12, 3, 8, 0, 0]})
    check("the_phone_sets_the_clock", r.status_code == 200 and b.app.books.wall_now() == r.json["now_s"],
          "%d %r" % (r.status_code, r.json))
    b.control("start")
    b.tick(1000)
    busy = [b.get("/api/history").status_code, b.get("/api/plan").status_code]
    check("history_and_plan_wait_while_pumping", busy == [409, 409], repr(busy))
    seq = b.get("/api/status").json["seq"]
    b.control("stop")
    b.tick(5)
    r = b.post("/api/note", {"seq": seq, "left_ml": 60, "right_ml": 45.5, "note": "tired"})
    waiting = b.app.books.pending
    b.tick(1)
    with open(WORK + "/notes.log") as f:
        lines = f.read().splitlines()
    from pump.record import decode
    rec = decode(lines[-1] + "\n") if lines else None
    ok = r.status_code == 202 and waiting and len(lines) == 1 and rec["seq"] == seq and rec["left_ml"] == 60 \
        and rec["right_ml"] == 45.5 and rec["note"] == "tired" and rec["kind"] == "note" \
        and rec["at"] == "2026-12-03T08:00:10"
    check("a_note_is_written_to_notes_log_at_the_next_tick", ok, repr((r.status_code, lines)))
    h = b.get("/api/history").json["sessions"]
    ok = len(h) == 1 and h[0]["seq"] == seq and h[0]["left_ml"] == 60 and h[0]["right_ml"] == 45.5 \
        and h[0]["end"] == "stop" and 9 <= h[0]["duration_s"] <= 10 and h[0]["note"] == "tired"
    check("the_history_shows_the_session_with_its_note", ok, repr(h))
    bad = [b.post("/api/note", body).status_code for body in (
        {"seq": 0, "left_ml": 5}, {"seq": seq, "left_ml": -1}, {"seq": seq, "right_ml": 2001},
        {"seq": seq, "left_ml": True}, {"seq": seq, "note": "x" * 201}, {"seq": seq}, [seq])]
    check("bad_notes_are_refused", bad == [400] * 7, repr(bad))
    bad = [b.post("/api/clock", body).status_code for body in (
        {"local": [2019, 1, 1, 0, 0, 0]}, {"local": [2026, 13, 1, 0, 0, 0]}, {"local": "now"}, {})]
    check("a_bad_clock_is_refused", bad == [400] * 4, repr(bad))


@case
def c_plan_after_a_miss():
    profiles = json.load(open(ROOT + "/profiles.json"))
    profiles["schedule"] = {"every_min": 180, "grace_min": 45}
    b = Board(profiles=json.dumps(profiles))
    b.post("/api/clock", {"local": [2026, 12, 3, 8, 0, 0]})
    b.control("start")
    b.tick(500)
    b.control("stop")
    b.tick(5)
    before = b.get("/api/plan").json
    b.post("/api/clock", {"local": [2026, 12, 3, 12, 0, 0]})      # four hours on: the 11:00 one missed
    b.tick(200)
    after = b.get("/api/plan").json
    rules = [s["name"] for s in after["suggestions"]]
    ok = before["state"] == "not_due" and after["state"] == "overdue" and "pump-now" in rules \
        and "extra-session" in rules
    check("the_plan_changes_after_a_missed_session", ok, repr((before, after)))
    b.get("/api/history")
    loaded = [m for m in ("web.history", "pump.recovery") if m in sys.modules]
    check("the_history_and_the_rules_leave_the_heap_after_answering", not loaded, repr(loaded))
    from web import history
    from pump import recovery
    seen = []
    real_history, real_plan = recovery.History, recovery.Plan
    recovery.History = lambda *a: seen.append("timeline") or real_history(*a)
    recovery.Plan = lambda h: seen.append("rules") or real_plan(h)

    async def pause():
        seen.append("pause")
    books = b.app.books
    try:
        asyncio.run(history.plan(books.log, books.board_id, books.schedule, books.wall_now(), pause))
    finally:
        recovery.History, recovery.Plan = real_history, real_plan
    check("the_plan_lets_the_loop_run_between_the_timeline_and_the_rules",
          seen[-3:] == ["timeline", "pause", "rules"] and seen.count("pause") >= 2, repr(seen))
    del history, recovery, real_history, real_plan
    sys.modules.pop("web.history", None)            # loaded by this check itself, not by a request
    sys.modules.pop("pump.recovery", None)


# -- the loop runs while a long answer is sent (MicroPython: its sockets) ---------------------

def free_port():
    """A loopback port nothing listens on (this port's sockets cannot say
    which one bind(0) took: try a few)."""
    import socket
    import utime                                   # the port's clock (time is the fakes' here)
    base = utime.ticks_us()
    for k in range(100):
        port = 20000 + (base * 7919 + k * 104729) % 40000
        s = socket.socket()
        try:
            s.bind(socket.getaddrinfo("127.0.0.1", port)[0][-1])
            return port
        except OSError:
            pass
        finally:
            s.close()
    raise OSError("no free port")


async def read_all(reader):
    data = b""
    while True:
        chunk = await reader.read(4096)
        if not chunk:
            return data
        data += chunk


@case
def c_history_lets_the_loop_run():
    if sys.implementation.name != "micropython":
        return                                     # CPython's stream writes need not yield
    from pump.record import encode
    b = Board()
    board_id = b.app.books.board_id
    with open(WORK + "/sessions.log", "w") as f:
        for k in range(40):
            f.write(encode({"v": 1, "board": board_id, "board_name": "sim", "seq": k + 1, "boot": 1,
                            "start": "2026-11-%02dT%02d:00:00" % (1 + k // 8, (k % 8) * 3), "uptime_s": 0,
                            "duration_s": 1200, "duration_at_least": False, "program": "standard",
                            "mode_s": {}, "levels": {}, "peak_mmhg": {"expression": 150.0}, "faults": [],
                            "end": "stop", "schedule": "early"}))
    port = free_port()
    got = {}

    async def main():
        asyncio.create_task(b.server.start_server("127.0.0.1", port))
        await asyncio.sleep_ms(50)
        spins = [0]
        going = [True]

        async def spin():                          # stands for the control task: runs at every yield
            while going[0]:
                spins[0] += 1
                await asyncio.sleep_ms(0)
        asyncio.create_task(spin())
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(("GET /api/history?days=366 HTTP/1.0\r\nCookie: pump_key=%s\r\n\r\n" % SECRET).encode())
        await w.drain()
        n0 = spins[0]
        data = await read_all(r)
        got["spins"] = spins[0] - n0
        got["body"] = data.split(b"\r\n\r\n", 1)[1]
        going[0] = False
        w.close()
        b.server.shutdown()
    asyncio.run(main())
    sessions = json.loads(got["body"])["sessions"]
    check("the_history_is_sent_record_by_record_letting_the_loop_run",
          len(sessions) == 40 and sessions[0]["seq"] == 1 and got["spins"] >= 40, "%d sessions, %d spins" % (
              len(sessions), got["spins"]))


@case
def c_dropped_connections_change_nothing():
    if sys.implementation.name != "micropython":
        return
    b = Board()
    b.control("start")
    b.tick(100)
    port = free_port()
    got = {}
    b.server.request_ms = 300                      # 10 s on the board

    async def main():
        asyncio.create_task(b.server.start_server("127.0.0.1", port))
        await asyncio.sleep_ms(50)
        for part in (b"GET /api/sta", b"POST /api/control HTTP/1.0\r\nCookie: pump_key=" + SECRET.encode() +
                     b"\r\nContent-Type: application/json\r\nContent-Length: 30\r\n\r\n{\"action\": \"st"):
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(part)
            await w.drain()
            w.close()                              # the phone walks out of range mid-request
            await asyncio.sleep_ms(20)
        await asyncio.sleep_ms(400)
        got["active"] = b.server.active
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(("GET /api/status HTTP/1.0\r\nCookie: pump_key=%s\r\n\r\n" % SECRET).encode())
        await w.drain()
        data = await read_all(r)
        got["status"] = data.split(b" ", 2)[1]
        w.close()
        b.server.shutdown()
    asyncio.run(main())
    b.tick(10)
    check("dropped_connections_change_nothing_on_the_pump", got["status"] == b"200" and b.state == "running"
          and b.app.buttons.taken == 1 and got["active"] == 0 and b.server.timed_out == 2,
          "%r %s taken %d timed out %d" % (got, b.state, b.app.buttons.taken, b.server.timed_out))


# -- the tick with the web app on (MicroPython: gc.mem_alloc) -------------------------------

@case
def c_web_tick_allocates_nothing():
    if sys.implementation.name != "micropython":
        return                                     # CPython allocates for every int: nothing to measure
    import gc
    b = Board()
    b.tick(300)
    b.control("start")
    b.tick(300)                                    # first-time attribute creation, the start write
    b.control("level_up")                          # queued remote presses in the measured ticks
    b.control("letdown")
    gc.collect()
    gc.disable()
    allocating = 0
    link = b.link
    step = b.app.step
    clock = b.clock
    plant = b.plant
    w0 = b.app.books.writes
    for _ in range(2000):
        plant.step()
        clock.advance(10)
        t = clock.ticks_ms()
        before = gc.mem_alloc()
        link.sample(step(t))
        if gc.mem_alloc() != before:
            allocating += 1
    gc.enable()
    writes = b.app.books.writes - w0
    check("the_tick_with_the_web_app_allocates_nothing", allocating <= writes and b.state == "running"
          and b.app.buttons.taken == 3, "%d ticks allocated, %d wrote, %s" % (allocating, writes, b.state))


def main():
    for f in CHECKS:
        if ONLY and f.__name__[2:] not in ONLY:
            continue
        try:
            f()
        except Exception as e:                  # a check that raises is a failing check
            sys.print_exception(e) if hasattr(sys, "print_exception") else __import__("traceback").print_exc()
            check(f.__name__[2:], False, "raised %r" % e)


main()
