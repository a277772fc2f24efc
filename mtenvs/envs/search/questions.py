"""Questions over a generated world, each with one verified answer.

A task is determined by ``(world spec, split, index)`` and named
``search-<spec.key>-<split>-<index>`` (``search-w-s0-n3000-v1-test-7``). Its kind and
number of hops are drawn first, then its entities, all from the task's own generator;
a draw whose answer is not unique is drawn again (deterministically).

===============  ======  ==================================================================
kind             hops    question and answer
===============  ======  ==================================================================
bridge           1-4     follow 1-4 relations from a named entity (``Where was the founder
                         of the Tarnel Guild born?``), or 0-3 relations then ask an
                         attribute (a year, a population, an occupation...). One document
                         per hop; relations are functions, so the answer is unique.
comparison       2-4     compare one numeric attribute of two entities, each named or
                         reached by one relation (``Which city is older, the birthplace of
                         X or Y?``): the answer is the winning entity's name, or ``yes`` /
                         ``no`` for the yes/no wording (``Was X born before Y?``; also
                         ``Were X and Y born in the same city?``). The values differ.
intersection     2       the one entity that satisfies two constraints (``Which person was
                         born in C and was a member of O?``, ``Which member of O was born in
                         1873?``): documents list every entity pointing at them, so the two
                         lists (or the list and the candidate's document) settle it. The
                         generator checks that exactly one entity qualifies.
===============  ======  ==================================================================

``supporting_doc_ids`` are the documents a reader needs, in hop order (for a comparison,
the first side's chain, then the second's). A question of split ``S`` only touches
entities of split ``S`` (:meth:`World.split_of`). :func:`verify` recomputes a task's
answer from the fact arrays by brute force, independently of the generator's shortcuts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import numpy as np

from mtenvs.core.tasks import stable_rng
from mtenvs.envs.search import question_text as qt
from mtenvs.envs.search.types import HopKind, SearchTask
from mtenvs.envs.search.world import (
    GENRES,
    OCCUPATIONS,
    RELATIONS,
    SECTORS,
    SPLITS,
    EntityType,
    SearchSplit,
    World,
    WorldSpec,
)
from mtenvs.error import InvalidArgumentError, check_choice

__all__ = [
    "EVAL_SET_SIZE",
    "MAX_INDEX",
    "QuestionPlan",
    "eval_set",
    "generate_task",
    "parse_task_id",
    "plan_task",
    "task_id",
    "verify",
]

EVAL_SET_SIZE: Final = 100
MAX_INDEX: Final = 2**31 - 1
_ATTEMPTS: Final = 400
#: (kind, hops) drawn uniformly; intersection twice, as it has a single hop count.
_COMBOS: Final[tuple[tuple[HopKind, int], ...]] = (
    ("bridge", 1), ("bridge", 2), ("bridge", 3), ("bridge", 4),
    ("comparison", 2), ("comparison", 3), ("comparison", 4),
    ("intersection", 2), ("intersection", 2),
)  # fmt: skip
_RELS_FROM: Final = {t: [r for r in RELATIONS.values() if r.source == t] for t in EntityType}


@dataclass(frozen=True)
class Bridge:
    """Follow ``relations`` from ``start``; the answer is the last entity or its attribute."""

    start: int
    relations: tuple[str, ...]
    attribute: str | None


@dataclass(frozen=True)
class Compare:
    """Compare ``attribute`` of two sides, each ``(entity, relation or None)``."""

    sides: tuple[tuple[int, str | None], tuple[int, str | None]]
    attribute: str
    yes_no: bool


@dataclass(frozen=True)
class Same:
    """Do ``a`` and ``b`` share the target of ``relation``? (yes / no)"""

    a: int
    b: int
    relation: str


@dataclass(frozen=True)
class Intersect:
    """The one entity of ``etype`` with ``relation -> target`` and ``second`` (a relation
    and its target entity, or an attribute and its value as documents write it)."""

    etype: EntityType
    relation: str
    target: int
    second: str
    second_value: int | str


Program = Bridge | Compare | Same | Intersect


@dataclass(frozen=True)
class QuestionPlan:
    """A task before it is a :class:`SearchTask`: the question's structure as well."""

    kind: HopKind
    question: str
    answer: str
    aliases: tuple[str, ...]
    #: Entities whose documents support the answer, in hop order.
    supporting: tuple[int, ...]
    #: Every name the question spells, with the entity it means.
    references: tuple[tuple[str, int], ...]
    #: ``(entity, spellings)``: the entity's document must contain one of the spellings.
    evidence: tuple[tuple[int, tuple[str, ...]], ...]
    program: Program


