"""The simulator's ceiling (tools/sim/replay.py, a `make bench` figure): the
replayed run must be the same firmware work as the simulated one, without
the plant, and must leave the fake machine as it found it."""
import os

import pytest

from tools import paths
from tools.sim import replay, scenario

paths.use_sim()
import machine  # noqa: E402  (the fake, tools/fakes/machine.py)

SCENARIOS = os.path.join(paths.ROOT, "tools", "scenarios")


def resolved(name, duration_s):
    sc, _ = scenario.load_file(os.path.join(SCENARIOS, name + ".json"))
    sc["duration_s"] = duration_s
    return scenario.resolve(sc)


def test_the_replay_takes_the_recorded_path_without_the_plant():
    spec, files = resolved("standard_letdown", 12)          # the session starts at 2 s
    read_u16, getitem = machine.ADC.read_u16, type(machine.mem32).__getitem__
    rows, again, seconds = replay.record_and_replay(spec, files)
    assert len(rows) == len(again) == 1200 and seconds > 0
    pumped = [r for r in rows if r[4] > 0]
    assert len(pumped) > 300, "the scenario must pump for the replay to mean anything"
    # Every column the firmware writes (reading, setpoint, duty, valve, state,
    # mode, fault, target, level) as simulated, tick for tick...
    assert [r[:1] + r[2:] for r in again] == [r[:1] + r[2:] for r in rows]
    # ...while the plant stood still after the first tick: its work is not in the figure.
    assert len({r[1] for r in again[1:]}) == 1 and len({r[1] for r in rows}) > 100
    assert machine.ADC.read_u16 is read_u16 and type(machine.mem32).__getitem__ is getitem
    assert replay.ceiling(spec, files) > 0


@pytest.mark.parametrize("name", ["standard_mprls", "standard_xgzp6897d"])
def test_a_board_whose_reads_cannot_be_replayed_is_refused(name):
    spec, files = resolved(name, 1)
    with pytest.raises(ValueError, match="analog sensor on an rp2"):
        replay.record_and_replay(spec, files)


def test_a_replay_that_left_the_recorded_path_is_no_figure(monkeypatch):
    """One duty different in the replayed rows (the firmware took another
    path) and the ceiling refuses to give a speed for it."""
    spec, files = resolved("standard_letdown", 4)
    rows, again, seconds = replay.record_and_replay(spec, files)
    k = next(i for i, r in enumerate(again) if r[4] > 0)
    bent = again[:k] + [again[k][:4] + (again[k][4] + 1,) + again[k][5:]] + again[k + 1:]
    monkeypatch.setattr(replay, "record_and_replay", lambda spec, files: (rows, bent, seconds))
    with pytest.raises(RuntimeError, match="left the recorded one"):
        replay.ceiling(spec, files)
    monkeypatch.setattr(replay, "record_and_replay", lambda spec, files: (rows, again, seconds))
    assert replay.ceiling(spec, files) > 0
