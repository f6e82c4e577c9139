"""Drive a virtual board from host code (tests, scripts).

    from tools.vboard.control import VirtualBoard

    with VirtualBoard(board="sim", flash=tmp_path / "flash") as vb:
        subprocess.run(["mpremote", "connect", vb.url, "ls"])
        vb.press("start_stop", 200)
        vb.wait_for(lambda s: s["vacuum_mmhg"] > 50, timeout=5)
        print(vb.state())

The context manager starts `python -m tools.vboard` as a subprocess on a
free loopback port and stops it (and with it every MicroPython process it
started) on exit. `.url` is what mpremote connects to. Presses and state go
through the server's control socket (127.0.0.1, JSON lines), which forwards
presses to the VM; the VM reports the plant and the outputs at most every
50 ms while anything runs there (main.py's loop included).

state() keys: firmware_running (main.py is executing), state (REPL state:
boot, idle, busy, paste, rawpaste), mode (friendly/raw), vacuum_pa,
vacuum_mmhg (the plant's true vacuum), duty_u16 (motor PWM), valve_level
(the valve pin, None if never driven), valve_open (vented), reset_cause,
boots, wdt_ms, buttons, long_press_ms and debounce_ms (of the board file the
board runs: its flash's board.json, else the one it was started with),
vm_pid, vm_ready (the VM said hello: the board is up), status_age_s.

From a shell, `python -m tools.vboard press start` (tools/vboard/press.py)
presses a button of a board that `make board` runs.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class BoardError(Exception):
    pass


class VirtualBoard:
    def __init__(self, board="sim", flash=None, port=0, echo=False, ticks_start=0, start_timeout=20,
                 announce=None, console=False):
        self.board = board
        self._tmp = None
        if flash is None:
            self._tmp = tempfile.mkdtemp(prefix="vboard-flash-")
            flash = self._tmp
        self.flash = os.path.abspath(str(flash))
        self.want_port = port
        self.echo = echo
        self.console = console         # the console on the server's stdout (server_log()) while no client is on
        self.announce = announce       # a folder for vboard-PORT.json (what `press` finds), as make board
        self.ticks_start = ticks_start
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None
        self.control_port = None
        self._sock = None
        self._rfile = None
        self.vm_pids = set()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self):
        os.makedirs(self.flash, exist_ok=True)
        self._info = tempfile.mkdtemp(prefix="vboard-info-")
        info = os.path.join(self._info, "info.json")
        self._log = open(os.path.join(self._info, "server.log"), "w+")
        cmd = [sys.executable, "-m", "tools.vboard", "--board", self.board, "--flash", self.flash,
               "--port", str(self.want_port), "--info-file", info, "--ticks-start", str(self.ticks_start)]
        if self.echo:
            cmd.append("--echo")
        if self.console:
            cmd.append("--console")
        if self.announce is not None:
            cmd += ["--announce", os.path.abspath(str(self.announce))]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.start_timeout
        while not os.path.exists(info):
            if self.proc.poll() is not None:
                raise BoardError("the virtual board did not start:\n" + self.server_log())
            if time.monotonic() > deadline:
                self.stop()
                raise BoardError("the virtual board did not start in %ds" % self.start_timeout)
            time.sleep(0.02)
        with open(info) as f:
            data = json.load(f)
        self.port = data["port"]
        self.control_port = data["control_port"]
        self.server_pid = data["pid"]
        self.pty = data.get("pty")       # /dev/pts/N: for `mpremote connect PTY repl`
        self.pids()
        self._wait_powered(deadline)
        return self

    def _wait_powered(self, deadline):
        """Until the first VM has said hello: a board's USB serial port
        exists only once its runtime is up, so nothing talks to it before.
        Without this wait a client that connects at once must get its first
        byte within mpremote's 1 s while a loaded host is still starting the
        VM process (`could not enter raw repl`). A board that turns itself
        off (a VM that keeps exiting) also ends the wait."""
        while True:
            st = self.state()
            if st["vm_ready"] or st["state"] == "off":
                return
            if time.monotonic() > deadline:
                log = self.server_log()
                self.stop()
                raise BoardError("the virtual board's VM did not start in %ds:\n%s" % (self.start_timeout, log))
            time.sleep(0.02)

    @property
    def url(self):
        return "socket://127.0.0.1:%d" % self.port

    def stop(self, timeout=10):
        """SIGTERM to the server (it kills its VM), then wait; SIGKILL if it
        does not stop in time."""
        if self._sock is not None:
            try:
                self.pids()
            except (OSError, BoardError):
                pass
            self._close_control()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None
        if self._tmp is not None:                  # a throwaway flash
            import shutil
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def server_log(self):
        try:
            self._log.flush()
            with open(self._log.name) as f:
                return f.read()
        except (OSError, ValueError, AttributeError):
            return ""

    # -- the control channel -----------------------------------------------------------------------
    def _close_control(self):
        for f in (self._rfile, self._sock):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
        self._sock = self._rfile = None

    def request(self, req):
        for attempt in (0, 1):
            if self._sock is None:
                self._sock = socket.create_connection(("127.0.0.1", self.control_port), timeout=10)
                self._rfile = self._sock.makefile("rb")
            try:
                self._sock.sendall((json.dumps(req) + "\n").encode())
                line = self._rfile.readline()
                if line:
                    break
            except OSError:
                pass
            self._close_control()
            if attempt:
                raise BoardError("the virtual board does not answer")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise BoardError(reply.get("error", "request failed"))
        return reply

    def press(self, name, ms=200):
        """Hold the board's `name` button (start_stop, letdown, level_up,
        level_down, pause) for ms milliseconds, starting within ~50 ms."""
        return self.request({"cmd": "press", "button": name, "ms": int(ms)})["pin"]

    def state(self):
        return self.request({"cmd": "state"})["state"]

    def reset(self, kind="hard"):
        """kind: "power" (power cycle), "hard" (the reset button) or "soft"."""
        self.request({"cmd": "reset", "kind": kind})

    def pids(self):
        """{server, vm, spawned}; every VM pid seen is also kept in vm_pids."""
        r = self.request({"cmd": "pids"})
        self.vm_pids.update(r["spawned"])
        return r

    def wait_for(self, predicate, timeout=10.0, interval=0.05):
        """Poll state() until predicate(state) is true; returns that state
        (raises BoardError with the last state on timeout)."""
        deadline = time.monotonic() + timeout
        st = self.state()
        while not predicate(st):
            if time.monotonic() > deadline:
                raise BoardError("timed out after %.1fs; last state: %r" % (timeout, st))
            time.sleep(interval)
            st = self.state()
        return st
