"""BM25 search over a corpus: the Search family's embedded engine, its cache and snippets.

:class:`BM25Engine` ranks documents with Okapi BM25 (``k1 = 1.2``, ``b = 0.75``, Lucene's
idf) over one field, the title followed by the text. Two backends share one tokenizer and
one scoring formula:

- **Tantivy** (the ``tantivy`` package, ``pip install "mtenvs[search]"``) for every index
  on disk and for large in-memory corpora. Chosen by measurement (``benchmarks/
  bench_search.py``, ``docs/search-engines.md``) over SQLite FTS5 and bm25s: at 1 M documents
  a query takes 4.2 ms against 1.05 s with FTS5's ``bm25()`` (which scores every document
  matching any term) and 19 ms with bm25s; its index is 3.5× smaller than FTS5's; and it is
  a directory of immutable, memory-mapped files that any number of processes (xdist
  workers, process executors) open read-only in under 1 ms with 0.1 MiB of private memory
  each, where bm25s holds 2-3.5 GiB per process at 1 M documents.
- **Pure Python** for in-memory corpora of up to :data:`SMALL_CORPUS` documents (HotpotQA's
  distractor setting: 10 documents per episode). Building one takes microseconds per
  document where Tantivy takes about 8 ms for 10 (its writer starts and commits); needs
  no extra package.

Tokens are maximal runs of Unicode letters and digits, lower-cased; no stemming, no stop
words (BM25's idf discounts frequent words). The Tantivy index receives the tokens this
module computes (a whitespace-tokenized field), so both backends see the same terms.

Query limits (any string is safe: empty, 1 MB, binary or NUL bytes, query syntax such as
quotes, ``*``, ``NEAR``, ``-``, ``:``): only the first :data:`MAX_QUERY_CHARS` characters are
read; of their tokens the first :data:`MAX_QUERY_TERMS` distinct ones are kept, each at most
:data:`MAX_TERM_CHARS` characters (longer tokens are dropped); the terms are OR-ed (no
query syntax is ever parsed); ``k`` is capped at :data:`MAX_K`. A query with no term
returns no hit.

:func:`~mtenvs.envs.search.cache.open_engine` builds an index once per ``cache_key`` under the cache folder and
reopens it afterwards; see its docstring for the cache's layout and locking.
"""

from __future__ import annotations

import functools
import heapq
import json
import math
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from mtenvs.envs.search.types import Document, Hit, iter_unique
from mtenvs.error import InvalidArgumentError, UnavailableError

if TYPE_CHECKING:
    import tantivy

__all__ = [
    "INDEX_FORMAT",
    "MAX_K",
    "MAX_QUERY_CHARS",
    "MAX_QUERY_TERMS",
    "MAX_TERM_CHARS",
    "SMALL_CORPUS",
    "BM25Engine",
    "EngineKind",
    "query_terms",
    "snippet",
    "tokenize",
]

#: Characters of a query that are read; the rest is ignored.
MAX_QUERY_CHARS = 1000
#: Distinct terms of a query that are searched; the rest are ignored.
MAX_QUERY_TERMS = 32
#: Longest token indexed or searched, in characters; longer tokens are dropped.
MAX_TERM_CHARS = 40
#: Most hits one search returns.
MAX_K = 100
#: In-memory builds up to this many documents use the pure-Python backend.
SMALL_CORPUS = 2000
#: Version of the on-disk layout; a cache entry of another version is rebuilt.
INDEX_FORMAT = 2

#: Which ranking :func:`~mtenvs.envs.search.cache.open_engine` builds.
EngineKind = Literal["bm25", "dense", "hybrid"]
ENGINE_KINDS: tuple[EngineKind, ...] = ("bm25", "dense", "hybrid")

K1 = 1.2
B = 0.75
_TOKEN = re.compile(r"[^\W_]+")
_MARKER = "mtenvs-index.json"
_CACHE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_WRITER_HEAP = 128_000_000


def tokenize(text: str) -> list[str]:
    """The index terms of ``text``: runs of letters and digits, lower-cased, without those
    longer than :data:`MAX_TERM_CHARS`."""
    return [t for t in _TOKEN.findall(text.lower()) if len(t) <= MAX_TERM_CHARS]


