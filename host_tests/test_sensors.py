"""Pressure-sensor drivers against protocol models of their parts.

Every driver talks to a model in tools/fakes/devices.py through the fake
`machine` (pins, ADC, I2C), so the bits, bytes and timing on the wire are
the parts' real protocols. Conversions are checked against the docs/sensors.md
vectors (numbers that do not come from the models), and each failure mode
the safety monitor relies on is provoked: saturation, a part that never
becomes ready, a dead bus, a stuck data line, unsettled readings after a
mode change. `poll()` is checked never to move the clock (it never waits)
and never to raise. The same drivers run under real MicroPython for parity
and for a zero-allocation check (vm_scripts/sensor_runs.py), and under
checked arithmetic for the 32-bit small-int range.
"""
import ast
import importlib
import os

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import devices
import machine
import mpvm
from fake_clock import FakeClock
from hw.sensors import NEW, NONE, SensorError
from hw.sensors.analog import AnalogSensor
from hw.sensors.hx710b import HX710B
from hw.sensors import mprls as mprls_mod
from hw.sensors.mprls import MPRLS, MPRLSFifo
from hw.sensors.xgzp6897d import XGZP6897D
from pump.codes import FAULT_SENSOR_IO, FAULT_SENSOR_RANGE, FAULT_SENSOR_STALE
from test_small_ints import CheckArithmetic

MMHG = 133.322387
VAC_250_MMHG = 250 * MMHG            # 33330.6 Pa
STATUSES = (NEW, NONE, FAULT_SENSOR_IO, FAULT_SENSOR_RANGE)
SCRIPT = os.path.join(mpvm.SCRIPTS, "sensor_runs.py")


@pytest.fixture
def world():
    return machine.reset_world("rp2")


@pytest.fixture
def esp32():
    return machine.reset_world("esp32")


class Value:
    """A physical quantity a device model reads (counts, Pa); the test sets .v."""

    def __init__(self, v=0):
        self.v = v

    def __call__(self):
        return self.v


def poll(drv):
    """One poll that must not wait (the fake clock must not move) nor raise."""
    clock = machine.world.clock
    now, slept = clock.now, clock.slept_ms
    status = drv.poll()
    assert clock.now == now and clock.slept_ms == slept, "poll() waited"
    assert status in STATUSES
    return status


def poll_until(drv, dt_ms=1, limit_ms=3000):
    """Advance the clock dt_ms between polls until poll() says something."""
    t = 0
    while t <= limit_ms:
        status = poll(drv)
        if status != NONE:
            return status
        machine.world.clock.advance(dt_ms)
        t += dt_ms
    return NONE


# --------------------------------------------------------------------------- HX710B

def make_hx(world, count=0, offset=0, cpk=1000000, rate_hz=40, irq=True, **model):
    src = Value(count)
    dev = devices.HX710BModule(world, 2, 3, src, **model)
    sck = machine.Pin(2, machine.Pin.OUT, value=0)
    dout = machine.Pin(3, machine.Pin.IN)
    drv = HX710B(sck, dout, offset, cpk, rate_hz,
                 machine.disable_irq if irq else None, machine.enable_irq if irq else None)
    return drv, dev, src


def finished_reads(dev):
    """Read sequences the model has closed (it closes one when time moves on)."""
    machine.world.clock.advance(1)
    dev.dout()
    return dev.reads


@pytest.mark.parametrize("code, cpk, raw, pa", [
    (0x0F4240, 1000000, 1000000, 1000),      # docs/sensors.md: 1000 Pa = 7.50 mmHg
    (0xF0BDC0, 1000000, -1000000, -1000),
    (0xFFFFFF, 1000000, -1, 0),
    (0xFFFFFF, 1000, -1, -1),                # 1 Pa per count: the -1 is visible
    (0x0F4240, 1000, 1000000, 1000000),
    (0xF0BDC0, 1000, -1000000, -1000000),
    (0x0F4240, -1000000, 1000000, -1000),    # bridge wired the other way round
])
def test_hx710b_vectors_through_the_wire(world, code, cpk, raw, pa):
    drv, dev, _ = make_hx(world, cpk=cpk)
    drv.begin(world.clock)
    dev.raw_override = code
    assert poll_until(drv) == NEW
    assert (drv.raw, drv.vacuum_pa) == (raw, pa)


@pytest.mark.parametrize("code", [0x7FFFFF, 0x800000])
def test_hx710b_saturation_codes_are_range_faults(world, code):
    drv, dev, _ = make_hx(world)
    drv.begin(world.clock)
    dev.raw_override = code
    for _ in range(5):                       # every saturated reading, not just the first
        assert poll_until(drv) == FAULT_SENSOR_RANGE
        world.clock.advance(1)


@pytest.mark.parametrize("count", [1 << 24, -(1 << 24)])
def test_hx710b_bridge_past_the_rail_is_a_fault_not_a_pressure(world, count):
    drv, dev, src = make_hx(world, count=1000)
    drv.begin(world.clock)
    assert drv.vacuum_pa == 1
    src.v = count                            # the model saturates it as the chip does
    assert poll_until(drv) == FAULT_SENSOR_RANGE


def test_hx710b_discards_the_unsettled_readings_after_power_up_and_mode_change(world):
    # The model makes the power-up conversion and the first one in the new
    # (40 Hz) mode read 777777 counts off.
    drv, dev, _ = make_hx(world, count=123456, cpk=1000)    # 1 Pa per count
    reads = []                                               # (status, count) per clocked read
    while not reads or reads[-1][0] != NEW:
        status = poll(drv)
        if dev.pulses:                                       # this poll clocked a conversion out
            reads.append((status, drv.raw))
        else:
            assert status == NONE
        world.clock.advance(1)
    assert reads == [(NONE, 123456 + 777777), (NONE, 123456 + 777777), (NEW, 123456)]
    assert drv.vacuum_pa == 123456


