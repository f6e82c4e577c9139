"""make pair and make wifi (tools/phone.py) through the real mpremote, against
a virtual board running the phone app (host_tests/webboard.py)."""
import json
import os
import urllib.error
import urllib.request

import pytest

import webboard
from tools import phone

pytestmark = pytest.mark.xdist_group("phone_tool")


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    vb = webboard.start(tmp_path_factory.mktemp("phone"))          # the board makes its own secret
    yield vb
    vb.stop()


def no_proxy():
    return urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                       type("NoRedirect", (urllib.request.HTTPRedirectHandler,),
                                            {"redirect_request": lambda *a, **k: None}))


def test_pair_prints_the_secret_the_board_made_and_the_link_pairs(board, capsys):
    assert phone.main(["pair", "--port", board.url, "--address", "127.0.0.1"]) == 0
    out = capsys.readouterr().out
    with open(os.path.join(board.flash, "pair.key")) as f:
        secret = f.read().strip()
    assert len(secret) == 32
    link = "http://127.0.0.1:%d/pair?k=%s" % (board.web_port, secret)
    assert link in out and "keep it to yourself" in out and "\u2588" in out          # the QR code
    webboard.wait_listening(board, board.web_port)                                    # pair restarted it
    try:
        no_proxy().open(link, timeout=10)
        raise AssertionError("no redirect")
    except urllib.error.HTTPError as e:
        assert e.code == 302 and "pump_key=" + secret in e.headers["Set-Cookie"]
    with pytest.raises(urllib.error.HTTPError) as e:
        no_proxy().open(link.replace(secret, "0" * 32), timeout=10)
    assert e.value.code == 401


def test_wifi_writes_a_checked_wifi_json_and_keeps_the_password_off_the_command_line(board, tmp_path, capsys):
    pw = tmp_path / "pw"
    pw.write_text("correct horse\n")
    assert phone.main(["wifi", "--ssid", "home", "--password-file", str(pw), "--hostname", "milk",
                       "--port", board.url]) == 0
    with open(os.path.join(board.flash, "wifi.json")) as f:
        got = json.load(f)
    assert got == {"ssid": "home", "password": "correct horse", "hostname": "milk", "ap_ssid": "pump",
                   "ap_password": None}
    short = tmp_path / "ap"
    short.write_text("short")
    assert phone.main(["wifi", "--ap-password-file", str(short), "--port", board.url]) == 2
    assert "ap_password must be 8-63 characters" in capsys.readouterr().err
    with open(os.path.join(board.flash, "wifi.json")) as f:
        assert json.load(f) == got                                   # refused: nothing written


def test_pair_on_a_board_without_the_phone_app_says_so():
    with pytest.raises(phone.deploy.DeployError) as e:
        phone.pairing({"board.json": json.dumps({"web": False}), "pair.key": "ab" * 16})
    assert "no \"web\": true" in str(e.value)
    with pytest.raises(phone.deploy.DeployError) as e:
        phone.pairing({"board.json": json.dumps({"web": True})})
    assert "no pairing secret yet" in str(e.value)
