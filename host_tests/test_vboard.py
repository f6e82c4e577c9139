"""The virtual board (tools/vboard) through the real mpremote CLI.

Each check runs `mpremote connect socket://127.0.0.1:PORT ...` as a
subprocess against a board served by `python -m tools.vboard` on a free
loopback port with a temporary flash folder: the real MicroPython VM (unix
port) behind the REPL protocol, the fake machine and the simulator's plant
behind the VM.
"""
import functools
import glob
import hashlib
import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from tools.vboard.control import VirtualBoard

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPREMOTE = shutil.which("mpremote", path=os.path.dirname(sys.executable)) or shutil.which("mpremote")
WDT_RESET = 3

pytestmark = pytest.mark.skipif(MPREMOTE is None, reason="mpremote is not installed (make venv)")


def mp(vb, *args, timeout=30, check=True):
    env = dict(os.environ)
    for k in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        env.pop(k, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    r = subprocess.run([MPREMOTE, "connect", vb.url] + list(args), capture_output=True, text=True,
                       timeout=timeout, env=env)
    if check:
        assert r.returncode == 0, "mpremote %s failed (%d):\n%s\n%s\n--- server log:\n%s" % (
            " ".join(args), r.returncode, r.stdout, r.stderr, vb.server_log())
    return r


def files_in(root):
    out = set()
    for d, dirs, names in os.walk(root):
        rel = os.path.relpath(d, root)
        for n in dirs:
            out.add(os.path.normpath(os.path.join(rel, n)) + "/")
        for n in names:
            out.add(os.path.normpath(os.path.join(rel, n)))
    return out


def gone(pid, timeout=5.0):
    """True once pid is no process (or only a zombie about to be reaped)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:
            with open("/proc/%d/status" % pid) as f:
                if any(line.startswith("State:") and "Z" in line for line in f):
                    return True
        except OSError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    vb = VirtualBoard(board="sim", flash=tmp_path_factory.mktemp("flash"))
    vb.start()
    yield vb
    vb.stop()


def test_exec_eval_and_tracebacks(board):
    assert mp(board, "exec", "print(1+1)").stdout.strip() == "2"
    assert mp(board, "eval", "6*7").stdout.strip() == "42"
    r = mp(board, "exec", "x = 1\nraise ValueError('boom %d' % x)", check=False)
    assert r.returncode != 0
    assert "Traceback (most recent call last):" in r.stdout + r.stderr
    assert "ValueError: boom 1" in r.stdout + r.stderr
    assert "device.py" not in r.stdout + r.stderr           # the host's frames are not the board's
    # The board's view of itself: port, machine, sys.path, hashlib/binascii for mpremote's cp.
    out = mp(board, "exec", "import os, sys, hashlib, binascii\nu = os.uname()\n"
                            "print(u.sysname, '|', u.machine, '|', sys.path)").stdout
    assert out.startswith("rp2 | Raspberry Pi Pico with RP2040 | ")
    assert "'/lib'" in out and "'tools" not in out
    assert mp(board, "exec", "import sys; print(sys.platform)").stdout.strip() == "rp2"


def test_files(board, tmp_path):
    flash = board.flash
    for name in os.listdir(flash):
        p = os.path.join(flash, name)
        shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    src = tmp_path / "hello.txt"
    src.write_text("hello board\n")
    tree = tmp_path / "pkg"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.py").write_text("A = 1\n")
    (tree / "sub" / "b.bin").write_bytes(bytes(range(256)) * 40)
    free0 = mp(board, "exec", "import os; s = os.statvfs('/'); print(s[0] * s[3])").stdout
    mp(board, "cp", str(src), ":", "+", "mkdir", "lib", "+", "cp", "-r", str(tree), ":lib/")
    listing = mp(board, "ls").stdout
    assert "hello.txt" in listing and "lib/" in listing
    assert "10240 b.bin" in mp(board, "ls", ":lib/pkg/sub").stdout
    back = tmp_path / "back.bin"
    mp(board, "cp", ":lib/pkg/sub/b.bin", str(back))
    assert back.read_bytes() == (tree / "sub" / "b.bin").read_bytes()
    assert files_in(flash) == {"hello.txt", "lib/", "lib/pkg/", "lib/pkg/a.py", "lib/pkg/sub/",
                               "lib/pkg/sub/b.bin"}
    # Modules in /lib import as on a board; the flash is a littlefs with room.
    out = mp(board, "exec", "import sys; sys.path.append('/lib/pkg')\nimport a\nimport os\n"
                            "s = os.statvfs('/')\nprint(a.A, s[0] * s[2], s[0] * s[3])").stdout.split()
    assert out[0] == "1" and 1000000 <= int(out[1]) <= 2100000
    assert int(out[2]) <= int(free0) - 3 * 4096                  # b.bin takes three 4 KB blocks
    mp(board, "rm", "hello.txt")
    assert "hello.txt" not in os.listdir(flash)
    # Absolute, relative and cwd paths all land in the flash; rename replaces.
    mp(board, "exec", "import os\nos.chdir('/lib')\nopen('x.tmp', 'w').write('new')\n"
                      "open('/lib/x', 'w').write('old')\nos.rename('x.tmp', 'x')")
    with open(os.path.join(flash, "lib", "x")) as f:
        assert f.read() == "new"
    assert not os.path.exists(os.path.join(flash, "lib", "x.tmp"))
    # Nothing outside the flash folder can be reached.
    outside = os.path.join(os.path.dirname(flash), "escaped.txt")
    r = mp(board, "cp", str(src), ":../escaped.txt", check=False)
    assert r.returncode != 0 and not os.path.exists(outside)
    r = mp(board, "exec", "open('/../../etc/hostname').read()", check=False)
    assert r.returncode != 0 and "EACCES" in r.stdout + r.stderr
    r = mp(board, "exec", "import os; os.chdir('/lib'); open('../../escaped.txt', 'w')", check=False)
    assert r.returncode != 0 and not os.path.exists(outside)


def test_rtc_set(board):
    mp(board, "rtc", "--set")
    year = mp(board, "exec", "import time; print(time.localtime()[0])").stdout.strip()
    assert year in (str(time.localtime().tm_year), str(time.localtime().tm_year - 1))


def test_run_soft_reset_and_reset(board, tmp_path):
    script = tmp_path / "script.py"
    script.write_text("for i in range(3):\n    print('line', i)\n")
    assert mp(board, "run", str(script)).stdout.split() == ["line", "0", "line", "1", "line", "2"]
    # main.py counts boots in a file; mpremote's soft reset (raw REPL) does not run it.
    with open(os.path.join(board.flash, "main.py"), "w") as f:
        f.write("with open('boots.txt', 'a') as f:\n    f.write('x')\n")
    boots = os.path.join(board.flash, "boots.txt")
    mp(board, "soft-reset", "exec", "g = 1")
    assert mp(board, "resume", "eval", "'g' in globals()").stdout.strip() == "True"
    mp(board, "soft-reset")
    assert mp(board, "resume", "eval", "'g' in globals()").stdout.strip() == "False"
    assert not os.path.exists(boots)
    mp(board, "reset")                                       # hard reset: main.py runs
    board.wait_for(lambda s: os.path.exists(boots) and s["state"] == "idle", timeout=10)
    assert board.state()["reset_cause"] == WDT_RESET          # rp2: machine.reset() reads as WDT_RESET
    with open(boots) as f:
        assert f.read() == "x"
    mp(board, "rm", "main.py", "+", "rm", "boots.txt")


def test_friendly_repl(board):
    """What `mpremote repl` carries: echo, results, continuation lines,
    Ctrl-C, Ctrl-D soft reset (which runs main.py), Ctrl-B banner."""
    import socket
    with open(os.path.join(board.flash, "main.py"), "w") as f:
        f.write("print('main says hi')\n")
    s = socket.create_connection(("127.0.0.1", board.port), timeout=10)
    try:
        def talk(data, until, timeout=10):
            s.sendall(data)
            got = b""
            deadline = time.monotonic() + timeout
            while until not in got:
                assert time.monotonic() < deadline, "waited for %r, got %r" % (until, got)
                got += s.recv(4096)
            return got
        talk(b"\x03\x02", b">>> ")
        assert b"6\r\n>>> " in talk(b"2*3\r", b"6\r\n>>> ")
        out = talk(b"for i in range(2):\rprint(i * 10)\r\r\r\r", b"10\r\n>>> ")
        assert b"...     " in out and b"0\r\n10\r\n" in out
        assert b"ZeroDivisionError" in talk(b"1/0\r", b">>> ")
        out = talk(b"\x04", b">>> ")
        assert b"MPY: soft reboot\r\n" in out and b"main says hi\r\n" in out and b"MicroPython v" in out
    finally:
        s.close()
        os.remove(os.path.join(board.flash, "main.py"))
    # mpremote's `repl` needs a port with a file descriptor: the board's pty.
    if board.pty:
        r = subprocess.run([MPREMOTE, "connect", board.pty, "exec", "print('via pty')"], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0 and r.stdout.strip() == "via pty", r.stdout + r.stderr


def test_mip_install_from_a_local_index(board, tmp_path):
    import mip_index
    with mip_index.serve(tmp_path) as (url, data):
        r = mp(board, "mip", "install", "--index", url, "ssd1306", timeout=60)
        assert "Done" in r.stdout
    with open(os.path.join(board.flash, "lib", "ssd1306.py"), "rb") as f:
        assert f.read() == data
    assert mp(board, "exec", "import ssd1306; print('imported')").stdout.strip() == "imported"


def test_firmware_boots_idles_pumps_and_stops_when_interrupted(tmp_path):
    flash = tmp_path / "flash"
    shutil.copytree(os.path.join(ROOT, "firmware"), flash, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(os.path.join(ROOT, "boards", "sim.json"), flash / "board.json")
    shutil.copy(os.path.join(ROOT, "profiles.json"), flash / "profiles.json")
    with VirtualBoard(board="sim", flash=flash) as vb:
        mp(vb, "reset")
        st = vb.wait_for(lambda s: s["firmware_running"] and s["status_age_s"] is not None, timeout=15)
        t_end = time.monotonic() + 2.0
        while time.monotonic() < t_end:                      # idle: main.py runs, nothing pumps
            assert st["firmware_running"] and st["duty_u16"] == 0 and st["valve_open"], st
            time.sleep(0.1)
            st = vb.state()
        vb.press("start_stop", 200)
        st = vb.wait_for(lambda s: s["duty_u16"] > 0, timeout=5)
        st = vb.wait_for(lambda s: s["vacuum_mmhg"] > 30, timeout=5)
        st = vb.wait_for(lambda s: s["vacuum_mmhg"] < 20, timeout=5)     # released: it cycles
        assert st["firmware_running"] and st["wdt_ms"]
        # mpremote interrupts main.py (Ctrl-C); its finally stops the motor and vents.
        out = mp(vb, "resume", "exec", "import machine\nw = machine.world\n"
                                       "print(w.pwm_duty(16), w.levels.get(17))").stdout.split()
        assert out == ["0", "0"]
        st = vb.state()
        assert not st["firmware_running"] and st["duty_u16"] == 0 and st["valve_open"]
        assert "main.py" in mp(vb, "ls").stdout
        # The watchdog the session started keeps running (as on an rp2): unfed,
        # it reboots the board, and main.py comes back idle.
        boots = st["boots"]
        st = vb.wait_for(lambda s: s["boots"] > boots and s["firmware_running"], timeout=10)
        assert st["reset_cause"] == WDT_RESET and st["duty_u16"] == 0


def test_the_board_is_up_when_start_returns(tmp_path):
    # A board's serial port appears only once its runtime runs: a client that
    # connects the moment start() returns must not wait on a VM still starting
    # (mpremote gives the first byte 1 s, and a loaded host can take longer).
    flash = tmp_path / "flash"
    shutil.copytree(os.path.join(ROOT, "firmware"), flash, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(os.path.join(ROOT, "boards", "sim.json"), flash / "board.json")
    with VirtualBoard(board="sim", flash=flash) as vb:
        st = vb.state()
        assert st["vm_ready"] and st["boots"] == 1 and st["buttons"], st


def test_loopback_only_and_nothing_left_behind(tmp_path):
    vb = VirtualBoard(board="sim", flash=tmp_path / "flash")
    vb.start()
    try:
        mp(vb, "exec", "print('hi')")
        port_hex = ":%04X" % vb.port
        with open("/proc/net/tcp") as f:
            listening = [line.split() for line in f if line.split()[3:4] == ["0A"]]
        mine = [fields[1] for fields in listening if fields[1].endswith(port_hex)]
        assert mine == ["0100007F" + port_hex]                  # 127.0.0.1 only
        if os.path.exists("/proc/net/tcp6"):
            with open("/proc/net/tcp6") as f:
                assert not [ln for ln in f if ln.split()[1].endswith(port_hex) and ln.split()[3] == "0A"]
        pids = vb.pids()
        assert pids["vm"] and len(vb.vm_pids) >= 2            # power-on and mpremote's soft reset
    finally:
        vb.stop()
    assert vb.proc.returncode == 0
    for pid in [vb.server_pid] + sorted(vb.vm_pids):
        assert gone(pid), "process %d is still running" % pid
    # SIGINT (Ctrl-C on `make board`) stops it as cleanly.
    proc = subprocess.Popen([sys.executable, "-m", "tools.vboard", "--flash", str(tmp_path / "f2")],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        while line and not line.startswith("listening on "):
            line = proc.stdout.readline()
        assert line.startswith("listening on socket://127.0.0.1:")
        time.sleep(0.3)
        with open("/proc/%d/task/%d/children" % (proc.pid, proc.pid)) as f:
            children = [int(p) for p in f.read().split()]
        assert children
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for pid in children:
        assert gone(pid), "process %d is still running" % pid


def test_make_board_with_a_bad_board_or_flash_says_so_in_one_line():
    for args, says in ((["BOARD=nonexistent"], "BOARD=nonexistent: no such board in boards/ (esp32_devkitc, "
                                                "esp32_wrover_web, pico, pico_w, pico_w_web, sim), and not a path to a .json file"),
                       (["FLASH=/proc/nope"], "FLASH=/proc/nope: cannot hold the board's flash there")):
        r = subprocess.run(["make", "-s", "board"] + args, capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert r.returncode != 0 and r.stderr.startswith(says), r.stderr
        assert "Traceback" not in r.stderr


# -- from another terminal: `make press`, and `make board`'s console ------------------------

def flashed(flash, long_press_ms=None, schedule=None):
    """A flash folder holding the firmware, the sim board file (with another
    long-press time if given) and the default profiles (with a schedule)."""
    shutil.copytree(os.path.join(ROOT, "firmware"), flash, ignore=shutil.ignore_patterns("__pycache__"))
    with open(os.path.join(ROOT, "boards", "sim.json")) as f:
        board = json.load(f)
    if long_press_ms is not None:
        board["buttons"]["long_press_ms"] = long_press_ms
    (flash / "board.json").write_text(json.dumps(board))
    with open(os.path.join(ROOT, "profiles.json")) as f:
        profiles = json.load(f)
    if schedule is not None:
        profiles["schedule"] = schedule
    (flash / "profiles.json").write_text(json.dumps(profiles))
    return board


def press(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "tools.vboard", "press"] + list(args), capture_output=True,
                          text=True, cwd=cwd, timeout=30)


def stays(vb, predicate, seconds):
    """predicate holds for every state read over `seconds` (a few cycles)."""
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        st = vb.state()
        assert predicate(st), st
        time.sleep(0.05)


def test_press_from_the_command_line_starts_pauses_and_stops_the_pump(tmp_path):
    """`python -m tools.vboard press` (make press) finds the board through the
    vboard-PORT.json it keeps while it runs, like `make board`; --long holds
    past the long-press time of the board file the board runs (700 ms here,
    1500 in boards/sim.json)."""
    from tools.vboard import press as press_mod
    board_file = flashed(tmp_path / "flash", long_press_ms=700)
    run = tmp_path / "run"
    with VirtualBoard(board="sim", flash=tmp_path / "flash", announce=run) as vb:
        with open(run / ("vboard-%d.json" % vb.port)) as f:
            info = json.load(f)
        assert (info["port"], info["control_port"], info["pid"]) == (vb.port, vb.control_port, vb.server_pid)
        vb.wait_for(lambda s: s["firmware_running"] and s["status_age_s"] is not None, timeout=15)
        r = press("start", "--dir", str(run))
        assert r.returncode == 0 and r.stdout == "start: start_stop held 200 ms on %s\n" % vb.url, r
        vb.wait_for(lambda s: s["vacuum_mmhg"] > 30, timeout=10)
        r = press("stop", "--dir", str(run), "--port", str(vb.port))
        assert r.returncode == 0 and r.stdout.startswith("stop: start_stop held 200 ms"), r
        vb.wait_for(lambda s: s["duty_u16"] == 0 and s["valve_open"], timeout=5)
        stays(vb, lambda s: s["duty_u16"] == 0 and s["valve_open"], 1.5)       # stopped: over two cycles
        r = press("start", "--dir", str(run))
        assert r.returncode == 0, r
        vb.wait_for(lambda s: s["vacuum_mmhg"] > 30, timeout=10)
        # A long let-down press pauses (a short one would switch to expression and pump on).
        held = board_file["buttons"]["long_press_ms"] + board_file["buttons"]["debounce_ms"] + press_mod.LONG_MARGIN_MS
        r = press("letdown", "--long", "--dir", str(run))
        assert r.returncode == 0 and r.stdout.startswith("letdown: letdown held %d ms (a long press)" % held), r
        vb.wait_for(lambda s: s["duty_u16"] == 0 and s["valve_open"], timeout=5)
        stays(vb, lambda s: s["duty_u16"] == 0 and s["valve_open"], 1.5)
        r = press("level_up", "--control-port", str(vb.control_port))                 # without the file
        assert r.returncode == 0 and r.stdout.startswith("level_up: level_up held 200 ms"), r
        r = press("pause", "--dir", str(run))
        assert r.returncode == 0, r
    assert not os.path.exists(run / ("vboard-%d.json" % vb.port))                     # gone with the board
    r = press("start", "--dir", str(run))
    assert r.returncode == 2 and r.stdout == "" and len(r.stderr.splitlines()) == 1, r
    assert r.stderr.startswith("press: no virtual board is running") and "make board" in r.stderr


def test_press_without_a_board_says_what_to_do_in_one_line(tmp_path):
    from tools.vboard import press as press_mod
    for args in ([], ["--port", "7779"], ["--port", "socket://127.0.0.1:7779"]):
        r = press("start", "--dir", str(tmp_path), *args)
        assert r.returncode == 2 and r.stdout == "" and len(r.stderr.splitlines()) == 1, r
        assert "make board" in r.stderr and "Traceback" not in r.stderr
    assert "no virtual board on port 7779" in r.stderr and "make board PORT=7779" in r.stderr
    # A board killed without cleaning up (its pid is gone) is no board.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    press_mod.announce(str(tmp_path), {"port": 7777, "control_port": 1, "pid": dead.pid})
    r = press("stop", "--dir", str(tmp_path))
    assert r.returncode == 2 and r.stderr.startswith("press: no virtual board is running"), r
    # A live pid whose control port does not answer (a reused pid): the same.
    press_mod.announce(str(tmp_path), {"port": 7777, "control_port": 1, "pid": os.getpid()})
    r = press("stop", "--dir", str(tmp_path))
    assert r.returncode == 2 and r.stderr.startswith("press: no virtual board answers on control port 1"), r
    # Two boards: say which ports, and how to choose.
    press_mod.announce(str(tmp_path), {"port": 7778, "control_port": 2, "pid": os.getpid()})
    r = press("stop", "--dir", str(tmp_path))
    assert r.returncode == 2 and "several virtual boards are running (ports 7777, 7778)" in r.stderr, r
    assert "PORT=7777" in r.stderr
    r = subprocess.run(["make", "-s", "press", "BUTTON=start", "VBOARD_DIR=" + str(tmp_path / "none")],
                       capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode != 0 and r.stderr.startswith("press: no virtual board is running"), r
    r = subprocess.run(["make", "-s", "press"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode != 0 and r.stderr.startswith("make press: name the button: make press BUTTON=start"), r


def test_make_board_shows_the_console_while_no_client_is_connected(tmp_path):
    """`make board` prints what the firmware prints (its boot lines here:
    the schedule without a set clock) on its own stdout; while mpremote is
    connected, the console goes only to mpremote, whose protocol is untouched."""
    flashed(tmp_path / "flash", schedule={"every_min": 180, "grace_min": 45})
    run = tmp_path / "run"
    proc = subprocess.Popen(["make", "-s", "board", "FLASH=" + str(tmp_path / "flash"), "PORT=0",
                             "VBOARD_DIR=" + str(run)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, b"")), daemon=True)
    reader.start()

    def wait_line(text, timeout=30):
        deadline = time.monotonic() + timeout
        while not any(text.encode() in ln for ln in lines):
            assert proc.poll() is None and time.monotonic() < deadline, b"".join(lines).decode("utf-8", "replace")
            time.sleep(0.05)
    try:
        wait_line("clock not set: the schedule counts from the last session")
        listening = [ln for ln in lines if ln.startswith(b"listening on socket://127.0.0.1:")][0]
        vb = VirtualBoard(flash=tmp_path / "flash")     # only a client of the running board here
        vb.port = int(listening.split(b":")[-1])
        assert os.path.exists(run / ("vboard-%d.json" % vb.port))
        assert mp(vb, "exec", "print('for mpremote' + ' only')").stdout == "for mpremote only\n"
        wait_line("[vboard: the client left: the board's console shows here again]")
        # mpremote on the board's pty: its raw REPL traffic is not copied either.
        pty_lines = [ln for ln in lines if ln.startswith(b"also on /dev/")]
        if pty_lines:
            tty = pty_lines[0].split()[2].decode()
            r = subprocess.run([MPREMOTE, "connect", tty, "exec", "print('via the pty' + ' only')"],
                               capture_output=True, text=True, timeout=30)
            assert r.returncode == 0 and r.stdout == "via the pty only\n", r.stdout + r.stderr
        out = b"".join(lines)
        assert b"[vboard: a client (mpremote) is connected" in out
        assert b"for mpremote only" not in out and b"via the pty only" not in out and b"raw REPL" not in out
    finally:
        os.killpg(proc.pid, signal.SIGINT)                # Ctrl-C on the terminal
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        reader.join(5)
    assert glob.glob(str(run / "vboard-*.json")) == []
