"""The document writer: one entity's facts as a few paragraphs of plain English.

Each fact has several phrasings; which one a document uses, whether another entity is
named by its canonical name or its unique alias, and how many neutral background sentences
pad the document (some run past one page) all come from a cheap per-document hash of the
world's ``text_key`` and the entity, so a document is the same every time it is written.

A document states its entity's attributes and outgoing relations, and lists *every*
entity that points at it (the people born in a city, an organisation's members, a person's
works...): the lists are what make intersection questions answerable from two documents.
Background sentences state no fact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from mtenvs.envs.search.world_facts import (
    GENRES,
    MEDIA,
    MEDIUM_VERBS,
    OCCUPATIONS,
    SECTORS,
    EntityType,
)
from mtenvs.envs.search.world_names import BASE, EVENT_KINDS, ORG_KINDS, initials

if TYPE_CHECKING:
    from mtenvs.envs.search.world_facts import WorldFacts as World

__all__ = ["format_number", "mention", "write_document"]

_MASK: Final = (1 << 64) - 1
#: Codes per name stem: an organisation or event code is ``stem + kind * _W3``.
_W3: Final = BASE**3


def _mix(x: int) -> int:
    """splitmix64's finaliser: a well-spread 64-bit value from any integer."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


class _Draw:
    """Deterministic small choices from a 64-bit hash, refilled by rehashing."""

    __slots__ = ("bits", "state")

    def __init__(self, seed: int) -> None:
        self.state = seed & _MASK
        self.bits = _mix(self.state)

    def below(self, n: int) -> int:
        if self.bits < 1 << 16:
            self.state += 1
            self.bits = _mix(self.state) | 1 << 63
        self.bits, value = divmod(self.bits, n)
        return value

    def pick(self, options: Sequence[str]) -> str:
        return options[self.below(len(options))]


_WITH_ARTICLE: Final = frozenset(
    int(t) for t in (EntityType.REGION, EntityType.ORG, EntityType.EVENT)
)


def format_number(value: int) -> str:
    """``12,300`` for ``12300`` (how documents and answers write numbers)."""
    return f"{value:,}"


def mention(world: World, entity: int, draw: _Draw | None = None) -> str:
    """How a document names another entity: its name or (one time in four) its unique
    alias, with ``the`` before regions, organisations and events."""
    alias = world.unique_alias(entity)
    text = alias if alias is not None and draw is not None and draw.below(4) == 0 else None
    text = text or world.name(entity)
    if int(world.etype[entity]) in _WITH_ARTICLE:
        return "the " + text
    return text


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _a(word: str) -> str:
    """``word`` with its indefinite article."""
    return ("an " if word[0] in "aeiou" else "a ") + word


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


#: Background sentences any document may carry: they state no fact about anything.
_GENERIC: Final = (
    "Sources on this subject are scattered across several archives.",
    "The account given here follows the most widely cited references.",
    "Some of the older records were damaged by damp and are hard to read.",
    "Dates in the earliest documents follow a local calendar and were converted later.",
    "Spellings of names vary between the surviving sources.",
    "A number of details remain disputed among specialists.",
    "Much of the surviving correspondence has not yet been published.",
    "Local newspapers of the period are an important source.",
    "Several catalogues list the same items under different headings.",
    "Researchers have noted gaps in the record for certain decades.",
    "The earliest printed account appeared many years after the fact.",
    "Oral tradition preserves a few further stories of uncertain value.",
    "Modern summaries often repeat errors from a single early source.",
    "The municipal archive holds further material that is yet to be indexed.",
)

_FILLER: Final = {
    EntityType.PERSON: (
        "{S} kept detailed diaries that survive in private hands.",
        "Letters written by {S} were published only after a long delay.",
        "Little is known about the early schooling of {S}.",
        "Contemporaries described {S} as patient and exacting.",
        "The papers of {S} were catalogued only recently.",
        "Several anecdotes about {S} are thought unreliable by historians.",
        "{S} travelled widely but rarely wrote about the journeys.",
        "A short memoir about {S} was written by a former pupil.",
        "Accounts of the later years of {S} disagree on many details.",
        "{S} corresponded with many colleagues across the continent.",
    ),
    EntityType.CITY: (
        "The old town of {S} is built around a market square.",
        "{S} is known for its covered bridges.",
        "Most of the old walls of {S} were pulled down long ago.",
        "A ferry once connected {S} with the towns across the water.",
        "The climate of {S} is mild, with wet winters.",
        "The main square of {S} holds a weekly market.",
        "Many streets of {S} still follow their medieval lines.",
        "The railway reached {S} later than most of its neighbours.",
    ),
    EntityType.REGION: (
        "Much of {S} is farmland crossed by slow rivers.",
        "The roads of {S} were improved in several campaigns.",
        "Winters in {S} can be long and snowy.",
        "Dialects spoken across {S} vary from valley to valley.",
    ),
    EntityType.ORG: (
        "{S} publishes a yearly report on its work.",
        "{S} moved its offices several times in its early years.",
        "Membership of {S} was long by invitation only.",
        "The statutes of {S} were revised more than once.",
        "{S} keeps an archive that is open to researchers.",
        "Disputes about money troubled {S} for a time.",
    ),
    EntityType.WORK: (
        "Critics were divided when {S} first appeared.",
        "{S} has been restored and reissued several times.",
        "An early copy of {S} is held in a private collection.",
        "{S} was little noticed at first.",
        "Later critics counted {S} among the better works of its time.",
        "Parts of {S} were reworked after its first appearance.",
    ),
    EntityType.EVENT: (
        "Attendance at {S} exceeded expectations.",
        "A commemorative medal was struck for {S}.",
        "The accounts of {S} closed with a small surplus.",
        "Photographs of {S} are kept in a local collection.",
        "Reports of {S} appeared in several newspapers.",
        "The programme of {S} was printed well in advance.",
        "Bad weather disrupted part of {S}.",
        "Visitors to {S} came from many towns.",
    ),
}


