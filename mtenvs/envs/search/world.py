"""The generated world of the Search family: entities, facts and one document per entity.

A :class:`World` is drawn from a :class:`WorldSpec` (seed and size) and is the same in every
process. It holds compact numpy arrays, one slot per entity:

======== ====================== =========================== ==============================
type     attributes             relation ``a``              relation ``b``
======== ====================== =========================== ==============================
region   area (km²)             --                          --
city     founding year,         ``located_in`` region       --
         population
org      founding year, sector  ``founded_by`` person       ``based_in`` city
person   birth year, occupation ``born_in`` city            ``member_of`` org
work     year, genre, medium    ``created_by`` person       --
event    year                   ``held_in`` city            ``organised_by`` org
======== ====================== =========================== ==============================

Every relation is a function (one target per entity), so a chain of relations from a named
entity always has one answer. Entities are laid out in blocks by split, then type, and a
relation only links entities of the same split: ``train`` / ``validation`` / ``test``
(80 / 10 / 10 %) are disjoint worlds sharing one corpus, and a question of one split only
touches entities of that split. One entity in ten is a *twin*: its name differs from
another entity's of the same block by one vowel (:mod:`~mtenvs.envs.search.world_names`)
while its facts are drawn afresh, so its document is a distractor for searches on the
other's name.

Document ``d<7 digits>`` describes one entity (:mod:`~mtenvs.envs.search.world_text`);
document numbers are a fixed permutation of entity numbers, so neither the split nor the
type can be read from an id, and :meth:`World.document` regenerates any one in O(1).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from mtenvs.envs.search.types import Document
from mtenvs.envs.search.world_facts import (
    GENRES,
    MEDIA,
    MEDIUM_VERBS,
    OCCUPATIONS,
    RELATIONS,
    SECTORS,
    SPLITS,
    WORLD_FORMAT,
    WORLD_SIZES,
    EntityType,
    Relation,
    SearchSplit,
    WorldFacts,
    WorldSpec,
    world_spec,
)
from mtenvs.envs.search.world_text import write_document
from mtenvs.error import InvalidArgumentError

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
    "World",
    "WorldSpec",
    "world_spec",
]


class World(WorldFacts):
    """A generated world: its facts (:class:`~mtenvs.envs.search.world_facts.WorldFacts`)
    and one document per entity; build one with :meth:`generate`."""

    # -- construction and documents -------------------------------------------------------

    @classmethod
    def generate(cls, spec: WorldSpec | str) -> World:
        """The world of ``spec`` or of a named size (``"small"``); the last few worlds are
        kept, so asking again is free."""
        return _generate(world_spec(spec) if isinstance(spec, str) else spec)

    @property
    def num_documents(self) -> int:
        """Documents in the corpus: one per entity."""
        return self.spec.n_entities

    def documents(self) -> Iterator[Document]:
        """Every document in id order, written one at a time (nothing is kept)."""
        a_inv, b, n = self._perm[2], self._perm[1], self.spec.n_entities
        for number in range(n):
            entity = (a_inv * (number - b)) % n
            yield Document(f"d{number:07d}", self.name(entity), write_document(self, entity))

    def document(self, doc_id: str) -> Document:
        """The document ``doc_id`` (``d`` and 7 digits); an unknown id raises."""
        entity = self.entity_of_doc(doc_id)
        return Document(doc_id, self.name(entity), write_document(self, entity))


_CACHE: dict[WorldSpec, World] = {}
_CACHE_SIZE: Final = 4


def _generate(spec: WorldSpec) -> World:
    if not isinstance(spec, WorldSpec):
        raise InvalidArgumentError(
            f"expected a WorldSpec or a size name ({', '.join(map(repr, WORLD_SIZES))}), "
            f"got {spec!r}"
        )
    world = _CACHE.pop(spec, None) or World(spec)
    _CACHE[spec] = world
    while len(_CACHE) > _CACHE_SIZE:
        del _CACHE[next(iter(_CACHE))]
    return world
