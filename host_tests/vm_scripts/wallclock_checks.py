"""Boot-time wall clock (firmware/hw/wallclock.py) through the fake
machine: one line per scenario, the same on CPython and MicroPython
(host_tests/test_wallclock.py compares them and checks the values).

argv[1]: an empty folder to use as the flash."""
import os
import sys

import fake_time
import machine

FTIME = fake_time.load()
FLASH = sys.argv[1]


class ModuleError(Exception):
    pass


def module_error(message):
    e = ModuleError(message)
    e.message = message
    return e


class Module:
    """A clock module's driver as wallclock.py sees it: read() and write()."""

    def __init__(self, t=None, read_error=None, write_error=None):
        self.t, self.read_error, self.write_error = t, read_error, write_error
        self.written = []

    def read(self):
        if self.read_error:
            raise module_error(self.read_error)
        return self.t

    def write(self, t):
        if self.write_error:
            raise module_error(self.write_error)
        self.written.append(tuple(t))


def listing():
    return " ".join(sorted(os.listdir(".")))


def scenario(name, handover=None, folder=False, up_ms=0, module=None, rtc_epoch=0):
    from hw.wallclock import boot_wall
    for n in os.listdir("."):
        p = n
        if os.stat(p)[0] & 0x4000:
            for m in os.listdir(p):
                os.remove(p + "/" + m)
            os.rmdir(p)
        else:
            os.remove(p)
    w = machine.reset_world("rp2")
    w.logging = False
    w.epoch_s = rtc_epoch
    w.clock.advance(up_ms)
    if folder:
        os.mkdir("clock.set")
        with open("clock.set/x", "w") as f:
            f.write("x")
    elif handover is not None:
        with open("clock.set", "wb") as f:
            f.write(handover)
    said = []
    t = boot_wall(machine, FTIME, module, "DS3231", say=said.append)
    now = FTIME.localtime()
    print("%s: wall %s rtc %s said %s written %s files [%s]" % (
        name, list(t) if t else None, list(now[:6]), said, module.written if module else None, listing()))


def chip_scenario(name, chip_cls, addr, handover=None, time=None, stopped=False, absent=False):
    """The real driver (hw/rtc.py) through the fake I2C on a device model
    of the chip, as the factory builds it for a board file naming it."""
    from hw.rtc import DS3231, PCF8563
    from hw.wallclock import boot_wall
    import devices
    for n in os.listdir("."):
        os.remove(n)
    w = machine.reset_world("rp2")
    w.logging = False
    w.clock.advance(700)
    dev = getattr(devices, chip_cls)(time=time)
    if stopped:
        dev.lose_power()
    if not absent:
        w.attach_i2c(0, addr, dev)
    if handover is not None:
        with open("clock.set", "wb") as f:
            f.write(handover)
    i2c = machine.I2C(0, scl=machine.Pin(5), sda=machine.Pin(4), freq=400000)
    drv = (DS3231 if chip_cls.startswith("DS") else PCF8563)(i2c, bus=0)
    said = []
    t = boot_wall(machine, FTIME, drv, chip_cls[:-6], say=said.append)
    w.clock.advance(3000)
    try:
        kept = list(drv.read())
    except Exception as e:
        kept = "error " + str(getattr(e, "message", e))
    print("%s: wall %s said %s module %s" % (name, list(t) if t else None, said, kept))


def main():
    os.chdir(FLASH)
    ok = b"[2026, 12, 2, 7, 50, 3]"
    scenario("handover", ok, up_ms=1200)
    scenario("handover at midnight", b"[2026, 12, 31, 23, 59, 59]", up_ms=2600)
    scenario("handover month 13", b"[2026, 13, 1, 0, 0, 0]")
    scenario("handover feb 30", b"[2028, 2, 30, 0, 0, 0]")
    scenario("handover feb 29", b"[2028, 2, 29, 12, 0, 0]")
    scenario("handover 2021", b"[2021, 1, 1, 0, 0, 0]")
    scenario("handover floats", b"[2026, 12, 2, 7, 50, 3.5]")
    scenario("handover not json", b"\xff\xfe garbage")
    scenario("handover folder", folder=True)
    scenario("handover with module", ok, module=Module((2025, 1, 1, 0, 0, 0)))
    scenario("handover module write fails", ok, module=Module(write_error="no DS3231 answers at 0x68 on I2C0"))
    scenario("module", module=Module((2026, 6, 1, 8, 0, 0)), up_ms=900)
    scenario("module stopped", module=Module(read_error="the DS3231's oscillator stopped: time not kept"))
    scenario("module before 2024", module=Module((2000, 1, 1, 0, 0, 0)))
    scenario("module absent but rtc kept", module=Module(read_error="no DS3231"), rtc_epoch=1780000000)
    scenario("rtc kept", rtc_epoch=1780000000)
    scenario("nothing")
    for cls, addr in (("DS3231Device", 0x68), ("PCF8563Device", 0x51)):
        chip_scenario(cls + " handover", cls, addr, handover=ok, time=(2025, 1, 1, 0, 0, 0))
        chip_scenario(cls + " read", cls, addr, time=(2026, 6, 1, 8, 0, 0))
        chip_scenario(cls + " stopped", cls, addr, time=(2026, 6, 1, 8, 0, 0), stopped=True)
        chip_scenario(cls + " stopped handover", cls, addr, handover=ok, stopped=True)
        chip_scenario(cls + " absent", cls, addr, time=(2026, 6, 1, 8, 0, 0), absent=True)


main()
