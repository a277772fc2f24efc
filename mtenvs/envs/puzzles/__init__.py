"""Single-agent reasoning puzzles against a hidden answer: RuleInduction (Wason's 2-4-6).

No opponent, no board game engine: a puzzle is its rules, its tasks and an exact checker,
on the core alone (no PettingZoo, unlike :mod:`mtenvs.envs.games`).
"""

from __future__ import annotations

from mtenvs.core.registry import register_env

register_env("mtenvs/RuleInduction-v0", "mtenvs.envs.puzzles.rule_induction:RuleInductionEnv")
