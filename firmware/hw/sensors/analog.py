"""Analog pressure sensor (CFSensor XGZP6847A style) on the MCU's ADC.

Why it exists: a ratiometric 0.5-4.5 V sensor behind a divider is the
simplest part that covers a pump's whole range (-100..0 kPa or -40..0 kPa).

Facts (docs/sensors.md):
- Output V = 0.5 + 4.0 * (P - Pmin) / (Pmax - Pmin) at 5 V supply; for the
  vacuum parts the output FALLS with vacuum (mv_per_kpa < 0, e.g. -40 for
  -100..0 kPa). zero_mv (output at ambient) is a per-unit calibration.
- rp2: read_u16() = raw12 << 4 | raw12 >> 8; pin mV = u16 * vref_mv / 65535.
  A reading pinned at 0 or 65535 is a rail, not a pressure.
- esp32 (atten 11 dB): read_uv() is calibrated but linear only for
  150-2450 mV at the pin (below ~100 mV it reads 0): outside -> RANGE.
- divider = pin volts / sensor volts (2/3 on rp2, 1/2 on esp32).
- Sensor mV outside [min_mv, max_mv] means a broken wire, a wrong divider or
  a dead sensor: RANGE, never a pressure.
- The sensor runs from 5 V while the ADC reference is 3.3 V: 5 V rail error
  shows up as pressure error (calibrate zero_mv on the built pump).
- RP2040 erratum E11: DNL steps at codes 512/1536/2560/3584; averaging
  `samples` reads smooths them, it does not remove them.

poll() runs every tick: its calibration lives in an `array("i")` of slots
so that on an RP2040 it is viper code (pump/slots.py says why and what such
code keeps to).
"""
from array import array

from micropython import const

from hw.sensors import (FAULT_SENSOR_IO, FAULT_SENSOR_RANGE, NEW, Gain,
                        SensorError, read_blocking)
from pump.slots import ptr32

_ESP32_LO_UV = const(150000)     # 11 dB linear range at the pin
_ESP32_HI_UV = const(2450000)
# Slots of AnalogSensor._s: the sample count and port, the raw-sum window,
# Gain's m / k / mask / d / half, the offset c, and the last raw sum.
_N = const(0)
_RP2 = const(1)
_LO = const(2)
_HI = const(3)
_M = const(4)
_K = const(5)
_MASK = const(6)
_D = const(7)
_HALF = const(8)
_C = const(9)
_SUM = const(10)
_N_SLOTS = const(11)


class AnalogSensor:
    period_ms = 10

    def __init__(self, adc, port, divider, zero_mv, mv_per_kpa, samples=4,
                 vref_mv=3300, min_mv=400, max_mv=4600, max_vacuum_kpa=100):
        if port not in ("rp2", "esp32"):
            raise ValueError("analog sensor port must be rp2 or esp32")
        if not 1 <= samples <= 16 or divider <= 0 or not mv_per_kpa or not min_mv < zero_mv < max_mv:
            raise ValueError("analog sensor: bad samples/divider/mv_per_kpa/zero_mv")
        self._adc = adc
        rp2 = port == "rp2"
        # Sum of `samples` raw reads (u16 on rp2, uV on esp32) -> sensor mV.
        unit_mv = vref_mv / 65535 if rp2 else 0.001
        mv_per_sum = unit_mv / divider / samples
        # The sensor window as bounds on the raw sum (checked before scaling).
        lo = min_mv / mv_per_sum
        xmax = samples * (65535 if rp2 else _ESP32_HI_UV)
        g = Gain(mv_per_sum * 1000 / mv_per_kpa, xmax)
        c = -zero_mv * 1000 / mv_per_kpa           # Pa at a 0 mV output
        s = array("i", [0] * _N_SLOTS)
        s[_N] = samples
        s[_RP2] = rp2
        s[_LO] = int(lo) if lo == int(lo) else int(lo) + 1
        s[_HI] = int(max_mv / mv_per_sum)
        s[_M], s[_K], s[_MASK], s[_D], s[_HALF] = g.m, g.k, g.mask, g.d, g.half
        s[_C] = int(c + 0.5) if c >= 0 else -int(0.5 - c)
        self._s = s
        self._mv_per_sum = mv_per_sum
        # Highest vacuum before the output leaves the window or the ADC range.
        if rp2:
            pin_lo, pin_hi = unit_mv, vref_mv - unit_mv
        else:
            pin_lo, pin_hi = _ESP32_LO_UV / 1000, _ESP32_HI_UV / 1000
        if mv_per_kpa < 0:
            edge_mv = max(min_mv, pin_lo / divider)
        else:
            edge_mv = min(max_mv, pin_hi / divider)
        self.max_vacuum_pa = int(min(max_vacuum_kpa, (edge_mv - zero_mv) / mv_per_kpa) * 1000)
        if self.max_vacuum_pa <= 0:
            raise ValueError("analog sensor: no vacuum range inside the ADC window")
        self.vacuum_pa = 0

    def begin(self, clock):
        try:
            read_blocking(self, clock, 100)
        except SensorError as e:
            raise SensorError(e.code, "analog sensor: output outside its window "
                              "(wiring, divider or supply?)")

    def read(self, clock, timeout_ms=500):
        return read_blocking(self, clock, timeout_ms)

    def sensor_mv(self):
        """Sensor output (mV) behind the last poll: for calibrating zero_mv."""
        return self._s[_SUM] * self._mv_per_sum

    # (viper on an RP2040: tools/deploy.py VIPER_FUNCTIONS)
    def poll(self) -> int:
        s = ptr32(self._s)
        adc = self._adc
        total = 0
        i = s[_N]
        try:
            if s[_RP2]:
                while i:
                    u = int(adc.read_u16())
                    if u == 0 or u == 65535:
                        return int(FAULT_SENSOR_RANGE)      # pinned at a rail
                    total += u
                    i -= 1
            else:
                while i:
                    u = int(adc.read_uv())
                    if u < _ESP32_LO_UV or u >= _ESP32_HI_UV:
                        return int(FAULT_SENSOR_RANGE)      # outside the linear range
                    total += u
                    i -= 1
        except OSError:
            return int(FAULT_SENSOR_IO)
        s[_SUM] = total
        if total < s[_LO] or total > s[_HI]:
            return int(FAULT_SENSOR_RANGE)
        # Gain.apply(total) + c, inlined (|total| < 2^28: Gain's bound).
        m = s[_M]
        k = s[_K]
        y = (total >> k) * m + (((total & s[_MASK]) * m) >> k)
        self.vacuum_pa = ((y + s[_HALF]) >> s[_D]) + s[_C]
        return int(NEW)
