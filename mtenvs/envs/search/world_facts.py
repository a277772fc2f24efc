"""The facts of the Search family's generated world: entities, attributes, relations.

:class:`WorldFacts` holds them as compact numpy arrays; :class:`~mtenvs.envs.search.world.World`
adds the documents (:mod:`~mtenvs.envs.search.world_text` writes them from these facts, so
it imports this module and not :mod:`~mtenvs.envs.search.world`). See
:mod:`~mtenvs.envs.search.world` for the layout of a world.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property
from typing import Final, Literal

import numpy as np

from mtenvs.core.tasks import stable_rng
from mtenvs.envs.search import world_names as names
from mtenvs.error import InvalidArgumentError, check_choice

__all__ = [
    "GENRES",
    "MEDIA",
    "MEDIUM_VERBS",
    "OCCUPATIONS",
    "RELATIONS",
    "SECTORS",
    "SPLITS",
    "WORLD_FORMAT",
    "WORLD_SIZES",
    "EntityType",
    "Relation",
    "SearchSplit",
    "WorldFacts",
    "WorldSpec",
    "world_spec",
]

#: Bumped whenever the same spec would generate a different world (it is in ``spec.key``).
WORLD_FORMAT: Final = 1
SearchSplit = Literal["train", "validation", "test"]
SPLITS: Final[tuple[SearchSplit, ...]] = ("train", "validation", "test")
_SPLIT_FRACTIONS: Final = (0.8, 0.1, 0.1)
MIN_ENTITIES: Final = 200
MAX_ENTITIES: Final = 5_000_000
_TWIN_RATE: Final = 0.1
_ALIAS_RATE: Final = 0.5
LAST_YEAR: Final = 2024


class EntityType(IntEnum):
    """The kinds of entity; the world's blocks follow this order within a split."""

    REGION = 0
    CITY = 1
    ORG = 2
    PERSON = 3
    WORK = 4
    EVENT = 5


_TYPE_FRACTIONS: Final = (0.01, 0.09, 0.15, 0.45, 0.20, 0.10)
_TYPE_MINIMUM: Final = (1, 3, 3, 8, 4, 3)
_W3: Final = names.BASE**3
#: Size of each type's name-code space (see :mod:`world_names`).
_NAME_SPACE: Final = {
    EntityType.REGION: _W3 * len(names.REGION_KINDS),
    EntityType.CITY: _W3,
    EntityType.ORG: _W3 * len(names.ORG_KINDS),
    EntityType.PERSON: names.BASE**5,
    EntityType.WORK: _W3 * len(names.WORK_PATTERNS),
    EntityType.EVENT: _W3 * len(names.EVENT_KINDS),
}
OCCUPATIONS: Final = (
    "painter", "engineer", "poet", "botanist", "architect", "composer", "cartographer",
    "physician", "sculptor", "astronomer", "historian", "weaver", "shipwright", "jurist",
    "glassblower", "mathematician",
)  # fmt: skip
SECTORS: Final = (
    "shipping", "textiles", "printing", "banking", "mining", "research", "education", "brewing",
)  # fmt: skip
GENRES: Final = ("drama", "comedy", "mystery", "romance", "adventure", "satire", "tragedy", "fable")
#: Work media and the verb of their ``created_by`` relation.
MEDIA: Final = ("film", "novel", "album", "painting")
MEDIUM_VERBS: Final = ("directed", "written", "recorded", "painted")
_MIDDLE_INITIALS: Final = "ABCDEFGHJKLMNPRSTW"
# Plain ints for the per-document hot path (IntEnum attribute access is slow).
_PERSON, _CITY, _WORK = int(EntityType.PERSON), int(EntityType.CITY), int(EntityType.WORK)
_KIND_WORDS: Final = {
    int(EntityType.REGION): names.REGION_KINDS,
    int(EntityType.ORG): names.ORG_KINDS,
    int(EntityType.EVENT): names.EVENT_KINDS,
}


@dataclass(frozen=True)
class Relation:
    """A functional relation: each ``source`` entity has one ``target`` entity."""

    name: str
    source: EntityType
    target: EntityType
    #: Which of the two relation arrays holds it.
    slot: Literal[0, 1]


