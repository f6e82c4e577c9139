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
# The phone app (boards with "web": true; on the others it only takes flash).
package("web", base_path="../firmware")
# microdot, the web framework it uses, from the folder that holds its
# package (the pinned one: `.venv/bin/python -c "import microdot, os;
# print(os.path.dirname(os.path.dirname(microdot.__file__)))"`). Without
# MICRODOT_DIR it stays in the board's lib/, where make flash puts it.
import os  # noqa: E402
if os.environ.get("MICRODOT_DIR"):
    package("microdot", base_path=os.environ["MICRODOT_DIR"])

# What `make flash` installs with mip for a board file that names a display.
require("ssd1306")
