"""make bench's before/after summary: the issue-13 figures of
tools/bench_baseline.json beside the run's own, per board and state (the
figures themselves are benchmarks, never pass/fail thresholds)."""
import io
import json

from tools import bench


def test_the_summary_puts_each_figure_before_beside_now():
    with open(bench.BASELINE) as f:
        base = json.load(f)["before"]
    states = {s: {"median_us": 100 + k, "worst_us": 200 + k} for k, s in enumerate(bench.STATES)}
    result = {"rp2040": [{"board": "pico", "flash_timing": "typical", "states": states, "heap_alloc_bytes": 50001,
                          "frozen_heap_estimate_bytes": 20002},
                         {"board": "pico", "flash_timing": "worst", "states": states, "heap_alloc_bytes": 1,
                          "frozen_heap_estimate_bytes": 1},
                         {"board": "pico", "flash_timing": "typical", "machine_code": False,
                          "states": {s: {"n": 5, "median_us": 900 + k, "worst_us": 1500 + k}
                                     for k, s in enumerate(bench.STATES)},
                          "heap_alloc_bytes": 60007, "frozen_heap_estimate_bytes": 1}],
              "firmware_bytes_per_board": {"pico": {"mpy": 40003, "mpy_bytecode": 30009}},
              "sim_speed_x_real_time": {"cpython": 1234.5, "cpython_reads_replayed": 2345.6}}
    lines = []
    bench.before_after(result, lines.append)
    text = "\n".join(lines)
    idle_before = base["rp2040"]["pico"]["idle"]
    assert "idle %d/%d -> 100/200" % tuple(idle_before) in text
    assert "fault %d/%d -> 106/206" % tuple(base["rp2040"]["pico"]["fault"]) in text
    assert "%d -> 50001 bytes (frozen build estimate 20002)" % base["heap_after_boot_bytes"]["pico"] in text
    assert "pico 40003" in text and "-> 1234.5x real time (2345.6x with the reads replayed and no plant)" in text
    assert "heap after boot on the emulated pico" in text and text.count("tick on the emulated pico") == 1
    # The bytecode-only row is its own line, not taken for the shipped build's.
    assert text.count("heap after boot on the emulated pico") == 1
    assert ("without machine code (make flash BYTECODE=1) on the emulated pico: tick medians 900-906 us, "
            "worst 1506; heap after boot 60007 bytes; .mpy 30009") in text


def test_heapparts_gives_each_module_its_heap_and_names_what_it_did_not_measure(monkeypatch):
    """tools/rp2040/heapparts.py reads the harness's lines: a module's heap
    is the growth its import caused, its .mpy that of what it pulled in;
    a module resident after boot that the harness never imported is named,
    not silently counted in the boot line."""
    from tools.rp2040 import heapparts
    printed = ("BASE 5000\nMOD pump.limits 1200 pump pump.limits\nSKIP hw.sensors.mprls\n"
               "MOD app 8000 app\nBOOT 7000 21200\nHEAP 21200\nRESIDENT app pump pump.limits pump.extra rp2\n")
    monkeypatch.setattr(heapparts, "drive", lambda board, harness, out, actions: printed)
    sizes = {"pump": 30, "pump.limits": 600, "app": 4000}
    monkeypatch.setattr(heapparts, "resident_code_bytes", lambda board, mods: sum(sizes[m] for m in mods))
    r = heapparts.measure("pico", out=lambda s: None)
    assert r["base_bytes"] == 5000 and r["boot_bytes"] == 7000 and r["total_bytes"] == 21200
    assert [(m["name"], m["heap_bytes"], m["mpy_bytes"]) for m in r["modules"]] == [
        ("pump.limits", 1200, 630), ("app", 8000, 4000)]
    assert r["not_measured"] == ["pump.extra"]
    lines = []
    heapparts.table(r, lines.append)
    assert "not measured (in the boot line): pump.extra" in lines[-1]
    assert "pump.limits" in heapparts.HARNESS % {"order": heapparts.ORDER}


