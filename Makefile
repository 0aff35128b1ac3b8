# vivid: `make demo` and `make test` set everything up on a fresh machine and run.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export ANNY_CACHE_DIR ?= $(CURDIR)/.cache/anny

.PHONY: install demo test test-slow bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

# torch first and pinned: on these machines 2.13.0 is a local CPU wheel, anything looser pulls CUDA.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/vivid demo -o demo_out

# pytest exits 5 when it collects no test: that is a failure here, as any non-zero status is.
test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-slow: install
	$(BIN)/python -m pytest -q -m slow

# Every task's benchmark, as the task table (vivid/core/tasks.py) names them.
bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf demo_out .pytest_cache
