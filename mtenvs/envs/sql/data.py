"""Seeded, realistic data for the domain schemas, and per-episode database copies.

:func:`generate_rows` fills a schema with about ``scale`` rows in all (each table gets its
``share``; lookup tables such as airports have a fixed size) from a generator seeded by
(schema, scale, seed), so the same arguments give the same database on every machine.
:func:`source_database` builds the SQLite database once per process and key;
:func:`episode_database` hands each episode a fresh in-memory copy (SQLite backup API), so
no episode sees another's writes.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import zlib
from typing import Any, Final

import numpy as np

from mtenvs.envs.sql.engine import GuardedConnection
from mtenvs.envs.sql.schemas import Schema, Table, get_schema

__all__ = [
    "CATEGORIES",
    "CITIES",
    "DEFAULT_SCALE",
    "MAX_SCALE",
    "MIN_SCALE",
    "VOCAB",
    "database_checksum",
    "episode_database",
    "generate_rows",
    "source_database",
]

DEFAULT_SCALE: Final = 1000
MIN_SCALE: Final = 200
MAX_SCALE: Final = 1_000_000
#: Largest string or blob a query may build (bytes).
MAX_VALUE_BYTES: Final = 10_000_000

CITIES: Final = (
    "Lisbon",
    "Porto",
    "Madrid",
    "Paris",
    "Lyon",
    "Berlin",
    "Munich",
    "Rome",
    "Milan",
    "Vienna",
    "Prague",
    "Warsaw",
)
_FIRST: Final = (
    "Ana",
    "Ben",
    "Chloe",
    "David",
    "Elena",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kira",
    "Luis",
    "Maya",
    "Nils",
    "Olga",
    "Pedro",
    "Rosa",
    "Sami",
    "Tara",
    "Yusuf",
)
_LAST: Final = (
    "Silva",
    "Novak",
    "Weber",
    "Rossi",
    "Dubois",
    "Garcia",
    "Kowalski",
    "Jensen",
    "Costa",
    "Moreau",
    "Fischer",
    "Horvat",
    "Lindqvist",
    "Marin",
    "Oliveira",
)
CATEGORIES: Final = ("electronics", "books", "garden", "toys", "kitchen", "sports")
#: Values of the categorical columns, by ``table.column`` (also used to pick task parameters).
VOCAB: Final[dict[str, tuple[str, ...]]] = {
    "products.category": CATEGORIES,
    "orders.status": ("delivered", "shipped", "pending", "cancelled"),
    "doctors.specialty": ("cardiology", "neurology", "pediatrics", "oncology", "dermatology"),
    "patients.insurance": ("public", "private", "none"),
    "appointments.diagnosis": ("flu", "fracture", "migraine", "allergy", "hypertension"),
    "airports.country": ("Portugal", "Spain", "France", "Germany", "Italy", "Austria"),
    "airlines.country": ("Portugal", "Spain", "France", "Germany", "Italy", "Austria"),
    "passengers.nationality": ("Portuguese", "Spanish", "French", "German", "Italian"),
    "flights.status": ("on_time", "delayed", "cancelled"),
    "bookings.seat_class": ("economy", "business", "first"),
    "teachers.department": ("math", "science", "history", "languages", "arts"),
    "courses.department": ("math", "science", "history", "languages", "arts"),
    "enrollments.term": ("2023-fall", "2024-spring", "2024-fall"),
    "authors.country": ("Portugal", "Spain", "France", "Germany", "Italy", "Poland"),
    "books.genre": ("fiction", "mystery", "science", "history", "poetry", "fantasy"),
    "clients.segment": ("retail", "premium", "business"),
    "accounts.account_type": ("checking", "savings", "credit"),
    "transactions.kind": ("deposit", "withdrawal", "payment", "transfer"),
    "transactions.merchant": ("GroceryCo", "FuelMax", "BookNook", "TechHub", "CafeBrew"),
}
_AIRPORTS: Final = (
    ("LIS", "Lisbon", "Portugal"),
    ("OPO", "Porto", "Portugal"),
    ("MAD", "Madrid", "Spain"),
    ("BCN", "Barcelona", "Spain"),
    ("CDG", "Paris", "France"),
    ("LYS", "Lyon", "France"),
    ("BER", "Berlin", "Germany"),
    ("MUC", "Munich", "Germany"),
    ("FCO", "Rome", "Italy"),
    ("MXP", "Milan", "Italy"),
    ("VIE", "Vienna", "Austria"),
)
_AIRLINES: Final = (
    ("AirLuso", "Portugal"),
    ("IberJet", "Spain"),
    ("GallicAir", "France"),
    ("Hanse Fly", "Germany"),
    ("Aquila", "Italy"),
    ("Alpen Air", "Austria"),
)
_WORDS: Final = (
    "River",
    "Night",
    "Garden",
    "Stone",
    "Silver",
    "Winter",
    "Secret",
    "Blue",
    "Golden",
    "Last",
    "Hidden",
    "Broken",
    "Quiet",
    "Northern",
)
_NOUNS: Final = (
    "Lamp",
    "Chair",
    "Kettle",
    "Drone",
    "Ball",
    "Map",
    "Clock",
    "Rope",
    "Tent",
    "Phone",
    "Atlas",
    "Puzzle",
)
#: Nullable columns and the fraction of their rows that are NULL.
_NULL_SHARE: Final = 0.2
_EPOCH: Final = dt.date(2020, 1, 1)
_DAYS: Final = 5 * 365


def _table_size(table: Table, scale: int) -> int:
    return max(8, round(table.share * scale))


def _dates(
    rng: np.random.Generator,
    n: int,
    start: dt.date = _EPOCH,
    days: int = _DAYS,
) -> list[str]:
    return [(start + dt.timedelta(days=int(d))).isoformat() for d in rng.integers(0, days, n)]


def _names(rng: np.random.Generator, n: int) -> list[str]:
    first, last = rng.integers(0, len(_FIRST), n), rng.integers(0, len(_LAST), n)
    return [f"{_FIRST[a]} {_LAST[b]}" for a, b in zip(first, last)]


def _titles(rng: np.random.Generator, n: int, nouns: tuple[str, ...]) -> list[str]:
    a, b = rng.integers(0, len(_WORDS), n), rng.integers(0, len(nouns), n)
    return [f"{_WORDS[x]} {nouns[y]} {i + 1}" for i, (x, y) in enumerate(zip(a, b))]


def _column(rng: np.random.Generator, table: str, col: str, n: int) -> list[Any]:
    """Values of one column (before cross-column fix-ups)."""
    key = f"{table}.{col}"
    if key in VOCAB:
        vocab = VOCAB[key]
        return [vocab[int(i)] for i in rng.integers(0, len(vocab), n)]
    if col == "name":
        if table == "products":
            return _titles(rng, n, _NOUNS)
        return _names(rng, n)
    if col == "title":
        return _titles(rng, n, ("Tales", "Notes", "Chronicle", "Letters", "Studies", "Songs"))
    if col == "city":
        return [CITIES[int(i)] for i in rng.integers(0, len(CITIES), n)]
    if col.endswith("_date"):
        return _dates(rng, n)
    if col == "birth_date":
        return _dates(rng, n, dt.date(1940, 1, 1), 80 * 365)
    ranges: dict[str, tuple[float, float, int]] = {
        "price": (5, 900, 2),
        "unit_price": (5, 900, 2),
        "fee": (40, 400, 2),
        "amount": (1, 3000, 2),
        "balance": (-500, 50000, 2),
        "score": (20, 100, 1),
        "quantity": (1, 6, 0),
        "duration_min": (60, 240, 0),
        "credits": (2, 7, 0),
        "copies": (1, 8, 0),
        "published_year": (1950, 2025, 0),
        "birth_year": (1900, 1995, 0),
        "grade_level": (9, 13, 0),
        "frequent_flyer": (0, 2, 0),
    }
    if col in ranges:
        low, high, digits = ranges[col]
        if digits == 0:
            return [int(v) for v in rng.integers(int(low), int(high), n)]
        return [round(float(v), digits) for v in rng.uniform(low, high, n)]
    raise KeyError(f"no generator for {key}")


def generate_rows(schema: Schema, scale: int, seed: int) -> dict[str, list[tuple[Any, ...]]]:
    """Rows of every table of ``schema`` (parents first), about ``scale`` in all."""
    rng = np.random.default_rng([seed, scale, zlib.crc32(schema.name.encode())])
    sizes = {t.name: _table_size(t, scale) for t in schema.tables}
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table in schema.tables:
        if table.name == "airports":
            out["airports"] = list(_AIRPORTS)
            continue
        if table.name == "airlines":
            out["airlines"] = [(i + 1, *row) for i, row in enumerate(_AIRLINES)]
            continue
        n = sizes[table.name]
        cols: dict[str, list[Any]] = {}
        for c in table.columns:
            if c.primary_key:
                cols[c.name] = list(range(1, n + 1))
            elif c.references:
                parent, _ = c.references.split(".")
                if parent == "airports":
                    cols[c.name] = [
                        _AIRPORTS[int(i)][0] for i in rng.integers(0, len(_AIRPORTS), n)
                    ]
                else:
                    size = len(out[parent])
                    cols[c.name] = [int(v) for v in rng.integers(1, size + 1, n)]
            elif c.name == "email":
                cols[c.name] = [None] * n  # filled from the names below
            elif c.name == "return_date":
                cols[c.name] = [None] * n  # filled from the loan dates below
            else:
                cols[c.name] = _column(rng, table.name, c.name, n)
            if c.nullable and c.name not in ("email", "return_date"):
                mask = rng.random(n) < _NULL_SHARE
                cols[c.name] = [None if m else v for m, v in zip(mask, cols[c.name])]
        _fix_up(rng, table.name, cols, n)
        out[table.name] = list(zip(*(cols[c.name] for c in table.columns)))
    return out


def _fix_up(rng: np.random.Generator, table: str, cols: dict[str, list[Any]], n: int) -> None:
    """Cross-column realism: emails from names, returns after loans, distinct endpoints."""
    if table == "customers":
        cols["email"] = [
            None
            if rng.random() < _NULL_SHARE
            else f"{name.lower().replace(' ', '.')}{i}@example.com"
            for i, name in enumerate(cols["name"])
        ]
    elif table == "loans":
        back = rng.integers(3, 60, n)
        cols["return_date"] = [
            None
            if rng.random() < 0.25
            else (dt.date.fromisoformat(d) + dt.timedelta(days=int(k))).isoformat()
            for d, k in zip(cols["loan_date"], back)
        ]
    elif table == "flights":
        codes = [a[0] for a in _AIRPORTS]
        cols["destination"] = [
            d if d != o else codes[(codes.index(o) + 1) % len(codes)]
            for o, d in zip(cols["origin"], cols["destination"])
        ]
    elif table == "transactions":
        cols["amount"] = [
            -a if k in ("withdrawal", "payment") else a
            for a, k in zip(cols["amount"], cols["kind"])
        ]


_LOCK = threading.Lock()
_SOURCES: dict[tuple[str, int, int], sqlite3.Connection] = {}


def _connect(guarded: bool = True) -> sqlite3.Connection:
    # Episode copies keep the engine's guards between queries; the shared sources do not.
    factory = GuardedConnection if guarded else sqlite3.Connection
    conn = sqlite3.connect(
        ":memory:", check_same_thread=False, isolation_level=None, factory=factory
    )
    conn.execute("PRAGMA foreign_keys = ON")
    # Memory guard: no single string or blob (``zeroblob(1e9)``, ``hex(…)`` of one)
    # beyond 10 MB; rows are capped by the engine.
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    return conn


def source_database(schema_name: str, scale: int, seed: int) -> sqlite3.Connection:
    """The read-only source database of (schema, scale, seed), built once per process."""
    key = (schema_name, scale, seed)
    with _LOCK:
        conn = _SOURCES.get(key)
        if conn is None:
            schema = get_schema(schema_name)
            conn = _connect(guarded=False)
            conn.execute("BEGIN")
            for statement in schema.ddl():
                conn.execute(statement)
            for table, rows in generate_rows(schema, scale, seed).items():
                marks = ", ".join("?" * len(schema.table(table).columns))
                conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
            conn.execute("COMMIT")
            _SOURCES[key] = conn
        return conn


def episode_database(schema_name: str, scale: int, seed: int) -> sqlite3.Connection:
    """A fresh in-memory copy of the source database for one episode."""
    source = source_database(schema_name, scale, seed)
    conn = _connect()
    with _LOCK:
        source.backup(conn)
    return conn


def database_checksum(conn: sqlite3.Connection, schema: Schema) -> str:
    """A hash of every table's content (in primary-key order), to show a database unchanged."""
    digest = zlib.crc32(b"")
    for table in schema.tables:
        key = table.columns[0].name
        for row in conn.execute(f"SELECT * FROM {table.name} ORDER BY {key}"):
            digest = zlib.crc32(repr(row).encode(), digest)
    return f"{digest:08x}"
