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
        with pytest.raises(InvalidArgumentError, match="needs an env"):
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


# ---------------------------------------------------------------------- env sources


def make_try_again_maze():
    """A module-level zero-argument factory, so a YAML config can name it."""
    import gymnasium as gym

    from mtenvs.wrappers import TryAgain

    return TryAgain(gym.make(ENV, max_turns=4))


def _first_step(interaction: MtenvsInteraction, reply: str = "no idea", **row):
    async def main():
        rid = await interaction.start_interaction(None, seed=1, **row)
        env = interaction._episode(rid).env
        result = await interaction.generate_response(rid, [{"role": "assistant", "content": reply}])
        await interaction.finalize_interaction(rid)
        return repr(env), result

    return asyncio.run(main())


def test_config_takes_an_id_a_spec_a_factory_or_its_import_string():
    import gymnasium as gym

    from mtenvs.wrappers import TryAgain

    spec = TryAgain(gym.make(ENV, max_turns=4)).spec
    configs = {
        "id": json.loads(interaction_config(ENV, env_kwargs={"max_turns": 4})),
        "spec": json.loads(interaction_config(spec)),
        "factory": json.loads(interaction_config(make_try_again_maze)),
    }
    factory_path = f"{__name__}:make_try_again_maze"
    assert configs["factory"]["interaction"][0]["config"]["env_factory"] == factory_path
    assert configs["spec"]["interaction"][0]["config"]["env_spec"]["additional_wrappers"]
    sources = {name: c["interaction"][0]["config"] for name, c in configs.items()}
    sources["callable"] = {"env": make_try_again_maze}
    sources["EnvSpec"] = {"env": spec}
    for name, config in sources.items():
        wrappers, (done, _obs, reward, meta) = _first_step(MtenvsInteraction(config))
        assert ("TryAgain" in wrappers) == (name != "id"), (name, wrappers)
        assert not done and meta["parse_error"] and reward < 0


def test_dataset_rows_of_a_factory_name_no_env_id():
    ds = make_verl_dataset(make_try_again_maze, 2, seed=3)
    row = ds[0]
    assert row["data_source"] == ENV  # the env's spec id
    assert row["extra_info"]["interaction_kwargs"] == {"name": "mtenvs", "seed": 3}
    interaction = MtenvsInteraction({"env_factory": f"{__name__}:make_try_again_maze"})
    rid = asyncio.run(
        interaction.start_interaction(None, **row["extra_info"]["interaction_kwargs"])
    )
    assert interaction.first_messages(rid) == row["prompt"]


def test_env_closes_when_the_episode_ends():
    """verl 0.7's tool_agent loop never calls finalize_interaction."""
    interaction = MtenvsInteraction({"env_id": ENV, "env_kwargs": {"max_turns": 1}})

    async def main():
        rid = await interaction.start_interaction("r", seed=0)
        done, *_ = await interaction.generate_response(rid, [{"role": "assistant", "content": "?"}])
        return done, interaction._episode(rid)

    done, episode = asyncio.run(main())
    assert done and episode.env is None
    assert asyncio.run(interaction.calculate_score("r")) == pytest.approx(sum(episode.rewards))


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"env_id": ENV, "env_factory": "x:y"}, "names its env twice"),
        ({"env_factory": "no_colon"}, "not an import string"),
        ({"env_factory": "mtenvs.nope:make"}, "cannot import module"),
        ({"env_factory": "mtenvs:nope"}, "has no attribute"),
        ({"env_factory": "mtenvs:__version__"}, "not callable"),
        ({"env_spec": {"id": 3}}, "EnvSpec in JSON form"),
        ({"env": 3}, "an id, an EnvSpec or a zero-argument factory"),
        ({"env": make_try_again_maze, "env_kwargs": {"max_turns": 2}}, "env_kwargs"),
    ],
)
def test_config_errors_say_what_to_write(config, match):
    with pytest.raises(InvalidArgumentError, match=match):
        MtenvsInteraction(config)


def test_a_lambda_cannot_be_written_to_yaml():
    with pytest.raises(InvalidArgumentError, match="module level"):
        interaction_config(lambda: make_try_again_maze())
    with pytest.raises(InvalidArgumentError, match="env_kwargs"):
        interaction_config(make_try_again_maze, env_kwargs={"max_turns": 2})
