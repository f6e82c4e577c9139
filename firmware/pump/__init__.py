"""Pure pump core: decides duty and valve from readings and button events.

Nothing here touches `machine`, `time` or files, so the same code runs on the
board, on CPython and in the MicroPython VM on the host, tick for tick.
"""
