"""A fake `machine` module for host runs: records every call, and wires pins,
PWM, ADC and I2C to device models (sensors) and to the simulator's plant.

It runs unchanged under CPython and under the MicroPython unix port, where a
`machine.py` on MICROPYPATH overrides the built-in. Everything lives in one
`world` object so a test or the simulator can inspect and drive it:

- `world.log`: every call the firmware made, as tuples, while
  `world.logging` is True (tests), e.g. ("pin_init", 16, 1, 0),
  ("pin", 17, 1), ("pwm_init", 16, 25000, 0), ("pwm_duty", 16, 0),
  ("wdt_init", 4000), ("wdt_feed",), ("i2c_write", 0, 0x18, b"\\xaa\\0\\0").
- `world.level(pin)`: the level a pin drives (outputs) or is driven to.
- `world.pwm_duty(pin)`: the duty a PWM pin runs at (0 when not PWM).
- `world.attach_*`: device models hook pin writes, pin reads, ADC channels
  and I2C addresses (see devices.py).
- `world.port`: "rp2" or "esp32": port rules the boards enforce (rp2 WDT at
  most 8388 ms and PWM slices sharing a frequency; esp32 input-only pins and
  ADC attenuation) raise here as they would on the board.
- `world.clock`: the shared FakeClock (2^30 wrap) that device models use for
  conversion times.

`reset()` raises `ResetRequested` (the simulator reboots the firmware).
"""
from fake_clock import FakeClock

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5

ESP32_INPUT_ONLY = (34, 35, 36, 37, 38, 39)
ESP32_FLASH = (6, 7, 8, 9, 10, 11)
RP2_WDT_MAX_MS = 8388


class ResetRequested(Exception):
    pass


class World:
    def __init__(self, port="rp2", clock=None):
        self.port = port
        self.clock = clock if clock is not None else FakeClock()
        self.logging = True
        self.log = []
        self.levels = {}          # pin id -> level driven by the firmware (outputs)
        self.modes = {}           # pin id -> Pin mode
        self.pulls = {}
        self.inputs = {}          # pin id -> callable() -> level, for pins a device drives
        self.write_hooks = {}     # pin id -> [callable(level)]
        self.pwm = {}             # pin id -> [freq, duty_u16]
        self.adc = {}             # pin id -> callable() -> volts at the pin
        self.adc_uv = {}          # pin id -> callable() -> microvolts (int) at the pin
        self.i2c_devices = {}     # bus id << 8 | address -> device (an int key: no tuple per transfer)
        self.i2c_fail = {}        # bus id -> errno while the bus is broken
        self.i2c_blocks = {}      # bus id -> I2CBlock, the rp2 controller's registers (mem32)
        self.wdt_timeout = None
        self.wdt_feeds = 0
        self.irq_disabled = 0     # nesting depth of disable_irq()
        self.reset_cause_value = PWRON_RESET
        self.epoch_s = 0          # RTC: seconds since 1970 at clock elapsed 0 (0 = never set)

    def record(self, event):
        """Call sites check `logging` first: building the event tuple would
        allocate, and the simulator measures the firmware's allocation
        through this fake with logging off."""
        self.log.append(event)

    # -- what the test / simulator looks at ------------------------------------
    def level(self, pin_id):
        if pin_id in self.inputs:
            return self.inputs[pin_id]()
        return self.levels.get(pin_id, 0)

    def input_level(self, pin_id):
        """What the pin reads as an input: a device's drive, the pin's own
        output, else its pull (pull-up 1, otherwise 0)."""
        if pin_id in self.inputs:
            return self.inputs[pin_id]()
        if self.modes.get(pin_id) == Pin.OUT:
            return self.levels.get(pin_id, 0)
        return self.levels.get(pin_id, 1 if self.pulls.get(pin_id) == Pin.PULL_UP else 0)

    def pwm_duty(self, pin_id):
        p = self.pwm.get(pin_id)
        return p[1] if p is not None else 0

    def events(self, kind):
        return [e for e in self.log if e[0] == kind]

    # -- device hooks ------------------------------------------------------------
    def attach_input(self, pin_id, source):
        self.inputs[pin_id] = source

    def attach_write_hook(self, pin_id, hook):
        self.write_hooks.setdefault(pin_id, []).append(hook)

    def attach_adc(self, pin_id, volts_source):
        """volts_source() -> volts (float) at the pin."""
        self.adc[pin_id] = volts_source
        self.adc_uv.pop(pin_id, None)

    def attach_adc_uv(self, pin_id, uv_source):
        """uv_source() -> microvolts (int) at the pin: the integer path the
        simulator uses, so reading the fake ADC allocates nothing."""
        self.adc_uv[pin_id] = uv_source
        self.adc.pop(pin_id, None)

    def attach_i2c(self, bus_id, address, device):
        self.i2c_devices[bus_id << 8 | address] = device

    def detach_i2c(self, bus_id, address):
        """The device unplugged: its address answers OSError(5) (EIO: no ACK)
        from now on, as an address that never had one."""
        self.i2c_devices.pop(bus_id << 8 | address, None)

    def _write(self, pin_id, level):
        self.levels[pin_id] = level
        if self.logging:
            self.record(("pin", pin_id, level))
        hooks = self.write_hooks.get(pin_id)
        if hooks:
            for h in hooks:
                h(level)


