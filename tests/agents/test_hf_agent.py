"""HFAgent on a tiny randomly initialised Llama, and a tiny LLaVA for images, saved locally
(no hub access)."""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mtenvs.agents import AgentInput, HFAgent, make_agent
from mtenvs.agents.hf import FALLBACK_STOP, ImagesIgnoredWarning
from mtenvs.core.agent import user_message
from mtenvs.error import InvalidArgumentError
from tests.agents.tiny_model import (
    VLM_IMAGE_SIZE,
    VLM_IMAGE_TOKENS,
    build_tiny_model,
    build_tiny_vlm,
)

SYSTEM = "You are in a maze. Reply with <action>up</action>."


def _inp(*turns: str, system: str = SYSTEM) -> AgentInput:
    """A conversation: system, then alternating user/assistant turns ending on a user turn."""
    messages = [{"role": "system", "content": system}]
    for k, text in enumerate(turns):
        messages.append({"role": "user" if k % 2 == 0 else "assistant", "content": text})
    return AgentInput(messages=messages, env=None)  # type: ignore[arg-type]


BATCH = [
    _inp("up"),
    _inp("The wall is to the north; the goal is two steps east and one step south."),
    _inp("Push every box onto a target.", "<action>up</action>", "Invalid reply: again."),
    _inp("select name from users where id = 3;"),
]


@pytest.fixture(scope="session")
def model_dirs(tmp_path_factory) -> dict[str, Path]:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    root = tmp_path_factory.mktemp("tiny-models")
    return {
        "chat": build_tiny_model(root / "tiny-chat"),
        "base": build_tiny_model(root / "tiny-base", chat_template=False),
    }


@pytest.fixture(scope="module")
def greedy(model_dirs) -> HFAgent:
    return HFAgent(model_dirs["chat"], max_new_tokens=12)


def test_one_reply_per_input_and_cpu_float32_by_default(greedy):
    import torch

    replies = greedy.act(BATCH)
    assert len(replies) == len(BATCH) and all(isinstance(r, str) for r in replies)
    assert any(replies), "the random model should emit some text"
    assert greedy.act([]) == []
    expected = "cuda" if torch.cuda.is_available() else greedy.device.type
    assert greedy.device.type == expected
    if not torch.cuda.is_available() and greedy.device.type == "cpu":
        assert greedy.dtype == torch.float32
    assert greedy.name == "hf:tiny-chat"


def test_left_padding_reply_does_not_depend_on_the_batch(greedy, model_dirs):
    in_batch = greedy.act(BATCH)
    alone = [greedy.act([item])[0] for item in BATCH]
    assert in_batch == alone
    # Sub-batches (sorted by length) give the same replies, in input order.
    split = HFAgent(model_dirs["chat"], max_new_tokens=12, batch_size=3)
    assert split.act(BATCH) == in_batch


def test_one_generate_call_per_sub_batch(model_dirs, monkeypatch):
    agent = HFAgent(model_dirs["chat"], max_new_tokens=4, batch_size=2)
    sizes: list[int] = []
    real = agent.model.generate

    def counting_generate(**kwargs):
        sizes.append(kwargs["input_ids"].shape[0])
        return real(**kwargs)

    monkeypatch.setattr(agent.model, "generate", counting_generate)
    agent.act(BATCH + BATCH[:1])
    assert sizes == [2, 2, 1]


def test_stop_strings_cut_the_reply(greedy, model_dirs):
    full = greedy.act(BATCH[:1])[0]
    assert len(full) >= 4, f"need a longer greedy reply to cut, got {full!r}"
    stop = full[2:4]
    cut = full[: full.find(stop)]
    agent = HFAgent(model_dirs["chat"], max_new_tokens=12, stop=[stop])
    assert agent.act(BATCH[:1]) == [cut]
    keep = HFAgent(model_dirs["chat"], max_new_tokens=12, stop=[stop], include_stop=True)
    assert keep.act(BATCH[:1]) == [cut + stop]


def test_seeded_sampling_reproduces_and_leaves_global_rng_alone(model_dirs):
    import torch

    def sampler(seed: int) -> HFAgent:
        return HFAgent(model_dirs["chat"], max_new_tokens=12, temperature=1.0, top_k=50, seed=seed)

    a, b, c = sampler(7), sampler(7), sampler(8)
    state = torch.get_rng_state()
    first = a.act(BATCH)
    assert torch.equal(torch.get_rng_state(), state)
    assert b.act(BATCH) == first
    assert a.act(BATCH) == b.act(BATCH)  # the n-th calls match too
    assert c.act(BATCH) != first


