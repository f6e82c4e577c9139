"""Load and validate a board file (boards/*.json, `board.json` on the flash).

The board file is the pin map and the hardware facts. A wrong pin on a
pump is not a cosmetic error: a motor on an input-only pin never stops
humming, a sensor the profile limit is beyond cannot see an over-vacuum. So
every rule names its path, like profiles.json, and a board file that fails
refuses to pump. Pins are checked against the port:

- rp2 (RP2040): GPIO 0-22 and 26-28 (23-25 and 29 are wired on the Pico
  boards; the LED may be 25 on a Pico or "LED" on a Pico W); ADC only on
  GP26-28; hardware I2C only on its fixed SDA/SCL pins; the two channels of
  a PWM slice (GPn and GPn^1) share one frequency, so the motor's slice may
  not carry the buzzer.
- esp32: GPIO 0-39 except 20, 24, 28-31 (absent), 6-11 (the flash), 1 and
  3 (the serial console mpremote talks through) and 12 (its level at reset
  selects the flash voltage); 34-39 are input-only and never drive the
  motor, the valve, a clock or an LED, and have no internal pull-ups, so no
  button either; the ADC only on ADC1 (GPIO 32-39: ADC2 fails while WiFi is
  on).
No pin may serve two functions (an I2C pin may be shared by two devices on
the same bus, and the devices on one bus share its one SDA and SCL pin).
`buttons.start_stop` must be a pin: without it the pump can never start
(the other buttons may be null: not fitted). An analog sensor's
divider must bring its full-scale output (4.5 V) under the port's ADC
limit: 3.3 V on rp2 (the reference), 2.45 V on esp32 (the top of the 11 dB
linear range hw/sensors/analog.py reads; past it the pin reads as a fault,
and past 3.3 V it is damaged).

An optional `web` (true or false, false when absent) says the board has
Wi-Fi (Pico W, ESP32) and gets the phone app's modules (firmware/web/ and
pump/recovery.py); a board without it is flashed without them.

An optional `rtc` names a battery-backed clock module (hw/rtc.py):
`{"type": "ds3231" | "pcf8563", "i2c": 0 | 1, "sda": pin, "scl": pin}`, or
null / absent for none. It may share the sensor's or the display's bus
(same bus, same pins); both chips are 400 kHz parts, so a shared bus must
not run faster.

Pure: no `machine` here; hw/factory.py builds the drivers from the result,
and the sensor's timing and range come from the built driver
(`period_ms`, `max_vacuum_pa`), not from a second copy of its arithmetic.
"""
from pump import limits
from pump.checks import Checker, join, show

PORTS = ("rp2", "esp32")
SENSOR_TYPES = ("hx710b", "analog", "mprls", "xgzp6897d")
RTC_TYPES = ("ds3231", "pcf8563")
RTC_MAX_HZ = 400000               # DS3231 and PCF8563: I2C fast mode at most
RP2_GPIO = tuple(range(0, 23)) + (26, 27, 28)
RP2_ADC = (26, 27, 28)
RP2_I2C_SDA = ((0, 4, 8, 12, 16, 20), (2, 6, 10, 14, 18, 26))
RP2_I2C_SCL = ((1, 5, 9, 13, 17, 21), (3, 7, 11, 15, 19, 27))
ESP32_GPIO = (0, 2, 4, 5) + tuple(range(13, 20)) + (21, 22, 23, 25, 26, 27) + tuple(range(32, 40))
ESP32_INPUT_ONLY = (34, 35, 36, 37, 38, 39)
ESP32_ADC1 = (32, 33, 34, 35, 36, 37, 38, 39)
BUTTONS = ("start_stop", "letdown", "level_up", "level_down")
# Analog sensors: full-scale output (XGZP6847A: 0.5-4.5 V) and the highest
# pin voltage the port's ADC reads (hw/sensors/analog.py: rp2 vref 3300 mV,
# esp32 11 dB linear up to 2450 mV).
FULL_SCALE_MV = 4500
ADC_MAX_MV = {"rp2": 3300, "esp32": 2450}
# The sensor must see this far past the profile limit, so an over-vacuum
# reads as a number, not as a saturated sensor.
SENSOR_MARGIN_MMHG = 20


