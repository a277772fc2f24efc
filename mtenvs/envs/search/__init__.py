"""Search-augmented question answering: Search-v0.

A question, a document collection behind ``search`` / ``open`` / ``answer`` tools, and a turn
budget. The collection is a generated multi-hop world (:mod:`.world`, :mod:`.questions`) or
a local dataset (:mod:`.loaders`: HotpotQA JSON, question JSONL with a corpus JSONL),
searched with an embedded engine (:mod:`.engine`: BM25; :mod:`.dense`: dense and hybrid).
The records these parts hand each other are in :mod:`.types`; the env is :mod:`.env`.
"""

from __future__ import annotations

from mtenvs.core.registry import register_env

register_env("mtenvs/Search-v0", "mtenvs.envs.search.env:SearchEnv")
