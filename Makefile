# The two commands of the README: `make run` and `make test`. Everything else is a step
# they call. Each step is idempotent: nothing is reinstalled or retrained when unchanged.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PYTHONPATH := $(CURDIR)

APP := .venv/bin
RASA := .venv-rasa/bin
CUSTOMERS ?= 20

.PHONY: help setup train run run-scaled chaos seed lint test test-unit test-actions test-e2e \
	validate-bot eval-nlu check-nlu bench test-stories test-conversations load drill observe

help:
	@echo "make run    - set up what is missing and start the whole system (Ctrl-C stops it)"
	@echo "make test   - set up what is missing and run every check and test"
	@echo "make test-conversations - the customer conversation suite (tests/conversations)"
	@echo "make seed CUSTOMERS=N - create demo customers demo001..demoN (idempotent)"
	@echo "make train  - train the Rasa model if the training data changed"
	@echo "make run-scaled - like run, with two gateways, Rasa servers and action servers behind HAProxy (:8080)"
	@echo "make chaos      - 1000 conversations through HAProxy with random instance kills (CONVERSATIONS=N)"
	@echo "make eval-nlu   - BANKING77 held-out evaluation, out-of-scope and task intents"
	@echo "make check-nlu  - fail if the BANKING77 held-out accuracy fell below the recorded figure"
	@echo "make bench      - ledger and gateway benchmarks"
	@echo "make load       - Locust chat load against a running system (make run first)"
	@echo "make drill      - backup + point-in-time restore drill on a throwaway PostgreSQL"
	@echo "make observe    - Prometheus (Debian package) scraping the running stack's /metrics"

setup:
	@scripts/setup.sh

train: setup
	@$(APP)/python scripts/train.py

run: setup
	@$(APP)/python scripts/train.py > /dev/null
	@$(APP)/python scripts/stack.py run

run-scaled: setup
	@scripts/ensure_haproxy.sh
	@$(APP)/python scripts/train.py > /dev/null
	@STACK_REPLICAS=2 $(APP)/python scripts/stack.py run

# scripts/chaos.py: N conversations of 5 turns through HAProxy on a scaled stack of its
# own (free ports, fresh database) while instances are SIGKILLed; exits 1 on a failed check.
CONVERSATIONS ?= 1000
chaos: setup
	@scripts/ensure_haproxy.sh
	@$(APP)/python scripts/train.py > /dev/null
	$(APP)/python -m scripts.chaos --conversations $(CONVERSATIONS)

# RECORD=1 also writes the held-out accuracy that `make check-nlu` holds the model to.
eval-nlu: setup
	@$(RASA)/python scripts/eval_nlu.py $(if $(RECORD),--record)

# Fails when the classifier's BANKING77 held-out accuracy is more than 0.5 point below
# tests/nlu/recorded_accuracy.json; one SVM fit on the embeddings `make train` cached.
check-nlu: setup
	@$(RASA)/python scripts/check_nlu_accuracy.py

# (c) of bench/gateway.py compares with a real Rasa when one answers there (`make run`).
BENCH_RASA_URL ?= http://127.0.0.1:5005

bench: setup
	$(APP)/python bench/ledger.py
	$(APP)/python bench/gateway.py --rasa-url $(BENCH_RASA_URL)
	$(APP)/python bench/nlu.py
	$(APP)/python bench/rasa_turns.py --rasa-url $(BENCH_RASA_URL)

# Locust against the running system (`make run` in another terminal). Override with
# e.g. `make load USERS=100 DURATION=5m HOST=http://127.0.0.1:8010`.
USERS ?= 40
DURATION ?= 2m
HOST ?= http://127.0.0.1:8000
load: setup
	@mkdir -p var/load
	LOAD_CUSTOMERS=$(CUSTOMERS) $(APP)/locust -f bench/locustfile.py --host $(HOST) \
		--headless -u $(USERS) -r 4 -t $(DURATION) --csv var/load/run --only-summary

# Backup and point-in-time recovery rehearsal (scripts/drill.py, docs/operations.md).
drill: setup
	@$(APP)/python -m scripts.drill

# Prometheus against the running system (`make run` in another terminal): scrapes the
# gateway, core_banking and the action server with deploy/prometheus/rules; :9090.
observe: setup
	@scripts/ensure_promtool.sh
	@$(APP)/python scripts/observe.py

seed: setup
	@$(APP)/python -m core_banking.migrate
	@$(APP)/python -m core_banking.seed --customers $(CUSTOMERS)

lint: setup
	$(APP)/ruff check .
	$(APP)/ruff format --check .
	$(APP)/mypy gateway core_banking scripts tests/core_banking tests/gateway tests/e2e tests/deploy \
		tests/conversations $(wildcard tests/*.py)
	$(APP)/mypy bench/gateway.py
	$(APP)/mypy bench/ledger.py bench/ledger_ceiling.py bench/console_search.py bench/history_search.py \
		bench/transfer_encryption.py
	$(APP)/mypy bench/transfer_cpu.py
	$(APP)/mypy bench/nlu.py bench/rasa_turns.py
	$(APP)/mypy bench/locustfile.py
	$(APP)/mypy --python-executable $(RASA)/python --python-version 3.10 actions tests/actions \
		bot tests/bot bench/nlu_finetune.py bench/nlu_encoders.py bench/nlu_sample.py \
		bench/entities_spacy.py bench/nlu_distill.py

validate-bot: setup
	cd bot && ../$(RASA)/rasa data validate --fail-on-warnings --domain domain \
		--data data ../nlu_data --config config.yml

test-unit: setup
	@scripts/ensure_chromium.sh
	@scripts/ensure_promtool.sh
	@scripts/ensure_haproxy.sh
	$(APP)/pytest -q -m "not e2e" tests

test-actions: setup
	$(RASA)/pytest -q -p no:cacheprovider -c tests/actions/pytest.ini tests/actions
	$(RASA)/pytest -q -p no:cacheprovider -c tests/bot/pytest.ini tests/bot

# Conversation tests through the real NLU and policies (no action server needed).
# bot/endpoints.yml needs its variables; no action server, Redis or RabbitMQ is used here.
STORY_ENV := ACTION_ENDPOINT_URL=http://127.0.0.1:5055/webhook ACTION_SERVER_TOKEN=unused \
	RASA_REDIS_HOST=127.0.0.1 RASA_REDIS_PORT=6379 RASA_REDIS_DB=0 \
	RASA_REDIS_KEY_PREFIX=stories RASA_TRACKER_TTL_SECONDS=600 \
	RABBITMQ_HOST=127.0.0.1 RABBITMQ_PORT=5672 RABBITMQ_USERNAME=guest RABBITMQ_PASSWORD=guest \
	RASA_EVENTS_EXCHANGE=stories-rasa-events RASA_EVENTS_QUEUE=stories-rasa-events
test-stories: train
	$(STORY_ENV) $(RASA)/rasa test core \
		--model "$$($(APP)/python scripts/train.py)" --stories tests/stories \
		--fail-on-prediction-errors --out var/eval/stories --endpoints bot/endpoints.yml

test-e2e: train
	@scripts/ensure_chromium.sh
	@scripts/ensure_haproxy.sh
	$(APP)/pytest -q -m e2e --ignore=tests/conversations tests

# Customer conversations through the gateway WebSocket, effects checked through
# core_banking (tests/conversations/README.md). One stack of its own, so not in test-e2e.
test-conversations: train
	$(APP)/pytest -q -m e2e -rxX tests/conversations

test: lint validate-bot test-unit test-actions test-stories check-nlu test-e2e \
	test-conversations
