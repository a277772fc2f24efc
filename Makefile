# mtenvs — the two README commands are `make demo` and `make test`; both set everything up.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
EXTRAS ?= dev,games,ray,code,sql,web,baselines,trl,llm,search,search-dense
DEMO_EPISODES ?= 10
# The LLM tiers in the demo: Kuhn poker only, whose hands are the shortest of the suite, so
# that the whole demo stays within its 5-minute budget (README; zero-shot Tic-Tac-Toe alone
# adds about 100 s: the model's prose replies play every episode to the turn limit).
DEMO_LLM_ENVS ?= mtenvs/KuhnPoker-v0
DEMO_LLM_EPISODES ?= 4
# cpu (what the shipped weights were trained with) or gpu (a wider model, more steps).
BASELINES_SCALE ?= cpu

.PHONY: setup demo test bench lint docs baselines baselines-llm clean

setup:
	@scripts/ensure_venv.sh $(EXTRAS)

demo: setup
	@scripts/ensure_docker.sh
	@scripts/ensure_chromium.sh
	@$(VENV)/bin/mtenvs doctor
	@$(VENV)/bin/mtenvs eval --env all --agent random,scripted,oracle,trained --reference-config --episodes $(DEMO_EPISODES) --name demo
	@$(VENV)/bin/mtenvs eval --env $(DEMO_LLM_ENVS) --agent llm,llm-sft,llm-rl --reference-config --episodes $(DEMO_LLM_EPISODES) --name demo-llm
	@echo "Report: runs/demo/report.html (also report.md, report.json and the plots runs/demo/*.png)"
	@echo "LLM tiers: runs/demo-llm/report.html"

test: setup
	@scripts/ensure_docker.sh
	@scripts/ensure_postgres.sh
	@scripts/ensure_chromium.sh
	@scripts/ensure_verl_venv.sh
	@$(PY) -m pytest -q -n 2 --dist loadgroup --durations=25

bench: setup
	@benchmarks/setup_peers.sh
	@$(PY) benchmarks/bench_grid.py
	@$(PY) benchmarks/bench_sandbox.py
	@$(PY) benchmarks/bench_games.py
	@$(PY) benchmarks/bench_rollout.py
	@$(PY) benchmarks/bench_ray.py
	@$(PY) benchmarks/bench_async.py
	@$(PY) benchmarks/bench_capacity.py
	@$(PY) benchmarks/bench_sql.py --postgres
	@$(PY) benchmarks/bench_code.py
	@$(PY) benchmarks/bench_web.py
	@$(PY) benchmarks/bench_miniwob.py
	@$(PY) benchmarks/bench_llm.py
	@$(PY) benchmarks/bench_search.py

# Train the reference agents (weights -> mtenvs/assets/baselines/), then score all four tiers
# (baselines/RESULTS.md, baselines/results.json, docs/img/baselines_curves.png).
baselines: setup
	@PYTHONPATH=. $(PY) -m baselines.run train --scale $(BASELINES_SCALE)
	@PYTHONPATH=. $(PY) -m baselines.run evaluate --scale $(BASELINES_SCALE)
	@$(MAKE) --no-print-directory baselines-llm
	@$(PY) docs/gen_env_cards.py --only $$(PYTHONPATH=. $(PY) -c "from baselines.specs import SPECS; print(','.join(SPECS))")

# The LLM tiers (llm, llm-sft, llm-rl): LoRA training, evaluation with journals under
# baselines/journals/, rows merged into baselines/RESULTS.md. Hours on a 2-core CPU;
# every stage continues where a stopped run left it.
baselines-llm: setup
	@PYTHONPATH=. $(PY) -m baselines.llm_pipeline --scale $(BASELINES_SCALE)

lint: setup
	@$(VENV)/bin/ruff check mtenvs tests benchmarks sandboxes docs examples scripts baselines
	@$(VENV)/bin/ruff format --check mtenvs tests benchmarks sandboxes docs examples scripts baselines
	@$(VENV)/bin/mypy mtenvs baselines

docs: setup
	@$(PY) docs/gen_env_cards.py
	@NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict -q
	@echo "Docs built in site/"

clean:
	rm -rf $(VENV) .venv-bench .venv-verl site runs .pytest_cache .ruff_cache .mypy_cache
