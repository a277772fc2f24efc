"""The puzzles family stands on the core alone: it imports and plays without PettingZoo."""

from __future__ import annotations

import subprocess
import sys

#: Runs in a fresh interpreter where ``import pettingzoo`` raises ImportError (a ``None``
#: entry in ``sys.modules`` is what the import system reads as "not importable").
_WITHOUT_PETTINGZOO = """
import sys
sys.modules["pettingzoo"] = None
import gymnasium as gym
import mtenvs.envs.puzzles

env = gym.make("mtenvs/RuleInduction-v0")
obs, info = env.reset(seed=0)
obs, reward, terminated, truncated, info = env.step("<action>test 1 2 3</action>")
assert info["parse_error"] is None and info["last_test"] is not None, info
# Only the games' registration table (plain data) may load: no game and no AEC base.
games = sorted(name for name in sys.modules if name.startswith("mtenvs.envs.games."))
assert games in ([], ["mtenvs.envs.games.table"]), games
print("played", info["task_id"] if "task_id" in info else "", info["last_test"])
"""


def test_rule_induction_imports_and_plays_without_pettingzoo():
    proc = subprocess.run(
        [sys.executable, "-c", _WITHOUT_PETTINGZOO], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("played")
