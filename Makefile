# Everything a fresh machine needs: `make demo` and `make test` create .venv on first use.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WORKDIR ?= runs/toy2d
CONFIG ?= configs/toy2d.py

.PHONY: venv demo test test-fast bench prior clean

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

# One pytest worker per core (pytest-xdist), each test file on one worker so module fixtures are
# built once; TEST_WORKERS=0 runs in this process. The workers get glibc's huge-page tunable, as
# main.py and bench/ give themselves (run/host_memory.py: fewer page faults in XLA:CPU's calls);
# a glibc that does not know it ignores it; the other tunables in your GLIBC_TUNABLES are kept.
TEST_WORKERS ?= auto
test: venv
	GLIBC_TUNABLES=$${GLIBC_TUNABLES:+$$GLIBC_TUNABLES:}glibc.malloc.hugetlb=1 \
	$(BIN)/python -m pytest tests -n $(TEST_WORKERS) --dist loadfile

bench: venv
	$(BIN)/python bench/bench_core.py

# Retrain the shipped 128 px brain prior (priors/brain128: ~80 min on 2 CPU cores) and export it.
# The export refuses to replace the shipped files: move priors/brain128 aside first.
PRIOR_WORKDIR ?= runs/brain128
prior: venv
	$(BIN)/python main.py --config configs/mri/brain128.py --workdir $(PRIOR_WORKDIR) --mode train
	$(BIN)/python main.py --config configs/mri/brain128.py --workdir $(PRIOR_WORKDIR) --mode eval
	$(BIN)/python main.py --config configs/mri/brain128.py --workdir $(PRIOR_WORKDIR) --mode export

clean:
	rm -rf runs .pytest_cache
