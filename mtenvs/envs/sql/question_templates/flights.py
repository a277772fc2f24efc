"""The question templates on the ``flights`` database
(airlines, airports, flights, passengers and bookings)."""

from __future__ import annotations

from typing import Final

from mtenvs.envs.sql.template_spec import Template

__all__ = ["TEMPLATES"]

#: In catalogue order (see :data:`mtenvs.envs.sql.templates.TEMPLATES`).
TEMPLATES: Final[tuple[Template, ...]] = (
    Template(
        "flights_from_city",
        "flights",
        ("join", "filter"),
        (
            "List flight id, airline name and destination code of {status} flights departing "
            "from {city}.",
            "Which {status} flights leave from {city}? Flight id, airline name, destination.",
            "Show id, airline name and destination airport of flights out of {city} with status "
            "{status}.",
        ),
        "SELECT f.id, al.name, f.destination FROM flights f "
        "JOIN airlines al ON al.id = f.airline_id JOIN airports ap ON ap.code = f.origin "
        "WHERE ap.city = '{city}' AND f.status = '{status}'",
        {
            "city": ("Lisbon", "Madrid", "Paris", "Berlin", "Rome", "Vienna"),
            "status": ("on_time", "delayed", "cancelled"),
        },
    ),
    Template(
        "flights_busy_routes",
        "flights",
        ("aggregate", "having"),
        (
            "Which routes (origin, destination) have at least {k} flights? Give origin, "
            "destination and the number of flights.",
            "Origin, destination and flight count of every route flown {k} or more times.",
            "List routes with {k}+ flights: origin code, destination code, count.",
        ),
        "SELECT origin, destination, COUNT(*) AS n FROM flights GROUP BY origin, destination "
        "HAVING COUNT(*) >= {k}",
        {"k": ("3", "4")},
    ),
    Template(
        "flights_longest_per_airline",
        "flights",
        ("window", "nested", "join"),
        (
            "For each airline, which is its longest flight? Give airline name, flight id and "
            "duration (ties: the lower flight id).",
            "Airline name, flight id and duration of every airline's longest flight (lowest id "
            "on ties).",
            "Show each airline's single longest flight by duration: airline, flight id, minutes "
            "(smallest id wins ties).",
        ),
        "SELECT airline, id, duration_min FROM (SELECT al.name AS airline, f.id, "
        "f.duration_min, ROW_NUMBER() OVER (PARTITION BY f.airline_id ORDER BY "
        "f.duration_min DESC, f.id) AS rn FROM flights f JOIN airlines al "
        "ON al.id = f.airline_id) t WHERE rn = 1",
    ),
    Template(
        "flights_pricey_class",
        "flights",
        ("nested", "join"),
        (
            "Which passengers paid more than the average booking price for a {seat_class} "
            "booking? Distinct passenger names.",
            "Distinct names of passengers with a {seat_class} booking priced above the average "
            "price over all bookings.",
            "List (without duplicates) the passengers who booked {seat_class} above the overall "
            "mean booking price.",
        ),
        "SELECT DISTINCT p.name FROM passengers p JOIN bookings b ON b.passenger_id = p.id "
        "WHERE b.seat_class = '{seat_class}' AND b.price > (SELECT AVG(price) FROM bookings)",
        {"seat_class": ("economy", "business", "first")},
    ),
    Template(
        "flights_new_airline",
        "flights",
        ("insert",),
        (
            "Add a new airline called '{name}' based in {country} with id 7.",
            "Insert airline id 7, name '{name}', country {country}.",
            "Register the airline '{name}' ({country}) under id 7.",
        ),
        "INSERT INTO airlines (id, name, country) VALUES (7, '{name}', '{country}')",
        {"name": ("NovaSky", "Zephyr", "Boreal"), "country": ("Portugal", "Spain", "Italy")},
        kind="write",
    ),
)