def test_hx710b_every_pulse_train_is_27_pulses_with_irqs_off(world):
    drv, dev, src = make_hx(world)
    drv.begin(world.clock)
    for i in range(60):
        src.v = 1000 * i
        assert poll_until(drv) == NEW
        assert drv.raw == 1000 * i
    assert finished_reads(dev) == 63         # 2 discarded + 1 in begin + 60
    assert dev.seq_counts[27] == dev.reads and sum(dev.seq_counts) == dev.reads
    assert dev.mode == 27 and dev.period_ms() == drv.period_ms == 25
    assert (dev.protocol_errors, dev.early_pulses, dev.unprotected_pulses, dev.powerdowns) == (0, 0, 0, 0)
    assert world.irq_disabled == 0


def test_hx710b_10hz_mode_sends_25_pulses(world):
    drv, dev, _ = make_hx(world, rate_hz=10)
    drv.begin(world.clock)
    for _ in range(5):
        assert poll_until(drv) == NEW
    assert drv.period_ms == 100
    assert finished_reads(dev) == 8 == dev.seq_counts[25] and dev.mode == 25
    assert dev.protocol_errors == 0


def test_hx710b_without_irq_control_the_model_counts_unprotected_pulses(world):
    # The counter the test above relies on can see a driver that forgets IRQs.
    drv, dev, _ = make_hx(world, irq=False)
    drv.begin(world.clock)
    assert dev.unprotected_pulses == 27 * finished_reads(dev) == 81


def test_hx710b_reads_only_when_dout_is_low(world):
    drv, dev, _ = make_hx(world)
    drv.begin(world.clock)
    reads0, news = dev.reads, 0
    for _ in range(1000):                    # 1 s at a 1 ms tick
        world.clock.advance(1)
        news += poll(drv) == NEW
    assert dev.early_pulses == 0             # never clocked while converting
    assert news == dev.reads - reads0        # one reading per conversion
    assert 35 <= news <= 40                  # ~40 Hz


def test_hx710b_dout_stuck_low_is_an_io_fault(world):
    drv, dev, src = make_hx(world, count=5000, cpk=1000)
    drv.begin(world.clock)
    dev.stuck_low = True                     # every bit reads 0: a plausible 0 Pa
    for _ in range(10):
        assert poll(drv) == FAULT_SENSOR_IO
        world.clock.advance(10)
    dev.stuck_low = False
    assert poll_until(drv) == NEW            # recovers (after discarding again)
    assert drv.vacuum_pa == 5000


def test_hx710b_begin_reports_dout_stuck_low(world):
    drv, dev, _ = make_hx(world)
    dev.stuck_low = True
    with pytest.raises(SensorError) as e:
        drv.begin(world.clock)
    assert e.value.code == FAULT_SENSOR_IO


def test_hx710b_never_ready_is_stale(world):
    drv, dev, _ = make_hx(world)
    drv.begin(world.clock)
    dev.never_ready = True
    reads = dev.reads
    for _ in range(200):
        world.clock.advance(5)
        assert poll(drv) == NONE
    t0 = world.clock.now
    with pytest.raises(SensorError) as e:
        drv.read(world.clock, timeout_ms=300)
    assert e.value.code == FAULT_SENSOR_STALE
    assert world.clock.ticks_diff(world.clock.now, t0) > 300
    assert dev.reads == reads and dev.early_pulses == 0
    fresh, dev2, _ = make_hx(machine.reset_world("rp2"))
    dev2.never_ready = True
    with pytest.raises(SensorError) as e:
        fresh.begin(machine.world.clock)
    assert e.value.code == FAULT_SENSOR_STALE


@settings(max_examples=40)
@given(offset=st.integers(-0x800000, 0x7FFFFF),
       cpk=st.one_of(st.integers(200, 1 << 23), st.integers(-(1 << 23), -200)),
       codes=st.lists(st.integers(0, 0xFFFFFF), min_size=1, max_size=8))
def test_hx710b_conversion_matches_the_formula(offset, cpk, codes):
    world = machine.reset_world("rp2")
    try:
        drv, dev, _ = make_hx(world, offset=offset, cpk=cpk, startup_ms=25)
    except ValueError:
        assume(False)                        # offset at the vacuum-side rail: refused
    drv.begin(world.clock)
    for code in codes:
        dev.raw_override = code
        status = poll_until(drv)
        raw = code - (1 << 24) if code & 0x800000 else code
        if raw in (0x7FFFFF, -0x800000):
            assert status == FAULT_SENSOR_RANGE
            continue
        expected = (raw - offset) * 1000 / cpk
        assert status == NEW and drv.raw == raw
        assert abs(drv.vacuum_pa - expected) <= 0.5 + abs(expected) * 4e-5


@pytest.mark.parametrize("offset, cpk, max_pa", [
    (0, 1000000, 8388), (0, -1000000, 8388),
    (3240000, 1300000, 3960), (3240000, -1300000, 8945),   # docs/sensors.md's measured module
])
def test_hx710b_max_vacuum_is_where_the_adc_saturates(world, offset, cpk, max_pa):
    drv, dev, _ = make_hx(world, offset=offset, cpk=cpk)
    assert drv.max_vacuum_pa == max_pa
    drv.begin(world.clock)
    dev.raw_override = (0x7FFFFE if cpk > 0 else 0x800001)   # last code before the rail
    assert poll_until(drv) == NEW and max_pa <= drv.vacuum_pa <= max_pa + 1


def test_hx710b_refuses_bad_configuration(world):
    for kw in (dict(rate_hz=80), dict(offset=0x7FFFFF), dict(cpk=0), dict(offset=1 << 24), dict(cpk=10)):
        with pytest.raises(ValueError):
            make_hx(world, **kw)
    with pytest.raises(ValueError):                          # half an IRQ pair
        HX710B(machine.Pin(4, machine.Pin.OUT), machine.Pin(5), 0, 1000000, 40, machine.disable_irq)


# --------------------------------------------------------------------------- MPRLS

@pytest.fixture(params=["i2c", "fifo"])
def mprls_kind(request):
    """Every MPRLS test runs through machine.I2C and through the RP2040
    controller's registers (MPRLSFifo on the fake's I2CBlock)."""
    return request.param


def new_mprls(kind, address=0x18):
    i2c = machine.I2C(0)
    return MPRLS(i2c, address) if kind == "i2c" else MPRLSFifo(i2c, machine.mem32, 0, address)


