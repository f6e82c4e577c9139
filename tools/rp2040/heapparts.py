"""Where the heap after boot goes on the emulated Pico, module by module.

Why it exists: the heap budget (40 KB after boot on the stock firmware) is
judged on the chip, where a module loaded from the flash keeps its bytecode,
machine code and interned names in the heap. tickbench gives the total; this
says which module holds how much, against the size of its `.mpy`.

How: the board is flashed as `make flash` does; after a soft reset the
harness imports the modules that stay resident after boot one at a time,
leaves first, collecting after each (a module's figure includes any package
it pulled in), then boots the app and releases the boot-only modules as
main.py does: that last step is what boot() builds and keeps. Modules that
are resident after boot but not in ORDER are listed as not measured (their
bytes then sit in the boot line).

    python -m tools.rp2040.heapparts [--boards pico,pico_w] [--json FILE]
"""
import sys

from tools.rp2040.tickbench import drive, per_board_main, resident_code_bytes

ORDER = ["pump.limits", "pump.codes", "pump.slots", "pump.model", "pump.cycle", "pump.control", "pump.safety",
         "pump.schedule", "pump.buttons", "pump.record", "pump.session", "hw.motor", "hw.valve", "hw.watchdog",
         "hw.buttons", "hw.sensors", "hw.sensors.analog", "hw.sensors.mprls", "hw.sensors.hx710b",
         "hw.sensors.xgzp6897d", "hw.indicator", "hw.display", "hw.rtc", "hw.store", "hw.sessionlog", "books",
         "version", "app"]

HARNESS = r"""
import gc, sys, time, machine
gc.collect()
prev = gc.mem_alloc()
print("BASE", prev)
for name in %(order)r:
    before = set(sys.modules)
    try:
        __import__(name)
    except ImportError:
        print("SKIP", name)
        continue
    gc.collect()
    now = gc.mem_alloc()
    print("MOD", name, now - prev, " ".join(sorted(set(sys.modules) - before)))
    prev = now
open("reset.flag", "w").close()         # a deliberate boot: tools/rp2040/tickbench.py DELIBERATE_BOOT says why
from app import boot, release_boot_modules
app = boot(machine, time)
release_boot_modules()
gc.collect()
now = gc.mem_alloc()
print("BOOT", now - prev, now)
print("HEAP", now)
print("RESIDENT", " ".join(sorted(sys.modules)))
"""


def measure(board, out=print):
    text = drive(board, HARNESS % {"order": ORDER}, out=out, actions=[])
    result = {"board": board, "modules": [], "not_measured": []}
    for line in text.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "BASE":
            result["base_bytes"] = int(f[1])
        elif f[0] == "MOD":
            result["modules"].append({"name": f[1], "heap_bytes": int(f[2]), "pulled_in": f[3:],
                                      "mpy_bytes": resident_code_bytes(board, f[3:])})
        elif f[0] == "BOOT":
            result["boot_bytes"], result["total_bytes"] = int(f[1]), int(f[2])
        elif f[0] == "RESIDENT":
            measured = {m for r in result["modules"] for m in r["pulled_in"]}
            result["not_measured"] = [m for m in f[1:] if m not in measured and m not in ("rp2", "network")]
    return result


def table(r, out=print):
    out("%s: heap in use by module (bytes; .mpy of the module and what it pulled in)" % r["board"])
    out("  %-22s %7s %7s" % ("", "heap", ".mpy"))
    out("  %-22s %7d" % ("MicroPython, soft reset", r["base_bytes"]))
    for m in r["modules"]:
        out("  %-22s %7d %7d" % (m["name"], m["heap_bytes"], m["mpy_bytes"]))
    out("  %-22s %7d" % ("built by boot()", r["boot_bytes"]))
    out("  %-22s %7d %7d" % ("total", r["total_bytes"], sum(m["mpy_bytes"] for m in r["modules"])))
    if r["not_measured"]:
        out("  not measured (in the boot line): " + " ".join(r["not_measured"]))


def main(argv=None):
    return per_board_main("tools.rp2040.heapparts", __doc__, measure, table, "pico", argv)


if __name__ == "__main__":
    sys.exit(main())
