"""Bridges from mtenvs to RL trainers.

Each submodule imports its trainer lazily, so ``import mtenvs.integrations`` needs nothing
beyond mtenvs itself:

* :mod:`mtenvs.integrations.trl`: a ``rollout_func`` for TRL's ``GRPOTrainer`` that plays
  whole multi-turn episodes through :func:`mtenvs.rollout.rollout`, a prompt dataset builder
  and a reward function that passes the env's episode return through
  (``pip install "mtenvs[trl]"``).
* :mod:`mtenvs.integrations.token_agent`: ``TokenAgent``/``EpisodeTokens``, an agent that keeps
  each episode as exact token ids (used by the TRL bridge; trainer-agnostic).
* :mod:`mtenvs.integrations.verl`: ``MtenvsInteraction``, an interaction for verl's
  multi-turn agent loop with one mtenvs env per rollout; it subclasses verl's
  ``BaseInteraction`` when verl 0.7 is installed (``pip install "mtenvs[verl]"``) and
  imports without it.
"""

from __future__ import annotations

__all__: list[str] = []
