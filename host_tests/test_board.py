"""Board files: the shipped pin maps load, and every rule has a bad file and
the message a builder would read."""
import copy
import json
import os

import pytest

from hw import board
from pump.limits import mmhg_to_pa

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = ["pico", "pico_w", "pico_w_web", "esp32_devkitc", "esp32_wrover_web", "sim"]
# Every board file in the folder, a builder's own included: `make test`
# validates it too.
BOARDS = sorted(f[:-5] for f in os.listdir(os.path.join(ROOT, "boards")) if f.endswith(".json"))


def shipped(name):
    with open(os.path.join(ROOT, "boards", name + ".json")) as f:
        return json.load(f)


def errors_of(raw):
    b, errors = board.load(raw)
    assert b is None, "expected the board file to be refused"
    return errors


def one_error(raw):
    errors = errors_of(raw)
    assert len(errors) == 1, errors
    return errors[0]


@pytest.fixture
def pico():
    return copy.deepcopy(shipped("pico"))


@pytest.fixture
def esp32():
    return copy.deepcopy(shipped("esp32_devkitc"))


@pytest.mark.parametrize("name", BOARDS)
def test_board_files_load(name):
    b, errors = board.load(shipped(name))
    assert errors == [], "\n".join(errors)
    assert b.name == name                                     # the file name is the board's name


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_boards(name):
    b, _ = board.load(shipped(name))
    assert b.tick_hz == 100
    assert b.motor["pwm_hz"] >= 20000                         # inaudible


def test_missing_and_unknown_keys(pico):
    del pico["motor"]["pwm_hz"]
    pico["valve"]["colour"] = "red"
    assert errors_of(pico) == ["motor.pwm_hz: missing", "valve.colour: unknown key"]


def test_unknown_port(pico):
    pico["port"] = "stm32"
    assert one_error(pico) == 'port: "stm32" is not a supported port (rp2, esp32)'


def test_normally_closed_valve_is_refused(pico):
    pico["valve"]["normally_open"] = False
    assert one_error(pico) == ("valve.normally_open: false is refused: a normally-closed valve holds the vacuum on "
                               "power loss or reset; fit a normally-open valve (safety rule 7)")


def test_watchdog_within_the_rp2_limit(pico):
    pico["watchdog_ms"] = 10000
    assert one_error(pico) == "watchdog_ms: 10000 is above the hard limit 8388"


def test_rp2_pin_that_is_not_a_free_gpio(pico):
    pico["valve"]["pin"] = 24
    assert one_error(pico) == "valve.pin: GP24 is not a free rp2 GPIO (0-22, 26-28)"


def test_rp2_adc_only_on_gp26_to_28(pico):
    pico["sensor"]["pin"] = 21
    assert one_error(pico) == "sensor.pin: GP21 has no ADC (rp2: GP26-28)"


def test_rp2_i2c_pins_must_belong_to_the_bus():
    raw = copy.deepcopy(shipped("pico_w"))
    raw["sensor"]["sda"] = 6
    assert one_error(raw) == "sensor.sda: GP6 is not an I2C0 SDA pin (GP0, GP4, GP8, GP12, GP16, GP20)"


def test_rp2_motor_slice_shared_with_the_buzzer(pico):
    pico["indicator"]["buzzer"] = 17          # slice 0 with the motor on GP16...
    pico["valve"]["pin"] = 19                 # (move the valve out of the way)
    assert one_error(pico) == ("indicator.buzzer: GP17 shares PWM slice 0 with the motor (GP16), which runs at "
                               "another frequency")


def test_a_pin_given_as_true_or_false_is_one_error_and_never_a_pin_number(pico):
    """false is 0 to CPython's arithmetic: the slice rule used to take it for
    GP0 and add a second error that MicroPython's loader does not give."""
    for value in (False, True):
        pico["indicator"]["buzzer"] = value
        pico["motor"]["pin"] = 0 if value is False else 1   # the slice the bool would stand for
        pico["valve"]["pin"] = 17
        assert one_error(pico) == "indicator.buzzer: %s is not a pin number" % ("false" if value is False else "true")


def test_pin_used_twice(pico):
    pico["buttons"]["letdown"] = 16
    assert one_error(pico) == "buttons.letdown: 16 is also motor.pin"


def test_esp32_input_only_pin_never_drives_an_output(esp32):
    esp32["motor"]["pin"] = 34
    assert one_error(esp32) == "motor.pin: GPIO34 is input-only on esp32 and cannot drive an output"


def test_esp32_input_only_pin_has_no_pull_up_for_a_button(esp32):
    esp32["buttons"]["level_down"] = 34
    assert one_error(esp32) == "buttons.level_down: GPIO34 has no internal pull-up on esp32: a button there floats"


def test_esp32_console_and_strap_pins(esp32):
    esp32["buttons"]["level_down"] = 1
    esp32["valve"]["pin"] = 12
    assert errors_of(esp32) == [
        "valve.pin: GPIO12 is not usable on esp32 (absent; 6-11 the flash; 1, 3 the console; 12 the flash-voltage "
        "strap)",
        "buttons.level_down: GPIO1 is not usable on esp32 (absent; 6-11 the flash; 1, 3 the console; 12 the "
        "flash-voltage strap)"]


def test_i2c_pins_shared_only_on_the_same_bus(esp32):
    esp32["indicator"]["display"] = {"i2c": 0, "sda": 21, "scl": 22, "address": 60, "width": 128, "height": 64}
    assert board.load(esp32)[1] == []
    esp32["indicator"]["display"]["i2c"] = 1
    assert errors_of(esp32) == ["indicator.display.sda: 21 is also sensor.sda", "indicator.display.scl: 22 is also "
                                "sensor.scl"]


def test_esp32_flash_pins(esp32):
    esp32["valve"]["pin"] = 7
    assert one_error(esp32) == ("valve.pin: GPIO7 is not usable on esp32 (absent; 6-11 the flash; 1, 3 the "
                                "console; 12 the flash-voltage strap)")


def test_esp32_adc_only_on_adc1(esp32):
    esp32["sensor"] = {"type": "analog", "pin": 13, "divider": 0.5, "zero_mv": 4500, "mv_per_kpa": -40,
                       "samples": 4, "max_vacuum_kpa": 100}
    assert one_error(esp32) == "sensor.pin: GPIO13 is not on ADC1 (esp32: GPIO32-39; ADC2 fails while WiFi is on)"


def test_pin_of_the_wrong_type(pico):
    pico["motor"]["pin"] = "GP16"
    assert one_error(pico) == 'motor.pin: "GP16" is not a pin number'


def test_unknown_sensor_type(pico):
    pico["sensor"] = {"type": "bmp280"}
    assert one_error(pico) == 'sensor.type: "bmp280" is not a sensor type (hx710b, analog, mprls, xgzp6897d)'


def test_hx710b_rate(pico):
    pico["sensor"] = {"type": "hx710b", "sck": 14, "dout": 15, "rate_hz": 80, "offset": 0,
                      "counts_per_kpa": 1300000}
    assert one_error(pico) == "sensor.rate_hz: 80 is not 10 or 40 (the HX710B's two rates)"


def test_calibration_too_small(pico):
    pico["sensor"]["mv_per_kpa"] = 0.1
    assert one_error(pico) == "sensor.mv_per_kpa: 0.1 is too small to be a calibration (at least 1 mV/kPa)"


def test_xgzp_range_factor(esp32):
    esp32["sensor"]["k"] = 100
    assert one_error(esp32) == "sensor.k: 100 is not a range factor K (32, 64, 128, 256, 512, 1024)"


def test_display_size(pico):
    pico["indicator"]["display"] = {"i2c": 1, "sda": 2, "scl": 3, "address": 60, "width": 96, "height": 16}
    assert one_error(pico) == "indicator.display: 96x16 is not a supported SSD1306 size (128x64, 128x32)"


def test_all_errors_at_once(pico):
    pico["motor"]["pwm_hz"] = 10
    pico["valve"]["pin"] = 40
    pico["buttons"]["debounce_ms"] = 1000
    assert errors_of(pico) == [
        "motor.pwm_hz: 10 is below the minimum 100",
        "buttons.debounce_ms: 1000 is above the maximum 200",
        "valve.pin: GP40 is not a free rp2 GPIO (0-22, 26-28)",
    ]


def test_not_an_object():
    assert errors_of([]) == ["board: a list is not an object"]


# -- the sensor must see the profile limit ------------------------------------------

def hx710b(offset, counts_per_kpa, rate_hz=40):
    import machine
    from hw.sensors.hx710b import HX710B
    machine.reset_world("rp2")
    return HX710B(machine.Pin(14, machine.Pin.OUT), machine.Pin(15, machine.Pin.IN), offset, counts_per_kpa,
                  rate_hz, machine.disable_irq, machine.enable_irq)


def test_common_hx710b_module_cannot_see_the_working_range():
    # docs/sensors.md: one measured module, offset 3,240,000 counts, ~1.30 M counts/kPa:
    # the 24-bit ADC saturates ~4 kPa (~30 mmHg) of vacuum above that offset.
    sensor = hx710b(3240000, 1300000)
    assert board.check_sensor_covers(sensor.max_vacuum_pa, mmhg_to_pa(250)) == [
        "sensor: reads at most 30 mmHg, below limits.max_vacuum_mmhg 250 + 20 mmHg margin: lower the profile "
        "limit or fit a sensor that covers the working range"]


