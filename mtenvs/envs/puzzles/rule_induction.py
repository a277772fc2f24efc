"""``mtenvs/RuleInduction-v0``: find a hidden rule over triples of numbers (Wason's 2-4-6,
WILT) by testing triples, then state it."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any, ClassVar, Unpack

import numpy as np

from mtenvs.core.args import EvalSetArgs
from mtenvs.core.env import InvalidAction, MultiTurnEnv, Reply, Transition
from mtenvs.core.parsing import extract_action, extract_answer, parse_tool_calls, reply_text
from mtenvs.core.rewards import OUTCOME, PROCESS
from mtenvs.core.spaces import text_space
from mtenvs.core.task_source import TaskSource
from mtenvs.envs.puzzles import rule_induction_tasks as T
from mtenvs.envs.puzzles.rule_expr import Expr, RuleSyntaxError, parse_rule
from mtenvs.error import ResetNeededError

__all__ = ["RuleInductionEnv"]

_TRIPLE = re.compile(
    r"^\s*(?:test|try|check|triple)?\s*[:(\[]?\s*(-?\d{1,7})\s*[,; ]\s*"
    r"(-?\d{1,7})\s*[,; ]\s*(-?\d{1,7})\s*[)\]]?\s*\.?\s*$",
    re.IGNORECASE,
)
_GUESS = re.compile(r"^\s*(?:guess|rule|answer)\s*[:=]?\s*(.+)$", re.IGNORECASE | re.DOTALL)
_BARE_MAX_CHARS = 200
_TEST_NAMES = frozenset({"test", "test_triple", "try"})
_GUESS_NAMES = frozenset({"guess", "answer", "guess_rule", "submit"})
_SHOWN_TESTS = 30
Action = tuple[str, Any]  # ("test", (a, b, c)) | ("guess", Expr)

LANGUAGE = (
    "Rule language: a, b, c; integers; + - * and % (remainder by a positive constant, "
    "always 0..m-1); comparisons < <= > >= == != (chains like a < b < c mean 'and'); "
    "and, or, not; parentheses. E.g. a < b and c % 2 == 1."
)


@lru_cache(maxsize=4096)
def _verdicts(triple: tuple[int, int, int]) -> np.ndarray:
    """Each hypothesis's truth value on ``triple``."""
    rules, _, _ = T.hypotheses()
    one = [np.array([v], dtype=np.int64) for v in triple]
    return np.array([_expr(r).evaluate(*one)[0] for r in rules], dtype=bool)


@lru_cache(maxsize=512)
def _expr(rule: str) -> Expr:
    return parse_rule(rule)


