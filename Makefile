# Closeout: `make run` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 8000

# Django 6.1 needs Python >= 3.12: take $(PYTHON) if given, else the first suitable one on PATH or in pyenv.
PYTHON ?= $(shell for c in python3.13 python3.12 python3 $$HOME/.pyenv/versions/3.13*/bin/python3 $$HOME/.pyenv/versions/3.12*/bin/python3 /root/.pyenv/versions/3.13*/bin/python3 /root/.pyenv/versions/3.12*/bin/python3; do \
	p=$$(command -v $$c 2>/dev/null) || continue; \
	$$p -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null && { echo $$p; break; }; done)

.PHONY: help venv install install-dev migrate demo run worker test smoke lint bench soak clean check-python

help:
	@echo "make run    set up, load demo data, start web server + task worker"
	@echo "make test   set up test deps, run ruff and the whole pytest suite (browser tests included)"
	@echo "make smoke  the README's Deploy steps for real (production settings, gunicorn, worker), every page crawled"
	@echo "make bench  performance benchmark (see docs/benchmarks.md)"
	@echo "make soak   5 minutes of traffic on two web servers and two task workers (PostgreSQL, Redis)"

check-python:
	@if [ -z "$(PYTHON)" ]; then \
		echo "Closeout needs Python 3.12 or newer (Django 6.1). Install one, e.g. 'pyenv install 3.12' or 'apt-get install python3.12 python3.12-venv', or run 'make PYTHON=/path/to/python3.12 ...'."; \
		exit 1; fi

$(PY): | check-python
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

venv: $(PY)
install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo

# The web server and the worker both run in the background of one shell that waits for either: Ctrl-C (or a TERM
# to make) runs its traps, which stop both by pid. Neither runs under the autoreloader: a reloader's child process
# outlives a kill of its parent (db_worker reloads by default when DEBUG is on).
run: demo
	@echo ""
	@echo "  Closeout is starting at http://$(HOST):$(PORT)/"
	@echo "  Demo logins (password for all: closeout-demo):"
	@echo "    manager  – ends, schedules, shares, edits"
	@echo "    editor   – pauses and resumes"
	@echo "    viewer   – reads"
	@echo "    admin    – Django admin at http://$(HOST):$(PORT)/admin/"
	@echo "  Ctrl-C stops the web server and the task worker."
	@echo ""
	@$(PY) manage.py db_worker --interval 1 --no-reload & worker=$$!; \
	$(PY) manage.py runserver --noreload $(HOST):$(PORT) & web=$$!; \
	trap 'kill $$web $$worker 2>/dev/null; wait $$web $$worker 2>/dev/null; echo "Closeout stopped (web server and task worker)."' EXIT; \
	trap 'exit 130' INT TERM; \
	wait -n

worker: install
	$(PY) manage.py db_worker --no-reload

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check . || true

test: install-dev
	$(BIN)/ruff check .
	$(BIN)/bandit -q -c pyproject.toml -r campaigns reports config --severity-level medium
	$(PY) manage.py makemigrations --check --dry-run --settings=config.settings.test
	DJANGO_SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
	DJANGO_ALLOWED_HOSTS=closeout.example EMAIL_URL=smtp+tls://mailer@smtp.example:587 CACHE_URL=rediscache://cache.example:6379/0 DATABASE_URL=$${DATABASE_URL:-sqlite:///$(CURDIR)/db.sqlite3} \
	$(PY) manage.py check --deploy --fail-level WARNING --settings=config.settings.production
	$(BIN)/pytest $(PYTEST_ARGS)

# Production smoke (issue 14): SQLite by default; SMOKE_ARGS="--database-url postgres://…/closeout_smoke" for
# PostgreSQL (that database is created afresh and dropped), "--redis-db N" for another Redis database (default 9).
SMOKE_ARGS ?=
smoke: install
	$(PY) -m tests.smoke.prod_smoke $(SMOKE_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3* staticfiles media

# --- benchmark (issue 9) ---
# `make bench`: generate (or reuse) the benchmark data on SQLite and PostgreSQL, measure both, write
# docs/benchmarks.md. Needs PostgreSQL on 127.0.0.1:5432 (user postgres) and wrk (installed if missing).
# Its series section (issue 19) measures the pages again at 10,000 campaigns (a data set of its own, kept in
# bench/closeout_series_10k.sqlite3 and database closeout_series_10k) and at 100,000 (the bench's own data);
# BENCH_SERIES_1M=1 adds 1,000,000 (closeout_series_1m: 30,000,000 daily rows, generated once and kept).
BENCH_DIR := $(CURDIR)/bench
BENCH_SQLITE_URL ?= sqlite:///$(BENCH_DIR)/closeout_bench.sqlite3
BENCH_PG_URL ?= postgres://postgres@127.0.0.1:5432/closeout_bench
BENCH_ARGS ?=
BENCH_SERIES_1M ?=
BENCH_ENV := DJANGO_SETTINGS_MODULE=config.settings.local DJANGO_DEBUG=0 BENCH_SERIES_1M=$(BENCH_SERIES_1M)

bench: install-dev
	@mkdir -p $(BENCH_DIR)
	@command -v wrk >/dev/null 2>&1 || { apt-get install -y -qq wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk) || echo "wrk missing: the load rows will say 'not available'."; }
	@pg_isready -h 127.0.0.1 -p 5432 -q || { echo "PostgreSQL is not running on 127.0.0.1:5432"; exit 1; }
	@psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'closeout_bench'" | grep -q 1 \
		|| psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE closeout_bench"
	@start=$$(date +%s); \
	for url in "$(BENCH_SQLITE_URL)" "$(BENCH_PG_URL)"; do \
		vendor=$$(case $$url in sqlite*) echo sqlite;; *) echo postgresql;; esac); \
		echo "==== $$vendor: migrate, generate ===="; \
		$(BENCH_ENV) DATABASE_URL=$$url $(PY) manage.py migrate --noinput -v0 || exit 1; \
		$(BENCH_ENV) DATABASE_URL=$$url $(PY) -m tests.bench generate --timings-file $(BENCH_DIR)/generate-$$vendor.json || exit 1; \
		echo "==== $$vendor: bench ===="; \
		$(BENCH_ENV) DATABASE_URL=$$url $(PY) -m tests.bench run --write-docs $(BENCH_ARGS) || exit 1; \
	done; \
	echo "make bench took $$(( $$(date +%s) - start ))s; results in docs/benchmarks.md"

# --- Soak (issues 8, 19) ---
# `make soak`: two gunicorn servers (2 workers each) and two db_workers on PostgreSQL (database closeout_soak, created
# afresh and dropped) and Redis db 12 on 127.0.0.1; SOAK_SECONDS of traffic with a bulk end of 1,000 half way. Prints
# each figure beside its target, writes the Soak section of docs/benchmarks.md, fails on any FAIL.
SOAK_SECONDS ?= 300
soak: install-dev
	@pg_isready -h 127.0.0.1 -p 5432 -q || { echo "PostgreSQL is not running on 127.0.0.1:5432"; exit 1; }
	SOAK_SECONDS=$(SOAK_SECONDS) $(PY) tests/soak/soak.py
