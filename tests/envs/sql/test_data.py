from __future__ import annotations

import pytest

from mtenvs.envs.sql.data import (
    database_checksum,
    episode_database,
    generate_rows,
    source_database,
)
from mtenvs.envs.sql.schemas import SCHEMA_NAMES, get_schema


def test_at_least_six_schemas_with_foreign_keys():
    assert len(SCHEMA_NAMES) >= 6
    for name in SCHEMA_NAMES:
        assert any(c.references for t in get_schema(name).tables for c in t.columns), name


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_generation_is_seeded_and_scaled(name):
    schema = get_schema(name)
    a = generate_rows(schema, 1000, 0)
    assert a == generate_rows(schema, 1000, 0)
    assert a != generate_rows(schema, 1000, 1)
    total = sum(len(rows) for rows in a.values())
    assert 800 <= total <= 1300
    big = sum(len(rows) for rows in generate_rows(schema, 5000, 0).values())
    assert big > 4 * total


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_foreign_keys_hold(name):
    conn = source_database(name, 1000, 0)
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_episode_copies_are_isolated():
    a = episode_database("shop", 1000, 0)
    b = episode_database("shop", 1000, 0)
    schema = get_schema("shop")
    before = database_checksum(b, schema)
    a.execute("DELETE FROM order_items")
    assert database_checksum(b, schema) == before
    assert database_checksum(source_database("shop", 1000, 0), schema) == before
    assert database_checksum(a, schema) != before
