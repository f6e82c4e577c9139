"""HX710B 24-bit bridge ADC on an MPS20N0040D module (bit-banged 2-wire).

Why it exists: the cheapest and most common pressure module. The HX710B
reports no errors of its own, so this driver must turn saturation and a
stuck data line into faults (a stuck-low DOUT reads as 0 counts, a plausible
pressure). Note the module's range: at gain 128 it saturates 7.8-15.6 kPa
(59-117 mmHg) from zero, below a pump's working range (docs/sensors.md).

Protocol (HX710B/HX711 datasheets, via docs/sensors.md):
- DOUT high = converting; DOUT low = a conversion is ready.
- 25-27 PD_SCK pulses: 24 data bits MSB first (valid after each rising
  edge), then 1-3 more that pick the NEXT conversion: 25 = differential
  10 Hz, 27 = differential 40 Hz (26 = DVDD-AVDD: never sent).
- The 25th pulse drives DOUT high until the next conversion is ready.
- SCK high for > 60 us powers the chip down (it wakes in the 10 Hz default
  mode): each pulse runs with IRQs disabled when the port allows.
- Data: 24-bit two's complement; 0x7FFFFF / 0x800000 mean saturated.
- After power-up or a mode change one reading is unsettled. We discard two:
  the power-up conversion and the first one in the selected mode.
"""
from micropython import const

from hw.sensors import (FAULT_SENSOR_IO, FAULT_SENSOR_RANGE, NEW, NONE, Gain,
                        SensorError, read_blocking)

_DISCARD = const(2)
_BEGIN_TIMEOUT_MS = const(1000)   # ~400 ms power-up settling + 2 discarded conversions


class HX710B:
    def __init__(self, sck, dout, offset, counts_per_kpa, rate_hz=40,
                 disable_irq=None, enable_irq=None):
        if rate_hz == 40:
            self._extra, self.period_ms = 3, 25     # 27 pulses
        elif rate_hz == 10:
            self._extra, self.period_ms = 1, 100    # 25 pulses
        else:
            raise ValueError("HX710B rate_hz must be 10 or 40")
        offset = int(offset)
        if not -0x800000 <= offset <= 0x7FFFFF or not counts_per_kpa:
            raise ValueError("HX710B offset must be 24-bit, counts_per_kpa non-zero")
        if (disable_irq is None) != (enable_irq is None):
            raise ValueError("HX710B needs both disable_irq and enable_irq, or neither")
        self._sck, self._dout = sck, dout
        self._irq_off, self._irq_on = disable_irq, enable_irq
        self._offset = offset
        # counts_per_kpa is per kPa of VACUUM (negative: bridge wired reversed).
        self._gain = Gain(1000 / counts_per_kpa, 1 << 24)
        # Vacuum at the last code before saturation on the vacuum side.
        edge = 0x7FFFFE if counts_per_kpa > 0 else -0x7FFFFF
        self.max_vacuum_pa = int((edge - offset) * 1000 / counts_per_kpa)
        if self.max_vacuum_pa <= 0:
            raise ValueError("HX710B offset leaves no vacuum range before saturation")
        self._skip = _DISCARD
        self.raw = 0            # last signed count (for calibration)
        self.vacuum_pa = 0
        sck.value(0)            # low = running; high > 60 us = power-down

    def begin(self, clock):
        self._sck.value(0)
        self._skip = _DISCARD
        try:
            read_blocking(self, clock, _BEGIN_TIMEOUT_MS)
        except SensorError as e:
            raise SensorError(e.code, "HX710B: " + (
                "DOUT stays low after the clock pulses (wiring?)" if e.code == FAULT_SENSOR_IO else
                "reading saturated (offset or range?)" if e.code == FAULT_SENSOR_RANGE else
                "DOUT never went low (not connected or not powered?)"))

    def read(self, clock, timeout_ms=500):
        return read_blocking(self, clock, timeout_ms)

    def poll(self):
        dout = self._dout
        if dout.value():
            return NONE                   # still converting: never wait
        raw = self._shift()
        if dout.value() == 0:             # the 25th pulse must have raised DOUT
            self._skip = _DISCARD         # chip state unknown after this
            return FAULT_SENSOR_IO
        if raw & 0x800000:
            raw -= 0x1000000
        self.raw = raw
        if self._skip:
            self._skip -= 1
            return NONE
        if raw == 0x7FFFFF or raw == -0x800000:
            return FAULT_SENSOR_RANGE     # saturated: real vacuum unknown
        self.vacuum_pa = self._pa(raw - self._offset)
        return NEW

    def _pa(self, x):
        # round(x * 1000 / counts_per_kpa); |x| <= 2^24, every product < 2^30.
        return self._gain.apply(x)

    def _shift(self):
        sck, dout = self._sck, self._dout
        off, on = self._irq_off, self._irq_on
        n = 24 + self._extra
        raw = 0
        i = 0
        while i < n:
            if off is None or on is None:
                sck.value(1)
                sck.value(0)
            else:
                state = off()             # keep the high phase < 50 us
                sck.value(1)
                sck.value(0)
                on(state)
            if i < 24:
                raw = (raw << 1) | dout.value()
            i += 1
        return raw