class Board:
    """A validated board file: dicts as in the file, plus derived values."""

    def __init__(self, raw):
        self.raw = raw
        self.name = raw["name"]
        self.port = raw["port"]
        self.tick_hz = raw["tick_hz"]
        self.motor = raw["motor"]
        self.valve = raw["valve"]
        self.sensor = raw["sensor"]
        self.buttons = raw["buttons"]
        self.indicator = raw["indicator"]
        self.watchdog_ms = raw["watchdog_ms"]
        self.rtc = raw.get("rtc")           # None: no clock module
        self.web = raw.get("web", False)    # True: Wi-Fi, serves the phone app (firmware/web/)


def _pins_of(raw):
    """(path, pin, role, bus) for every pin the file names; role is 'out',
    'in', 'adc', 'sda', 'scl' or 'led'; bus is the I2C bus (0, 1) of an SDA
    or SCL pin, else None."""
    out = []
    m = raw.get("motor")
    if isinstance(m, dict) and "pin" in m:
        out.append(("motor.pin", m["pin"], "out", None))
    v = raw.get("valve")
    if isinstance(v, dict) and "pin" in v:
        out.append(("valve.pin", v["pin"], "out", None))
    s = raw.get("sensor")
    if isinstance(s, dict):
        t = s.get("type")
        if t == "hx710b":
            out += [("sensor.sck", s.get("sck"), "out", None), ("sensor.dout", s.get("dout"), "in", None)]
        elif t == "analog":
            out.append(("sensor.pin", s.get("pin"), "adc", None))
        elif t in ("mprls", "xgzp6897d"):
            out += _i2c_pins("sensor", s)
    b = raw.get("buttons")
    if isinstance(b, dict):
        for name in BUTTONS + ("pause",):
            if b.get(name) is not None:
                out.append(("buttons." + name, b[name], "button", None))
    ind = raw.get("indicator")
    if isinstance(ind, dict):
        if "led" in ind:
            out.append(("indicator.led", ind["led"], "led", None))
        if ind.get("buzzer") is not None:
            out.append(("indicator.buzzer", ind["buzzer"], "out", None))
        d = ind.get("display")
        if isinstance(d, dict):
            out += _i2c_pins("indicator.display", d)
    r = raw.get("rtc")
    if isinstance(r, dict):
        out += _i2c_pins("rtc", r)
    return out


def _i2c_pins(path, dev):
    """A missing sda/scl is reported as missing, not also as a null pin."""
    bus = _bus(dev.get("i2c"))
    return [(path + "." + k, dev[k], k, bus) for k in ("sda", "scl") if k in dev]


