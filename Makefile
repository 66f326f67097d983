# The two commands of the README: `make demo` and `make test`. Each builds .venv from nothing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Extras installed for demo and test; torch==2.13.0 (a CPU wheel on disk) goes in first
# whenever one of them needs torch, because any other torch pulls a multi-GB CUDA build.
EXTRAS ?= all,test
TORCH_EXTRAS := text image audio all tabular
BENCH_VENV ?= .venv-bench

.PHONY: demo test test-fast browser bench clean

# setup.py compiles Word2Vec's kernels at install (learn/_aot.py): reinstall when they change
KERNELS := setup.py src/embedworks/learn/_sgns.py src/embedworks/learn/_vocab.py src/embedworks/learn/_aot.py

$(VENV)/.installed: pyproject.toml $(KERNELS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@if echo "$(EXTRAS)" | tr ',' ' ' | tr ' ' '\n' | grep -qxE "$$(echo $(TORCH_EXTRAS) | tr ' ' '|')"; then \
		$(PY) -m pip install -q torch==2.13.0; fi
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/embedworks demo

test: $(VENV)/.installed browser
	$(PY) -m pytest -q

# tests/test_projector_browser.py opens the HTML projector in headless Chromium. Install
# Debian's chromium when no Chromium-family browser is found (root or passwordless sudo);
# if that fails the test skips and says why. Nothing else is downloaded.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	command -v google-chrome >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u 2>/dev/null)" = 0 ] || echo "sudo -n" ); \
		echo "installing chromium for the projector browser test…"; \
		( export DEBIAN_FRONTEND=noninteractive; \
		  $$SUDO apt-get install -y -q chromium >/dev/null 2>&1 || \
		  { $$SUDO apt-get update -q >/dev/null 2>&1 && $$SUDO apt-get install -y -q chromium >/dev/null 2>&1; } ) || \
		echo "note: could not install chromium; tests/test_projector_browser.py will skip"; }

test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -m "not slow"

$(BENCH_VENV)/.installed: pyproject.toml benchmarks/requirements.txt $(KERNELS)
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install -q torch==2.13.0
	$(BENCH_VENV)/bin/python -m pip install -q -r benchmarks/requirements.txt -e ".[all]"
	# PecanPy pins NumPy < 2 through nptyping; graphs.py patches the aliases, so NumPy 2 stays
	$(BENCH_VENV)/bin/python -m pip install -q "numpy>=2"
	touch $@

bench: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python benchmarks/words.py
	$(BENCH_VENV)/bin/python benchmarks/recommend.py
	$(BENCH_VENV)/bin/python benchmarks/graphs.py
	$(BENCH_VENV)/bin/python benchmarks/text.py
	$(BENCH_VENV)/bin/python benchmarks/tsne.py
	$(BENCH_VENV)/bin/python benchmarks/images.py
	$(BENCH_VENV)/bin/python benchmarks/audio.py
	$(BENCH_VENV)/bin/python benchmarks/entity.py
	$(BENCH_VENV)/bin/python benchmarks/ann.py
	$(BENCH_VENV)/bin/python benchmarks/serve_load.py

clean:
	rm -rf $(VENV) $(BENCH_VENV) build src/*.egg-info
