"""The phone app's host side: Wi-Fi settings onto the board, and the pairing link off it.

    python -m tools.phone wifi --ssid NAME [--password-file F] [--hostname pump]
                               [--ap-ssid pump] [--ap-password-file F] [--port PORT]
    python -m tools.phone pair [--port PORT] [--address HOST]

`wifi` checks the settings with the firmware's own checker (web/wifi.py),
writes wifi.json on the board and restarts it (deliberately: no
watchdog_reset notice). Passwords come from a file or are asked for on the
terminal, never from the command line (it would stay in the shell's
history). With no --ssid the board opens its own access point only.

`pair` reads the pairing secret the board made at its first boot with the
web app (pair.key) and the access point's password (wifi.json's, or ap.key),
and prints the link to open on the phone with a QR code of it: scanning it
pairs the phone (the board sets its cookie and forgets nothing). Anyone
holding the link can drive the pump: keep it as a key, not as a bookmark
to share. docs/web-app.md says more; docs/threat-model.md why.
"""
import argparse
import getpass
import json
import os
import sys
import tempfile

from tools import deploy, paths

paths.use_firmware()
from web import wifi  # noqa: E402
from web.pairing import valid_secret  # noqa: E402

READ = r"""
import json
for _n in ('pair.key', 'ap.key', 'wifi.json', 'board.json'):
    try:
        with open(_n) as _f:
            print('FILE' + json.dumps([_n, _f.read()]))
    except OSError:
        pass
"""


def read_board(board):
    """{name: text} of pair.key, ap.key, wifi.json, board.json as the board has them."""
    got = {}
    for line in board.exec(READ).splitlines():
        if line.startswith("FILE"):
            name, text = json.loads(line[4:])
            got[name] = text
    return got


def _secret_from(path, prompt):
    if path:
        with open(path) as f:
            return f.read().strip("\r\n")
    if not sys.stdin.isatty():
        raise deploy.DeployError("%s: give it in a file (--password-file) or run this in a terminal" % prompt)
    return getpass.getpass(prompt + ": ")


def wifi_settings(ssid, password, hostname, ap_ssid, ap_password, port=None):
    raw = {"ssid": ssid, "password": password or "", "hostname": hostname, "ap_ssid": ap_ssid,
           "ap_password": ap_password}
    if port is not None:
        raw["port"] = port
    cfg, errors = wifi.check(raw)
    if errors:
        raise deploy.InputError("wifi.json", [e.split(": ", 1)[1] for e in errors])
    return raw


def push_wifi(raw, port=None, out=print):
    board = deploy.Board(port)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "wifi.json")
        with open(path, "w") as f:
            json.dump(raw, f)
        board.run(("cp", "-f", path, ":wifi.json"), *board.restart())
    out("wifi.json written on the board (%s); the board restarted with it" % (
        "station on %s, its own access point when that is out of reach" % raw["ssid"] if raw["ssid"]
        else "its own access point %s" % raw["ap_ssid"]))


def pairing(files, address=None):
    """(link, lines to print) from the board's files (read_board)."""
    board_raw = json.loads(files.get("board.json") or "{}")
    if not board_raw.get("web"):
        raise deploy.DeployError("this board's board.json has no \"web\": true: the phone app is not on it "
                                 "(make flash BOARD=pico_w_web, or a board file of your own with \"web\": true)")
    secret = (files.get("pair.key") or "").strip()
    if not valid_secret(secret):
        raise deploy.DeployError("the board has made no pairing secret yet: it makes one the first time it "
                                 "starts with the phone app (make flash, then let it boot)")
    raw = json.loads(files.get("wifi.json") or "{}")
    cfg, errors = wifi.check(raw)
    if errors:
        raise deploy.DeployError("the board's wifi.json cannot be used: " + "; ".join(errors) +
                                 " (make wifi writes a good one)")
    port = cfg["port"]
    lines = []
    if address is None:
        if cfg["ssid"]:
            address = cfg["hostname"] + ".local"
            lines.append("On the network %s the board is http://%s/ (or the address its console prints)."
                         % (cfg["ssid"], address))
        else:
            address = "192.168.4.1"
        ap_pw = cfg["ap_password"] or (files.get("ap.key") or "").strip()
        lines.append("%s its own access point: Wi-Fi %s, password %s (WPA2), at http://192.168.4.1/." % (
            "When that network is out of reach, the board opens" if cfg["ssid"] else "The board opens",
            cfg["ap_ssid"], ap_pw or "(made at its first start: run make pair again once it has started)"))
    host = address if port == 80 else "%s:%d" % (address, port)
    link = "http://%s/pair?k=%s" % (host, secret)
    lines.append("Open this link on the phone (or scan the code) to pair it:")
    lines.append("  " + link)
    lines.append("Anyone with this link can run the pump: keep it to yourself.")
    return link, lines


def qr_text(link):
    import io

    import segno
    buf = io.StringIO()
    segno.make(link, error="m").terminal(out=buf, compact=True)
    return buf.getvalue()


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.phone", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("wifi", help="write wifi.json on the board")
    w.add_argument("--ssid", help="the home network (none: the board's own access point only)")
    w.add_argument("--password-file", help="a file holding the home network's password")
    w.add_argument("--hostname", default="pump", help="the board's name on the network (pump.local)")
    w.add_argument("--ap-ssid", default="pump", help="the name of the board's own access point")
    w.add_argument("--ap-password-file", help="a file holding the access point's password (8-63 characters; "
                   "none: the board makes one, make pair prints it)")
    w.add_argument("--port", default="auto", help="the board's serial port (mpremote)")
    p = sub.add_parser("pair", help="print the pairing link and its QR code")
    p.add_argument("--port", default="auto", help="the board's serial port (mpremote)")
    p.add_argument("--address", help="the board's address when its name does not resolve (the console prints it)")
    p.add_argument("--no-qr", action="store_true", help="the link only")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "wifi":
            password = _secret_from(args.password_file, "password of %s" % args.ssid) if args.ssid else ""
            ap_pw = _secret_from(args.ap_password_file, "access point password") if args.ap_password_file else None
            push_wifi(wifi_settings(args.ssid, password, args.hostname, args.ap_ssid, ap_pw), args.port)
            print("next: make pair (prints the link that pairs the phone)")
        else:
            board = deploy.Board(args.port)
            files = read_board(board)
            board.run(*board.restart())
            link, lines = pairing(files, args.address)
            for line in lines:
                print(line)
            if not args.no_qr:
                print(qr_text(link))
    except deploy.InputError as e:
        for line in e.lines:
            print(line, file=sys.stderr)
        return 2
    except deploy.DeployError as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
