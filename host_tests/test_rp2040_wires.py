"""The emulated board's sensor models at the wire (tools/rp2040/wires.py),
without the emulator: the byte events an RP2040 I2C controller produces,
the HX710B's pin timing, the analog encoding. The datasheet vectors behind
the protocol models are checked in test_sensors.py; here the question is
whether the wire adapters hand them the right transactions."""
from devices import MPRLSDevice, XGZP6897DDevice

from tools.rp2040 import wires


class Clock:
    def __init__(self):
        self.ms = 0

    def ticks_ms(self):
        return self.ms

    def ticks_diff(self, a, b):
        return a - b


def write(bus, addr, data, stop=True):
    bus.event({"kind": "start", "repeated": False})
    ans = bus.event({"kind": "connect", "address": addr, "read": False})
    for v in data:
        bus.event({"kind": "write", "value": v})
    if stop:
        bus.event({"kind": "stop"})
    return ans


def read(bus, addr, repeated=False):
    bus.event({"kind": "start", "repeated": repeated})
    ans = bus.event({"kind": "connect", "address": addr, "read": True})
    bus.event({"kind": "stop"})
    return ans


def test_mprls_command_then_read_gives_status_and_count():
    clock = Clock()
    part = MPRLSDevice(lambda: 101325, clock=clock)
    bus = wires.I2CTarget()
    bus.add(0x18, part)
    assert write(bus, 0x18, b"\xaa\x00\x00") == {"ack": True}
    assert part.starts == 1 and part.bad_commands == 0
    assert read(bus, 0x18)["data"][0] & 0x20             # busy during the 5 ms conversion
    clock.ms = 6
    data = read(bus, 0x18)["data"]
    count = data[1] << 16 | data[2] << 8 | data[3]
    assert data[0] == 0x40 and count == 1677722 + (101325 * 13421772 + 86184) // 172369


def test_a_silent_or_absent_part_does_not_acknowledge_its_address():
    bus = wires.I2CTarget()
    bus.add(0x18, MPRLSDevice(lambda: 101325, clock=Clock()))
    assert write(bus, 0x19, b"\x00") == {"ack": False}
    bus.silent.add(0x18)
    assert read(bus, 0x18) == {"ack": False}


def test_xgzp6897d_register_pointer_then_repeated_start_read():
    clock = Clock()
    part = XGZP6897DDevice(lambda: -20000, 64, clock=clock)
    bus = wires.I2CTarget()
    bus.add(0x6D, part, register=True)
    write(bus, 0x6D, b"\x30\x0a")                         # writeto_mem(0x6D, 0x30, b"\x0a"): start a conversion
    assert part.starts == 1
    clock.ms = 10
    write(bus, 0x6D, b"\x30", stop=False)                 # readfrom_mem(0x6D, 0x30, 1)
    assert read(bus, 0x6D, repeated=True)["data"][0] == 0x02
    write(bus, 0x6D, b"\x06", stop=False)                 # readfrom_mem(0x6D, 0x06, 5)
    d = read(bus, 0x6D, repeated=True)["data"]
    raw = d[0] << 16 | d[1] << 8 | d[2]
    assert raw - (1 << 24) == -20000 * 64 and part.bad_commands == 0


def test_hx710b_shifts_msb_first_and_picks_the_rate_by_pulse_count():
    now = [0]
    hx = wires.HX710BWire(lambda: 0x123456, now[0])
    assert hx.dout_level(0) == 1                           # converting after power-up
    t = hx.STARTUP_NS
    assert hx.dout_level(t) == 0
    bits = 0
    for i in range(27):
        hx.edge(1, t)
        t += 1000
        if i < 24:
            bits = bits << 1 | hx.dout_level(t)
        hx.edge(0, t)
        t += 1000
    assert bits == 0x123456 and hx.dout_level(t) == 1      # the 25th pulse drives DOUT high
    t += 200_000
    assert hx.dout_level(t) == 1 and hx.mode == 27         # 27 pulses: 40 Hz next
    assert hx.dout_level(t + 25_000_000) == 0 and hx.powerdowns == 0 and hx.protocol_errors == 0


def test_hx710b_powers_down_when_sck_stays_high_over_60_us():
    hx = wires.HX710BWire(lambda: 1, 0)
    t = hx.STARTUP_NS
    hx.edge(1, t)
    hx.edge(0, t + 61_000)
    assert hx.powerdowns == 1
    assert hx.dout_level(t + 100_000_000) == 1             # asleep, then 400 ms to wake
    assert hx.dout_level(t + 61_000 + hx.STARTUP_NS) == 0
    hx2 = wires.HX710BWire(lambda: 1, 0)
    hx2.edge(1, t)
    hx2.edge(0, t + 59_000)
    assert hx2.powerdowns == 0


def test_analog_code_follows_the_divider_and_clips_at_the_rails():
    assert wires.analog_code(4500, 2 / 3) == int(3000 * 4096 / 3300)
    assert wires.analog_code(6000, 1.0) == 4095
    assert wires.analog_code(-10, 2 / 3) == 0