def test_fallback_template_for_tokenizers_without_one(model_dirs):
    agent = HFAgent(model_dirs["base"], max_new_tokens=6)
    assert agent.stop == FALLBACK_STOP
    text = agent.tokenizer.decode(agent.prompt_ids(BATCH[0].messages))
    assert text == f"<s><|system|>\n{SYSTEM}\n<|user|>\nup\n<|assistant|>\n"
    assert len(agent.act(BATCH)) == len(BATCH)


def test_template_without_system_role_gets_it_merged(model_dirs):
    agent = HFAgent(model_dirs["chat"], max_new_tokens=4)
    agent.tokenizer.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}"
        "[{{ m['role'] }}]{{ m['content'] }}{% endfor %}[assistant]"
    )
    text = agent.tokenizer.decode(agent.prompt_ids(BATCH[0].messages))
    assert text == f"[user]{SYSTEM}\n\nup[assistant]"


def test_max_prompt_tokens_keeps_system_and_last_message(model_dirs):
    limit = 60
    agent = HFAgent(model_dirs["chat"], max_new_tokens=4, max_prompt_tokens=limit)
    long_chat = _inp(*(["the goal is two steps east", "<action>up</action>"] * 10), "LAST?")
    with pytest.warns(UserWarning, match="shortened"):
        ids = agent.prompt_ids(long_chat.messages)
    text = agent.tokenizer.decode(ids)
    assert len(ids) <= limit and text.startswith(f"<s><|im_start|>system\n{SYSTEM}")
    assert text.endswith("LAST?<|im_end|>\n<|im_start|>assistant\n")
    # One huge message: its tail is kept after the system message; said once per agent.
    huge = _inp("filler " * 200 + "the end")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ids = agent.prompt_ids(huge.messages)
    text = agent.tokenizer.decode(ids)
    assert len(ids) <= limit and SYSTEM in text and "the end<|im_end|>" in text
    # Not even the system message fits: the last tokens are kept.
    tiny = HFAgent(model_dirs["chat"], max_new_tokens=4, max_prompt_tokens=8)
    with pytest.warns(UserWarning, match="once per agent"):
        assert len(tiny.prompt_ids(huge.messages)) == 8
    assert len(tiny.act([huge])) == 1


def test_drop_turns_keeps_the_prompt_start_for_several_turns(model_dirs):
    """With drop_turns=k a growing conversation loses k turns at a time, counted from its
    start: the kept prompt's beginning changes once every ~k turns, not every turn."""

    def first_kept(agent: HFAgent, n_turns: int) -> str:
        turns = [x for i in range(n_turns) for x in (f"obs {i} two steps east", f"r{i}")]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            text = agent.tokenizer.decode(agent.prompt_ids(_inp(*turns, "LAST?").messages))
        assert text.endswith("LAST?<|im_end|>\n<|im_start|>assistant\n")
        return text.split("obs ")[1].split(" ")[0]  # the oldest turn still in the prompt

    common = {"max_new_tokens": 4, "max_prompt_tokens": 400, "keep_task": False}
    one = HFAgent(model_dirs["chat"], **common)
    four = HFAgent(model_dirs["chat"], drop_turns=4, **common)
    starts_one = [int(first_kept(one, n)) for n in range(12, 24)]
    starts_four = [int(first_kept(four, n)) for n in range(12, 24)]
    assert len(set(starts_one)) >= 10  # the start moves on (almost) every turn
    assert all(s % 4 == 0 for s in starts_four)  # whole blocks of 4 turns from the start
    assert len(set(starts_four)) <= 4 and starts_four == sorted(starts_four)
    with pytest.raises(InvalidArgumentError, match="drop_turns"):
        HFAgent(model_dirs["chat"], drop_turns=0)


def test_keep_task_keeps_the_first_observation(model_dirs):
    """keep_task (the default) drops the turns after the env's first observation (the
    task), in blocks of drop_turns, and drops the task too only when nothing else fits."""
    question = "TASK: who founded the wiki?"
    turns = [x for i in range(1, 16) for x in (f"r{i}", f"obs {i} two steps east")]
    chat = _inp(question, *turns, "LAST?").messages

    def prompt(agent: HFAgent, messages: list) -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return agent.tokenizer.decode(agent.prompt_ids(messages))

    agent = HFAgent(model_dirs["chat"], max_new_tokens=4, max_prompt_tokens=200, drop_turns=2)
    text = prompt(agent, chat)
    assert f"system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{question}<|im_end|>" in text
    assert text.endswith("LAST?<|im_end|>\n<|im_start|>assistant\n")
    kept = [int(t.split(" ")[0]) for t in text.split("obs ")[1:]]
    assert kept == list(range(kept[0], 16)) and kept[0] > 1  # a contiguous recent block
    # The kept block starts on a multiple of drop_turns turns (a stable, cacheable prefix).
    assert (kept[0] - 1) % 2 == 0
    old = HFAgent(model_dirs["chat"], max_new_tokens=4, max_prompt_tokens=200, keep_task=False)
    assert question not in prompt(old, chat)
    # A task too long to keep beside the last turn goes like any early turn.
    huge = _inp("TASK " + "filler " * 300, "r1", "obs 1", "r2", "LAST?").messages
    assert "TASK" not in prompt(agent, huge) and "LAST?" in prompt(agent, huge)


