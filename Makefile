# make run    - the kiosk on embedded defaults (simulated devices, sandbox gateway, SQLite in ./data)
# make test   - the whole test suite, headless
# make bench  - benchmarks -> bench/RESULTS.md
# make bench-scale - the kiosk's costs at 10^3..10^5 orders and 10^2..10^5 products -> bench/RESULTS.md
# make demo   - mosquitto, head office and three simulated kiosks selling on their own (Ctrl+C stops)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# On a Raspberry Pi, pygame comes from Debian (system SDL with KMS/DRM): the venv sees system packages.
ON_PI := $(shell grep -qs "Raspberry Pi" /proc/device-tree/model && echo 1)
VENV_FLAGS := $(if $(ON_PI),--system-site-packages)
HEADLESS := SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy GPIOZERO_PIN_FACTORY=mock

.PHONY: run test bench bench-scale demo lint deps dev-deps system-deps clean

run: deps
	$(PY) -m kiosk $(if $(CONFIG),--config $(CONFIG))

test: dev-deps lint
	$(HEADLESS) $(PY) -m pytest

bench: dev-deps
	$(HEADLESS) $(PY) -m bench

bench-scale: dev-deps
	$(HEADLESS) $(PY) -m bench.scale

demo: deps
	$(HEADLESS) $(PY) -m headoffice.demo

lint: dev-deps
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -p no:cacheprovider tests/test_layers.py  # imports point down the layers, no cycles

deps: system-deps $(VENV)/.installed

dev-deps: deps  # the tests' own system packages: a PostgreSQL for head office's storage tests
	@bash provisioning/install-system-deps.sh --dev

system-deps:
	@bash provisioning/install-system-deps.sh

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-headoffice.txt
	$(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check \
	  $(if $(ON_PI),-r <(grep -v '^pygame' requirements.txt) -r requirements-headoffice.txt -r <(grep -v '^-r' requirements-dev.txt),-r requirements-dev.txt)
	touch $@

clean:
	rm -rf $(VENV) data .pytest_cache
