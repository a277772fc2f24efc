"""Test agents shared by the test packages."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

from mtenvs.core.agent import AgentInput, message_text


class ConversationSeededAgent:
    """Random legal moves, each drawn from a generator seeded by the conversation: the
    reply depends only on the input, whatever else is in the batch or was played before."""

    name = "conversation-seeded"

    def __init__(self) -> None:
        self.batches: list[int] = []
        #: Episodes started (calls whose conversation holds one observation).
        self.started = 0

    def act(self, batch: Sequence[AgentInput]) -> list[str]:
        self.batches.append(len(batch))
        replies = []
        for item in batch:
            self.started += sum(m["role"] == "user" for m in item.messages) == 1
            text = "\n".join(message_text(m) for m in item.messages)
            rng = np.random.default_rng(zlib.crc32(text.encode()))
            replies.append(item.env.random_action(rng))
        return replies
