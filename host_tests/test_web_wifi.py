"""Wi-Fi for the phone app (firmware/web/wifi.py): wifi.json's checker, and
joining or opening a network against a model of MicroPython's `network`
module (WLAN STA_IF / AP_IF with the calls the rp2 and esp32 ports take)."""
import pytest

from tools import paths

paths.use_firmware()
from web import wifi  # noqa: E402


class Clock:
    def __init__(self):
        self.now = 0
        self.slept = 0

    def ticks_ms(self):
        return self.now

    def ticks_diff(self, a, b):
        return a - b

    def sleep_ms(self, ms):
        self.now += ms
        self.slept += ms


class FakeNetwork:
    """STA joins a network in `reachable` ({ssid: password}) 2 s after
    connect(); AP reports the security it was given, or 0 (open) when the
    port ignores it (`ignores_security`)."""
    STA_IF = 0
    AP_IF = 1

    def __init__(self, reachable=None, ignores_security=False, has_sec=True):
        net = self
        self.reachable = reachable or {}
        self.names = []
        self.ifs = {}
        self.clock = None

        class WLAN:
            SEC_OPEN = 0
            SEC_WPA2 = 3

            def __init__(self, kind):
                self.kind = kind
                self.on = False
                self.cfg = {}
                self.joined_at = None
                net.ifs[kind] = self

            def active(self, on=None):
                if on is not None:
                    self.on = on
                return self.on

            def connect(self, ssid, key):
                assert self.on and self.kind == FakeNetwork.STA_IF
                if net.reachable.get(ssid) == key:
                    self.joined_at = net.clock.ticks_ms() + 2000

            def isconnected(self):
                return self.joined_at is not None and net.clock.ticks_ms() >= self.joined_at

            def config(self, *get, **kw):
                if get:
                    return self.cfg.get(get[0], 0)
                for k, v in kw.items():
                    self.cfg[k] = 0 if (k == "security" and ignores_security) else v

            def ifconfig(self):
                return ("192.168.1.42" if self.kind == FakeNetwork.STA_IF else "192.168.4.1", "", "", "")

        if not has_sec:
            del WLAN.SEC_WPA2
        self.WLAN = WLAN

    def hostname(self, name):
        self.names.append(name)


def start(net, raw=None, files=None):
    cfg, errors = wifi.check(raw or {})
    assert not errors, errors
    clock = Clock()
    net.clock = clock
    files = {} if files is None else files
    said = []
    got = wifi.start(net, cfg, clock, lambda n: bytes(range(n)), files.get,
                     lambda name, text: files.__setitem__(name, text), said.append)
    return got, said, files, clock


def test_joins_the_home_network_and_names_itself():
    net = FakeNetwork({"home": "secret123"})
    (mode, ip), said, files, clock = start(net, {"ssid": "home", "password": "secret123", "hostname": "milk"})
    assert (mode, ip) == ("station", "192.168.1.42") and net.names == ["milk"]
    assert "http://192.168.1.42/" in said[0] and "milk.local" in said[0]
    assert clock.slept == 2000 and 1 not in net.ifs                 # no access point opened


def test_home_network_out_of_reach_opens_a_wpa2_access_point_with_a_made_password():
    net = FakeNetwork({"home": "other"})
    (mode, ip), said, files, clock = start(net, {"ssid": "home", "password": "secret123"})
    assert mode == "ap" and ip == "192.168.4.1" and clock.slept >= wifi.JOIN_MS
    ap = net.ifs[net.AP_IF]
    assert ap.on and ap.cfg["security"] == 3 and ap.cfg["ssid"] == "pump"
    assert ap.cfg["key"] == files[wifi.AP_KEY] and len(files[wifi.AP_KEY]) == 12
    assert not net.ifs[net.STA_IF].on
    again = FakeNetwork()
    (mode, _), _, files2, _ = start(again, {}, dict(files))       # the made password is kept
    assert mode == "ap" and again.ifs[again.AP_IF].cfg["key"] == files[wifi.AP_KEY]


