"""The virtual board's MicroPython side: this script runs INSIDE the unix
port of MicroPython (`micropython device.py CONFIG.json`), one process per
boot of the board (a soft reset is a fresh process, like a fresh VM).

What it builds, before any user code runs:

- the board's flash: a host folder mounted at "/" through `FlashFS` (a
  Python VFS, as mpremote's own `mount` uses), so open("/board.json"),
  open("board.json"), os.listdir("/lib") ... all land in that folder and
  no path climbs out of it ("/../x" is EACCES); sys.path is ['', '.frozen',
  '/lib'] like a board's; os.statvfs reports a littlefs of the board's size;
- `os` (tools/vboard/vm/os.py: uname, sync) and the fakes: `machine`
  (tools/fakes/machine.py) with its world reset for the board's port and
  `time` (tools/fakes/time.py) reading that world's clock, here a
  `RealClock`: real time with the boards' 2^30 tick wrap;
- the simulator's physical plant behind the fake machine, wired exactly as
  tools/sim/vm/engine.py does it (its `Link`, and `sensing.Signal` +
  `sensing.attach` for the board's sensor part with its real encoding);
- the board's buttons: pins that read pressed (active level) while a press
  sent by the host lasts.

Then it executes what the host (tools/vboard/server.py, which speaks the
REPL protocol to mpremote) asks for, in one `__main__`-like globals dict,
and reports back over a unix socket, one JSON object per line:

    H hello (version, board, buttons and their long-press and debounce times)
    S seq (user code started)
    D seq result err (done)             T status (plant, outputs, watchdog)
    B (machine.reset() asked for a hard reset)

User code's output goes to this process's stdout (the host forwards it).
Ctrl-C arrives as SIGINT, which the unix port turns into KeyboardInterrupt:
the host sends it only between S and D, and everything here outside user
code swallows a stray one.
"""
import io
import json
import select
import socket
import struct
import sys

import utime
import vfs

with open(sys.argv[1]) as _f:           # a file: this port fails on long arguments
    CFG = json.load(_f)
ME = __file__
POLL_MS = 50
TICKS_MASK = (1 << 30) - 1
EAGAIN = 11
S_IFDIR = 0x4000
S_IFREG = 0x8000
EACCES = 13
EISDIR = 21
ENOENT = 2
ENOSPC = 28


# -- the link to the host ------------------------------------------------------------

class Host:
    def __init__(self, path):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(struct.pack("H", socket.AF_UNIX) + path.encode() + b"\0")
        self.s = s
        self.poller = select.poll()
        self.poller.register(s, select.POLLIN)
        self.buf = b""
        self.queue = []            # exec requests: (seq, kind, payload)
        self.on_press = None

    def send(self, obj):
        """One JSON line. A KeyboardInterrupt during the send does not cut
        the line short: the send completes, then the interrupt is raised."""
        data = (json.dumps(obj) + "\n").encode()
        sent = [0]
        intr = None
        while True:
            try:
                while sent[0] < len(data):
                    sent[0] += self.s.send(data[sent[0]:])
                break
            except KeyboardInterrupt as e:
                intr = e
        if intr is not None:
            raise intr

    def pump(self, timeout_ms):
        """Read what the host sent (waiting at most timeout_ms); presses act
        at once, exec requests queue."""
        if not self.poller.poll(timeout_ms):
            return
        data = self.s.recv(4096)
        if not data:
            raise SystemExit          # the host is gone: so is the board
        self.buf += data
        while True:
            nl = self.buf.find(b"\n")
            if nl < 0:
                return
            head = self.buf[:nl].decode().split()
            if head and head[0] == "X":
                n = int(head[3])
                if len(self.buf) < nl + 1 + n:
                    while len(self.buf) < nl + 1 + n:   # the rest is on its way
                        more = self.s.recv(65536)
                        if not more:
                            raise SystemExit
                        self.buf += more
                self.queue.append((int(head[1]), head[2], self.buf[nl + 1:nl + 1 + n]))
                self.buf = self.buf[nl + 1 + n:]
                continue
            self.buf = self.buf[nl + 1:]
            if head and head[0] == "P" and self.on_press is not None:
                self.on_press(int(head[1]), int(head[2]))


