"""Names of the generated world: syllable words, entity names and their aliases.

Every name is decoded from an integer *code*, so the world stores one ``int64`` per entity
instead of a string. A word of ``n`` syllables is ``n`` base-64 digits, the most significant
digit the first syllable. Each syllable is one onset consonant (``th`` and ``dr`` count as one),
one vowel and an optional coda (``n``, ``r`` or ``l``); a consonant cluster between two
vowels then splits into coda and onset in exactly one way, so different codes always spell
different words (``tests/envs/search/test_world.py`` checks this for every 2- and
3-syllable word).

Syllables come in pairs ``2k, 2k + 1`` that differ only in their vowel (``var``/``vor``):
real entities draw even codes and a *twin* (a distractor entity with a near-identical
name) takes its original's code plus one, which swaps the vowel of the last syllable.
The canonical names of different entity types differ in shape (one word, two words, a
type word from a fixed list, an English pattern word that no syllable word can spell),
so names are unique over the whole world.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "EVENT_KINDS",
    "ORG_KINDS",
    "REGION_KINDS",
    "SYLLABLES",
    "WORK_PATTERNS",
    "initials",
    "word",
]

_ONSETS: Final = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "th", "dr")
_VOWEL_PAIRS: Final = (("a", "o"), ("e", "i"))
_CODAS: Final = ("", "n", "r", "l")


def _syllables() -> tuple[str, ...]:
    out: list[str] = []
    for k, onset in enumerate(_ONSETS):
        for j, (v1, v2) in enumerate(_VOWEL_PAIRS):
            coda = _CODAS[(k + j) % len(_CODAS)]
            out += [onset + v1 + coda, onset + v2 + coda]
    return tuple(out)


#: The 64 syllables; ``SYLLABLES[2k]`` and ``SYLLABLES[2k + 1]`` differ only in the vowel.
SYLLABLES: Final[tuple[str, ...]] = _syllables()
BASE: Final = len(SYLLABLES)  # 64: the table lookups in word() rely on it

#: Second words of region, organisation and event names (disjoint sets).
REGION_KINDS: Final = ("Province", "Valley", "Coast", "Highlands", "Marches")
ORG_KINDS: Final = (
    "Guild",
    "Institute",
    "Company",
    "Society",
    "Foundation",
    "Academy",
    "Trust",
    "Works",
)
EVENT_KINDS: Final = ("Festival", "Summit", "Games", "Fair", "Congress", "Regatta")
#: Title patterns of works; each holds a word no syllable word can spell (``gh``, ``ck``,
#: ``w``, ``y``, a final ``s`` after a consonant...), so a title never equals another name.
WORK_PATTERNS: Final = (
    "The {} Letters",
    "Nights in {}",
    "The House of {}",
    "Songs of {}",
    "{} at Dusk",
    "The Last Days of {}",
    "A Winter in {}",
    "{} Rising",
    "The {} Affair",
    "Lights over {}",
    "Return to {}",
    "The Road to {}",
    "{} and the Sea",
    "Echoes of {}",
    "The Clockmaker of {}",
    "Shadows on {}",
)


_CAP2: Final = tuple((a + b).capitalize() for a in SYLLABLES for b in SYLLABLES)
_LOW2: Final = tuple(a + b for a in SYLLABLES for b in SYLLABLES)


def word(code: int, syllables: int) -> str:
    """The capitalised word of ``syllables`` (2 to 4) syllables that ``code`` spells."""
    if syllables == 3:
        return _CAP2[code >> 6] + SYLLABLES[code & 63]
    if syllables == 2:
        return _CAP2[code]
    return _CAP2[code >> 12] + _LOW2[code & 4095]


def initials(given: str, family: str) -> str:
    """``"V. Endrik"`` for ``("Varlo", "Endrik")``."""
    return f"{given[0]}. {family}"