def _whole(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _bus(v):
    """An I2C bus number the pin tables can use (0 or 1), else None."""
    return v if v in (0, 1) and _whole(v) else None


def _check_pin(c, port, path, pin, role, bus=None):
    if port == "rp2" and role == "led" and pin in (25, "LED"):
        return
    if isinstance(pin, bool) or not isinstance(pin, int):
        c.error(path, show(pin) + " is not a pin number")
        return
    if port == "rp2":
        if pin not in RP2_GPIO:
            c.error(path, "GP%d is not a free rp2 GPIO (0-22, 26-28)" % pin)
        elif role == "adc" and pin not in RP2_ADC:
            c.error(path, "GP%d has no ADC (rp2: GP26-28)" % pin)
        elif role in ("sda", "scl") and bus is not None:
            table = RP2_I2C_SDA if role == "sda" else RP2_I2C_SCL
            if pin not in table[bus]:
                c.error(path, "GP%d is not an I2C%d %s pin (%s)" % (
                    pin, bus, role.upper(), ", ".join("GP%d" % p for p in table[bus])))
    elif port == "esp32":
        if pin not in ESP32_GPIO:
            c.error(path, "GPIO%d is not usable on esp32 (absent; 6-11 the flash; 1, 3 the console; "
                    "12 the flash-voltage strap)" % pin)
        elif role in ("out", "led", "sda", "scl") and pin in ESP32_INPUT_ONLY:
            c.error(path, "GPIO%d is input-only on esp32 and cannot drive an output" % pin)
        elif role == "button" and pin in ESP32_INPUT_ONLY:
            c.error(path, "GPIO%d has no internal pull-up on esp32: a button there floats" % pin)
        elif role == "adc" and pin not in ESP32_ADC1:
            c.error(path, "GPIO%d is not on ADC1 (esp32: GPIO32-39; ADC2 fails while WiFi is on)" % pin)


def _section(c, raw, name, keys, optional=()):
    v = raw.get(name)
    if name not in raw:
        return None
    return v if c.obj(v, name, keys, optional) or isinstance(v, dict) else None


def _num(c, d, path, key, lo, hi, integer=True, hard=None):
    if key not in d:
        return None
    return c.number(d[key], join(path, key), lo, hi, hard=hard, integer=integer)


def _sensor(c, s, port):
    if not isinstance(s, dict):
        c.obj(s, "sensor", ("type",))
        return
    t = s.get("type")
    if t not in SENSOR_TYPES:
        c.error("sensor.type", "%s is not a sensor type (%s)" % (show(t), ", ".join(SENSOR_TYPES)))
        return
    if t == "hx710b":
        c.obj(s, "sensor", ("type", "sck", "dout", "rate_hz", "offset", "counts_per_kpa"))
        if "rate_hz" in s and s["rate_hz"] not in (10, 40):
            c.error("sensor.rate_hz", "%s is not 10 or 40 (the HX710B's two rates)" % show(s["rate_hz"]))
        _num(c, s, "sensor", "offset", -8388608, 8388607)
        cpk = _num(c, s, "sensor", "counts_per_kpa", -20000000, 20000000)
        if cpk is not None and -1000 < cpk < 1000:
            c.error("sensor.counts_per_kpa", "%s is too small to be a calibration (at least 1000 counts/kPa)" % show(cpk))
    elif t == "analog":
        c.obj(s, "sensor", ("type", "pin", "divider", "zero_mv", "mv_per_kpa", "samples", "max_vacuum_kpa"))
        div = _num(c, s, "sensor", "divider", 0.1, 1.0, integer=False)
        zero = _num(c, s, "sensor", "zero_mv", 400, 4600, integer=False)
        top = ADC_MAX_MV.get(port) if isinstance(port, str) else None
        if div is not None and zero is not None and top is not None:
            fs = zero if zero > FULL_SCALE_MV else FULL_SCALE_MV
            if fs * div > top:
                c.error("sensor.divider", "%s puts the sensor's full-scale %d mV at %d mV on the pin, above the %s "
                        "ADC's %d mV: use a divider of at most %s" % (
                            show(div), fs, int(fs * div + 0.5), port, top, show(int(top * 1000 / fs) / 1000)))
        mpk = _num(c, s, "sensor", "mv_per_kpa", -1000, 1000, integer=False)
        if mpk is not None and -1 < mpk < 1:
            c.error("sensor.mv_per_kpa", "%s is too small to be a calibration (at least 1 mV/kPa)" % show(mpk))
        _num(c, s, "sensor", "samples", 1, 16)
        _num(c, s, "sensor", "max_vacuum_kpa", 10, 200, integer=False)
    else:
        keys = ("type", "i2c", "sda", "scl", "freq") + (("k",) if t == "xgzp6897d" else ())
        c.obj(s, "sensor", keys)
        _num(c, s, "sensor", "i2c", 0, 1)
        _num(c, s, "sensor", "freq", 10000, 1000000)
        if t == "xgzp6897d" and "k" in s and s["k"] not in (32, 64, 128, 256, 512, 1024):
            c.error("sensor.k", "%s is not a range factor K (32, 64, 128, 256, 512, 1024)" % show(s["k"]))


def _rtc_bus_speed(c, raw):
    """A bus the clock module shares with the sensor runs at the sensor's
    freq: both clock chips are 400 kHz (I2C fast-mode) parts."""
    r, s = raw.get("rtc"), raw.get("sensor")
    if not (isinstance(r, dict) and isinstance(s, dict) and s.get("type") in ("mprls", "xgzp6897d")):
        return
    bus, f = _bus(r.get("i2c")), s.get("freq")
    if bus is not None and bus == _bus(s.get("i2c")) and isinstance(f, int) and _whole(f) and f > RTC_MAX_HZ \
            and r.get("type") in RTC_TYPES:
        c.error("rtc.i2c", "I2C%d runs at the sensor's %d Hz, above the %s's %d Hz: lower sensor.freq or give the "
                "clock module its own bus" % (bus, f, r["type"].upper(), RTC_MAX_HZ))


def load(raw):
    """Validate a parsed board file. Returns (Board, []) or (None, errors)."""
    c = Checker()
    if not isinstance(raw, dict):
        return None, ["board: " + show(raw) + " is not an object"]
    c.obj(raw, "", ("name", "port", "tick_hz", "motor", "valve", "sensor", "buttons", "indicator", "watchdog_ms"),
          optional=("rtc", "web"))
    if "name" in raw and not isinstance(raw["name"], str):
        c.error("name", show(raw["name"]) + " is not a string")
    port = raw.get("port")
    if "port" in raw and port not in PORTS:
        c.error("port", "%s is not a supported port (%s)" % (show(port), ", ".join(PORTS)))
        port = None
    _num(c, raw, "", "tick_hz", 20, 200)
    _num(c, raw, "", "watchdog_ms", 1000, 8388, hard=8388)

    m = _section(c, raw, "motor", ("pin", "pwm_hz", "min_duty", "slew_u16_per_ms"))
    if m is not None:
        _num(c, m, "motor", "pwm_hz", 100, 100000)
        _num(c, m, "motor", "min_duty", 0, 40000)
        _num(c, m, "motor", "slew_u16_per_ms", 50, 65535)
    v = _section(c, raw, "valve", ("pin", "normally_open", "active_high"))
    if v is not None:
        if v.get("normally_open") is not True and "normally_open" in v:
            c.error("valve.normally_open", "%s is refused: a normally-closed valve holds the vacuum on power loss "
                    "or reset; fit a normally-open valve (safety rule 7)" % show(v["normally_open"]))
        if "active_high" in v and not isinstance(v["active_high"], bool):
            c.error("valve.active_high", show(v["active_high"]) + " is not true or false")
    if "sensor" in raw:
        _sensor(c, raw["sensor"], port)
    b = _section(c, raw, "buttons", BUTTONS + ("active_low", "debounce_ms", "long_press_ms"), optional=("pause",))
    if b is not None:
        if "start_stop" in b and b["start_stop"] is None:
            c.error("buttons.start_stop", "null: the pump needs a start/stop button (the others may be null)")
        if "active_low" in b and not isinstance(b["active_low"], bool):
            c.error("buttons.active_low", show(b["active_low"]) + " is not true or false")
        _num(c, b, "buttons", "debounce_ms", 5, 200)
        _num(c, b, "buttons", "long_press_ms", 500, 5000)
    ind = _section(c, raw, "indicator", ("led", "led_active_high", "buzzer", "buzzer_hz", "display"))
    if ind is not None:
        _num(c, ind, "indicator", "buzzer_hz", 100, 10000)
        if "led_active_high" in ind and not isinstance(ind["led_active_high"], bool):
            c.error("indicator.led_active_high", show(ind["led_active_high"]) + " is not true or false")
        d = ind.get("display")
        if d is not None and c.obj(d, "indicator.display", ("i2c", "sda", "scl", "address", "width", "height")):
            _num(c, d, "indicator.display", "i2c", 0, 1)
            if d["address"] not in (60, 61) or not _whole(d["address"]):
                c.error("indicator.display.address", "%s is not an SSD1306 address (60 or 61, 0x3C or 0x3D)" % show(
                    d["address"]))
            if d["width"] != 128 or d["height"] not in (32, 64) or not (_whole(d["width"]) and _whole(d["height"])):
                c.error("indicator.display", "%sx%s is not a supported SSD1306 size (128x64, 128x32)" % (
                    show(d["width"]), show(d["height"])))
    if "web" in raw and not isinstance(raw["web"], bool):
        c.error("web", show(raw["web"]) + " is not true or false")
    r = raw.get("rtc")
    if r is not None and c.obj(r, "rtc", ("type", "i2c", "sda", "scl")):
        if r["type"] not in RTC_TYPES:
            c.error("rtc.type", "%s is not a clock module type (%s)" % (show(r["type"]), ", ".join(RTC_TYPES)))
        _num(c, r, "rtc", "i2c", 0, 1)

    if port is not None:
        seen = {}
        lines = {}                              # "sda0", "scl1", ...: the first pin named for that bus line
        for path, pin, role, bus in _pins_of(raw):
            _check_pin(c, port, path, pin, role, bus)
            if isinstance(pin, bool) or not isinstance(pin, (int, str)):
                continue                        # reported: not a pin number (a list cannot even be a dict key)
            prev = seen.get(pin)
            if prev is not None and not (role in ("sda", "scl") and prev[1] == role and prev[2] == bus):
                c.error(path, "%s is also %s" % (show(pin), prev[0]))
            elif prev is None:
                seen[pin] = (path, role, bus)
                if bus is not None:
                    # One machine.I2C per bus, built on the first device's
                    # pins: a second pin for the same line is never driven.
                    first = lines.get(role + str(bus))
                    if first is None:
                        lines[role + str(bus)] = (path, pin)
                    else:
                        c.error(path, "%s is not the %s pin of I2C%d (%s is %s): devices on one bus share its SDA "
                                "and SCL" % (show(pin), role.upper(), bus, first[0], show(first[1])))
        _rtc_bus_speed(c, raw)
        if port == "rp2" and m is not None and isinstance(ind, dict):
            mp, bz = m.get("pin"), ind.get("buzzer")
            if isinstance(mp, int) and isinstance(bz, int) and _whole(mp) and _whole(bz) \
                    and (mp >> 1) & 7 == (bz >> 1) & 7 \
                    and ind.get("buzzer_hz") != m.get("pwm_hz"):
                c.error("indicator.buzzer", "GP%d shares PWM slice %d with the motor (GP%d), which runs at another "
                        "frequency" % (bz, (bz >> 1) & 7, mp))
    if c.errors:
        return None, c.errors
    return Board(raw), []


def check_sensor_covers(sensor_max_pa, limit_pa):
    """[] when a sensor reading up to sensor_max_pa (the built driver's
    max_vacuum_pa) can report the profile limit with margin, else the error
    that refuses to pump."""
    need = limit_pa + limits.mmhg_to_pa(SENSOR_MARGIN_MMHG)
    if sensor_max_pa >= need:
        return []
    return ["sensor: reads at most %d mmHg, below limits.max_vacuum_mmhg %d + %d mmHg margin: lower the "
            "profile limit or fit a sensor that covers the working range" % (
                (limits.pa_to_mmhg_x10(sensor_max_pa) + 5) // 10, (limits.pa_to_mmhg_x10(limit_pa) + 5) // 10,
                SENSOR_MARGIN_MMHG)]
