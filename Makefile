# Every target installs what it needs first, so a fresh clone runs any of them.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
CHECKED_DIRS := shared functions emulator devhost scripts function_app.py

.PHONY: setup lint format test demo bench chaos scale up down clean

setup: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: $(PY_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy $(CHECKED_DIRS)

format: $(PY_STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# pytest exits 5 when it collects no test; that is a failure here too.
# The status page test drives headless Chromium (Debian's package); CI runs
# as root on a fresh machine, so the target installs it when it is missing.
test: setup lint
	command -v chromium >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)
	$(PY) -m pytest $(PYTEST_ARGS)

demo: setup
	$(PY) -m scripts.demo $(DEMO_ARGS)

bench: setup
	$(PY) -m scripts.bench

# The crash tests with more images, more kills and three seeds.
chaos: setup
	FACTORY_CHAOS_PROFILE=large $(PY) -m pytest tests/chaos $(PYTEST_ARGS)

# First runs of 20 images x 10 team labs and 200 x 50 at almost no latency.
scale: setup
	$(PY) -m scripts.bench scale

# Start the local stack in .stack and leave it running; `make down` stops it.
up: setup
	$(PY) -m scripts.localstack up --state-dir .stack

down:
	test ! -x $(PY) || $(PY) -m scripts.localstack down --state-dir .stack

clean: down
	test ! -x $(PY) || $(PY) -m scripts.localstack down --state-dir .demo/stack
	rm -rf .stack .demo .bench .pytest_cache .mypy_cache .ruff_cache
