# The front door. `make test` and `make sim` set everything up themselves.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
STUBS  := .stubs/.installed

.PHONY: help venv test soak clean

help:
	@echo "make test    set up .venv and run every host check (core, parity, compile, properties)"
	@echo "make soak    long randomized safety runs (hypothesis, many examples)"
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
	HYPOTHESIS_PROFILE=soak $(PY) -m pytest host_tests/test_safety_properties.py host_tests/test_small_ints.py

clean:
	rm -rf $(VENV) build out .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