def query_terms(query: object) -> list[str]:
    """The terms a search for ``query`` uses (see the module's query limits); ``bytes`` are
    decoded as UTF-8 with replacement."""
    if isinstance(query, bytes | bytearray):
        query = bytes(query[: MAX_QUERY_CHARS * 4]).decode("utf-8", "replace")
    if not isinstance(query, str):
        raise InvalidArgumentError(f"query must be a str, got {type(query).__name__}.")
    return list(dict.fromkeys(tokenize(query[:MAX_QUERY_CHARS])))[:MAX_QUERY_TERMS]


def _check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int):
        raise InvalidArgumentError(f"k must be an int, got {k!r}.")
    return min(k, MAX_K)


def _bm25(tf: int, df: int, n_docs: int, doc_len: float, avg_len: float) -> float:
    idf = math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
    return idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * doc_len / avg_len))


class _MemoryIndex:
    """An inverted index in Python dicts, for small corpora."""

    def __init__(self, documents: list[Document]) -> None:
        self.documents = documents
        self.by_id = {d.id: d for d in documents}
        self.postings: dict[str, list[tuple[int, int]]] = {}
        self.lengths: list[int] = []
        for i, doc in enumerate(documents):
            terms = tokenize(f"{doc.title} {doc.text}")
            self.lengths.append(len(terms))
            counts: dict[str, int] = {}
            for t in terms:
                counts[t] = counts.get(t, 0) + 1
            for t, tf in counts.items():
                self.postings.setdefault(t, []).append((i, tf))
        self.avg_len = (sum(self.lengths) / len(self.lengths)) if self.lengths else 1.0
        self.avg_len = self.avg_len or 1.0

    def search(self, terms: list[str], k: int) -> list[Hit]:
        n = len(self.documents)
        scores: dict[int, float] = {}
        for t in terms:
            posting = self.postings.get(t, ())
            for i, tf in posting:
                s = _bm25(tf, len(posting), n, self.lengths[i], self.avg_len)
                scores[i] = scores.get(i, 0.0) + s
        best = heapq.nsmallest(k, scores.items(), key=lambda item: (-item[1], item[0]))
        return [Hit(self.documents[i].id, s) for i, s in best]

    def get(self, doc_id: str) -> Document | None:
        return self.by_id.get(doc_id)

    def __len__(self) -> int:
        return len(self.documents)


def _tantivy() -> Any:
    try:
        import tantivy
    except ImportError as e:
        raise UnavailableError(
            "The Search family's BM25 index on disk needs the tantivy package; "
            'install it with: pip install "mtenvs[search]"'
        ) from e
    return tantivy


def _schema() -> tantivy.Schema:
    tantivy = _tantivy()
    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=False, tokenizer_name="raw", index_option="basic")
    sb.add_integer_field("pos", stored=False, indexed=False, fast=True)
    # Terms come from tokenize(): whitespace-joined, so the index never re-tokenizes them.
    sb.add_text_field("body", stored=False, tokenizer_name="whitespace", index_option="freq")
    sb.add_bytes_field("title", stored=True, indexed=False, fast=False)
    sb.add_bytes_field("text", stored=True, indexed=False, fast=False)
    return sb.build()


class _Ids:
    """Document ids by build position: in memory, or two memory-mapped files (``ids.bin``:
    the UTF-8 ids end to end; ``ids.off``: their offsets), shared by every process that
    opens the index. A hit's position comes from a Tantivy fast field: reading the stored
    document for its id would decompress a block of the document store per hit."""

    def __init__(self, ids: list[str] | None, blob: Any = None, offsets: Any = None) -> None:
        self.ids, self.blob, self.offsets = ids, blob, offsets

    @staticmethod
    def write(path: Path, ids: Iterable[str]) -> int:
        offsets = [0]
        with (path / "ids.bin").open("wb") as f:
            for doc_id in ids:
                raw = doc_id.encode("utf-8", "surrogatepass")
                f.write(raw)
                offsets.append(offsets[-1] + len(raw))
        np.asarray(offsets, dtype=np.uint64).tofile(path / "ids.off")
        return len(offsets) - 1

    @classmethod
    def open(cls, path: Path) -> _Ids:
        offsets = np.memmap(path / "ids.off", dtype=np.uint64, mode="r")
        size = (path / "ids.bin").stat().st_size
        blob = np.memmap(path / "ids.bin", dtype=np.uint8, mode="r") if size else b""
        return cls(None, blob, offsets)

    def __getitem__(self, pos: int) -> str:
        if self.ids is not None:
            return self.ids[pos]
        start, end = int(self.offsets[pos]), int(self.offsets[pos + 1])
        return bytes(self.blob[start:end]).decode("utf-8", "surrogatepass")

    def __len__(self) -> int:
        return len(self.ids) if self.ids is not None else len(self.offsets) - 1


