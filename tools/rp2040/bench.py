"""The bench: an emulated Pico running the real MicroPython rp2 port, with
the pump around it.

Why it exists: "green on the host" ran the unix port at host speed with a
folder for flash, and missed a firmware that could not start a session on
a Pico. Here the firmware runs on MicroPython v1.28.0 for RPI_PICO inside
rp2040js (tools/rp2040/chip.mjs), in cycle-counted virtual time, on real
littlefs whose erase and program take the W25Q16JV's time, and the bench
provides what a built pump would:

- the vacuum plant of the simulator (tools/sim/vm/plant.py, the one source
  of truth for its parameters), moved by the motor pin's PWM duty (the
  slice's CC over TOP+1) and the valve pin, stepped every millisecond;
- the board's sensor at the wire level (tools/rp2040/wires.py);
- buttons to ground on their pins, the LED and buzzer read back;
- faults: sensor stuck, disconnected or saturated, valve stuck closed or
  open, motor stall, a hung CPU (the watchdog must reset it), a power cut
  (the chip restarts on the same flash; the chamber keeps its vacuum and
  vents through the unpowered normally-open valve);
- the board's USB CDC REPL on a loopback TCP port, so the real mpremote
  (`make flash PORT=socket://127.0.0.1:N`) drives it as a USB board.

Time is the chip's: `run(seconds)` advances virtual time. Nothing here
sleeps on the wall clock.
"""
import json
import os
import random
import socket
import sys

from tools import paths
from tools.rp2040 import wires
from tools.rp2040.chip import Chip

sys.path.insert(0, paths.SIM_VM)
sys.path.insert(0, paths.FAKES)
from plant import PA_PER_MMHG, Plant  # noqa: E402

STEP_NS = 1_000_000
# The longest wait for main.py's loop after a reset (its first heartbeat
# comes ~0.65 s after power-up).
BOOT_S = 4.0
LED_NAMES = {"LED": 25}            # RPI_PICO's Pin("LED")
BUTTONS = ("start_stop", "letdown", "level_up", "level_down", "pause")


def load_board(name_or_path):
    path = name_or_path if os.path.exists(name_or_path) else os.path.join(paths.BOARDS, name_or_path + ".json")
    with open(path) as f:
        return json.load(f)


def pin_number(p):
    return LED_NAMES.get(p, p) if isinstance(p, str) else p


