"""Reply syntax of the clinical envs: tool calls, ``<answer>``, ``<action>cmd(arg)</action>``
and bare questions, turned into a :class:`ClinicalAction` (arguments resolved by the env)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from mtenvs.core.env import InvalidAction, Reply
from mtenvs.core.parsing import (
    extract_action,
    extract_answer,
    parse_tool_calls,
    reply_text,
    strip_think,
)

__all__ = ["MAX_QUESTION_CHARS", "ActionKind", "ClinicalAction", "parse_reply"]

ActionKind = Literal["ask", "examine", "order_test", "diagnose", "abstain"]
#: Longest question (characters) the patient listens to.
MAX_QUESTION_CHARS: Final = 500
_COMMAND = re.compile(
    r"^\s*(ask|examine|exam|order_test|order|test|diagnose|diagnosis|answer|abstain)"
    r"\s*\((.*)\)\s*\.?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_KIND_OF: Final[dict[str, ActionKind]] = {
    "ask": "ask",
    "ask_patient": "ask",
    "examine": "examine",
    "exam": "examine",
    "order_test": "order_test",
    "order": "order_test",
    "test": "order_test",
    "diagnose": "diagnose",
    "diagnosis": "diagnose",
    "answer": "diagnose",
    "abstain": "abstain",
}
_ARG_KEYS: Final[dict[ActionKind, tuple[str, ...]]] = {
    "ask": ("question", "text"),
    "examine": ("system", "name"),
    "order_test": ("name", "test"),
    "diagnose": ("condition", "diagnosis", "answer", "option", "name"),
    "abstain": (),
}
_LETTER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class ClinicalAction:
    """One parsed action: its kind and argument (question text or a resolved id)."""

    kind: ActionKind
    arg: str = ""


Resolver = Callable[[ActionKind, str], ClinicalAction]


def _question(arg: str) -> ClinicalAction:
    if not _LETTER.search(arg):
        raise InvalidAction("the question has no words in it.")
    if len(arg) > MAX_QUESTION_CHARS:
        raise InvalidAction(f"ask at most {MAX_QUESTION_CHARS} characters at a time.")
    return ClinicalAction("ask", arg)


def _dispatch(kind: ActionKind, arg: str, resolve: Resolver) -> ClinicalAction:
    arg = arg.strip()
    if kind == "ask":
        return _question(arg)
    if kind == "abstain":
        return ClinicalAction("abstain")
    return resolve(kind, arg[:200])


def parse_reply(reply: Reply, resolve: Resolver) -> ClinicalAction:
    """Parse a reply; ``resolve(kind, name)`` maps examine/order_test/diagnose arguments to
    ids (raising :class:`InvalidAction` for unknown ones)."""
    calls = parse_tool_calls(reply)
    if calls:
        if len(calls) > 1:
            raise InvalidAction("one tool call per turn, please.")
        kind = _KIND_OF.get(calls[0].name.lower())
        if kind is None:
            raise InvalidAction(
                f"unknown tool {calls[0].name[:40]!r}; tools: ask, examine, order_test, "
                "diagnose, abstain."
            )
        args = calls[0].arguments
        value = next((args[k] for k in _ARG_KEYS[kind] if isinstance(args.get(k), str)), None)
        if value is None and kind != "abstain":
            raise InvalidAction(f"the {kind} tool needs a string argument {_ARG_KEYS[kind][0]!r}.")
        return _dispatch(kind, value or "", resolve)
    text = reply_text(reply)
    if text is None:
        raise InvalidAction("no reply text or tool call found.")
    answer = extract_answer(text)
    if answer is not None:
        if answer.strip().lower().rstrip("()") == "abstain":
            return ClinicalAction("abstain")
        return _dispatch("diagnose", answer, resolve)
    body = extract_action(text)
    body = (strip_think(text) if body is None else body).strip()
    if not body:
        raise InvalidAction("the reply is empty.")
    if len(body) > MAX_QUESTION_CHARS:
        raise InvalidAction(
            f"the reply is {len(body)} characters long; ask one short question (at most "
            f"{MAX_QUESTION_CHARS} characters) or use an action."
        )
    command = _COMMAND.match(body)
    if command is not None:
        return _dispatch(_KIND_OF[command.group(1).lower()], command.group(2), resolve)
    return _question(body)
