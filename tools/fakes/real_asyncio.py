"""Import asyncio against the port's own clock, under the fake `time`.

MicroPython's asyncio keys its task queue (the C `_asyncio` module) on the
port's real ticks, but takes ticks_ms from whatever `time` is: with the
fakes' `time` on MICROPYPATH (a clock that only moves when a test moves it)
its loop would wait forever for a task already due. So host runs import it
once with the built-in clock (`utime`); the firmware's own `time` stays the
fake one. On CPython this is a plain `import asyncio`.
"""
import sys

if sys.implementation.name == "micropython":
    import utime
    _fake = sys.modules.get("time")
    sys.modules["time"] = utime
    try:
        import asyncio
    finally:
        if _fake is not None:
            sys.modules["time"] = _fake
        else:
            del sys.modules["time"]
else:
    import asyncio  # noqa: F401
