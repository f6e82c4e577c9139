"""Protocol-level models of the pressure sensors, for the fake `machine`.

Each model speaks its part's real protocol on the fake world's pins, ADC or
I2C bus and takes a *source* callable for the physical quantity:

- HX710BModule(world, sck, dout, source): source() -> the raw count the
  bridge would produce (int; the model saturates it to 24 bits).
- MPRLSDevice(source): source() -> absolute pressure, Pa.
- XGZP6897DDevice(source, k): source() -> gauge pressure, Pa (< 0 under vacuum).
- XGZP6847AOutput(source, ...): source() -> gauge Pa; .pin_volts() for
  world.attach_adc (sensor transfer function and the board's divider).

Timing comes from world.clock (time moves only when the host advances it or
the firmware sleeps). Failure knobs are plain attributes (see each class);
counters record what the firmware did, so tests can check the protocol.

Runs under CPython and the MicroPython unix port. In steady state the
models allocate nothing when their sources return ints (the simulator
measures the firmware's heap use through them); the fake machine's ADC
itself computes in floats.
"""

HX_DEFAULT_PULSES = 25          # after power-up/reset: differential, 10 Hz
SAT_POS = 0x7FFFFF
SAT_NEG = -0x800000


def _sat24(x):
    x = int(x)
    if x > SAT_POS:
        return SAT_POS
    if x < SAT_NEG:
        return SAT_NEG
    return x


class HX710BModule:
    """HX710B: DOUT high while converting (100 ms at 10 Hz, 25 ms at 40 Hz;
    `startup_ms` after power-up or a power-down reset), low when ready; each
    SCK rising edge presents the next bit MSB first; the 25th pulse drives
    DOUT high; 25/26/27 pulses pick the next conversion's mode. A read
    sequence ends when the clock moves on.

    The first conversion after power-up or a mode change is unsettled: it
    reads `settle_error` counts off. Knobs: stuck_low (DOUT always 0),
    never_ready (DOUT always 1), raw_override (None or a 24-bit code to send).
    Counters: reads (finished sequences), seq_counts[n] (sequences of n
    pulses, n >= 31 in the last slot), protocol_errors (sequences of < 25 or
    > 27 pulses, pulses while not ready), early_pulses, unprotected_pulses
    (rising edges while IRQs were enabled), powerdowns (SCK high while time
    passed)."""

    def __init__(self, world, sck_pin, dout_pin, source, startup_ms=400, settle_error=777777):
        self.world = world
        self.clock = world.clock
        self.source = source
        self.startup_ms = startup_ms
        self.settle_error = settle_error
        self.stuck_low = False
        self.never_ready = False
        self.raw_override = None
        self.reads = 0
        self.seq_counts = [0] * 32
        self.protocol_errors = 0
        self.early_pulses = 0
        self.unprotected_pulses = 0
        self.powerdowns = 0
        self.mode = HX_DEFAULT_PULSES
        self.sck = 0
        self.pulses = 0
        self.data = 0
        self.t_last = 0
        self.t_high = 0
        self._power_up()
        world.attach_input(dout_pin, self.dout)
        world.attach_write_hook(sck_pin, self.on_sck)

    def _power_up(self):
        self.mode = HX_DEFAULT_PULSES
        self.settling = True
        self.t_start = self.clock.ticks_ms()
        self.conv_ms = self.startup_ms
        self.pulses = 0

    def period_ms(self):
        return 100 if self.mode == 25 else 25

    def ready(self):
        return self.clock.ticks_diff(self.clock.ticks_ms(), self.t_start) >= self.conv_ms

    def _end_sequence(self):
        # The clock moved since the last pulse: the read sequence is over.
        n = self.pulses
        if n == 0 or self.clock.ticks_ms() == self.t_last:
            return
        self.pulses = 0
        self.reads += 1
        self.seq_counts[n if n < 31 else 31] += 1
        if n < 25 or n > 27:
            self.protocol_errors += 1
            self.settling = True              # a communication error: data unreliable
        else:
            self.settling = n != self.mode
            self.mode = n
        self.t_start = self.t_last            # next conversion starts after the pulses
        self.conv_ms = self.period_ms()

    def dout(self):
        if self.stuck_low:
            return 0
        if self.never_ready:
            return 1
        self._end_sequence()
        n = self.pulses
        if n:
            return (self.data >> (24 - n)) & 1 if n <= 24 else 1
        return 0 if self.ready() else 1

    def on_sck(self, level):
        self._end_sequence()
        now = self.clock.ticks_ms()
        if not level:
            if self.sck and now != self.t_high:
                self.powerdowns += 1          # high across a clock step: > 60 us
                self._power_up()
            self.sck = 0
            return
        if self.sck:
            return
        self.sck = 1
        self.t_high = now
        if self.world.irq_disabled == 0:
            self.unprotected_pulses += 1
        if self.pulses == 0 and (self.never_ready or not self.ready()):
            self.early_pulses += 1
            self.protocol_errors += 1
            return
        if self.pulses == 0:
            self.data = self._sample()
        self.pulses += 1
        self.t_last = now

    def _sample(self):
        if self.raw_override is not None:
            return self.raw_override & 0xFFFFFF
        raw = self.source()
        if self.settling:
            raw += self.settle_error
        return _sat24(raw) & 0xFFFFFF


