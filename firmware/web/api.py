"""The board's web app: the routes the phone's page calls (docs/web-app.md),
on microdot, the MicroPython web framework that runs unchanged on CPython
(so the same tests drive it on both VMs through its test client).

Every route but /pair needs the pairing cookie (web/pairing.py); a request
without it, or with a wrong one, gets 401 (slowed after a few, 429 while
locked). POSTs carry JSON (`Content-Type: application/json`): a page on
another site cannot send that without the browser asking first, and the
cookie is SameSite=Strict, so it cannot borrow the phone's pairing either.

The limits of one request are small and fixed: 1 KB of body, 1 KB a
header line, MAX_CLIENTS requests at once (more are closed unanswered):
a flood costs the board a bounded amount of heap and CPU, and the control
task runs between any two steps of any request (web/serve.py).
"""
try:
    import asyncio
except ImportError:                      # MicroPython before 1.21
    import uasyncio as asyncio

from microdot import Microdot, Request, Response

from web.link import Refused
from web.pairing import LOCKED, OK

COOKIE = "pump_key"
MAX_CLIENTS = 4
REQUEST_MS = 10000          # the longest a request may take (the plan on an RP2040: ~2 s)
MAX_BODY = 1024
HISTORY_DAYS = 14

Request.max_content_length = MAX_BODY
Request.max_body_length = MAX_BODY
Request.max_readline = 1024


async def _sleep_ms(ms):
    if hasattr(asyncio, "sleep_ms"):
        await asyncio.sleep_ms(ms)
    else:
        await asyncio.sleep(ms / 1000)


async def _yield():
    """Let the control task run if a tick is due (web/serve.py)."""
    await _sleep_ms(0)


class Server(Microdot):
    """microdot with a cap on the requests handled at once and on how long
    one may take: a phone that walks out of range mid-request (or a client
    that sends slowly on purpose) frees its place after REQUEST_MS."""

    def __init__(self):
        Microdot.__init__(self)
        self.active = 0
        self.turned_away = 0
        self.timed_out = 0
        self.request_ms = REQUEST_MS

    async def handle_request(self, reader, writer):
        if self.active >= MAX_CLIENTS:
            self.turned_away += 1
            await _close(writer)
            return
        self.active += 1
        try:
            await asyncio.wait_for_ms(Microdot.handle_request(self, reader, writer), self.request_ms) \
                if hasattr(asyncio, "wait_for_ms") else \
                await asyncio.wait_for(Microdot.handle_request(self, reader, writer), self.request_ms / 1000)
        except asyncio.TimeoutError:
            self.timed_out += 1
            await _close(writer)
        finally:
            self.active -= 1


async def _close(writer):
    try:
        await writer.aclose()
    except Exception:
        pass


def _error(status, why):
    return {"error": why}, status


def build(link, gate, page="web/page.html", sleep_ms=None):
    """The app for `link` (web/link.py) behind `gate` (web/pairing.py);
    page: the file served at / (on the board: web/page.html, next to
    this module); sleep_ms: how a slowed answer waits."""
    app = Server()
    wait = sleep_ms or _sleep_ms

    def history():
        from web import history as h
        return h

    def release():
        """Drop the history and the rules (some 30 KB of bytecode on an
        RP2040) once they have answered: the next ask loads them again."""
        from app import release_modules
        release_modules(("web.history", "pump.recovery"))

    def released(body):
        for piece in body:
            yield piece
        release()

    @app.before_request
    async def guard(request):
        if request.path == "/pair":
            return None
        verdict, delay = gate.check(request.cookies.get(COOKIE))
        if verdict == OK:
            if request.method == "POST" and not (request.headers.get("Content-Type") or "").startswith(
                    "application/json"):
                return _error(415, "send JSON (Content-Type: application/json)")
            return None
        if verdict == LOCKED:
            s = (delay + 999) // 1000
            return {"error": "too many wrong pairing secrets: locked for %d s" % s}, 429, {"Retry-After": str(s)}
        if delay:
            await wait(delay)
        return _error(401, "not paired: open the pairing link `make pair` prints on this phone")

    @app.get("/pair")
    async def pair(request):
        given = request.args.get("k")
        verdict, delay = gate.check(given)
        if verdict == LOCKED:
            s = (delay + 999) // 1000
            return "Too many wrong pairing secrets: try again in %d s." % s, 429, {"Retry-After": str(s)}
        if verdict != OK:
            if delay:
                await wait(delay)
            return "Wrong or missing pairing secret: open the link `make pair` prints.", 401
        res = Response.redirect("/")
        # HttpOnly: no script reads it; SameSite=Strict: no other site's
        # page sends it; ten years: paired until the secret changes.
        res.set_cookie(COOKIE, given, path="/", max_age=315360000, http_only=True)
        res.headers["Set-Cookie"][-1] += "; SameSite=Strict"
        return res

    @app.get("/")
    async def index(request):
        return Response.send_file(page, content_type="text/html; charset=utf-8", max_age=0)

    @app.get("/api/status")
    async def status(request):
        try:
            since = int(request.args.get("since", "-1"))
        except ValueError:
            return _error(400, "since must be a whole number")
        return link.status(since)

    @app.post("/api/control")
    async def control(request):
        body = request.json
        try:
            return {"queued": link.control(body.get("action") if isinstance(body, dict) else None)}, 202
        except Refused as e:
            return _error(e.status, e.why)

    @app.post("/api/clock")
    async def clock(request):
        body = request.json
        try:
            return {"now_s": link.set_clock(body.get("local") if isinstance(body, dict) else None)}
        except Refused as e:
            return _error(e.status, e.why)

    @app.post("/api/note")
    async def note(request):
        try:
            return {"noted": link.note(request.json)}, 202
        except Refused as e:
            return _error(e.status, e.why)

    @app.get("/api/history")
    async def sessions(request):
        if link.busy():
            return _error(409, "the history waits while the pump runs: it shows after the session")
        try:
            days = int(request.args.get("days", str(HISTORY_DAYS)))
        except ValueError:
            return _error(400, "days must be a whole number")
        if not 1 <= days <= 366:
            return _error(400, "days must be from 1 to 366")
        books = link.app.books
        if books.log is None:
            return {"sessions": [], "now_s": books.wall_now()}
        # A generator body: microdot writes it piece by piece (its stub says str).
        body = released(history().history_body(books.log, books.board_id, days, books.wall_now()))
        return Response(body, headers={"Content-Type": "application/json"})  # pyright: ignore[reportArgumentType]

    @app.get("/api/plan")
    async def plan(request):
        if link.busy():
            return _error(409, "the plan waits while the pump runs: it shows after the session")
        books = link.app.books
        if books.log is None:
            return _error(409, "this board keeps no session log: there is nothing to plan from")
        try:
            return await history().plan(books.log, books.board_id, books.schedule, books.wall_now(), _yield)
        except MemoryError:
            return _error(503, "the board is short of memory for the plan now: try again in a moment")
        finally:
            release()

    return app
