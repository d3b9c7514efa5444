# Two commands set everything up on a fresh machine: `make demo` and `make test`.
# Both build .venv (target `venv`) when it is missing. Everything is pinned through
# constraints.txt so that CPU torch 2.13.0 stays and no nvidia-* package is installed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: venv demo lint test test-slow test-fast mutation mutation-score clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install torch==2.13.0 -c constraints.txt 2>&1 | grep -v "is ignored" || true
	$(PIP) install -e '.[test]' -c constraints.txt 2>&1 | grep -v "is ignored" || true
	$(PY) -c "import omnibench.compat, torch, decord, open_clip" && touch $@
	@! $(PY) -m pip list 2>/dev/null | grep -i '^nvidia' || (echo "nvidia-* packages were installed" && exit 1)

demo: venv
	$(VENV)/bin/omnibench run demo
	$(VENV)/bin/omnibench report demo --latex results/demo-report/demo.tex --plots results/demo-report/plots \
		--curves results/demo-report/curves
	$(VENV)/bin/omnibench report demo

# Lint, type-check and the import contracts (configuration in pyproject.toml: [tool.ruff], [tool.mypy],
# [tool.importlinter]: the layers of docs/ARCHITECTURE.md); part of `make test`.
lint: venv
	$(PY) -m ruff check omnibench tests tools
	$(PY) -m ruff format --check omnibench tests tools
	$(PY) -m mypy
	$(VENV)/bin/lint-imports --no-cache

# The suite: every test but those marked `slow` (a minute or more each: trainings to convergence,
# the demo suite and requeues on Slurm, whole processes killed and resumed), which `make test-slow`
# runs; CI (.ci/run) runs both.
test: venv lint
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -m "not slow" $(PYTEST_ARGS)

test-slow: venv
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -m slow $(PYTEST_ARGS)

test-fast: venv
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q -m "not slow and not slurm" $(PYTEST_ARGS)

# Mutation testing (docs/TESTING.md): the modules are pyproject.toml's [tool.mutmut] only_mutate
# (narrowed to some functions by [tool.omnibench.mutation.functions]); tools/mutation_selection.py
# derives MUTANTS and the tests from that list. Not part of `make test`.
MUTANTS ?= $(shell $(PY) tools/mutation_selection.py globs)

mutation: venv
	$(PIP) install -e '.[test,mutation]' -c constraints.txt 2>&1 | grep -v "is ignored" || true
	rm -rf mutants
	OMNIBENCH_TEST_DATA=$(CURDIR)/.mutation-data OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 HF_HUB_OFFLINE=1 \
		$(VENV)/bin/mutmut run --max-children 2 $(MUTANTS) > mutants.log 2>&1 || (tail -c 2000 mutants.log; exit 1)
	$(PY) tools/mutation_score.py

mutation-score:
	$(PY) tools/mutation_score.py

clean:
	rm -rf $(VENV) build *.egg-info mutants mutants.log .mutation-data .mypy_cache .ruff_cache
