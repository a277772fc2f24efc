"""Unary feedback: after a wrong final answer the agent is told only that it was wrong.

The UFO setup ("A Simple yet Effective Approach to Multi-Turn RL with Unary Feedback"):
the message says the answer was not right and nothing about why, so the agent must find
what to change itself. One text for every place that gives it: the
:class:`~mtenvs.wrappers.TryAgain` wrapper (which reopens any env after a wrong answer)
and the code-interpreter envs' ``feedback="unary"`` (which keep the episode going
themselves).
"""

from __future__ import annotations

from typing import Final

__all__ = ["UNARY_FEEDBACK"]

#: The observation after a wrong final answer under unary feedback.
UNARY_FEEDBACK: Final = "Let's try again."