def test_the_configured_access_point_password_wins():
    net = FakeNetwork()
    (mode, _), _, files, _ = start(net, {"ap_password": "longenough", "ap_ssid": "nursery"})
    assert mode == "ap" and net.ifs[net.AP_IF].cfg["key"] == "longenough" and wifi.AP_KEY not in files


@pytest.mark.parametrize("kind", ["ignores_security", "has_no_wpa2"])
def test_an_access_point_that_would_be_open_is_not_opened(kind):
    net = FakeNetwork(ignores_security=kind == "ignores_security", has_sec=kind != "has_no_wpa2")
    (mode, ip), said, _, _ = start(net)
    assert (mode, ip) == ("off", None)
    assert ("nothing is served" in said[-1]) if kind == "ignores_security" else ("no access point" in said[-1])
    ap = net.ifs.get(net.AP_IF)
    assert ap is None or not ap.on


def test_no_network_module_serves_on_loopback():
    cfg, _ = wifi.check({})
    said = []
    assert wifi.start(None, cfg, Clock(), None, None, None, said.append) == ("host", None)
    assert "127.0.0.1" in said[0]


@pytest.mark.parametrize("raw, why", [
    ([], "must be a JSON object"),
    ({"sid": "x"}, "unknown key 'sid'"),
    ({"ssid": 5}, "ssid must be text or null"),
    ({"password": None}, "password must be text"),
    ({"ap_password": "short"}, "ap_password must be 8-63 characters"),
    ({"ap_password": "x" * 64}, "ap_password must be 8-63 characters"),
    ({"port": 0}, "port must be a whole number"),
    ({"port": True}, "port must be a whole number"),
    ({"port": "80"}, "port must be a whole number"),
])
def test_a_bad_wifi_json_is_refused_naming_the_key(raw, why):
    cfg, errors = wifi.check(raw)
    assert cfg is None and any(why in e and e.startswith("wifi.json: ") for e in errors), errors


def test_defaults():
    cfg, errors = wifi.check(None)
    assert not errors and cfg["ssid"] is None and cfg["port"] == 80 and cfg["hostname"] == "pump"


class QuietApp:
    """What serve.run needs of the app when the web app cannot be built."""

    def __init__(self):
        self.clock = Clock()
        self.buttons = "the board's buttons"
        self.ran = 0

    def use_buttons(self, buttons):
        self.buttons = buttons

    def run(self):
        self.ran += 1


def test_a_board_short_of_memory_for_the_web_app_pumps_on_its_buttons_and_says_so(tmp_path, monkeypatch, capsys):
    from web import serve
    app = QuietApp()

    def short(app, rtc):
        app.use_buttons("wrapped")
        raise MemoryError
    import gc
    monkeypatch.setattr(gc, "mem_free", lambda: 12345, raising=False)      # MicroPython's; CPython has none
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(serve, "make", short)
    serve.run(app)
    said = capsys.readouterr().out
    assert app.ran == 1 and app.buttons == "the board's buttons"
    assert "not enough memory for the phone app (12345 bytes free)" in said and "runs on its buttons" in said


def test_a_board_with_too_little_heap_for_the_plan_says_so_at_start(tmp_path, monkeypatch, capsys):
    import gc

    from web import serve
    app = QuietApp()

    class Stop(Exception):
        pass

    def no_loop(coro):
        coro.close()
        raise Stop
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(serve, "make", lambda app, rtc: (None, None, None))
    monkeypatch.setattr(serve.asyncio, "run", no_loop)
    for free, warned in ((serve.ANSWER_ROOM_B - 1, True), (serve.ANSWER_ROOM_B, False)):
        monkeypatch.setattr(gc, "mem_free", lambda: free, raising=False)
        monkeypatch.setattr(gc, "mem_alloc", lambda: 1000, raising=False)
        with pytest.raises(Stop):
            serve.run(app)
        said = capsys.readouterr().out
        assert ("the history and the plan need about" in said) == warned, said
        assert "%d free" % free in said