class _TantivyIndex:
    """A Tantivy index (a folder of memory-mapped files, or RAM when ``path`` is None)."""

    def __init__(self, index: tantivy.Index, ids: _Ids) -> None:
        self.tantivy = _tantivy()
        self.index = index
        self.schema = index.schema
        self.searcher = index.searcher()
        self.n_docs = int(self.searcher.num_docs)
        self.ids = ids

    @classmethod
    def build(cls, documents: Iterable[Document], path: Path | None) -> _TantivyIndex:
        tantivy = _tantivy()
        index = tantivy.Index(_schema(), path=None if path is None else str(path))
        # One indexing thread: documents keep their order, so ties rank the same every build.
        writer = index.writer(heap_size=_WRITER_HEAP, num_threads=1)
        ids: list[str] = []
        for pos, doc in enumerate(documents):
            writer.add_document(
                tantivy.Document(
                    id=doc.id,
                    pos=pos,
                    body=" ".join(tokenize(f"{doc.title} {doc.text}")),
                    title=doc.title.encode("utf-8", "surrogatepass"),
                    text=doc.text.encode("utf-8", "surrogatepass"),
                )
            )
            ids.append(doc.id)
        writer.commit()
        writer.wait_merging_threads()
        index.reload()
        if path is None:
            return cls(index, _Ids(ids))
        _Ids.write(path, ids)
        return cls(index, _Ids.open(path))

    @classmethod
    def open(cls, path: Path) -> _TantivyIndex:
        return cls(_tantivy().Index.open(str(path)), _Ids.open(path))

    def search(self, terms: list[str], k: int) -> list[Hit]:
        t = self.tantivy
        query = t.Query.boolean_query(
            [(t.Occur.Should, t.Query.term_query(self.schema, "body", term)) for term in terms]
        )
        found = self.searcher.search(query, k, count=False).hits
        if not found:
            return []
        positions = self.searcher.fast_field_values("pos", [addr for _, addr in found])
        hits = [
            Hit(self.ids[p], float(score))
            for (score, _), p in zip(found, positions)
            if isinstance(p, int)  # every document of a format-2 index has its position
        ]
        hits.sort(key=lambda h: -h.score)  # stable: Tantivy's order among ties stays
        return hits

    def get(self, doc_id: str) -> Document | None:
        t = self.tantivy
        found = self.searcher.search(t.Query.term_query(self.schema, "id", doc_id), 1).hits
        if not found:
            return None
        fields = self.searcher.doc(found[0][1]).to_dict()
        return Document(
            doc_id,
            fields["title"][0].decode("utf-8", "surrogatepass"),
            fields["text"][0].decode("utf-8", "surrogatepass"),
        )

    def __len__(self) -> int:
        return self.n_docs


class BM25Engine:
    """BM25 ranking over a corpus (see the module docstring); a :class:`SearchEngine`.

    Make one with :meth:`build` (in memory, or into a folder) or :meth:`open` (a folder
    :meth:`build` wrote); :func:`~mtenvs.envs.search.cache.open_engine` does either through the cache.
    """

    def __init__(self, backend: _MemoryIndex | _TantivyIndex, path: Path | None = None) -> None:
        self._backend = backend
        #: The index folder, or ``None`` for an in-memory index.
        self.path = path

    @classmethod
    def build(cls, documents: Iterable[Document], path: Path | None = None) -> BM25Engine:
        """Index ``documents`` (a repeated id keeps its first document) in memory when
        ``path`` is None, else into the folder ``path`` (created; must not hold an index
        yet). Writes the marker :meth:`open` checks."""
        unique = iter_unique(documents)
        if path is None:
            head = [d for _, d in zip(range(SMALL_CORPUS + 1), unique, strict=False)]
            if len(head) <= SMALL_CORPUS:
                return cls(_MemoryIndex(head))
            return cls(_TantivyIndex.build(_chain(head, unique), None))
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        backend = _TantivyIndex.build(unique, path)
        write_marker(path, "bm25", len(backend))
        return cls(backend, path)

    @classmethod
    def open(cls, path: Path) -> BM25Engine:
        """The index :meth:`build` wrote into the folder ``path``; raises
        :class:`~mtenvs.error.InvalidArgumentError` when it holds none of this version."""
        path = Path(path)
        marker = check_marker(path, "bm25")
        backend = _TantivyIndex.open(path)
        if not len(backend) == len(backend.ids) == marker.get("documents"):
            raise InvalidArgumentError(
                f"{path} holds {len(backend)} documents and {len(backend.ids)} ids where "
                "its marker says "
                f"{marker.get('documents')}: the index is damaged; rebuild it."
            )
        return cls(backend, path)

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """The top ``k`` (at most :data:`MAX_K`) documents for ``query``, best first."""
        k = _check_k(k)
        terms = query_terms(query)
        if not terms or k <= 0:
            return []
        return self._backend.search(terms, k)

    def get(self, doc_id: str) -> Document | None:
        """The document ``doc_id``, or ``None``."""
        if not isinstance(doc_id, str):
            return None
        return self._backend.get(doc_id)

    def __len__(self) -> int:
        return len(self._backend)

    def __repr__(self) -> str:
        where = "memory" if self.path is None else str(self.path)
        return f"BM25Engine({len(self)} documents, {type(self._backend).__name__}, {where})"


