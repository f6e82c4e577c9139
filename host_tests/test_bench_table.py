"""make bench's before/after summary: the issue-13 figures of
tools/bench_baseline.json beside the run's own, per board and state (the
figures themselves are benchmarks, never pass/fail thresholds)."""
import json

from tools import bench


def test_the_summary_puts_each_figure_before_beside_now():
    base = json.load(open(bench.BASELINE))["before"]
    states = {s: {"median_us": 100 + k, "worst_us": 200 + k} for k, s in enumerate(bench.STATES)}
    result = {"rp2040": [{"board": "pico", "flash_timing": "typical", "states": states, "heap_alloc_bytes": 50001,
                          "frozen_heap_estimate_bytes": 20002},
                         {"board": "pico", "flash_timing": "worst", "states": states, "heap_alloc_bytes": 1,
                          "frozen_heap_estimate_bytes": 1}],
              "firmware_bytes_per_board": {"pico": {"mpy": 40003}},
              "sim_speed_x_real_time": {"cpython": 1234.5}}
    lines = []
    bench.before_after(result, lines.append)
    text = "\n".join(lines)
    idle_before = base["rp2040"]["pico"]["idle"]
    assert "idle %d/%d -> 100/200" % tuple(idle_before) in text
    assert "fault %d/%d -> 106/206" % tuple(base["rp2040"]["pico"]["fault"]) in text
    assert "%d -> 50001 bytes (frozen build estimate 20002)" % base["heap_after_boot_bytes"]["pico"] in text
    assert "pico 40003" in text and "-> 1234.5x" in text
    assert "heap after boot on the emulated pico" in text and text.count("tick on the emulated pico") == 1
