"""Build the drivers a validated board file describes.

The one place that creates machine.Pin / PWM / ADC / I2C objects from the
board file; drivers only receive them. `machine` is passed in, so host runs
hand in the fake. Sensor modules are imported lazily: only the board's one
sensor driver is loaded into RAM, and hw/rtc.py only for a board that names
a clock module.
"""
from hw.buttons import Buttons
from hw.indicator import Indicator
from hw.motor import Motor
from hw.valve import Valve
from pump.buttons import BUTTON_NAMES


class Hardware:
    def __init__(self, motor, valve, sensor, buttons, indicator, rtc=None):
        self.motor = motor
        self.valve = valve
        self.sensor = sensor
        self.buttons = buttons
        self.indicator = indicator
        self.rtc = rtc                  # hw/rtc.py driver, or None: no clock module


def make_valve(machine, v):
    """The valve first and vented: its pin at the de-energised level."""
    Pin = machine.Pin
    return Valve(Pin(v["pin"], Pin.OUT, value=0 if v["active_high"] else 1), v["active_high"])


def make_motor(machine, m):
    Pin = machine.Pin
    return Motor(machine.PWM(Pin(m["pin"], Pin.OUT, value=0), freq=m["pwm_hz"], duty_u16=0), m["min_duty"])


def make_i2c(machine, buses, bus_id, scl, sda, freq):
    """One machine.I2C per bus: a display sharing the sensor's bus reuses it
    (and its clock rate) instead of re-initialising it."""
    if bus_id not in buses:
        buses[bus_id] = machine.I2C(bus_id, scl=machine.Pin(scl), sda=machine.Pin(sda), freq=freq)
    return buses[bus_id]


def bus_shared(board, bus_id):
    """Whether a display or a clock module is on the sensor's I2C bus: then
    the sensor's transfers go through machine.I2C like theirs (hw/sensors/
    mprls.py MPRLSFifo says why)."""
    d = board.indicator["display"]
    r = board.rtc
    return bool(d and d["i2c"] == bus_id or r and r["i2c"] == bus_id)


def make_sensor(machine, board, buses):
    Pin = machine.Pin
    s = board.sensor
    t = s["type"]
    if t == "hx710b":
        from hw.sensors.hx710b import HX710B
        # DOUT pulled up: an unplugged module reads "never ready" (stale),
        # not a floating line that may look like data.
        return HX710B(Pin(s["sck"], Pin.OUT, value=0), Pin(s["dout"], Pin.IN, Pin.PULL_UP), s["offset"],
                      s["counts_per_kpa"],
                      s["rate_hz"], machine.disable_irq, machine.enable_irq)
    if t == "analog":
        from hw.sensors.analog import AnalogSensor
        if board.port == "esp32":
            adc = machine.ADC(Pin(s["pin"]), atten=machine.ADC.ATTN_11DB)
        else:
            adc = machine.ADC(Pin(s["pin"]))
        return AnalogSensor(adc, board.port, s["divider"], s["zero_mv"], s["mv_per_kpa"], s["samples"],
                            max_vacuum_kpa=s["max_vacuum_kpa"])
    i2c = make_i2c(machine, buses, s["i2c"], s["scl"], s["sda"], s["freq"])
    if t == "mprls":
        if board.port == "rp2" and not bus_shared(board, s["i2c"]):
            from hw.sensors.mprls import MPRLSFifo
            return MPRLSFifo(i2c, machine.mem32, s["i2c"])
        from hw.sensors.mprls import MPRLS
        return MPRLS(i2c)
    from hw.sensors.xgzp6897d import XGZP6897D
    return XGZP6897D(i2c, s["k"])


def make_rtc(machine, r, buses):
    """The clock module's driver on its bus: the sensor's or the display's
    machine.I2C when it shares one (at that bus's rate), else its own at
    100 kHz. No transfer here: an absent module is found by read()."""
    from hw.rtc import DS3231, PCF8563
    i2c = make_i2c(machine, buses, r["i2c"], r["scl"], r["sda"], 100000)
    return (DS3231 if r["type"] == "ds3231" else PCF8563)(i2c, bus=r["i2c"])


def make_buttons(machine, b, port):
    """On rp2 the buttons' quiet check reads SIO's GPIO_IN (hw/buttons.py);
    the board file's pins are GPIO numbers there."""
    Pin = machine.Pin
    pull = Pin.PULL_UP if b["active_low"] else Pin.PULL_DOWN
    pins = []
    gpios = []
    for name in BUTTON_NAMES:
        n = b.get(name)
        pins.append(Pin(n, Pin.IN, pull) if n is not None else None)
        if n is not None:
            gpios.append(n)
    gpio_in = machine.mem32 if port == "rp2" else None
    return Buttons(pins, b["active_low"], b["debounce_ms"], b["long_press_ms"], gpio_in, gpios)


def make_display(machine, d, buses):
    """The SSD1306 through micropython-lib's driver, or None (with a message)
    when the driver is not installed: the pump works without a display."""
    try:
        import ssd1306  # pyright: ignore[reportMissingImports]  (micropython-lib, installed with mip)
    except ImportError:
        print("display: driver missing; install it with `mpremote mip install ssd1306`")
        return None
    from hw.display import Display
    i2c = make_i2c(machine, buses, d["i2c"], d["scl"], d["sda"], 400000)
    return Display(ssd1306.SSD1306_I2C(d["width"], d["height"], i2c, d["address"]))


def make_indicator(machine, ind, buses):
    Pin = machine.Pin
    on = 1 if ind["led_active_high"] else 0
    led = Pin(ind["led"], Pin.OUT, value=1 - on)
    buzzer = None
    if ind["buzzer"] is not None:
        buzzer = machine.PWM(Pin(ind["buzzer"], Pin.OUT, value=0), freq=ind["buzzer_hz"], duty_u16=0)
    display = make_display(machine, ind["display"], buses) if ind["display"] else None
    return Indicator(led, ind["led_active_high"], buzzer, display)


def build(machine, board):
    valve = make_valve(machine, board.valve)
    motor = make_motor(machine, board.motor)
    buses = {}
    sensor = make_sensor(machine, board, buses)
    buttons = make_buttons(machine, board.buttons, board.port)
    indicator = make_indicator(machine, board.indicator, buses)
    rtc = make_rtc(machine, board.rtc, buses) if board.rtc else None     # last: it joins an existing bus
    return Hardware(motor, valve, sensor, buttons, indicator, rtc)
