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

.PHONY: demo test lint typecheck pytest venv system-packages messages clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# System packages, from Debian's own repositories: Chromium for the browser tests (never a
# downloaded browser), and Pango, HarfBuzz's subsetter and fonts with Polish glyphs for
# WeasyPrint's invoice PDFs.
SYSTEM_PACKAGES := chromium libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core

system-packages:
	@missing="$$(for p in $(SYSTEM_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done)"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy .

pytest: venv system-packages
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

test: lint typecheck pytest

demo: venv system-packages
	./scripts/demo.sh

clean:
	rm -rf $(VENV) var
