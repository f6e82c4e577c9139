"""What viper code would save on the tick, measured on the emulated Pico
(`python -m tools.rp2040.viperprobe`, about 2 minutes).

Times 500 calls of the firmware's own `Control.update` (native, as
flashed) against the same arithmetic written as a viper function over an
`array("i")` of its state, and checks over 300 ticks of suction, release,
fresh and stale readings that both give the same duty. A measurement for
docs/design.md's plan (the tick's hot state in viper slots), not firmware.
"""
import sys

from tools.rp2040 import tickbench as tb

H = r'''
import time, micropython, gc
from array import array
from pump.control import Control
print("HEAP", gc.mem_alloc())
c = Control(13107, 1100, 38000)
c.new_target(0, 30000)
S = array('i', [0] * 16)
S[9] = 13107; S[10] = 1100; S[11] = 38000
@micropython.viper
def vupdate(so, dt: int, setpoint: int, vac: int, holding: int, mode: int, fresh: int) -> int:
    s = ptr32(so)
    since = s[0] + dt
    slope = s[1]
    if fresh:
        if 0 < since <= 50:
            d = vac - s[2]
            if d > 20000:
                d = 20000
            elif d < -20000:
                d = -20000
            slope = (d << 4) // since
        else:
            slope = 0
        s[1] = slope
        s[2] = vac
        since = 0
    s[0] = since
    if setpoint < 0:
        s[3] = 0
        return 0
    if dt > 50:
        dt = 50
    sp = 0
    if setpoint > 0:
        sp = setpoint + s[12 + mode]
        if sp > s[11]:
            sp = s[11]
        elif sp < 0:
            sp = 0
    s[8] = sp
    err = sp - vac
    if slope > 0:
        err -= slope * 30 >> 4
    if err > 60000:
        err = 60000
    elif err < -60000:
        err = -60000
    integ = s[4]
    u = s[14 + mode] + err * 12 + (integ >> 8)
    if holding and not ((u >= 65535 and err > 0) or (u <= 0 and err < 0)):
        integ += err * dt * 8
        if integ > 16776960:
            integ = 16776960
        elif integ < -16776960:
            integ = -16776960
        s[4] = integ
    min_duty = s[9]
    if u >= 65535:
        u = 65535
        s[5] += dt
    elif u < min_duty:
        u = 0 if u < min_duty // 2 else min_duty
    top = s[3] + s[10] * dt
    if top < min_duty:
        top = min_duty
    if u > top:
        u = top
    s[3] = u
    if holding and -400 < sp - vac < 400:
        s[6] += u * dt >> 4
        s[7] += dt
    return u
N = 500
def bench(label, f):
    t0 = time.ticks_us()
    i = 0
    while i < N:
        f(i)
        i += 1
    print("R", label, time.ticks_diff(time.ticks_us(), t0) / N)
bench("empty", lambda i: 0)
bench("native Control.update", lambda i: c.update(10, 25000, 20000 + (i & 255), True, 0, True))
bench("viper update", lambda i: vupdate(S, 10, 25000, 20000 + (i & 255), 1, 0, 1))
# the same results?
c2 = Control(13107, 1100, 38000); S2 = array('i', [0] * 16); S2[9] = 13107; S2[10] = 1100; S2[11] = 38000
bad = 0
for i in range(300):
    v = (i * 97) % 30000
    a = c2.update(10, 25000 if i % 60 < 40 else -1, v, i % 60 > 10, 0, i % 2 == 0)
    b = vupdate(S2, 10, 25000 if i % 60 < 40 else -1, v, 1 if i % 60 > 10 else 0, 0, 1 if i % 2 == 0 else 0)
    if a != b:
        bad += 1
print("R mismatches", bad)
'''


def main():
    tb.SCRIPT[:] = []                # no presses, no fault: only the harness
    text = tb.drive("pico", H, out=lambda s: print(s, file=sys.stderr))
    for line in text.splitlines():
        if line.startswith("R "):
            print(line[2:])


if __name__ == "__main__":
    main()
