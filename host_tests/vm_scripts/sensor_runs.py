"""Every sensor driver against its protocol model, scripted (CPython and MicroPython).

Usage:
  sensor_runs.py parity        one line per poll: `<sensor> <step> <status> <vacuum_pa>`
                               plus `<sensor> end <device counters...>`
  sensor_runs.py alloc [N]     (MicroPython) `<sensor> <heap bytes over N polls> <new> <faults>`
                               for normal readings and `<sensor>_range` for a steady
                               saturation fault

Parity: the same script must print the same text under both VMs. Alloc:
each driver is warmed up, then polled N times with the GC disabled and
gc.mem_alloc() read around the loop; a canary that makes one float per poll
shows the measurement sees allocation. The alloc runs use an I2C whose
device lookup needs no tuple and an int-valued ADC, so that only the
driver's own allocation is counted (the fake machine's I2C builds a
(bus, address) tuple per transfer and its ADC computes in floats).
"""
import gc
import sys

import devices
import machine
from hw.sensors.analog import AnalogSensor
from hw.sensors.hx710b import HX710B
from hw.sensors.mprls import MPRLS
from hw.sensors.xgzp6897d import XGZP6897D

AMBIENT_PA = 101325


class Source:
    """The physical quantity a device model reads: an int the script sets."""

    def __init__(self, v=0):
        self.v = v

    def value(self):
        return self.v


class Noise:
    """Deterministic LCG, identical on both VMs (ints below 2^31)."""

    def __init__(self, seed):
        self.s = seed

    def next(self, n):
        self.s = (self.s * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.s >> 8) % n


def tri(i, period, top):
    """Triangle wave 0..top..0 over `period` steps (ints)."""
    j = i % period
    half = period // 2
    return top * j // half if j < half else top * (period - j) // half


class IntSource:
    """Microvolts at an ADC pin from a table (ints): the fake ADC's
    allocation-free path."""

    def __init__(self, values):
        self.values = values
        self.i = 0

    def uv(self):
        self.i = (self.i + 1) & 7
        return self.values[self.i]


# -- scenarios: each builds world, device and driver; step(i) moves the world ----

class HX:
    name = "hx710b"
    dt_ms = 10
    fault = False                                      # force steady saturation (alloc runs)

    def __init__(self, direct=False):
        w = machine.reset_world("rp2")
        w.logging = False
        self.src = Source(0)
        self.noise = Noise(11)
        self.offset, self.cpk = 3240000, -1300000      # bridge wired so vacuum lowers the count
        self.dev = devices.HX710BModule(w, 2, 3, self.src.value)
        self.src.v = self.offset
        sck = machine.Pin(2, machine.Pin.OUT, value=0)
        dout = machine.Pin(3, machine.Pin.IN)
        self.drv = HX710B(sck, dout, self.offset, self.cpk, 40, machine.disable_irq, machine.enable_irq)
        self.drv.begin(w.clock)

    def step(self, i):
        vac = tri(i, 300, 10000)                       # up to 10 kPa: past saturation (~8.9 kPa)
        self.src.v = self.offset + self.cpk * vac // 1000 + self.noise.next(2001) - 1000
        if self.fault:
            self.src.v = -20000000                     # far past the negative rail
        d = self.dev
        d.stuck_low = 150 <= i < 160
        d.never_ready = 250 <= i < 262
        machine.world.clock.advance(self.dt_ms)

    def counters(self):
        d = self.dev
        return "reads %d seq25 %d seq27 %d proto %d unprotected %d early %d powerdowns %d" % (
            d.reads, d.seq_counts[25], d.seq_counts[27], d.protocol_errors,
            d.unprotected_pulses, d.early_pulses, d.powerdowns)


class MPR:
    name = "mprls"
    dt_ms = 4                                          # faster than a conversion: busy polls too
    fault = False

    def __init__(self, direct=False):
        w = machine.reset_world("rp2")
        w.logging = False
        self.src = Source(AMBIENT_PA)
        self.noise = Noise(22)
        self.dev = devices.MPRLSDevice(self.src.value)
        w.attach_i2c(0, 0x18, self.dev)
        i2c = machine.I2C(0)
        self.drv = MPRLS(i2c)
        self.drv.begin(w.clock)

    def step(self, i):
        self.src.v = AMBIENT_PA - tri(i, 250, 40000) + self.noise.next(41) - 20
        d = self.dev
        machine.world.i2c_fail[0] = 5 if 100 <= i < 110 else 0
        d.integrity_fail = 150 <= i < 155
        d.saturated = self.fault or 180 <= i < 185
        d.busy_forever = 200 <= i < 215
        machine.world.clock.advance(self.dt_ms)

    def counters(self):
        d = self.dev
        return "starts %d starts_while_busy %d reads %d busy %d bad %d ambient %d" % (
            d.starts, d.starts_while_busy, d.reads, d.reads_busy, d.bad_commands, self.drv.ambient_pa)


