"""The constructor arguments every env shares, declared once.

:class:`~mtenvs.core.env.MultiTurnEnv` takes them with their defaults. An env class
declares only its own arguments and passes the common ones through as
``**kwargs: Unpack[CommonArgs]`` — or :class:`SplitArgs` where it has train and test
tasks, :class:`EvalSetArgs` where it also has a fixed eval set — so a type checker checks
every call and :func:`constructor_arguments` (which ``MultiTurnEnv`` uses to refuse an
unknown keyword) knows them all. The env cards' rows for these arguments are generated
from :data:`ARGUMENT_DOCS` and the base class's defaults (:mod:`mtenvs.core.envdoc`).
"""

from __future__ import annotations

import inspect
import re
import sys
from typing import Any, Final, Literal, TypedDict, Unpack, get_args, get_origin, is_typeddict

from mtenvs.core.rewards import RewardMode
from mtenvs.core.tasks import Split

__all__ = [
    "ARGUMENT_DOCS",
    "CommonArgs",
    "EvalSetArgs",
    "ObsMode",
    "SplitArgs",
    "argument_defaults",
    "constructor_arguments",
]

ObsMode = Literal["text", "image", "text+image"]


class CommonArgs(TypedDict, total=False):
    """Arguments of every env (see :data:`ARGUMENT_DOCS`)."""

    max_turns: int | None
    reward_mode: RewardMode | str
    obs_mode: ObsMode
    render_mode: str | None
    turn_cost: float
    format_penalty: float


class SplitArgs(CommonArgs, total=False):
    """Arguments of an env with disjoint train and test tasks."""

    split: Split | None


class EvalSetArgs(SplitArgs, total=False):
    """Arguments of an env that also has a fixed eval set."""

    eval_set: bool


#: What each common argument does, for the env cards (defaults come from the base class;
#: ``{obs_modes}`` and ``{render_modes}`` are filled in from the env class).
ARGUMENT_DOCS: Final[dict[str, str]] = {
    "obs_mode": "{obs_modes}",
    "max_turns": "turn budget: replies per episode, `truncated` when used up",
    "reward_mode": "`outcome`, or `process` to count the `process` component too",
    "split": "disjoint `train` and `test` task sets",
    "eval_set": "play the fixed eval set: `reset(seed=s)` plays its task `s` modulo its "
    "size, a reset without a seed the next one",
    "render_mode": "{render_modes}",
    "turn_cost": "subtracted every turn",
    "format_penalty": "subtracted for a malformed reply",
}

_UNPACK = re.compile(r"Unpack\[\s*([A-Za-z_][A-Za-z0-9_]*)\s*\]")
#: constructor_arguments per class: MultiTurnEnv.__new__ asks on every construction.
_KNOWN: dict[type, tuple[str, ...]] = {}


def constructor_arguments(cls: type) -> tuple[str, ...]:
    """The keyword arguments ``cls(...)`` accepts: the named parameters of its
    ``__init__`` and the keys of the ``TypedDict`` its ``**kwargs`` unpacks.

    Raises ``TypeError`` for a ``**kwargs`` that is not ``Unpack[SomeTypedDict]`` (an
    untyped catch-all would swallow mistyped keywords).
    """
    known = _KNOWN.get(cls)
    if known is not None:
        return known
    init = cls.__init__  # type: ignore[misc]
    names: list[str] = []
    for name, param in inspect.signature(init).parameters.items():
        if name == "self":
            continue
        if param.kind in (param.KEYWORD_ONLY, param.POSITIONAL_OR_KEYWORD):
            names.append(name)
        elif param.kind is param.VAR_KEYWORD:
            names += [k for k in _unpacked_keys(init, param.annotation) if k not in names]
    known = _KNOWN[cls] = tuple(names)
    return known


def argument_defaults(cls: type) -> dict[str, Any]:
    """The default of each keyword argument of ``cls`` that has one in a signature: the
    nearest ``__init__`` in its MRO that names it (common arguments: the base class's).
    Defaults an ``__init__`` applies in code (``max_turns`` per difficulty) are not seen."""
    defaults: dict[str, Any] = {}
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if init is None or klass is object:
            continue
        for name, param in inspect.signature(init).parameters.items():
            if param.default is not param.empty:
                defaults.setdefault(name, param.default)
    return {name: defaults[name] for name in constructor_arguments(cls) if name in defaults}


def _unpacked_keys(init: object, annotation: object) -> list[str]:
    typed: object = None
    if isinstance(annotation, str):  # postponed: look the TypedDict up in init's module
        match = _UNPACK.fullmatch(annotation)
        module = sys.modules.get(getattr(init, "__module__", ""))
        typed = getattr(module, match.group(1), None) if match is not None else None
    elif get_origin(annotation) is Unpack:
        typed = get_args(annotation)[0]
    if not is_typeddict(typed):
        raise TypeError(
            f"{getattr(init, '__qualname__', init)} takes **kwargs annotated "
            f"{annotation!r}; declare them as **kwargs: Unpack[SomeTypedDict]."
        )
    return list(typed.__annotations__)  # type: ignore[attr-defined]  # inherited keys too
