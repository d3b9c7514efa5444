# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Both build .venv (target `venv`) when it is missing. Everything is pinned through
# constraints.txt so that CPU torch 2.13.0 stays and no nvidia-* package is installed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: venv demo test test-fast clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install torch==2.13.0 -c constraints.txt 2>&1 | grep -v "is ignored" || true
	$(PIP) install -e '.[test]' -c constraints.txt 2>&1 | grep -v "is ignored" || true
	$(PY) -c "import omnibench.compat, torch, decord, open_clip" && touch $@
	@! $(PY) -m pip list 2>/dev/null | grep -i '^nvidia' || (echo "nvidia-* packages were installed" && exit 1)

demo: venv
	$(VENV)/bin/omnibench run demo
	$(VENV)/bin/omnibench report demo --latex results/demo-report/demo.tex --plots results/demo-report/plots
	$(VENV)/bin/omnibench report demo

test: venv
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q $(PYTEST_ARGS)

test-fast: venv
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -m "not slow and not slurm" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
