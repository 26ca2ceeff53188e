# The two commands of the README: `make run` and `make test`. Everything else is a step
# they call. Each step is idempotent: nothing is reinstalled or retrained when unchanged.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PYTHONPATH := $(CURDIR)

APP := .venv/bin
RASA := .venv-rasa/bin
CUSTOMERS ?= 20

.PHONY: help setup train run seed lint test test-unit test-actions test-e2e validate-bot

help:
	@echo "make run    - set up what is missing and start the whole system (Ctrl-C stops it)"
	@echo "make test   - set up what is missing and run every check and test"
	@echo "make seed CUSTOMERS=N - create demo customers demo001..demoN (idempotent)"
	@echo "make train  - train the Rasa model if the training data changed"

setup:
	@scripts/setup.sh

train: setup
	@$(APP)/python scripts/train.py

run: setup
	@$(APP)/python scripts/train.py > /dev/null
	@$(APP)/python scripts/stack.py run

seed: setup
	@$(APP)/python -m core_banking.migrate
	@$(APP)/python -m core_banking.seed --customers $(CUSTOMERS)

lint: setup
	$(APP)/ruff check .
	$(APP)/mypy gateway core_banking scripts tests/core_banking tests/gateway tests/e2e $(wildcard tests/*.py)
	$(APP)/mypy bench/gateway.py
	$(APP)/mypy bench/ledger.py
	$(APP)/mypy --python-executable $(RASA)/python --python-version 3.10 actions tests/actions

validate-bot: setup
	cd bot && ../$(RASA)/rasa data validate --fail-on-warnings --domain domain \
		--data data ../nlu_data --config config.yml

test-unit: setup
	$(APP)/pytest -q -m "not e2e" tests

test-actions: setup
	$(RASA)/pytest -q -p no:cacheprovider -c tests/actions/pytest.ini tests/actions

test-e2e: train
	$(APP)/pytest -q -m e2e tests

test: lint validate-bot test-unit test-actions test-e2e
