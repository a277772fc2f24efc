"""The question templates of the SQL envs: gold SQL and several phrasings each.

A template's ``{name}`` placeholders are filled with one value of its ``params`` choices, in
the question and the gold SQL alike. The last phrasing of every template is held out for
the test split. Gold SQL is portable (no dialect-only functions: dates are ISO text cut
with ``substr``) and orders by a unique key wherever it limits, so its result is unique.

The record is :class:`~mtenvs.envs.sql.template_spec.Template`; each database's templates
live in :mod:`mtenvs.envs.sql.question_templates` and are assembled here.
"""

from __future__ import annotations

from typing import Final

from mtenvs.envs.sql.question_templates import finance, flights, hospital, library, school, shop
from mtenvs.envs.sql.template_spec import CATEGORIES, Template, TemplateKind

__all__ = ["CATEGORIES", "TEMPLATES", "Template", "TemplateKind"]

#: Every template, database by database. Task ``i`` of a split uses template ``i mod T``
#: (:mod:`mtenvs.envs.sql.tasks`), so this order is part of the task set.
TEMPLATES: Final[tuple[Template, ...]] = (
    *shop.TEMPLATES,
    *hospital.TEMPLATES,
    *flights.TEMPLATES,
    *school.TEMPLATES,
    *library.TEMPLATES,
    *finance.TEMPLATES,
)
