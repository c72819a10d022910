# `make demo` and `make test` set up everything they need on a fresh Debian machine, then run.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS := test,model,desktop,export,suites,ray,media,live
# The tested versions of every dependency (pip constraints); `make lock` refreshes them.
LOCK := constraints.txt
# pytest-xdist workers for `make test` (the tests wait on browsers and servers much of the time; see tests/conftest.py)
TEST_WORKERS ?= 2
HASH := $(shell cat pyproject.toml $(LOCK) | cksum | cut -d' ' -f1)
STAMP := $(VENV)/.installed-$(HASH)
# The demo's venv: the core only (no extra), unless the full one is already there.
CORE_STAMP := $(VENV)/.core-$(HASH)
VLLM_VENV ?= .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.installed-$(shell cat scripts/setup-vllm-venv | cksum | cut -d' ' -f1)
# The trainers' own code, for the export tests: venvs layered on the vLLM venv (scripts/setup-trainer-venv).
TRAINER_HASH := $(shell cat scripts/setup-vllm-venv scripts/setup-trainer-venv | cksum | cut -d' ' -f1)
LF_VENV ?= .venv-llamafactory
TRL_VENV ?= .venv-trl
TRAINER_STAMPS := $(LF_VENV)/.installed-$(TRAINER_HASH) $(TRL_VENV)/.installed-$(TRAINER_HASH)

.PHONY: demo test lint bench system venv venv-core vllm-venv trainer-venvs lock clean

demo: system venv-core
	$(VENV)/bin/guiagent demo --out runs/demo-$(shell date +%Y%m%d-%H%M%S)

test: lint system vllm-venv trainer-venvs
	GUIAGENT_VLLM_PYTHON=$(VLLM_VENV)/bin/python GUIAGENT_REQUIRE_VLLM=1 \
	GUIAGENT_LLAMAFACTORY_PYTHON=$(LF_VENV)/bin/python GUIAGENT_TRL_PYTHON=$(TRL_VENV)/bin/python GUIAGENT_REQUIRE_TRAINERS=1 \
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# Static checks: ruff (rules in pyproject.toml) and pyright (it resolves guiagent.* through typings/guiagent/).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pyright

bench: system venv
	$(PY) bench/step_overhead.py

system:
	@PYTHON=$(PYTHON) scripts/ensure-system-deps

venv: $(STAMP)

venv-core: $(CORE_STAMP)

$(CORE_STAMP):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "guiagent needs Python >= 3.11")'
	@if [ -f $(STAMP) ]; then touch $@; else \
	  $(PYTHON) -m venv $(VENV) && \
	  $(PY) -m pip install -q --upgrade pip && \
	  $(PY) -m pip install -q -c $(LOCK) -e . && \
	  rm -f $(VENV)/.core-* && touch $@; fi

$(STAMP):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "guiagent needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c $(LOCK) -e '.[$(EXTRAS)]'
	rm -f $(VENV)/.installed-* && touch $@

# Re-resolve every dependency to its newest release (from the configured index) in a scratch venv and
# write the result to $(LOCK). Run it after changing dependencies in pyproject.toml, then `make test`.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install -q --upgrade pip
	.venv-lock/bin/pip install -q -e '.[$(EXTRAS)]'
	( echo "# pip constraints: the tested version of every dependency. Refresh with 'make lock'."; \
	  .venv-lock/bin/pip freeze --exclude-editable | grep -v '^guiagent' ) > $(LOCK)
	rm -rf .venv-lock

vllm-venv: $(VLLM_STAMP)

$(VLLM_STAMP):
	scripts/setup-vllm-venv $(VLLM_VENV)
	touch $@

trainer-venvs: $(TRAINER_STAMPS)

$(LF_VENV)/.installed-$(TRAINER_HASH): $(VLLM_STAMP)
	scripts/setup-trainer-venv llamafactory $(LF_VENV) $(VLLM_VENV)
	touch $@

$(TRL_VENV)/.installed-$(TRAINER_HASH): $(VLLM_STAMP)
	scripts/setup-trainer-venv trl $(TRL_VENV) $(VLLM_VENV)
	touch $@

clean:
	rm -rf $(VENV) $(VLLM_VENV) $(LF_VENV) $(TRL_VENV) runs .pytest_cache .cache
