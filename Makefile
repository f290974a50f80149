# Yiyang: every task from a fresh clone. `make demo` and `make test` are all a newcomer needs.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Reinstall when a lock file changes.
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt 2>/dev/null | sha1sum | cut -c1-12)

.PHONY: demo serve simulate setup test test-sqlite test-postgres bench lint format lock messages clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.txt -r requirements-dev.txt
	rm -f $(VENV)/.installed-*; touch $@

setup: $(STAMP)

## demo: install, migrate the SQLite database under var/, load the demo city, serve on 127.0.0.1:8000
demo: $(STAMP)
	@bash scripts/demo.sh

## serve: serve the existing demo database again without rebuilding it
serve: $(STAMP)
	@YIYANG_SKIP_BUILD=1 bash scripts/demo.sh

## simulate: the demo's alarm devices (signed webhooks and MQTT) sending to the running demo; ARGS=--once for one SOS
simulate: $(STAMP)
	@. scripts/env.sh && unset DATABASE_URL && $(BIN)/python manage.py simulate_devices $(ARGS)

## test: the whole suite on SQLite and, when a server answers, on PostgreSQL
test: $(STAMP)
	@bash scripts/test.sh

test-sqlite: $(STAMP)
	@YIYANG_TEST_DATABASES=sqlite bash scripts/test.sh

test-postgres: $(STAMP)
	@YIYANG_TEST_DATABASES=postgres bash scripts/test.sh

## bench: every benchmark under bench/ (figures and ratios against their baselines; never fails on speed)
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-bench.txt
	@bash scripts/bench.sh

## lint: ruff, and lint-imports (the one-way layers of pyproject.toml's [tool.importlinter])
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/ruff format --check yiyang bench scripts conftest.py || true

format: $(STAMP)
	$(BIN)/ruff check --fix .

## lock: recompile the pinned, hashed lock files from requirements*.in
lock:
	$(BIN)/pip-compile --quiet --generate-hashes --strip-extras -o requirements.txt requirements.in
	$(BIN)/pip-compile --quiet --generate-hashes --strip-extras -o requirements-dev.txt requirements-dev.in
	$(BIN)/pip-compile --quiet --generate-hashes --strip-extras -o requirements-bench.txt requirements-bench.in

## messages: refresh and compile the English translation catalogue (Chinese is the source language)
messages: $(STAMP)
	. scripts/env.sh && cd yiyang && ../$(BIN)/python ../manage.py makemessages -l en --no-obsolete --no-location
	msgfmt -c -o yiyang/locale/en/LC_MESSAGES/django.mo yiyang/locale/en/LC_MESSAGES/django.po

clean:
	rm -rf var/ .pytest_cache
