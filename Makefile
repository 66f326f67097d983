# The two commands of the README: `make demo` and `make test`. Each builds .venv from nothing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Extras installed for demo and test; torch==2.13.0 (a CPU wheel on disk) goes in first
# whenever one of them needs torch, because any other torch pulls a multi-GB CUDA build.
EXTRAS ?= all,test
TORCH_EXTRAS := text image audio all
BENCH_VENV ?= .venv-bench

.PHONY: demo test test-fast bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@if echo "$(EXTRAS)" | tr ',' ' ' | tr ' ' '\n' | grep -qxE "$$(echo $(TORCH_EXTRAS) | tr ' ' '|')"; then \
		$(PY) -m pip install -q torch==2.13.0; fi
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/embedworks demo

test: $(VENV)/.installed
	$(PY) -m pytest -q

test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -m "not slow"

$(BENCH_VENV)/.installed: pyproject.toml benchmarks/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install -q -r benchmarks/requirements.txt -e .
	touch $@

bench: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python benchmarks/words.py
	$(BENCH_VENV)/bin/python benchmarks/recommend.py
	$(BENCH_VENV)/bin/python benchmarks/graphs.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) build src/*.egg-info