def test_bad_arguments_and_missing_directory(model_dirs, tmp_path):
    import torch

    with pytest.raises(InvalidArgumentError, match="dtype"):
        HFAgent(model_dirs["chat"], dtype="fp8")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match=r"stop=\('x',\)"):
        HFAgent(model_dirs["chat"], stop="x")
    with pytest.raises(InvalidArgumentError, match="No model directory"):
        HFAgent(tmp_path / "absent")
    with pytest.raises(InvalidArgumentError, match="allow_download=True"):
        HFAgent("no-such-org/no-such-model")  # local cache only: fails fast, offline
    if not torch.cuda.is_available():
        with pytest.raises(InvalidArgumentError, match="no CUDA device"):
            HFAgent(model_dirs["chat"], device="cuda")


def test_make_agent_hf_spec(model_dirs):
    agent = make_agent(f"hf:{model_dirs['chat']}")
    assert isinstance(agent, HFAgent) and agent.temperature == 0.0
    with pytest.raises(InvalidArgumentError, match="hf:PATH"):
        make_agent("hf:")


class _Counting:
    def __init__(self, inner: HFAgent) -> None:
        self.inner, self.name = inner, inner.name
        self.batches: list[int] = []

    def act(self, batch: Sequence[AgentInput]) -> list[str]:
        self.batches.append(len(batch))
        return self.inner.act(batch)


def test_rollout_end_to_end(model_dirs):
    from mtenvs.rollout import rollout

    agent = _Counting(HFAgent(model_dirs["chat"], max_new_tokens=8, seed=0))
    trajs = list(rollout("mtenvs/Maze-v0", agent, 4, num_envs=2, env_kwargs={"max_turns": 2}))
    assert len(trajs) == 4 and agent.batches == [2, 2, 2, 2]
    assert all(t.agent == "hf:tiny-chat" and len(t.turns) == 2 for t in trajs)
    # Gibberish replies are format errors, reported as observations, not exceptions.
    assert all(isinstance(turn.reply, str) for t in trajs for turn in t.turns)
    assert any(turn.parse_error for t in trajs for turn in t.turns)


def test_missing_backend_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ImportError, match=r"mtenvs\[baselines\]"):
        HFAgent("anything")


def test_importing_mtenvs_does_not_import_heavy_deps():
    code = (
        "import sys, mtenvs, mtenvs.agents, mtenvs.rollout\n"
        "heavy = {'torch', 'transformers', 'httpx'} & {m.split('.')[0] for m in sys.modules}\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------- images


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (20, 30, 3), dtype=np.uint8)


def _image_inp(seed: int = 0, text: str = "You are at the @.") -> AgentInput:
    messages = [
        {"role": "system", "content": SYSTEM},
        user_message({"text": text, "image": _image(seed)}),
    ]
    return AgentInput(messages=messages, env=None)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def vlm(tmp_path_factory) -> HFAgent:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    path = build_tiny_vlm(tmp_path_factory.mktemp("tiny-vlm") / "tiny-vlm")
    return HFAgent(path, max_new_tokens=6)


