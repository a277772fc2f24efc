"""Helpers shared by the task modules of every family: splits, task ids, eval-set files.

* :func:`content_split` assigns a task to ``train`` or ``test`` by a hash of its *content*,
  so the two splits never share a task even when two seeds generate the same one.
* :func:`stable_rng` is a generator seeded from a hash of its arguments, the same in every
  process (``hash`` is salted per process), for what must not depend on the episode's seed:
  a task's shown example, a fixed set of check cases, the draw of an eval set, an oracle's
  mixed strategy in a given state.
* :func:`parse_task_id` reads ids shaped ``<prefix>-<difficulty>-<split>-<seed>``.
* :func:`read_eval_set` / :func:`write_eval_set` read and write the fixed evaluation sets
  shipped in ``mtenvs/assets`` (``{"env", "difficulty", "split", "format_version", "tasks"}``).
* :func:`eval_set_split` checks an env's ``eval_set`` and ``split`` arguments together (an
  eval set holds test tasks).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal, cast

import numpy as np

from mtenvs.error import InvalidArgumentError, check_choice, check_flag

__all__ = [
    "SPLITS",
    "Split",
    "content_split",
    "eval_set_split",
    "parse_task_id",
    "read_eval_set",
    "stable_rng",
    "write_eval_set",
]

Split = Literal["train", "validation", "test"]

#: The splits of every family; :attr:`MultiTurnEnv.splits` adds ``validation`` where a
#: family has one.
SPLITS: Final[tuple[Split, ...]] = ("train", "test")


def content_split(content: str) -> str:
    """``"train"`` or ``"test"``, from one bit of a hash of ``content``."""
    digest = hashlib.blake2b(content.encode("utf-8"), digest_size=1).digest()
    return SPLITS[digest[0] & 1]


def stable_rng(*parts: object) -> np.random.Generator:
    """A generator seeded from ``repr(parts)`` (stable across processes, unlike ``hash``)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return np.random.default_rng(int.from_bytes(digest, "little"))


def parse_task_id(
    prefix: str, task_id: object, difficulties: Sequence[str], seeds: int
) -> tuple[str, str, int]:
    """``(difficulty, split, seed)`` of an id such as ``maze-medium-test-00012``."""
    pattern = rf"{re.escape(prefix)}-({'|'.join(difficulties)})-(train|test)-(\d{{1,9}})"
    match = re.fullmatch(pattern, task_id) if isinstance(task_id, str) else None
    if match is None or int(match.group(3)) >= seeds:
        raise InvalidArgumentError(
            f"Unknown {prefix} task id {task_id!r}; expected '{prefix}-<"
            f"{'|'.join(difficulties)}>-<train|test>-<seed>' with seed < {seeds}, "
            f"e.g. '{prefix}-{difficulties[0]}-test-00012'."
        )
    return match.group(1), match.group(2), int(match.group(3))


def read_eval_set(asset: str, label: str, module: str) -> list[dict[str, Any]]:
    """The task dicts of the eval-set file ``mtenvs/<asset>``; ``module`` regenerates it."""
    path = resources.files("mtenvs").joinpath(asset)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:  # pragma: no cover - a broken install
        raise FileNotFoundError(
            f"{label} eval set {path} is missing; run `python -m {module} --write-eval-sets`."
        ) from e
    return list(data["tasks"])


def write_eval_set(
    path: Path, env_id: str, difficulty: str, tasks: Sequence[dict[str, Any]]
) -> Path:
    """Write an eval-set file of test-split ``tasks`` for ``env_id`` at ``difficulty``."""
    payload = {
        "env": env_id,
        "difficulty": difficulty,
        "split": "test",
        "format_version": 1,
        "tasks": list(tasks),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return path


def eval_set_split(
    split: str | None, eval_set: object, holder: str, *, choices: Sequence[str] = SPLITS
) -> Split:
    """The split of an env whose eval set holds test tasks: ``split``, or by default
    ``"test"`` with ``eval_set`` and ``"train"`` without.

    Raises :class:`~mtenvs.error.InvalidArgumentError` when ``eval_set`` is not a bool,
    ``split`` is not one of ``choices``, or for an eval set with another split,
    naming the fix; ``holder`` begins that message (``"The math eval sets hold"``).
    """
    check_flag("eval_set", eval_set)
    if split is None:
        return "test" if eval_set else "train"
    check_choice("split", split, choices)
    if eval_set and split != "test":
        raise InvalidArgumentError(
            f"{holder} test tasks; use split='test' (or leave split unset) with "
            f"eval_set=True, got split={split!r}."
        )
    return cast(Split, split)