def make_mprls(world, pa=101325, kind="i2c", **model):
    src = Value(pa)
    dev = devices.MPRLSDevice(src, **model)
    world.attach_i2c(0, 0x18, dev)
    drv = new_mprls(kind)
    if kind == "fifo":
        drv._clock = world.clock              # as begin() sets it, for the tests that poll without begin()
    return drv, dev, src


@pytest.mark.parametrize("count, abs_pa", [
    (0x19999A, 0), (0x91FD3D, 101325), (0x6A6333, 67994), (0xE66666, 172369),
])
def test_mprls_vectors(world, mprls_kind, count, abs_pa):
    drv, dev, _ = make_mprls(world, kind=mprls_kind)
    drv.begin(world.clock)
    assert drv.ambient_pa == 101325 == drv.max_vacuum_pa
    dev.count_override = count
    assert poll_until(drv) == NEW
    assert drv.abs_pa == abs_pa and drv.vacuum_pa == 101325 - abs_pa


def test_mprls_250_mmhg_below_760(world, mprls_kind):
    drv, dev, _ = make_mprls(world, kind=mprls_kind)
    drv.begin(world.clock)
    dev.count_override = 0x6A6333             # 510.0 mmHg absolute
    assert poll_until(drv) == NEW
    assert abs(drv.vacuum_pa - VAC_250_MMHG) < 1


@pytest.mark.parametrize("status, result", [
    (0x60, NONE),                            # busy
    (0x44, FAULT_SENSOR_IO),                 # memory integrity
    (0x41, FAULT_SENSOR_RANGE),              # math saturation
    (0x45, FAULT_SENSOR_IO),
    (0x00, FAULT_SENSOR_IO),                 # power bit missing
    (0x01, FAULT_SENSOR_IO),
    (0x20, FAULT_SENSOR_IO),
    (0x48, FAULT_SENSOR_IO),                 # a bit the part never sets
    (0x40, NEW),
])
def test_mprls_status_byte(world, mprls_kind, status, result):
    drv, dev, _ = make_mprls(world, kind=mprls_kind)
    drv.begin(world.clock)
    dev.status_override = status
    world.clock.advance(10)
    starts = dev.starts
    assert poll(drv) == result
    assert dev.starts == starts + (0 if result == NONE else 1)   # busy: no new start


@pytest.mark.parametrize("count", [0, 0x19999A - 1, 0xE66666 + 1, 0xFFFFFF])
def test_mprls_counts_outside_the_calibrated_range_are_range_faults(world, mprls_kind, count):
    drv, dev, _ = make_mprls(world, kind=mprls_kind)
    drv.begin(world.clock)
    dev.count_override = count
    assert poll_until(drv) == FAULT_SENSOR_RANGE


def test_mprls_starts_a_conversion_and_collects_it_on_a_later_poll(world, mprls_kind):
    drv, dev, _ = make_mprls(world, kind=mprls_kind)
    world.log.clear()
    assert poll(drv) == NONE                 # starts only
    assert [e[0] for e in world.log] == ["i2c_write"] and world.log[0][3] == b"\xaa\x00\x00"
    assert poll(drv) == NONE                 # same instant: busy, no second start
    assert dev.starts == 1 and dev.reads_busy == 1
    world.clock.advance(3)
    assert poll(drv) == NONE and dev.starts == 1
    world.clock.advance(2)
    world.log.clear()
    assert poll(drv) == NEW                  # collect, then start the next one
    assert [e[0] for e in world.log] == ["i2c_read", "i2c_write"]
    assert world.log[0][3] == 4 and dev.starts == 2
    assert poll(drv) == NONE                 # the next one is not done yet
    assert dev.starts_while_busy == 0 and dev.bad_commands == 0


def test_mprls_tracks_pressure_across_the_range(world, mprls_kind):
    drv, dev, src = make_mprls(world, kind=mprls_kind)
    drv.begin(world.clock)
    for pa in range(1000, 172000, 997):
        src.v = pa
        assert poll_until(drv) == NEW        # the conversion started before this value
        assert poll_until(drv) == NEW
        assert abs(drv.abs_pa - pa) <= 1 and drv.vacuum_pa == 101325 - drv.abs_pa


def test_mprls_busy_forever_is_stale(world, mprls_kind):
    drv, dev, _ = make_mprls(world, kind=mprls_kind)
    drv.begin(world.clock)
    dev.busy_forever = True
    starts = dev.starts
    for _ in range(100):
        world.clock.advance(5)
        assert poll(drv) == NONE
    with pytest.raises(SensorError) as e:
        drv.read(world.clock)
    assert e.value.code == FAULT_SENSOR_STALE and dev.starts == starts


@pytest.mark.parametrize("how", ["bus", "nack"])
def test_mprls_disconnected_is_io_and_recovers(world, mprls_kind, how):
    drv, dev, _ = make_mprls(world, kind=mprls_kind)
    drv.begin(world.clock)
    if how == "bus":
        world.i2c_fail[0] = 5
    else:
        dev.nack = True
    for _ in range(10):
        world.clock.advance(5)
        assert poll(drv) == FAULT_SENSOR_IO
    world.i2c_fail[0] = 0
    dev.nack = False
    assert poll(drv) == NONE                 # starts again
    assert poll_until(drv) == NEW and drv.vacuum_pa == 0


def test_mprls_wrong_address_is_io(world, mprls_kind):
    make_mprls(world, kind=mprls_kind)
    drv = new_mprls(mprls_kind, address=0x19)
    assert poll(drv) == FAULT_SENSOR_IO
    with pytest.raises(SensorError) as e:
        drv.begin(world.clock)
    assert e.value.code == FAULT_SENSOR_IO


def test_mprls_begin_averages_ambient(world, mprls_kind):
    seq = iter([101300, 101340, 101310, 101330, 101320, 101320, 101290, 101350] * 3)
    dev = devices.MPRLSDevice(lambda: next(seq))
    world.attach_i2c(0, 0x18, dev)
    drv = new_mprls(mprls_kind)
    assert drv.max_vacuum_pa == 50000        # before begin: the lowest ambient begin accepts
    drv.begin(world.clock)
    assert drv.ambient_pa == 101320 == drv.max_vacuum_pa


