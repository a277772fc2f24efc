"""Sokoban reply parsing: a model reply (``<action>`` block, ``move`` tool call or bare move
words) in, a tuple of move indices into :data:`~mtenvs.envs.grid.sokoban_rules.DIRECTIONS`
out.

Pure functions, no env state: :func:`parse_moves` raises
:class:`~mtenvs.core.env.InvalidAction` with the reason (and the allowed words) for a
malformed reply, which the env turns into an observation and a format penalty.
"""

from __future__ import annotations

from typing import Final

from mtenvs.core.env import InvalidAction, Reply
from mtenvs.core.parsing import extract_action, parse_tool_calls, reply_text, strip_think

__all__ = ["ALLOWED_MOVES", "MOVE_WORDS", "moves_from_words", "parse_moves"]

#: Reply words for each move (index into DIRECTIONS).
MOVE_WORDS: Final[dict[str, int]] = {
    "up": 0,
    "u": 0,
    "down": 1,
    "d": 1,
    "left": 2,
    "l": 2,
    "right": 3,
    "r": 3,
}
#: The one-move replies, parsed once (most replies are one of these).
_CANONICAL: Final[dict[str, tuple[int, ...]]] = {
    f"<action>{w}</action>": (m,) for w, m in MOVE_WORDS.items()
}
#: The allowed move words, as error messages and the action format name them.
ALLOWED_MOVES: Final = "up, down, left, right (or u, d, l, r)"


def parse_moves(reply: Reply, actions_per_turn: int) -> tuple[int, ...]:
    """The moves of ``reply``, at most ``actions_per_turn`` of them; raises
    :class:`InvalidAction` saying what was wrong with a malformed reply."""
    # Fast paths for the canonical replies; same result as the general path below.
    canonical = _CANONICAL.get(reply) if isinstance(reply, str) else None
    if canonical is not None:
        return canonical
    if (
        isinstance(reply, str)
        and reply.startswith("<action>")
        and reply.endswith("</action>")
        and reply.count("<") == 2
    ):
        return moves_from_words(reply[8:-9].replace(",", " ").split(), "<action>", actions_per_turn)
    calls = (
        parse_tool_calls(reply)
        if not isinstance(reply, str) or "<tool_call>" in (reply.lower())
        else []
    )
    if calls:
        words: list[str] = []
        for call in calls:
            if call.name != "move":
                raise InvalidAction(
                    f"unknown tool {call.name[:40]!r}; the only tool is 'move' with "
                    f"argument 'direction' ({ALLOWED_MOVES})"
                )
            args = call.arguments
            value = args.get("direction", args.get("directions"))
            if isinstance(value, str):
                words.extend(value.replace(",", " ").split())
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                words.extend(value)
            else:
                raise InvalidAction(
                    "the move tool needs 'direction' (a string) or 'directions' (a list "
                    f"of strings), got arguments {dict(args)!r:.80}"
                )
        return moves_from_words(words, "tool call", actions_per_turn)
    text = reply_text(reply)
    if text is None:
        raise InvalidAction(f"expected a text reply or a tool call, got {type(reply).__name__}")
    body = extract_action(text)
    if body is not None:
        return moves_from_words(body.replace(",", " ").split(), "<action>", actions_per_turn)
    bare = strip_think(text).strip().rstrip(".!").replace(",", " ").split()
    if bare and len(bare) <= actions_per_turn and all(w.lower() in MOVE_WORDS for w in bare):
        return moves_from_words(bare, "reply", actions_per_turn)
    if len(bare) == 1 and "<" not in bare[0]:
        raise InvalidAction(f"unknown move {bare[0][:40]!r}; allowed moves: {ALLOWED_MOVES}")
    raise InvalidAction("no <action>...</action> block found")


def moves_from_words(words: list[str], where: str, actions_per_turn: int) -> tuple[int, ...]:
    """The moves named by ``words`` (found in ``where``, for the error message); raises
    :class:`InvalidAction` for no word, too many words or an unknown word."""
    if not words:
        raise InvalidAction(f"the {where} holds no move; allowed moves: {ALLOWED_MOVES}")
    if len(words) > actions_per_turn:
        raise InvalidAction(
            f"{len(words)} moves given, but at most {actions_per_turn} move"
            f"{'s are' if actions_per_turn > 1 else ' is'} allowed per reply"
        )
    moves = []
    for word in words:
        move = MOVE_WORDS.get(word.lower())
        if move is None:
            raise InvalidAction(f"unknown move {word[:40]!r}; allowed moves: {ALLOWED_MOVES}")
        moves.append(move)
    return tuple(moves)
