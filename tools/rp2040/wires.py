"""The sensors at the emulated chip's pins and registers.

Why it exists: on the emulated RP2040 the firmware's drivers talk to the
real peripherals (ADC, I2C controller, SIO pins); these models answer at
that level, as the parts do:

- Analog (XGZP6847A behind the board's divider): the 12-bit code the ADC
  converts, from the pin voltage against the 3.3 V reference.
- I2C targets (MPRLS at 0x18, XGZP6897D at 0x6D): the controller's byte
  events (start, address + R/W, each byte, stop; chip.mjs stops only at an
  address and passes on the rest with their times) are assembled into the
  transactions the protocol models of tools/fakes/devices.py implement
  (the same models the host tests check against the datasheet vectors).
  An absent or disconnected part does not acknowledge its address.
- HX710B: DOUT driven from the model, SCK watched edge by edge in virtual
  nanoseconds: 24 bits MSB first after each rising edge, 25-27 pulses
  pick the next conversion (10 or 40 Hz), and SCK high for more than 60 us
  powers the chip down (it wakes in the 10 Hz mode after its settling time).
"""

VREF_MV = 3300.0


class NsClock:
    """ticks_ms/ticks_diff over the bench's virtual time, for the device
    models (they only compare times)."""

    def __init__(self, bench):
        self.bench = bench
        self.at_ns = None            # the time of a queued bus event being replayed

    def ticks_ms(self):
        return (self.bench.t_ns if self.at_ns is None else self.at_ns) // 1_000_000

    def ticks_diff(self, a, b):
        return a - b


def analog_code(sensor_mv, divider):
    """ADC code (0..4095) for the sensor's output through the divider."""
    pin_mv = max(0.0, sensor_mv) * divider
    code = int(pin_mv * 4096 / VREF_MV)
    return 0 if code < 0 else (4095 if code > 4095 else code)


class I2CTarget:
    """One bus: the parts on it, by 7-bit address. `register` parts (the
    XGZP6897D) take a register pointer as the first written byte."""

    def __init__(self):
        self.parts = {}
        self.silent = set()          # addresses that do not acknowledge (disconnected)
        self.cur = None
        self.reading = False
        self.wbuf = bytearray()
        self.reg = {}
        self.transactions = 0

    def add(self, address, part, register=False):
        self.parts[address] = (part, register)

    def _finish_write(self):
        if self.cur is None or self.reading or not self.wbuf:
            self.wbuf = bytearray()
            return
        addr, (part, register) = self.cur
        data = bytes(self.wbuf)
        self.wbuf = bytearray()
        self.transactions += 1
        try:
            if register:
                self.reg[addr] = data[0]
                if len(data) > 1:
                    part.write_mem(data[0], data[1:])
            else:
                part.write(data)
        except OSError:
            pass

    def event(self, ev):
        """One controller event; returns the answer for chip.mjs's i2c_done."""
        kind = ev["kind"]
        if kind == "start":
            if ev.get("repeated"):
                self._finish_write()
            return {}
        if kind == "stop":
            self._finish_write()
            self.cur = None
            return {}
        if kind == "connect":
            self._finish_write()
            addr = ev["address"]
            if addr not in self.parts or addr in self.silent:
                self.cur = None
                return {"ack": False}
            part, register = self.parts[addr]
            self.cur = (addr, (part, register))
            self.reading = ev["read"]
            if self.reading:
                # The part fills what a read of any length would see; the
                # chip serves the bytes as the controller clocks them.
                buf = bytearray(8)
                self.transactions += 1
                try:
                    if register:
                        part.read_mem_into(self.reg.get(addr, 0), buf)
                    else:
                        part.read_into(buf)
                except OSError:
                    self.cur = None
                    return {"ack": False}
                return {"ack": True, "data": list(buf)}
            return {"ack": True}
        if kind == "write":
            if self.cur is not None:
                self.wbuf.append(ev["value"])
            return {}
        raise ValueError("unknown I2C event %r" % kind)


class HX710BWire:
    """HX710B by its pins. `source()` gives the raw 24-bit count the bridge
    would produce now. DOUT is a pin the bench drives (`dout_level()`)."""

    POWER_DOWN_NS = 60_000
    STARTUP_NS = 400_000_000

    def __init__(self, source, now_ns):
        self.source = source
        self.never_ready = False       # DOUT held high: disconnected or dead
        self.stuck_low = False
        self.mode = 25
        self.sck = 0
        self.pulses = 0
        self.data = 0
        self.t_high = 0
        self.t_last = 0
        self.powerdowns = 0
        self.reads = 0
        self.protocol_errors = 0
        self._power_up(now_ns)

    def _power_up(self, now):
        self.mode = 25
        self.pulses = 0
        self.ready_at = now + self.STARTUP_NS

    def _period_ns(self):
        return 100_000_000 if self.mode == 25 else 25_000_000

    def settle(self, now):
        """A read sequence ends when SCK has stayed low 100 us after a pulse."""
        if self.pulses and not self.sck and now - self.t_last > 100_000:
            n = self.pulses
            self.pulses = 0
            self.reads += 1
            if 25 <= n <= 27:
                self.mode = n
            else:
                self.protocol_errors += 1
            self.ready_at = self.t_last + self._period_ns()

    def edge(self, level, now):
        self.settle(now)
        if level and not self.sck:
            self.sck = 1
            self.t_high = now
            if self.pulses == 0:
                if now < self.ready_at or self.never_ready:
                    self.protocol_errors += 1
                    return
                raw = int(self.source())
                raw = 0x7FFFFF if raw > 0x7FFFFF else (-0x800000 if raw < -0x800000 else raw)
                self.data = raw & 0xFFFFFF
            self.pulses += 1
        elif not level and self.sck:
            self.sck = 0
            self.t_last = now
            if now - self.t_high > self.POWER_DOWN_NS:
                self.powerdowns += 1
                self._power_up(now)

    def dout_level(self, now):
        if self.stuck_low:
            return 0
        if self.never_ready:
            return 1
        self.settle(now)
        n = self.pulses
        if n:
            return (self.data >> (24 - n)) & 1 if n <= 24 else 1
        return 0 if now >= self.ready_at else 1