class RuleInductionEnv(MultiTurnEnv[str, Action, T.RuleTask]):
    """Find a hidden rule over triples of integers by testing triples (Wason's 2-4-6).

    ## Description
    A hidden boolean rule says whether a triple ``(a, b, c)`` of integers fits, e.g.
    ``a < b and b < c`` or ``a + b + c > 12``; the agent sees one triple that fits. Each
    turn it tests a triple and is told ``True`` or ``False``, or it states the rule as an
    expression. The guess is checked for *equivalence* with the hidden rule, not for the
    same text: on a dense grid of small triples, 20,000 random triples in [−1000, 1000]
    and boundary cases around every constant of both rules (components and sums equal to
    ``k − 2 … k + 2``). Rules come from 24 families (ordering, parity, sums, bounds,
    multiples, remainders, equalities, products, …), some with parameters; 6 whole families
    and every fourth parameter are held out for ``split="test"`` (the splits share no
    rule). ``eval_set=True`` plays the 40 fixed test rules shipped in
    ``mtenvs/assets/puzzles/rule_induction_eval.json``.

    Guesses are parsed by a small recursive-descent parser
    (:mod:`mtenvs.envs.puzzles.rule_expr`), never by Python's ``eval``. The language: ``a``,
    ``b``, ``c``, integers, ``+ - *``, ``%`` (remainder by a positive constant, always
    ``0..m-1``), comparisons ``< <= > >= == !=`` (``a < b < c`` chains as in Python),
    ``and``, ``or``, ``not``, parentheses; at most 500 characters.

    A guess is a final answer (``info["final_answer"]``): a wrong one ends the episode, so
    :class:`mtenvs.wrappers.TryAgain` can turn it into unary feedback and another try.

    ## Action Space
    The raw model reply (``str``) or a tool call. Test: ``<action>test 1 2 3</action>``
    (also ``<action>1, 2, 3</action>``, ``(1, 2, 3)``, a ``test`` tool call
    ``{"a": 1, "b": 2, "c": 3}``); components in [−1000, 1000]. Guess:
    ``<answer>a < b and b < c</answer>`` (also ``<action>guess: …</action>``, a ``guess``
    tool call ``{"rule": "…"}``). A reply that is neither, a triple out of range, or a rule
    that does not parse is a malformed reply (the parse error says where).

    ## Observation Space
    ``str``: the example triple, the latest result, the tests so far (the last 30) and the
    turns left; after a guess, the verdict (and a triple where the rules differ).
    Example::

        Triple (1, 2, 3): True.
        Tests so far (2): (2, 4, 6) True [example]; (1, 2, 3) True.
        Turn 1 of 20. Test another triple or state the rule.

    ## Rewards
    | Component | Value |
    |---|---|
    | `outcome` | +1 for a guess equivalent to the hidden rule, 0 for a wrong one |
    | `process` | information gain of a test over the hypothesis set (every distinct rule of every family): `log2(n_before / n_after) / log2(n_total)`, where `n` counts the hypotheses consistent with all results so far (a test that rules nothing out earns 0; the sum over an episode is at most 1). Counted with `reward_mode="process"` |
    | `format` | −`format_penalty` for a malformed reply |
    | `turn_cost` | −`turn_cost` every turn (when non-zero) |

    ## Episode End
    ``terminated`` when the agent guesses (right or wrong); ``truncated`` after
    ``max_turns`` replies without a right guess.

    ## Info keys
    | Key | Description |
    |---|---|
    | `system_prompt` | rules, the expression language and the reply format (reset only) |
    | `task_id` | `rule-<family>[-<parameters>]`, e.g. `rule-sum_gt-12` (reset only) |
    | `max_turns` | reply budget (reset only) |
    | `split` | `train` or `test` |
    | `turn` | replies so far |
    | `success` | the last guess was equivalent to the hidden rule |
    | `reward_components` | counted reward components; they sum to `reward` |
    | `uncounted_components` | components computed but not counted under `reward_mode` |
    | `parse_error` | why the reply was rejected, else `None` |
    | `final_answer` | whether this step was a guess (step only) |
    | `state_key` | hash of the task and the tests so far |
    | `num_tests` | triples tested so far (the example not counted) |
    | `last_test` | `[a, b, c, verdict]` of the latest test, else `None` |
    | `guess` | the latest guess as parsed (normalised text), else `None` |

    The hidden rule and the hypotheses still consistent are privileged (:meth:`privileged`).

    ## Arguments
    | Argument | Default | Description |
    |---|---|---|
    | `render_mode` | `None` | `ansi` (the observation plus the hidden rule) |

    ## Registered ids
    * `mtenvs/RuleInduction-v0`

    ## Version History
    * v0: initial release.
    """

    _snapshot_fields: ClassVar[tuple[str, ...]] = (
        "_tests",
        "_consistent",
        "_guess",
        "_verdict",
    )
    default_max_turns: ClassVar[int] = 20
    reference_configs: ClassVar[tuple[dict[str, Any], ...]] = ({"reward_mode": "outcome"},)

    def __init__(self, **kwargs: Unpack[EvalSetArgs]) -> None:
        super().__init__(**kwargs)
        self.observation_space = text_space()
        self._tests: list[tuple[int, int, int, bool]] = []
        self._consistent = np.ones(len(T.hypotheses()[0]), dtype=bool)
        self._guess: str | None = None
        self._verdict = ""

    # ------------------------------------------------------------------ episode

    def task_source(self) -> TaskSource[T.RuleTask]:
        return T.task_source(self.split, use_eval_set=self.eval_set)

    def new_episode(self, task: T.RuleTask) -> str:
        a, b, c = task.example
        self._tests = [(a, b, c, True)]
        self._consistent = _verdicts(task.example).copy()
        self._guess = None
        self._verdict = ""
        return (
            f"A hidden rule decides whether a triple of integers (a, b, c) fits. This triple "
            f"fits: ({a}, {b}, {c}). Test triples to learn the rule, then state it.\n"
            f"Turn 0 of {self.max_turns}."
        )

    # ------------------------------------------------------------------ actions

    def parse_action(self, reply: Reply) -> Action:
        for call in reversed(parse_tool_calls(reply)):
            name = call.name.lower()
            if name in _GUESS_NAMES:
                rule = next(
                    (
                        call.arguments.get(k)
                        for k in ("rule", "expression", "answer")
                        if isinstance(call.arguments.get(k), str)
                    ),
                    None,
                )
                if rule is not None:
                    return ("guess", self._parse_guess(rule))
            if name in _TEST_NAMES:
                values = [call.arguments.get(k) for k in "abc"]
                if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                    triple = call.arguments.get("triple")
                    values = list(triple) if isinstance(triple, list) else []
                if len(values) == 3 and all(
                    isinstance(v, int) and not isinstance(v, bool) for v in values
                ):
                    return ("test", self._check_triple([int(v) for v in values]))  # type: ignore[arg-type]
        text = reply_text(reply)
        if text is None:
            raise InvalidAction("no reply text found.")
        answer = extract_answer(text)
        if answer is not None:
            return ("guess", self._parse_guess(answer))
        body = extract_action(text)
        if body is None:
            stripped = text.strip()
            body = stripped if 0 < len(stripped) <= _BARE_MAX_CHARS else None
        if body is None:
            raise InvalidAction("no <action>…</action> or <answer>…</answer> block found.")
        triple = _TRIPLE.match(body)
        if triple:
            return ("test", self._check_triple([int(g) for g in triple.groups()]))
        guess = _GUESS.match(body)
        if guess:
            return ("guess", self._parse_guess(guess.group(1)))
        raise InvalidAction(f"could not read a triple or a guess from {body[:60]!r}.")

    def _check_triple(self, values: list[int]) -> tuple[int, int, int]:
        low, high = T.TRIPLE_RANGE
        if not all(low <= v <= high for v in values):
            raise InvalidAction(f"triple components must be integers in [{low}, {high}].")
        return values[0], values[1], values[2]

    @staticmethod
    def _parse_guess(text: str) -> Expr:
        try:
            return parse_rule(text.strip().strip("`").strip())
        except RuleSyntaxError as e:
            raise InvalidAction(f"the rule does not parse: {e} {LANGUAGE}") from e

    def apply_action(self, action: Action) -> Transition:
        kind, value = action
        if kind == "test":
            a, b, c = value
            verdict = self.task.expr.holds(a, b, c)
            self._tests.append((a, b, c, verdict))
            before = int(self._consistent.sum())
            self._consistent &= _verdicts(value) == verdict
            after = max(int(self._consistent.sum()), 1)
            gain = math.log2(before / after) / math.log2(len(self._consistent))
            text = f"Triple ({a}, {b}, {c}): {verdict}.\n{self._progress()}"
            return Transition(text, {PROCESS: gain})
        guess: Expr = value
        self._guess = str(guess)
        same, witness = T.equivalent(self.task.expr, guess)
        if same:
            self._verdict = f"Correct: {self._guess} is the hidden rule."
            return Transition(
                self._verdict, {OUTCOME: 1.0}, terminated=True, success=True, final_answer=True
            )
        x, y, z = witness or (0, 0, 0)
        truth = self.task.expr.holds(x, y, z)
        self._verdict = (
            f"Wrong: {self._guess} is not the hidden rule; e.g. ({x}, {y}, {z}) is {truth} "
            f"under the hidden rule and {not truth} under yours."
        )
        return Transition(self._verdict, {OUTCOME: 0.0}, terminated=True, final_answer=True)

    def _progress(self) -> str:
        shown = self._tests[-_SHOWN_TESTS:]
        parts = [
            f"({a}, {b}, {c}) {v}{' [example]' if i == 0 and len(self._tests) <= _SHOWN_TESTS else ''}"
            for i, (a, b, c, v) in enumerate(shown)
        ]
        return (
            f"Tests so far ({len(self._tests)}): {'; '.join(parts)}.\n"
            f"Turn {self.turn} of {self.max_turns}. Test another triple or state the rule."
        )

    # ------------------------------------------------------------------ text

    def system_prompt(self) -> str:
        return (
            "You are finding a hidden rule. The rule takes a triple of integers (a, b, c) "
            "and says True (it fits) or False. You are shown one triple that fits. Each turn, "
            "either test a triple: <action>test A B C</action> (integers in [-1000, 1000]) "
            "and you are told True or False; or state the rule as an expression: "
            "<answer>RULE</answer>. Your rule is right if it gives the same answer as the "
            "hidden rule on every triple (it need not be written the same way). Stating a "
            "rule ends the episode. Try to falsify your idea with tests before you state it.\n"
            f"{LANGUAGE}\nReply format: {self.action_format()}"
        )

    def action_format(self) -> str:
        return "<action>test A B C</action> to test a triple, or <answer>RULE</answer> to guess."

    def render_text(self) -> str:
        self._require_started("render")
        return f"Hidden rule: {self.task.rule}\n{self._progress()}\n{self._verdict}".rstrip()

    def episode_info(self) -> dict[str, Any]:
        last = self._tests[-1] if len(self._tests) > 1 else None
        return {
            "num_tests": len(self._tests) - 1,
            "last_test": None if last is None else [last[0], last[1], last[2], last[3]],
            "guess": self._guess,
        }

    def random_action(self, rng: np.random.Generator) -> str:
        if rng.random() < 0.1:
            rules = T.hypotheses()[0]
            return f"<answer>{rules[int(rng.integers(len(rules)))]}</answer>"
        a, b, c = (int(v) for v in rng.integers(-5, 21, size=3))
        return f"<action>test {a} {b} {c}</action>"

    # ------------------------------------------------------------------ privileged

    def oracle_action(self) -> str:
        """Tests the pool triple that splits the hypotheses still consistent most evenly
        (most information), until one class is left or one turn remains; then states the
        hidden rule."""
        self._require_started("oracle_action")
        if not self.episode_active:
            raise ResetNeededError("oracle_action() called after the episode ended; reset.")
        return self._best_test() or f"<answer>{self.task.rule}</answer>"

    def scripted_action(self, rng: np.random.Generator) -> str:
        """The oracle's tests (they use only the verdicts seen so far), then the first
        hypothesis still consistent with them instead of the hidden rule."""
        self._require_started("scripted_action")
        rules = T.hypotheses()[0]
        alive = [r for r, ok in zip(rules, self._consistent) if ok]
        return self._best_test() or f"<answer>{alive[0] if alive else 'a == a'}</answer>"

    def _best_test(self) -> str | None:
        """The pool triple that splits the consistent hypotheses most evenly, or ``None``
        when one class is left, no triple splits them, or one turn remains."""
        _, pool, table = T.hypotheses()
        alive = table[self._consistent]
        if len(alive) > 1 and self.turns_left > 1:
            trues = alive.sum(axis=0)
            split = np.minimum(trues, len(alive) - trues)
            best = int(np.argmax(split))
            if split[best] > 0:
                a, b, c = (int(v) for v in pool[best])
                return f"<action>test {a} {b} {c}</action>"
        return None

    def privileged(self) -> dict[str, Any]:
        self._require_started("privileged")
        rules = T.hypotheses()[0]
        return {
            "hidden_rule": self.task.rule,
            "consistent_hypotheses": [r for r, ok in zip(rules, self._consistent) if ok],
        }