def test_a_divided_bridge_hx710b_can_cover_the_limit():
    assert board.check_sensor_covers(hx710b(0, 200000).max_vacuum_pa, mmhg_to_pa(250)) == []


def test_coverage_needs_the_margin():
    limit = mmhg_to_pa(250)
    assert board.check_sensor_covers(limit + mmhg_to_pa(20), limit) == []
    assert board.check_sensor_covers(limit + mmhg_to_pa(19), limit) != []


# -- issue 11: every error has a path, no exception escapes, and two rules more -----------------

def test_start_stop_is_required(pico):
    pico["buttons"]["start_stop"] = None
    assert one_error(pico) == "buttons.start_stop: null: the pump needs a start/stop button (the others may be null)"
    pico["buttons"]["letdown"] = None                         # the others may be left out
    pico["buttons"]["start_stop"] = 10
    assert board.load(pico)[1] == []
    del pico["buttons"]["start_stop"]
    assert one_error(pico) == "buttons.start_stop: missing"


def test_analog_divider_keeps_full_scale_under_the_adc_limit(pico, esp32):
    pico["sensor"]["divider"] = 0.75                          # 4500 mV -> 3375 mV on a 3.3 V pin
    assert one_error(pico) == ("sensor.divider: 0.75 puts the sensor's full-scale 4500 mV at 3375 mV on the pin, "
                               "above the rp2 ADC's 3300 mV: use a divider of at most 0.733")
    pico["sensor"]["divider"] = 0.7333
    assert board.load(pico)[1] == []
    esp32["sensor"] = {"type": "analog", "pin": 34, "divider": 1.0, "zero_mv": 4500, "mv_per_kpa": -40,
                       "samples": 4, "max_vacuum_kpa": 100}
    assert one_error(esp32) == ("sensor.divider: 1 puts the sensor's full-scale 4500 mV at 4500 mV on the pin, above "
                                "the esp32 ADC's 2450 mV: use a divider of at most 0.544")
    esp32["sensor"]["divider"] = 0.5                          # 2250 mV: inside the 11 dB linear range
    assert board.load(esp32)[1] == []


def test_a_pin_given_as_a_list_or_an_object_is_an_error_not_an_exception(pico):
    pico["motor"]["pin"] = [16]
    pico["buttons"]["letdown"] = {"pin": 11}
    assert errors_of(pico) == ["motor.pin: a list is not a pin number", "buttons.letdown: an object is not a pin number"]
    pico["motor"]["pin"] = True
    assert errors_of(pico)[0] == "motor.pin: true is not a pin number"


def test_a_float_or_odd_i2c_bus_is_an_error_not_an_exception():
    raw = shipped("pico_w")
    for bus, shown in ((0.0, "0"), ([0], "a list"), (True, "true"), (2, "2")):
        raw["sensor"]["i2c"] = bus
        errors = errors_of(raw)
        assert errors[0].startswith("sensor.i2c: %s is " % shown), errors


def test_indicator_values_are_checked(pico):
    pico["indicator"]["led_active_high"] = [1, 2]
    assert one_error(pico) == "indicator.led_active_high: a list is not true or false"
    pico["indicator"]["led_active_high"] = True
    pico["indicator"]["display"] = {"i2c": 1, "sda": 2, "scl": 3, "address": 60.0, "width": 128, "height": 64}
    assert one_error(pico) == "indicator.display.address: 60 is not an SSD1306 address (60 or 61, 0x3C or 0x3D)"


def test_keys_that_are_not_plain_names_have_a_path(pico):
    pico[""] = 1
    pico["motor"]["a.b\n"] = 2
    assert errors_of(pico) == ['[""]: unknown key', 'motor["a.b\\u000a"]: unknown key']


# -- the optional clock module (rtc) -------------------------------------------------

def with_rtc(raw, **rtc):
    raw["rtc"] = dict({"type": "ds3231", "i2c": 0, "sda": 4, "scl": 5}, **rtc)
    return raw


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_boards_have_no_clock_module(name):
    assert board.load(shipped(name))[0].rtc is None


def test_rtc_null_is_no_module(pico):
    pico["rtc"] = None
    b, errors = board.load(pico)
    assert errors == [] and b.rtc is None


def test_rtc_shares_the_sensor_bus():
    b, errors = board.load(with_rtc(shipped("pico_w")))
    assert errors == [] and b.rtc == {"type": "ds3231", "i2c": 0, "sda": 4, "scl": 5}
    assert board.load(with_rtc(shipped("esp32_devkitc"), type="pcf8563", sda=21, scl=22))[1] == []


def test_rtc_on_its_own_bus_or_the_displays(pico):
    assert board.load(with_rtc(copy.deepcopy(pico)))[1] == []                       # pico: sensor analog
    assert board.load(with_rtc(copy.deepcopy(pico), i2c=1, sda=2, scl=3))[1] == []
    pico["indicator"]["display"] = {"i2c": 1, "sda": 2, "scl": 3, "address": 60, "width": 128, "height": 64}
    assert board.load(with_rtc(pico, type="pcf8563", i2c=1, sda=2, scl=3))[1] == []


