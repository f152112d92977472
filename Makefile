# Hematovision: `make run` sets everything up and serves on http://127.0.0.1:5000;
# `make test` sets everything up and runs every test. Both work on a fresh 2-core Debian machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
WORKERS ?= 4

# Datasets and ImageNet weights live beside the checkout, never inside it.
export HEMATOVISION_DATASETS ?= $(abspath ../shared/datasets)
export HEMATOVISION_WEIGHTS ?= $(abspath ../shared/weights)
export FLASK_APP := backend
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup python-deps translations system-deps run test lint format pwa-deps pwa-build bench-pwa db-upgrade \
	bench-model models models-wbc models-malaria lolo bench-site-adaptation bench-backend dashboard-deps bench-dashboard bench-finder bench-cam

setup: python-deps translations pwa-build dashboard-deps

# The server's compiled message catalogues (git-ignored; the .po files are the source).
TRANSLATIONS := $(patsubst %.po,%.mo,$(wildcard backend/translations/*/LC_MESSAGES/messages.po))
translations: $(TRANSLATIONS)

backend/translations/%/LC_MESSAGES/messages.mo: backend/translations/%/LC_MESSAGES/messages.po | $(BIN)/.deps-installed
	$(BIN)/pybabel compile -l $* -i $< -o $@

# The PWA's npm packages (LiteRT.js, esbuild) and pwa/vendor/: the bundled inference worker and
# service worker (a new app version whenever a shell file changes) and the precompressed WASM.
pwa-deps: pwa/node_modules/.package-lock.json

pwa/node_modules/.package-lock.json: pwa/package.json pwa/package-lock.json
	cd pwa && npm ci --no-audit --no-fund

pwa-build: pwa-deps
	cd pwa && npm run --silent build

# In headless Chromium: LiteRT.js per-image latency vs ai-edge-litert on the same images, cold
# offline start to first result, bytes of the first visit. Prints the figures (not a test).
bench-pwa: setup system-deps
	$(BIN)/python -m bench.pwa

# The why-this-call map's cost per cell: each release with the map against the release it was
# made from (same network, no map), same images, same run, in the app's worker (LiteRT.js) and in
# Python (ai-edge-litert); prints the ratios (issue 17's target: <= 10 % extra). Not a test.
bench-cam: setup system-deps
	$(BIN)/python -m bench.cam

python-deps: $(BIN)/.deps-installed

$(BIN)/.deps-installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

dashboard-deps: backend/dashboard/node_modules/.installed

backend/dashboard/node_modules/.installed: backend/dashboard/package.json backend/dashboard/package-lock.json
	cd backend/dashboard && npm ci --no-audit --no-fund
	touch $@

# Debian packages the browser tests, the PostgreSQL tests and the proxy test (Caddy in front of
# two servers, tests/backend/test_proxy.py) need (CI runs as root), and the CJK fallback font of
# the slide PDF (the report works without it; CJK is then left blank).
system-deps:
	@command -v chromium >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; }
	@command -v caddy >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q caddy; }
	@test -f /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q fonts-droid-fallback; }

lint: python-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: python-deps
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Two workers (pytest-xdist), a test file each at a time: half the suite's time is a browser,
# a server or PostgreSQL waiting, so two files run in about the time of one on two cores. The
# API fuzzing runs without workers: its tests share one id each, and xdist would run one of them.
TEST_WORKERS ?= 2
SERIAL_TESTS := tests/backend/test_api_fuzzing.py
test: setup system-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --ignore=$(SERIAL_TESTS)
	$(BIN)/python -m pytest $(SERIAL_TESTS)

# Schema first, then files an older installation kept on disk moved into the database, then the
# first admin, then the committed model releases; all four are idempotent.
db-upgrade: setup
	$(BIN)/flask db upgrade

run: db-upgrade
	$(BIN)/flask storage import-files
	$(BIN)/flask users ensure-admin
	$(BIN)/flask models publish-all tflite_models
	$(BIN)/python -m backend.serve --host $(HOST) --port $(PORT) --threads $(WORKERS)

# The released models, retrained from ../shared/datasets on 2 cores (about 70 min in all).
# models-wbc: the white-cell network (pbc plus the three other labs, about 38 min); the same
# network with its field framing and field threshold declared (training.field_framing, about
# 20-30 min: the finder surveys every training photo); again with its why-this-call map, an output
# of the same network checked against the release it comes from (training.cam_release, under a
# minute); then with the view check (`confident` only when the call holds for the image turned a
# quarter turn: training.view_check_release, about a minute, with the leave-one-lab-out runs of
# `make lolo` scored by the same rule when they are in build/lolo); then calling each cell on the
# mean of both views (training.view_mean_release, about a minute, the same runs scored).
# models-malaria: the malaria screen (96 px, about 6 min); the same network with red-cell field
# mode and field colour standardisation declared and measured on malaria-fields
# (training.red_cell_release --field-colour, under a minute); again with its why-this-call map;
# again exported to run 8 cells at once (training.batch_release: the phone's field mode).
# Change the version folders to release new versions; a release folder is never overwritten in
# git. The 1.x white-cell releases came from pbc alone, 2.0.0-2.3.0 fine-tuned from block_6_expand
# (2.4.0 on: block_10_expand, docs/training.md), the 1.x malaria releases from a 160 px
# network without field colours (their model.json hparams and the git history of this file
# have the commands).
WBC_VERSION ?= 2.4.0
WBC_FIELD_VERSION ?= 2.5.0
MALARIA_VERSION ?= 2.0.0
MALARIA_FIELD_VERSION ?= 2.1.0
WBC_CAM_VERSION ?= 2.6.0
MALARIA_CAM_VERSION ?= 2.2.0
MALARIA_BATCH_VERSION ?= 2.3.0
WBC_VIEWS_VERSION ?= 2.7.0
WBC_MEAN_VERSION ?= 2.8.0
WBC_RECIPE := --ood malaria --image-size 192 --alpha 0.5 --head-epochs 2 --fine-tune-epochs 10 \
	--fine-tune-from block_10_expand --colour-normalization --augment strong-wide \
	--other-labs --lab-share 0.3 --noisy-label-smoothing 0.1
models: models-wbc models-malaria
models-wbc: python-deps
	$(BIN)/python -m training.train --data pbc --out tflite_models/wbc-differential/$(WBC_VERSION) \
		$(WBC_RECIPE)
	$(BIN)/python -m training.field_framing tflite_models/wbc-differential/$(WBC_VERSION) \
		tflite_models/wbc-differential/$(WBC_FIELD_VERSION)
	$(BIN)/python -m training.cam_release --from tflite_models/wbc-differential/$(WBC_FIELD_VERSION) \
		tflite_models/wbc-differential/$(WBC_CAM_VERSION)
	$(BIN)/python -m training.view_check_release --from tflite_models/wbc-differential/$(WBC_CAM_VERSION) \
		tflite_models/wbc-differential/$(WBC_VIEWS_VERSION) \
		--lolo $(wildcard $(addprefix build/lolo/,$(LOLO_LABS:=/$(WBC_VERSION))))
	$(BIN)/python -m training.view_mean_release --from tflite_models/wbc-differential/$(WBC_VIEWS_VERSION) \
		tflite_models/wbc-differential/$(WBC_MEAN_VERSION) \
		--lolo $(wildcard $(addprefix build/lolo/,$(LOLO_LABS:=/$(WBC_VERSION))))
models-malaria: python-deps
	$(BIN)/python -m training.train --data malaria --out tflite_models/malaria-screen/$(MALARIA_VERSION) \
		--ood pbc --image-size 96 --alpha 0.35 --head-epochs 3 --fine-tune-epochs 24 \
		--fine-tune-from block_6_expand --file-format float16
	$(BIN)/python -m training.red_cell_release --from tflite_models/malaria-screen/$(MALARIA_VERSION) \
		tflite_models/malaria-screen/$(MALARIA_FIELD_VERSION) --field-colour
	$(BIN)/python -m training.cam_release --from tflite_models/malaria-screen/$(MALARIA_FIELD_VERSION) \
		tflite_models/malaria-screen/$(MALARIA_CAM_VERSION)
	$(BIN)/python -m training.batch_release --from tflite_models/malaria-screen/$(MALARIA_CAM_VERSION) \
		--batch 8 tflite_models/malaria-screen/$(MALARIA_BATCH_VERSION)

# Leave-one-lab-out with the white-cell recipe (a measurement, about 30 min per lab on 2 cores):
# pbc (LOLO_PBC_PER_CLASS images per class and split) plus two other labs train, the third is
# only scored; the three scores then go into the white-cell releases' cards (training.lolo_table).
LOLO_PBC_PER_CLASS ?= 600
LOLO_LABS := tecom lisc cellavision-blog
lolo: python-deps
	for lab in $(LOLO_LABS); do \
		$(BIN)/python -m training.train --data pbc --out build/lolo/$$lab/$(WBC_VERSION) $(WBC_RECIPE) \
			--max-per-class $(LOLO_PBC_PER_CLASS) --hold-out-lab $$lab || exit 1; \
	done
	for release in $(WBC_VERSION) $(WBC_FIELD_VERSION) $(WBC_CAM_VERSION) $(WBC_VIEWS_VERSION) \
			$(WBC_MEAN_VERSION); do \
		$(BIN)/python -m training.lolo_table tflite_models/wbc-differential/$$release \
			$(addprefix build/lolo/,$(LOLO_LABS:=/$(WBC_VERSION))) || exit 1; \
	done

# A lab's few confirmed cells (training.site_release) on the leave-one-lab-out runs: each
# held-out lab's other crops before and after the refit, beside pbc; a measurement, ~20 min.
bench-site-adaptation: python-deps
	$(BIN)/python -m bench.site_adaptation $(addprefix build/lolo/,$(LOLO_LABS:=/$(WBC_VERSION)))

# Accuracy, macro-F1, ECE, size and latency (ai-edge-litert vs Keras, same run) of every released
# model on its test split; a measurement, not a test. Writes build/bench-model.json.
bench-model: python-deps
	$(BIN)/python -m bench.model

# Sync ingest (8 clients, batches of 100, the `make run` server on loopback) against a raw SQLAlchemy bulk
# insert, and /predict against the classifier called directly; on PostgreSQL also shared storage
# (cell images in the blobs table, a model download, ingest over two servers; alone with
# --shared-only); a measurement, not a test.
# Writes build/bench-backend.json. BENCH_ARGS="--database sqlite --model DIR" to narrow it.
bench-backend: setup system-deps
	$(BIN)/python -m bench.backend $(BENCH_ARGS)

# Cell finder figures: white-cell recall/precision on bccd-fields, robustness, red-cell
# recall/precision on malaria-fields, time per 640x480 photo in Python and in headless Chromium
# (same run); then a whole field photo found + classified in the app's worker vs
# classifier.classify (white cells: bccd; red cells: a 1600x1200 malaria field), and the
# classifier's in-lab figures from every model card.
bench-finder: setup system-deps
	$(BIN)/python -m bench.finder
	$(BIN)/python -m bench.field

# Dashboard: the phone's Classify-to-saved time with its crop (Chromium) against its inference;
# sync with the phone's crops vs without images; page and PDF/CSV timings against the JSON API
# and the slide page, in-process on SQLite; a measurement, not a test. Writes build/bench-dashboard.json.
bench-dashboard: setup system-deps
	$(BIN)/python -m bench.dashboard
