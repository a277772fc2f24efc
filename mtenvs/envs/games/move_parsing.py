"""Reading a game move out of a model reply, for :class:`~mtenvs.envs.games.aec.TextGameEnv`.

Pure functions, no game state:

* :func:`move_text`: the text of the move in a reply: an ``<action>`` block, a tool call
  (``play``/``move``/``act``/``action`` with a ``move``/``action``/``column``/``cell``
  argument), or a short bare reply (or its last line); ``None`` when there is none;
* :func:`match_move`: that text as an action id, by the move's label (case, spacing and
  punctuation ignored), one alias word, or one number; ``None`` when it names no move or is
  ambiguous.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from mtenvs.core.parsing import extract_action, parse_tool_calls, reply_text

__all__ = ["match_move", "move_text"]

#: Tool names and argument keys accepted for a move given as a tool call.
_TOOL_NAMES = frozenset({"play", "move", "act", "action"})
_TOOL_ARGS = ("move", "action", "column", "cell")
#: A reply without an ``<action>`` block is read whole (or by its last line) only when that
#: is this short, so a paragraph of reasoning is never mined for stray numbers.
_BARE_MAX_CHARS = 60
_TOKEN = re.compile(r"[a-z0-9]+")


def _norm(text: str) -> str:
    return " ".join(_TOKEN.findall(text.lower()))


def move_text(reply: object) -> str | None:
    """The text of the move ``reply`` gives, or ``None``."""
    text = reply_text(reply)
    if text is not None:
        body = extract_action(text)
        if body is not None:
            return body
    calls = parse_tool_calls(reply) if (text is None or "<tool_call>" in text) else []
    for call in reversed(calls):
        if call.name.lower() in _TOOL_NAMES:
            for key in _TOOL_ARGS:
                value = call.arguments.get(key)
                if isinstance(value, (str, int)) and not isinstance(value, bool):
                    return str(value)
    if text is None:
        return None
    stripped = text.strip()
    if len(stripped) > _BARE_MAX_CHARS:
        stripped = stripped.rsplit("\n", 1)[-1].strip()
    return stripped if 0 < len(stripped) <= _BARE_MAX_CHARS else None


def match_move(
    text: str, label: Callable[[int], str], aliases: Mapping[str, int], num_actions: int
) -> int | None:
    """The action id ``text`` names among ``num_actions`` moves labelled by ``label``, with
    ``aliases`` (word -> action id); ``None`` when it names none, or more than one."""
    norm = _norm(text)
    if not norm:
        return None
    for action in range(num_actions):
        if _norm(label(action)) == norm:
            return action
    tokens = norm.split()
    if len(tokens) > 6:
        return None
    words = {aliases[t] for t in tokens if t in aliases}
    numbers = [t for t in tokens if t.isdigit()]
    if len(words) == 1 and not numbers:
        return words.pop()
    if len(numbers) == 1 and not words:
        value = int(numbers[0][:6])
        return value if value < num_actions else None
    return None
