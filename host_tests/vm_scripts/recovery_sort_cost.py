"""How often the recovery rules read a session's start while putting a
board's log (already in time order) in order: once or twice per session
plus the filters, never per comparison. Prints "reads N sessions M"."""
from pump import recovery


class Counted(recovery.Session):
    reads = 0

    @property
    def start_s(self):
        Counted.reads += 1
        return self._start_s

    @start_s.setter
    def start_s(self, v):
        self._start_s = v


class Every3:
    every_s = 3 * 3600
    times_s = ()
    grace_s = 45 * 60


N = 60
ss = [Counted(849000000 + k * 10800, "b", k + 1) for k in range(N)]
Counted.reads = 0
recovery.History(ss, Every3(), 849000000 + N * 10800)
print("reads %d sessions %d" % (Counted.reads, N))