@pytest.mark.parametrize("knob, code", [
    ("low", FAULT_SENSOR_RANGE), ("drifting", FAULT_SENSOR_RANGE), ("saturated", FAULT_SENSOR_RANGE),
    ("integrity_fail", FAULT_SENSOR_IO), ("busy_forever", FAULT_SENSOR_STALE), ("nack", FAULT_SENSOR_IO),
])
def test_mprls_begin_refuses_a_bad_ambient(world, mprls_kind, knob, code):
    if knob == "drifting":                   # still venting: rises 200 Pa per conversion
        steps = iter(range(90000, 200000, 200))
        dev = devices.MPRLSDevice(lambda: next(steps))
        world.attach_i2c(0, 0x18, dev)
        drv = new_mprls(mprls_kind)
    else:
        drv, dev, _ = make_mprls(world, kind=mprls_kind, pa=40000 if knob == "low" else 101325)
        if knob != "low":
            setattr(dev, knob, True)
    with pytest.raises(SensorError) as e:
        drv.begin(world.clock)
    assert e.value.code == code


class WriteNack:
    """An MPRLS whose writes go unacknowledged while `on` (reads answer)."""

    def __init__(self, dev):
        self.dev = dev
        self.on = False

    def write(self, buf):
        if self.on:
            raise OSError(5)
        self.dev.write(buf)

    def read_into(self, buf):
        self.dev.read_into(buf)


def test_mprls_fifo_sets_its_target_address_with_the_controller_disabled(world):
    drv, dev, _ = make_mprls(world, kind="fifo")
    block = machine.i2c_block(0)
    assert block.tar == 0x18 and block.enabled      # the fake ignores a TAR write while enabled
    drv.begin(world.clock)
    assert dev.starts > 0 and dev.bad_commands == 0


def test_mprls_fifo_a_queued_start_not_acknowledged_is_a_fault_at_the_next_poll(world):
    src = Value(101325)
    dev = devices.MPRLSDevice(src)
    part = WriteNack(dev)
    world.attach_i2c(0, 0x18, part)
    drv = MPRLSFifo(machine.I2C(0), machine.mem32, 0)
    drv.begin(world.clock)
    world.clock.advance(10)
    part.on = True
    assert poll(drv) == NEW                  # the read was answered; its start command was queued
    block = machine.i2c_block(0)
    assert block.aborted and block.abort_source & 1          # ABRT_7B_ADDR_NOACK, left for the next poll
    world.clock.advance(10)
    assert poll(drv) == FAULT_SENSOR_IO      # seen there, and cleared
    assert not block.aborted
    assert poll(drv) == FAULT_SENSOR_IO      # a start with nothing pending is waited for: still refused
    part.on = False
    assert poll(drv) == NONE                 # starts again
    assert poll_until(drv) == NEW and drv.vacuum_pa == 0


def test_mprls_fifo_a_stuck_bus_is_a_fault_within_its_wait(world):
    drv, dev, _ = make_mprls(world, kind="fifo")
    drv.begin(world.clock)
    block = machine.i2c_block(0)
    block.hold = True
    world.clock.advance(10)
    t0 = world.clock.now
    assert drv.poll() == FAULT_SENSOR_IO
    waited = world.clock.now - t0
    # More than _WAIT_MS, then the fault; the fake's time moves 1 ms per
    # 4096 status reads, and the driver looks at its clock every 2048 turns
    # of its loop (two reads each): here every 1 ms.
    assert mprls_mod._WAIT_MS < waited <= mprls_mod._WAIT_MS + 2
    assert block.tx == [] and block.rx == [] and not block.aborted   # the transfer aborted and cleaned up
    block.hold = False
    world.clock.advance(10)
    assert poll(drv) == NONE                 # starts again
    assert poll_until(drv) == NEW


def test_mprls_fifo_stray_bytes_in_the_rx_fifo_are_a_fault_and_are_dropped(world):
    drv, dev, _ = make_mprls(world, kind="fifo")
    drv.begin(world.clock)
    block = machine.i2c_block(0)
    block.rx.extend([0x40, 1, 2])            # bytes nobody asked for: not the part's answer
    world.clock.advance(10)
    assert poll(drv) == FAULT_SENSOR_IO
    assert block.rx == []
    assert poll(drv) == NONE and poll_until(drv) == NEW


def test_mprls_fifo_a_read_queued_ahead_is_what_the_poll_collects(world):
    drv, dev, src = make_mprls(world, kind="fifo")
    drv.begin(world.clock)
    world.clock.advance(10)
    reads, starts = dev.reads, dev.starts
    block = machine.i2c_block(0)
    assert drv.request() == 1
    assert dev.reads == reads + 1 and len(block.rx) == 4   # on the bus before the poll
    assert drv.request() == 0 and dev.reads == reads + 1  # one read per poll, not two
    src.v = 50000                            # the part answered the conversion already made
    assert poll(drv) == NEW and drv.vacuum_pa == 0
    assert dev.reads == reads + 1 and dev.starts == starts + 1   # no second read; the next start queued
    assert block.rx == [] and not block.aborted
    world.clock.advance(10)
    assert poll(drv) == NEW and drv.vacuum_pa == 101325 - 50000  # without a request, as before


def test_mprls_fifo_a_second_request_while_the_first_is_on_the_wire_queues_nothing(world):
    drv, dev, _ = make_mprls(world, kind="fifo")
    drv.begin(world.clock)
    world.clock.advance(10)
    block = machine.i2c_block(0)
    block.hold = True                        # the first read still on the wire: no byte in yet
    assert drv.request() == 1 and len(block.tx) == 4 and block.rx == []
    assert drv.request() == 0 and len(block.tx) == 4
    block.release()                          # the bus lets go: the read completes
    assert poll(drv) == NEW and block.rx == [] and dev.bad_commands == 0


def test_mprls_fifo_a_request_with_nothing_pending_does_nothing(world):
    drv, dev, _ = make_mprls(world, kind="fifo")
    world.log.clear()
    assert drv.request() == 0 and world.log == []       # the first poll starts the conversion
    assert poll(drv) == NONE and dev.starts == 1
    world.clock.advance(10)
    assert drv.request() == 1 and poll(drv) == NEW


