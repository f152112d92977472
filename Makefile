# Hematovision: `make run` sets everything up and serves on http://127.0.0.1:5000;
# `make test` sets everything up and runs every test. Both work on a fresh 2-core Debian machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
WORKERS ?= 3

# Datasets and ImageNet weights live beside the checkout, never inside it.
export HEMATOVISION_DATASETS ?= $(abspath ../shared/datasets)
export HEMATOVISION_WEIGHTS ?= $(abspath ../shared/weights)
export FLASK_APP := backend
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup python-deps system-deps run test lint format bench-model models

setup: python-deps

python-deps: $(BIN)/.deps-installed

$(BIN)/.deps-installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

# Debian packages the browser tests and the PostgreSQL tests need (CI runs as root).
system-deps:
	@command -v chromium >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; }

lint: python-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: python-deps
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: setup system-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# The two released models, retrained from ../shared/datasets (about 30 min together on 2 cores).
# Change the version folder to release a new version; a release folder is never overwritten in git.
WBC_VERSION ?= 1.0.0
MALARIA_VERSION ?= 1.0.0
models: python-deps
	$(BIN)/python -m training.train --data pbc --out tflite_models/wbc-differential/$(WBC_VERSION) \
		--ood malaria --image-size 192 --alpha 0.5 --head-epochs 2 --fine-tune-epochs 14 \
		--fine-tune-from block_6_expand
	$(BIN)/python -m training.train --data malaria --out tflite_models/malaria-screen/$(MALARIA_VERSION) \
		--ood pbc --image-size 160 --alpha 0.5 --head-epochs 3 --fine-tune-epochs 24 \
		--fine-tune-from block_6_expand

# Accuracy, macro-F1, ECE, size and latency (ai-edge-litert vs Keras, same run) of every released
# model on its test split; a measurement, not a test. Writes build/bench-model.json.
bench-model: python-deps
	$(BIN)/python -m training.bench
