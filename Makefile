# Everything a fresh machine needs: `make demo` and `make test` create .venv on first use.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WORKDIR ?= runs/toy2d
CONFIG ?= configs/toy2d.py

.PHONY: venv demo test test-fast bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# Train the default 2-D model, then sample it: leaves $(WORKDIR)/samples/samples_<step>.png.
demo: venv
	$(BIN)/python main.py --config $(CONFIG) --workdir $(WORKDIR) --mode train
	$(BIN)/python main.py --config $(CONFIG) --workdir $(WORKDIR) --mode sample

test: venv
	$(BIN)/python -m pytest tests

bench: venv
	$(BIN)/python bench/bench_core.py

clean:
	rm -rf runs .pytest_cache
