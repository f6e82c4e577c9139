"""The simulator's ceiling on CPython: the firmware and the engine alone.

A simulated tick costs the firmware's own work plus the plant's step, the
sensor chain's conversion and noise, and the fake machine's registers. How
fast could the simulator be if those cost nothing? `ceiling()` answers by
running a scenario twice in this process: first as `make sim` does,
recording every value the firmware reads from the ADC and from `mem32` (the
buttons' GPIO_IN), then again with each of those reads answered from the
record, in order, and the plant never advanced. The firmware takes the same
path as in the first run (every row but the plant's true vacuum is
compared), so the second run's speed is one that no cheaper plant or fake
could pass.

Only for boards whose sensor is the analog one on an rp2 (the simulator's
own board): an I2C or bit-banged sensor's reads are transactions the fake
answers through more than these two calls. CPython only: it patches the
fake machine's classes while it runs and restores them.
"""
import time
from contextlib import contextmanager

from tools import paths

paths.use_sim()


@contextmanager
def _reads_answered_by(read_u16, getitem):
    """The fake ADC's read_u16 and mem32's reads answered by these two
    functions while the block runs; the fake's own restored after."""
    import machine
    classes = (machine.ADC, "read_u16", read_u16), (type(machine.mem32), "__getitem__", getitem)
    saved = [(cls, name, cls.__dict__[name]) for cls, name, _ in classes]
    try:
        for cls, name, fn in classes:
            setattr(cls, name, fn)
        yield
    finally:
        for cls, name, fn in saved:
            setattr(cls, name, fn)


def record_and_replay(spec, files):
    """(rows as simulated, rows with the reads replayed, seconds the replay
    took). Raises ValueError for a board this cannot replay."""
    import machine
    from engine import Engine

    sensor = spec["board"]["sensor"]["type"]
    if sensor != "analog" or spec["board"]["port"] != "rp2":
        raise ValueError("the replay is for the analog sensor on an rp2 board, not %s on %s"
                         % (sensor, spec["board"]["port"]))
    read_u16, getitem = machine.ADC.__dict__["read_u16"], type(machine.mem32).__dict__["__getitem__"]
    reads = []
    keep = reads.append
    with _reads_answered_by(lambda self: keep(read_u16(self)) or reads[-1],
                            lambda self, addr: keep(getitem(self, addr)) or reads[-1]):
        recorded = Engine(spec, files).rows()
        rows = [next(recorded)]             # the boot and the first tick
        first = len(reads)
        rows.extend(recorded)
    answer = iter(reads[first:]).__next__
    engine = Engine(spec, files)
    replayed = engine.rows()
    again = [next(replayed)]                # live, as in the first run
    with _reads_answered_by(lambda self: answer(), lambda self, addr: answer()):
        engine.link.advance = lambda to_ms=None: None
        t = time.perf_counter()
        again.extend(replayed)
        seconds = time.perf_counter() - t
    return rows, again, seconds


def ceiling(spec, files):
    """Simulated seconds per wall second with the reads replayed (the ticks
    after the first). Raises RuntimeError if the firmware took another path."""
    rows, again, seconds = record_and_replay(spec, files)
    if len(rows) != len(again) or any(a[:1] + a[2:] != b[:1] + b[2:] for a, b in zip(rows, again)):
        raise RuntimeError("the replayed run left the recorded one: not a measure of the same work")
    simulated_ms = rows[-1][0] - rows[0][0]
    return simulated_ms / 1000.0 / seconds
