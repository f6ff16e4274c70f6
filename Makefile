# The two commands of the README: `make run` and `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/ydpipelines
export REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: setup run test lint format image lock

setup:
	bash scripts/setup.sh

run: setup
	bash scripts/services.sh
	psql -h 127.0.0.1 -U postgres -tc "SELECT 1 FROM pg_database WHERE datname='ydpipelines'" | grep -q 1 \
	  || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE ydpipelines" >/dev/null
	$(PY) manage.py migrate --no-input -v 0
	$(PY) manage.py load_demo
	$(PY) -m ydpipelines.launcher

# The suite on each database the README offers: PostgreSQL, then SQLite (the no-server default).
test:
	YDP_WITH_BROWSER=1 bash scripts/setup.sh
	bash scripts/services.sh
	@echo "== the suite on PostgreSQL"
	REDIS_URL=redis://127.0.0.1:6379/15 $(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)
	@echo "== the suite on SQLite (less the tests that use no database: the engine, the step"
	@echo "   runner and the app image, already run above)"
	DATABASE_URL=sqlite:///$(CURDIR)/var/db.sqlite3 REDIS_URL=redis://127.0.0.1:6379/15 \
	  $(PY) -m pytest -p no:cacheprovider --ignore=tests/localargo --ignore=tests/steprunner \
	  --ignore=tests/deploy/test_image.py $(PYTEST_ARGS)

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
