# Boot: the motor off and the valve vented before anything that can fail.
# `machine` and `json` are built in; our own modules come after (safety rule 5).
# Without a readable board file the pins stay undriven: the hardware guide's
# gate pull-down keeps the motor off and the normally-open valve vents.
import machine

try:
    import json

    with open("board.json") as _f:
        _b = json.load(_f)
    machine.Pin(_b["motor"]["pin"], machine.Pin.OUT, value=0)
    machine.Pin(_b["valve"]["pin"], machine.Pin.OUT, value=0 if _b["valve"].get("active_high", True) else 1)
except Exception:
    _b = None

import time  # noqa: E402


def _safe_pins():
    """Backstop when the app could not be built or has crashed."""
    if _b is None:
        return
    try:
        machine.Pin(_b["motor"]["pin"], machine.Pin.OUT, value=0)
        machine.Pin(_b["valve"]["pin"], machine.Pin.OUT, value=0 if _b["valve"].get("active_high", True) else 1)
    except Exception:
        pass


def _refuse(errors):
    """A broken board file: never pump; say why on the console and blink
    fast on the on-board LED. No watchdog runs, so the REPL stays usable."""
    for e in errors:
        print(e)                                # "board.json: sensor.pin: ...": the file and the rule
    print("refusing to pump until board.json is fixed")
    led = None
    pins = ("LED",)
    if _b is not None:
        try:
            pins = (_b["indicator"]["led"], "LED")
        except Exception:
            pass
    for pin in pins:
        try:
            led = machine.Pin(pin, machine.Pin.OUT)
            break
        except Exception:
            pass
    while True:
        _safe_pins()
        if led is not None:
            led.toggle()
        time.sleep_ms(100)


def main():
    try:
        from app import BoardError, boot, release_boot_modules
    except Exception as e:                      # firmware files missing or broken
        _safe_pins()
        _refuse(["firmware import failed: %r" % e])
    try:
        app = boot(machine, time)
    except BoardError as e:
        _safe_pins()
        _refuse(e.errors)
    except Exception as e:
        _safe_pins()
        _refuse(["boot failed: %r" % e])
    release_boot_modules()
    try:
        serve = None
        if app.web:
            try:
                from web.serve import run as serve      # the phone app beside the control loop
            except ImportError as e:
                print("web: the phone app cannot start (%r): make flash installs it; the pump runs on its "
                      "buttons" % e)
        if serve is not None:
            serve(app, rtc=app.rtc)
        else:
            app.run()
    finally:
        # Any exception, Ctrl-C included: PWM would keep its last duty in the
        # REPL (docs/design.md), so stop it here.
        try:
            app.safe()
        finally:
            _safe_pins()


main()
