"""Progress bars (tqdm) for the host's long runs: the simulator and `make bench`.

A bar is drawn on stderr only when stderr is a terminal (and not asked to
be quiet): in pipes, files, CI and tests nothing is drawn and nothing else
changes, so every output and file stays exactly what it was.
"""
import contextlib
import os
import sys
import time

from tqdm import tqdm


def wanted(stream=None, quiet=False):
    """True when a bar belongs on `stream` (default stderr): a terminal, not quiet."""
    if quiet:
        return False
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _width(stream):
    """tqdm's size options: follow the terminal, or 80 x 24 for one that
    reports no size (a bare pty, where tqdm would draw nothing)."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, ValueError, OSError):
        size = None
    return {"dynamic_ncols": True} if size and size.columns and size.lines else {"ncols": 80, "nrows": 24}


def say(*args):
    """print() to stdout, flushed; with a bar on the terminal, above it."""
    tqdm.write(" ".join(str(a) for a in args), file=sys.stdout)
    sys.stdout.flush()


def steps(iterable, desc, total=None, stream=None):
    """Iterate with a bar of `total` steps (one per item) on stderr when it
    is a terminal; otherwise just the items."""
    stream = sys.stderr if stream is None else stream
    on = wanted(stream)
    return tqdm(iterable, desc=desc, total=total, file=stream, disable=not on, leave=False, unit="run",
                **(_width(stream) if on else {}))


class SimBar:
    """A simulator run in simulated minutes, with its speed in x real time.

    at(t_ms) moves it to simulated time t_ms (redrawn at most once per
    simulated second); note(text) writes a line above it (the engine's
    notes); with above_bar(): whatever goes to sys.stderr in the block goes
    above it too. Disabled (stream not a terminal, or quiet), at() costs a
    comparison and note() writes the text as it is."""

    def __init__(self, total_ms, stream=None, quiet=False, desc="sim"):
        self.stream = sys.stderr if stream is None else stream
        self.on = wanted(self.stream, quiet)
        self.total_ms = total_ms
        self.next_ms = 0
        self.started = time.perf_counter()
        self.bar = None
        if self.on:
            self.bar = tqdm(total=round(total_ms / 60000, 2), desc=desc, file=self.stream, leave=True,
                            **_width(self.stream), bar_format="{desc} {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} "
                            "sim min [{elapsed}<{remaining}{postfix}]")

    def at(self, t_ms):
        if t_ms < self.next_ms or self.bar is None:
            return
        self.next_ms = t_ms + 1000
        wall = time.perf_counter() - self.started
        if wall > 0:
            self.bar.set_postfix_str("%.0fx real time" % (t_ms / 1000.0 / wall), refresh=False)
        self.bar.update(round(min(t_ms, self.total_ms) / 60000, 2) - self.bar.n)

    def note(self, text):
        if self.bar is None:
            self.stream.write(text)
            self.stream.flush()
        else:
            tqdm.write(text.rstrip("\n"), file=self.stream)

    @contextlib.contextmanager
    def above_bar(self):
        if self.bar is None:
            yield
            return
        above = _Above(self)
        try:
            with contextlib.redirect_stderr(above):
                yield
        finally:
            above.flush()

    def close(self):
        if self.bar is not None:
            self.next_ms = 0
            self.at(self.total_ms)
            self.bar.close()
            self.bar = None


class _Above:
    """sys.stderr while a bar runs: whole lines go above the bar."""

    def __init__(self, bar):
        self.bar = bar
        self.buf = ""

    def write(self, text):
        self.buf += text
        while "\n" in self.buf:
            line, self.buf = self.buf.split("\n", 1)
            self.bar.note(line + "\n")
        return len(text)

    def flush(self):
        if self.buf:
            self.bar.note(self.buf + "\n")
            self.buf = ""

    def isatty(self):
        return False
