# Two commands for learners: `make lab` and `make test`. The rest is for maintainers.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# JupyterLab refuses to run as root unless told to (containers, CI, classroom images).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
# Extra pip arguments, e.g. PIP_ARGS="--index-url <PyTorch's CPU-only wheel index>" on a
# CPU-only Linux machine to skip the large CUDA build of torch.
PIP_ARGS ?=

.PHONY: lab test lint strip learner bench zoo clean

$(STAMP): pyproject.toml jupyter/overrides.json
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q $(PIP_ARGS) -e ".[dev]"
	@# Offline classroom: no "get notified about news?" pop-up, no update checks.
	@mkdir -p $(VENV)/share/jupyter/lab/settings
	@cp jupyter/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	@touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=labs --ServerApp.ip=127.0.0.1 $(ROOT_FLAG)

test: $(STAMP)
	$(BIN)/ruff check .
	SLMLAB_FAST=1 $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check slmlab hardware_model tests

# Strip outputs that nbval does not check (and plotly widget state) from every lab.
strip: $(STAMP)
	$(BIN)/python -m slmlab.notebooks strip labs/*.ipynb

# Learner copies: solution regions replaced, written to labs/learner/.
learner: $(STAMP)
	$(BIN)/python -m slmlab.notebooks learner labs/*.ipynb --out labs/learner

bench: $(STAMP)
	$(BIN)/python -m slmlab.bench

zoo: $(STAMP)
	$(BIN)/python -m slmlab.zoo build all

clean:
	rm -rf $(VENV) build *.egg-info
