# `make demo` and `make test` set up everything they need on a fresh Debian machine, then run.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
VLLM_VENV ?= .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.installed-$(shell cat scripts/setup-vllm-venv | cksum | cut -d' ' -f1)

.PHONY: demo test bench system venv vllm-venv clean

demo: system venv
	$(VENV)/bin/guiagent demo --out runs/demo-$(shell date +%Y%m%d-%H%M%S)

test: system venv vllm-venv
	GUIAGENT_VLLM_PYTHON=$(VLLM_VENV)/bin/python GUIAGENT_REQUIRE_VLLM=1 $(PY) -m pytest $(PYTEST_ARGS)

bench: system venv
	$(PY) bench/step_overhead.py

system:
	@PYTHON=$(PYTHON) scripts/ensure-system-deps

venv: $(STAMP)

$(STAMP):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "guiagent needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,model,desktop,export,suites,ray]'
	rm -f $(VENV)/.installed-* && touch $@

vllm-venv: $(VLLM_STAMP)

$(VLLM_STAMP):
	scripts/setup-vllm-venv $(VLLM_VENV)
	touch $@

clean:
	rm -rf $(VENV) $(VLLM_VENV) runs .pytest_cache .cache
