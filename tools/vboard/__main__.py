"""python -m tools.vboard --board sim --flash DIR [--port 0] [--port-file F]
                         [--info-file F] [--announce DIR] [--echo | --console] [--ticks-start MS]
python -m tools.vboard press BUTTON [--long] [--port PORT]

Starts a virtual board: listens on 127.0.0.1:PORT (never another address)
for mpremote (`mpremote connect socket://127.0.0.1:PORT ...`), boots the
board from DIR (its flash: main.py runs if it is there) and runs until
SIGINT or SIGTERM, which stop it and every process it started.

`press` pushes a button of a board running in another terminal (found
through the vboard-PORT.json that --announce keeps: `make board` does);
`python -m tools.vboard press --help` says more.
"""
import argparse
import json
import os
import signal
import sys

from tools.vboard import press
from tools.vboard.press import port_arg as _port
from tools.vboard.server import Server


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["press"]:
        return press.main(argv[1:])
    ap = argparse.ArgumentParser(prog="python -m tools.vboard", description=__doc__.split("\n\n")[1])
    ap.add_argument("--board", default="sim", help="a board in boards/ (or a .json path): its port and "
                    "wiring when the flash has no board.json (default sim)")
    ap.add_argument("--flash", default=os.path.join("out", "flash"), help="the board's flash (a folder)")
    ap.add_argument("--port", type=_port, default=0, help="console port on 127.0.0.1 (0: a free one; "
                    "socket://127.0.0.1:N is taken as N)")
    ap.add_argument("--port-file", help="write the console port here once listening")
    ap.add_argument("--info-file", help="write JSON {port, control_port, pid} here once listening")
    ap.add_argument("--announce", metavar="DIR", help="keep DIR/vboard-PORT.json while running (removed at "
                    "exit): how `python -m tools.vboard press` finds this board (make board: out/)")
    out = ap.add_mutually_exclusive_group()
    out.add_argument("--echo", action="store_true", help="copy all of the board's console output to stdout")
    out.add_argument("--console", action="store_true", help="copy the board's console output to stdout "
                     "while no client (mpremote) is connected to the socket (make board)")
    ap.add_argument("--ticks-start", type=int, default=0,
                    help="ticks_ms() at power-on (e.g. 1073731824: the 2^30 wrap 10 s after boot)")
    ap.add_argument("--seed", type=int, default=1, help="sensor noise seed")
    args = ap.parse_args(argv)
    problem = _check(args.board, args.flash)
    if problem:
        for line in problem:
            print(line, file=sys.stderr)
        return 2
    server = Server(board=args.board, flash=args.flash, port=args.port, ticks_start=args.ticks_start,
                    seed=args.seed, echo=args.echo, console=args.console)
    signal.signal(signal.SIGINT, server.stop)
    signal.signal(signal.SIGTERM, server.stop)
    try:
        server.start()
    except OSError as e:
        print("vboard: cannot listen on 127.0.0.1:%d: %s" % (args.port, e.strerror), file=sys.stderr)
        server.close()
        return 1
    info = {"port": server.port, "control_port": server.control_port, "pid": os.getpid(),
            "flash": server.flash, "pty": server.pty_name}
    announced = press.announce(os.path.abspath(args.announce), info) if args.announce else None
    _write(args.port_file, "%d\n" % server.port)
    _write(args.info_file, json.dumps(info) + "\n")
    print("listening on socket://127.0.0.1:%d" % server.port, flush=True)
    if server.pty_name:
        print("also on %s (for `mpremote connect %s repl`: mpremote's repl cannot use socket://)"
              % (server.pty_name, server.pty_name), flush=True)
    print("control on 127.0.0.1:%d, flash %s" % (server.control_port, server.flash), flush=True)
    if announced:
        print("buttons: make press BUTTON=start|stop|letdown|level_up|level_down [LONG=1] (or python -m "
              "tools.vboard press start)", flush=True)
    try:
        server.serve_forever()
    finally:
        if announced:
            press.withdraw(announced, os.getpid())
    print("stopped", flush=True)
    return 0


def _check(board, flash):
    """[] or one line per problem with --board (the firmware's own loader)
    and --flash (a folder that can be written)."""
    from tools import deploy
    try:
        deploy.board_file(board)
    except deploy.InputError as e:
        return e.lines
    try:
        os.makedirs(flash, exist_ok=True)
        probe = os.path.join(flash, ".vboard-probe")
        with open(probe, "w") as f:
            f.write("")
        os.remove(probe)
    except OSError as e:
        return ["FLASH=%s: cannot hold the board's flash there (%s): name a folder you can write, e.g. "
                "FLASH=out/flash" % (flash, e.strerror or e)]
    return []


def _write(path, text):
    if not path:
        return
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
