"""Spider/BIRD loader (``dataset=PATH``) on small datasets built from real SQLite files."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import mtenvs  # noqa: F401
from mtenvs.envs.sql.dataset import load_dataset
from mtenvs.envs.sql.engine import release_guards
from mtenvs.error import InvalidArgumentError

_CONCERT = [
    "CREATE TABLE singer (singer_id INTEGER PRIMARY KEY, name TEXT, country TEXT, age INT)",
    "CREATE TABLE concert (concert_id INTEGER PRIMARY KEY, title TEXT, year INT, "
    "singer_id INT REFERENCES singer(singer_id))",
    "INSERT INTO singer VALUES (1, 'Joe Sharp', 'Netherlands', 52), (2, 'Timbaland', "
    "'United States', 32), (3, 'Justin Brown', 'France', 29), (4, 'Rose White', 'France', 41)",
    "INSERT INTO concert VALUES (1, 'Auditions', 2014, 1), (2, 'Super bootcamp', 2014, 2), "
    "(3, 'Home Visits', 2015, 2), (4, 'Week 1', 2015, 3)",
]
_PETS = [
    'CREATE TABLE "Pet Owners" ("Owner Id" INTEGER PRIMARY KEY, "Full Name" TEXT)',
    "CREATE TABLE pets (pet_id INTEGER PRIMARY KEY, kind TEXT, weight REAL, "
    'owner INT REFERENCES "Pet Owners"("Owner Id"))',
    """INSERT INTO "Pet Owners" VALUES (1, 'Ana Lima'), (2, 'Ben Okafor')""",
    "INSERT INTO pets VALUES (1, 'cat', 3.5, 1), (2, 'dog', 12.0, 1), (3, 'dog', 9.25, 2)",
]
_TABLES = [
    {
        "db_id": "concert",
        "table_names_original": ["singer", "concert"],
        "table_names": ["singer", "concert"],
        "column_names_original": [
            [-1, "*"],
            [0, "singer_id"],
            [0, "name"],
            [0, "country"],
            [0, "age"],
            [1, "concert_id"],
            [1, "title"],
            [1, "year"],
            [1, "singer_id"],
        ],
        "column_types": [
            *("text", "number", "text", "text", "number"),
            *("number", "text", "number", "number"),
        ],
        "primary_keys": [1, 5],
        "foreign_keys": [[8, 1]],
    },
    {
        "db_id": "pets",
        "table_names_original": ["Pet Owners", "pets"],
        "column_names_original": [
            [-1, "*"],
            [0, "Owner Id"],
            [0, "Full Name"],
            [1, "pet_id"],
            [1, "kind"],
            [1, "weight"],
            [1, "owner"],
        ],
        "primary_keys": [[1], 3],  # BIRD writes composite keys as lists
        "foreign_keys": [[6, 1]],
    },
]
_SPIDER_QUESTIONS = [
    ("concert", "How many singers are there?", "SELECT count(*) FROM singer"),
    (
        "concert",
        "List singer names from oldest to youngest.",
        "SELECT name FROM singer ORDER BY age DESC",
    ),
    (
        "concert",
        "Show each singer's name with their number of concerts.",
        "SELECT T1.name, count(*) FROM singer AS T1 JOIN concert AS T2 ON "
        "T1.singer_id = T2.singer_id GROUP BY T1.singer_id",
    ),
    (
        "pets",
        "What is the average weight of dogs?",
        "SELECT avg(weight) FROM pets WHERE kind = 'dog'",
    ),
    (
        "pets",
        "Who owns a cat?",
        'SELECT "Full Name" FROM "Pet Owners" JOIN pets ON pets.owner = "Pet Owners"."Owner Id" '
        "WHERE kind = 'cat'",
    ),
]
_BIRD_QUESTIONS = [
    (
        "concert",
        "How many senior singers are from France?",
        "senior refers to age > 40",
        "SELECT COUNT(*) FROM singer WHERE country = 'France' AND age > 40",
    ),
    ("concert", "Which concerts were in 2015?", "", "SELECT title FROM concert WHERE year = 2015"),
    (
        "pets",
        "What does the heaviest pet weigh?",
        "heaviest refers to MAX(weight)",
        "SELECT MAX(weight) FROM pets",
    ),
]


def _make_db(path: Path, statements: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


def _spider(root: Path) -> Path:
    for db_id, ddl in (("concert", _CONCERT), ("pets", _PETS)):
        _make_db(root / "database" / db_id / f"{db_id}.sqlite", ddl)
    (root / "tables.json").write_text(json.dumps(_TABLES))
    (root / "dev.json").write_text(
        json.dumps([{"db_id": d, "question": q, "query": s} for d, q, s in _SPIDER_QUESTIONS])
    )
    (root / "train_spider.json").write_text(
        json.dumps([{"db_id": d, "question": q, "query": s} for d, q, s in _SPIDER_QUESTIONS[:2]])
    )
    return root


def _bird(root: Path) -> Path:
    for db_id, ddl in (("concert", _CONCERT), ("pets", _PETS)):
        _make_db(root / "dev_databases" / db_id / f"{db_id}.sqlite", ddl)
    (root / "dev_tables.json").write_text(json.dumps(_TABLES))
    records = [
        {"question_id": i, "db_id": d, "question": q, "evidence": e, "SQL": s}
        for i, (d, q, e, s) in enumerate(_BIRD_QUESTIONS)
    ]
    (root / "dev.json").write_text(json.dumps(records))
    return root


@pytest.fixture
def spider(tmp_path: Path) -> Path:
    return _spider(tmp_path / "spider")


@pytest.fixture
def bird(tmp_path: Path) -> Path:
    return _bird(tmp_path / "bird")


def _solve_all(env: gym.Env, n: int, prefix: str) -> list[bool]:
    wins = []
    for i in range(n):
        env.reset(options={"task_id": f"{prefix}-{i:05d}"})
        while True:
            *_, terminated, truncated, info = env.step(env.unwrapped.oracle_action())
            if terminated or truncated:
                break
        wins.append(info["success"])
    return wins


@pytest.mark.parametrize("layout", ["spider", "bird"])
def test_check_env_and_oracle_solves_every_question(layout, spider, bird):
    root, n = (spider, len(_SPIDER_QUESTIONS)) if layout == "spider" else (bird, 3)
    env = gym.make("mtenvs/Sql-v0", dataset=str(root))
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert info["split"] == "test" and info["task_id"].startswith(f"{layout}-test-")
    assert env.observation_space.contains(obs)
    obs, *_ = env.step(env.unwrapped.random_action(np.random.default_rng(0)))
    assert env.observation_space.contains(obs)
    assert _solve_all(env, n, f"{layout}-test") == [True] * n
    env.close()


def test_spider_tools_on_quoted_tables_and_verification(spider):
    env = gym.make("mtenvs/Sql-v0", dataset=spider, reward_mode="process")
    obs, info = env.reset(options={"task_id": "spider-test-00004"})
    assert "Who owns a cat?" in obs and "Pet Owners, pets" in obs and info["schema"] == "pets"
    obs, *_ = env.step('<tool_call>{"name": "list_tables", "arguments": {}}</tool_call>')
    assert "Pet Owners: 2 rows" in obs and "pets: 3 rows" in obs
    obs, *_ = env.step({"name": "describe", "arguments": {"table": "Pet Owners"}})
    assert "Owner Id INTEGER (PRIMARY KEY)" in obs
    obs, *_ = env.step({"name": "describe", "arguments": {"table": "pets"}})
    assert "references Pet Owners.Owner Id" in obs
    obs, *_ = env.step({"name": "sample", "arguments": {"table": "Pet Owners", "n": 1}})
    assert "Ana Lima" in obs and "(1 rows)" in obs
    obs, reward, *_ = env.step('```sql\nSELECT "Full Name" FROM "Pet Owners"\n```')
    assert "Ben Okafor" in obs and 0 < reward < 1  # partial credit: one extra row
    obs, *_ = env.step("```sql\nDELETE FROM pets\n```")
    assert "not allowed" in obs  # questions are read-only
    *_, terminated, _, info = env.step("<answer>SELECT 'Ana Lima'</answer>")
    assert terminated and info["success"]  # verified by result, not by SQL text
    env.reset(options={"task_id": "spider-test-00001"})  # ordered gold: order matters
    *_, info = env.step("<answer>SELECT name FROM singer ORDER BY age</answer>")
    assert not info["success"]
    env.close()


def test_bird_evidence_goes_into_the_request(bird):
    env = gym.make("mtenvs/Sql-v0", dataset=bird)
    obs, info = env.reset(options={"task_id": "bird-test-00000"})
    assert info["schema"] == "concert"
    assert "How many senior singers are from France?" in obs
    assert "Evidence: senior refers to age > 40" in obs
    obs, _ = env.reset(options={"task_id": "bird-test-00001"})
    assert "Evidence" not in obs
    env.close()


def test_episodes_get_fresh_copies_and_the_files_stay_unchanged(spider):
    file = spider / "database" / "concert" / "concert.sqlite"
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    env = gym.make("mtenvs/Sql-v0", dataset=spider)
    env.reset(options={"task_id": "spider-test-00000"})
    db = env.unwrapped.database
    release_guards(db.conn)  # bypass the guards: only this copy may change
    db.conn.execute("DELETE FROM concert")
    snap = env.unwrapped.snapshot()
    env.reset(options={"task_id": "spider-test-00000"})
    obs, *_ = env.step("```sql\nSELECT COUNT(*) FROM concert\n```")
    assert "| 4 |" in obs
    env.unwrapped.restore(snap)
    obs, *_ = env.step("```sql\nSELECT COUNT(*) FROM concert\n```")
    assert "| 0 |" in obs
    env.close()
    assert hashlib.sha256(file.read_bytes()).hexdigest() == digest


def test_seeded_determinism_and_splits(spider):
    def play(seed: int) -> list[object]:
        env = gym.make("mtenvs/Sql-v0", dataset=spider)
        out: list[object] = []
        for k in range(4):
            obs, info = env.reset(seed=seed + k)
            out.append((obs, info["task_id"]))
            out.append(env.step(env.unwrapped.random_action(np.random.default_rng(k)))[:3])
        env.close()
        return out

    first = play(3)
    assert play(3) == first
    ids = {gym.make("mtenvs/Sql-v0", dataset=spider).reset(seed=s)[1]["task_id"] for s in range(30)}
    assert len(ids) == len(_SPIDER_QUESTIONS)  # seeds spread over every question
    train = gym.make("mtenvs/Sql-v0", dataset=spider, split="train")
    assert train.reset(seed=0)[1]["task_id"].startswith("spider-train-")
    assert len(train.unwrapped.dataset.tasks) == 2
    other = gym.make("mtenvs/Sql-v0", dataset=spider, question_file="train_spider.json")
    assert len(other.unwrapped.dataset.tasks) == 2


def test_invalid_utf8_text_is_shown_not_raised(tmp_path):
    root = _spider(tmp_path / "spider")
    conn = sqlite3.connect(root / "database" / "concert" / "concert.sqlite")
    conn.execute("UPDATE singer SET name = CAST(X'4A6FFF65' AS TEXT) WHERE singer_id = 1")
    conn.commit()
    conn.close()
    env = gym.make("mtenvs/Sql-v0", dataset=root)
    env.reset(options={"task_id": "spider-test-00001"})
    obs, *_ = env.step("```sql\nSELECT name FROM singer WHERE singer_id = 1\n```")
    assert "Jo\ufffde" in obs
    assert _solve_all(env, 1, "spider-test")[0]


def _error(root: Path, **kwargs: object) -> str:
    with pytest.raises(InvalidArgumentError) as e:
        gym.make("mtenvs/Sql-v0", dataset=root, **kwargs)
    return str(e.value)


def test_layout_errors_name_the_missing_piece(tmp_path):
    assert "is not a directory" in _error(tmp_path / "nope")
    spider = _spider(tmp_path / "spider")
    (spider / "train_spider.json").unlink()
    message = _error(spider, split="train")
    assert "train_spider.json, train.json" in message and "Expected a Spider or BIRD" in message
    assert "question_file 'x.json' does not exist" in _error(spider, question_file="x.json")
    shutil.copy(spider / "tables.json", tmp_path / "tables.bak")
    (spider / "tables.json").unlink()
    assert "No tables file" in _error(spider) and "tables.json" in _error(spider)
    shutil.copy(tmp_path / "tables.bak", spider / "tables.json")

    def questions(records: object) -> str:
        (spider / "dev.json").write_text(json.dumps(records))
        return _error(spider)

    assert "neither 'query' (Spider) nor 'SQL' (BIRD)" in questions(
        [{"db_id": "pets", "question": "q", "sql": "SELECT 1"}]
    )
    assert "lacks field(s) 'db_id'" in questions([{"question": "q", "query": "SELECT 1"}])
    assert "lacks field(s) 'SQL'" in questions(
        [{"db_id": "pets", "question": "q", "SQL": "SELECT 1"}, {"db_id": "pets", "question": "q"}]
    )
    assert "database 'zoo', which tables.json does not describe" in questions(
        [{"db_id": "zoo", "question": "q", "query": "SELECT 1"}]
    )
    assert "non-empty JSON list" in questions([])
    (spider / "dev.json").write_text("{not json")
    assert "Cannot read" in _error(spider)
    _spider(spider)
    (spider / "tables.json").write_text(json.dumps([{"db_id": "pets"}]))
    assert "lacks field(s) 'table_names_original', 'column_names_original'" in _error(spider)
    _spider(spider)
    (spider / "database" / "pets" / "pets.sqlite").unlink()
    message = _error(spider)
    assert "Database 'pets' not found" in message and "database/pets/pets.sqlite" in message


def test_bad_arguments_and_bad_files(tmp_path, spider):
    for kwargs, name in (
        ({"dialect": "postgres"}, "dialect='postgres'"),
        ({"schema": "shop"}, "schema='shop'"),
        ({"eval_set": True}, "eval_set=True"),
        ({"scale": 5000}, "scale=5000"),
    ):
        assert f"{name} does not apply with dataset=PATH" in _error(spider, **kwargs)
    with pytest.raises(InvalidArgumentError, match=r"question_file='dev\.json' needs dataset"):
        gym.make("mtenvs/Sql-v0", question_file="dev.json")
    env = gym.make("mtenvs/Sql-v0", dataset=spider)
    with pytest.raises(InvalidArgumentError, match="ids run from 'spider-test-00000'"):
        env.reset(options={"task_id": "spider-test-00099"})
    (spider / "database" / "pets" / "pets.sqlite").write_text("not a database")
    with pytest.raises(InvalidArgumentError, match="not a readable SQLite database"):
        env.reset(options={"task_id": "spider-test-00003"})
    broken = _spider(tmp_path / "broken")
    (broken / "dev.json").write_text(
        json.dumps([{"db_id": "pets", "question": "q", "query": "SELECT nope FROM pets"}])
    )
    with pytest.raises(InvalidArgumentError, match="gold SQL of task spider-test-00000 fails"):
        gym.make("mtenvs/Sql-v0", dataset=broken).reset(seed=0)


def test_loader_reads_bird_train_layout(tmp_path):
    root = _bird(tmp_path / "bird")
    (root / "dev_databases").rename(root / "train_databases")
    (root / "dev_tables.json").rename(root / "train_tables.json")
    (root / "dev.json").rename(root / "train.json")
    data = load_dataset(root, "train")
    assert data.format == "bird" and len(data.tasks) == 3
    assert data.databases["pets"] == root / "train_databases" / "pets" / "pets.sqlite"
    assert data.schemas["pets"].table("Pet Owners").columns[0].primary_key
