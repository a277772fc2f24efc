"""The generated world: names, splits, facts, documents, determinism across processes."""

from __future__ import annotations

import hashlib
import itertools
import re
import subprocess
import sys

import numpy as np
import pytest

from mtenvs.envs.search import world_names
from mtenvs.envs.search.world import (
    MEDIA,
    OCCUPATIONS,
    RELATIONS,
    SPLITS,
    WORLD_SIZES,
    EntityType,
    World,
    WorldSpec,
    world_spec,
)
from mtenvs.envs.search.world_text import format_number
from mtenvs.error import InvalidArgumentError

TINY = WORLD_SIZES["tiny"]
SMALL = WORLD_SIZES["small"]

_DIGEST_SCRIPT = """
import hashlib
from mtenvs.envs.search.world import World, WorldSpec
w = World.generate(WorldSpec(seed=3, n_entities=400))
h = hashlib.sha256()
for d in w.documents():
    h.update(f"{d.id}\\t{d.title}\\t{d.text}\\n".encode())
print(h.hexdigest())
"""


def _digest(world: World) -> str:
    h = hashlib.sha256()
    for d in world.documents():
        h.update(f"{d.id}\t{d.title}\t{d.text}\n".encode())
    return h.hexdigest()


def test_syllable_words_are_injective():
    # The parse argument in world_names: no two codes spell one word, across lengths too.
    words = [world_names.word(c, 2) for c in range(world_names.BASE**2)]
    words += [world_names.word(c, 3) for c in range(world_names.BASE**3)]
    assert len(set(words)) == len(words)
    four = [world_names.word(c, 4) for c in range(0, world_names.BASE**4, 997)]
    assert not set(four) & set(words) and len(set(four)) == len(four)
    # Twins: codes 2k and 2k + 1 differ in one vowel of the last syllable.
    a, b = world_names.word(2 * 1234, 3), world_names.word(2 * 1234 + 1, 3)
    assert len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) == 1


@pytest.mark.parametrize("spec", [TINY, SMALL], ids=["tiny", "small"])
def test_every_name_and_unique_alias_names_one_entity(spec):
    world = World.generate(spec)
    spellings = [s for e in range(world.num_documents) for s in world.names_of(e)]
    assert len(spellings) == len(set(spellings))
    assert all(world.lookup(s) and len(world.lookup(s)) == 1 for s in spellings[:50])
    assert world.lookup("No Such Name") == []
    titles = [world.name(e) for e in range(world.num_documents)]
    assert all(re.fullmatch(r"[A-Z][A-Za-z ]+", t) for t in titles)


def test_counts_types_and_splits():
    world = World.generate(SMALL)
    assert world.num_documents == SMALL.n_entities == 3000
    per_split = {s: sum(len(world.entities(s, t)) for t in EntityType) for s in SPLITS}
    assert per_split == {"train": 2400, "validation": 300, "test": 300}
    for split in SPLITS:
        for t in EntityType:
            block = world.entities(split, t)
            assert len(block) >= 1
            assert all(world.split_of(e) == split and world.type_of(e) == t for e in block)
    with pytest.raises(InvalidArgumentError, match="'train', 'validation', 'test'"):
        world.entities("dev", EntityType.CITY)


def test_relations_are_functions_within_one_split():
    world = World.generate(SMALL)
    for rel in RELATIONS.values():
        sources = np.flatnonzero(world.etype == rel.source)
        targets = world.rel[rel.slot, sources]
        assert (targets >= 0).all()
        assert (world.etype[targets] == rel.target).all(), rel.name
        assert (world.split[targets] == world.split[sources]).all(), rel.name
        # The inverse index lists exactly the sources of each target.
        for target in np.unique(targets)[:30]:
            expected = sources[targets == target].tolist()
            assert world.sources(rel.name, int(target)) == expected

    for slot in (0, 1):
        # A type without a relation in this slot holds -1 there.
        users = [int(r.source) for r in RELATIONS.values() if r.slot == slot]
        assert (world.rel[slot, ~np.isin(world.etype, users)] == -1).all()


def test_facts_are_plausible():
    world = World.generate(SMALL)
    org = np.flatnonzero(world.etype == EntityType.ORG)
    founder = world.rel[0, org]
    assert (world.year[org] - world.year[founder] >= 20).all()
    work = np.flatnonzero(world.etype == EntityType.WORK)
    assert (world.year[work] - world.year[world.rel[0, work]] >= 18).all()
    event = np.flatnonzero(world.etype == EntityType.EVENT)
    assert (world.year[event] >= world.year[world.rel[1, event]]).all()
    assert world.year.max() <= 2024
    city = np.flatnonzero(world.etype == EntityType.CITY)
    assert (world.number[city] >= 1000).all()


