"""Random replies for the web envs (``WebEnv.random_action``): fuzzing and the random
agent.

Drawn from the page outline the agent last saw, so most are well-formed actions on real
elements (typing a stock word into a textbox, choosing a combobox option, clicking), mixed
with navigation, unknown ids and a final answer. All randomness comes from the caller's
generator.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mtenvs.envs.web.browser import PageView

__all__ = ["RANDOM_WORDS", "random_reply"]

#: What a random ``type()`` writes.
RANDOM_WORDS = ("mouse", "lamp", "Acme", "bottle", "12", "", "x@y.z", "03801")


def random_reply(view: PageView | None, paths: Sequence[str], rng: np.random.Generator) -> str:
    """A random reply on the page ``view`` (``None`` before any outline); ``goto`` picks
    one of ``paths``."""
    ids = sorted(view.elements) if view else []
    roll = float(rng.random())
    if ids and roll < 0.55:
        element = view.elements[ids[int(rng.integers(len(ids)))]] if view else None
        if element is not None and element.kind == "textbox":
            word = RANDOM_WORDS[int(rng.integers(len(RANDOM_WORDS)))]
            return f'<action>type({element.id}, "{word}")</action>'
        if element is not None and element.kind == "combobox" and element.options:
            option = element.options[int(rng.integers(len(element.options)))]
            return f'<action>select({element.id}, "{option}")</action>'
        return f"<action>click({ids[int(rng.integers(len(ids)))]})</action>"
    if roll < 0.7:
        path = paths[int(rng.integers(len(paths)))]
        return f"<action>goto({path})</action>"
    if roll < 0.78:
        return "<action>back()</action>"
    if roll < 0.86:
        return f"<action>scroll({'up' if rng.random() < 0.5 else 'down'})</action>"
    if roll < 0.92:
        return "<action>press(Enter)</action>"
    if roll < 0.97:
        return f"<action>click({int(rng.integers(1, 200))})</action>"
    return "<answer>done</answer>"