def task_id(spec: WorldSpec, split: str, index: int) -> str:
    """``search-<spec.key>-<split>-<index>``."""
    return f"search-{spec.key}-{split}-{index}"


_NUMBER: Final = r"(0|[1-9]\d{0,18})"  # no leading zeros: one spelling per task
_ID_PATTERN: Final = re.compile(
    rf"search-w-s{_NUMBER}-n{_NUMBER}-v{_NUMBER}-(train|validation|test)-{_NUMBER}"
)


def parse_task_id(value: object) -> tuple[WorldSpec, SearchSplit, int]:
    """``(spec, split, index)`` of a task id; a malformed one raises, naming the layout."""
    from mtenvs.envs.search.world import WORLD_FORMAT

    match = _ID_PATTERN.fullmatch(value) if isinstance(value, str) else None
    if match is None or int(match.group(3)) != WORLD_FORMAT or int(match.group(5)) > MAX_INDEX:
        raise InvalidArgumentError(
            f"Unknown Search task id {value!r}; expected 'search-w-s<seed>-n<entities>-"
            f"v{WORLD_FORMAT}-<train|validation|test>-<index>' with index <= {MAX_INDEX}, "
            f"e.g. 'search-w-s0-n3000-v{WORLD_FORMAT}-test-7'."
        )
    spec = WorldSpec(seed=int(match.group(1)), n_entities=int(match.group(2)))
    split: SearchSplit = SPLITS[SPLITS.index(match.group(4))]  # type: ignore[arg-type]
    return spec, split, int(match.group(5))


def generate_task(world: World, split: str, index: int) -> SearchTask:
    """Task ``index`` of ``split`` (``train``, ``validation`` or ``test``) in ``world``."""
    plan = plan_task(world, split, index)
    return SearchTask(
        task_id=task_id(world.spec, split, index),
        question=plan.question,
        answer=plan.answer,
        aliases=plan.aliases,
        supporting_doc_ids=tuple(world.doc_id(e) for e in plan.supporting),
        hops=len(plan.supporting),
        kind=plan.kind,
        split=split,
    )


def eval_set(world: World, n: int = EVAL_SET_SIZE) -> list[SearchTask]:
    """The fixed evaluation set: the first ``n`` test tasks, skipping a task whose question
    repeats an earlier one (small worlds have few test entities); all kinds, 1-4 hops."""
    out: list[SearchTask] = []
    seen: set[str] = set()
    index = 0
    while len(out) < n and index < 50 * n:
        task = generate_task(world, "test", index)
        index += 1
        if task.question not in seen:
            seen.add(task.question)
            out.append(task)
    return out


