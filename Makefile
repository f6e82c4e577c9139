# The front door. `make test` and `make sim` set everything up themselves.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
STUBS  := .stubs/.installed

.PHONY: help venv test soak sim bench flash profiles-check profiles-push profiles-pull logs repl clean

help:
	@echo "make test    set up .venv and run every host check (core, parity, compile, properties)"
	@echo "make sim     set up .venv and simulate a standard session: table, out/*.csv, .json, .png"
	@echo "             (SCENARIO=tools/scenarios/power.json RUNTIME=micropython for others)"
	@echo "make bench   measure the budgets (heap, per-tick cost, size, sim speed, accuracy, detection)"
	@echo "make soak    long randomized safety runs (hypothesis, many examples)"
	@echo "make flash BOARD=pico [PORT=auto] [PROFILES=1]   compile and copy the firmware with mpremote"
	@echo "make profiles-check FILE=...   validate a profiles file with the firmware's own validator"
	@echo "make profiles-push FILE=... [PORT=]   validate, then replace the board's profiles.json atomically"
	@echo "make profiles-pull [PORT=]     fetch the board's profiles.json (profiles.board.json)"
	@echo "make logs [PORT=]   pull the board's session log;  make repl [PORT=]"
	@echo "make board [BOARD=sim] [FLASH=out/flash] [PORT=7777]   a virtual board (real MicroPython VM + plant)"
	@echo "             for mpremote: PORT=socket://127.0.0.1:7777 in the targets above; Ctrl-C stops it"
	@echo "make clean   remove the virtual environment and build output"

$(STAMP): requirements.txt
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

venv: $(STAMP) $(STUBS)

test: $(STAMP) $(STUBS)
	$(PY) -m pytest

soak: $(STAMP)
	HYPOTHESIS_PROFILE=soak SIM_EXAMPLES=1000 $(PY) -m pytest host_tests/test_safety_properties.py \
		host_tests/test_small_ints.py host_tests/test_sim.py -k "random or fault_at_any_time or small_ints"

SCENARIO ?= tools/scenarios/standard_letdown.json
RUNTIME  ?= cpython
SIM_OUT   = out/$(basename $(notdir $(SCENARIO)))

sim: $(STAMP)
	$(PY) -m tools.sim $(SCENARIO) --runtime $(RUNTIME) --trace $(SIM_OUT).csv \
		--summary $(SIM_OUT).json --plot $(SIM_OUT).png

bench: $(STAMP)
	$(PY) -m tools.bench

# -- a real board (or the virtual one: PORT=socket://127.0.0.1:7777) --------
BOARD ?= pico
PORT  ?= auto
FILE  ?= profiles.json
FLASH_ARGS = $(if $(filter 1 yes true,$(PROFILES)),--profiles,) $(if $(MIP_INDEX),--mip-index $(MIP_INDEX),)

flash: $(STAMP)
	$(PY) -m tools.deploy flash $(BOARD) --port $(PORT) $(FLASH_ARGS)

profiles-check: $(STAMP)
	$(PY) -m tools.deploy profiles-check $(FILE)

profiles-push: $(STAMP)
	$(PY) -m tools.deploy profiles-push $(FILE) --port $(PORT)

profiles-pull: $(STAMP)
	$(PY) -m tools.deploy profiles-pull --port $(PORT)

logs: $(STAMP)
	$(PY) -m tools.deploy logs --port $(PORT)

repl: $(STAMP)
	$(VENV)/bin/mpremote connect $(PORT) repl

# -- the virtual board: mpremote connect socket://127.0.0.1:7777 ---------------
# BOARD and PORT default to sim and 7777 here, whatever the targets above default to.
FLASH ?= out/flash
VBOARD_BOARD = $(if $(filter command line environment,$(origin BOARD)),$(BOARD),sim)
VBOARD_PORT  = $(if $(filter command line environment,$(origin PORT)),$(PORT),7777)

.PHONY: board
board: $(STAMP)
	$(PY) -m tools.vboard --board $(VBOARD_BOARD) --flash $(FLASH) --port $(VBOARD_PORT)

clean:
	rm -rf $(VENV) build out .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