HOST = Host(CFG["sock"])


# -- time ----------------------------------------------------------------------------------

_hook = [None]


def hook():
    f = _hook[0]
    if f is not None:
        f()


class RealClock:
    """FakeClock's interface on real time. The unix port's ticks are the
    host's CLOCK_MONOTONIC (as CPython's time.monotonic): `poweron_ms` is
    that clock at the board's power-on, so ticks and elapsed_ms run on
    across soft resets (fresh VMs) and restart at a hard reset, as on a
    board; ticks wrap at 2^30 like the boards'. advance(ms) jumps ahead."""

    def __init__(self, poweron_ms, start_ms=0):
        self.base = poweron_ms
        self.start = start_ms
        self.shift = 0
        self.slept_ms = 0
        self.stop_after_ms = None

    @property
    def elapsed_ms(self):
        return utime.ticks_diff(utime.ticks_ms(), self.base) + self.shift

    @property
    def now(self):
        return self.ticks_ms()

    def ticks_ms(self):
        return (self.start + self.elapsed_ms) & TICKS_MASK

    def ticks_us(self):
        us = utime.ticks_diff(utime.ticks_us(), self.base * 1000)
        return ((self.start + self.shift) * 1000 + us) & TICKS_MASK

    def ticks_add(self, ticks, delta):
        return (ticks + delta) & TICKS_MASK

    def ticks_diff(self, end, start):
        half = (TICKS_MASK + 1) >> 1
        return ((end - start + half) & TICKS_MASK) - half

    def advance(self, ms):
        self.shift += ms

    def sleep_ms(self, ms):
        hook()
        if ms <= 0:
            return
        self.slept_ms += ms
        end = utime.ticks_add(utime.ticks_ms(), ms)
        while True:
            left = utime.ticks_diff(end, utime.ticks_ms())
            if left <= 0:
                return
            utime.sleep_ms(left if left < POLL_MS else POLL_MS)
            hook()


# -- the flash -------------------------------------------------------------------------------

