# A MicroPython build of one's own with the pump firmware frozen into it
# (docs/frozen-build.md says how to build and flash it, and what it saves).
#
#   cd micropython/ports/rp2
#   make BOARD=RPI_PICO FROZEN_MANIFEST=/path/to/this/repository/boards/manifest.py
#
# Frozen bytecode and its constants run from flash: the firmware's modules
# then take no heap for their code, only for their objects. main.py is not
# frozen: it stays a file on the board (MicroPython runs main.py from the
# filesystem), so `make flash` can still replace it, and board.json and
# profiles.json stay files the person edits. Relative paths here are
# relative to this file (MicroPython's manifest rules).

# What the port's own build freezes (asyncio, the network helpers on a
# Pico W): this manifest replaces the board's, so it includes it.
include("$(PORT_DIR)/boards/manifest.py")

# The firmware: the two packages and the top-level modules beside main.py.
package("pump", base_path="../firmware")
package("hw", base_path="../firmware")
module("app.py", base_path="../firmware")
module("books.py", base_path="../firmware")
module("startup.py", base_path="../firmware")
module("version.py", base_path="../firmware")

# What `make flash` installs with mip for a board file that names a display.
require("ssd1306")