world = World()


def reset_world(port="rp2", clock=None):
    """A fresh world (a new board): call between tests or simulated boots."""
    global world
    world = World(port, clock)
    return world


def _pin_id(p):
    return p.id if isinstance(p, Pin) else p


class Pin:
    IN = 0
    OUT = 1
    OPEN_DRAIN = 2
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 4
    IRQ_RISING = 8

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self.init(mode, pull, value)

    def init(self, mode=-1, pull=-1, value=None):
        w = world
        if mode != -1:
            if w.port == "esp32" and mode == Pin.OUT and self.id in ESP32_INPUT_ONLY:
                raise ValueError("pin %s is input-only" % self.id)
            if w.port == "esp32" and self.id in ESP32_FLASH:
                raise ValueError("pin %s is used by the flash" % self.id)
            w.modes[self.id] = mode
            if self.id in w.pwm and mode in (Pin.IN, Pin.OUT):
                del w.pwm[self.id]             # re-initialising a pin detaches PWM
        if pull != -1:
            w.pulls[self.id] = pull
        if w.logging:
            w.record(("pin_init", self.id, mode, value))
        if value is not None:
            w._write(self.id, 1 if value else 0)

    def value(self, v=None):
        w = world
        if v is None:
            return w.input_level(self.id)
        w._write(self.id, 1 if v else 0)
        return None

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def high(self):
        self.value(1)

    def low(self):
        self.value(0)

    def toggle(self):
        self.value(0 if self.value() else 1)

    def irq(self, handler=None, trigger=0, hard=False):
        if world.logging:
            world.record(("pin_irq", self.id, trigger))
        return None


def _rp2_slice(pin_id):
    return (pin_id >> 1) & 7