class FlashFS:
    """A host folder as the board's littlefs, mounted at "/". Paths are
    resolved against the board's cwd and normalised here; one that climbs
    above the root is refused, so nothing outside the folder is reached."""

    def __init__(self, root, blocks, block_size=4096):
        self.root = root.rstrip("/")
        self.posix = vfs.VfsPosix(root)
        self.plain = vfs.VfsPosix()
        self.cwd = "/"
        self.blocks = blocks
        self.block_size = block_size

    def path(self, p):
        if not isinstance(p, str):
            raise TypeError("path must be str")
        if "\0" in p:
            raise OSError(ENOENT)
        if not p.startswith("/"):
            p = self.cwd + "/" + p
        parts = []
        for c in p.split("/"):
            if c == "" or c == ".":
                continue
            if c == "..":
                if not parts:
                    raise OSError(EACCES)
                parts.pop()
            else:
                parts.append(c)
        return "/" + "/".join(parts)

    def __repr__(self):
        return "<VfsLfs2>"

    # The VFS protocol (extmod/vfs.c calls these).
    def mount(self, readonly, mkfs):
        pass

    def umount(self):
        pass

    def _mode(self, st):
        return S_IFDIR if st[0] & S_IFDIR else S_IFREG

    def stat(self, p):
        st = self.posix.stat(self.path(p))
        m = self._mode(st)
        return (m, 0, 0, 0, 0, 0, st[6] if m == S_IFREG else 0, st[8], st[8], st[8])

    def ilistdir(self, p):
        d = self.path(p)
        out = []
        for e in self.posix.ilistdir(d):
            name = e[0]
            if name in (".", ".."):
                continue
            full = (d if d != "/" else "") + "/" + name
            try:
                st = self.posix.stat(full)
            except OSError:
                continue
            m = self._mode(st)
            out.append((name, m, 0, st[6] if m == S_IFREG else 0))
        return iter(out)

    def open(self, p, mode):
        full = self.path(p)
        try:
            isdir = self.posix.stat(full)[0] & S_IFDIR
        except OSError:
            isdir = False
        if isdir:
            raise OSError(EISDIR)
        if ("w" in mode or "a" in mode or "x" in mode or "+" in mode) and self.free_blocks() <= 0:
            raise OSError(ENOSPC)
        return self.posix.open(full, mode)

    def mkdir(self, p):
        self.posix.mkdir(self.path(p))

    def rmdir(self, p):
        full = self.path(p)
        if full == "/":
            raise OSError(EACCES)
        self.posix.rmdir(full)

    def remove(self, p):
        full = self.path(p)
        if self.posix.stat(full)[0] & S_IFDIR:
            raise OSError(EISDIR)
        self.posix.remove(full)

    def rename(self, a, b):
        # rename(2) replaces the target atomically, as littlefs does. Through
        # a root-less VfsPosix: a rooted one builds both paths in one buffer.
        self.plain.rename(self.root + self.path(a), self.root + self.path(b))

    def chdir(self, p):
        full = self.path(p)
        if not self.posix.stat(full)[0] & S_IFDIR:
            raise OSError(ENOENT)
        self.cwd = full

    def getcwd(self):
        return self.cwd

    def used_blocks(self, d="/"):
        """littlefs-like accounting: a metadata pair per directory, files of
        up to 512 bytes inline in it, larger ones in whole blocks."""
        used = 2
        for e in self.posix.ilistdir(d):
            name = e[0]
            if name in (".", ".."):
                continue
            full = (d if d != "/" else "") + "/" + name
            try:
                st = self.posix.stat(full)
            except OSError:
                continue
            if st[0] & S_IFDIR:
                used += self.used_blocks(full)
            elif st[6] > 512:
                used += (st[6] + self.block_size - 1) // self.block_size
        return used

    def free_blocks(self):
        free = self.blocks - self.used_blocks()
        return free if free > 0 else 0

    def statvfs(self, p):
        free = self.free_blocks()
        return (self.block_size, self.block_size, self.blocks, free, free, 0, 0, 0, 0, 255)


# -- boot ----------------------------------------------------------------------------------------

import os  # noqa: E402  (tools/vboard/vm/os.py, on MICROPYPATH first)
import machine  # noqa: E402  (tools/fakes/machine.py)
import time  # noqa: E402,F401  (tools/fakes/time.py: loaded now, the firmware imports it later)
import real_asyncio  # noqa: E402,F401  (asyncio on the port's own clock: tools/fakes/real_asyncio.py)
import engine  # noqa: E402  (tools/sim/vm: Link, and through it plant, sensing, rng, devices)
from plant import Plant  # noqa: E402
from rng import Rng  # noqa: E402
from sensing import Signal, attach  # noqa: E402

FLASH = FlashFS(CFG["flash"], CFG["flash_blocks"])


def _read_board():
    """The flash's board.json when it is a readable JSON object with a
    known port, else the repository's board file the host passed."""
    try:
        f = FLASH.posix.open("/board.json", "r")
        try:
            raw = json.loads(f.read())
        finally:
            f.close()
        if isinstance(raw, dict) and raw.get("port") in ("rp2", "esp32"):
            return raw, "flash"
    except Exception:
        pass
    return CFG["board"], "repository"


BOARD, BOARD_FROM = _read_board()
PORT = BOARD.get("port", "rp2")
CLOCK = RealClock(CFG["poweron_ms"], CFG.get("ticks_start", 0))
WORLD = machine.reset_world(PORT, CLOCK)
WORLD.logging = False                      # the call log would grow without bound
WORLD.reset_cause_value = CFG.get("cause", machine.PWRON_RESET)
WORLD.epoch_s = CFG.get("epoch_s", 0)

PLANT = Plant()
LINK = engine.Link(PLANT, 64)
LINK.world = WORLD
LINK.motor_pin = None
LINK.valve_pin = None
try:
    LINK.motor_pin = BOARD["motor"]["pin"]
    LINK.valve_pin = BOARD["valve"]["pin"]
    LINK.valve_active = 1 if BOARD["valve"].get("active_high", True) else 0
