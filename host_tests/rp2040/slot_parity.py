"""The slot functions (tools/deploy.py VIPER_FUNCTIONS) over fixed inputs:
run on the emulated Pico, where make flash compiled them as viper code, and
on CPython, where ptr32() is the array itself; test_rp2040.py compares the
two outputs line by line. The inputs cross every clamp and both signs (a
negative slot is where a viper word and a Python int could part). The HEAP
line is what tickbench.drive times its (here empty) button script from."""
from hw.sensors.analog import AnalogSensor
from pump.control import Control


def control_rows():
    c = Control(13107, 1100, 38000)
    acc = 0
    for i in range(1200):
        mode = 1 if i % 320 < 160 else 0
        if i % 80 == 0:
            c.new_target(mode, 30000 if i % 240 else 12000)
        ph = i % 80
        sp = -1 if ph >= 50 else (30000 * ph // 20 if ph < 20 else 30000)
        v = (i * 7919) % 46000 - 3000                  # anywhere, below ambient too ...
        if i % 400 < 250:
            v = (sp if sp > 0 else 0) + (i * 7919) % 1200 - 500     # ... or near the setpoint
        d = c.update(10 if i % 9 else 61, sp, v, ph > 20, mode, i % 3 != 0)
        if ph == 79:
            c.end_cycle(mode, 30000, (i * 31) % 45000, 500)
        if i % 331 == 0:
            c.capped(d // 3)
        acc = (acc * 31 + d + c.integ + 7 * c.sp + c.trims[mode] + c.ffs[mode]) % 1000000007
        if i % 200 == 199:
            print("control", i, acc, d, c.integ, c.sp, c.trims[0], c.trims[1], c.ffs[0], c.ffs[1])


class ADC:
    def __init__(self):
        self.i = 0

    def read_u16(self):
        self.i += 1
        i = self.i
        if i % 401 == 0:
            raise OSError(5)
        if i % 307 == 0:
            return 65535
        return (i * 2654435761) % 60000 + 2000


def sensor_rows():
    s = AnalogSensor(ADC(), "rp2", 2 / 3, 4500, -40, samples=4)
    acc = 0
    for i in range(600):
        st = s.poll()
        acc = (acc * 31 + st * 1000003 + s.vacuum_pa) % 1000000007
        if i % 100 == 99:
            print("sensor", i, acc, st, s.vacuum_pa)


print("HEAP")
control_rows()
sensor_rows()
print("PARITY done")