def test_rtc_type(pico):
    assert one_error(with_rtc(pico, type="ds1307")) == 'rtc.type: "ds1307" is not a clock module type (ds3231, pcf8563)'


def test_rtc_not_an_object(pico):
    for value, shown in ((True, "true"), ("ds3231", '"ds3231"'), ([1], "a list")):
        pico["rtc"] = value
        assert one_error(pico) == "rtc: %s is not an object" % shown


def test_rtc_missing_and_unknown_keys(pico):
    with_rtc(pico, freq=400000)
    del pico["rtc"]["scl"]
    assert errors_of(pico) == ["rtc.scl: missing", "rtc.freq: unknown key"]


def test_rtc_bus_number(pico):
    assert one_error(with_rtc(pico, i2c=2)) == "rtc.i2c: 2 is above the maximum 1"


def test_rtc_on_the_sensors_bus_uses_the_sensors_pins():
    raw = with_rtc(shipped("pico_w"), sda=8, scl=9)
    assert errors_of(raw) == [
        "rtc.sda: 8 is not the SDA pin of I2C0 (sensor.sda is 4): devices on one bus share its SDA and SCL",
        "rtc.scl: 9 is not the SCL pin of I2C0 (sensor.scl is 5): devices on one bus share its SDA and SCL"]


def test_a_display_on_the_sensors_bus_uses_the_sensors_pins(esp32):
    esp32["indicator"]["display"] = {"i2c": 0, "sda": 18, "scl": 19, "address": 60, "width": 128, "height": 64}
    assert errors_of(esp32) == [
        "indicator.display.sda: 18 is not the SDA pin of I2C0 (sensor.sda is 21): devices on one bus share its SDA "
        "and SCL",
        "indicator.display.scl: 19 is not the SCL pin of I2C0 (sensor.scl is 22): devices on one bus share its SDA "
        "and SCL"]


def test_rtc_on_the_displays_bus_uses_the_displays_pins(pico):
    pico["indicator"]["display"] = {"i2c": 0, "sda": 4, "scl": 5, "address": 60, "width": 128, "height": 64}
    assert one_error(with_rtc(pico, sda=8)) == ("rtc.sda: 8 is not the SDA pin of I2C0 (indicator.display.sda is 4): "
                                                "devices on one bus share its SDA and SCL")


def test_rtc_on_another_bus_cannot_take_the_sensors_pins(esp32):
    assert errors_of(with_rtc(esp32, i2c=1, sda=21, scl=22)) == ["rtc.sda: 21 is also sensor.sda",
                                                                 "rtc.scl: 22 is also sensor.scl"]


def test_rtc_rp2_pins_must_belong_to_the_bus(pico):
    assert errors_of(with_rtc(pico, sda=6, scl=7)) == [
        "rtc.sda: GP6 is not an I2C0 SDA pin (GP0, GP4, GP8, GP12, GP16, GP20)",
        "rtc.scl: GP7 is not an I2C0 SCL pin (GP1, GP5, GP9, GP13, GP17, GP21)"]


def test_rtc_pin_used_by_another_function(pico):
    assert errors_of(with_rtc(pico, sda=16, scl=17)) == ["rtc.sda: 16 is also motor.pin",
                                                         "rtc.scl: 17 is also valve.pin"]


def test_rtc_esp32_input_only_and_not_a_number(esp32):
    assert one_error(with_rtc(esp32, i2c=1, sda=34, scl=23)) == ("rtc.sda: GPIO34 is input-only on esp32 and cannot "
                                                                 "drive an output")
    assert one_error(with_rtc(esp32, i2c=1, sda="GP4", scl=23)) == 'rtc.sda: "GP4" is not a pin number'


def test_rtc_sharing_a_bus_faster_than_400_khz(esp32):
    esp32["sensor"]["freq"] = 1000000
    assert one_error(with_rtc(esp32, type="pcf8563", sda=21, scl=22)) == (
        "rtc.i2c: I2C0 runs at the sensor's 1000000 Hz, above the PCF8563's 400000 Hz: lower sensor.freq or give the "
        "clock module its own bus")
    esp32["sensor"]["freq"] = 400000
    assert board.load(esp32)[1] == []


def test_web_is_true_or_false_and_false_when_absent():
    pico = json.load(open(os.path.join(ROOT, "boards", "pico.json")))
    b, errors = board.load(pico)
    assert errors == [] and b.web is False
    pico["web"] = True
    assert board.load(pico)[0].web is True
    pico["web"] = "yes"
    b, errors = board.load(pico)
    assert b is None and errors == ['web: "yes" is not true or false']
