"""How questions are worded: phrasings of relations, attributes, comparisons, intersections.

Each entry lists interchangeable phrasings; the question generator picks one with the
task's generator. ``{x}`` is a description of the subject (a name or a nested relation
phrase such as ``the founder of the Tarnel Guild``), ``{a}``/``{b}`` the two sides of a
comparison. Nothing here decides an answer.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from mtenvs.envs.search.world import GENRES, MEDIA, OCCUPATIONS, SECTORS, EntityType, World
from mtenvs.envs.search.world_text import format_number

__all__ = [
    "ATTRIBUTES",
    "ATTRIBUTE_QUESTIONS",
    "COMPARE_QUESTIONS",
    "FINAL_QUESTIONS",
    "INTERSECT_QUESTIONS",
    "RELATION_PHRASES",
    "SAME_QUESTIONS",
    "attribute_value",
    "describe",
]

Phrasings = tuple[str, ...]

#: Noun phrases for the target of a relation, given the source ``{x}``; ``created_by``
#: depends on the medium of the work (film, novel, album, painting).
RELATION_PHRASES: Final[dict[str, Phrasings]] = {
    "born_in": ("the birthplace of {x}", "the city where {x} was born", "the home town of {x}"),
    "member_of": ("the organisation {x} belonged to", "the organisation that {x} was a member of"),
    "located_in": ("the region that contains {x}", "the region where {x} lies"),
    "founded_by": ("the founder of {x}", "the person who founded {x}"),
    "based_in": ("the city where {x} is based", "the home city of {x}"),
    "held_in": ("the city that hosted {x}", "the city where {x} took place"),
    "organised_by": ("the organiser of {x}", "the organisation that ran {x}"),
    "created_by/film": ("the director of {x}", "the person who directed {x}"),
    "created_by/novel": ("the author of {x}", "the person who wrote {x}"),
    "created_by/album": ("the musician who recorded {x}", "the performer of {x}"),
    "created_by/painting": ("the painter of {x}", "the artist who painted {x}"),
}

#: Questions asking for the target of a relation of ``{x}``.
FINAL_QUESTIONS: Final[dict[str, Phrasings]] = {
    "born_in": ("Where was {x} born?", "In which city was {x} born?", "What is the birthplace of {x}?"),
    "member_of": ("Which organisation was {x} a member of?", "To which organisation did {x} belong?"),
    "located_in": ("In which region does {x} lie?", "Which region contains {x}?"),
    "founded_by": ("Who founded {x}?", "Who was the founder of {x}?"),
    "based_in": ("Where is {x} based?", "In which city is {x} based?"),
    "held_in": ("Where did {x} take place?", "In which city was {x} held?"),
    "organised_by": ("Who organised {x}?", "Which organisation ran {x}?"),
    "created_by/film": ("Who directed {x}?", "Who was the director of {x}?"),
    "created_by/novel": ("Who wrote {x}?", "Who is the author of {x}?"),
    "created_by/album": ("Who recorded {x}?", "Which musician recorded {x}?"),
    "created_by/painting": ("Who painted {x}?", "Which artist painted {x}?"),
}  # fmt: skip

#: The attributes of each type that a question may ask for.
ATTRIBUTES: Final[dict[EntityType, tuple[str, ...]]] = {
    EntityType.REGION: ("area",),
    EntityType.CITY: ("year", "population"),
    EntityType.ORG: ("year", "sector"),
    EntityType.PERSON: ("year", "occupation"),
    EntityType.WORK: ("year", "genre"),
    EntityType.EVENT: ("year",),
}

ATTRIBUTE_QUESTIONS: Final[dict[tuple[EntityType, str], Phrasings]] = {
    (EntityType.REGION, "area"): (
        "What is the area of {x} in square kilometres?",
        "How many square kilometres does {x} cover?",
    ),
    (EntityType.CITY, "year"): ("When was {x} founded?", "In which year was {x} founded?"),
    (EntityType.CITY, "population"): ("What is the population of {x}?", "How many people live in {x}?"),
    (EntityType.ORG, "year"): ("In which year was {x} founded?", "When was {x} established?"),
    (EntityType.ORG, "sector"): ("In which sector is {x} active?", "What sector does {x} work in?"),
    (EntityType.PERSON, "year"): ("In what year was {x} born?", "When was {x} born?"),
    (EntityType.PERSON, "occupation"): ("What was the occupation of {x}?", "What did {x} work as?"),
    (EntityType.WORK, "year"): ("In what year did {x} appear?", "When did {x} first come out?"),
    (EntityType.WORK, "genre"): ("What genre is {x}?", "To which genre does {x} belong?"),
    (EntityType.EVENT, "year"): ("In which year did {x} take place?", "When was {x} held?"),
}  # fmt: skip

#: Numeric comparisons: ``(which-form phrasings, yes/no phrasings)``; for years the
#: smaller value wins ("earlier"), for population the larger.
COMPARE_QUESTIONS: Final[dict[tuple[EntityType, str], tuple[Phrasings, Phrasings]]] = {
    (EntityType.PERSON, "year"): (
        ("Who was born first, {a} or {b}?", "Which of {a} and {b} was born earlier?"),
        ("Was {a} born before {b}?", "Was {a} born earlier than {b}?"),
    ),
    (EntityType.CITY, "year"): (
        ("Which was founded earlier, {a} or {b}?", "Which city is older, {a} or {b}?"),
        ("Was {a} founded before {b}?", "Is {a} an older city than {b}?"),
    ),
    (EntityType.CITY, "population"): (
        ("Which city has more inhabitants, {a} or {b}?", "Which is more populous, {a} or {b}?"),
        ("Does {a} have more inhabitants than {b}?", "Is {a} more populous than {b}?"),
    ),
    (EntityType.ORG, "year"): (
        ("Which was founded earlier, {a} or {b}?", "Which is older, {a} or {b}?"),
        ("Was {a} founded before {b}?", "Is {a} older than {b}?"),
    ),
    (EntityType.WORK, "year"): (
        ("Which came out first, {a} or {b}?", "Which appeared earlier, {a} or {b}?"),
        ("Did {a} come out before {b}?", "Did {a} appear earlier than {b}?"),
    ),
    (EntityType.EVENT, "year"): (
        ("Which took place earlier, {a} or {b}?", "Which was held first, {a} or {b}?"),
        ("Did {a} take place before {b}?", "Was {a} held earlier than {b}?"),
    ),
}

#: Yes/no questions: do ``{a}`` and ``{b}`` share the target of a relation?
SAME_QUESTIONS: Final[dict[str, Phrasings]] = {
    "born_in": ("Were {a} and {b} born in the same city?", "Do {a} and {b} share a birthplace?"),
    "member_of": ("Did {a} and {b} belong to the same organisation?",),
    "located_in": ("Are {a} and {b} in the same region?", "Do {a} and {b} lie in one region?"),
    "founded_by": ("Were {a} and {b} founded by the same person?",),
    "based_in": ("Are {a} and {b} based in the same city?",),
    "created_by": ("Were {a} and {b} made by the same person?", "Do {a} and {b} share a creator?"),
    "held_in": ("Were {a} and {b} held in the same city?",),
    "organised_by": ("Were {a} and {b} organised by the same organisation?",),
}

#: Intersections: ``(answer type, first relation, second relation or attribute)`` ->
#: phrasings with ``{p}``, ``{q}`` the two constraints (a description or a value).
INTERSECT_QUESTIONS: Final[dict[tuple[EntityType, str, str], Phrasings]] = {
    (EntityType.PERSON, "born_in", "member_of"): (
        "Which person was born in {p} and was a member of {q}?",
        "Who was born in {p} and belonged to {q}?",
    ),
    (EntityType.EVENT, "held_in", "organised_by"): (
        "Which event took place in {p} and was organised by {q}?",
        "What event organised by {q} was held in {p}?",
    ),
    (EntityType.ORG, "based_in", "founded_by"): (
        "Which organisation based in {p} was founded by {q}?",
        "What organisation in {p} did {q} found?",
    ),
    (EntityType.PERSON, "member_of", "year"): (
        "Which member of {p} was born in {q}?",
        "Who among the members of {p} was born in {q}?",
    ),
    (EntityType.WORK, "created_by", "year"): (
        "Which work by {p} came out in {q}?",
        "What did {p} create in {q}?",
    ),
    (EntityType.CITY, "located_in", "year"): (
        "Which city in {p} was founded in {q}?",
        "What city of {p} dates its founding to {q}?",
    ),
    (EntityType.EVENT, "organised_by", "year"): (
        "Which event organised by {p} took place in {q}?",
        "What did {p} organise in {q}?",
    ),
    (EntityType.PERSON, "born_in", "occupation"): (
        "Which {q} was born in {p}?",
        "Who was the {q} born in {p}?",
    ),
}


def attribute_value(world: World, entity: int, attribute: str) -> str:
    """``entity``'s ``attribute`` as documents write it (``1873``, ``12,300``, ``painter``)."""
    if attribute == "year":
        return str(int(world.year[entity]))
    if attribute in ("population", "area"):
        return format_number(int(world.number[entity]))
    table = {"occupation": OCCUPATIONS, "sector": SECTORS, "genre": GENRES}[attribute]
    return table[int(world.category[entity])]


def relation_key(world: World, relation: str, source: int) -> str:
    """The key of :data:`RELATION_PHRASES` / :data:`FINAL_QUESTIONS` for ``source``."""
    if relation == "created_by":
        return f"created_by/{MEDIA[int(world.medium[source])]}"
    return relation


def describe(world: World, entity: int, rng: np.random.Generator) -> tuple[str, str]:
    """``(description, spelling)``: how a question names ``entity`` (its name, or one
    time in three its unique alias), with ``the`` or the medium of a work in front."""
    spellings = world.names_of(entity)
    spelling = spellings[-1] if len(spellings) > 1 and rng.random() < 1 / 3 else spellings[0]
    t = world.type_of(entity)
    if t in (EntityType.REGION, EntityType.ORG, EntityType.EVENT):
        return "the " + spelling, spelling
    if t == EntityType.WORK and rng.random() < 0.5:
        return f"the {MEDIA[int(world.medium[entity])]} {spelling}", spelling
    return spelling, spelling