def plan_task(world: World, split: str, index: int) -> QuestionPlan:
    """The plan of task ``index`` of ``split``; bad arguments raise, naming allowed values."""
    check_choice("split", split, SPLITS)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= MAX_INDEX:
        raise InvalidArgumentError(f"task index must be an int in [0, {MAX_INDEX}], got {index!r}.")
    rng = stable_rng("search-question", world.spec.key, split, index)
    combo = int(rng.integers(len(_COMBOS)))
    for attempt in range(_ATTEMPTS):
        kind, hops = _COMBOS[(combo + attempt // 50) % len(_COMBOS)]
        plan = _DRAW[kind](world, split, hops, rng)
        if plan is not None:
            return plan
    raise RuntimeError(f"no question found for {split} task {index} of {world.spec.key}")


# -- drawing ------------------------------------------------------------------------------


def _pick(world: World, split: str, etype: EntityType, rng: np.random.Generator) -> int:
    block = world.entities(split, etype)
    return block.start + int(rng.integers(len(block)))


def _answer_of(world: World, entity: int) -> tuple[str, tuple[str, ...]]:
    names = world.names_of(entity)
    return names[0], names[1:]


def _value_answer(world: World, entity: int, attribute: str) -> tuple[str, tuple[str, ...]]:
    value = qt.attribute_value(world, entity, attribute)
    return value, ((value.replace(",", ""),) if "," in value else ())


def _draw_bridge(
    world: World, split: str, hops: int, rng: np.random.Generator
) -> QuestionPlan | None:
    n_rel = hops - int(rng.random() < 0.35)  # some bridges end on an attribute
    start_type = EntityType(int(rng.integers(len(EntityType))))
    path, relations = [_pick(world, split, start_type, rng)], []
    for _ in range(n_rel):
        options = _RELS_FROM[world.type_of(path[-1])]
        if not options:
            return None
        rel = options[int(rng.integers(len(options)))]
        relations.append(rel.name)
        path.append(world.target(rel.name, path[-1]))
    if len(set(path)) < len(path):
        return None
    attribute = None
    if n_rel < hops:
        attrs = qt.ATTRIBUTES[world.type_of(path[-1])]
        attribute = attrs[int(rng.integers(len(attrs)))]
    text, spelling = qt.describe(world, path[0], rng)
    last = len(relations) if attribute else len(relations) - 1
    for k in range(last):
        phrases = qt.RELATION_PHRASES[qt.relation_key(world, relations[k], path[k])]
        text = phrases[int(rng.integers(len(phrases)))].format(x=text)
    if attribute is None:
        final = qt.FINAL_QUESTIONS[qt.relation_key(world, relations[-1], path[-2])]
        answer, aliases = _answer_of(world, path[-1])
    else:
        final = qt.ATTRIBUTE_QUESTIONS[(world.type_of(path[-1]), attribute)]
        answer, aliases = _value_answer(world, path[-1], attribute)
    question = final[int(rng.integers(len(final)))].format(x=text)
    supporting = tuple(path if attribute else path[:-1])
    evidence = [(path[k], world.names_of(path[k + 1])) for k in range(len(path) - 1)]
    if attribute:
        evidence.append((path[-1], (answer,)))
    return QuestionPlan(
        kind="bridge",
        question=question[0].upper() + question[1:],
        answer=answer,
        aliases=aliases,
        supporting=supporting,
        references=((spelling, path[0]),),
        evidence=tuple(evidence),
        program=Bridge(path[0], tuple(relations), attribute),
    )


def _draw_comparison(
    world: World, split: str, hops: int, rng: np.random.Generator
) -> QuestionPlan | None:
    if hops == 2 and rng.random() < 0.3:
        return _draw_same(world, split, rng)
    keys = list(qt.COMPARE_QUESTIONS)
    etype, attribute = keys[int(rng.integers(len(keys)))]
    via = [False, False] if hops == 2 else [True, True] if hops == 4 else [True, False]
    if hops == 3 and rng.random() < 0.5:
        via.reverse()
    into = [r for r in RELATIONS.values() if r.target == etype]
    sides: list[tuple[int, str | None]] = []
    for indirect in via:
        if indirect:
            if not into:
                return None
            rel = into[int(rng.integers(len(into)))]
            sides.append((_pick(world, split, rel.source, rng), rel.name))
        else:
            sides.append((_pick(world, split, etype, rng), None))
    targets = [world.target(r, e) if r else e for e, r in sides]
    touched = {e for e, _ in sides} | set(targets)
    if len(touched) != sum(1 + (r is not None) for _, r in sides):
        return None
    values = [int(world.year[t]) if attribute == "year" else int(world.number[t]) for t in targets]
    if values[0] == values[1]:
        return None
    first_wins = values[0] < values[1] if attribute == "year" else values[0] > values[1]
    texts, refs = [], []
    for entity, via_rel in sides:
        text, spelling = qt.describe(world, entity, rng)
        refs.append((spelling, entity))
        if via_rel is not None:
            phrases = qt.RELATION_PHRASES[qt.relation_key(world, via_rel, entity)]
            text = phrases[int(rng.integers(len(phrases)))].format(x=text)
        texts.append(text)
    yes_no = bool(rng.random() < 0.4)
    phrasings = qt.COMPARE_QUESTIONS[(etype, attribute)][int(yes_no)]
    question = phrasings[int(rng.integers(len(phrasings)))].format(a=texts[0], b=texts[1])
    aliases: tuple[str, ...] = ()
    if yes_no:
        answer = "yes" if first_wins else "no"
    else:
        answer, aliases = _answer_of(world, targets[0] if first_wins else targets[1])
    supporting: list[int] = []
    evidence: list[tuple[int, tuple[str, ...]]] = []
    for (entity, via_rel), target in zip(sides, targets, strict=True):
        if via_rel is not None:
            supporting.append(entity)
            evidence.append((entity, world.names_of(target)))
        supporting.append(target)
        evidence.append((target, (qt.attribute_value(world, target, attribute),)))
    return QuestionPlan(
        kind="comparison",
        question=question[0].upper() + question[1:],
        answer=answer,
        aliases=aliases,
        supporting=tuple(supporting),
        references=tuple(refs),
        evidence=tuple(evidence),
        program=Compare((sides[0], sides[1]), attribute, yes_no),
    )


def _draw_same(world: World, split: str, rng: np.random.Generator) -> QuestionPlan | None:
    rel = list(RELATIONS.values())[int(rng.integers(len(RELATIONS)))]
    a = _pick(world, split, rel.source, rng)
    sharing = [s for s in world.sources(rel.name, world.target(rel.name, a)) if s != a]
    if sharing and rng.random() < 0.5:
        b = sharing[int(rng.integers(len(sharing)))]
    else:
        b = _pick(world, split, rel.source, rng)
    if a == b:
        return None
    (ta, sa), (tb, sb) = qt.describe(world, a, rng), qt.describe(world, b, rng)
    phrasings = qt.SAME_QUESTIONS[rel.name]
    question = phrasings[int(rng.integers(len(phrasings)))].format(a=ta, b=tb)
    same = world.target(rel.name, a) == world.target(rel.name, b)
    return QuestionPlan(
        kind="comparison",
        question=question[0].upper() + question[1:],
        answer="yes" if same else "no",
        aliases=(),
        supporting=(a, b),
        references=((sa, a), (sb, b)),
        evidence=tuple((e, world.names_of(world.target(rel.name, e))) for e in (a, b)),
        program=Same(a, b, rel.name),
    )


def _draw_intersection(
    world: World, split: str, hops: int, rng: np.random.Generator
) -> QuestionPlan | None:
    keys = list(qt.INTERSECT_QUESTIONS)
    etype, first, second = keys[int(rng.integers(len(keys)))]
    answer_entity = _pick(world, split, etype, rng)
    target = world.target(first, answer_entity)
    candidates = set(world.sources(first, target))
    if second in RELATIONS:
        other = world.target(second, answer_entity)
        candidates &= set(world.sources(second, other))
        second_value: int | str = other
    else:
        value = qt.attribute_value(world, answer_entity, second)
        candidates = {c for c in candidates if qt.attribute_value(world, c, second) == value}
        second_value = value
    if candidates != {answer_entity}:
        return None
    p_text, p_spelling = qt.describe(world, target, rng)
    refs = [(p_spelling, target)]
    if isinstance(second_value, int):
        q_text, q_spelling = qt.describe(world, second_value, rng)
        refs.append((q_spelling, second_value))
        supporting = (target, second_value)
        evidence = tuple((e, world.names_of(answer_entity)) for e in supporting)
    else:
        q_text = second_value
        supporting = (target, answer_entity)
        evidence = ((target, world.names_of(answer_entity)), (answer_entity, (second_value,)))
    phrasings = qt.INTERSECT_QUESTIONS[(etype, first, second)]
    question = phrasings[int(rng.integers(len(phrasings)))].format(p=p_text, q=q_text)
    answer, aliases = _answer_of(world, answer_entity)
    return QuestionPlan(
        kind="intersection",
        question=question[0].upper() + question[1:],
        answer=answer,
        aliases=aliases,
        supporting=supporting,
        references=tuple(refs),
        evidence=evidence,
        program=Intersect(etype, first, target, second, second_value),
    )


_DRAW: Final = {
    "bridge": _draw_bridge,
    "comparison": _draw_comparison,
    "intersection": _draw_intersection,
}


# -- verification ----------------------------------------------------------------------


def verify(world: World, task: SearchTask) -> bool:
    """Whether ``task`` is task ``index`` of ``world`` and its answer is right and unique.

    The answer is recomputed from the fact arrays by brute force (a chain walked relation
    by relation, every entity scanned for an intersection), not from the text and not
    with the generator's inverse index; every name the question spells must name exactly
    one entity, and every entity the question touches must belong to the task's split.
    """
    try:
        spec, split, index = parse_task_id(task.task_id)
    except InvalidArgumentError:
        return False
    if spec != world.spec or split != task.split:
        return False
    plan = plan_task(world, split, index)
    solved = _solve(world, plan.program)
    if solved is None:
        return False
    answer, supporting, touched = solved
    references = [e for _, e in plan.references]
    entity_answers = [world.lookup(a) for a in (answer, *task.aliases)]
    return (
        task.answer == answer
        and task.question == plan.question
        and task.kind == plan.kind
        and task.supporting_doc_ids == tuple(world.doc_id(e) for e in supporting)
        and task.hops == len(supporting)
        and all(world.split_of(e) == split for e in {*touched, *references})
        and all(world.lookup(s) == [e] for s, e in plan.references)
        and all(len(found) <= 1 and found == entity_answers[0] for found in entity_answers)
    )


def _solve(world: World, program: Program) -> tuple[str, list[int], set[int]] | None:
    """``(answer, supporting entities, touched entities)``, or ``None`` if not unique."""
    if isinstance(program, Bridge):
        path = [program.start]
        for name in program.relations:
            rel = RELATIONS[name]
            if world.etype[path[-1]] != rel.source:
                return None
            path.append(int(world.rel[rel.slot, path[-1]]))
        if len(set(path)) < len(path):
            return None
        if program.attribute is None:
            return world.name(path[-1]), path[:-1], set(path)
        return qt.attribute_value(world, path[-1], program.attribute), path, set(path)
    if isinstance(program, Compare):
        targets = [int(world.rel[RELATIONS[r].slot, e]) if r else e for e, r in program.sides]
        column = world.year if program.attribute == "year" else world.number
        a, b = int(column[targets[0]]), int(column[targets[1]])
        if a == b or targets[0] == targets[1]:
            return None
        first = a < b if program.attribute == "year" else a > b
        answer = ("yes" if first else "no") if program.yes_no else world.name(targets[1 - first])
        supporting = []
        for (entity, via), target in zip(program.sides, targets, strict=True):
            supporting += [entity, target] if via else [target]
        return answer, supporting, set(supporting)
    if isinstance(program, Same):
        slot = RELATIONS[program.relation].slot
        ta, tb = int(world.rel[slot, program.a]), int(world.rel[slot, program.b])
        return ("yes" if ta == tb else "no"), [program.a, program.b], {program.a, program.b, ta, tb}
    mask = (world.etype == program.etype) & (
        world.rel[RELATIONS[program.relation].slot] == program.target
    )
    if program.second in RELATIONS:
        mask &= world.rel[RELATIONS[program.second].slot] == program.second_value
    else:
        mask &= _attribute_mask(world, program.second, str(program.second_value))
    hits = np.flatnonzero(mask)
    if len(hits) != 1:
        return None
    found = int(hits[0])
    if isinstance(program.second_value, int):
        supporting = [program.target, program.second_value]
    else:
        supporting = [program.target, found]
    return world.name(found), supporting, {*supporting, found}


def _attribute_mask(world: World, attribute: str, value: str) -> np.ndarray:
    if attribute == "year":
        return world.year == int(value)
    if attribute in ("population", "area"):
        return world.number == int(value.replace(",", ""))
    table = {"occupation": OCCUPATIONS, "sector": SECTORS, "genre": GENRES}[attribute]
    return world.category == table.index(value)
