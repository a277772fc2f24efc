"""The question templates on the ``library`` database (authors, books, members and loans)."""

from __future__ import annotations

from typing import Final

from mtenvs.envs.sql.template_spec import CITIES, YEARS, Template

__all__ = ["TEMPLATES"]

#: In catalogue order (see :data:`mtenvs.envs.sql.templates.TEMPLATES`).
TEMPLATES: Final[tuple[Template, ...]] = (
    Template(
        "library_city_year_titles",
        "library",
        ("join", "date", "filter"),
        (
            "Which book titles were borrowed in {year} by members from {city}? Distinct titles.",
            "Distinct titles of books lent in {year} to members living in {city}.",
            "List (without duplicates) the titles loaned during {year} to {city} members.",
        ),
        "SELECT DISTINCT b.title FROM loans l JOIN books b ON b.id = l.book_id "
        "JOIN members m ON m.id = l.member_id WHERE substr(l.loan_date, 1, 4) = '{year}' "
        "AND m.city = '{city}'",
        {"year": YEARS, "city": CITIES},
    ),
    Template(
        "library_open_loans",
        "library",
        ("null", "join", "aggregate"),
        (
            "How many loans are still not returned, per genre? Genre and count.",
            "Count unreturned loans (no return date) by book genre.",
            "Per genre, the number of loans whose return date is missing.",
        ),
        "SELECT b.genre, COUNT(*) AS n FROM loans l JOIN books b ON b.id = l.book_id "
        "WHERE l.return_date IS NULL GROUP BY b.genre",
    ),
    Template(
        "library_genre_except",
        "library",
        ("set_op", "join"),
        (
            "Which members (id and name) borrowed a {genre} book but never a {other} book?",
            "Members (id, name) with at least one {genre} loan and no {other} loan.",
            "List id and name of members who have borrowed {genre} but not {other} books.",
        ),
        "SELECT m.id, m.name FROM members m JOIN loans l ON l.member_id = m.id "
        "JOIN books b ON b.id = l.book_id WHERE b.genre = '{genre}' EXCEPT "
        "SELECT m.id, m.name FROM members m JOIN loans l ON l.member_id = m.id "
        "JOIN books b ON b.id = l.book_id WHERE b.genre = '{other}'",
        {"genre": ("fiction", "mystery", "science"), "other": ("history", "poetry", "fantasy")},
    ),
    Template(
        "library_prolific_authors",
        "library",
        ("join", "having"),
        (
            "Which authors from {country} have more than {k} copies in stock across their "
            "books? Name and total copies.",
            "Name and total copies of {country} authors whose books sum to over {k} copies.",
            "Authors of {country} with a total copy count above {k} (name, total).",
        ),
        "SELECT a.name, SUM(b.copies) AS copies FROM authors a JOIN books b "
        "ON b.author_id = a.id WHERE a.country = '{country}' GROUP BY a.id, a.name "
        "HAVING SUM(b.copies) > {k}",
        {
            "country": ("Portugal", "Spain", "France", "Germany", "Italy", "Poland"),
            "k": ("5", "10"),
        },
    ),
    Template(
        "library_purge_returned",
        "library",
        ("delete", "date"),
        (
            "Delete every loan that was returned before {date}.",
            "Remove the loans with a return date earlier than {date}.",
            "Purge loans returned prior to {date}.",
        ),
        "DELETE FROM loans WHERE return_date < '{date}'",
        {"date": ("2021-01-01", "2022-01-01", "2023-01-01")},
        kind="write",
    ),
)
