"""The phone app in a real browser: headless Chromium (Debian's chromium and
chromedriver, driven by Selenium) at a phone's screen size, against the
virtual board serving the real firmware's web app from the real MicroPython
VM on 127.0.0.1 (tools/vboard: the fake machine and the simulator's plant
behind it).

One walk through what a parent does: refused before pairing, pair with the
link, watch the live vacuum move, start, level up, stop, enter the volumes
of both breasts, see the session in the history, and see the plan change
after a missed session (the board's clock moved on by four hours from the
page). Screenshots of each page go to $WEB_SHOTS when it is set (`make
screenshots` puts them in docs/img/ for the README).

Without chromium the tests skip, saying so, unless WEB_BROWSER_REQUIRED=1
(.ci/run sets it and installs chromium first): CI never passes without them.
"""
import os
import shutil
import time

import pytest

import webboard

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SECRET = "5e" * 16
PHONE = (390, 844)

try:
    import selenium  # noqa: F401
    HAVE_SELENIUM = True
except ImportError:
    HAVE_SELENIUM = False

_missing = [n for n, ok in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER), ("selenium", HAVE_SELENIUM))
            if not ok]
if _missing and os.environ.get("WEB_BROWSER_REQUIRED") == "1":
    raise RuntimeError("browser tests required but %s missing (apt-get install chromium chromium-driver; "
                       "make venv)" % ", ".join(_missing))
pytestmark = [pytest.mark.skipif(bool(_missing), reason="no %s: the browser tests need Debian's chromium and "
                                 "chromium-driver (make browser)" % ", ".join(_missing)),
              pytest.mark.xdist_group("web_browser")]


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    vb = webboard.start(tmp_path_factory.mktemp("web"), secret=SECRET)
    try:
        yield vb
    finally:
        vb.stop()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=%d,%d" % PHONE, "--no-proxy-server"):
        opts.add_argument(a)
    opts.add_experimental_option("mobileEmulation", {"deviceMetrics": {"width": PHONE[0], "height": PHONE[1],
                                                                       "pixelRatio": 2}})
    d = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    d.set_page_load_timeout(30)
    yield d
    d.quit()


def wait(pred, timeout=30, what=""):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except Exception as e:          # an element not there yet
            last = e
        time.sleep(0.1)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def shot(d, name):
    folder = os.environ.get("WEB_SHOTS")
    if folder:
        os.makedirs(folder, exist_ok=True)
        d.save_screenshot(os.path.join(folder, "web-%s.png" % name))


def text(d, el_id):
    return d.find_element("id", el_id).text


def click(d, sel):
    d.find_element("css selector", sel).click()


def tab(d, name):
    click(d, 'nav button[data-t="%s"]' % name)


def test_a_parent_pairs_pumps_notes_and_is_told_what_to_do(board, browser):
    d = browser
    # Not paired: nothing but the refusal.
    d.get(board.web + "/")
    assert "not paired" in d.find_element("tag name", "body").text
    d.get(board.web + "/pair?k=" + "00" * 16)
    assert "Wrong or missing pairing secret" in d.find_element("tag name", "body").text
    # The pairing link: the cookie, then the page.
    d.get(board.web + "/pair?k=" + SECRET)
    wait(lambda: text(d, "state") == "idle", what="the live page, idle")
    cookie = d.get_cookie("pump_key")
    assert cookie["value"] == SECRET and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert d.execute_script("return document.cookie") == ""          # no script can read it
    # The page set the board's clock from the phone.
    wait(lambda: "Next session" in text(d, "due") or "No schedule" not in text(d, "due"), what="the clock")
    # Start: the live vacuum moves.
    click(d, 'button[data-a="start"]')
    wait(lambda: text(d, "state") == "running", what="running")
    wait(lambda: int(text(d, "vac").split()[0]) >= 40, what="the live vacuum above 40 mmHg")
    wait(lambda: board.state()["duty_u16"] > 0, what="the motor running")        # not in a release phase
    level = int(wait(lambda: text(d, "mode").split("level ")[1], what="a level"))
    click(d, 'button[data-a="level_up"]')
    wait(lambda: int(text(d, "mode").split("level ")[1]) == level + 1, what="level + 1")
    time.sleep(1.5)                                  # a few cycles on the trace
    shot(d, "live-running")
    # Stop, from the bar that is always there.
    click(d, "#stop")
    wait(lambda: text(d, "state") in ("idle", "done"), what="stopped")
    wait(lambda: board.state()["duty_u16"] == 0 and board.state()["valve_open"], what="motor off, vented")
    # History: the session, its volumes entered and kept.
    tab(d, "hist")
    sess = wait(lambda: d.find_elements("css selector", ".sess"), what="the session in the history")
    assert len(sess) == 1
    s = sess[0]
    s.find_element("css selector", ".l").send_keys("60")
    s.find_element("css selector", ".r").send_keys("45")
    s.find_element("css selector", ".note").send_keys("after the school run")
    s.find_element("tag name", "button").click()
    wait(lambda: text(d, "msg").startswith("saved"), what="saved")
    notes = os.path.join(board.flash, "notes.log")
    wait(lambda: os.path.exists(notes) and "after the school run" in open(notes).read(), what="notes.log")
    tab(d, "live")
    tab(d, "hist")
    wait(lambda: d.find_element("css selector", ".sess .l").get_attribute("value") == "60", what="kept volume")
    shot(d, "history")
    # The plan: on track now; after four hours without a session, pump now.
    tab(d, "plan")
    wait(lambda: d.find_elements("css selector", '[data-rule="on-track"]'), what="on track")
    d.execute_script("var n=new Date(Date.now()+4*3600*1000);fetch('/api/clock',{method:'POST',headers:"
                     "{'Content-Type':'application/json'},body:JSON.stringify({local:[n.getFullYear(),"
                     "n.getMonth()+1,n.getDate(),n.getHours(),n.getMinutes(),n.getSeconds()]})})")
    time.sleep(1.5)                                  # the board looks at its schedule once a second
    tab(d, "live")
    tab(d, "plan")
    wait(lambda: d.find_elements("css selector", '[data-rule="pump-now"]'), what="pump now after the miss")
    shot(d, "plan-missed")
    tab(d, "rem")
    wait(lambda: "missed" in text(d, "due") or "due" in text(d, "due"), what="the reminder")
    shot(d, "reminders")
