"""A virtual board: the real mpremote talks to the real MicroPython VM.

    python -m tools.vboard --board sim --flash out/flash [--port 7777]
    mpremote connect socket://127.0.0.1:7777 ls

The unix port of MicroPython runs tools/vboard/device.py with a host folder
as the board's flash, the fake `machine` and `time` (tools/fakes) and the
simulator's plant behind them, so main.py boots and pumps in real time;
tools/vboard/server.py speaks the REPL protocol (friendly, raw, raw-paste)
to mpremote over a loopback socket; tools/vboard/control.py lets tests press
buttons and read the plant (`VirtualBoard`); tools/vboard/press.py presses
them from a shell (`python -m tools.vboard press start`, `make press`).
"""
from tools.vboard.control import VirtualBoard  # noqa: F401
