"""PythonCode task data: the authored problems, the variants, splits and the eval set."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from mtenvs.envs.code.code_tasks import (
    CATEGORIES,
    authored_problems,
    build_eval_set,
    eval_set,
    find_task,
    task_from_dict,
    task_to_dict,
)
from mtenvs.envs.code.code_variants import TEMPLATES, make_variant
from mtenvs.envs.code.code_verify import run_tests
from mtenvs.error import InvalidArgumentError
from mtenvs.sandbox import LocalSandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[LocalSandbox]:
    sb = LocalSandbox()
    yield sb
    sb.close()


def test_at_least_100_authored_problems_over_every_category():
    problems = authored_problems()
    assert len(problems) >= 100
    assert len({p.task_id for p in problems}) == len(problems)
    by_category = Counter(p.category for p in problems)
    assert set(by_category) == set(CATEGORIES) and min(by_category.values()) >= 10
    assert {p.difficulty for p in problems} == {"easy", "medium", "hard"}
    for p in problems:
        assert len(p.tests) >= 5, p.task_id
        assert p.prompt.startswith(f"def {p.entry_point}(") and '"""' in p.prompt
    splits = Counter(p.split for p in problems)
    assert splits["test"] >= 20 and splits["train"] >= 70
    assert {p.category for p in problems if p.split == "test"} == set(CATEGORIES)


def test_every_reference_solution_passes_its_own_tests(sandbox):
    tasks = list(authored_problems()) + [
        make_variant(name, split, seed)
        for name in TEMPLATES
        for split in ("train", "test")
        for seed in range(3)
    ]
    failures = []
    for task in tasks:
        verdict = run_tests(
            sandbox, task.solution, task.entry_point, task.tests, lenient=task.lenient
        )
        if not verdict.correct:
            failures.append((task.task_id, verdict.feedback()))
    assert not failures


def test_a_trivial_solution_fails_most_tests(sandbox):
    task = find_task("code-two_sum")
    verdict = run_tests(sandbox, "def two_sum(nums, target):\n    return []", "two_sum", task.tests)
    assert 0 < verdict.score < 1


def test_variants_are_deterministic_and_splits_are_disjoint():
    for name in TEMPLATES:
        assert make_variant(name, "train", 7) == make_variant.__wrapped__(name, "train", 7)
        train = {repr(make_variant(name, "train", s).tests) for s in range(20)}
        test = {repr(make_variant(name, "test", s).tests) for s in range(20)}
        assert not train & test
        assert len(train) > 1
    task = make_variant("nth_term", "test", 3)
    assert find_task(task.task_id) == task


def test_eval_set_is_frozen_and_matches_the_generator():
    frozen = eval_set()
    assert [task_to_dict(t) for t in frozen] == [task_to_dict(t) for t in build_eval_set()]
    assert all(t.split == "test" for t in frozen) and len(frozen) >= 40
    assert task_from_dict(task_to_dict(frozen[0])) == frozen[0]


def test_unknown_task_ids_say_what_is_expected():
    with pytest.raises(InvalidArgumentError, match="code-two_sum"):
        find_task("code-nope")
    with pytest.raises(InvalidArgumentError):
        make_variant("nope", "train", 0)
