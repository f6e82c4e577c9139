"""The virtual board's host side: a loopback socket that speaks the REPL
protocol of a MicroPython board to mpremote (or any terminal), backed by
the real MicroPython VM (the unix port) running tools/vboard/device.py.

One `Server` is one board. It owns:

- the console socket (127.0.0.1 only; one client at a time, like a serial
  port): the bytes a board's UART would carry;
- the REPL personality of shared/runtime/pyexec.c and readline.c, here on
  the host: friendly REPL (echo, line editing, history, auto-indent,
  continuation lines, paste mode Ctrl-E), raw REPL (Ctrl-A; code until
  Ctrl-D -> "OK", output, 0x04, error, 0x04, ">"), raw-paste mode
  (Ctrl-E 'A' Ctrl-A: "R\\x01", a 128-byte window and 0x01 flow control),
  Ctrl-B, Ctrl-C (SIGINT to the VM: KeyboardInterrupt there), Ctrl-D on an
  empty line (soft reset: "MPY: soft reboot", a fresh VM on the same flash;
  boot.py always, main.py in the friendly REPL only, as rp2's main.c);
- the VM process: code to run goes to it over a unix socket, its stdout
  comes back and is forwarded with "\\n" cooked to "\\r\\n" as a board's
  UART does; it reports start/end of each run, the plant and outputs;
- the board's hardware facts: reset cause (power-on, WDT after a watchdog
  timeout, machine.reset()), the RTC across soft resets, the watchdog
  (armed by machine.WDT, survives soft resets, fires when not fed);
- a control socket (127.0.0.1) for host tests: press a button, read the
  plant and outputs (tools/vboard/control.py is the client);
- optionally a copy of the console on its own stdout: always (`echo`) or
  while no client is on the socket and the raw REPL is off (`console`,
  what `make board` shows: the firmware's prints, not mpremote's traffic).
"""
import json
import os
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import tty

from tools import paths

HERE = os.path.dirname(os.path.abspath(__file__))
DEVICE = os.path.join(HERE, "device.py")
VM_LIB = os.path.join(HERE, "vm")

PWRON_RESET, HARD_RESET, WDT_RESET, SOFT_RESET = 1, 2, 3, 5   # tools/fakes/machine.py
PA_PER_MMHG = 133.322387
WINDOW = 128                 # raw-paste flow-control window (MICROPY_REPL_STDIN_BUFFER_MAX / 2)
SIGINT_GAP_S = 0.3           # at most one SIGINT in flight
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
PS1, PS2 = b">>> ", b"... "
HISTORY = 8

# The machine string a board reports (os.uname().machine, the banner).
MACHINES = {"pico": "Raspberry Pi Pico with RP2040", "pico_w": "Raspberry Pi Pico W with RP2040",
            "rp2": "Raspberry Pi Pico with RP2040", "esp32": "Generic ESP32 module with ESP32"}
# littlefs size in 4096-byte blocks: Pico 1.4 MB, Pico W 848 KB, ESP32 (4 MB flash) 2 MB.
FLASH_BLOCKS = {"pico_w": 212, "rp2": 352, "esp32": 512}


def micropython_binary():
    found = shutil.which("micropython", path=os.path.dirname(sys.executable)) or shutil.which("micropython")
    if not found:
        raise RuntimeError("the micropython unix port is not installed (make venv installs it)")
    return found


def native_arch():
    """The -march a build for this virtual board needs: the unix port's own
    arch (what `make flash` reads from the board; for a flash folder filled
    without mpremote)."""
    import subprocess
    from tools import deploy
    word = subprocess.run([micropython_binary(), "-c", "import sys; print(sys.implementation._mpy)"],
                          capture_output=True, text=True, check=True).stdout
    return deploy.native_arch(int(word))


def load_board_file(board):
    path = board if board.endswith(".json") else os.path.join(paths.BOARDS, board + ".json")
    with open(path) as f:
        return json.load(f)


def continue_with_input(text):
    """py/repl.c's mp_repl_continue_with_input."""
    if not text:
        return False

    def starts_word(head):
        return text.startswith(head) and (len(text) == len(head) or not (text[len(head)].isalnum()
                                                                      or text[len(head)] == "_"))
    compound = text[0] == "@" or any(starts_word(k) for k in
                                     ("if", "while", "for", "try", "with", "def", "class", "async"))
    paren = brack = brace = 0
    q = 0                     # 0 none, 1 ', 2 ", 3 ''', 4 """
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "'":
            if q in (0, 3) and text[i + 1:i + 3] == "''":
                i += 2
                q = 3 - q
            elif q in (0, 1):
                q = 1 - q
        elif c == '"':
            if q in (0, 4) and text[i + 1:i + 3] == '""':
                i += 2
                q = 4 - q
            elif q in (0, 2):
                q = 2 - q
        elif c == "\\" and text[i + 1:i + 2] in ("'", '"', "\\"):
            if q:
                i += 1
        elif q == 0:
            if c == "(":
                paren += 1
            elif c == ")":
                paren -= 1
            elif c == "[":
                brack += 1
            elif c == "]":
                brack -= 1
            elif c == "{":
                brace += 1
            elif c == "}":
                brace -= 1
        i += 1
    if q in (3, 4):
        return True
    if (paren > 0 or brack > 0 or brace > 0) and q == 0:
        return True
    if text.endswith("\\"):
        return True
    return compound and not text.endswith("\n")


