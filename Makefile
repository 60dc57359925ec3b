# The two commands of the README: `make run` and `make test`. Everything else is set up here.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DEMO_PASSWORD ?= etdm-demo

.PHONY: run test lint check-deploy clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
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

test: $(VENV)/.dev
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf var .pytest_cache .hypothesis
