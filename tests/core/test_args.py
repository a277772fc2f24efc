"""The common constructor arguments are declared once (:mod:`mtenvs.core.args`): the base
class takes them, env classes pass them through typed ``**kwargs`` and declare only their
own, and the env cards' rows for them are generated."""

from __future__ import annotations

import inspect
from typing import Any, Unpack

import pytest

import mtenvs
from mtenvs.core.args import (
    ARGUMENT_DOCS,
    CommonArgs,
    EvalSetArgs,
    argument_defaults,
    constructor_arguments,
)
from mtenvs.core.env import MultiTurnEnv
from mtenvs.core.envdoc import common_argument_rows, parse_env_doc
from mtenvs.core.registry import env_class
from mtenvs.error import InvalidArgumentError

ENV_CLASSES = sorted({env_class(i) for i in mtenvs.list_envs()}, key=lambda c: c.__qualname__)
BASE_ARGS = set(inspect.signature(MultiTurnEnv.__init__).parameters) - {"self"}


def test_the_typed_dicts_are_the_base_class_arguments():
    assert set(EvalSetArgs.__annotations__) == BASE_ARGS == set(ARGUMENT_DOCS)
    assert constructor_arguments(MultiTurnEnv) == tuple(
        n for n in inspect.signature(MultiTurnEnv.__init__).parameters if n != "self"
    )


@pytest.mark.parametrize("cls", ENV_CLASSES, ids=lambda c: c.__qualname__)
def test_env_classes_declare_only_their_own_arguments(cls):
    for klass in cls.__mro__:
        if klass is MultiTurnEnv or not issubclass(klass, MultiTurnEnv):
            continue
        if "__init__" not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        restated = {p.name for p in params if p.kind is not p.VAR_KEYWORD} & BASE_ARGS
        assert not restated, f"{klass.__qualname__} restates {sorted(restated)}"
        constructor_arguments(klass)  # its **kwargs is Unpack[SomeTypedDict]


@pytest.mark.parametrize("cls", ENV_CLASSES, ids=lambda c: c.__qualname__)
def test_cards_show_every_common_argument_and_rows_written_again_say_more(cls):
    generated = common_argument_rows(cls)
    assert set(generated) == set(constructor_arguments(cls)) & BASE_ARGS
    doc = parse_env_doc(cls).section("Argument")
    for name in generated:
        assert f"| `{name}` |" in doc
    own = inspect.cleandoc(cls.__doc__ or "")
    for row in generated.values():
        assert row not in own, f"{cls.__qualname__} restates the generated row {row}"


class _Untyped(MultiTurnEnv[str, str, str]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)


class _Typed(MultiTurnEnv[str, str, str]):
    def __init__(self, *, colour: str = "red", **kwargs: Unpack[CommonArgs]) -> None:
        super().__init__(**kwargs)


def test_untyped_kwargs_are_refused_and_typed_ones_are_known():
    with pytest.raises(TypeError, match=r"Unpack\[SomeTypedDict\]"):
        constructor_arguments(_Untyped)
    assert constructor_arguments(_Typed) == ("colour", *CommonArgs.__annotations__)
    with pytest.raises(InvalidArgumentError, match="allowed arguments: colour, max_turns"):
        _Typed.__new__(_Typed, split="test")


def test_defaults_come_from_the_nearest_signature():
    liars_dice = argument_defaults(env_class("mtenvs/LiarsDice-v0"))
    assert liars_dice["num_dice"] == 2 and liars_dice["opponent"] == "heuristic"
    assert liars_dice["format_penalty"] == 0.1 and "eval_set" not in liars_dice
    assert argument_defaults(env_class("mtenvs/Sokoban-v0"))["eval_set"] is False