class MPRLSDevice:
    """MPRLS at 0x18: AA 00 00 starts a conversion of `conversion_ms`; a
    4-byte read returns status (0x40 powered, 0x20 busy, 0x04 integrity,
    0x01 saturation) and the count of the last finished conversion
    (transfer function A). Knobs: busy_forever, integrity_fail, saturated,
    no_power, nack (OSError(5) on every transfer), count_override,
    status_override. Counters: starts, starts_while_busy, reads,
    reads_busy, bad_commands."""

    def __init__(self, source, conversion_ms=5, clock=None):
        import machine
        self.clock = clock if clock is not None else machine.world.clock
        self.source = source
        self.conversion_ms = conversion_ms
        self.busy_forever = False
        self.integrity_fail = False
        self.saturated = False
        self.no_power = False
        self.nack = False
        self.count_override = None
        self.status_override = None
        self.starts = 0
        self.starts_while_busy = 0
        self.reads = 0
        self.reads_busy = 0
        self.bad_commands = 0
        self.t_start = 0
        self.converting = False
        self.count = 0
        self.sat = False

    def _busy(self):
        if not self.converting:
            return False
        if self.busy_forever:
            return True
        if self.clock.ticks_diff(self.clock.ticks_ms(), self.t_start) < self.conversion_ms:
            return True
        # finished: latch the result
        self.converting = False
        p = int(self.source())
        c = 1677722 + (p * 13421772 + 86184) // 172369
        self.sat = c < 0 or c > 0xFFFFFF
        self.count = 0 if c < 0 else (0xFFFFFF if c > 0xFFFFFF else c)
        return False

    def write(self, buf):
        if self.nack:
            raise OSError(5)
        if len(buf) == 3 and buf[0] == 0xAA and buf[1] == 0 and buf[2] == 0:
            if self._busy():
                self.starts_while_busy += 1
            self.starts += 1
            self.converting = True
            self.t_start = self.clock.ticks_ms()
        else:
            self.bad_commands += 1

    def read_into(self, buf):
        if self.nack:
            raise OSError(5)
        self.reads += 1
        busy = self._busy()
        if busy:
            self.reads_busy += 1
        s = 0 if self.no_power else 0x40
        if busy:
            s |= 0x20
        if self.integrity_fail:
            s |= 0x04
        if self.saturated or self.sat:
            s |= 0x01
        if self.status_override is not None:
            s = self.status_override
        c = self.count if self.count_override is None else self.count_override
        n = len(buf)
        if n > 0:
            buf[0] = s
        if n > 1:
            buf[1] = (c >> 16) & 0xFF
        if n > 2:
            buf[2] = (c >> 8) & 0xFF
        if n > 3:
            buf[3] = c & 0xFF

    def write_mem(self, reg, buf):
        self.bad_commands += 1

    def read_mem_into(self, reg, buf):
        self.bad_commands += 1
        self.read_into(buf)


