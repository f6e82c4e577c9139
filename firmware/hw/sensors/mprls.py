"""Honeywell MPRLS0025PA00001A: I2C (0x18), absolute, 0-25 psi.

Why it exists: a calibrated, temperature-compensated digital part that
covers any pump vacuum with margin and reports its own faults.

Protocol (Honeywell datasheet via docs/sensors.md, Linux/Zephyr drivers):
- Write AA 00 00 to start a conversion (~5 ms); read 4 bytes: status, then
  a 24-bit big-endian count.
- Status 0x40 = powered and good; 0x20 busy; 0x04 memory integrity failed;
  0x01 math saturation. Anything but exactly 0x40 is not a reading.
- Transfer function A: P = (count - 1677722) * 172369 / 13421772 Pa, valid
  for counts 1677722..15099494 (10..90 % of 2^24). Outside that is outside
  the calibrated range (and below 0 Pa absolute impossible): RANGE.
- Absolute: vacuum = ambient - P. begin() measures ambient (the valve must be
  open) from several conversions and refuses an implausible or unsteady one:
  a boot-time ambient measured under residual vacuum would make every later
  reading too low, i.e. the real vacuum higher than the firmware believes.
  `ambient_pa` may be refreshed by the app while the line is vented.
"""
from micropython import const

from hw.sensors import (FAULT_SENSOR_IO, FAULT_SENSOR_RANGE, NEW, NONE,
                        SensorError, read_blocking)

_START = b"\xaa\x00\x00"
_COUNT_MIN = const(1677722)       # 0 Pa
_COUNT_MAX = const(15099494)      # 172369 Pa (25 psi)
_M = const(861845)                # round(172369 * 2^26 / 13421772)
_AMBIENT_N = const(8)
_AMBIENT_MIN_PA = const(50000)    # ~5500 m altitude
_AMBIENT_MAX_PA = const(110000)   # above any weather at sea level
_AMBIENT_SPREAD_PA = const(500)   # ~4 mmHg: still venting, or a leak


