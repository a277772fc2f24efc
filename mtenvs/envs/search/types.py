"""The records the Search family's parts hand each other: documents, hits, tasks.

The world generator (:mod:`~mtenvs.envs.search.world`, :mod:`~mtenvs.envs.search.questions`)
and the loaders (:mod:`~mtenvs.envs.search.loaders`) produce :class:`Document` and
:class:`SearchTask`; a :class:`SearchEngine` (:mod:`~mtenvs.envs.search.engine`) indexes
documents and answers queries with :class:`Hit`; the env (:mod:`~mtenvs.envs.search.env`)
plays a task against an engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

__all__ = ["Document", "Hit", "HopKind", "SearchEngine", "SearchTask"]

#: How a question's hops combine: follow a chain of relations (``bridge``), compare one
#: attribute of two entities (``comparison``), or find what two relations share
#: (``intersection``); ``loaded`` for questions read from a dataset file.
HopKind = Literal["bridge", "comparison", "intersection", "loaded"]


@dataclass(frozen=True, slots=True)
class Document:
    """One document of a corpus: a stable id, a title and its plain text."""

    id: str
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class Hit:
    """One ranked search result: the document's id and the engine's score (higher first)."""

    doc_id: str
    score: float


@dataclass(frozen=True)
class SearchTask:
    """A question with its verified answer and the documents that support it."""

    task_id: str
    question: str
    answer: str
    #: Other spellings accepted as the answer (aliases of the answer entity).
    aliases: tuple[str, ...] = ()
    #: The documents a reader needs to find the answer, in the order of the hops.
    supporting_doc_ids: tuple[str, ...] = ()
    hops: int = 1
    kind: HopKind = "bridge"
    split: str = "train"
    #: The corpus this task is asked over, when it has its own (HotpotQA distractor
    #: records: each record's ``context``); empty: the family's shared corpus.
    documents: tuple[Document, ...] = field(default=(), compare=False, repr=False)


@runtime_checkable
class SearchEngine(Protocol):
    """A ranked retriever over a fixed set of documents.

    Implementations: BM25 (the embedded default), dense, hybrid; a server-backed engine
    (OpenSearch, Elasticsearch) implements the same three methods.
    """

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """The top ``k`` documents for ``query``, best first (fewer if fewer match)."""
        ...

    def get(self, doc_id: str) -> Document | None:
        """The document ``doc_id``, or ``None`` if the corpus has none of that id."""
        ...

    def __len__(self) -> int:
        """The number of indexed documents."""
        ...


def iter_unique(documents: Iterable[Document]) -> Iterator[Document]:
    """``documents`` without repeated ids (the first of each id wins)."""
    seen: set[str] = set()
    for doc in documents:
        if doc.id not in seen:
            seen.add(doc.id)
            yield doc
