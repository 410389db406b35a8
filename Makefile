# Two entry points for newcomers: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   := .demo

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet .
	touch $@

$(VENV)/.dev-installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

# Runs the main job in a sandbox root: the example kubeadm manifest is copied to
# $(DEMO)/etc/kubernetes/manifests/ and `kauditcfg diff --profile cks` prints what enable would write.
demo: $(VENV)/.installed
	rm -rf $(DEMO)
	mkdir -p $(DEMO)/etc/kubernetes/manifests
	cp examples/kube-apiserver.yaml $(DEMO)/etc/kubernetes/manifests/kube-apiserver.yaml
	$(BIN)/kauditcfg diff --root $(DEMO) --profile cks; test $$? -le 1
	@echo "--- applying it in the sandbox ($(DEMO)) ---"
	$(BIN)/kauditcfg enable --root $(DEMO) --profile cks
	$(BIN)/kauditcfg diff --root $(DEMO) --profile cks && echo "second run: nothing to change"

test: $(VENV)/.dev-installed
	$(BIN)/python -m pytest
	$(BIN)/ruff check kauditcfg tests bench
	$(BIN)/mypy

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check kauditcfg tests bench
	$(BIN)/mypy

bench: $(VENV)/.dev-installed
	$(BIN)/python bench/run_explain.py
	$(BIN)/python bench/run_kubeadm.py
	$(BIN)/python bench/webhook_walltime.py
	$(BIN)/python bench/large_manifest.py
	$(BIN)/python bench/run_replay.py --events 200000 --events 2000000

clean:
	rm -rf $(VENV) $(DEMO) build dist *.egg-info