def _chain(head: list[Document], rest: Iterator[Document]) -> Iterator[Document]:
    yield from head
    yield from rest


# -- the index cache -----------------------------------------------------------------------


def write_marker(path: Path, kind: str, n_docs: int) -> None:
    """The last file a build writes: its presence says the folder holds a whole index."""
    marker = {"format": INDEX_FORMAT, "kind": kind, "documents": n_docs}
    tmp = path / f".{_MARKER}.tmp"
    tmp.write_text(json.dumps(marker), "utf-8")
    tmp.replace(path / _MARKER)


def check_marker(path: Path, kind: str) -> dict[str, Any]:
    try:
        marker = json.loads((path / _MARKER).read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise InvalidArgumentError(
            f"{path} holds no complete {kind} index (no readable {_MARKER}); "
            "build one with open_engine() or the engine's build(documents, path)."
        ) from e
    if not isinstance(marker, dict) or marker.get("format") != INDEX_FORMAT:
        raise InvalidArgumentError(
            f"{path} holds an index of format {marker.get('format') if isinstance(marker, dict) else marker!r}; "
            f"this mtenvs reads format {INDEX_FORMAT}: rebuild it."
        )
    if marker.get("kind") != kind:
        raise InvalidArgumentError(f"{path} holds a {marker.get('kind')!r} index, not {kind!r}.")
    return marker


# -- snippets ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _terms_pattern(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    """Whole-token, case-insensitive matches of ``terms``: scanning for them is several
    times faster than tokenizing the text (an env renders a snippet per result)."""
    if not terms:
        return None
    alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    return re.compile(rf"(?<![^\W_])(?:{alternatives})(?![^\W_])", re.IGNORECASE)


def snippet(text: str, query: str, width: int = 200) -> str:
    """The ``width`` characters of ``text`` holding the most query terms (distinct terms
    first, then matches), widened to word edges, with ``…`` where text was cut; the start
    of ``text`` when no term occurs. Whitespace runs become single spaces."""
    text = " ".join(text.split())
    width = max(int(width), 1)
    if len(text) <= width:
        return text
    pattern = _terms_pattern(tuple(query_terms(query)))
    matches = (
        []
        if pattern is None
        else [(m.start(), m.end(), m.group().lower()) for m in pattern.finditer(text)]
    )
    best_start, best_key = 0, (0, 0)
    j = 0
    for i, (start, _, _) in enumerate(matches):
        j = max(j, i)
        while j + 1 < len(matches) and matches[j + 1][1] - start <= width:
            j += 1
        window = matches[i : j + 1]
        key = (len({m[2] for m in window}), len(window))
        if key > best_key:
            best_key = key
            # Centre the matched span in the window.
            span = window[-1][1] - start
            best_start = max(0, start - (width - span) // 2)
    start = min(best_start, len(text) - width)
    end = start + width
    # Do not cut words: move the edges outwards to the next space (a few characters).
    if start > 0:
        space = text.rfind(" ", max(0, start - 20), start + 1)
        start = space + 1 if space >= 0 else start
    if end < len(text):
        space = text.find(" ", end, end + 20)
        end = space if space >= 0 else end
    return ("…" if start > 0 else "") + text[start:end] + ("…" if end < len(text) else "")
