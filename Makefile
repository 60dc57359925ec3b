# The two commands of the README: `make run` and `make test`. Everything else is set up here.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DEMO_PASSWORD ?= etdm-demo

# Debian libraries the Python packages load at run time: Pango (and HarfBuzz subsetting) for
# WeasyPrint, DejaVu fonts for reports and plots; the tests add Chromium for the browser tests
# (Playwright drives Debian's build, it never downloads one). Installed only when missing.
RUNTIME_DEBIAN_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
TEST_DEBIAN_PACKAGES := $(RUNTIME_DEBIAN_PACKAGES) chromium

.PHONY: run test static lint mutation clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

define install_missing
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:" $$missing; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
endef

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	$(call install_missing,$(RUNTIME_DEBIAN_PACKAGES))
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py load_drugs
	$(BIN)/python manage.py seed_demo --password "$(DEMO_PASSWORD)"
	@echo
	@echo "  eTDM is starting at http://127.0.0.1:8000/"
	@echo "  Demo logins (password: $(DEMO_PASSWORD)):"
	@echo "    site DEMO : nurse, pharmacist, physician, datamanager"
	@echo "    site DEMO2: nurse2, pharmacist2, physician2, datamanager2"
	@echo "    superuser : admin"
	@echo "  E-mail is written to var/mail/. Stop with Ctrl+C."
	@echo
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

test: static
	$(call install_missing,$(TEST_DEBIAN_PACKAGES))
	$(BIN)/pytest

# The gates before the suite: lint and format, strict types of the pure clinical code, the
# import contracts between the apps (pyproject.toml), and migrations matching the models.
static: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/python manage.py makemigrations --check --dry-run

# Mutation testing of the pure engine against its own tests (slow: not part of `make test`);
# the scores are in docs/testing.md.
mutation: $(VENV)/.dev
	$(BIN)/mutmut run
	$(BIN)/mutmut results

clean:
	rm -rf var .pytest_cache .hypothesis mutants
