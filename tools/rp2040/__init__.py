"""The emulated RP2040 bench (rp2040js + MicroPython v1.28.0 for RPI_PICO):
chip.mjs is the chip, chip.py drives it, wires.py are the sensors at its
pins, bench.py is the pump around it, __main__ serves it to mpremote."""
