"""Wi-Fi for the phone app, from wifi.json on the board (`make wifi` writes it).

    {"ssid": "home", "password": "...",        station on the home network
     "hostname": "pump",                        the mDNS name (pump.local) where the port has one
     "ap_ssid": "pump", "ap_password": "...",   the board's own access point (WPA2, 8-63 characters)
     "port": 80}                                the server's port

Station first: with an ssid the board joins that network (up to
JOIN_MS); when there is none, or it cannot be reached, the board opens its
own access point, protected by ap_password, or when wifi.json gives none by
the one in ap.key (made from os.urandom at first need; `make pair` prints
it). Either way the console prints the address to open.

Runs once at boot, before the first tick (motor off, valve vented): a
join may block for JOIN_MS. A port without `network` (the unix port, the
virtual board) serves on the host's loopback address only.
"""
from micropython import const

CONFIG = "wifi.json"
AP_KEY = "ap.key"
JOIN_MS = const(15000)
DEFAULTS = {"ssid": None, "password": "", "hostname": "pump", "ap_ssid": "pump", "ap_password": None,
            "port": 80}
_AP_CHARS = "abcdefghijkmnpqrstuvwxyz23456789"      # no 0/o, 1/l: read off a screen and typed on a phone


def check(raw):
    """(settings, errors): DEFAULTS with the file's keys; errors name each
    bad key (the file is then not used)."""
    errors = []
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        return None, [CONFIG + ": must be a JSON object"]
    out = dict(DEFAULTS)
    for k, v in raw.items():
        if k not in DEFAULTS:
            errors.append("%s: unknown key %r" % (CONFIG, k))
            continue
        out[k] = v
    for k in ("ssid", "ap_password"):
        if out[k] is not None and not isinstance(out[k], str):
            errors.append("%s: %s must be text or null" % (CONFIG, k))
    for k in ("password", "hostname", "ap_ssid"):
        if not isinstance(out[k], str):
            errors.append("%s: %s must be text" % (CONFIG, k))
    ap = out["ap_password"]
    if isinstance(ap, str) and not 8 <= len(ap) <= 63:
        errors.append("%s: ap_password must be 8-63 characters (WPA2)" % CONFIG)
    port = out["port"]
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        errors.append("%s: port must be a whole number from 1 to 65535" % CONFIG)
    return (None, errors) if errors else (out, [])


def new_ap_password(urandom):
    return "".join(_AP_CHARS[b % len(_AP_CHARS)] for b in urandom(12))


def start(network, cfg, clock, urandom, read, write, say=print):
    """Bring the network up; returns (mode, address): ("station", ip),
    ("ap", ip), ("host", None) on a port without `network`, or ("off",
    None) when no access point could be made safe (nothing is served)."""
    if network is None:
        say("web: this port has no Wi-Fi: serving on 127.0.0.1, port %d" % cfg["port"])
        return "host", None
    try:
        network.hostname(cfg["hostname"])          # DHCP and mDNS name
    except Exception:
        pass
    if cfg["ssid"]:
        sta = network.WLAN(network.STA_IF)
        sta.active(True)
        sta.connect(cfg["ssid"], cfg["password"])
        t0 = clock.ticks_ms()
        while not sta.isconnected() and clock.ticks_diff(clock.ticks_ms(), t0) < JOIN_MS:
            clock.sleep_ms(100)
        if sta.isconnected():
            ip = sta.ifconfig()[0]
            say("web: on %s as http://%s/ (http://%s.local/)" % (cfg["ssid"], ip, cfg["hostname"]))
            return "station", ip
        say("web: %s not reachable: opening the board's own access point" % cfg["ssid"])
        sta.active(False)
    pw = cfg["ap_password"]
    if pw is None:
        pw = (read(AP_KEY) or "").strip()
        if not 8 <= len(pw) <= 63:
            pw = new_ap_password(urandom)
            write(AP_KEY, pw)
    ap = network.WLAN(network.AP_IF)
    # WPA2 named outright: an ESP32 access point given only a key stays
    # open, and early Pico W firmware ignored the key (MicroPython #8858).
    wpa2 = getattr(network.WLAN, "SEC_WPA2", None)
    if wpa2 is None:
        wpa2 = getattr(network, "AUTH_WPA2_PSK", None)
    if wpa2 is None:
        say("web: this port cannot say WPA2 for its access point: no access point is opened")
        return "off", None
    ap.config(ssid=cfg["ap_ssid"], key=pw, security=wpa2)
    ap.active(True)
    if ap.config("security") != wpa2:
        ap.active(False)
        say("web: the access point did not take WPA2: it is closed again, nothing is served")
        return "off", None
    ip = ap.ifconfig()[0]
    say("web: access point %s (WPA2), http://%s/" % (cfg["ap_ssid"], ip))
    return "ap", ip