class Bench:
    def __init__(self, board, image=None, flash_timing="typical", plant=None, seed=1, noise_mmhg=0.3,
                 listen=False, port=0, echo=None):
        self.board = load_board(board) if isinstance(board, str) else board
        if self.board["port"] != "rp2":
            raise ValueError("the emulated board is an RP2040: %s is for %s" % (self.board["name"], self.board["port"]))
        self.chip = Chip(image=image, flash_timing=flash_timing)
        self.base_ns = 0                 # virtual time before the current chip's boot
        self.chip_ns = 0
        self.plant = Plant(**(plant or {}))
        self.rng = random.Random(seed)
        self.noise_pa = noise_mmhg * PA_PER_MMHG
        self.offset_pa = 0.0
        self.frozen_pa = None
        self.saturated = False
        self.disconnected = False
        self.powered = True
        self.echo = echo
        self.console = bytearray()
        self.boots = 1
        self.resets = []                 # (t_ms, cause)
        self.trace = []                  # (t_ms, vacuum_mmhg, duty_u16, valve_open)
        self.led_edges = []              # (t_ms, level)
        self.flash_ops = []              # (t_ms, stall_ms, duty_u16, valve_open) per erase/program
        self.buzzer_edges = []
        self.duty = 0
        self.valve_open = True
        self.led = 0
        self.buzzer = 0
        b = self.board
        self.motor_pin = b["motor"]["pin"]
        self.valve_pin = b["valve"]["pin"]
        self.valve_active_high = b["valve"].get("active_high", True)
        ind = b["indicator"]
        self.led_pin = pin_number(ind["led"])
        self.led_active_high = ind.get("led_active_high", True)
        self.buzzer_pin = ind.get("buzzer")
        btn = b["buttons"]
        self.button_pins = {k: btn[k] for k in BUTTONS if btn.get(k) is not None}
        self.button_active_low = btn.get("active_low", True)
        self.clock = wires.NsClock(self)
        self._setup_sensor()
        self._watch()
        self.client = None
        self.server = None
        if listen:
            self.server = socket.create_server(("127.0.0.1", port))
            self.server.setblocking(False)
            self.port = self.server.getsockname()[1]
        self.pending_drive = {}
        self.pending_adc = {}
        self._update_sensor()

    # -- time ------------------------------------------------------------------
    @property
    def t_ns(self):
        return self.base_ns + self.chip_ns

    @property
    def t_ms(self):
        return self.t_ns // 1_000_000

    # -- the sensor at its pins -------------------------------------------------
    def _setup_sensor(self):
        s = self.board["sensor"]
        self.sensor_type = t = s["type"]
        self.i2c = {}
        self.hx = None
        self.ambient_pa = self.plant.p["ambient_pa"]
        from devices import MPRLSDevice, XGZP6897DDevice
        if t == "analog":
            self.adc_channel = s["pin"] - 26
        elif t == "mprls":
            bus = self.i2c.setdefault(s["i2c"], wires.I2CTarget())
            self.part = MPRLSDevice(lambda: self.ambient_pa - self.sensed_pa(), clock=self.clock)
            bus.add(0x18, self.part)
            self.part_addr = (s["i2c"], 0x18)
        elif t == "xgzp6897d":
            bus = self.i2c.setdefault(s["i2c"], wires.I2CTarget())
            self.part = XGZP6897DDevice(lambda: -self.sensed_pa(), s["k"], clock=self.clock)
            bus.add(0x6D, self.part, register=True)
            self.part_addr = (s["i2c"], 0x6D)
        elif t == "hx710b":
            offset, cpk = s["offset"], s["counts_per_kpa"]
            self.hx = wires.HX710BWire(lambda: offset + cpk * self.sensed_pa() / 1000.0, self.t_ns)
            self.hx_sck, self.hx_dout = s["sck"], s["dout"]
            self.hx_level = None
        else:
            raise ValueError("the bench has no model for sensor type %r" % t)

    def sensed_pa(self):
        """What the sensing element sees: the true vacuum with noise and
        offset, or the frozen value (sensor_stuck)."""
        if self.frozen_pa is not None:
            return self.frozen_pa
        v = self.plant.vacuum_pa + self.offset_pa
        if self.noise_pa:
            v += self.rng.gauss(0.0, self.noise_pa)
        return v

    def _update_sensor(self):
        t = self.sensor_type
        if t == "analog":
            s = self.board["sensor"]
            if self.disconnected:
                code = 0                          # open input: the divider pulls it to ground
            elif self.saturated:
                code = 4095
            else:
                mv = s["zero_mv"] + s["mv_per_kpa"] * self.sensed_pa() / 1000.0
                code = wires.analog_code(mv, s["divider"])
            self.pending_adc[self.adc_channel] = code
        elif t == "hx710b":
            self.hx.never_ready = self.disconnected
            lvl = self.hx.dout_level(self.t_ns)
            if lvl != self.hx_level:
                self.hx_level = lvl
                self.pending_drive[self.hx_dout] = lvl
        else:
            bus, addr = self.part_addr
            if self.disconnected:
                self.i2c[bus].silent.add(addr)
            else:
                self.i2c[bus].silent.discard(addr)
            self.part.saturated = self.saturated if t == "mprls" else False
            if t == "xgzp6897d":
                self.part.raw_override = 0x800000 if self.saturated else None

    def _watch(self):
        pins = [self.motor_pin, self.valve_pin, self.led_pin]
        if self.buzzer_pin is not None:
            pins.append(self.buzzer_pin)
        edges = []
        if self.hx is not None:
            pins.append(self.hx_sck)
            edges.append(self.hx_sck)
        self.chip.request("watch", pins=pins, edges=edges)

    # -- one step ---------------------------------------------------------------
    def step(self, ns=STEP_NS, halt=False):
        self._serve_usb()
        target = self.chip_ns + ns
        kw = {}
        if self.pending_adc:
            kw["adc"] = self.pending_adc
            self.pending_adc = {}
        if self.pending_drive:
            kw["drive"] = self.pending_drive
            self.pending_drive = {}
        t0 = self.t_ns
        ans = self.chip.request("run", ns=ns, halt=halt, **kw)
        while True:
            self.chip_ns = ans["t"]
            if "usb" in ans:
                self._console(bytes.fromhex(ans["usb"]))
            for t, ns, pins in ans.get("flash_ops", ()):
                duty, valve_open, _, _ = self._decode(pins)
                self.flash_ops.append((self.base_ns // 1_000_000 + t // 1_000_000, ns / 1e6, duty, valve_open))
            ev = ans["ev"]
            if ev == "ran":
                break
            if ev == "reset":
                self._outputs(ans["pins"], t0)
                self._reboot("watchdog")
                return
            kw = {}
            if ev == "i2c":
                # The bus events before this address, each at its own time
                # (a conversion starts at the stop that ends its command).
                for q in ans["i2c"].pop("queued"):
                    self.clock.at_ns = self.base_ns + q["t"]
                    self.i2c.get(q["bus"], wires.I2CTarget()).event(q)
                self.clock.at_ns = None
                reply = self.i2c.get(ans["i2c"]["bus"], wires.I2CTarget()).event(ans["i2c"])
                self.chip.request("i2c_done", **reply)
            elif ev == "edge":
                self.hx.edge(ans["pins"][str(self.hx_sck)] == 65535, self.t_ns)
                lvl = self.hx.dout_level(self.t_ns)
                if lvl != self.hx_level:
                    self.hx_level = lvl
                    kw["drive"] = {self.hx_dout: lvl}
            left = target - self.chip_ns
            if left <= 0:
                break
            ans = self.chip.request("run", ns=left, halt=halt, **kw)
        self._outputs(ans["pins"], t0)

    def _decode(self, pins):
        """(motor duty, valve open, LED on, buzzer on) from a pin report."""
        duty = pins.get(str(self.motor_pin), -1)
        duty = duty if duty > 0 and self.powered else 0
        v = pins.get(str(self.valve_pin), -1)
        energized = self.powered and v >= 0 and ((v == 65535) == self.valve_active_high)
        led = pins.get(str(self.led_pin), -1)
        led = 1 if self.powered and led >= 0 and ((led > 0) == self.led_active_high) else 0
        bz = 1 if self.buzzer_pin is not None and self.powered and pins.get(str(self.buzzer_pin), -1) > 0 else 0
        return duty, not energized, led, bz                # the valve is normally open

    def _outputs(self, pins, t0):
        self.duty, self.valve_open, led, bz = self._decode(pins)
        if led != self.led:
            self.led = led
            self.led_edges.append((self.t_ms, led))
        if bz != self.buzzer:
            self.buzzer = bz
            self.buzzer_edges.append((self.t_ms, bz))
        dt_ms = (self.t_ns - t0) / 1e6
        if dt_ms > 0:
            self.plant.step(dt_ms, self.duty, self.valve_open)
        self.trace.append((self.t_ms, self.plant.vacuum_pa / PA_PER_MMHG, self.duty, self.valve_open))
        self._update_sensor()

    def _reboot(self, cause):
        self.resets.append((self.t_ms, cause))
        self.base_ns += self.chip_ns
        self.chip_ns = 0
        self.boots += 1
        self.chip.request("reboot", cause=cause)
        self.hx_level = None
        self._watch()
        self._update_sensor()

    # -- what a test does ---------------------------------------------------------
    def run(self, seconds, until=None):
        """Advance `seconds` of virtual time (or until `until()` is true)."""
        end = self.t_ns + int(seconds * 1e9)
        while self.t_ns < end:
            self.step()
            if until is not None and until():
                return True
        return False

    def settle(self, seconds=BOOT_S):
        """After a command that reset the board: run until main.py's loop is
        up (an LED heartbeat after now, at most `seconds`); True when it is.
        mpremote waits on the wall clock (10 s to enter the raw REPL) while
        the emulated board takes ~4 s of wall time to boot, and bytes sent
        before the reset lands are dropped with the chip's USB: a command
        started right after a reset could time out on a healthy board."""
        t = self.t_ms
        return self.run(seconds, until=lambda: any(on and at > t for at, on in self.led_edges))

    def run_while(self, busy):
        """Step until busy() is false (e.g. an mpremote process running)."""
        while busy():
            self.step()

    def host(self, args):
        """Run a host command (make flash, mpremote ...) while the chip runs;
        its output, or RuntimeError with the end of it when it fails."""
        import subprocess
        from tools import paths
        p = subprocess.Popen(args, cwd=paths.ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.run_while(lambda: p.poll() is None)
        with p.stdout:
            text = p.stdout.read()
        if p.wait():
            raise RuntimeError(" ".join(str(a) for a in args[:5]) + ": " + text[-1500:])
        return text

    def _button(self, name, pressed):
        if name not in self.button_pins:
            raise ValueError("board %s has no %s button" % (self.board["name"], name))
        pin = self.button_pins[name]
        # A switch to ground on a pulled-up input: pressed drives 0,
        # released lets the pull-up hold the line.
        if self.button_active_low:
            self.pending_drive[pin] = 0 if pressed else None
        else:
            self.pending_drive[pin] = 1 if pressed else None

    def press(self, name, ms=120):
        self._button(name, True)
        self.run(ms / 1000)
        self._button(name, False)
        self.run(0.06)

    def long_press(self, name):
        self.press(name, self.board["buttons"].get("long_press_ms", 1500) + 300)

    def fault(self, name, on=True):
        if name == "sensor_stuck":
            self.frozen_pa = self.sensed_pa() if on else None
        elif name == "sensor_disconnect":
            self.disconnected = on
        elif name == "sensor_saturate":
            self.saturated = on
        elif name == "valve_stuck_closed":
            self.plant.valve_stuck = "closed" if on else None
        elif name == "valve_stuck_open":
            self.plant.valve_stuck = "open" if on else None
        elif name == "motor_stall":
            self.plant.motor_stalled = on
        else:
            raise ValueError("unknown fault %r" % name)
        self._update_sensor()

    def hang(self, seconds):
        """The CPU stops executing (a hung firmware) for `seconds`; a
        running watchdog resets the chip."""
        end = self.t_ns + int(seconds * 1e9)
        boots = self.boots
        while self.t_ns < end and self.boots == boots:
            self.step(halt=True)

    def power_cut(self, off_s=0.5):
        """Power off for off_s (motor stops, the valve opens: it is normally
        open), then a fresh chip on the same flash: the RTC is lost."""
        self.powered = False
        self.duty = 0
        end = self.t_ns + int(off_s * 1e9)
        while self.t_ns < end:
            self.plant.step(1.0, 0, True)
            self.base_ns += STEP_NS
            self.trace.append((self.t_ms, self.plant.vacuum_pa / PA_PER_MMHG, 0, True))
        self.powered = True
        self._reboot("power")

    def save_image(self, path):
        self.chip.request("save", path=os.path.abspath(path))

    def flash_stats(self):
        return self.chip.request("stats")

    # -- the REPL over loopback TCP ----------------------------------------------------
    def _console(self, data):
        self.console += data
        if self.echo is not None:
            self.echo(data)
        if self.client is not None:
            try:
                self.client.sendall(data)
            except OSError:
                self._drop_client()

    def _drop_client(self):
        try:
            self.client.close()
        except OSError:
            pass
        self.client = None

    def _serve_usb(self):
        if self.server is None:
            return
        if self.client is None:
            try:
                self.client, _ = self.server.accept()
                self.client.setblocking(False)
                self.client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except (BlockingIOError, OSError):
                return
        try:
            data = self.client.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            self._drop_client()
            return
        if not data:
            self._drop_client()
            return
        self.chip.request("usb", hex=data.hex())

    def close(self):
        if self.client is not None:
            self._drop_client()
        if self.server is not None:
            self.server.close()
            self.server = None
        self.chip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- reading what the person sees -----------------------------------------------------

def led_pulses(edges, t_from_ms, t_to_ms):
    """[(start_ms, length_ms)] of LED on-pulses that begin inside the window."""
    out = []
    on_at = None
    for t, lvl in edges:
        if lvl and on_at is None:
            on_at = t
        elif not lvl and on_at is not None:
            if t_from_ms <= on_at < t_to_ms:
                out.append((on_at, t - on_at))
            on_at = None
    return out


def blink_code(edges, t_from_ms, t_to_ms):
    """The fault blink code shown in the window: the number of 200 ms
    flashes in a group (groups are 1.5 s apart), or None."""
    groups, last = [], None
    for start, length in led_pulses(edges, t_from_ms, t_to_ms):
        if not 150 <= length <= 250:
            continue
        if last is None or start - last > 1000:
            groups.append(0)
        groups[-1] += 1
        last = start
    full = groups[1:-1] if len(groups) > 2 else groups
    return max(set(full), key=full.count) if full else None


def cycles(trace, t_from_ms, t_to_ms):
    """[(start_ms, period_ms, peak_mmhg)] of the suction/release cycles that
    start and end inside the window: a cycle starts when the valve closes."""
    starts, peaks = [], []
    prev_open = True
    for t, vac, duty, valve_open in trace:
        if t < t_from_ms or t >= t_to_ms:
            prev_open = valve_open
            continue
        if prev_open and not valve_open:
            starts.append(t)
            peaks.append(0.0)
        if peaks:
            peaks[-1] = max(peaks[-1], vac)
        prev_open = valve_open
    return [(starts[i], starts[i + 1] - starts[i], peaks[i]) for i in range(len(starts) - 1)]


def safe_since(trace, t_from_ms):
    """The first time from t_from_ms on after which the motor stayed off and
    the valve open to the end of the trace (None if it never did)."""
    first = None
    for t, vac, duty, valve_open in trace:
        if t < t_from_ms:
            continue
        if duty == 0 and valve_open:
            if first is None:
                first = t
        else:
            first = None
    return first