class PWM:
    def __init__(self, dest, freq=None, duty_u16=None, duty_ns=None, invert=False):
        self.pin = _pin_id(dest)
        w = world
        if w.port == "esp32" and self.pin in ESP32_INPUT_ONLY:
            raise ValueError("pin %s is input-only" % self.pin)
        w.pwm[self.pin] = [freq if freq is not None else 1000, duty_u16 if duty_u16 is not None else 0]
        w.modes[self.pin] = "pwm"
        if w.logging:
            w.record(("pwm_init", self.pin, freq, duty_u16))
        if freq is not None:
            self._share_slice(freq)

    def _share_slice(self, freq):
        # rp2: both channels of a slice run at one frequency.
        w = world
        if w.port != "rp2":
            return
        s = _rp2_slice(self.pin)
        for other in w.pwm:
            if other != self.pin and _rp2_slice(other) == s:
                w.pwm[other][0] = freq

    def init(self, freq=None, duty_u16=None, duty_ns=None):
        if freq is not None:
            self.freq(freq)
        if duty_u16 is not None:
            self.duty_u16(duty_u16)

    def freq(self, f=None):
        p = world.pwm[self.pin]
        if f is None:
            return p[0]
        if not 8 <= f <= 40000000:
            raise ValueError("freq out of range")
        p[0] = f
        if world.logging:
            world.record(("pwm_freq", self.pin, f))
        self._share_slice(f)
        return None

    def duty_u16(self, d=None):
        p = world.pwm.get(self.pin)
        if p is None:
            raise ValueError("PWM deinitialised")
        if d is None:
            return p[1]
        if not 0 <= d <= 65535:
            raise ValueError("duty_u16 must be 0-65535")
        if p[1] != d:
            if world.logging:
                world.record(("pwm_duty", self.pin, d))
        p[1] = d
        return None

    def deinit(self):
        if world.logging:
            world.record(("pwm_deinit", self.pin))
        if self.pin in world.pwm:
            del world.pwm[self.pin]


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    _TOP_UV = (950000, 1250000, 1750000, 2450000)   # esp32 linear range tops (uV)

    def __init__(self, src, atten=None):
        self.pin = _pin_id(src)
        self.atten = atten
        w = world
        if w.port == "rp2" and self.pin not in (26, 27, 28, 29):
            raise ValueError("Pin(%s) doesn't have ADC capabilities" % self.pin)
        if w.logging:
            w.record(("adc_init", self.pin, atten))

    def _uv(self):
        """Microvolts at the pin (int)."""
        w = world
        src = w.adc_uv.get(self.pin)
        if src is not None:
            return src()
        src = w.adc.get(self.pin)
        return int(src() * 1000000) if src is not None else 0

    def _top_uv(self):
        return self._TOP_UV[self.atten if self.atten is not None else 0]

    def read_u16(self):
        src = world.adc_uv.get(self.pin)
        uv = src() if src is not None else self._uv()
        if world.port == "rp2":
            # 12-bit conversion against 3.3 V, returned as raw12 << 4 | raw12 >> 8.
            raw12 = (uv * 4095 + 1650000) // 3300000
            raw12 = 0 if raw12 < 0 else (4095 if raw12 > 4095 else raw12)
            return raw12 << 4 | raw12 >> 8
        top = self._top_uv()
        raw12 = (uv * 4095 + top // 2) // top
        raw12 = 0 if raw12 < 0 else (4095 if raw12 > 4095 else raw12)
        return raw12 << 4

    def read_uv(self):
        if world.port != "esp32":
            raise AttributeError("read_uv")
        uv = self._uv()
        # Below ~100 mV the esp32 reads 0; above its range it pins at the top.
        if uv < 100000:
            return 0
        top = self._top_uv()
        return top if uv > top else uv


class I2C:
    def __init__(self, id=0, scl=None, sda=None, freq=400000, timeout=50000):
        self.id = id
        self.freq = freq
        if world.port == "rp2":
            i2c_block(id).enabled = True      # the SDK's i2c_init() leaves the controller on
        if world.logging:
            world.record(("i2c_init", id, _pin_id(scl), _pin_id(sda), freq))

    def _dev(self, addr):
        w = world
        err = w.i2c_fail.get(self.id)
        if err:
            raise OSError(err)
        d = w.i2c_devices.get(self.id << 8 | addr)
        if d is None:
            raise OSError(5)              # EIO: no ACK from the address
        return d

    def scan(self):
        return sorted(k & 0xFF for k in world.i2c_devices if k >> 8 == self.id)

    # Devices implement write(buf), read_into(buf), write_mem(reg, buf) and
    # read_mem_into(reg, buf); the *_into forms allocate nothing.
    def writeto(self, addr, buf, stop=True):
        d = self._dev(addr)
        if world.logging:
            world.record(("i2c_write", self.id, addr, bytes(buf)))
        d.write(buf)
        return len(buf)

    def writevto(self, addr, vector, stop=True):
        data = b"".join(bytes(v) for v in vector)
        return self.writeto(addr, data, stop)

    def readfrom_into(self, addr, buf, stop=True):
        d = self._dev(addr)
        if world.logging:
            world.record(("i2c_read", self.id, addr, len(buf)))
        d.read_into(buf)

    def readfrom(self, addr, nbytes, stop=True):
        buf = bytearray(nbytes)
        self.readfrom_into(addr, buf)
        return bytes(buf)

    def writeto_mem(self, addr, memaddr, buf, addrsize=8):
        d = self._dev(addr)
        if world.logging:
            world.record(("i2c_write_mem", self.id, addr, memaddr, bytes(buf)))
        d.write_mem(memaddr, buf)

    def readfrom_mem_into(self, addr, memaddr, buf, addrsize=8):
        d = self._dev(addr)
        if world.logging:
            world.record(("i2c_read_mem", self.id, addr, memaddr, len(buf)))
        d.read_mem_into(memaddr, buf)

    def readfrom_mem(self, addr, memaddr, nbytes, addrsize=8):
        buf = bytearray(nbytes)
        self.readfrom_mem_into(addr, memaddr, buf)
        return bytes(buf)


SoftI2C = I2C


SIO_GPIO_IN = 0xD0000004            # RP2040 datasheet 2.3.1.7
I2C0_BASE = 0x40044000              # DW_apb_i2c, RP2040 datasheet 4.3.17; I2C1 at +0x4000
I2C_BLOCK_BYTES = 0x100


class I2CBlock:
    """One RP2040 I2C controller as its registers show it, for a driver
    that queues commands in IC_DATA_CMD itself (hw/sensors/mprls.py
    MPRLSFifo). Modelled: IC_TAR (written only while disabled, as on the
    chip), IC_DATA_CMD (a write pushes a command, CMD bit 8 read, STOP bit
    9; a read pops the RX FIFO, bit 11 FIRST_DATA_BYTE on a transfer's
    first byte), IC_RAW_INTR_STAT.TX_ABRT, IC_CLR_TX_ABRT, IC_TX_ABRT_SOURCE,
    IC_ENABLE (ENABLE, ABORT), IC_STATUS, IC_TXFLR, IC_RXFLR. A transfer
    goes to the device at its STOP, all at once (the fake's time does not
    move for the bus); one that nobody acknowledges, or on a bus in
    `World.i2c_fail`, aborts with ABRT_7B_ADDR_NOACK and flushes the rest.
    Knob `hold`: the bus is stuck (SCL held low; `release()` lets go); commands stay queued and
    ACTIVITY stays set. A driver polling the status registers 4096 times
    with no IC_DATA_CMD access between costs 1 ms of the fake clock (about
    a viper loop's pace on a Pico): a
    wait for something that never comes must end on time, not hang a test.
    Any other register raises."""

    def __init__(self, bus):
        self.bus = bus
        self.enabled = False
        self.tar = 0x055                 # the reset value
        self.tx = []                     # the commands of the transfer not yet stopped
        self.rx = []
        self.aborted = False
        self.abort_source = 0
        self.hold = False
        self.spins = 0                   # status reads since the last IC_DATA_CMD access
        self.transfers = 0

    def read(self, off):
        if off in (0x34, 0x70, 0x74, 0x78):
            self.spins += 1
            if self.spins % 4096 == 0:
                world.clock.advance(1)
        if off == 0x04:
            return self.tar
        if off == 0x10:
            self.spins = 0
            return self.rx.pop(0) if self.rx else 0
        if off == 0x34:
            return 0x40 if self.aborted else 0
        if off == 0x54:
            was = self.aborted
            self.aborted = False
            self.abort_source = 0
            return 1 if was else 0
        if off == 0x6C:
            return 1 if self.enabled else 0
        if off == 0x80:
            return self.abort_source
        if off == 0x70:
            busy = bool(self.tx)
            return (1 if busy else 0) | 0x02 | (0 if busy else 0x04) | (0x08 if self.rx else 0)
        if off == 0x74:
            return len(self.tx)
        if off == 0x78:
            return len(self.rx)
        raise ValueError("I2C%d register 0x%02x is not modelled" % (self.bus, off))

    def write(self, off, value):
        if off == 0x04:
            if not self.enabled:
                self.tar = value & 0x3FF
            return
        if off == 0x6C:
            if value & 2 and self.tx:
                self._abort(1 << 16)             # ABRT_USER_ABRT
            self.enabled = bool(value & 1)
            if not self.enabled:
                self.tx = []
                self.rx = []
            return
        if off == 0x10:
            self.spins = 0
            if not self.enabled or self.aborted:
                return                           # disabled, or flushed until the abort is cleared
            self.tx.append(value & 0x7FF)
            if value & 0x200 and not self.hold:
                self._run()
            return
        raise ValueError("I2C%d register 0x%02x writes are not modelled" % (self.bus, off))

    def release(self):
        """The stuck bus lets go (`hold` off): a transfer queued up to its
        STOP runs now."""
        self.hold = False
        if self.tx and self.tx[-1] & 0x200:
            self._run()

    def _abort(self, source):
        self.abort_source = source | (len(self.tx) << 23)
        self.aborted = True
        self.tx = []

    def _run(self):
        cmds, self.tx = self.tx, []
        w = world
        d = w.i2c_devices.get(self.bus << 8 | self.tar)
        self.transfers += 1
        if w.i2c_fail.get(self.bus) or d is None:
            self.tx = cmds
            self._abort(1)                       # ABRT_7B_ADDR_NOACK
            return
        i = 0
        while i < len(cmds):
            j = i
            read = cmds[i] & 0x100
            while j < len(cmds) and cmds[j] & 0x100 == read:
                j += 1
            try:
                if read:
                    buf = bytearray(j - i)
                    if w.logging:
                        w.record(("i2c_read", self.bus, self.tar, len(buf)))
                    d.read_into(buf)
                    self.rx.extend(b | (0x800 if k == 0 else 0) for k, b in enumerate(buf))
                else:
                    buf = bytes(c & 0xFF for c in cmds[i:j])
                    if w.logging:
                        w.record(("i2c_write", self.bus, self.tar, buf))
                    d.write(buf)
            except OSError:
                self.tx = cmds[i:]
                self._abort(1)
                return
            i = j


def i2c_block(bus):
    w = world
    b = w.i2c_blocks.get(bus)
    if b is None:
        b = w.i2c_blocks[bus] = I2CBlock(bus)
    return b


class _Mem32:
    """machine.mem32, for the registers the firmware uses: on rp2 SIO's
    GPIO_IN (bit n = the input level of GPIO n, 0-29, read only) and the two
    I2C controllers (I2CBlock). Any other address, or another port, raises:
    a register the fake does not model must fail a test, not read 0."""

    def __getitem__(self, addr):
        w = world
        if w.port == "rp2":
            if addr == SIO_GPIO_IN:
                bits = 0
                for pin_id in w.modes:
                    if type(pin_id) is int and 0 <= pin_id < 30 and w.input_level(pin_id):
                        bits |= 1 << pin_id
                return bits
            bus, off = _i2c_reg(addr)
            if bus is not None:
                return i2c_block(bus).read(off)
        raise ValueError("mem32[0x%x] is not modelled on %s" % (addr, w.port))

    def __setitem__(self, addr, value):
        if world.port == "rp2":
            bus, off = _i2c_reg(addr)
            if bus is not None:
                i2c_block(bus).write(off, value)
                return
        raise ValueError("mem32[0x%x] writes are not modelled" % addr)


def _i2c_reg(addr):
    for bus in (0, 1):
        off = addr - (I2C0_BASE + (bus << 14))
        if 0 <= off < I2C_BLOCK_BYTES and not off & 3:
            return bus, off
    return None, None


mem32 = _Mem32()


class WDT:
    def __init__(self, id=0, timeout=5000):
        w = world
        if w.port == "rp2" and timeout > RP2_WDT_MAX_MS:
            raise ValueError("timeout too long")
        w.wdt_timeout = timeout
        if w.logging:
            w.record(("wdt_init", timeout))

    def feed(self):
        world.wdt_feeds += 1
        if world.logging:
            world.record(("wdt_feed",))


class RTC:
    """Wall clock: set by `mpremote rtc --set` (datetime tuple), read by the
    firmware through time.time()/localtime()."""

    def __init__(self, id=0):
        pass

    def datetime(self, dt=None):
        w = world
        if dt is None:
            import time
            t = time.gmtime(time.time())
            return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0)
        y, mo, d, _wd, h, mi, s = dt[0], dt[1], dt[2], dt[3], dt[4], dt[5], dt[6]
        days = 0
        for yy in range(1970, y):
            days += 366 if (yy % 4 == 0 and (yy % 100 != 0 or yy % 400 == 0)) else 365
        leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
        mdays = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
        days += sum(mdays[:mo - 1]) + d - 1
        w.epoch_s = days * 86400 + h * 3600 + mi * 60 + s - w.clock.elapsed_ms // 1000
        if w.logging:
            w.record(("rtc_set", dt[0], dt[1], dt[2], dt[4], dt[5], dt[6]))


def disable_irq():
    world.irq_disabled += 1
    return world.irq_disabled


def enable_irq(state=None):
    if world.irq_disabled > 0:
        world.irq_disabled -= 1


def reset_cause():
    return world.reset_cause_value


def reset():
    if world.logging:
        world.record(("reset",))
    raise ResetRequested()


def soft_reset():
    if world.logging:
        world.record(("soft_reset",))
    raise ResetRequested()


def unique_id():
    return b"\xe6\x61\x41\x04\x03\x2f\x5a\x2a"


def freq(hz=None):
    return 125000000


def idle():
    pass


def lightsleep(ms=0):
    world.clock.sleep_ms(ms)
