# JetDesk: `make run` starts the whole system locally; `make test` runs every test.
VENV   ?= .venv
PY     := $(VENV)/bin/python
HOST   ?= 127.0.0.1
PORT   ?= 8000
STAMP  := $(VENV)/.installed

.PHONY: setup run lint test package test-unit test-integration test-e2e test-browser token bench clean

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q "pip==26.2.1"  # chalice 1.34 needs pip<26.3
	$(PY) -m pip install -q -r requirements-dev.txt -c constraints.txt
	touch $(STAMP)

setup: $(STAMP)

run: setup
	HOST=$(HOST) PORT=$(PORT) exec $(PY) -m infra.local

test: setup lint
	$(PY) -m pytest

lint: setup
	$(PY) -m ruff check app.py chalicelib channels infra tests bench

test-unit: setup
	$(PY) -m pytest tests/unit

test-integration: setup
	$(PY) -m pytest tests/integration

test-e2e: setup
	$(PY) -m pytest tests/e2e

# The console and the chat page in Debian's Chromium (apt-get install -y chromium); screenshots in build/screenshots.
test-browser: setup
	$(PY) -m pytest tests/browser

STAGE ?= dev
package: setup
	mkdir -p build/$(STAGE)
	$(PY) -m infra.cloudformation $(STAGE) > build/$(STAGE)/merge.json
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(VENV)/bin/chalice package --stage $(STAGE) \
		--merge-template build/$(STAGE)/merge.json build/$(STAGE)/out
	@echo "template: build/$(STAGE)/out/sam.json  zip: build/$(STAGE)/out/deployment.zip"

token: setup
	@$(PY) -m infra.local.token $(AGENT)

# Benchmarks (bench/README.md): one run, one table, bench/results/latest.json and latest.png.
bench: setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache
