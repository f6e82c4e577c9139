"""The firmware version, read back by `make flash` after flashing."""
VERSION = "0.1.0"
