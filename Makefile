# One entry point for the chores: make test | make demo | make bench | make lint
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test demo bench plots lint clean launcher

# A fresh or refreshed virtual environment with the project and its dev tools.
$(STAMP): pyproject.toml
	@command -v java >/dev/null && command -v mvn >/dev/null || { \
	  echo "Java 17+ and Maven are needed for the embedded Neo4j: run deploy/install-system-deps.sh"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP) launcher

# The embedded Neo4j launcher (Maven; cached in ~/.m2 and deploy/neo4j/target).
launcher: $(STAMP)
	$(PY) -c "from site_node.neo4j_embedded import LAUNCHER_DIR, ensure_launcher_built as b; b(LAUNCHER_DIR)"

test: setup
	$(PY) -m pytest -q

demo: setup
	$(VENV)/bin/twinfed demo

# All benchmarks; writes docs/benchmarks.md and docs/benchmarks.json (one: make bench ONLY=name)
bench: setup
	$(PY) -m benchmarks.run_all $(if $(ONLY),--only $(ONLY))

# Figures of the process twin under docs/img/
plots: $(STAMP)
	$(PY) scripts/plot_twin.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .twinfed deploy/neo4j/target .pytest_cache