def test_mprls_fifo_a_queued_read_not_acknowledged_is_a_fault_at_its_poll(world):
    drv, dev, _ = make_mprls(world, kind="fifo")
    drv.begin(world.clock)
    world.clock.advance(10)
    world.i2c_fail[0] = 5                    # unplugged: EIO
    assert drv.request() == 1
    assert poll(drv) == FAULT_SENSOR_IO
    assert not machine.i2c_block(0).aborted  # cleared for the next poll
    world.i2c_fail[0] = 0
    assert poll(drv) == NONE and poll_until(drv) == NEW


def test_mprls_fifo_a_request_leaves_stray_bytes_to_the_poll(world):
    drv, dev, _ = make_mprls(world, kind="fifo")
    drv.begin(world.clock)
    block = machine.i2c_block(0)
    block.rx.extend([0x40, 1, 2, 3])         # four bytes nobody asked for: not the part's answer
    world.clock.advance(10)
    reads = dev.reads
    assert drv.request() == 0 and dev.reads == reads
    assert poll(drv) == FAULT_SENSOR_IO and block.rx == []
    assert poll(drv) == NONE and poll_until(drv) == NEW


@pytest.mark.parametrize("display_bus, rtc_bus, port, kind", [
    (None, None, "rp2", "MPRLSFifo"),
    (0, None, "rp2", "MPRLS"),               # the display shares the sensor's bus
    (None, 0, "rp2", "MPRLS"),               # so does the clock module
    (1, 1, "rp2", "MPRLSFifo"),              # both on the other bus
    (None, None, "esp32", "MPRLS"),
])
def test_the_factory_drives_the_mprls_through_the_registers_only_on_a_bus_of_its_own(display_bus, rtc_bus, port,
                                                                                     kind):
    import json

    from hw import board as board_mod
    from hw import factory
    name = "pico_w" if port == "rp2" else "esp32_devkitc"
    with open(os.path.join(os.path.dirname(__file__), "..", "boards", name + ".json")) as f:
        raw = json.load(f)
    if port == "esp32":
        raw["sensor"] = {"type": "mprls", "i2c": 0, "sda": 21, "scl": 22, "freq": 400000}
    if display_bus is not None:
        sda, scl = (4, 5) if display_bus == 0 else (2, 3)
        raw["indicator"]["display"] = {"i2c": display_bus, "sda": sda, "scl": scl, "address": 60, "width": 128,
                                       "height": 64}
    if rtc_bus is not None:
        sda, scl = (4, 5) if rtc_bus == 0 else (2, 3)
        raw["rtc"] = {"type": "ds3231", "i2c": rtc_bus, "sda": sda, "scl": scl}
    b, errors = board_mod.load(raw)
    assert errors == [], errors
    machine.reset_world(port)
    assert type(factory.make_sensor(machine, b, {})).__name__ == kind


# --------------------------------------------------------------------------- XGZP6897D

def make_xgzp(world, pa=0, k=64, **model):
    src = Value(pa)
    dev = devices.XGZP6897DDevice(src, k, **model)
    world.attach_i2c(0, 0x6D, dev)
    return XGZP6897D(machine.I2C(0), k), dev, src


@pytest.mark.parametrize("code, raw, vacuum", [
    (0xDF735A, -2133158, 33331),             # -250.0 mmHg
    (0x9E5800, -6400000, 100000),
    (0x00FA00, 64000, -1000),
])
def test_xgzp_vectors(world, code, raw, vacuum):
    drv, dev, _ = make_xgzp(world)
    drv.begin(world.clock)
    dev.raw_override = code
    assert poll_until(drv) == NEW
    assert (drv.raw, drv.vacuum_pa) == (raw, vacuum)
    assert abs(drv.vacuum_pa + raw / 64) <= 0.5


def test_xgzp_250_mmhg(world):
    drv, dev, _ = make_xgzp(world)
    drv.begin(world.clock)
    dev.raw_override = 0xDF735A
    assert poll_until(drv) == NEW and abs(drv.vacuum_pa - VAC_250_MMHG) < 1


@pytest.mark.parametrize("code, raw", [(0x800000, -8388608), (0x7FFFFF, 8388607)])
def test_xgzp_range_end_is_a_fault(world, code, raw):
    drv, dev, _ = make_xgzp(world)
    drv.begin(world.clock)
    dev.raw_override = code
    assert poll_until(drv) == FAULT_SENSOR_RANGE
    assert drv.raw == raw                    # sign-extended: 0x800000 is -2^23 ...
    if code == 0x800000:
        assert drv.raw / 64 == -131072       # ... i.e. -131072 Pa, not +131072


@pytest.mark.parametrize("t, c256", [(0x1900, 6400), (0xF600, -2560), (0x0000, 0)])
def test_xgzp_temperature(world, t, c256):
    drv, dev, _ = make_xgzp(world)
    dev.temp_c256 = t
    drv.begin(world.clock)
    assert drv.temp_c256 == c256


def test_xgzp_starts_a_conversion_and_collects_it_on_a_later_poll(world):
    drv, dev, _ = make_xgzp(world, pa=-20000)
    world.log.clear()
    assert poll(drv) == NONE
    assert world.log == [("i2c_write_mem", 0, 0x6D, 0x30, b"\x0a")]
    world.log.clear()
    assert poll(drv) == NONE                 # sco still set: no data read, no restart
    assert world.log == [("i2c_read_mem", 0, 0x6D, 0x30, 1)]
    world.clock.advance(6)
    world.log.clear()
    assert poll(drv) == NEW and drv.vacuum_pa == 20000
    assert world.log == [("i2c_read_mem", 0, 0x6D, 0x30, 1), ("i2c_read_mem", 0, 0x6D, 0x06, 5),
                         ("i2c_write_mem", 0, 0x6D, 0x30, b"\x0a")]
    assert poll(drv) == NONE
    assert dev.data_reads_busy == 0 and dev.bad_commands == 0 and dev.starts == 2