except Exception:
    pass
LINK.t_ms = LINK.now_ms()                  # the plant starts now, at ambient
SIGNAL = Signal(LINK, Rng(CFG.get("seed", 1)), CFG.get("noise_pa", 40.0), 0)
try:
    attach(WORLD, BOARD, SIGNAL, PLANT.p["ambient_pa"])
    SENSOR_ERROR = None
except Exception as e:
    SENSOR_ERROR = repr(e)

# Buttons: pressed (the active level) while a press from the host lasts.
BUTTONS = {}
PRESSED = {}                               # pin -> release time (unix ticks_ms)
_b = BOARD.get("buttons") if isinstance(BOARD.get("buttons"), dict) else {}
_idle_level = 1 if _b.get("active_low", True) else 0
for _name in ("start_stop", "letdown", "level_up", "level_down", "pause"):
    _pin = _b.get(_name)
    if _pin is not None:
        BUTTONS[_name] = _pin


def _button_source(pin):
    def level():
        hook()
        r = PRESSED.get(pin)
        if r is not None:
            if utime.ticks_diff(r, utime.ticks_ms()) > 0:
                return 1 - _idle_level
            del PRESSED[pin]
        return _idle_level
    return level


for _name in BUTTONS:
    WORLD.attach_input(BUTTONS[_name], _button_source(BUTTONS[_name]))


def _press(pin, ms):
    PRESSED[pin] = utime.ticks_add(utime.ticks_ms(), ms)


HOST.on_press = _press


def status():
    LINK.advance()
    w = machine.world
    valve = w.levels.get(LINK.valve_pin) if LINK.valve_pin is not None else None
    return {"k": "T", "t": CLOCK.elapsed_ms, "ticks": CLOCK.ticks_ms(), "vac": PLANT.vacuum_pa,
            "duty": w.pwm_duty(LINK.motor_pin) if LINK.motor_pin is not None else 0, "valve": valve,
            "vent": valve is None or valve != LINK.valve_active, "wdt": w.wdt_timeout,
            "feeds": w.wdt_feeds, "epoch": w.epoch_s, "pressed": list(PRESSED.keys())}


_last_poll = [utime.ticks_ms()]
_hook_errors = [0]


def _poll():
    """From the fake machine (button reads, WDT feeds) and the clock's
    sleeps, at most every POLL_MS: take presses, report status."""
    now = utime.ticks_ms()
    if utime.ticks_diff(now, _last_poll[0]) < POLL_MS:
        return
    _last_poll[0] = now
    try:
        HOST.pump(0)
        HOST.send(status())
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:
        if _hook_errors[0] < 3:
            _hook_errors[0] += 1
            try:
                HOST.send({"k": "E", "msg": "poll: %r" % (e,)})
            except Exception:
                pass


# machine.reset(): the host restarts the board (nothing runs after it, as on
# a board); machine.soft_reset(): SystemExit, which the REPL turns into a
# soft reboot.
def _reset():
    HOST.send({"k": "B", "kind": "hard"})
    while True:
        try:
            utime.sleep_ms(1000)
        except BaseException:
            pass


def _soft_reset():
    raise SystemExit


# micropython.kbd_intr(-1) (mpremote's `mount` hook calls it) would put the
# unix port's SIGINT back to its default, so the next Ctrl-C would end the
# VM: code gets a `micropython` whose kbd_intr leaves Ctrl-C as it is.
import micropython as _micropython  # noqa: E402
try:
    _mp = type(sys)("micropython")
except Exception:
    class _Module:
        def __repr__(self):
            return "<module 'micropython'>"
    _mp = _Module()
for _k in dir(_micropython):
    if not _k.startswith("__"):
        setattr(_mp, _k, getattr(_micropython, _k))


def _kbd_intr(chr):
    pass


_mp.kbd_intr = _kbd_intr
sys.modules["micropython"] = _mp

# sys.platform names the board's port, as on a board ('linux' is the unix
# port's): code gets a `sys` with the same path, modules, stdout ... objects.
class _SysModule:
    def __repr__(self):
        return "<module 'sys'>"


