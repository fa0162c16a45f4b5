# Two commands do all the set-up: `make run` and `make test`.
# Both bootstrap .venv when it is missing (create, install, fetch + verify the model).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SOURCE ?= auto
STAMP := $(VENV)/.installed
# A folder holding official copies of the model, looked in before the network.
HINGE_MIRROR_MODEL_DIR ?= $(if $(wildcard ../shared/models/*.tflite),$(abspath ../shared/models))
export HINGE_MIRROR_MODEL_DIR

.PHONY: run test test-fast venv model lint docs clean soak bench pi-check

# Without a model (offline, no ../shared) a camera cannot be used, but the demo runs.
run: $(STAMP)
	@$(MAKE) --no-print-directory model || echo "model unavailable: the demo runs without it"
	$(BIN)/hinge-mirror run $(if $(filter-out auto,$(SOURCE)),--source $(SOURCE)) $(if $(CONFIG),--config $(CONFIG))

# Tests that need the model skip, with the reason, when it cannot be fetched.
test: $(STAMP)
	@$(MAKE) --no-print-directory model || echo "model unavailable: tests that need it will skip"
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# What a developer runs on every edit: the suite without the slow tests
# (tests/conftest.py says which); `make test` stays the whole suite, as CI runs it.
test-fast: $(STAMP)
	@$(MAKE) --no-print-directory model || echo "model unavailable: tests that need it will skip"
	$(BIN)/python -m pytest -m "not slow" -q $(PYTEST_ARGS)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Fetch (from HINGE_MIRROR_MODEL_DIR or the official URL) and verify the sha256.
model: $(STAMP)
	@$(BIN)/hinge-mirror models verify --quiet 2>/dev/null || $(BIN)/hinge-mirror models fetch

# Ten minutes of the whole device on a looping clip (the model on every frame)
# with live-stream clients; fails on memory growth over 5% or leaked threads or
# descriptors. Not part of `make test`. SOAK_CLIP=FILE, SOAK_MINUTES=N.
SOAK_CLIP ?= $(firstword $(wildcard ../shared/clips/bbdl_side_bad_1.mp4 ../shared/clips/*.mp4))
SOAK_MINUTES ?= 10
soak: $(STAMP)
	@$(MAKE) --no-print-directory model
	$(BIN)/python -m device.offline.soak --minutes $(SOAK_MINUTES) $(if $(SOAK_CLIP),--clip $(SOAK_CLIP))

# Measured speed and memory (`hinge-mirror bench`) on a real clip when there is one:
# BENCH_CLIP=FILE (empty: synthetic frames, and the report says so); BENCH_ARGS for
# more, e.g. BENCH_ARGS="--experiments --json". The package names no clip of its own.
BENCH_CLIP ?= $(wildcard ../shared/clips/bbdl_front_studio.mp4)
BENCH_ARGS ?=
bench: $(STAMP)
	@$(MAKE) --no-print-directory model
	$(BIN)/hinge-mirror bench $(if $(BENCH_CLIP),--clip $(BENCH_CLIP)) $(BENCH_ARGS)

# The installer for real in an emulated arm64 Debian root (qemu-user), cached in
# /var/cache/hinge-mirror-pi: apt, useradd, the venv, pip's aarch64 wheels, the
# installed program on two clips compared with this machine's, `run`, the files'
# modes, systemd-analyze verify. Needs root, debootstrap, qemu-user-static and
# binfmt-support; the first run builds the root (about 30 minutes here).
# PI_RELEASE=trixie|bookworm; the report: build/pi-check/REPORT-$(PI_RELEASE).md.
PI_RELEASE ?= trixie
PI_CLIPS ?= $(abspath ../shared/clips)
pi-check: $(STAMP)
	PI_RELEASE=$(PI_RELEASE) PI_CLIPS=$(PI_CLIPS) $(if $(filter 0,$(shell id -u)),,sudo -E) \
		nice -n 19 ionice -c3 bash systemd/pi-check.sh

lint: $(STAMP)
	$(BIN)/ruff check device web_ui tests

# docs/cli.md is generated from the parser (tests/test_docs.py keeps it so).
docs: $(STAMP)
	$(BIN)/python -m device.clidoc > docs/cli.md

clean:
	rm -rf $(VENV) .pytest_cache
