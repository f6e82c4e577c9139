"""Physical model of the vacuum side of a DIY breast pump.

What it models (isothermal ideal gas, lumped):

- Chamber: breast shields, tubing and backflow protectors, one air volume V.
  Default 2 x 50 mL shields for double pumping with about 40 % of each shield
  taken by the breast (DOMAIN.md: "with the breast in the shield, roughly
  half"), plus 1 m of 3 mm tubing per side (7 mL): 2 x (30 + 7) = 74 mL.
  Air is pumped out at chamber pressure P, so dP/dt = -Q_pump * P / V, and
  air leaks in at ambient density, dP/dt = +Q_in * P_atm / V.
- Diaphragm pump: volumetric flow falls linearly from `pump_free_flow_lpm`
  at ambient to zero at `pump_max_vacuum_kpa` and scales with motor speed;
  the motor does not turn below `stall_duty` and its speed follows the PWM
  duty with a first-order lag `motor_tau_ms` (rotor and diaphragm inertia).
  Defaults: 5 L/min free flow, 65 kPa shut-off: a double-pump sized part
  (DOMAIN.md gives 1.5-4 L/min for small single pumps; at 74 mL a 3 L/min
  pump misses 90 % of 230 mmHg in 0.5 s, as DOMAIN's own check warns).
- Leak and release valve: sharp-edged orifices, Q = Cd A sqrt(2 dp / rho)
  (dp < 47 kPa, so never choked). The leak is given as its flow at 100 mmHg
  (mL/min), the normally-open valve by its orifice diameter (1.2 mm vents
  230 mmHg from 74 mL to 10 % in about 0.2 s, DOMAIN's "~0.15 s").
- Faults the simulator injects act here: valve stuck open/closed, motor
  stall (no flow whatever the duty).

Integration: fixed sub-steps (default 1 ms) with a midpoint rule; vacuum is
clamped to [0, P_atm). Everything is float and host-side only: the firmware
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
    "substep_ms": 1.0,
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
        # Leak orifice diameter that passes the given flow at 100 mmHg.
        q100 = p["leak_ml_min_at_100mmhg"] * 1e-6 / 60
        ref = orifice_flow_m3s(1.0, 100 * PA_PER_MMHG)
        self.leak_mm = math.sqrt(q100 / ref) if q100 > 0 else 0.0

    def _dvdt(self, vac, speed, valve_open):
        """d(vacuum)/dt in Pa/s at vacuum `vac` (Pa)."""
        p_abs = self.p["ambient_pa"] - vac
        q_pump = 0.0
        if speed > 0 and not self.motor_stalled:
            q_pump = self.free_flow_m3s * speed * max(0.0, 1.0 - vac / self.max_vac_pa)
        q_in = orifice_flow_m3s(self.leak_mm, vac)
        if valve_open:
            q_in += orifice_flow_m3s(self.p["valve_orifice_mm"], vac)
        return (q_pump * p_abs - q_in * self.p["ambient_pa"]) / self.volume_m3

    def step(self, dt_ms, duty_u16, valve_open_cmd):
        """Advance dt_ms with the motor at duty_u16 and the valve commanded."""
        self.valve_open = valve_open_cmd
        if self.valve_stuck == "open":
            self.valve_open = True
        elif self.valve_stuck == "closed":
            self.valve_open = False
        duty = duty_u16 / 65535.0
        stall = self.p["stall_duty"]
        target_speed = 0.0 if duty <= stall else (duty - stall) / (1.0 - stall)
        h_ms = self.p["substep_ms"]
        tau = self.p["motor_tau_ms"]
        t = 0.0
        vac = self.vacuum_pa
        speed = self.motor_speed
        ceiling = self.p["ambient_pa"] - 1.0
        while t < dt_ms - 1e-9:
            h = min(h_ms, dt_ms - t)
            a = h / tau if tau > 0 else 1.0
            speed_next = speed + (target_speed - speed) * min(1.0, a)
            mid_speed = 0.5 * (speed + speed_next)
            k1 = self._dvdt(vac, mid_speed, self.valve_open)
            v_mid = min(ceiling, max(0.0, vac + k1 * h * 0.5e-3))
            k2 = self._dvdt(v_mid, mid_speed, self.valve_open)
            vac = min(ceiling, max(0.0, vac + k2 * h * 1e-3))
            speed = speed_next
            t += h
        self.vacuum_pa = vac
        self.motor_speed = speed
        return vac

    @property
    def vacuum_mmhg(self):
        return self.vacuum_pa / PA_PER_MMHG