class XGZP6897DDevice:
    """XGZP6897D at 0x6D: 0x0A to register 0x30 starts a combined
    conversion of `conversion_ms`; 0x30 reads 0x0A (sco set) until done,
    then 0x02; 0x06..0x0A hold pressure (24-bit, Pa * k) and temperature
    (16-bit, 1/256 deg C). Knobs: busy_forever, nack, raw_override (24-bit
    code), temp_c256. Counters: starts, status_reads, data_reads,
    data_reads_busy (data read while a conversion ran), bad_commands."""

    def __init__(self, source, k=64, conversion_ms=6, clock=None):
        import machine
        self.clock = clock if clock is not None else machine.world.clock
        self.source = source
        self.k = k
        self.conversion_ms = conversion_ms
        self.busy_forever = False
        self.nack = False
        self.raw_override = None
        self.temp_c256 = 25 * 256
        self.starts = 0
        self.status_reads = 0
        self.data_reads = 0
        self.data_reads_busy = 0
        self.bad_commands = 0
        self.converting = False
        self.t_start = 0
        self.raw = 0

    def _busy(self):
        if not self.converting:
            return False
        if self.busy_forever:
            return True
        if self.clock.ticks_diff(self.clock.ticks_ms(), self.t_start) < self.conversion_ms:
            return True
        self.converting = False
        self.raw = _sat24(self.source() * self.k) & 0xFFFFFF
        return False

    def write_mem(self, reg, buf):
        if self.nack:
            raise OSError(5)
        if reg == 0x30 and len(buf) == 1 and buf[0] == 0x0A:
            self._busy()
            self.starts += 1
            self.converting = True
            self.t_start = self.clock.ticks_ms()
        else:
            self.bad_commands += 1

    def read_mem_into(self, reg, buf):
        if self.nack:
            raise OSError(5)
        busy = self._busy()
        if reg == 0x30:
            self.status_reads += 1
            buf[0] = 0x0A if busy else 0x02
            return
        if reg != 0x06:
            self.bad_commands += 1
            return
        self.data_reads += 1
        if busy:
            self.data_reads_busy += 1
        r = self.raw if self.raw_override is None else self.raw_override & 0xFFFFFF
        t = self.temp_c256 & 0xFFFF
        n = len(buf)
        if n > 0:
            buf[0] = r >> 16
        if n > 1:
            buf[1] = (r >> 8) & 0xFF
        if n > 2:
            buf[2] = r & 0xFF
        if n > 3:
            buf[3] = t >> 8
        if n > 4:
            buf[4] = t & 0xFF

    def write(self, buf):
        self.bad_commands += 1

    def read_into(self, buf):
        self.bad_commands += 1


class XGZP6847AOutput:
    """XGZP6847A analog output behind the board's divider: V = 0.5 + 4.0 *
    (P - Pmin) / (Pmax - Pmin) at a 5 V supply (scaled with `supply_v`),
    clamped to [clamp_lo_v, clamp_hi_v]. pin_volts() is the ADC source.
    Knobs: open_wire (pin pulled to 0 V), shorted_to_supply, volts_override."""

    def __init__(self, source, pmin_pa=-100000, pmax_pa=0, divider=2.0 / 3.0,
                 supply_v=5.0, clamp_lo_v=0.1, clamp_hi_v=4.9):
        self.source = source
        self.pmin_pa = pmin_pa
        self.span_pa = pmax_pa - pmin_pa
        self.divider = divider
        self.supply_v = supply_v
        self.clamp_lo_v = clamp_lo_v
        self.clamp_hi_v = clamp_hi_v
        self.open_wire = False
        self.shorted_to_supply = False
        self.volts_override = None

    def sensor_volts(self):
        if self.volts_override is not None:
            return self.volts_override
        if self.shorted_to_supply:
            return self.supply_v
        k = self.supply_v / 5.0
        v = k * (0.5 + 4.0 * (self.source() - self.pmin_pa) / self.span_pa)
        if v < self.clamp_lo_v:
            return self.clamp_lo_v
        if v > self.clamp_hi_v:
            return self.clamp_hi_v
        return v

    def pin_volts(self):
        if self.open_wire:
            return 0.0
        return self.sensor_volts() * self.divider
