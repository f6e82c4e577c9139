"""Physical model of the vacuum side of a DIY breast pump.

What it models (isothermal ideal gas, lumped):

- Chamber: breast shields, tubing and backflow protectors, one air volume V.
  Default 2 x 50 mL shields for double pumping with about 40 % of each shield
  taken by the breast (docs/pump-figures.md: "with the breast in the shield, roughly
  half"), plus 1 m of 3 mm tubing per side (7 mL): 2 x (30 + 7) = 74 mL.
  Air is pumped out at chamber pressure P, so dP/dt = -Q_pump * P / V, and
  air leaks in at ambient density, dP/dt = +Q_in * P_atm / V.
- Diaphragm pump: volumetric flow falls linearly from `pump_free_flow_lpm`
  at ambient to zero at `pump_max_vacuum_kpa` and scales with motor speed;
  the motor does not turn below `stall_duty` and its speed follows the PWM
  duty with a first-order lag `motor_tau_ms` (rotor and diaphragm inertia).
  Defaults: 5 L/min free flow, 65 kPa shut-off: a double-pump sized part
  (docs/pump-figures.md gives 1.5-4 L/min for small single pumps; at 74 mL a 3 L/min
  pump misses 90 % of 230 mmHg in 0.5 s, as docs/pump-figures.md's own check warns).
- Leak and release valve: sharp-edged orifices, Q = Cd A sqrt(2 dp / rho)
  (dp < 47 kPa, so never choked). The leak is given as its flow at 100 mmHg
  (mL/min), the normally-open valve by its orifice diameter (1.2 mm vents
  230 mmHg from 74 mL to 10 % in about 0.2 s, docs/pump-figures.md's "~0.15 s").
- Faults the simulator injects act here: valve stuck open/closed, motor
  stall (no flow whatever the duty).

Integration: fixed sub-steps (default 2 ms; 1 ms changes peaks by < 0.5
mmHg), split in two: the pump's outflow by the midpoint rule, then the
orifices' inflow solved exactly (sqrt(vacuum) falls linearly in time), which
stays stable for any leak or valve size; vacuum stays in [0, P_atm). Everything is float and host-side only: the firmware
never sees this module, only the sensor values derived from `vacuum_pa`.
"""
import math

P_ATM_PA = 101325.0
RHO_AIR = 1.20          # kg/m^3 at 20 C
CD_ORIFICE = 0.61       # sharp-edged orifice discharge coefficient
PA_PER_MMHG = 133.322387

DEFAULTS = {
    "volume_ml": 74.0,
    "pump_free_flow_lpm": 5.0,
    "pump_max_vacuum_kpa": 65.0,
    "stall_duty": 0.12,
    "motor_tau_ms": 25.0,
    "leak_ml_min_at_100mmhg": 15.0,
    "valve_orifice_mm": 1.2,
    "ambient_pa": P_ATM_PA,
    "substep_ms": 2.0,
}


def orifice_flow_m3s(diameter_mm, dp_pa):
    """Volumetric flow (m^3/s) through a sharp orifice at pressure drop dp."""
    if dp_pa <= 0 or diameter_mm <= 0:
        return 0.0
    area = math.pi * (diameter_mm * 1e-3) ** 2 / 4
    return CD_ORIFICE * area * math.sqrt(2 * dp_pa / RHO_AIR)


class Plant:
    def __init__(self, **overrides):
        unknown = set(overrides) - set(DEFAULTS)
        if unknown:
            raise ValueError("unknown plant parameter(s): " + ", ".join(sorted(unknown)))
        self.p = dict(DEFAULTS)
        self.p.update(overrides)
        self.vacuum_pa = 0.0
        self.motor_speed = 0.0          # 0..1
        self.valve_open = True
        self.valve_stuck = None         # None, "open" or "closed"
        self.motor_stalled = False
        self._refresh()

    def set(self, **changes):
        unknown = set(changes) - set(DEFAULTS)
        if unknown:
            raise ValueError("unknown plant parameter(s): " + ", ".join(sorted(unknown)))
        self.p.update(changes)
        self._refresh()

    def _refresh(self):
        p = self.p
        self.volume_m3 = p["volume_ml"] * 1e-6
        self.free_flow_m3s = p["pump_free_flow_lpm"] * 1e-3 / 60
        self.max_vac_pa = p["pump_max_vacuum_kpa"] * 1e3
        # Orifices as Q = k * sqrt(dp) (m^3/s, Pa); the leak's k from its flow at 100 mmHg.
        self.k_leak = p["leak_ml_min_at_100mmhg"] * 1e-6 / 60 / math.sqrt(100 * PA_PER_MMHG)
        self.k_valve = orifice_flow_m3s(p["valve_orifice_mm"], 1.0)
        tau = p["motor_tau_ms"]
        h = p["substep_ms"]
        self.motor_alpha = 1.0 - math.exp(-h / tau) if tau > 0 else 1.0

    def step(self, dt_ms, duty_u16, valve_open_cmd):
        """Advance dt_ms with the motor at duty_u16 and the valve commanded.
        Midpoint rule on fixed sub-steps; returns the vacuum (Pa)."""
        valve_open = valve_open_cmd
        if self.valve_stuck == "open":
            valve_open = True
        elif self.valve_stuck == "closed":
            valve_open = False
        self.valve_open = valve_open
        duty = duty_u16 / 65535.0
        stall = self.p["stall_duty"]
        target = 0.0 if duty <= stall else (duty - stall) / (1.0 - stall)
        qf = 0.0 if self.motor_stalled else self.free_flow_m3s
        k_in = self.k_leak + (self.k_valve if valve_open else 0.0)
        patm = self.p["ambient_pa"]
        vmax = self.max_vac_pa
        inv_v = 1.0 / self.volume_m3
        alpha = self.motor_alpha
        h = self.p["substep_ms"]
        ceiling = patm - 1.0
        sqrt = math.sqrt
        # Orifice inflow alone: dv/dt = -a sqrt(v), solved exactly (sqrt(v)
        # falls linearly), so any leak or valve size stays stable.
        a_half = k_in * patm * inv_v * 0.5
        v = self.vacuum_pa
        speed = self.motor_speed
        t = 0.0
        while t < dt_ms - 1e-9:
            hs = h if t + h <= dt_ms else dt_ms - t
            a = alpha if hs == h else 1.0 - math.exp(-hs / self.p["motor_tau_ms"])
            nxt = speed + (target - speed) * a
            sp = 0.5 * (speed + nxt)
            if qf > 0.0 and sp > 0.0:
                # Pump outflow, midpoint rule: dv/dt = Q(v) (P_atm - v) / V.
                q = qf * sp * (1.0 - v / vmax) if v < vmax else 0.0
                vm = v + q * (patm - v) * inv_v * hs * 0.0005
                q = qf * sp * (1.0 - vm / vmax) if vm < vmax else 0.0
                v = v + q * (patm - vm) * inv_v * hs * 0.001
                v = ceiling if v > ceiling else v
            r = sqrt(v) - a_half * hs * 0.001
            v = r * r if r > 0.0 else 0.0
            speed = nxt
            t += hs
        self.vacuum_pa = v
        self.motor_speed = speed
        return v

    @property
    def vacuum_mmhg(self):
        return self.vacuum_pa / PA_PER_MMHG
