"""Which cases a ``Clinical-v0`` env plays: knowledge-base patients or MediQ records.

* :func:`check_case_source`: the ``eval_set`` and ``dataset`` arguments, checked together
  (a MediQ file is its own evaluation set);
* :func:`case_source`: the cases a reset picks from: a MediQ file, the fixed eval set or
  generated patients (:mod:`mtenvs.core.task_source` states the seed rule).

Knowledge-base patients themselves (generation, task ids, the fixed eval set) are in
:mod:`mtenvs.envs.clinical.patients`, MediQ records in :mod:`mtenvs.envs.clinical.mediq`.
"""

from __future__ import annotations

from collections.abc import Sequence

from mtenvs.core.task_source import GeneratedTasks, TaskList, TaskSource
from mtenvs.envs.clinical.mediq import MediQRecord
from mtenvs.envs.clinical.patients import (
    SEEDS_PER_SPLIT,
    Patient,
    eval_set,
    make_patient,
    patient_for_task,
)
from mtenvs.error import InvalidArgumentError

__all__ = ["Case", "case_source", "check_case_source"]

#: What a ``Clinical-v0`` episode plays: a knowledge-base patient or a MediQ record.
Case = Patient | MediQRecord


def check_case_source(eval_set: object, dataset: str | None) -> None:
    """Refuse ``eval_set=True`` with a ``dataset`` (the base class checks ``eval_set`` and
    ``split`` themselves).

    Raises:
        InvalidArgumentError: ``eval_set`` is combined with a ``dataset``.
    """
    if dataset is not None and eval_set:
        raise InvalidArgumentError(
            "eval_set=True plays the shipped knowledge-base patients; it cannot be combined "
            "with dataset=PATH (a MediQ file is its own evaluation set)."
        )


def case_source(
    split: str, *, use_eval_set: bool, records: Sequence[MediQRecord], dataset: str | None
) -> TaskSource[Case]:
    """The cases of a reset: the MediQ ``records`` of ``dataset`` when there are any, else
    the fixed eval set, else patients generated for ``split``."""
    if records:

        def not_in_file(task_id: object) -> MediQRecord:
            raise InvalidArgumentError(
                f"Task {task_id!r} is not in {dataset}; MediQ task ids are 'mediq-<id>'."
            )

        return TaskList(records, f"MediQ file {dataset}", lookup=not_in_file)
    if use_eval_set:
        return TaskList(
            eval_set(),
            "the clinical eval set",
            lookup=lambda task_id: patient_for_task(task_id, split, use_eval_set=True),
        )
    return GeneratedTasks(
        lambda rng: make_patient(split, int(rng.integers(SEEDS_PER_SPLIT))),
        lambda task_id: patient_for_task(task_id, split, use_eval_set=False),
    )