class _FakeBench:
    """What tickbench.drive does to an emulated board, in order."""
    calls = []
    comes_back = True

    def __init__(self, board, **kw):
        self.port = 7
        self.console = bytearray(b"HEAP 1 2\n")
        self.t_ns = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def run(self, seconds):
        pass

    def host(self, args):
        self.calls.append(args[3])                  # "flash" or "profiles-push"

    def settle(self):
        self.calls.append("settle")
        return self.comes_back

    def step(self):
        pass


class _FakeMpremote:
    def __init__(self, args, **kw):
        _FakeBench.calls.append("mpremote " + args[3])
        self.returncode = 0
        self.stdout = io.StringIO("HEAP 1 2\n")

    def poll(self):
        return 0


def test_the_tick_bench_waits_for_the_board_after_each_reset_before_mpremote_talks_to_it(monkeypatch):
    """`make flash` and `make profiles-push` end in a reset. mpremote, on the
    wall clock, gives the raw REPL 10 s, and bytes sent before the reset
    lands are lost with the chip's USB: the bench waits for main.py's
    heartbeat after each one ("could not enter raw repl" otherwise, seen on
    a loaded machine). A board that never comes back is named as such."""
    import pytest
    from tools.rp2040 import tickbench
    monkeypatch.setattr(tickbench, "Bench", _FakeBench)
    monkeypatch.setattr(tickbench.subprocess, "Popen", _FakeMpremote)
    _FakeBench.calls = []
    assert "HEAP" in tickbench.drive("pico", "print('HEAP 1 2')", out=lambda s: None, actions=[])
    assert _FakeBench.calls == ["flash", "settle", "profiles-push", "settle", "mpremote run"]
    _FakeBench.calls = []
    _FakeBench.comes_back = False
    try:
        with pytest.raises(RuntimeError, match="did not come back up .* after make flash"):
            tickbench.drive("pico", "", out=lambda s: None, actions=[])
    finally:
        _FakeBench.comes_back = True
    assert "mpremote run" not in _FakeBench.calls


def test_the_tick_bench_flashes_bytecode_only_when_asked_and_says_so(monkeypatch):
    from tools.rp2040 import tickbench
    flashed = []
    monkeypatch.setattr(tickbench, "Bench", _FakeBench)
    monkeypatch.setattr(tickbench.subprocess, "Popen", _FakeMpremote)
    monkeypatch.setattr(_FakeBench, "host", lambda self, args: flashed.append(args))
    tickbench.drive("pico", "", out=lambda s: None, actions=[], machine_code=False)
    tickbench.drive("pico", "", out=lambda s: None, actions=[])
    flashes = [a for a in flashed if a[3] == "flash"]
    assert "BYTECODE=1" in flashes[0] and "BYTECODE=1" not in flashes[1]
    cell = {"n": 1, "median_us": 1, "worst_us": 2}
    rows = [{"board": "pico", "flash_timing": "typical", "machine_code": mc, "states": dict.fromkeys(tickbench.STATES, cell),
             "longest_stall_us": 1000, "longest_stall_at": "x", "heap_alloc_bytes": 1, "heap_free_bytes": 1,
             "frozen_heap_estimate_bytes": 1, "resident_mpy_bytes": 1} for mc in (True, False)]
    lines = []
    tickbench.table(rows, lines.append)
    assert lines[2].split()[0] == "pico" and lines[3].startswith("pico (bytecode) ")
    assert lines[5].startswith("pico (bytecode), typical flash")


def test_every_emulator_harness_boots_the_app_as_a_deliberate_boot():
    """The harnesses boot the app after mpremote's soft reset, when main.py's
    boot has already taken the flash's reset.flag; rp2 still reports that
    reset as WDT_RESET. Without a fresh flag the measured board shows a
    watchdog_reset notice, and its idle ticks pay for the blink pattern."""
    from tools.rp2040 import heapparts, tickbench, tickparts, webbench
    for h in (tickbench.HARNESS, tickparts.HARNESS, heapparts.HARNESS, webbench.HARNESS):
        flag = h.find('open("reset.flag", "w").close()')
        assert 0 <= flag < h.index("boot(machine, time)")