def test_vlm_images_reach_the_vision_tower(vlm, monkeypatch):
    import torch

    assert vlm.processor is not None and vlm.name == "hf:tiny-vlm"
    seen: list[torch.Tensor] = []
    tower = vlm.model.model.vision_tower
    hook = tower.register_forward_pre_hook(
        lambda module, args, kwargs: seen.append(args[0] if args else kwargs["pixel_values"]),
        with_kwargs=True,
    )
    calls: list[dict] = []
    real = vlm.model.generate

    def recording_generate(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(vlm.model, "generate", recording_generate)
    image_token = vlm.tokenizer.convert_tokens_to_ids("<image>")
    try:
        replies = vlm.act([_image_inp(0), BATCH[0]])
        assert len(replies) == 2 and all(isinstance(r, str) for r in replies)
        (kwargs,) = calls
        ids = kwargs["input_ids"]
        # The image conversation carries the image's expanded tokens, the text one none.
        assert (ids[0] == image_token).sum() == VLM_IMAGE_TOKENS
        assert (ids[1] == image_token).sum() == 0
        # The pixels the vision tower saw are the observation's image, processed.
        expected = vlm.processor.image_processor(Image.fromarray(_image(0)), return_tensors="pt")[
            "pixel_values"
        ]
        assert kwargs["pixel_values"].shape == (1, 3, VLM_IMAGE_SIZE, VLM_IMAGE_SIZE)
        assert len(seen) == 1
        # (On CUDA the model, and so the pixels, run in bfloat16.)
        assert torch.allclose(seen[0].float().cpu(), expected, atol=0.02)

        # Text-only conversations: no pixels, and the vision tower does not run.
        calls.clear()
        seen.clear()
        assert len(vlm.act(BATCH[:2])) == 2
        assert "pixel_values" not in calls[0] and seen == []
    finally:
        hook.remove()


def test_vlm_prompt_and_batch_independence(vlm):
    text = vlm.tokenizer.decode(vlm.prompt_ids(_image_inp(1).messages))
    assert text == (
        f"<s><|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n"
        + "<image>" * VLM_IMAGE_TOKENS
        + "You are at the @.<|im_end|>\n<|im_start|>assistant\n"
    )
    # Left padding by the processor: a reply does not depend on the rest of the batch.
    batch = [_image_inp(1), BATCH[2], _image_inp(2, "A longer observation: the wall is north.")]
    together = vlm.act(batch)
    assert together == [vlm.act([item])[0] for item in batch]


def test_vlm_max_prompt_tokens_drops_whole_turns(vlm, model_dirs):
    agent = HFAgent(vlm.model.name_or_path, max_new_tokens=2, max_prompt_tokens=80)
    messages = _image_inp(0).messages
    for k in range(4):
        messages += [{"role": "assistant", "content": "<action>up</action>"}]
        messages += [user_message({"text": f"turn {k}", "image": _image(k + 1)})]
    with pytest.warns(UserWarning, match="shortened"):
        ids = agent.prompt_ids(messages)
    text = agent.tokenizer.decode(ids)
    assert len(ids) <= 80 and text.startswith(f"<s><|im_start|>system\n{SYSTEM}")
    assert "turn 3" in text and "turn 0" not in text
    assert len(agent.act([AgentInput(messages=messages, env=None)])) == 1  # type: ignore[arg-type]


def test_vlm_without_chat_template_gets_the_parts_fallback(tmp_path):
    agent = HFAgent(build_tiny_vlm(tmp_path / "base-vlm", chat_template=False), max_new_tokens=4)
    assert agent.stop == FALLBACK_STOP
    text = agent.tokenizer.decode(agent.prompt_ids(_image_inp(0).messages))
    image = "<image>" * VLM_IMAGE_TOKENS
    assert text == f"<s><|system|>\n{SYSTEM}\n<|user|>\n{image}You are at the @.\n<|assistant|>\n"
    assert len(agent.act([_image_inp(0), BATCH[0]])) == 2


def test_text_only_model_joins_text_and_warns_once_about_images(model_dirs):
    agent = HFAgent(model_dirs["chat"], max_new_tokens=4)
    text_only = _inp("You are at the @.")
    with pytest.warns(ImagesIgnoredWarning, match="obs_mode='text'"):
        ids = agent.prompt_ids(_image_inp(0).messages)
    assert ids == agent.prompt_ids(text_only.messages)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ImagesIgnoredWarning)  # shown once per agent
        assert len(agent.act([_image_inp(1), text_only])) == 2


def test_rollout_with_image_observations_end_to_end(vlm, monkeypatch):
    from mtenvs.rollout import rollout

    shapes: list[tuple[int, ...]] = []
    real = vlm.model.generate

    def recording_generate(**kwargs):
        shapes.append(tuple(kwargs["pixel_values"].shape))
        return real(**kwargs)

    monkeypatch.setattr(vlm.model, "generate", recording_generate)
    env_kwargs = {"max_turns": 2, "obs_mode": "image"}
    trajs = list(rollout("mtenvs/Maze-v0", vlm, 2, num_envs=2, env_kwargs=env_kwargs))
    assert len(trajs) == 2 and all(len(t.turns) == 2 for t in trajs)
    # One generate per turn for both episodes; each prompt carries every observation's
    # image so far: one per conversation on the first turn, two on the second.
    size = (3, VLM_IMAGE_SIZE, VLM_IMAGE_SIZE)
    assert shapes == [(2, *size), (4, *size)]