def write_document(world: World, entity: int) -> str:
    """The text of ``entity``'s document."""
    draw = _Draw(world.text_key ^ (entity * 0x9E3779B1))
    t = EntityType(int(world.etype[entity]))
    name, short = world.name(entity), world.short_name(entity)
    facts = _WRITERS[t](world, entity, draw, name, short)
    paragraphs = [" ".join(facts)]
    fillers = _FILLER[t]
    count = draw.below(11)
    if count:
        start = draw.below(len(fillers))
        notes = [fillers[(start + k) % len(fillers)] for k in range(min(count, len(fillers)))]
        paragraphs.append(" ".join(_cap(s.format(S=short)) for s in notes))
    count = draw.below(16) - 6
    if count > 0:
        start = draw.below(len(_GENERIC))
        paragraphs.append(" ".join(_GENERIC[(start + k) % len(_GENERIC)] for k in range(count)))
    lists = _lists(world, entity, draw, t, short)
    if lists:
        paragraphs.append(" ".join(lists))
    return "\n\n".join(paragraphs)


def _person(world: World, e: int, draw: _Draw, name: str, short: str) -> list[str]:
    occ, year = OCCUPATIONS[world.category[e]], int(world.year[e])
    city = mention(world, world.target("born_in", e), draw)
    org = mention(world, world.target("member_of", e), draw)
    out = [
        draw.pick(
            (
                f"{name} (born {year}) was {_a(occ)}.",
                f"{name} was {_a(occ)} born in {year}.",
                f"Born in {year}, {name} made a name as {_a(occ)}.",
                f"{name} was {_a(occ)}; the records give {year} as the year of birth.",
            )
        )
    ]
    alias = world.unique_alias(e)
    if alias is not None:
        out.append(
            draw.pick(
                (
                    f"Some records give the full name as {alias}.",
                    f"{name} is also known as {alias}.",
                    f"Later sources give the name of {short} as {alias}.",
                )
            )
        )
    given, family = name.split(" ")
    if draw.below(3) == 0:
        out.append(f"{short} often signed letters as {initials(given, family)}.")
    out.append(
        draw.pick(
            (
                f"{short} was born in {city}.",
                f"The birthplace of {short} was {city}.",
                f"{_cap(city)} was the birthplace of {short}.",
                f"{short} came from {city}, where the family had long lived.",
            )
        )
    )
    out.append(
        draw.pick(
            (
                f"{short} was a member of {org}.",
                f"{short} belonged to {org}.",
                f"Later in life {short} joined {org}.",
                f"{short} is remembered as a member of {org}.",
            )
        )
    )
    return out


def _city(world: World, e: int, draw: _Draw, name: str, short: str) -> list[str]:
    region = mention(world, world.target("located_in", e), draw)
    year, people = int(world.year[e]), format_number(int(world.number[e]))
    out = [
        draw.pick(
            (
                f"{name} is a city in {region}.",
                f"{name} is a city located in {region}.",
                f"The city of {name} lies in {region}.",
                f"{name} is one of the cities of {region}.",
            )
        ),
        draw.pick(
            (
                f"{name} was founded in {year}.",
                f"The city was founded in {year}.",
                f"Its founding dates to {year}.",
                f"Records date the founding of {name} to {year}.",
            )
        ),
        draw.pick(
            (
                f"It has a population of {people}.",
                f"{people} people live in {name}.",
                f"The population of {name} is {people}.",
            )
        ),
    ]
    alias = world.unique_alias(e)
    if alias is not None:
        out.insert(
            1 + draw.below(2),
            draw.pick(
                (
                    f"{name} was formerly known as {alias}.",
                    f"The old name of the city was {alias}.",
                    f"Older maps call it {alias}.",
                )
            ),
        )
    return out


