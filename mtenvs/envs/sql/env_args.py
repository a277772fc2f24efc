"""Checks of the SQL envs' constructor arguments: each refusal names the bad value, the
allowed ones and the fix."""

from __future__ import annotations

import os
from typing import Final

from mtenvs.envs.sql.data import DEFAULT_SCALE, MAX_SCALE, MIN_SCALE
from mtenvs.envs.sql.postgres import POSTGRES_BACKENDS
from mtenvs.envs.sql.schemas import SCHEMA_NAMES
from mtenvs.error import InvalidArgumentError, check_choice, check_int_range

__all__ = ["DIALECTS", "check_sql_env_args"]

#: Database engines: embedded SQLite, or PostgreSQL (:mod:`mtenvs.envs.sql.postgres`).
DIALECTS: Final = ("sqlite", "postgres")


def check_sql_env_args(
    *,
    schema: str | None,
    scale: int,
    eval_set: bool,
    dialect: str,
    query_timeout_s: float,
    submit_timeout_s: float | None,
    max_result_rows: int,
    dataset: str | os.PathLike[str] | None,
    question_file: str | None,
    postgres_backend: str,
) -> None:
    """Refuse bad or conflicting arguments of the SQL envs (the base class checks the
    common ones, ``eval_set`` and ``split`` among them)."""
    check_choice("postgres_backend", postgres_backend, POSTGRES_BACKENDS)
    if postgres_backend != "auto" and dialect != "postgres":
        raise InvalidArgumentError(
            f"postgres_backend={postgres_backend!r} needs dialect='postgres', got "
            f"dialect={dialect!r}."
        )
    if dataset is not None:
        _check_dataset_args(schema, scale, eval_set, dialect)
    elif question_file is not None:
        raise InvalidArgumentError(
            f"question_file={question_file!r} needs dataset=PATH (a Spider/BIRD directory)."
        )
    if schema is not None:
        check_choice("schema", schema, SCHEMA_NAMES)
    check_int_range("scale", scale, MIN_SCALE, MAX_SCALE)
    check_choice("dialect", dialect, DIALECTS)
    check_int_range("max_result_rows", max_result_rows, 1, 1000)
    if eval_set and scale != DEFAULT_SCALE:
        raise InvalidArgumentError(
            f"The SQL eval set is fixed at scale={DEFAULT_SCALE}; "
            f"got scale={scale}. Drop eval_set or scale."
        )
    _check_seconds("query_timeout_s", query_timeout_s)
    if submit_timeout_s is not None:
        _check_seconds("submit_timeout_s", submit_timeout_s)


def _check_seconds(name: str, value: object) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value <= 600:
        raise InvalidArgumentError(f"{name} must be a number in (0, 600] seconds, got {value!r}.")


def _check_dataset_args(schema: str | None, scale: int, eval_set: bool, dialect: str) -> None:
    """``dataset=`` brings its own databases and questions; refuse arguments that pick ours."""
    for name, value, default in (
        ("schema", schema, None),
        ("scale", scale, DEFAULT_SCALE),
        ("eval_set", eval_set, False),
        ("dialect", dialect, "sqlite"),
    ):
        if value != default:
            raise InvalidArgumentError(
                f"{name}={value!r} does not apply with dataset=PATH (a Spider/BIRD directory "
                f"of SQLite files with its own questions); leave {name} at {default!r}."
            )
