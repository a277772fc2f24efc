"""Seeded content of the wiki site (``assets/web/wiki.json``), generated deterministically.

A small fictional world: countries, cities and people whose articles link to each other
(person → birthplace city → country → capital), with infoboxes and edit histories.
``python -m mtenvs.envs.web.wiki_data`` rewrites the asset; a test checks it is current.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

__all__ = ["ASSET", "generate", "load"]

ASSET = Path(__file__).resolve().parents[2] / "assets" / "web" / "wiki.json"

_SEED = 7_2026
_COUNTRIES = ("Velmora", "Ostrany", "Caldera", "Mirevia", "Tolvane", "Brisket Isles")
_CITY_NAMES = (
    "Arden",
    "Belcourt",
    "Corvale",
    "Dunmere",
    "Eskarth",
    "Fallowmere",
    "Glenhollow",
    "Harrowgate",
    "Istrel",
    "Jorvik Bay",
    "Kestwick",
    "Lornhaven",
    "Marrowfield",
    "Northam",
    "Oakhurst",
    "Pellinore",
    "Quarry Hill",
    "Ravensmoor",
)
_FIRST = (
    "Ada",
    "Bertil",
    "Cora",
    "Dario",
    "Elin",
    "Fenna",
    "Goran",
    "Hedda",
    "Ivo",
    "Juno",
    "Kai",
    "Liesel",
)
_LAST = ("Marsh", "Thorne", "Vale", "Quill", "Ashby", "Crane")
_JOBS = ("painter", "engineer", "poet", "botanist", "composer", "cartographer")
_RIVERS = ("Amber", "Silt", "Wren", "Lark", "Mire", "Tallow")
_EDITORS = ("Alder", "Birch", "Cedar", "Dogwood", "Elm")
_LANGUAGES = ("Velmoran", "Ostranic", "Calderan", "Mirevian", "Tolvanese", "Islander")


def _link(title: str) -> str:
    return f"[[{title}]]"


def generate() -> dict[str, Any]:
    """The wiki's initial state: articles with infoboxes, text and revisions."""
    rng = random.Random(_SEED)
    articles: dict[str, dict[str, Any]] = {}
    cities = list(_CITY_NAMES)
    people = [f"{first} {rng.choice(_LAST)}" for first in _FIRST]
    for i, country in enumerate(_COUNTRIES):
        own = cities[3 * i : 3 * i + 3]
        capital = own[0]
        articles[country] = {
            "category": "Countries",
            "infobox": [
                ["Capital", _link(capital)],
                ["Population", f"{rng.randrange(2, 90)} million"],
                ["Language", _LANGUAGES[i]],
                ["Founded", str(rng.randrange(900, 1800))],
            ],
            "text": f"{country} is a country whose capital is {_link(capital)}. Other cities "
            f"include {_link(own[1])} and {_link(own[2])}.",
        }
        for city in own:
            founder, river = rng.choice(people), rng.choice(_RIVERS)
            articles[city] = {
                "category": "Cities",
                "infobox": [
                    ["Country", _link(country)],
                    ["Population", f"{rng.randrange(20, 900) * 1000:,}"],
                    ["River", f"{river} River"],
                    ["Founded by", _link(founder)],
                ],
                "text": f"{city} is a city in {_link(country)} on the "
                f"{river} River, founded by {_link(founder)}.",
            }
    for person in people:
        born = rng.choice(cities)
        job = rng.choice(_JOBS)
        articles[person] = {
            "category": "People",
            "infobox": [
                ["Born in", _link(born)],
                ["Born", str(rng.randrange(1700, 1990))],
                ["Occupation", job],
            ],
            "text": f"{person} is a {job} born in {_link(born)}.",
        }
    for _, article in sorted(articles.items()):
        revisions = []
        for n in range(rng.randint(1, 4)):
            revisions.append(
                {
                    "rev": n + 1,
                    "user": rng.choice(_EDITORS),
                    "summary": "created page"
                    if n == 0
                    else rng.choice(("typo", "added links", "copyedit", "infobox update")),
                }
            )
        article["revisions"] = revisions
    return {"articles": dict(sorted(articles.items())), "user": "Agent"}


def load() -> dict[str, Any]:
    """The shipped asset (what the server starts from)."""
    data: dict[str, Any] = json.loads(ASSET.read_text(encoding="utf-8"))
    return data


if __name__ == "__main__":
    ASSET.write_text(json.dumps(generate(), indent=1) + "\n", encoding="utf-8")
