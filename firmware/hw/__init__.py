"""Hardware edge: the only code that touches `machine`. Drivers get their
pins and buses passed in (built by board.py from the board file), so host
tests hand them fakes that speak the real device protocols."""
