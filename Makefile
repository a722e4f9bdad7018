# Two entry points: `make demo` (the whole workflow on the generated demo world, offline, CPU)
# and `make test`. Both build .venv from the pinned lock file first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# tensorflow-datasets for the VTAB-1k export, apart: its pins (h5py, protobuf) must not move the main env's.
VTAB_VENV := .venv-vtab
VTAB_STAMP := $(VTAB_VENV)/.installed
CORES ?= 2
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: venv venv-vtab demo report test lint clean-demo

venv: $(STAMP)

venv-vtab: $(VTAB_STAMP)

$(VTAB_STAMP): requirements-vtab.lock pyproject.toml
	test -x $(VTAB_VENV)/bin/python || $(PYTHON) -m venv $(VTAB_VENV)
	$(VTAB_VENV)/bin/pip install --quiet -r requirements-vtab.lock
	$(VTAB_VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(VTAB_STAMP)

# torch/torchvision: pip on this machine serves the 2.14.1/0.29.1 pair from local disk.
$(STAMP): requirements.lock requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/snakemake all --cores $(CORES) --resources gpu=1 --configfile config/demo.yaml
	@echo "tables: results/tables/"

# The report of a finished run: CONFIG must be the config the run was made with.
CONFIG ?= config/demo.yaml
report: $(STAMP)
	$(BIN)/snakemake --report results/report.html --configfile $(CONFIG)
	@echo "report: results/report.html"

test: $(STAMP) $(VTAB_STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/snakemake --lint
	$(BIN)/snakemake --lint --configfile config/demo.yaml

clean-demo:
	rm -rf resources/demo results logs