RELATIONS: Final[dict[str, Relation]] = {
    r.name: r
    for r in (
        Relation("located_in", EntityType.CITY, EntityType.REGION, 0),
        Relation("founded_by", EntityType.ORG, EntityType.PERSON, 0),
        Relation("based_in", EntityType.ORG, EntityType.CITY, 1),
        Relation("born_in", EntityType.PERSON, EntityType.CITY, 0),
        Relation("member_of", EntityType.PERSON, EntityType.ORG, 1),
        Relation("created_by", EntityType.WORK, EntityType.PERSON, 0),
        Relation("held_in", EntityType.EVENT, EntityType.CITY, 0),
        Relation("organised_by", EntityType.EVENT, EntityType.ORG, 1),
    )
}


@dataclass(frozen=True)
class WorldSpec:
    """What determines a world: its seed and its number of entities (= documents)."""

    seed: int
    n_entities: int

    def __post_init__(self) -> None:
        for name, value, low, high in (
            ("seed", self.seed, 0, 2**63 - 1),
            ("n_entities", self.n_entities, MIN_ENTITIES, MAX_ENTITIES),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InvalidArgumentError(
                    f"WorldSpec {name} must be an int in [{low}, {high}], got {value!r}."
                )

    @property
    def key(self) -> str:
        """A short stable name for cache paths and task ids, e.g. ``w-s0-n3000-v1``."""
        return f"w-s{self.seed}-n{self.n_entities}-v{WORLD_FORMAT}"


#: The named sizes; ``small`` (3 k documents) is the env's default.
WORLD_SIZES: Final[dict[str, WorldSpec]] = {
    "tiny": WorldSpec(seed=0, n_entities=300),
    "small": WorldSpec(seed=0, n_entities=3_000),
    "medium": WorldSpec(seed=0, n_entities=10_000),
    "large": WorldSpec(seed=0, n_entities=100_000),
    "xl": WorldSpec(seed=0, n_entities=1_000_000),
}


def world_spec(size: str) -> WorldSpec:
    """The spec of a named size; an unknown name raises, naming the sizes."""
    check_choice("world size", size, WORLD_SIZES)
    return WORLD_SIZES[size]


def _block_counts(n: int) -> np.ndarray:
    """Entities per (split, type): shape (3, 6), summing to ``n``."""
    counts = np.zeros((len(SPLITS), len(EntityType)), dtype=np.int64)
    left = n
    for s, fraction in enumerate(_SPLIT_FRACTIONS):
        n_split = left if s == len(SPLITS) - 1 else round(n * fraction)
        left -= n_split
        for t, (tf, low) in enumerate(zip(_TYPE_FRACTIONS, _TYPE_MINIMUM, strict=True)):
            counts[s, t] = max(low, round(n_split * tf))
        counts[s, EntityType.PERSON] += n_split - counts[s].sum()
    return counts


class WorldFacts:
    """A generated world's entities and facts, without its text (see :class:`World`)."""

    def __init__(self, spec: WorldSpec) -> None:
        """Generate the facts of ``spec`` (prefer :meth:`World.generate`, which caches)."""
        self.spec = spec
        n = spec.n_entities
        rng = stable_rng("search-world", WORLD_FORMAT, spec.seed, n)
        counts = _block_counts(n)
        starts = np.concatenate([[0], np.cumsum(counts.ravel())])
        self._starts = starts
        flat_types = np.tile(np.arange(len(EntityType)), len(SPLITS))
        flat_splits = np.repeat(np.arange(len(SPLITS)), len(EntityType))
        self.etype = np.repeat(flat_types, counts.ravel()).astype(np.int8)
        self.split = np.repeat(flat_splits, counts.ravel()).astype(np.int8)
        self.twin_of = np.full(n, -1, dtype=np.int32)
        for block, count in enumerate(counts.ravel()):
            n_twins = int(count * _TWIN_RATE)
            lo = int(starts[block])
            n_orig = int(count) - n_twins
            originals = rng.choice(n_orig, size=n_twins, replace=False) + lo
            self.twin_of[lo + n_orig : lo + int(count)] = originals
        self.code = np.zeros(n, dtype=np.int64)
        twins = self.twin_of >= 0
        for t in EntityType:
            mine = np.flatnonzero((self.etype == t) & ~twins)
            space = _NAME_SPACE[t] // 2
            if len(mine) > space:  # pragma: no cover - MAX_ENTITIES keeps this away
                raise InvalidArgumentError(f"too many {t.name.lower()} entities for names")
            self.code[mine] = 2 * rng.choice(space, size=len(mine), replace=False)
        self.code[twins] = self.code[self.twin_of[twins]] + 1
        self._draw_aliases(rng)
        self._draw_facts(rng, counts, starts)
        # The document permutation: doc number = (A * entity + B) mod n, A coprime to n.
        a = int(rng.integers(1, n))
        while math.gcd(a, n) != 1:
            a += 1
        self._perm = (a, int(rng.integers(0, n)), pow(a, -1, n))
        self.text_key = int(rng.integers(0, 2**63))

    def _draw_aliases(self, rng: np.random.Generator) -> None:
        n = self.spec.n_entities
        #: -1: no alias; person: middle initial index; city: 4-syllable old-name code;
        #: org and event: 0 ("Guild of X", "Festival of X" are spelled from the name).
        self.alias_code = np.full(n, -1, dtype=np.int64)
        has = rng.random(n) < _ALIAS_RATE
        person = has & (self.etype == EntityType.PERSON)
        self.alias_code[person] = rng.integers(0, len(_MIDDLE_INITIALS), int(person.sum()))
        city = has & (self.etype == EntityType.CITY)
        self.alias_code[city] = rng.choice(names.BASE**4, size=int(city.sum()), replace=False)
        self.alias_code[has & np.isin(self.etype, (EntityType.ORG, EntityType.EVENT))] = 0

    def _draw_facts(self, rng: np.random.Generator, counts: np.ndarray, starts: np.ndarray) -> None:
        n = self.spec.n_entities
        et = self.etype
        self.rel = np.full((2, n), -1, dtype=np.int32)
        for s in range(len(SPLITS)):
            for rel in RELATIONS.values():
                src = int(starts[s * len(EntityType) + rel.source])
                n_src = int(counts[s, rel.source])
                tgt = int(starts[s * len(EntityType) + rel.target])
                n_tgt = int(counts[s, rel.target])
                self.rel[rel.slot, src : src + n_src] = tgt + rng.integers(0, n_tgt, n_src)
        year = np.zeros(n, dtype=np.int64)
        is_person, is_city = et == EntityType.PERSON, et == EntityType.CITY
        is_org, is_work, is_event = (
            et == EntityType.ORG,
            et == EntityType.WORK,
            et == EntityType.EVENT,
        )
        year[is_person] = rng.integers(1700, 1961, int(is_person.sum()))
        year[is_city] = rng.integers(700, 1851, int(is_city.sum()))
        year[is_org] = year[self.rel[0, is_org]] + rng.integers(20, 51, int(is_org.sum()))
        born = year[self.rel[0, is_work]]
        span = np.minimum(LAST_YEAR, born + 78) - born - 18
        year[is_work] = born + 18 + (rng.random(int(is_work.sum())) * (span + 1)).astype(np.int64)
        founded = year[self.rel[1, is_event]]
        room = LAST_YEAR + 1 - founded
        year[is_event] = founded + (rng.random(int(is_event.sum())) * room).astype(np.int64)
        self.year = year.astype(np.int16)
        self.number = np.zeros(n, dtype=np.int64)
        pop = 10 ** rng.uniform(3.3, 6.6, int(is_city.sum()))
        digits = 10 ** np.maximum(0, np.floor(np.log10(pop)) - 2)
        self.number[is_city] = (np.round(pop / digits) * digits).astype(np.int64)
        is_region = et == EntityType.REGION
        self.number[is_region] = rng.integers(80, 6000, int(is_region.sum())) * 10
        self.category = np.zeros(n, dtype=np.int8)
        self.category[is_person] = rng.integers(0, len(OCCUPATIONS), int(is_person.sum()))
        self.category[is_org] = rng.integers(0, len(SECTORS), int(is_org.sum()))
        self.category[is_work] = rng.integers(0, len(GENRES), int(is_work.sum()))
        self.medium = np.zeros(n, dtype=np.int8)
        self.medium[is_work] = rng.integers(0, len(MEDIA), int(is_work.sum()))

    def doc_id(self, entity: int) -> str:
        """The id of ``entity``'s document."""
        a, b, _ = self._perm
        return f"d{(a * entity + b) % self.spec.n_entities:07d}"

    def entity_of_doc(self, doc_id: str) -> int:
        """The entity that document ``doc_id`` describes; an unknown id raises."""
        n = self.spec.n_entities
        ok = isinstance(doc_id, str) and len(doc_id) == 8 and doc_id[0] == "d"
        if not ok or not doc_id[1:].isdigit() or int(doc_id[1:]) >= n:
            raise InvalidArgumentError(
                f"Unknown document id {doc_id!r}; ids are 'd' and 7 digits, "
                f"from 'd0000000' to 'd{n - 1:07d}'."
            )
        return (self._perm[2] * (int(doc_id[1:]) - self._perm[1])) % n

    # -- entities ----------------------------------------------------------------------

    def split_of(self, entity: int) -> SearchSplit:
        """The split ``entity`` belongs to."""
        return SPLITS[int(self.split[entity])]

    def type_of(self, entity: int) -> EntityType:
        """The type of ``entity``."""
        return EntityType(int(self.etype[entity]))

    def entities(self, split: str, etype: EntityType) -> range:
        """The entities of one type in one split (a contiguous block)."""
        check_choice("split", split, SPLITS)
        block = SPLITS.index(split) * len(EntityType) + etype  # type: ignore[arg-type]
        return range(int(self._starts[block]), int(self._starts[block + 1]))

    def target(self, relation: str, entity: int) -> int:
        """The entity that ``relation`` links ``entity`` to."""
        return int(self.rel[RELATIONS[relation].slot, entity])

    def sources(self, relation: str, entity: int) -> list[int]:
        """The entities that ``relation`` links to ``entity``, in entity order."""
        offsets, sources = self._inverse[relation]
        return sources[offsets[entity] : offsets[entity + 1]].tolist()

    @cached_property
    def _inverse(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per relation: ``(offsets, sources)``, the sources pointing at entity ``e`` being
        ``sources[offsets[e]:offsets[e + 1]]`` (compressed rows, int32)."""
        out = {}
        every = np.arange(self.spec.n_entities + 1, dtype=np.int32)
        for rel in RELATIONS.values():
            src = np.flatnonzero(self.etype == rel.source).astype(np.int32)
            tgt = self.rel[rel.slot, src]
            order = np.argsort(tgt, kind="stable")
            offsets = np.searchsorted(tgt[order], every).astype(np.int32)
            out[rel.name] = (offsets, src[order])
        return out

    def name(self, entity: int) -> str:
        """The canonical name of ``entity`` (its document's title)."""
        t, code = int(self.etype[entity]), int(self.code[entity])
        if t == _PERSON:
            return f"{names.word(code & 4095, 2)} {names.word(code >> 12, 3)}"
        if t == _CITY:
            return names.word(code, 3)
        kind, stem = divmod(code, _W3)
        if t == _WORK:
            return names.WORK_PATTERNS[kind].format(names.word(stem, 3))
        return f"{names.word(stem, 3)} {_KIND_WORDS[t][kind]}"

    def unique_alias(self, entity: int) -> str | None:
        """Another name of ``entity`` that no other entity bears, or ``None``."""
        code = int(self.alias_code[entity])
        if code < 0:
            return None
        t = int(self.etype[entity])
        if t == _PERSON:
            given, family = self.name(entity).split(" ")
            return f"{given} {_MIDDLE_INITIALS[code]}. {family}"
        if t == _CITY:
            return names.word(code, 4)
        kind, stem = divmod(int(self.code[entity]), _W3)
        table = _KIND_WORDS[t]
        return f"{table[kind]} of {names.word(stem, 3)}"

    def short_name(self, entity: int) -> str:
        """How a document refers to its entity after the first mention (may be shared)."""
        t = int(self.etype[entity])
        if t == _PERSON:
            return self.name(entity).split(" ")[1]
        if t in _KIND_WORDS:
            return "the " + self.name(entity)
        return self.name(entity)

    def names_of(self, entity: int) -> tuple[str, ...]:
        """The canonical name, then the unique alias if any: the spellings that identify it."""
        alias = self.unique_alias(entity)
        return (self.name(entity),) if alias is None else (self.name(entity), alias)

    def lookup(self, name: str) -> list[int]:
        """Every entity whose canonical name or unique alias is ``name`` (builds an index
        of all names on first use: meant for checks, not for the hot path)."""
        return self._name_index.get(name, [])

    @cached_property
    def _name_index(self) -> dict[str, list[int]]:
        index: dict[str, list[int]] = {}
        for entity in range(self.spec.n_entities):
            for spelling in self.names_of(entity):
                index.setdefault(spelling, []).append(entity)
        return index
