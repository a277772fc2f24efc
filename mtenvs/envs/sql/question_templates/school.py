"""The question templates on the ``school`` database
(students, teachers, courses and enrollments)."""

from __future__ import annotations

from typing import Final

from mtenvs.envs.sql.template_spec import Template

__all__ = ["TEMPLATES"]

#: In catalogue order (see :data:`mtenvs.envs.sql.templates.TEMPLATES`).
TEMPLATES: Final[tuple[Template, ...]] = (
    Template(
        "school_course_scores",
        "school",
        ("join", "aggregate", "null"),
        (
            "For {department} courses in term {term}, what is each course's average score "
            "(missing scores ignored, 2 decimals)? Give title and average.",
            "Average score per {department} course in {term}, ignoring NULL scores, rounded to 2 "
            "decimals (title, average).",
            "Title and mean score (2 decimals, skipping missing scores) of every {department} "
            "course for term {term}.",
        ),
        "SELECT c.title, ROUND(AVG(e.score), 2) AS avg_score FROM enrollments e "
        "JOIN courses c ON c.id = e.course_id WHERE c.department = '{department}' "
        "AND e.term = '{term}' GROUP BY c.id, c.title",
        {
            "department": ("math", "science", "history", "languages", "arts"),
            "term": ("2023-fall", "2024-spring", "2024-fall"),
        },
    ),
    Template(
        "school_missing_scores",
        "school",
        ("null", "aggregate"),
        (
            "How many enrollments have no score, per term? Term and count.",
            "Count the enrollments with a missing score in each term (term, count).",
            "Per term, the number of enrollments whose score is NULL.",
        ),
        "SELECT term, COUNT(*) AS n FROM enrollments WHERE score IS NULL GROUP BY term",
    ),
    Template(
        "school_top_students",
        "school",
        ("join", "aggregate", "order_limit"),
        (
            "Who are the {n} grade-{grade} students with the highest average score? Give id, "
            "name and average (2 decimals), best first, ties by id.",
            "Top {n} students of grade {grade} by mean score: id, name, average rounded to 2 "
            "decimals, descending, ties broken by id.",
            "List the {n} best grade {grade} students by average score (id, name, average to 2 "
            "decimals), highest first, then by id.",
        ),
        "SELECT s.id, s.name, ROUND(AVG(e.score), 2) AS avg_score FROM students s "
        "JOIN enrollments e ON e.student_id = s.id WHERE s.grade_level = {grade} "
        # Students without any score would sort differently in SQLite and PostgreSQL.
        "AND e.score IS NOT NULL "
        "GROUP BY s.id, s.name ORDER BY AVG(e.score) DESC, s.id LIMIT {n}",
        {"n": ("3", "5"), "grade": ("9", "10", "11", "12")},
    ),
    Template(
        "school_fill_scores",
        "school",
        ("update", "null"),
        (
            "Give every {term} enrollment that has no score a score of {value}.",
            "Set missing scores of term {term} enrollments to {value}.",
            "Fill in the NULL scores of the {term} enrollments with {value}.",
        ),
        "UPDATE enrollments SET score = {value} WHERE term = '{term}' AND score IS NULL",
        {"term": ("2023-fall", "2024-spring", "2024-fall"), "value": ("0", "50")},
        kind="write",
    ),
    Template(
        "school_cross_department",
        "school",
        ("nested", "filter"),
        (
            "Which {department} teachers teach at least one course of another department? Names.",
            "Names of teachers in the {department} department who teach some course outside "
            "their own department.",
            "List {department} teachers (names) with a course belonging to a different department.",
        ),
        "SELECT t.name FROM teachers t WHERE t.department = '{department}' AND EXISTS "
        "(SELECT 1 FROM courses c WHERE c.teacher_id = t.id AND c.department <> t.department)",
        {"department": ("math", "science", "history", "languages", "arts")},
    ),
)