class Readline:
    """shared/readline/readline.c: the friendly REPL's line editor. The
    buffer holds the statement so far (continuation lines joined by '\\n');
    `orig` is where the current line starts."""

    def __init__(self, out):
        self.out = out
        self.hist = []
        self.init(PS1)

    def init(self, prompt, keep=b""):
        self.buf = bytearray(keep)
        self.orig = len(self.buf)
        self.cursor = self.orig
        self.esc = 0              # 0 none, 1 ESC, 2 ESC [, 3 ESC [ digit, 4 ESC O
        self.esc_digit = b""
        self.hist_cur = -1
        self.just_indented = False
        self.auto_indent = not keep
        self.out(prompt)
        self._auto_indent()

    def note_newline(self, prompt):
        self.orig = len(self.buf)
        self.cursor = self.orig
        self.out(prompt)
        self._auto_indent()

    def _auto_indent(self):
        if not self.auto_indent:
            return
        line = self.buf
        if len(line) > 1 and line[-1:] == b"\n":
            i = len(line) - 1
            while i > 0 and line[i - 1:i] != b"\n":
                i -= 1
            j = i
            while j < len(line) and line[j:j + 1] == b" ":
                j += 1
            if i > 0 and j + 1 == len(line):
                k = i - 1
                while k > 0:
                    if line[k - 1:k] == b"\n":
                        return            # the last two lines are all spaces
                    if line[k - 1:k] != b" ":
                        break
                    k -= 1
            n = (j - i) // 4 + (1 if line[-2:-1] == b":" else 0)
            for _ in range(n):
                self.buf += b"    "
                self.out(b"    ")
                self.cursor += 4
                self.just_indented = True

    def line(self):
        return bytes(self.buf[self.orig:])

    def _redraw(self, back=0, from_cursor=False, forward=0, old_len=None):
        if back > 0:
            self.out(b"\b" * back if back <= 4 else b"\x1b[%dD" % back)
            self.cursor -= back
        if from_cursor:
            if old_len is not None and len(self.buf) < old_len:
                self.out(b"\x1b[K")
            self.out(bytes(self.buf[self.cursor:]))
            n = len(self.buf) - (self.cursor + forward)
            if n > 0:
                self.out(b"\b" * n if n <= 4 else b"\x1b[%dD" % n)
            self.cursor += forward
        elif forward > 0:
            self.out(bytes(self.buf[self.cursor:self.cursor + forward]))
            self.cursor += forward

    def _set_line(self, text):
        old = len(self.buf)
        back = self.cursor - self.orig
        del self.buf[self.orig:]
        self.buf += text
        self._redraw(back=back, from_cursor=True, forward=len(self.buf) - self.orig, old_len=old)

    def process(self, c):
        """One byte. Returns a control code (1..5), 0 at Enter, or -1."""
        old = len(self.buf)
        just = self.just_indented
        self.just_indented = False
        if self.esc == 0:
            empty = len(self.buf) == self.orig
            if 1 <= c <= 5 and empty:
                return c
            if c == 1:
                self._redraw(back=self.cursor - self.orig)
            elif c == 3:
                return c
            elif c == 5:
                self._redraw(forward=len(self.buf) - self.cursor)
            elif c == 2:
                if self.cursor > self.orig:
                    self._redraw(back=1)
            elif c == 4:
                if self.cursor < len(self.buf):
                    del self.buf[self.cursor]
                    self._redraw(from_cursor=True, old_len=old)
            elif c == 13:
                self.out(b"\r\n")
                ln = self.line()
                if ln and (not self.hist or self.hist[0] != ln):
                    self.hist.insert(0, ln)
                    del self.hist[HISTORY:]
                return 0
            elif c == 27:
                self.esc = 1
            elif c in (8, 127):
                if self.cursor > self.orig:
                    seg = self.buf[self.orig:self.cursor]
                    nspace = 4 if len(seg) >= 4 and seg.strip(b" ") == b"" else 1
                    del self.buf[self.cursor - nspace:self.cursor]
                    self._redraw(back=nspace, from_cursor=True, old_len=old)
            elif just and c in (9, 32):
                if c == 32:                     # a space after auto-indent: take 3 of the 4 back
                    del self.buf[-3:]
                    self._redraw(back=3)
            elif c == 9:
                if len(self.buf) and self.cursor > 0 and self.buf[self.cursor - 1:self.cursor] in (b" ", b"\n", b"\t"):
                    self.buf[self.cursor:self.cursor] = b"    "
                    self._redraw(from_cursor=True, forward=4)
            elif 32 <= c <= 126 or c >= 128:
                self.buf[self.cursor:self.cursor] = bytes([c])
                self._redraw(from_cursor=True, forward=1)
        elif self.esc == 1:
            self.esc = 2 if c == ord("[") else (4 if c == ord("O") else 0)
        elif self.esc == 2:
            if 48 <= c <= 57:
                self.esc = 3
                self.esc_digit = bytes([c])
            else:
                self.esc = 0
                if c == ord("A"):
                    if self.hist_cur + 1 < len(self.hist):
                        self.hist_cur += 1
                        self._set_line(self.hist[self.hist_cur])
                elif c == ord("B"):
                    if self.hist_cur >= 0:
                        self.hist_cur -= 1
                        self._set_line(self.hist[self.hist_cur] if self.hist_cur >= 0 else b"")
                elif c == ord("C"):
                    if self.cursor < len(self.buf):
                        self._redraw(forward=1)
                elif c == ord("D"):
                    if self.cursor > self.orig:
                        self._redraw(back=1)
                elif c == ord("H"):
                    self._redraw(back=self.cursor - self.orig)
                elif c == ord("F"):
                    self._redraw(forward=len(self.buf) - self.cursor)
        elif self.esc == 3:
            self.esc = 0
            if c == ord("~"):
                d = self.esc_digit
                if d in (b"1", b"7"):
                    self._redraw(back=self.cursor - self.orig)
                elif d in (b"4", b"8"):
                    self._redraw(forward=len(self.buf) - self.cursor)
                elif d == b"3" and self.cursor < len(self.buf):
                    del self.buf[self.cursor]
                    self._redraw(from_cursor=True, old_len=old)
        elif self.esc == 4:
            self.esc = 0
            if c == ord("H"):
                self._redraw(back=self.cursor - self.orig)
            elif c == ord("F"):
                self._redraw(forward=len(self.buf) - self.cursor)
        return -1


