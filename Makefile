# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make demo   - the portal with a seeded demo office, against the built-in KSeF simulator
#   make test   - lint, type checks and the whole test suite
# Both create .venv and install the pinned dependencies first (again only when
# pyproject.toml changes).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck pytest venv chromium messages clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# Browser tests drive the system Chromium from Debian's package; never a downloaded browser.
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi; }

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy .

pytest: venv chromium
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

test: lint typecheck pytest

demo: venv
	./scripts/demo.sh

clean:
	rm -rf $(VENV) var
