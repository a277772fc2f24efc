# mtenvs — the two README commands are `make demo` and `make test`; both set everything up.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
EXTRAS ?= dev,games,ray,code,sql,web,baselines,trl
DEMO_EPISODES ?= 20

.PHONY: setup demo test bench lint docs clean

setup:
	@scripts/ensure_venv.sh $(EXTRAS)

demo: setup
	@scripts/ensure_docker.sh
	@$(VENV)/bin/mtenvs doctor
	@$(VENV)/bin/mtenvs eval --env all --agent random,oracle --episodes $(DEMO_EPISODES) --name demo
	@echo "Report: runs/demo/report.md (JSON: runs/demo/report.json, plots: runs/demo/*.png)"

test: setup
	@scripts/ensure_docker.sh
	@scripts/ensure_postgres.sh
	@scripts/ensure_chromium.sh
	@$(PY) -m pytest -q -n 2 --dist loadgroup

bench: setup
	@benchmarks/setup_peers.sh
	@$(PY) benchmarks/bench_grid.py
	@$(PY) benchmarks/bench_sandbox.py
	@$(PY) benchmarks/bench_games.py
	@$(PY) benchmarks/bench_rollout.py
	@$(PY) benchmarks/bench_sql.py --postgres
	@$(PY) benchmarks/bench_code.py
	@$(PY) benchmarks/bench_web.py

lint: setup
	@$(VENV)/bin/ruff check mtenvs tests benchmarks sandboxes docs examples scripts
	@$(VENV)/bin/ruff format --check mtenvs tests benchmarks sandboxes docs examples scripts
	@$(VENV)/bin/mypy mtenvs

docs: setup
	@$(PY) docs/gen_env_cards.py
	@NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict -q
	@echo "Docs built in site/"

clean:
	rm -rf $(VENV) .venv-bench site runs .pytest_cache .ruff_cache .mypy_cache