@pytest.mark.parametrize("k", [64, 128, 32])
def test_xgzp_tracks_pressure(world, k):
    drv, dev, src = make_xgzp(world, k=k)
    drv.begin(world.clock)
    for pa in range(-60000, 20000, 1237):
        src.v = pa
        assert poll_until(drv) == NEW
        assert poll_until(drv) == NEW
        assert drv.vacuum_pa == -pa
    assert drv.max_vacuum_pa == (1 << 22) // k


def test_xgzp_busy_forever_is_stale(world):
    drv, dev, _ = make_xgzp(world)
    drv.begin(world.clock)
    dev.busy_forever = True
    for _ in range(100):
        world.clock.advance(5)
        assert poll(drv) == NONE
    with pytest.raises(SensorError) as e:
        drv.read(world.clock)
    assert e.value.code == FAULT_SENSOR_STALE and dev.data_reads_busy == 0


@pytest.mark.parametrize("how", ["bus", "nack"])
def test_xgzp_disconnected_is_io_and_recovers(esp32, how):
    drv, dev, _ = make_xgzp(esp32, pa=-5000)
    drv.begin(esp32.clock)
    if how == "bus":
        esp32.i2c_fail[0] = 5
    else:
        dev.nack = True
    for _ in range(10):
        esp32.clock.advance(5)
        assert poll(drv) == FAULT_SENSOR_IO
    esp32.i2c_fail[0] = 0
    dev.nack = False
    assert poll_until(drv) == NEW and drv.vacuum_pa == 5000
    with pytest.raises(SensorError) as e:
        XGZP6897D(machine.I2C(0), address=0x58).begin(esp32.clock)
    assert e.value.code == FAULT_SENSOR_IO


def test_xgzp_refuses_bad_k(world):
    with pytest.raises(ValueError):
        XGZP6897D(machine.I2C(0), k=0)


# --------------------------------------------------------------------------- analog

class StubADC:
    """Hands the driver exact raw values (u16 on rp2, uV on esp32)."""

    def __init__(self, *values, fail=False):
        self.values, self.i, self.fail = values, 0, fail

    def read_u16(self):
        if self.fail:
            raise OSError(5)
        v = self.values[self.i % len(self.values)]
        self.i += 1
        return v

    read_uv = read_u16


def lsb_pa(divider, mv_per_kpa=40):
    """One rp2 raw12 step at the sensor, in Pa."""
    return 3300 / 4095 / divider * 1000 / mv_per_kpa


@pytest.mark.parametrize("sensor_v, vacuum", [(3.1668, 33331), (3.7001, 19998), (4.5, 0)])
def test_analog_rp2_vectors(world, sensor_v, vacuum):
    world.attach_adc(26, lambda: sensor_v * 2 / 3)
    drv = AnalogSensor(machine.ADC(26), "rp2", 0.6667, 4500, -40)
    assert poll(drv) == NEW
    assert abs(drv.vacuum_pa - vacuum) <= lsb_pa(2 / 3) + 5   # + the 0.6667 vs 2/3 error


def test_analog_rp2_through_the_model(world):
    src = Value(0)
    out = devices.XGZP6847AOutput(src, divider=2 / 3)
    world.attach_adc(26, out.pin_volts)
    drv = AnalogSensor(machine.ADC(26), "rp2", 2 / 3, 4500, -40)
    drv.begin(world.clock)
    assert abs(drv.vacuum_pa) <= lsb_pa(2 / 3)
    for pa in range(0, 95000, 3331):
        src.v = -pa
        assert poll(drv) == NEW and abs(drv.vacuum_pa - pa) <= lsb_pa(2 / 3)


@pytest.mark.parametrize("raw12, u16", [(0, 0), (1, 16), (511, 8177), (512, 8194), (2048, 32776), (4095, 65535)])
def test_rp2_read_u16_vectors(world, raw12, u16):
    # The fake ADC encodes as the RP2040 port does ...
    world.attach_adc(26, lambda: raw12 / 4095 * 3.3)
    assert machine.ADC(26).read_u16() == u16
    # ... and the driver scales u16 to pin mV (divider 1, 1 Pa per mV) or flags a rail.
    drv = AnalogSensor(StubADC(u16), "rp2", 1.0, 0, 1000, samples=1, min_mv=-1, max_mv=3300)
    if u16 in (0, 65535):
        assert poll(drv) == FAULT_SENSOR_RANGE
    else:
        assert poll(drv) == NEW and drv.vacuum_pa == round(u16 * 3300 / 65535)


def test_analog_esp32_read_uv_with_half_divider(esp32):
    esp32.attach_adc(34, lambda: 3.1668 * 0.5)
    drv = AnalogSensor(machine.ADC(34, atten=machine.ADC.ATTN_11DB), "esp32", 0.5, 4500, -40)
    drv.begin(esp32.clock)
    assert abs(drv.vacuum_pa - VAC_250_MMHG) <= 2
    assert abs(drv.sensor_mv() - 3166.8) < 0.01


@pytest.mark.parametrize("pin_v", [0.05, 0.12, 2.45, 2.6, 3.3])
def test_analog_esp32_outside_the_linear_range_is_range(esp32, pin_v):
    esp32.attach_adc(34, lambda: pin_v)
    drv = AnalogSensor(machine.ADC(34, atten=machine.ADC.ATTN_11DB), "esp32", 0.5, 4500, -40,
                       min_mv=100, max_mv=6000)     # only the ADC limits matter here
    assert poll(drv) == FAULT_SENSOR_RANGE


@pytest.mark.parametrize("sensor_v", [0.0, 0.3, 4.7, 5.0])
def test_analog_rp2_outside_the_sensor_window_is_range(world, sensor_v):
    world.attach_adc(26, lambda: sensor_v * 2 / 3)   # open wire, dead sensor, short to 5 V
    drv = AnalogSensor(machine.ADC(26), "rp2", 2 / 3, 4500, -40)
    assert poll(drv) == FAULT_SENSOR_RANGE
    with pytest.raises(SensorError) as e:
        drv.begin(world.clock)
    assert e.value.code == FAULT_SENSOR_RANGE