def test_twins_have_near_identical_names_and_their_own_facts():
    world = World.generate(SMALL)
    twins = np.flatnonzero(world.twin_of >= 0)
    assert 0.08 < len(twins) / world.num_documents < 0.11
    differs = 0
    for twin in twins:
        original = int(world.twin_of[twin])
        assert world.type_of(int(twin)) == world.type_of(original)
        assert world.split_of(int(twin)) == world.split_of(original)
        a, b = world.name(int(twin)), world.name(original)
        assert a != b and len(a) == len(b)
        assert sum(x != y for x, y in zip(a, b, strict=True)) == 1
        differs += world.rel[0, twin] != world.rel[0, original]
    assert differs > len(twins) // 2


def test_documents_stream_with_stable_unique_ids():
    world = World.generate(TINY)
    docs = list(world.documents())
    assert [d.id for d in docs] == [f"d{i:07d}" for i in range(world.num_documents)]
    entities = [world.entity_of_doc(d.id) for d in docs]
    assert sorted(entities) == list(range(world.num_documents))
    for d in docs[::7]:
        assert world.document(d.id) == d
        assert world.doc_id(world.entity_of_doc(d.id)) == d.id
        assert d.title == world.name(world.entity_of_doc(d.id))
        assert d.text.isascii() and d.text.strip() == d.text
    # Document order does not follow the blocks (split, type): ids reveal nothing.
    first_types = {world.type_of(e) for e in entities[:30]}
    assert len(first_types) >= 3


@pytest.mark.parametrize("bad", ["x0000001", "d00001", "d9999999", "d-000001", 17, None])
def test_unknown_document_ids_raise(bad):
    world = World.generate(TINY)
    with pytest.raises(InvalidArgumentError, match="d0000000"):
        world.document(bad)


def test_documents_state_their_facts_and_list_back_references():
    world = World.generate(SMALL)
    for entity in range(0, world.num_documents, 11):
        text = world.document(world.doc_id(entity)).text
        t = world.type_of(entity)
        assert world.name(entity) in text
        if t != EntityType.REGION:
            assert str(int(world.year[entity])) in text
        if t == EntityType.CITY:
            assert format_number(int(world.number[entity])) in text
        if t == EntityType.PERSON:
            assert OCCUPATIONS[world.category[entity]] in text
        if t == EntityType.WORK:
            assert MEDIA[world.medium[entity]] in text
        alias = world.unique_alias(entity)
        assert alias is None or alias in text
        for rel in RELATIONS.values():
            if rel.source == t:
                target = world.target(rel.name, entity)
                assert any(s in text for s in world.names_of(target)), (rel.name, text)
            if rel.target == t:
                for source in world.sources(rel.name, entity):
                    assert any(s in text for s in world.names_of(source)), (rel.name, text)


def test_documents_vary_in_wording_and_length():
    world = World.generate(SMALL)
    docs = list(world.documents())
    lengths = np.array([len(d.text) for d in docs])
    assert lengths.min() > 40
    assert 0.05 < (lengths > 1000).mean() < 0.5  # some documents run past one page
    person_openings = {
        re.sub(r"[A-Z][a-z]+ [A-Z][a-z]+|\d{4}|an? [a-z]+", "_", d.text.split(".")[0])
        for d in docs
        if world.type_of(world.entity_of_doc(d.id)) == EntityType.PERSON
    }
    assert len(person_openings) >= 4


def test_same_spec_same_world_in_another_process():
    spec = WorldSpec(seed=3, n_entities=400)
    here = _digest(World(spec))
    there = subprocess.run(
        [sys.executable, "-c", _DIGEST_SCRIPT], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert here == there
    assert _digest(World(WorldSpec(seed=4, n_entities=400))) != here


def test_generate_is_cached_and_fast():
    world = World.generate(SMALL)
    assert World.generate(WorldSpec(seed=0, n_entities=3000)) is world
    fresh = World(WorldSpec(seed=0, n_entities=3000))
    assert [d for d in itertools.islice(fresh.documents(), 50)] == list(
        itertools.islice(world.documents(), 50)
    )


def test_sizes_and_specs():
    assert [WORLD_SIZES[s].n_entities for s in ("tiny", "small", "medium", "large", "xl")] == [
        300,
        3_000,
        10_000,
        100_000,
        1_000_000,
    ]
    assert world_spec("small") == SMALL
    assert SMALL.key == "w-s0-n3000-v1"
    with pytest.raises(InvalidArgumentError, match="'tiny', 'small', 'medium', 'large', 'xl'"):
        world_spec("huge")
    for bad in ({"seed": -1, "n_entities": 300}, {"seed": 0, "n_entities": 10}):
        with pytest.raises(InvalidArgumentError, match="must be an int in"):
            WorldSpec(**bad)
    assert World.generate("small") is World.generate(SMALL)
    with pytest.raises(InvalidArgumentError, match="'tiny', 'small'"):
        World.generate("huge")
    with pytest.raises(InvalidArgumentError, match="WorldSpec or a size name"):
        World.generate(3000)  # type: ignore[arg-type]
