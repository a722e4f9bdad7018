# Two entry points: `make demo` (the whole workflow on the generated demo world, offline, CPU)
# and `make test`. Both build .venv from the pinned lock file first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: venv demo test lint clean-demo

venv: $(STAMP)

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

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/snakemake --lint
	$(BIN)/snakemake --lint --configfile config/demo.yaml

clean-demo:
	rm -rf resources/demo results logs
