"""Firmware in the loop: the real app.py and drivers on the fake machine,
wired to the physical plant. Runs unchanged under CPython and MicroPython.

The engine takes a *resolved* scenario (tools/sim/scenario.py makes it: the
board file as an object, the profiles text, plant parameters and event
parameters as integers in millionths so that both VMs parse them to the same
doubles) and yields one row of integers per control tick:

    t_ms, true vacuum (milli-mmHg), reading (milli-mmHg or None), setpoint
    (milli-mmHg), duty_u16, valve_open, state, mode, cycle mode, fault,
    target (milli-mmHg), level

State is the firmware's STATE_* code, or -1 while the power is cut.

Coupling: the plant advances lazily to the fake clock with the motor duty
and valve level the firmware last applied (zero-order hold), so whatever the
firmware reads, at any moment of a tick, is the plant at that moment.
Button presses pull the board's button pins low for their hold time.
A power cut stops the firmware (motor off, normally-open valve vents); at
its end the board boots again from its files, with a fresh fake machine.
"""
import sys

import machine
from fake_clock import FakeClock
from plant import Plant
from rng import Rng
from sensing import PA_PER_MMHG, Signal, attach, disconnect

STATE_OFF = -1
MILLI = 1000000.0                # resolved floats travel as int millionths


def to_milli_mmhg(pa):
    return int(pa * 1000.0 / PA_PER_MMHG + 0.5) if pa >= 0 else -int(-pa * 1000.0 / PA_PER_MMHG + 0.5)


class Link:
    """The plant, advanced to the fake clock on demand."""

    def __init__(self, plant, history):
        self.plant = plant
        self.world = None
        self.base_ms = 0             # sim time at the world's clock elapsed 0
        self.t_ms = 0                # sim time the plant has reached
        self.powered = True
        self.motor_pin = 0
        self.valve_pin = 0
        self.valve_active = 1
        self.hist_t = [0] * history
        self.hist_v = [0.0] * history
        self.hist_i = 0
        self.max_pa = 0.0

    def now_ms(self):
        return self.base_ms + self.world.clock.elapsed_ms

    def advance(self, to_ms=None):
        now = self.now_ms() if to_ms is None else to_ms
        dt = now - self.t_ms
        if dt <= 0:
            return
        if self.powered:
            w = self.world
            duty = w.pwm_duty(self.motor_pin)
            vent = w.levels.get(self.valve_pin, 1 - self.valve_active) != self.valve_active
        else:
            duty = 0
            vent = True                  # unpowered normally-open valve
        v = self.plant.step(dt, duty, vent)
        self.t_ms = now
        if v > self.max_pa:
            self.max_pa = v
        i = (self.hist_i + 1) % len(self.hist_t)
        self.hist_t[i] = now
        self.hist_v[i] = v
        self.hist_i = i

    def vacuum_at(self, t_ms):
        """The vacuum at the last advance point at or before t_ms."""
        n = len(self.hist_t)
        i = self.hist_i
        k = 0
        while k < n:
            if self.hist_t[i] <= t_ms:
                return self.hist_v[i]
            i = (i - 1) % n
            k += 1
        return self.hist_v[(self.hist_i + 1) % n]