class MPRLS:
    period_ms = 6

    def __init__(self, i2c, address=0x18):
        self._i2c, self._addr = i2c, address
        self._buf = bytearray(4)
        self._pending = False         # a conversion was started, not yet collected
        self.ambient_pa = 0
        self.abs_pa = 0
        self.vacuum_pa = 0
        # Vacuum at 0 Pa absolute = ambient; before begin() the lowest
        # ambient begin() accepts.
        self.max_vacuum_pa = _AMBIENT_MIN_PA

    def begin(self, clock):
        self._pending = False
        total, lo, hi = 0, 1 << 20, -1
        i = 0
        while i < _AMBIENT_N:
            try:
                read_blocking(self, clock, 100)
            except SensorError as e:
                raise SensorError(e.code, "MPRLS at 0x%02x: %s" % (self._addr, e.message))
            p = self.abs_pa
            total += p
            lo, hi = min(lo, p), max(hi, p)
            i += 1
        ambient = (total + _AMBIENT_N // 2) // _AMBIENT_N
        if not _AMBIENT_MIN_PA <= ambient <= _AMBIENT_MAX_PA or hi - lo > _AMBIENT_SPREAD_PA:
            raise SensorError(FAULT_SENSOR_RANGE, "MPRLS ambient %d Pa (spread %d Pa) is not "
                              "a steady atmosphere: valve open, pump off?" % (ambient, hi - lo))
        self.ambient_pa = ambient
        self.max_vacuum_pa = ambient

    def read(self, clock, timeout_ms=500):
        return read_blocking(self, clock, timeout_ms)

    # (viper on an RP2040: tools/deploy.py VIPER_FUNCTIONS)
    def poll(self) -> int:
        if not self._pending:
            if int(self._start()):
                return int(FAULT_SENSOR_IO)
            self._pending = True
            return int(NONE)                  # collect on a later poll
        r = int(self._read())
        if r:
            if r > 0:
                return int(NONE)              # powered, still busy: keep waiting
            self._pending = False             # restart from scratch next poll
            return int(FAULT_SENSOR_IO)
        b = ptr8(self._buf)
        s = b[0]
        if s != 0x40:
            if s & 0x40 and s & 0x01 and not s & 0x04:
                return int(FAULT_SENSOR_RANGE)    # math saturation
            return int(FAULT_SENSOR_IO)       # no power bit, integrity, stray bits
        count = (b[1] << 16) | (b[2] << 8) | b[3]
        if count < _COUNT_MIN or count > _COUNT_MAX:
            return int(FAULT_SENSOR_RANGE)
        # P = d * 172369 / 13421772 = d * _M / 2^26, d < 2^24 split in bytes
        # so that no product exceeds 2^28 (viper's words are 32-bit).
        d = count - _COUNT_MIN
        y = ((d & 0xFF) * _M) >> 8
        y = (((d >> 8) & 0xFF) * _M + y) >> 8
        p = ((d >> 16) * _M + y + 512) >> 10
        self.abs_pa = p
        self.vacuum_pa = int(self.ambient_pa) - p
        return int(NEW)

    # The bus, through machine.I2C: blocking transfers.
    def _start(self):
        """Start a conversion: 0, or -1 on a bus error."""
        try:
            self._i2c.writeto(self._addr, _START)
        except OSError:
            return -1
        return 0

    def _read(self):
        """The last conversion into _buf and, unless the part is still busy
        (then 1), the next one started (0); -1 on a bus error."""
        b = self._buf
        try:
            self._i2c.readfrom_into(self._addr, b)
            if b[0] & 0x60 == 0x60:
                return 1
            self._i2c.writeto(self._addr, _START)   # next conversion runs meanwhile
        except OSError:
            return -1
        return 0


# The RP2040's I2C controllers (DW_apb_i2c; RP2040 datasheet 4.3.17): word
# indices of the registers MPRLSFifo uses, and their bits.
_I2C0_BASE = const(0x40044000)     # I2C1 is 0x4000 above
_TAR = const(0x04 >> 2)            # target address, written only while disabled
_DATA = const(0x10 >> 2)           # IC_DATA_CMD: push a command / pop a read byte
_RAW = const(0x34 >> 2)            # IC_RAW_INTR_STAT
_CLR_ABRT = const(0x54 >> 2)       # IC_CLR_TX_ABRT: reading it clears the abort
_ENABLE = const(0x6C >> 2)
_STATUS = const(0x70 >> 2)
_RXFLR = const(0x78 >> 2)          # bytes waiting in the RX FIFO
_CMD_READ = const(0x100)           # IC_DATA_CMD.CMD: clock one byte in
_CMD_STOP = const(0x200)           # IC_DATA_CMD.STOP: STOP after this byte
_TX_ABRT = const(0x40)             # IC_RAW_INTR_STAT.TX_ABRT: NACK, lost arbitration
_TFE = const(0x04)                 # IC_STATUS.TFE: TX FIFO empty
_IDLE = const(0x05)                # IC_STATUS ACTIVITY | TFE: idle reads TFE alone
_WAIT_MS = const(5)                # ~10x a 5-byte read at 100 kHz, then a bus fault
_SPIN = const(2047)                # loops between two looks at the clock: ~0.3 ms, over
                                   # twice a 400 kHz read, so that one never pays for a look
_VIEWS = {}                        # base address -> _Words (bytecode and CPython)


def ptr32(base):
    """Viper's word pointer at `base`, a register block's address. viper
    compiles the name as its cast; as bytecode and on CPython this returns
    the block's _Words view through machine.mem32."""
    return _VIEWS[base]


def ptr8(buf):
    """Viper's byte pointer to `buf`; as bytecode and on CPython, `buf`."""
    return buf


class _Words:
    """A register block through machine.mem32, word i at base + 4 i. The
    addresses are computed once: above 2^30 they are long ints on a 32-bit
    port, and computing one per access would allocate (and a collection
    every few seconds then stalled a tick by 11 ms on the emulated Pico)."""

    def __init__(self, mem32, base):
        self.mem32 = mem32
        self.addr = {i: base + 4 * i for i in (_TAR, _DATA, _RAW, _CLR_ABRT, _ENABLE, _STATUS, _RXFLR)}

    def __getitem__(self, i):
        return self.mem32[self.addr[i]]

    def __setitem__(self, i, v):
        self.mem32[self.addr[i]] = v


class MPRLSFifo(MPRLS):
    """The MPRLS on an RP2040 I2C controller it has to itself, driven
    through the controller's registers.

    Why: through machine.I2C a poll waits for both transfers, ~210 us of bus
    time at 400 kHz (the MPR series' maximum), plus the calls around them.
    Here the poll queues the 4-byte read in the 16-entry TX FIFO, waits
    only for its 4 bytes, queues the next start command and returns: the
    controller sends those 4 bytes (~90 us) while the tick goes on. The
    reading is as fresh as before (read in this tick, the next conversion
    started right after it). request() queues the read before the tick
    (app.py read_ahead), so that even the wait for its bytes is not in it.

    What that costs in checking: a queued start command that fails (a NACK:
    the part unplugged) is seen by the next poll, as an abort flag in the
    controller, and reported as FAULT_SENSOR_IO there, one poll later than
    a blocking write would. A start with nothing pending (the first poll,
    after a fault) is waited for. A transfer that neither completes nor
    aborts within _WAIT_MS is a bus fault too. Only for a bus nobody else
    uses (hw/factory.py decides): another driver's machine.I2C transfer
    disables the controller to set its target address, which would cut off
    a start command still on the wire, and the part would then go on
    answering its previous conversion as if it were new.

    begin() must come first: its clock bounds every wait. The register
    methods are viper code on an RP2040 (tools/deploy.py VIPER_FUNCTIONS):
    there a register is one machine load or store and nothing allocates."""

    def __init__(self, i2c, mem32, bus, address=0x18):
        super().__init__(i2c, address)
        base = _I2C0_BASE + (bus << 14)
        self._base = base
        w = _VIEWS[base] = _Words(mem32, base)
        # machine.I2C(...) set the controller up (pins, rate, enabled);
        # the target address is written with the controller disabled.
        w[_ENABLE] = 0
        w[_TAR] = address
        w[_ENABLE] = 1
        self._queued = False          # request() queued the pending conversion's read

    def begin(self, clock):
        self._clock = clock
        super().begin(clock)

    # (viper on the chip: tools/deploy.py VIPER_FUNCTIONS)
    def request(self) -> int:
        """Queue the pending conversion's 4-byte read ahead of poll(), which
        collects it: the controller clocks the bytes in (about 117 us at
        400 kHz) while the CPU sleeps before the tick (app.py read_ahead).
        They are the bytes poll() would read itself: the part holds its last
        conversion until the next start command, and only poll() queues
        that. 1 when queued; 0 when nothing is pending (the first poll,
        after a fault), one is queued already, or bytes are waiting in the
        RX FIFO (poll() reports those)."""
        if self._queued or not self._pending:
            return 0
        r = ptr32(self._base)
        if r[_RXFLR]:
            return 0
        r[_DATA] = _CMD_READ
        r[_DATA] = _CMD_READ
        r[_DATA] = _CMD_READ
        r[_DATA] = _CMD_READ | _CMD_STOP
        self._queued = True
        return 1

    # (viper on the chip: tools/deploy.py VIPER_FUNCTIONS)
    def _start(self) -> int:
        """A start command with nothing pending (the first poll, or after a
        fault): sent and waited for, so that a part that does not answer is
        a fault at this poll, not a poll that looks like a conversion."""
        if int(self._settle()):
            return -1
        r = ptr32(self._base)
        r[_DATA] = 0xAA
        r[_DATA] = 0
        r[_DATA] = _CMD_STOP
        return int(self._settle())

    # (viper on the chip: tools/deploy.py VIPER_FUNCTIONS)
    def _read(self) -> int:
        # A read not queued ahead (begin(), or bytes were waiting at the
        # request) is queued here; a start command still on the wire needs
        # no wait: the FIFO runs the read after it, and an abort of either
        # shows below. Bytes already waiting would be taken for the part's
        # answer: request() refuses to queue then.
        if not self._queued:
            if not int(self.request()):
                return int(self._fail())
        self._queued = False
        r = ptr32(self._base)
        n = 0
        t0 = 0
        while r[_RXFLR] < 4:
            if r[_RAW] & _TX_ABRT:
                return int(self._fail())
            n += 1
            if n & _SPIN == 0:
                t0 = int(self._timer(n, t0))
                if t0 < 0:
                    return int(self._fail())
        b = ptr8(self._buf)
        b[0] = r[_DATA] & 0xFF
        b[1] = r[_DATA] & 0xFF
        b[2] = r[_DATA] & 0xFF
        b[3] = r[_DATA] & 0xFF
        if b[0] & 0x60 == 0x60:
            return 1
        r[_DATA] = 0xAA
        r[_DATA] = 0
        r[_DATA] = _CMD_STOP
        return 0

    # (viper on the chip: tools/deploy.py VIPER_FUNCTIONS)
    def _settle(self) -> int:
        """Wait for a start command still queued or on the wire; then a
        pending abort (that command was not acknowledged) or stray bytes
        are a bus fault (-1, cleaned up), else 0."""
        r = ptr32(self._base)
        n = 0
        t0 = 0
        while r[_STATUS] & _IDLE != _TFE:
            n += 1
            if n & _SPIN == 0:
                t0 = int(self._timer(n, t0))
                if t0 < 0:
                    return int(self._fail())
        if r[_RAW] & _TX_ABRT or r[_RXFLR]:
            return int(self._fail())
        return 0

    def _timer(self, n, t0):
        """A wait's look at the clock, every _SPIN + 1 turns of its loop: at
        the first, the time the wait started (ticks_ms); later t0 again, or
        -1 once it has waited more than _WAIT_MS."""
        clock = self._clock
        if n == _SPIN + 1:
            return clock.ticks_ms()
        return -1 if clock.ticks_diff(clock.ticks_ms(), t0) > _WAIT_MS else t0

    # (viper on the chip: tools/deploy.py VIPER_FUNCTIONS)
    def _fail(self) -> int:
        """A bus fault: stop what is on the wire, clear the abort (the
        controller keeps its TX FIFO flushed until then), drop stray bytes."""
        r = ptr32(self._base)
        if r[_STATUS] & _IDLE != _TFE:
            r[_ENABLE] = 3                    # ENABLE | ABORT: the controller stops the transfer
        x = r[_CLR_ABRT]                      # the read clears it
        n = 0
        while r[_RXFLR] and n < 16:
            x = r[_DATA]
            n += 1
        return -1