class VM:
    """One MicroPython process: one boot of the board."""

    def __init__(self, proc, ident):
        self.proc = proc
        self.ident = ident
        self.conn = None
        self.rbuf = b""
        self.hello = None
        self.current = None       # [seq, started, on_done]
        self.last_sigint = (0, 0.0)      # (seq, monotonic s)
        self.out_fd = proc.stdout.fileno()
        self.status = None
        self.status_at = 0.0


class Server:
    def __init__(self, board="sim", flash="out/flash", port=0, ticks_start=0, seed=1, echo=False,
                 log=None, flash_blocks=None, machine_name=None, console=False):
        self.board_name = board
        self.board_file = load_board_file(board)
        self.flash = os.path.abspath(flash)
        os.makedirs(self.flash, exist_ok=True)
        self.want_port = port
        self.ticks_start = ticks_start
        self.seed = seed
        self.echo = echo               # every console byte to stdout as well
        self.console = console         # a copy to stdout while no client is on the socket and the
                                       # raw REPL (tools' protocol, e.g. mpremote on the pty) is off
        self.stdout_last = b"\n"
        self.log_stream = log if log is not None else sys.stderr
        self.flash_blocks = flash_blocks
        self.machine_name = machine_name
        self.sel = selectors.DefaultSelector()
        self.stopping = False
        self.client = None
        self.vm = None
        self.vm_count = 0
        self.spawned = []          # every VM pid (tests check none is left)
        self.seq = 0
        self.mode = "friendly"     # pyexec_mode_kind
        self.state = "off"         # off, boot, idle, paste, rawpaste, busy
        self.pending = bytearray()
        self.rl = Readline(self._noop)
        self.raw = bytearray()
        self.paste = bytearray()
        self.rawpaste_count = 0
        self.interrupt_pending = False
        self.boot_chain = []
        self.boot_interrupted = False
        self.script = None
        self.crashes = []
        self.cause = PWRON_RESET
        self.epoch_s = 0
        self.poweron_ms = 0
        self.wdt = None            # {"timeout": ms, "last": monotonic s, "feeds": n, "vm": ident}
        self.boots = 0
        self.last_cr = False
        self.out_last = b""
        self.pty_master = self.pty_slave = self.pty_name = None
        self.tmp = tempfile.mkdtemp(prefix="vboard-")
        self.sock_path = os.path.join(self.tmp, "vm.sock")

    # -- logging / output --------------------------------------------------------------------
    def log(self, msg):
        try:
            self.log_stream.write("vboard: %s\n" % msg)
            self.log_stream.flush()
        except (OSError, ValueError):
            pass

    def _noop(self, data):
        pass

    def out(self, data):
        """Bytes to the console (already cooked)."""
        if not data:
            return
        if self.pty_master is not None:
            # What the pty does not take now is dropped, as a UART with nobody
            # listening drops it (stale output would confuse mpremote later).
            try:
                os.write(self.pty_master, data)
            except OSError:
                pass
        if self.echo or (self.console and self.client is None and self.mode != "raw"):
            self._stdout(data)
        if self.client is not None:
            try:
                self.client.sendall(data)
            except OSError:
                self._drop_client()

    def _stdout(self, data):
        """A copy of console bytes on the server's own stdout (the terminal
        of `make board`); what goes to the client is not touched."""
        try:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            self.stdout_last = data[-1:]
        except (OSError, ValueError):
            pass

    def _console_note(self, text):
        """One line on stdout between console copies (console mode only)."""
        if self.console and not self.echo:
            self._stdout((b"" if self.stdout_last in (b"\n", b"") else b"\r\n")
                         + b"[vboard: " + text.encode() + b"]\r\n")

    def out_cooked(self, data):
        """VM output: '\\n' becomes '\\r\\n' as a board's stdout does."""
        if not data:
            return
        res = bytearray()
        prev = self.out_last
        for b in data:
            if b == 10 and prev != b"\r":
                res += b"\r"
            res.append(b)
            prev = bytes([b])
        self.out_last = prev
        self.out(bytes(res))

    def text(self, s):
        self.out_cooked(s.encode("utf-8", "replace"))

    # -- the pty: a serial-port-like device for `mpremote connect /dev/pts/N repl` -------------
    def _open_pty(self):
        """mpremote's `repl` selects on the port's fd, which pyserial's
        socket:// ports lack; a pty is a serial port to it (as QEMU's are)."""
        try:
            master, slave = os.openpty()
            tty.setraw(slave)                  # no echo, no CR/LF translation, before anyone opens it
        except OSError as e:
            self.log("no pty (%s): `mpremote repl` needs one" % e)
            return
        os.set_blocking(master, False)
        self.pty_master, self.pty_slave = master, slave
        self.pty_name = os.ttyname(slave)
        self.sel.register(master, selectors.EVENT_READ, ("pty", None))

    def _on_pty(self, fd, _):
        try:
            data = os.read(self.pty_master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return
        if data:
            self.feed(data)

    # -- sockets -----------------------------------------------------------------------------------
    def start(self):
        self.listener = socket.create_server(("127.0.0.1", self.want_port))
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.control = socket.create_server(("127.0.0.1", 0))
        self.control.setblocking(False)
        self.control_port = self.control.getsockname()[1]
        self.vm_listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.vm_listener.bind(self.sock_path)
        self.vm_listener.listen(4)
        self.vm_listener.setblocking(False)
        self.sel.register(self.listener, selectors.EVENT_READ, ("accept", None))
        self.sel.register(self.control, selectors.EVENT_READ, ("control_accept", None))
        self.sel.register(self.vm_listener, selectors.EVENT_READ, ("vm_accept", None))
        self._open_pty()
        self.power_on()

    def serve_forever(self):
        try:
            while not self.stopping:
                for key, _ in self.sel.select(0.05):
                    kind, obj = key.data
                    getattr(self, "_on_" + kind)(key.fileobj, obj)
                    if self.stopping:
                        break
                self._tick()
        finally:
            self.close()

    def stop(self, *_):
        self.stopping = True

    def close(self):
        self._kill_vm()
        for s in (getattr(self, "listener", None), getattr(self, "control", None),
                  getattr(self, "vm_listener", None), self.client):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        for key in list(self.sel.get_map().values()):
            try:
                key.fileobj.close()
            except (OSError, AttributeError):
                pass
        for fd in (self.pty_master, self.pty_slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.sel.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _on_accept(self, sock, _):
        try:
            conn, _addr = sock.accept()
        except OSError:
            return
        if self.client is not None:        # one at a time, like a serial port
            conn.close()
            return
        conn.setblocking(True)
        conn.settimeout(10)
        # A board's UART sends each byte as it comes. With Nagle's algorithm a
        # reply in several small sends (raw REPL: "OK", output, 0x04, ">")
        # waits for the client's delayed ACK: 40 ms of every round trip.
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client = conn
        self.sel.register(conn, selectors.EVENT_READ, ("client", None))
        self._console_note("a client (mpremote) is connected: the console goes to it, not here")

    def _drop_client(self):
        if self.client is None:
            return
        try:
            self.sel.unregister(self.client)
        except (KeyError, ValueError):
            pass
        try:
            self.client.close()
        except OSError:
            pass
        self.client = None
        self._console_note("the client left: the board's console shows here again")

    def _on_client(self, sock, _):
        try:
            data = sock.recv(4096)
        except OSError:
            data = b""
        if not data:
            self._drop_client()
            return
        self.feed(data)

    # -- the VM ------------------------------------------------------------------------------------
    def _machine(self):
        if self.machine_name:
            return self.machine_name
        port = self.board_file.get("port", "rp2")
        return MACHINES.get(self.board_name) or MACHINES.get(port, MACHINES["rp2"])

    def _blocks(self):
        if self.flash_blocks:
            return self.flash_blocks
        return FLASH_BLOCKS.get(self.board_name) or FLASH_BLOCKS.get(self.board_file.get("port"), 352)

    def _spawn(self):
        self.vm_count += 1
        cfg = {"sock": self.sock_path, "flash": self.flash, "board": self.board_file,
               "machine": self._machine(), "flash_blocks": self._blocks(), "cause": self.cause,
               "epoch_s": self.epoch_s, "poweron_ms": self.poweron_ms, "ticks_start": self.ticks_start,
               "seed": self.seed, "noise_pa": 0.3 * PA_PER_MMHG}
        env = dict(os.environ)
        env["MICROPYPATH"] = ":".join([VM_LIB, paths.FAKES, paths.SIM_VM, ".frozen"])
        cfg_path = os.path.join(self.tmp, "vm%d.json" % self.vm_count)
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)
        proc = subprocess.Popen([micropython_binary(), "-X", "heapsize=8m", DEVICE, cfg_path],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                cwd=self.flash, env=env, start_new_session=True, preexec_fn=_die_with_parent)
        os.set_blocking(proc.stdout.fileno(), False)
        vm = VM(proc, self.vm_count)
        self.spawned.append(proc.pid)
        self.sel.register(proc.stdout, selectors.EVENT_READ, ("vm_out", vm))
        self.vm = vm

    def _kill_vm(self):
        vm = self.vm
        self.vm = None
        if vm is None:
            return
        for f in (vm.conn, vm.proc.stdout):
            if f is None:
                continue
            try:
                self.sel.unregister(f)
            except (KeyError, ValueError):
                pass
        try:
            vm.proc.kill()
        except OSError:
            pass
        try:
            vm.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        for f in (vm.conn, vm.proc.stdout):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass

    def _on_vm_accept(self, sock, _):
        try:
            conn, _addr = sock.accept()
        except OSError:
            return
        vm = self.vm
        try:
            pid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                      struct.calcsize("3i")))[0]
        except (OSError, AttributeError):
            pid = vm.proc.pid if vm is not None else -1
        if vm is None or vm.conn is not None or pid != vm.proc.pid:
            conn.close()                      # a VM killed before it connected
            return
        conn.setblocking(True)
        vm.conn = conn
        self.sel.register(conn, selectors.EVENT_READ, ("vm_msg", vm))

    def _on_vm_out(self, f, vm):
        if vm is not self.vm:
            return
        try:
            data = os.read(vm.out_fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.out_cooked(data)
        else:
            self._vm_died(vm)

    def _drain_vm_out(self, vm):
        while True:
            try:
                data = os.read(vm.out_fd, 65536)
            except (BlockingIOError, OSError):
                return
            if not data:
                return
            self.out_cooked(data)

    def _on_vm_msg(self, conn, vm):
        if vm is not self.vm:
            return
        try:
            data = conn.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._vm_died(vm)
            return
        vm.rbuf += data
        while vm is self.vm:
            nl = vm.rbuf.find(b"\n")
            if nl < 0:
                break
            line = vm.rbuf[:nl]
            vm.rbuf = vm.rbuf[nl + 1:]
            try:
                msg = json.loads(line)
            except ValueError:
                self.log("bad message from the VM: %r" % line[:200])
                continue
            self._vm_event(vm, msg)

    def _vm_died(self, vm):
        if vm is not self.vm:
            return
        self._drain_vm_out(vm)
        code = vm.proc.poll()
        if code is None:
            try:
                code = vm.proc.wait(2)
            except subprocess.TimeoutExpired:
                code = "?"
        if vm.hello is None:                # it never came up: no reboot loop
            self.log("the MicroPython VM (pid %d) failed to start (%s); the board is off until a reset"
                     % (vm.proc.pid, code))
            self.text("\n[virtual board: the MicroPython VM failed to start (%s)]\n" % code)
            self._kill_vm()
            self.state = "off"
            return
        now = time.monotonic()
        self.crashes = [t for t in self.crashes if now - t < 10] + [now]
        if len(self.crashes) > 5:                  # a boot loop: stop, say so
            self.log("the MicroPython VM keeps exiting (%s); the board is off until a reset" % code)
            self.text("\n[virtual board: the MicroPython VM keeps exiting (%s); off]\n" % code)
            self._kill_vm()
            self.state = "off"
            return
        self.log("the MicroPython VM (pid %d) exited (%s): restarting the board" % (vm.proc.pid, code))
        self.text("\n[virtual board: the MicroPython VM exited (%s); rebooting]\n" % code)
        self.hard_reset(HARD_RESET)

    def _vm_event(self, vm, msg):
        k = msg.get("k")
        if k == "T":
            vm.status = msg
            vm.status_at = time.monotonic()
            self.epoch_s = msg.get("epoch", self.epoch_s)
            self._watch_wdt(vm, msg)
        elif k == "H":
            vm.hello = msg
            if msg.get("sensor_error"):
                self.log("sensor not wired: %s" % msg["sensor_error"])
            self._next_boot_step()
        elif k == "S":
            cur = vm.current
            if cur is not None and cur[0] == msg.get("seq"):
                cur[1] = True
                if self.interrupt_pending or (self.boot_interrupted and self.state == "boot"):
                    self.interrupt_pending = False
                    self._sigint(vm)
        elif k == "D":
            cur = vm.current
            if cur is None or cur[0] != msg.get("seq"):
                return
            vm.current = None
            self.interrupt_pending = False
            self._drain_vm_out(vm)
            cur[2](msg.get("r", "ok"), msg.get("err", ""))
            self.process()
        elif k == "B":
            self._drain_vm_out(vm)
            port = self.board_file.get("port", "rp2")
            if vm.hello:
                port = vm.hello.get("port", port)
            # rp2 reports a deliberate reset as WDT_RESET (docs/design.md); esp32 as SOFT_RESET.
            self.hard_reset(WDT_RESET if port == "rp2" else SOFT_RESET)
        elif k == "E":
            self.log("VM: %s" % msg.get("msg"))

    def _run(self, kind, payload, on_done):
        vm = self.vm
        self.seq += 1
        vm.current = [self.seq, False, on_done]
        head = b"X %d %s %d\n" % (self.seq, kind.encode(), len(payload))
        try:
            vm.conn.sendall(head + payload)
        except OSError:
            self._vm_died(vm)

    def _sigint(self, vm):
        """SIGINT to the VM: KeyboardInterrupt in the running code. Never two
        within SIGINT_GAP_S for one run (a second signal before the VM took
        the first would end the unix port)."""
        now = time.monotonic()
        seq = vm.current[0] if vm.current is not None else 0
        if vm.last_sigint[0] == seq and now - vm.last_sigint[1] < SIGINT_GAP_S:
            return
        vm.last_sigint = (seq, now)
        try:
            os.kill(vm.proc.pid, signal.SIGINT)
        except OSError:
            pass

    # -- resets --------------------------------------------------------------------------------------
    def power_on(self):
        self.log("power on")
        self.hard_reset(PWRON_RESET)

    def hard_reset(self, cause):
        """The chip restarts: a fresh VM in the friendly REPL, ticks from 0,
        RTC unset, watchdog off, input lost; boot.py and main.py run."""
        self._kill_vm()
        self.cause = cause
        self.poweron_ms = int(time.monotonic() * 1000)
        self.epoch_s = 0
        self.wdt = None
        self.mode = "friendly"
        self.pending = bytearray()
        self.interrupt_pending = False
        self._boot()

    def soft_reset(self):
        self.text("MPY: soft reboot\n")
        self._kill_vm()
        self.interrupt_pending = False
        self._boot()

    def _boot(self):
        self.boots += 1
        self.state = "boot"
        self.boot_interrupted = False
        self.boot_chain = ["boot.py"] + (["main.py"] if self.mode == "friendly" else [])
        self.raw = bytearray()
        self._spawn()

    def _next_boot_step(self):
        if not self.boot_chain:
            self.boot_interrupted = False
            self._prompt_after_boot()
            return
        name = self.boot_chain.pop(0)
        self.script = name

        def done(result, err):
            self.script = None
            if result == "exit":
                self.soft_reset()
                return
            if err:
                self.text(err)
            self._next_boot_step()
        self._run("script", name.encode(), done)

    def _prompt_after_boot(self):
        if self.mode == "raw":
            self.out(RAW_BANNER + b">")
            self.state = "idle"
        else:
            self._friendly_banner()
        self.process()

    def _friendly_banner(self):
        h = self.vm.hello if self.vm is not None and self.vm.hello else {}
        self.out(("MicroPython %s; %s\r\nType \"help()\" for more information.\r\n"
                  % (h.get("version", "v1.29.0"), h.get("machine", self._machine()))).encode())
        self.state = "idle"
        self.rl.out = self.out
        self.rl.init(PS1)

    # -- console input ----------------------------------------------------------------------------------
    def feed(self, data):
        for b in data:
            if self.state in ("busy", "boot") and b == 3:
                self.interrupt()
            else:
                self.pending.append(b)
        self.process()

    def interrupt(self):
        """Ctrl-C while code runs: KeyboardInterrupt in the VM. One that
        arrives while the board boots interrupts boot.py/main.py as they
        start (a board would lose it; mpremote relies on it)."""
        vm = self.vm
        if self.state == "boot":
            self.boot_interrupted = True
        if vm is not None and vm.current is not None and vm.current[1]:
            self._sigint(vm)
        else:
            self.interrupt_pending = True

    def process(self):
        while self.pending and self.state not in ("busy", "boot", "off"):
            b = self.pending.pop(0)
            if self.mode == "raw":
                if self.state == "rawpaste":
                    self._rawpaste_byte(b)
                else:
                    self._raw_byte(b)
            elif self.state == "paste":
                self._paste_byte(b)
            else:
                self._friendly_byte(b)

    # raw REPL
    def _raw_byte(self, b):
        if b == 1:
            if len(self.raw) == 2 and self.raw[0] == 5:
                cmd = self.raw[1]
                self.raw = bytearray()
                if cmd == ord("A"):
                    self.out(b"R\x01" + bytes([WINDOW & 0xFF, WINDOW >> 8]) + b"\x01")
                    self.state = "rawpaste"
                    self.paste = bytearray()
                    self.rawpaste_count = 0
                else:
                    self.out(b"R\x00>")
                return
            self.raw = bytearray()
            self.out(RAW_BANNER + b">")
        elif b == 2:
            self.raw = bytearray()
            self.mode = "friendly"
            self.out(b"\r\n")
            self._friendly_banner()
        elif b == 3:
            self.raw = bytearray()
        elif b == 4:
            self.out(b"OK")
            code = bytes(self.raw)
            self.raw = bytearray()
            if not code:
                self.out(b"\r\n")
                self.soft_reset()
                return
            self._exec_raw(code)
        else:
            self.raw.append(b)

    def _rawpaste_byte(self, b):
        if b in (3, 4):
            self.out(b"\x04")                     # end of data, acknowledged
            code = bytes(self.paste)
            self.paste = bytearray()
            if b == 3:
                self.out(b"\x04" + b"KeyboardInterrupt: \r\n" + b"\x04>")
                self.state = "idle"
                return
            self._exec_raw(code)
            return
        self.paste.append(b)
        self.rawpaste_count += 1
        if self.rawpaste_count % WINDOW == 0:
            self.out(b"\x01")                     # another window is free

    def _exec_raw(self, code):
        self.state = "busy"

        def done(result, err):
            self.out(b"\x04")
            if err:
                self.text(err)
            self.out(b"\x04")
            if result == "exit":
                self.soft_reset()
                return
            self.out(b">")
            self.state = "idle"
        self._run("file", code, done)

    # friendly REPL
    def _friendly_byte(self, b):
        if b == 10 and self.last_cr:               # CR LF from a terminal: one Enter
            self.last_cr = False
            return
        self.last_cr = b == 13
        if b == 10:
            b = 13
        cont = self.rl.orig > 0
        r = self.rl.process(b)
        if r < 0:
            return
        if not cont:
            if r == 1:
                self.mode = "raw"
                self.out(b"\r\n" + RAW_BANNER + b">")
                self.raw = bytearray()
                return
            if r == 2:
                self.out(b"\r\n")
                self._friendly_banner()
                return
            if r == 3:
                self.out(b"\r\n")
                self.rl.init(PS1)
                return
            if r == 4:
                self.out(b"\r\n")
                self.soft_reset()
                return
            if r == 5:
                self.out(b"\r\npaste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== ")
                self.paste = bytearray()
                self.state = "paste"
                return
            text = bytes(self.rl.buf)
            if not text:
                self.rl.init(PS1)
                return
            if continue_with_input(text.decode("utf-8", "replace")):
                self.rl.buf += b"\n"
                self.rl.note_newline(PS2)
                return
            self._exec_friendly(text, "single")
            return
        if r == 3:
            self.out(b"\r\n")
            self.rl.init(PS1)
            return
        if r == 4:
            self._exec_friendly(bytes(self.rl.buf), "single")
            return
        if r != 0:
            return
        if continue_with_input(bytes(self.rl.buf).decode("utf-8", "replace")):
            self.rl.buf += b"\n"
            self.rl.note_newline(PS2)
            return
        self._exec_friendly(bytes(self.rl.buf), "single")

    def _paste_byte(self, b):
        if b == 3:
            self.out(b"\r\n")
            self.state = "idle"
            self.rl.init(PS1)
        elif b == 4:
            self.out(b"\r\n")
            self._exec_friendly(bytes(self.paste), "file")
        else:
            self.paste.append(b)
            self.out(b"\r\n=== " if b == 13 else bytes([b]))

    def _exec_friendly(self, code, kind):
        self.state = "busy"

        def done(result, err):
            if err:
                self.text(err)
            if result == "exit":
                self.soft_reset()
                return
            self.state = "idle"
            self.rl.init(PS1)
        self._run(kind, code, done)

    # -- the watchdog and periodic work -------------------------------------------------------------
    def _watch_wdt(self, vm, msg):
        timeout = msg.get("wdt")
        if timeout is None:
            return                                  # this VM armed none (an older one may have)
        feeds = msg.get("feeds", 0)
        w = self.wdt
        if w is None or w["vm"] != vm.ident or w["feeds"] != feeds or w["timeout"] != timeout:
            self.wdt = {"timeout": timeout, "last": time.monotonic(), "feeds": feeds, "vm": vm.ident}

    def _tick(self):
        w = self.wdt
        if w is not None and time.monotonic() - w["last"] > w["timeout"] / 1000.0 + 0.1:
            self.log("watchdog timeout (%d ms without a feed): reset" % w["timeout"])
            self.hard_reset(WDT_RESET)
            return
        vm = self.vm
        if vm is not None and vm.proc.poll() is not None and vm.conn is None:
            self._vm_died(vm)

    # -- the control channel -------------------------------------------------------------------------
    def _on_control_accept(self, sock, _):
        try:
            conn, _addr = sock.accept()
        except OSError:
            return
        conn.setblocking(True)
        conn.settimeout(5)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sel.register(conn, selectors.EVENT_READ, ("control", [b""]))

    def _on_control(self, conn, buf):
        try:
            data = conn.recv(65536)
        except OSError:
            data = b""
        if not data:
            try:
                self.sel.unregister(conn)
            except (KeyError, ValueError):
                pass
            conn.close()
            return
        buf[0] += data
        while b"\n" in buf[0]:
            line, buf[0] = buf[0].split(b"\n", 1)
            try:
                req = json.loads(line)
                reply = self.control_request(req)
            except Exception as e:       # a bad request must not stop the board
                reply = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
            try:
                conn.sendall((json.dumps(reply) + "\n").encode())
            except OSError:
                pass

    def control_request(self, req):
        cmd = req.get("cmd")
        if cmd == "state":
            return {"ok": True, "state": self.snapshot()}
        if cmd == "press":
            vm = self.vm
            if vm is None or vm.hello is None or vm.conn is None:
                return {"ok": False, "error": "the board is not running"}
            buttons = vm.hello.get("buttons", {})
            name = req.get("button")
            if name not in buttons:
                return {"ok": False, "error": "no button %r on this board (%s)" % (name, ", ".join(sorted(buttons)))}
            ms = int(req.get("ms", 200))
            vm.conn.sendall(b"P %d %d\n" % (buttons[name], ms))
            return {"ok": True, "pin": buttons[name]}
        if cmd == "pids":
            return {"ok": True, "server": os.getpid(), "vm": self.vm.proc.pid if self.vm else None,
                    "spawned": list(self.spawned)}
        if cmd == "reset":
            kind = req.get("kind", "hard")
            if kind == "power":
                self.power_on()
            elif kind == "soft":
                if self.state in ("busy", "boot"):
                    return {"ok": False, "error": "the board is busy: interrupt it first"}
                self.soft_reset()
            else:
                self.hard_reset(HARD_RESET)
            return {"ok": True}
        if cmd == "stop":
            self.stop()
            return {"ok": True}
        return {"ok": False, "error": "unknown command %r" % cmd}

    def snapshot(self):
        vm = self.vm
        st = vm.status if vm is not None and vm.status else {}
        cur = vm.current if vm is not None else None
        running = bool(vm is not None and self.state == "boot" and cur is not None and cur[1]
                       and self.script == "main.py")
        vac = st.get("vac", 0.0)
        return {
            "firmware_running": running,
            "state": self.state, "mode": self.mode, "vm_pid": vm.proc.pid if vm else None,
            "vm_ready": bool(vm is not None and vm.hello),
            "boots": self.boots, "reset_cause": self.cause, "client": self.client is not None,
            "vacuum_pa": vac, "vacuum_mmhg": vac / PA_PER_MMHG, "duty_u16": st.get("duty", 0),
            "valve_level": st.get("valve"), "valve_open": st.get("vent", True),
            "t_ms": st.get("t"), "ticks_ms": st.get("ticks"), "status_age_s":
                (time.monotonic() - vm.status_at) if vm is not None and vm.status else None,
            "wdt_ms": self.wdt["timeout"] if self.wdt else None, "epoch_s": self.epoch_s,
            "board": (vm.hello or {}).get("board") if vm else None,
            "buttons": (vm.hello or {}).get("buttons") if vm else None,
            "long_press_ms": (vm.hello or {}).get("long_press_ms") if vm else None,
            "debounce_ms": (vm.hello or {}).get("debounce_ms") if vm else None,
        }


def _die_with_parent():
    """In the VM's process, before exec: die with the server (Linux)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except Exception:
        pass
