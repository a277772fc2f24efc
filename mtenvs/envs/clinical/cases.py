"""Which cases a ``Clinical-v0`` env plays: knowledge-base patients or MediQ records.

* :func:`check_case_source`: the ``split``, ``eval_set`` and ``dataset`` arguments, checked
  together (the eval set holds test patients; a MediQ file is its own evaluation set);
* :func:`pick_record`: the MediQ record of an episode, by task id or drawn.

Knowledge-base patients themselves (generation, task ids, the fixed eval set) are in
:mod:`mtenvs.envs.clinical.patients`, MediQ records in :mod:`mtenvs.envs.clinical.mediq`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mtenvs.core.env import Split
from mtenvs.core.listed import eval_set_split
from mtenvs.envs.clinical.mediq import MediQRecord
from mtenvs.error import InvalidArgumentError

__all__ = ["check_case_source", "pick_record"]


def check_case_source(split: Split | None, eval_set: object, dataset: str | None) -> Split:
    """The split to play: ``split``, or by default ``"test"`` with the eval set, else
    ``"train"``.

    Raises:
        InvalidArgumentError: ``eval_set`` is not a bool, or is combined with a train split
            or with a ``dataset``.
    """
    split = eval_set_split(split, eval_set, "The clinical eval set holds")
    if dataset is not None and eval_set:
        raise InvalidArgumentError(
            "eval_set=True plays the shipped knowledge-base patients; it cannot be combined "
            "with dataset=PATH (a MediQ file is its own evaluation set)."
        )
    return split


def pick_record(
    records: Sequence[MediQRecord], task_id: object, dataset: str | None, rng: np.random.Generator
) -> MediQRecord:
    """The record whose task id (``mediq-<id>``) is ``task_id``, or one drawn with ``rng``.

    Raises:
        InvalidArgumentError: No record of ``dataset`` has that task id.
    """
    if task_id is not None:
        for record in records:
            if f"mediq-{record.id}" == task_id:
                return record
        raise InvalidArgumentError(
            f"Task {task_id!r} is not in {dataset}; MediQ task ids are 'mediq-<id>'."
        )
    return records[int(rng.integers(len(records)))]
