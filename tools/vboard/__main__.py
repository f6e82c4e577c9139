"""python -m tools.vboard --board sim --flash DIR [--port 0] [--port-file F]
                         [--info-file F] [--echo] [--ticks-start MS]

Starts a virtual board: listens on 127.0.0.1:PORT (never another address)
for mpremote (`mpremote connect socket://127.0.0.1:PORT ...`), boots the
board from DIR (its flash: main.py runs if it is there) and runs until
SIGINT or SIGTERM, which stop it and every process it started.
"""
import argparse
import json
import os
import signal
import sys

from tools.vboard.server import Server


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.vboard", description=__doc__.split("\n\n")[1])
    ap.add_argument("--board", default="sim", help="a board in boards/ (or a .json path): its port and "
                    "wiring when the flash has no board.json (default sim)")
    ap.add_argument("--flash", default=os.path.join("out", "flash"), help="the board's flash (a folder)")
    ap.add_argument("--port", type=_port, default=0, help="console port on 127.0.0.1 (0: a free one; "
                    "socket://127.0.0.1:N is taken as N)")
    ap.add_argument("--port-file", help="write the console port here once listening")
    ap.add_argument("--info-file", help="write JSON {port, control_port, pid} here once listening")
    ap.add_argument("--echo", action="store_true", help="copy the board's console output to stdout")
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
                    seed=args.seed, echo=args.echo)
    signal.signal(signal.SIGINT, server.stop)
    signal.signal(signal.SIGTERM, server.stop)
    try:
        server.start()
    except OSError as e:
        print("vboard: cannot listen on 127.0.0.1:%d: %s" % (args.port, e.strerror), file=sys.stderr)
        server.close()
        return 1
    _write(args.port_file, "%d\n" % server.port)
    _write(args.info_file, json.dumps({"port": server.port, "control_port": server.control_port,
                                       "pid": os.getpid(), "flash": server.flash,
                                       "pty": server.pty_name}) + "\n")
    print("listening on socket://127.0.0.1:%d" % server.port, flush=True)
    if server.pty_name:
        print("also on %s (for `mpremote connect %s repl`: mpremote's repl cannot use socket://)"
              % (server.pty_name, server.pty_name), flush=True)
    print("control on 127.0.0.1:%d, flash %s" % (server.control_port, server.flash), flush=True)
    server.serve_forever()
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


def _port(text):
    """A port number, or the URL mpremote is given for it."""
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


def _write(path, text):
    if not path:
        return
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