def _region(world: World, e: int, draw: _Draw, name: str, short: str) -> list[str]:
    area = format_number(int(world.number[e]))
    return [
        draw.pick(
            (
                f"The {name} is a region with an area of {area} square kilometres.",
                f"The {name} is a region covering {area} square kilometres.",
                f"The region known as the {name} spans {area} square kilometres.",
            )
        )
    ]


def _org(world: World, e: int, draw: _Draw, name: str, short: str) -> list[str]:
    kind = ORG_KINDS[int(world.code[e]) // _W3].lower()
    sector, year = SECTORS[world.category[e]], int(world.year[e])
    founder = mention(world, world.target("founded_by", e), draw)
    city = mention(world, world.target("based_in", e), draw)
    out = [
        draw.pick(
            (
                f"The {name} is {_a(kind)} in the {sector} sector. "
                f"It was founded in {year} by {founder}.",
                f"{_cap(founder)} founded the {name}, {_a(sector)} {kind}, in {year}.",
                f"The {name} is {_a(sector)} {kind} established in {year}; "
                f"its founder was {founder}.",
            )
        ),
        draw.pick(
            (
                f"It is based in {city}.",
                f"The {name} has its seat in {city}.",
                f"Its headquarters are in {city}.",
            )
        ),
    ]
    alias = world.unique_alias(e)
    if alias is not None:
        out.append(
            draw.pick((f"It is also called the {alias}.", f"It is sometimes named the {alias}."))
        )
    return out


_RELEASED: Final = ("first shown", "published", "released", "completed")
_ACTIVE: Final = ("directed", "wrote", "recorded", "painted")


def _work(world: World, e: int, draw: _Draw, name: str, short: str) -> list[str]:
    medium_index = int(world.medium[e])
    medium, genre, year = MEDIA[medium_index], GENRES[world.category[e]], int(world.year[e])
    maker = mention(world, world.target("created_by", e), draw)
    verb, active, released = (
        MEDIUM_VERBS[medium_index],
        _ACTIVE[medium_index],
        _RELEASED[medium_index],
    )
    return [
        draw.pick(
            (
                f"{name} is a {year} {genre} {medium} {verb} by {maker}.",
                f"{name} is {_a(genre)} {medium} by {maker}, first {released} in {year}.",
                f"{_cap(maker)} {active} {name}, {_a(genre)} {medium}, in {year}.",
            )
        )
    ]


def _event(world: World, e: int, draw: _Draw, name: str, short: str) -> list[str]:
    kind = EVENT_KINDS[int(world.code[e]) // _W3].lower()
    city = mention(world, world.target("held_in", e), draw)
    org = mention(world, world.target("organised_by", e), draw)
    year = int(world.year[e])
    out = [
        draw.pick(
            (
                f"The {name} was {_a(kind)} held in {city} in {year}.",
                f"The {name} took place in {city} in {year}.",
                f"In {year}, {city} hosted the {name}.",
            )
        ),
        draw.pick(
            (
                f"It was organised by {org}.",
                f"{_cap(org)} organised the {name}.",
                f"The organiser was {org}.",
            )
        ),
    ]
    alias = world.unique_alias(e)
    if alias is not None:
        out.append(f"It is also known as the {alias}.")
    return out


_WRITERS: Final = {
    EntityType.PERSON: _person,
    EntityType.CITY: _city,
    EntityType.REGION: _region,
    EntityType.ORG: _org,
    EntityType.WORK: _work,
    EntityType.EVENT: _event,
}

#: (relation whose sources are listed, phrasings with {S} subject and {L} the list).
_LISTS: Final = {
    EntityType.PERSON: (
        ("founded_by", ("{S} founded {L}.", "{S} was the founder of {L}.")),
        ("created_by", ("Works by {S} include {L}.", "{S} is known for {L}.")),
    ),
    EntityType.CITY: (
        ("born_in", ("People born in {S} include {L}.", "Natives of {S} include {L}.")),
        ("based_in", ("Organisations based in {S} include {L}.",)),
        ("held_in", ("Events held in {S} include {L}.", "{S} hosted {L}.")),
    ),
    EntityType.REGION: (
        ("located_in", ("Cities in {S} include {L}.", "{S} contains the cities of {L}.")),
    ),
    EntityType.ORG: (
        ("member_of", ("Members of {S} have included {L}.", "Its members included {L}.")),
        ("organised_by", ("{S} organised {L}.", "Events run by {S} include {L}.")),
    ),
    EntityType.WORK: (),
    EntityType.EVENT: (),
}


def _lists(world: World, e: int, draw: _Draw, t: EntityType, short: str) -> list[str]:
    out = []
    for relation, phrasings in _LISTS[t]:
        sources = world.sources(relation, e)
        if sources:
            listed = _join([mention(world, s, draw) for s in sources])
            out.append(_cap(draw.pick(phrasings).format(S=short, L=listed)))
    return out