class XG:
    name = "xgzp6897d"
    dt_ms = 4
    fault = False

    def __init__(self, direct=False):
        w = machine.reset_world("esp32")
        w.logging = False
        self.src = Source(0)
        self.noise = Noise(33)
        self.dev = devices.XGZP6897DDevice(self.src.value, 64)
        w.attach_i2c(0, 0x6D, self.dev)
        i2c = machine.I2C(0)
        self.drv = XGZP6897D(i2c, 64)
        self.drv.begin(w.clock)

    def step(self, i):
        self.src.v = -tri(i, 250, 40000) + self.noise.next(21) - 10
        d = self.dev
        d.raw_override = 0x800000 if self.fault or 120 <= i < 124 else None
        d.nack = 150 <= i < 158
        d.busy_forever = 200 <= i < 212
        machine.world.clock.advance(self.dt_ms)

    def counters(self):
        d = self.dev
        return "starts %d status %d data %d data_busy %d bad %d temp %d" % (
            d.starts, d.status_reads, d.data_reads, d.data_reads_busy, d.bad_commands, self.drv.temp_c256)


class AN:
    dt_ms = 10
    fault = False                                      # force steady saturation (alloc runs)

    def __init__(self, port, direct=False):
        self.name = "analog_" + port
        w = machine.reset_world(port)
        w.logging = False
        self.src = Source(0)
        self.noise = Noise(44)
        divider = 0.6667 if port == "rp2" else 0.5
        self.out = devices.XGZP6847AOutput(self.src.value, divider=divider)
        self.adc = None
        self.rail = [3300000] * 8 if port == "rp2" else [2450000] * 8
        pin = 26 if port == "rp2" else 34
        if direct:                                     # ints around 250 mmHg at the pin
            self.adc = IntSource([2111400, 2111600, 2111200, 2111400, 2111800, 2111000, 2111400, 2111400]
                                 if port == "rp2" else
                                 [1583400, 1583500, 1583300, 1583400, 1583600, 1583200, 1583400, 1583400])
            w.attach_adc_uv(pin, self.adc.uv)
        else:
            w.attach_adc(pin, self.out.pin_volts)
        adc = machine.ADC(pin, atten=machine.ADC.ATTN_11DB) if port == "esp32" else machine.ADC(pin)
        self.drv = AnalogSensor(adc, port, divider, 4500, -40)
        self.drv.begin(w.clock)

    def step(self, i):
        self.src.v = -tri(i, 200, 45000) + self.noise.next(201) - 100
        if self.fault and self.adc is not None:
            self.adc.values = self.rail
        o = self.out
        o.open_wire = 100 <= i < 105
        o.shorted_to_supply = 140 <= i < 145
        machine.world.clock.advance(self.dt_ms)

    def counters(self):
        return "sum_mv %d" % int(self.drv.sensor_mv())


def scenarios(direct=False):
    """Build one scenario at a time: each resets the shared fake world."""
    yield HX(direct)
    yield MPR(direct)
    yield XG(direct)
    yield AN("rp2", direct)
    yield AN("esp32", direct)


def parity():
    for sc in scenarios():
        drv = sc.drv
        i = 0
        while i < 320:
            sc.step(i)
            st = drv.poll()
            print("%s %d %d %d" % (sc.name, i, st, drv.vacuum_pa))
            i += 1
        print("%s end max %d %s" % (sc.name, drv.max_vacuum_pa, sc.counters()))


def run_polls(sc, n, start, canary):
    """Poll n times, counting new readings and faults into sc.news/sc.faults
    (attributes, not a returned tuple: that would allocate)."""
    drv = sc.drv
    sc.news = 0
    sc.faults = 0
    junk = 0.0
    i = 0
    while i < n:
        sc.step(start + i)
        st = drv.poll()
        if st == 0:
            sc.news += 1
        elif st > 0:
            sc.faults += 1
        if canary:
            junk = junk + 0.5                          # one heap float per poll
        i += 1


def measure(sc, n, start, canary=False):
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    run_polls(sc, n, start, canary)
    used = gc.mem_alloc() - before
    gc.enable()
    return used


def alloc(n):
    for sc in scenarios(direct=True):
        run_polls(sc, 400, 0, False)                   # warm-up: past start-up, discards, faults
        used = measure(sc, n, 400)
        print("%s %d %d %d" % (sc.name, used, sc.news, sc.faults))
        if sc.name == "analog_rp2":
            used = measure(sc, n, 400, True)
            print("canary %d %d %d" % (used, sc.news, sc.faults))
        sc.fault = True                                # steady saturation: RANGE every reading
        run_polls(sc, 50, 400 + n, False)
        used = measure(sc, n, 450 + n)
        print("%s_range %d %d %d" % (sc.name, used, sc.news, sc.faults))
    sc = MPR()                                         # the fake machine's own I2C (information)
    run_polls(sc, 400, 0, False)
    used = measure(sc, n, 400)
    print("info_fake_i2c_mprls %d %d %d" % (used, sc.news, sc.faults))


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "parity"
    if mode == "parity":
        parity()
    elif mode == "alloc":
        if not hasattr(gc, "mem_alloc"):
            raise SystemExit("alloc needs MicroPython (gc.mem_alloc)")
        alloc(int(sys.argv[2]) if len(sys.argv) > 2 else 2000)


main()
