"""The sensor as the board file names it, fed by the plant.

`Signal` is what the sensing element sees: the plant's true vacuum,
delayed by `latency_ms`, plus a calibration offset and Gaussian noise from
the seeded Rng, or frozen (the injected sensor_stuck fault), or clipped at
`ceiling_pa` (a saturating element: it stops following above the ceiling
while its noise goes on; the fault sweeps set it). `attach()`
wires the part's own protocol model (tools/fakes/devices.py or the fake ADC)
to the fake machine with that signal in the part's raw encoding: the
firmware's real driver then reads it exactly as on the board, so the ADC's
12-bit steps, the bridge's counts and the I2C conversion times are all in
the loop.
"""
from devices import HX710BModule, MPRLSDevice, XGZP6897DDevice

PA_PER_MMHG = 133.322387
HISTORY = 64                     # advance points kept for the latency


class Signal:
    def __init__(self, link, rng, noise_pa, latency_ms):
        self.link = link
        self.rng = rng
        self.noise_pa = noise_pa
        self.extra_noise_pa = 0.0
        self.offset_pa = 0.0
        self.latency_ms = latency_ms
        self.frozen = None
        self.ceiling_pa = None

    def vacuum_pa(self):
        """What the element measures now (Pa, float)."""
        if self.frozen is not None:
            return self.frozen
        link = self.link
        if link.base_ms + link.world.clock.elapsed_ms > link.t_ms:      # link.now_ms() past the plant's time
            link.advance()
        v = link.vacuum_at(link.now_ms() - self.latency_ms) if self.latency_ms else link.plant.vacuum_pa
        if self.ceiling_pa is not None and v > self.ceiling_pa:
            v = self.ceiling_pa
        sigma = self.noise_pa + self.extra_noise_pa
        if sigma > 0:
            v += sigma * self.rng.gauss_q16() / 65536.0
        return v + self.offset_pa

    def freeze(self):
        self.frozen = self.vacuum_pa()

    def unfreeze(self):
        self.frozen = None


class Attached:
    """What the engine needs to inject sensor faults into the part."""

    def __init__(self, kind, device=None, bus=None, pin=None):
        self.kind = kind
        self.device = device
        self.bus = bus
        self.pin = pin
        self.disconnected = False


def attach(world, board, signal, ambient_pa):
    """Wire the board's sensor part to the fake machine, reading `signal`."""
    s = board["sensor"]
    t = s["type"]
    if t == "analog":
        divider = s["divider"]
        zero = s["zero_mv"]
        slope = s["mv_per_kpa"]
        att = Attached(t, pin=s["pin"])

        def uv():
            if att.disconnected:
                return 0                 # open input: the divider pulls the pin to ground
            sensor_mv = zero + slope * signal.vacuum_pa() / 1000.0
            if sensor_mv < 0.0:
                sensor_mv = 0.0
            return int(sensor_mv * divider * 1000.0)
        world.attach_adc_uv(s["pin"], uv)
        return att
    if t == "hx710b":
        offset = s["offset"]
        cpk = s["counts_per_kpa"]
        dev = HX710BModule(world, s["sck"], s["dout"], lambda: int(offset + cpk * signal.vacuum_pa() / 1000.0))
        return Attached(t, device=dev)
    if t == "mprls":
        dev = MPRLSDevice(lambda: ambient_pa - signal.vacuum_pa())
        world.attach_i2c(s["i2c"], 0x18, dev)
        return Attached(t, device=dev, bus=s["i2c"])
    dev = XGZP6897DDevice(lambda: -signal.vacuum_pa(), s["k"])
    world.attach_i2c(s["i2c"], 0x6D, dev)
    return Attached(t, device=dev, bus=s["i2c"])


def disconnect(world, att, on):
    """The injected sensor_disconnect fault, as each part shows it."""
    att.disconnected = on
    if att.kind == "hx710b":
        att.device.never_ready = on              # DOUT pulled up, never falls
    elif att.kind in ("mprls", "xgzp6897d"):
        if on:
            world.i2c_fail[att.bus] = 5          # EIO: nobody acknowledges
        else:
            world.i2c_fail.pop(att.bus, None)
