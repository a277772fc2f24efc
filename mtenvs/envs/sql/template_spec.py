"""The question-template record of the SQL envs, the SQL features templates cover, and the
parameter values several databases share.

The templates themselves live in :mod:`mtenvs.envs.sql.question_templates`, one module per
database; :mod:`mtenvs.envs.sql.templates` assembles them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = ["CATEGORIES", "CITIES", "YEARS", "Template", "TemplateKind"]

TemplateKind = Literal["read", "write"]
#: The SQL features the templates cover (each template names one or more).
CATEGORIES: Final = (
    "filter",
    "join",
    "aggregate",
    "having",
    "order_limit",
    "nested",
    "window",
    "date",
    "null",
    "set_op",
    "insert",
    "update",
    "delete",
)

#: ``{year}`` choices of the templates that filter on a year.
YEARS: Final = ("2020", "2021", "2022", "2023", "2024")
#: ``{city}`` choices of the templates that filter on a city.
CITIES: Final = ("Lisbon", "Porto", "Madrid", "Paris", "Berlin", "Rome", "Vienna", "Prague")


@dataclass(frozen=True)
class Template:
    """One question template: its schema, features, phrasings, gold SQL and parameters."""

    id: str
    schema: str
    features: tuple[str, ...]
    phrasings: tuple[str, ...]
    gold: str
    params: dict[str, tuple[str, ...]] = field(default_factory=dict)
    kind: TemplateKind = "read"
