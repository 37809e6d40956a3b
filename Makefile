# The README's two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint install install-dev system-deps bench i18n clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# `make demo` installs ioc again only when something it is built from changed (a stamp file).
SOURCES := pyproject.toml $(shell find ioc devices rules firmware_sim -type f ! -name '*.pyc' 2>/dev/null)

install: $(VENV)/.installed

$(VENV)/.installed: $(BIN)/python $(SOURCES)
	$(BIN)/pip install --quiet .
	touch $@

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

## demo: install ioc and run the simulated province on embedded defaults (no servers needed)
demo: install
	$(BIN)/ioc demo $(ARGS)

## system-deps: Mosquitto, InfluxDB 1.x and PostgreSQL for the integration tests
system-deps:
	bash scripts/install-test-deps.sh

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## test: install what is missing, lint, and run every test against real servers
# The suite on PYTEST_WORKERS processes (pytest-xdist): most tests wait on servers, so more
# workers than cores pay; tests that share fixed addresses run in one group (tests/conftest.py).
PYTEST_WORKERS ?= 4

test: system-deps install-dev lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

bench: system-deps install-dev
	$(BIN)/python bench/ingest_throughput.py $(ARGS)
	$(BIN)/python bench/ingest_cpu.py
	$(BIN)/python bench/ingest_instructions.py  # needs valgrind
	$(BIN)/python bench/rules_eval.py
	$(BIN)/python bench/alert_latency.py
	$(BIN)/python bench/api_latency.py
	$(BIN)/python bench/notify_storm.py
	$(BIN)/python bench/modbus_polls.py
	$(BIN)/python bench/icmp_rounds.py  # needs root: network namespaces, raw sockets
	$(BIN)/python bench/snmp_polls.py
	$(BIN)/python bench/broker_auth.py
	$(BIN)/python bench/inventory_import.py
	$(BIN)/python bench/series_query.py
	$(BIN)/python bench/sign_in.py

# After marking new texts (say, mark, the wall's t): add them to ioc/i18n/vi.po to translate.
i18n: install-dev
	$(BIN)/python -c "from ioc.i18n._extract import update_catalog; print(update_catalog('vi'))"

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
