"""verl adapter: MtenvsInteraction driven the way verl's agent loop drives it."""

from __future__ import annotations

import asyncio
import inspect
import json

import pytest

from mtenvs.agents import OracleAgent
from mtenvs.error import InvalidArgumentError
from mtenvs.integrations.verl import (
    MtenvsInteraction,
    compute_score,
    interaction_config,
    make_verl_dataset,
)
from mtenvs.rollout import rollout

ENV = "mtenvs/Maze-v0"
KWARGS = {"max_turns": 30}


async def _play(
    interaction: MtenvsInteraction, request_id: str, row: dict, reply_for
) -> tuple[list[float], list[dict], list[str]]:
    """What verl's tool_agent loop does with an interaction, minus the model."""
    ik = row["extra_info"]["interaction_kwargs"]
    await interaction.start_interaction(request_id, **ik)
    messages = [dict(m) for m in row["prompt"]]
    scores, metas, observations = [], [], []
    while True:
        messages.append({"role": "assistant", "content": reply_for(request_id)})
        done, response, score, meta = await interaction.generate_response(
            request_id, messages, **ik
        )
        scores.append(score)
        metas.append(meta)
        observations.append(response)
        messages.append({"role": "user", "content": response})
        if done:
            break
    assert await interaction.calculate_score(request_id) == pytest.approx(sum(scores))
    await interaction.finalize_interaction(request_id)
    return scores, metas, observations


def test_methods_match_verl_base_interaction():
    for name in (
        "start_interaction",
        "generate_response",
        "calculate_score",
        "finalize_interaction",
    ):
        assert inspect.iscoroutinefunction(getattr(MtenvsInteraction, name))
    params = inspect.signature(MtenvsInteraction.generate_response).parameters
    assert list(params)[:3] == ["self", "instance_id", "messages"]
    assert MtenvsInteraction({"name": "maze"}).name == "maze"


def test_dataset_rows_and_config():
    ds = make_verl_dataset(ENV, 2, seed=4, env_kwargs=KWARGS)
    row = ds[1]
    assert row["data_source"] == ENV and row["agent_name"] == "tool_agent"
    assert row["extra_info"]["interaction_kwargs"] == {"name": "mtenvs", "env_id": ENV, "seed": 5}
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    config = json.loads(interaction_config(ENV, env_kwargs=KWARGS))
    (entry,) = config["interaction"]
    assert entry["class_name"] == "mtenvs.integrations.verl.MtenvsInteraction"
    assert entry["config"] == {"env_id": ENV, "env_kwargs": KWARGS}


def test_oracle_episodes_match_the_rollout_engine():
    ds = make_verl_dataset(ENV, 2, seed=7, env_kwargs=KWARGS)
    interaction = MtenvsInteraction({"name": "mtenvs", "env_id": ENV, "env_kwargs": KWARGS})

    def oracle(request_id):
        return interaction._episode(request_id).env.unwrapped.oracle_action()

    async def main():
        # Two rollouts interleaved on one event loop, as verl runs them.
        return await asyncio.gather(
            *(_play(interaction, f"req-{i}", ds[i], oracle) for i in range(2))
        )

    results = asyncio.run(main())
    assert len(interaction) == 0  # finalize released every env
    reference = sorted(
        rollout(ENV, OracleAgent(), 2, seed=7, env_kwargs=KWARGS, executor="sync"),
        key=lambda t: t.seed,
    )
    for (scores, metas, observations), traj in zip(results, reference):
        assert metas[-1]["success"] and traj.success
        assert scores == pytest.approx(traj.rewards)
        assert observations[-1] == traj.final_observation
        assert compute_score(ENV, "", "", {"turn_scores": scores}) == pytest.approx(
            traj.episode_return
        )


def test_malformed_reply_and_errors():
    interaction = MtenvsInteraction({"env_kwargs": {"max_turns": 2}})

    async def main():
        with pytest.raises(InvalidArgumentError, match="env id"):
            await interaction.start_interaction("x")
        rid = await interaction.start_interaction(None, env_id=ENV, seed=0)
        done, response, _, meta = await interaction.generate_response(
            rid, [{"role": "assistant", "content": "no idea"}]
        )
        assert "format" in response.lower() or meta["parse_error"] in response
        assert not done and meta["parse_error"]
        done, _, _, meta = await interaction.generate_response(
            rid, [{"role": "assistant", "content": [{"type": "text", "text": "hm"}]}]
        )
        assert done and meta["truncated"]
        assert (await interaction.generate_response(rid, []))[0] is True
        await interaction.finalize_interaction(rid)
        await interaction.finalize_interaction(rid)  # idempotent
        with pytest.raises(InvalidArgumentError, match="start_interaction"):
            await interaction.calculate_score(rid)

    asyncio.run(main())
    assert compute_score(ENV, "", "", None) == 0.0
