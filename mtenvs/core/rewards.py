"""Reward components, their names and how ``reward_mode`` sums them.

Every step reports ``info["reward_components"]``: a dict whose values add up to the step's
``reward``. Components an env computes but the chosen ``reward_mode`` does not count are
reported in ``info["uncounted_components"]`` so a trainer can still log (or re-weight) them;
:class:`mtenvs.wrappers.ReweightReward` moves components between the two.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

__all__ = [
    "DEFAULT_FORMAT_PENALTY",
    "FORMAT",
    "OUTCOME",
    "PROCESS",
    "TURN_COST",
    "RewardMode",
    "split_components",
]

#: +1 when the task is solved (env-specific scale), 0 otherwise.
OUTCOME: Final = "outcome"
#: Verifiable progress made this turn (e.g. distance-to-solution delta), in outcome units.
PROCESS: Final = "process"
#: Penalty for a reply that could not be parsed into a legal action.
FORMAT: Final = "format"
#: A small cost charged every turn to prefer shorter episodes.
TURN_COST: Final = "turn_cost"

DEFAULT_FORMAT_PENALTY: Final = 0.1


class RewardMode(StrEnum):
    """Which components make up ``reward``.

    * ``outcome``: everything except ``process`` (sparse; the usual RLVR setting).
    * ``process``: every component, ``process`` included (dense shaping).
    """

    OUTCOME = "outcome"
    PROCESS = "process"

    def counts(self, component: str) -> bool:
        """Whether ``component`` is summed into ``reward`` in this mode."""
        return self is RewardMode.PROCESS or component != PROCESS


def split_components(
    components: Mapping[str, float], mode: RewardMode
) -> tuple[dict[str, float], dict[str, float]]:
    """Split ``components`` into (counted, uncounted) under ``mode``."""
    # Runs on every step of every env: comprehensions instead of a loop calling
    # ``mode.counts`` per component (same dicts, same key order).
    if mode == RewardMode.PROCESS:
        return {name: float(value) for name, value in components.items()}, {}
    counted = {name: float(value) for name, value in components.items() if name != PROCESS}
    if PROCESS not in components:
        return counted, {}
    return counted, {PROCESS: float(components[PROCESS])}