def test_analog_window_edges(world):
    drv = AnalogSensor(StubADC(0), "rp2", 1.0, 1000, -40, samples=1, min_mv=400, max_mv=3000)
    for mv, status in ((399.5, FAULT_SENSOR_RANGE), (400.5, NEW), (2999.5, NEW), (3000.5, FAULT_SENSOR_RANGE)):
        drv._adc = StubADC(int(mv * 65535 / 3300 + 0.5))
        assert poll(drv) == status, mv


def test_analog_averages_its_samples(world):
    a, b = 41930, 41930 + 64 * 16            # 64 raw12 steps apart
    one = AnalogSensor(StubADC(a), "rp2", 2 / 3, 4500, -40, samples=1)
    other = AnalogSensor(StubADC(b), "rp2", 2 / 3, 4500, -40, samples=1)
    both = AnalogSensor(StubADC(a, b), "rp2", 2 / 3, 4500, -40, samples=4)
    assert poll(one) == poll(other) == poll(both) == NEW
    assert abs(both.vacuum_pa - (one.vacuum_pa + other.vacuum_pa) / 2) <= 1
    assert abs(both.vacuum_pa - one.vacuum_pa) > 500


def test_analog_every_poll_is_a_new_reading_and_errors_never_raise(world):
    drv = AnalogSensor(StubADC(41930), "rp2", 2 / 3, 4500, -40)
    assert drv.period_ms == 10
    assert [poll(drv) for _ in range(5)] == [NEW] * 5
    drv._adc = StubADC(fail=True)
    assert poll(drv) == FAULT_SENSOR_IO


@pytest.mark.parametrize("port, kw, max_pa", [
    ("rp2", dict(), 100000),                                   # -100..0 kPa part
    ("rp2", dict(mv_per_kpa=-100, max_vacuum_kpa=40), 40000),  # -40..0 kPa part
    ("rp2", dict(mv_per_kpa=-100, max_vacuum_kpa=100), 41000),  # window ends at 400 mV
    ("esp32", dict(divider=0.5, min_mv=200), 100000),
    ("esp32", dict(divider=0.5, min_mv=200, max_vacuum_kpa=200), 105000),  # 150 mV at the pin
])
def test_analog_max_vacuum(world, port, kw, max_pa):
    args = dict(divider=2 / 3, zero_mv=4500, mv_per_kpa=-40)
    args.update(kw)
    drv = AnalogSensor(StubADC(0), port, args.pop("divider"), args.pop("zero_mv"), args.pop("mv_per_kpa"), **args)
    assert drv.max_vacuum_pa == max_pa


def test_analog_refuses_bad_configuration(world):
    for args in (("stm32", 0.5, 4500, -40), ("rp2", 0, 4500, -40), ("rp2", 0.5, 4500, 0),
                 ("rp2", 0.5, 5000, -40), ("rp2", 0.5, 300, -40)):
        with pytest.raises(ValueError):
            AnalogSensor(StubADC(0), *args)


# --------------------------------------------------------------------------- all drivers

DRIVERS = ("hx710b", "analog", "mprls", "xgzp6897d")


@pytest.mark.parametrize("name", DRIVERS)
def test_drivers_cannot_wait(name):
    """The fake clock catches waits through `clock`; poll() gets no clock, so
    the only other way to wait would be `time`: the drivers never import it."""
    spec = importlib.util.find_spec("hw.sensors." + name)
    tree = ast.parse(open(spec.origin).read())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not imported & {"time", "utime", "machine"}
    names = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert not names & {"sleep", "sleep_ms", "sleep_us", "idle", "lightsleep"}


@pytest.mark.parametrize("name", DRIVERS)
def test_drivers_and_models_run_across_the_tick_wrap(name):
    """ticks_ms wraps at 2^30 on the boards: begin() and the models' conversion
    timing use ticks_diff, so a start 50 ms before the wrap changes nothing."""
    world = machine.reset_world("rp2", FakeClock((1 << 30) - 50))
    if name == "hx710b":
        drv, dev, src = make_hx(world, count=4000, cpk=1000, startup_ms=25)
    elif name == "mprls":
        drv, dev, src = make_mprls(world)
    elif name == "xgzp6897d":
        drv, dev, src = make_xgzp(world, pa=-4000)
    else:
        world.attach_adc(26, lambda: (4.5 - 0.16) * 2 / 3)     # 4 kPa below ambient
        drv = AnalogSensor(machine.ADC(26), "rp2", 2 / 3, 4500, -40)
    drv.begin(world.clock)
    if name == "mprls":
        src.v = 101325 - 4000                                # after measuring ambient
    news = 0
    for _ in range(200):                                     # 200 ms across the wrap
        world.clock.advance(1)
        if poll(drv) == NEW:
            news += 1
            assert abs(drv.vacuum_pa - 4000) <= 31
    assert world.clock.now < 1000 and news >= 7


# --------------------------------------------------------------------------- small ints

SMALL = 1 << 30
CHECKING = [False]


def _chk(value):
    if CHECKING[0] and type(value) is int and not -SMALL <= value < SMALL:
        raise OverflowError("%d does not fit a 32-bit port's small int" % value)
    return value


@pytest.fixture(scope="module")
def checked():
    """The driver modules with every arithmetic result checked during poll(),
    including the shared fixed-point Gain of hw/sensors/__init__.py (the
    drivers import it from a checked copy of the package)."""
    import sys

    def load(modname):
        spec = importlib.util.find_spec(modname)
        tree = CheckArithmetic().visit(ast.parse(open(spec.origin).read()))
        ast.fix_missing_locations(tree)
        mod = importlib.util.module_from_spec(spec)
        mod.__dict__["_chk__"] = _chk
        exec(compile(tree, spec.origin, "exec"), mod.__dict__)
        return mod
    package = sys.modules["hw.sensors"]
    sys.modules["hw.sensors"] = load("hw.sensors")
    try:
        mods = {name: load("hw.sensors." + name) for name in DRIVERS}
    finally:
        sys.modules["hw.sensors"] = package
    return mods


def checked_poll(drv, dt_ms=1):
    while True:
        CHECKING[0] = True
        try:
            status = drv.poll()
        finally:
            CHECKING[0] = False
        if status != NONE:
            return status
        machine.world.clock.advance(dt_ms)


