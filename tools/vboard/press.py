"""python -m tools.vboard press BUTTON [--long] [--port PORT] [--control-port N] [--dir DIR]

Presses a button of a virtual board that runs in another terminal (`make
board`): start and stop are both the start/stop button, letdown, level_up,
level_down and pause the others. A press is held 200 ms; --long holds it
past the long-press time of the board file the board runs (its flash's
board.json, else the one `make board` was given). Returns when the button
is released.

The board is found through the file `make board` keeps while it runs,
out/vboard-PORT.json (the console port, the control port, the server's pid);
--port picks one when several run, --control-port skips the file. Exit
status 0 pressed, 1 the board refused the press, 2 no board found.
"""
import argparse
import glob
import json
import os
import socket
import sys
import time

from tools import paths

RUNNING_DIR = os.path.join(paths.ROOT, "out")
SHORT_MS = 200
LONG_MARGIN_MS = 300        # past debounce + long-press time: a few ticks and the VM's poll
BUTTONS = {"start": "start_stop", "stop": "start_stop", "start_stop": "start_stop", "letdown": "letdown",
           "level_up": "level_up", "level_down": "level_down", "pause": "pause"}


def how(port=None):
    """What to do when no board answers."""
    port = port or 7777
    return ("start one with `make board%s` in another terminal (and `make flash BOARD=sim "
            "PORT=socket://127.0.0.1:%d` once, so that it runs the firmware)" % (
                "" if port == 7777 else " PORT=%d" % port, port))


class NoBoard(Exception):
    pass


def running_file(directory, port):
    """Where a board on console port `port` says it runs (`make board`)."""
    return os.path.join(directory, "vboard-%d.json" % port)


def announce(directory, info):
    """Write running_file() for this board (atomically); returns its path."""
    os.makedirs(directory, exist_ok=True)
    path = running_file(directory, info["port"])
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(info) + "\n")
    os.replace(tmp, path)
    return path


def withdraw(path, pid):
    """Remove the running file at exit, unless another board took it over."""
    try:
        with open(path) as f:
            mine = json.load(f).get("pid") == pid
    except (OSError, ValueError, AttributeError):
        return
    if mine:
        try:
            os.remove(path)
        except OSError:
            pass


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, TypeError, OverflowError):
        return isinstance(pid, int)
    return True


def find(directory, port=None):
    """The running file's content of the one live board (on `port` if given)."""
    shown = os.path.relpath(directory) if directory.startswith(os.getcwd()) else directory
    if port is not None:
        paths_ = [running_file(directory, port)]
        where = "no virtual board on port %d (no %s)" % (port, os.path.join(shown, "vboard-%d.json" % port))
    else:
        paths_ = sorted(glob.glob(os.path.join(directory, "vboard-*.json")))
        where = "no virtual board is running (no %s)" % os.path.join(shown, "vboard-*.json")
    live = []
    for p in paths_:
        try:
            with open(p) as f:
                info = json.load(f)
            if isinstance(info, dict) and isinstance(info.get("control_port"), int) and _alive(info.get("pid")):
                live.append(info)
        except (OSError, ValueError):
            continue
    if not live:
        raise NoBoard(where + ": " + how(port))
    if len(live) > 1:
        ports = ", ".join(str(i.get("port")) for i in live)
        raise NoBoard("several virtual boards are running (ports %s): name one, e.g. make press BUTTON=start "
                      "PORT=%s (--port %s)" % (ports, live[0].get("port"), live[0].get("port")))
    return live[0]


class Control:
    """The board's control socket (JSON lines, tools/vboard/server.py)."""

    def __init__(self, control_port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", control_port), timeout=timeout)
        self.rfile = self.sock.makefile("rb")

    def request(self, req):
        self.sock.sendall((json.dumps(req) + "\n").encode())
        line = self.rfile.readline()
        if not line:
            raise OSError("the board closed the control connection")
        return json.loads(line)

    def close(self):
        for f in (self.rfile, self.sock):
            try:
                f.close()
            except OSError:
                pass


def hold_ms(state, long):
    """How long to hold: a short press, or past the board file's long-press
    time (buttons.long_press_ms, after debouncing)."""
    if not long:
        return SHORT_MS
    long_ms = state.get("long_press_ms") or 1500       # the firmware's default (pump/buttons.py)
    return int(long_ms) + int(state.get("debounce_ms") or 30) + LONG_MARGIN_MS


def port_arg(text):
    """A port number, or the URL mpremote is given for it (argparse type)."""
    for prefix in ("socket://127.0.0.1:", "socket://localhost:"):
        if text.startswith(prefix):
            text = text[len(prefix):]
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a port: %r (the board listens on 127.0.0.1 only)" % text)
    if not 0 <= n <= 65535:
        raise argparse.ArgumentTypeError("not a port: %r" % text)
    return n


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.vboard press", description=__doc__.split("\n\n")[1])
    ap.add_argument("button", choices=sorted(BUTTONS), metavar="BUTTON",
                    help="start, stop (both the start/stop button), letdown, level_up, level_down, pause")
    ap.add_argument("--long", action="store_true", help="hold it past the board's long-press time")
    ap.add_argument("--port", type=port_arg, help="the board's console port (make board PORT=..., default: "
                    "the one board running)")
    ap.add_argument("--control-port", type=int, help="the board's control port (its `control on` line)")
    ap.add_argument("--dir", default=RUNNING_DIR, help="where running boards leave vboard-PORT.json "
                    "(default out/)")
    args = ap.parse_args(argv)
    if args.control_port is not None:
        info = {"control_port": args.control_port, "port": args.port}
    else:
        try:
            info = find(os.path.abspath(args.dir), args.port)
        except NoBoard as e:
            print("press: %s" % e, file=sys.stderr)
            return 2
    name = BUTTONS[args.button]
    try:
        ctl = Control(info["control_port"])
    except OSError:
        print("press: no virtual board answers on control port %d: %s" % (info["control_port"], how(info.get("port"))),
              file=sys.stderr)
        return 2
    try:
        state = ctl.request({"cmd": "state"}).get("state") or {}
        ms = hold_ms(state, args.long)
        reply = ctl.request({"cmd": "press", "button": name, "ms": ms})
    except (OSError, ValueError) as e:
        print("press: the virtual board stopped answering (%s): %s" % (e, how(info.get("port"))), file=sys.stderr)
        return 2
    finally:
        ctl.close()
    if not reply.get("ok"):
        print("press: %s: %s" % (args.button, reply.get("error", "refused")), file=sys.stderr)
        return 1
    where = " on socket://127.0.0.1:%s" % info["port"] if info.get("port") else ""
    print("%s: %s held %d ms%s%s" % (args.button, name, ms, " (a long press)" if args.long else "", where),
          flush=True)
    if not state.get("firmware_running"):
        print("press: note: main.py is not running on the board (it is at the REPL or booting), so nothing "
              "acts on the press: flash it (make flash BOARD=sim PORT=socket://127.0.0.1:%s), or reset it"
              % (info.get("port") or 7777), file=sys.stderr)
    time.sleep(ms / 1000.0)                      # back when the button is released, as a finger would be
    return 0
