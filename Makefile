# The two commands of the README: `make run` and `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/ydpipelines
export REDIS_URL ?= redis://127.0.0.1:6379/0
# Bytecode caches on, whatever the shell says: with PYTHONDONTWRITEBYTECODE set, every test
# process (every worker of both passes) rewrote the asserts of all 460 test modules, 4-5 CPU-s
# each.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: setup run test test-all test-setup test-postgresql test-sqlite pass-postgresql pass-sqlite lint \
	format image lock

setup:
	bash scripts/setup.sh

run: setup
	bash scripts/services.sh
	psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='ydpipelines'" | grep -q 1 \
	  || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE ydpipelines" >/dev/null
	$(PY) manage.py migrate --no-input -v 0
	$(PY) manage.py load_demo
	$(PY) -m ydpipelines.launcher

# Test processes side by side (pytest-xdist): the suite mostly waits on engines, workers and
# the browser, so more workers than cores pays. Tests spread one by one, the slow and browser
# ones first (tests/conftest.py; --no-loadscope-reorder keeps that order), but a module's tests
# that share a module-wide fixture stay together. Each worker has its own test database, Redis
# key prefix, engine and live server. The PostgreSQL pass, longer and waiting more, gets more
# workers than the SQLite pass it runs beside (README "What a test costs": fewer made the
# PostgreSQL pass the whole wall, more only took CPU). TEST_WORKERS=N sets both; 0: one process.
TEST_WORKERS ?=
POSTGRESQL_WORKERS ?= $(or $(TEST_WORKERS),5)
SQLITE_WORKERS ?= $(or $(TEST_WORKERS),2)
XDIST = --dist loadgroup --no-loadscope-reorder

# The suite on each database the README offers: PostgreSQL and SQLite (the no-server default)
# with only the tests that reach the database (--database-tests-only, tests/conftest.py): the
# engine, the step runner, the importers and other pure functions ran on PostgreSQL already.
# `make test` runs the two passes side by side (each has its own test databases, Redis key
# prefixes, engines, live servers and ports): they spend much of their time waiting on engines,
# steps and the browser, so together they end sooner than one after the other (README "What a
# test costs"). -O: each pass's output comes whole when it ends; either failing fails `make test`.
# `make test-postgresql` and `make test-sqlite` run one pass each.
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
MARKS ?=
SELECT := $(if $(MARKS),-m "$(MARKS)")

# `make test` leaves out the tests marked slow (15 s or more on the quiet machine: the app's
# image, whole pipelines watched live in the browser, the script-injection sweep, the plans at
# 100k runs): the loop while working, under 4 minutes. `make test-all` runs every test: CI's.
test: test-setup
	@echo "== both passes side by side, less the slow tests (make test-all: every test)"
	@$(MAKE) --no-print-directory -j2 -O pass-postgresql pass-sqlite MARKS="not slow"

test-all: test-setup
	@echo "== both passes side by side: each one's output comes when it ends"
	@$(MAKE) --no-print-directory -j2 -O pass-postgresql pass-sqlite

test-setup:
	YDP_WITH_BROWSER=1 bash scripts/setup.sh
	bash scripts/services.sh

test-postgresql: test-setup
	@$(MAKE) --no-print-directory pass-postgresql

test-sqlite: test-setup
	@$(MAKE) --no-print-directory pass-sqlite

pass-postgresql:
	@echo "== the suite on PostgreSQL"
	REDIS_URL=$(TEST_REDIS_URL) $(PY) -m pytest -p no:cacheprovider -n $(POSTGRESQL_WORKERS) $(XDIST) \
	  $(SELECT) $(PYTEST_ARGS)

pass-sqlite:
	@echo "== the tests that use the database, on SQLite"
	DATABASE_URL=sqlite:///$(CURDIR)/var/db.sqlite3 REDIS_URL=$(TEST_REDIS_URL) \
	  $(PY) -m pytest -p no:cacheprovider -n $(SQLITE_WORKERS) $(XDIST) --database-tests-only \
	  $(SELECT) $(PYTEST_ARGS)

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

# The app's image for a cluster (argo/README.md); IMAGE=registry.example.com/ydpipelines:0.1.0
image:
	bash scripts/app_image.sh $(IMAGE)

# Pins the dependencies again after pyproject.toml changed (requirements*.lock).
lock:
	bash scripts/lock.sh
