from __future__ import annotations

import gymnasium as gym
import pytest

from mtenvs.core.rewards import RewardMode
from mtenvs.error import InvalidArgumentError
from mtenvs.wrappers import ReweightReward, TryAgain, TurnLimit
from tests.toy_envs import AddEnv


def test_try_again_gives_unary_feedback_and_decays_outcome():
    env = TryAgain(AddEnv(max_turns=6), max_attempts=3, decay=0.5)
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step("<answer>-1</answer>")
    assert obs == "Let's try again." and not terminated and not truncated
    assert info["retried"] and info["attempt"] == 1 and reward == 0.0
    env.step("<answer>-2</answer>")
    obs, reward, terminated, _, info = env.step(env.unwrapped.oracle_action())
    assert terminated and info["success"] and info["attempt"] == 3
    assert reward == pytest.approx(0.25) and info["reward_components"]["outcome"] == 0.25


def test_try_again_stops_after_max_attempts_and_on_last_turn():
    env = TryAgain(AddEnv(), max_attempts=2)
    env.reset(seed=0)
    env.step("<answer>-1</answer>")
    _, _, terminated, _, info = env.step("<answer>-1</answer>")
    assert terminated and not info["retried"]
    env = TryAgain(AddEnv(max_turns=1), max_attempts=5)
    env.reset(seed=0)
    assert env.step("<answer>-1</answer>")[2] is True


def test_try_again_rejects_non_mtenvs_envs():
    with pytest.raises(InvalidArgumentError):
        TryAgain(gym.make("CartPole-v1"))


def test_turn_limit_reminds_and_marks_cutoff():
    env = TurnLimit(AddEnv(max_turns=10), max_turns=2, remind=True)
    obs, info = env.reset(seed=0)
    assert obs.endswith("(2 turns left)") and info["turns_left"] == 2
    obs, _, _, truncated, info = env.step("<action>hint</action>")
    assert obs.endswith("(1 turn left)") and not truncated and not info["turn_limit_reached"]
    _, _, terminated, truncated, info = env.step("<action>hint</action>")
    assert truncated and not terminated and info["turn_limit_reached"]


def test_turn_limit_reminds_in_the_text_of_an_image_observation():
    env = TurnLimit(gym.make("mtenvs/Maze-v0", obs_mode="text+image"), max_turns=3, remind=True)
    obs, _ = env.reset(seed=0)
    assert obs["text"].endswith("(3 turns left)") and obs["image"].ndim == 3
    env.close()


def test_turn_limit_not_reached_when_episode_terminates():
    env = TurnLimit(AddEnv(), max_turns=1)
    env.reset(seed=0)
    _, _, terminated, _, info = env.step(env.unwrapped.oracle_action())
    assert terminated and not info["turn_limit_reached"]


def test_reweight_reward_recomputes_from_components():
    env = ReweightReward(AddEnv(reward_mode="outcome"), "process", weights={"process": 2.0})
    env.reset(seed=0)
    _, reward, *_, info = env.step("<action>hint</action>")
    assert reward == pytest.approx(0.5) and info["reward_components"] == {"process": 0.5}
    back = ReweightReward(AddEnv(reward_mode="process"), "outcome")
    back.reset(seed=0)
    _, reward, *_, info = back.step("<action>hint</action>")
    assert reward == 0.0 and info["uncounted_components"] == {"process": 0.25}
    with pytest.raises(InvalidArgumentError, match="Did you mean 'process'"):
        ReweightReward(AddEnv(), "proces")
    assert ReweightReward(AddEnv(), RewardMode.OUTCOME).mode is RewardMode.OUTCOME


def test_the_old_wrapper_name_still_imports_with_a_deprecation_warning():
    import mtenvs.wrappers

    with pytest.warns(DeprecationWarning, match=r"renamed mtenvs\.wrappers\.ReweightReward"):
        from mtenvs.wrappers import RewardMode as OldName
    assert OldName is ReweightReward
    with pytest.warns(DeprecationWarning, match="ReweightReward"):
        assert mtenvs.wrappers.RewardMode is ReweightReward
    with pytest.raises(AttributeError, match="NoSuchWrapper"):
        mtenvs.wrappers.NoSuchWrapper  # noqa: B018
