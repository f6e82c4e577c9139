"""A virtual board running the phone app (tests of the web app, make pair).

The flash is what `make flash` leaves on a web board; the real firmware runs
in the real MicroPython VM behind tools/vboard, and serves on 127.0.0.1.
"""
import json
import os
import shutil
import socket
import time

from tools.bench_web import free_port
from tools.vboard.control import VirtualBoard

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def web_flash(folder, port, secret=None):
    """A flash as `make flash` leaves a web board (tools/deploy.py's build of
    the sim board with "web": true: the firmware's .mpy files, the page,
    microdot in lib/), profiles with a schedule, wifi.json (a host run
    serves on 127.0.0.1 only), and a known pairing secret when one is given
    (else the board makes its own at boot)."""
    from tools import deploy
    folder = str(folder)
    with open(os.path.join(ROOT, "boards", "sim.json")) as f:
        board = json.load(f)
    board["web"] = True
    board_path = os.path.join(folder, "sim_web.json")
    with open(board_path, "w") as f:
        json.dump(board, f)
    flash = os.path.join(folder, "flash")
    from tools.vboard.server import native_arch
    with deploy.built(board_path, native_arch()) as files:
        for dev, src in files.items():
            dst = os.path.join(flash, dev)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy(src, dst)
    with open(os.path.join(ROOT, "profiles.json")) as f:
        profiles = json.load(f)
    profiles["schedule"] = {"every_min": 180, "grace_min": 45}
    with open(os.path.join(flash, "profiles.json"), "w") as f:
        json.dump(profiles, f)
    with open(os.path.join(flash, "wifi.json"), "w") as f:
        json.dump({"port": port}, f)
    if secret is not None:
        with open(os.path.join(flash, "pair.key"), "w") as f:
            f.write(secret)
    open(os.path.join(flash, "reset.flag"), "w").close()     # a deliberate reset, as make flash leaves
    return flash


def wait_listening(vb, port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the board's web app did not start:\n" + vb.server_log())


def start(folder, secret=None):
    """A started virtual board serving the phone app: .web is its address."""
    port = free_port()
    flash = web_flash(folder, port, secret)
    vb = VirtualBoard(board="sim", flash=flash, console=True)
    vb.start()                      # powers on: main.py runs (a deliberate start: it takes reset.flag)
    try:
        wait_listening(vb, port)
    except BaseException:
        vb.stop()
        raise
    vb.web = "http://127.0.0.1:%d" % port
    vb.web_port = port
    return vb