class Engine:
    def __init__(self, spec, firmware_files, log_dir=None):
        """spec: the resolved scenario; firmware_files: name -> text for the
        board's flash (board.json, profiles.json); log_dir: a folder that
        plays the flash for the session log (None: no log). spec may carry
        "wall_start_s": the board's clock at t=0 in seconds since 2000."""
        self.log_dir = log_dir
        self.spec = spec
        self.files = firmware_files
        self.board = spec["board"]
        plant_params = {}
        for k in spec["plant"]:
            plant_params[k] = spec["plant"][k] / MILLI
        self.plant = Plant(**plant_params)
        self.link = Link(self.plant, 64)
        self.rng = Rng(spec["seed"])
        sensor = spec["sensor"]
        self.signal = Signal(self.link, self.rng, sensor["noise_pa"] / MILLI, sensor["latency_ms"])
        self.ambient_pa = self.plant.p["ambient_pa"]
        self.tick_ms = 10
        self.app = None
        self.attached = None
        self.world = None
        self.presses = []            # [pin, release at sim ms]
        self.off_until = None
        self.events = sorted(spec["events"], key=lambda e: e["at_ms"])
        self.next_event = 0
        b = self.board["buttons"]
        self.buttons = {"start_stop": b["start_stop"], "letdown": b["letdown"], "level_up": b["level_up"],
                        "level_down": b["level_down"], "pause": b.get("pause")}
        self.long_ms = b["long_press_ms"]
        self.disconnected = False

    # -- boot ---------------------------------------------------------------------
    def boot(self, at_ms):
        import app as app_mod
        port = self.board["port"]
        w = machine.reset_world(port, FakeClock(self.spec["clock_start_ms"]))
        w.logging = False
        self.world = w
        link = self.link
        link.world = w
        link.base_ms = at_ms
        link.powered = True
        link.motor_pin = self.board["motor"]["pin"]
        link.valve_pin = self.board["valve"]["pin"]
        link.valve_active = 1 if self.board["valve"]["active_high"] else 0
        self.attached = attach(w, self.board, self.signal, self.ambient_pa)
        if self.disconnected:
            disconnect(w, self.attached, True)
        files = self.files
        log = wall = None
        if self.log_dir is not None:
            from hw.sessionlog import SessionLog
            log = SessionLog(self.log_dir)
        if self.spec.get("wall_start_s") is not None:
            from pump.record import civil
            wall = civil(self.spec["wall_start_s"] + at_ms // 1000)
        self.app = app_mod.boot(machine, w.clock, lambda name: files.get(name), log, wall)
        self.tick_ms = self.app.tick_ms

    def now_ms(self):
        return self.link.now_ms() if self.off_until is None else self.link.t_ms

    # -- events -----------------------------------------------------------------------
    def press(self, name, hold_ms, at_ms):
        pin = self.buttons.get(name)
        if pin is None:
            return False
        self.world.levels[pin] = 0
        self.presses.append([pin, at_ms + hold_ms])
        return True

    def apply(self, e, now):
        kind = e["kind"]
        if kind == "press":
            if self.off_until is not None:
                self.note(now, "press %s ignored: the power is off" % e["button"])
            elif not self.press(e["button"], e["hold_ms"], now):
                # No pause button on this board: the let-down button's long press pauses.
                self.press("letdown", self.long_ms + 200, now)
        elif kind == "program":
            want = e["index"]
            s = self.app.session
            if s.state not in (0, 5):
                self.note(now, "program %d ignored: programs are selected while idle" % want)
                return
            n = (want - s.program) % len(s.p.programs)
            step = self.long_ms + 500
            for k in range(n):              # long presses on start/stop, one after another
                self.events.insert(self.next_event, {"at_ms": now + k * step, "kind": "press",
                                                     "button": "start_stop", "hold_ms": self.long_ms + 200})
            self.events.sort(key=lambda ev: ev["at_ms"])
        elif kind == "plant":
            changes = {}
            for k in e["set"]:
                changes[k] = e["set"][k] / MILLI
            self.link.advance(now)
            self.plant.set(**changes)
        elif kind == "fault":
            self.fault(e["name"], e["params"], True, now)
        elif kind == "clear":
            self.fault(e["name"], {}, False, now)

    def note(self, now, text):
        """An event the board could not act on: said, not swallowed."""
        sys.stderr.write("sim at %d.%03d s: %s\n" % (now // 1000, now % 1000, text))

    def fault(self, name, params, on, now):
        self.link.advance(now)
        sig = self.signal
        if name == "sensor_stuck":
            if on:
                sig.freeze()
            else:
                sig.unfreeze()
        elif name == "sensor_disconnect":
            self.disconnected = on
            disconnect(self.world, self.attached, on)
        elif name == "sensor_noise":
            sig.extra_noise_pa = params["mmhg"] / MILLI * PA_PER_MMHG if on else 0.0
        elif name == "sensor_offset":
            sig.offset_pa = params["mmhg"] / MILLI * PA_PER_MMHG if on else 0.0
        elif name == "valve_stuck_closed":
            self.plant.valve_stuck = "closed" if on else None
        elif name == "valve_stuck_open":
            self.plant.valve_stuck = "open" if on else None
        elif name == "motor_stall":
            self.plant.motor_stalled = on
        elif name == "power_cut":
            if on:
                self.off_until = now + params["duration_s"] * 1000 // 1000000
                self.link.powered = False
                self.presses = []
            else:
                self.off_until = now

    # -- the run --------------------------------------------------------------------------
    def rows(self):
        """Yield one row per control tick (and per 10 ms while powered off)."""
        end = self.spec["duration_ms"]
        self.boot(0)
        now = self.now_ms()
        while now < end:
            while self.next_event < len(self.events) and self.events[self.next_event]["at_ms"] <= now:
                e = self.events[self.next_event]
                self.next_event += 1
                self.apply(e, now)
            if self.off_until is not None:
                if now >= self.off_until:
                    self.off_until = None
                    self.link.advance(now)
                    self.boot(now)
                    now = self.now_ms()
                    continue
                now += 10
                self.link.advance(now)
                yield (now, to_milli_mmhg(self.plant.vacuum_pa), None, 0, 0, 1, STATE_OFF, -1, -1, 0, 0, 0)
                continue
            if self.presses:
                for p in self.presses:
                    if now >= p[1]:
                        self.world.levels[p[0]] = 1
                self.presses = [p for p in self.presses if now < p[1]]
            self.world.clock.advance(self.tick_ms)
            out = self.app.step(self.world.clock.ticks_ms())
            self.link.advance()
            now = self.now_ms()
            r = self.app.reading
            yield (now, to_milli_mmhg(self.plant.vacuum_pa), None if r is None else to_milli_mmhg(r),
                   to_milli_mmhg(out.setpoint_pa), out.duty_u16, 1 if out.valve_open else 0, out.state,
                   out.mode, out.cycle_mode, out.fault, to_milli_mmhg(out.target_pa), out.level)