def test_the_checker_catches_a_large_product(checked):
    drv = checked["hx710b"].HX710B(machine.Pin(2, machine.Pin.OUT), machine.Pin(3), 0, 1000000)
    CHECKING[0] = True
    try:
        with pytest.raises(OverflowError):
            drv._pa(1 << 40)
    finally:
        CHECKING[0] = False


@settings(max_examples=60)
@given(offset=st.sampled_from([-0x800000, -1, 0, 3240000, 0x7FFFFE]),
       cpk=st.sampled_from([200, 1000, 543210, 1300000, 1 << 23, -200, -1300000, -(1 << 23)]),
       codes=st.lists(st.integers(0, 0xFFFFFF), min_size=1, max_size=6))
def test_hx710b_poll_stays_in_small_ints(checked, offset, cpk, codes):
    world = machine.reset_world("rp2")
    dev = devices.HX710BModule(world, 2, 3, Value(0), startup_ms=25)
    try:
        drv = checked["hx710b"].HX710B(machine.Pin(2, machine.Pin.OUT), machine.Pin(3), offset, cpk,
                                       40, machine.disable_irq, machine.enable_irq)
    except ValueError:
        assume(False)
    for code in [0x7FFFFE, 0x800001] + codes:
        dev.raw_override = code
        checked_poll(drv)
        checked_poll(drv)


@settings(max_examples=60)
@given(counts=st.lists(st.integers(0, 0xFFFFFF), min_size=1, max_size=8),
       ambient=st.integers(50000, 110000))
def test_i2c_polls_stay_in_small_ints(checked, counts, ambient):
    world = machine.reset_world("rp2")
    mdev = devices.MPRLSDevice(Value(ambient))
    xdev = devices.XGZP6897DDevice(Value(0), 64)
    world.attach_i2c(0, 0x18, mdev)
    world.attach_i2c(0, 0x6D, xdev)
    m = checked["mprls"].MPRLS(machine.I2C(0))
    m.begin(world.clock)
    x = checked["xgzp6897d"].XGZP6897D(machine.I2C(0), 64)
    for c in [0x19999A, 0xE66666, 0x7FFFFF, 0x800000, 0x800001] + counts:
        mdev.count_override = xdev.raw_override = c
        checked_poll(m)
        checked_poll(m)
        checked_poll(x)
        checked_poll(x)


@settings(max_examples=60)
@given(port=st.sampled_from(["rp2", "esp32"]), samples=st.integers(1, 16),
       divider=st.sampled_from([0.5, 0.6667, 1.0]), mv_per_kpa=st.sampled_from([-100, -40, -10, 10, 40]),
       raws=st.lists(st.integers(1, 65534), min_size=1, max_size=16))
def test_analog_poll_stays_in_small_ints(checked, port, samples, divider, mv_per_kpa, raws):
    values = raws if port == "rp2" else [150000 + r * 35 for r in raws]
    drv = checked["analog"].AnalogSensor(StubADC(*values), port, divider, 1000, mv_per_kpa, samples=samples,
                                         min_mv=1, max_mv=6000, max_vacuum_kpa=1000)
    for _ in range(3):
        checked_poll(drv)


# --------------------------------------------------------------------------- MicroPython

@pytest.fixture(scope="module")
def parity_runs():
    return mpvm.run_cpython(SCRIPT, "parity"), mpvm.run(SCRIPT, "parity")


def test_sensor_runs_are_identical_under_cpython_and_micropython(parity_runs):
    cp, mp = parity_runs
    cp_lines, mp_lines = cp.splitlines(), mp.splitlines()
    assert len(cp_lines) == len(mp_lines) == 5 * 321
    for i, (a, b) in enumerate(zip(cp_lines, mp_lines)):
        assert a == b, "first difference at line %d" % i


def test_sensor_runs_exercise_what_they_claim(parity_runs):
    rows, ends = {}, {}
    for line in parity_runs[0].splitlines():
        f = line.split()
        if f[1] == "end":
            ends[f[0]] = dict(zip(f[2::2], (int(x) for x in f[3::2])))
        else:
            rows.setdefault(f[0], []).append((int(f[2]), int(f[3])))
    assert set(rows) == {"hx710b", "mprls", "xgzp6897d", "analog_rp2", "analog_esp32"}
    for name, polls in rows.items():
        statuses = [s for s, _ in polls]
        news = [v for s, v in polls if s == NEW]
        assert len(news) > 90, name
        assert FAULT_SENSOR_RANGE in statuses, name              # scripted saturation / window
        if name in ("hx710b", "mprls", "xgzp6897d"):
            assert FAULT_SENSOR_IO in statuses and NONE in statuses, name
        top = {"hx710b": 8945, "mprls": 40000, "xgzp6897d": 40000}.get(name, 45000)
        assert top - 1500 < max(news) <= top + 100, name       # followed the scripted vacuum
    hx = ends["hx710b"]
    assert hx["seq27"] == hx["reads"] and hx["unprotected"] == 0 and hx["powerdowns"] == 0
    assert ends["mprls"]["starts_while_busy"] == 0 and ends["mprls"]["bad"] == 0
    assert ends["xgzp6897d"]["data_busy"] == 0 and ends["xgzp6897d"]["bad"] == 0


def test_steady_state_polls_allocate_nothing():
    polls = 2000
    rows = {}
    for line in mpvm.run(SCRIPT, "alloc", polls).splitlines():
        name, used, news, faults = line.split()
        rows[name] = (int(used), int(news), int(faults))
    used, news, _ = rows.pop("canary")
    assert used >= polls * 16 and news == polls              # the measurement sees a float per poll
    rows.pop("info_fake_i2c_mprls")
    drivers = ("hx710b", "mprls", "xgzp6897d", "analog_rp2", "analog_esp32")
    assert set(rows) == set(drivers) | {d + "_range" for d in drivers}
    for name, (used, news, faults) in rows.items():
        assert used == 0, "%s allocated %d bytes over %d polls" % (name, used, polls)
        if name.endswith("_range"):
            assert news == 0 and faults >= polls // 4, name
        else:
            assert news >= polls // 4, name