_sys = _SysModule()
for _k in dir(sys):
    if not _k.startswith("__"):
        setattr(_sys, _k, getattr(sys, _k))
_sys.platform = PORT
sys.modules["sys"] = _sys

machine.reset = _reset
machine.soft_reset = _soft_reset
_orig_feed = machine.WDT.feed


def _feed(self):
    _orig_feed(self)
    hook()


machine.WDT.feed = _feed

_v = sys.implementation.version
RELEASE = "%d.%d.%d" % (_v[0], _v[1], _v[2]) + ("-" + _v[3] if len(_v) > 3 and _v[3] else "")
_date = sys.version.split(" on ")[-1] if " on " in sys.version else ""
VERSION = "v%s on %s" % (RELEASE, _date)
MACHINE = CFG["machine"]
try:
    from collections import namedtuple
    _U = namedtuple("uname_result", ("sysname", "nodename", "release", "version", "machine"))
    os._uname = _U(PORT, PORT, RELEASE, VERSION, MACHINE)
except Exception:
    os._uname = (PORT, PORT, RELEASE, VERSION, MACHINE)

# The flash becomes "/": nothing on the host is reachable from here on, so
# every host module the board needs is imported above.
vfs.umount("/")
vfs.mount(FLASH, "/")
os.chdir("/")
sys.path[:] = ["", ".frozen", "/lib"]
_hook[0] = _poll

# -- running code ----------------------------------------------------------------------------

G = {"__name__": "__main__"}


def _format(e):
    buf = io.StringIO()
    sys.print_exception(e, buf)
    skip = '  File "%s"' % ME
    return "\n".join(line for line in buf.getvalue().split("\n") if not line.startswith(skip))


def run(seq, kind, payload):
    """kind: 'file' (raw REPL, paste), 'single' (a friendly REPL line) or
    'script' (payload names a file on the flash: boot.py, main.py)."""
    result = "ok"
    exc = None
    if kind == "script":
        try:
            found = os.stat(payload.decode())[0] & S_IFREG
        except OSError:
            found = False
        if not found:                    # no S: nothing ran, nothing to interrupt
            HOST.send({"k": "D", "seq": seq, "r": "missing", "err": ""})
            return
    try:
        HOST.send({"k": "S", "seq": seq})
        if kind == "script":
            name = payload.decode()
            with open(name) as f:
                src = f.read()
            G["__file__"] = name
            code = compile(src, name, "exec")
            exec(code, G)
        else:
            src = str(payload, "utf8").replace("\r\n", "\n").replace("\r", "\n")
            if kind == "file":
                G["__file__"] = "<stdin>"
            code = compile(src, "<stdin>", "single" if kind == "single" else "exec")
            exec(code, G)
    except SystemExit:
        result = "exit"
    except BaseException as e:           # KeyboardInterrupt included
        result = "err"
        exc = e
    while True:                          # report, whatever else arrives meanwhile
        try:
            err = _format(exc) if exc is not None else ""
            msg = status()
            break
        except KeyboardInterrupt:
            pass
    try:
        HOST.send(msg)
    except KeyboardInterrupt:
        pass
    try:
        HOST.send({"k": "D", "seq": seq, "r": result, "err": err})
    except KeyboardInterrupt:
        pass


def main():
    HOST.send({"k": "H", "version": VERSION, "release": RELEASE, "machine": MACHINE, "port": PORT,
               "board": BOARD.get("name"), "board_from": BOARD_FROM, "buttons": BUTTONS,
               "long_press_ms": _b.get("long_press_ms"), "debounce_ms": _b.get("debounce_ms"),
               "sensor_error": SENSOR_ERROR})
    last = utime.ticks_ms()
    while True:
        try:
            if HOST.queue:
                seq, kind, payload = HOST.queue.pop(0)
                run(seq, kind, payload)
                continue
            HOST.pump(POLL_MS)
            now = utime.ticks_ms()
            if utime.ticks_diff(now, last) >= POLL_MS:
                last = now
                _last_poll[0] = now
                HOST.send(status())
        except KeyboardInterrupt:
            pass
        except SystemExit:
            return


main()
