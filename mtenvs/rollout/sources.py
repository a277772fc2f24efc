"""Env sources: what the drivers (rollout, eval, the TRL and verl adapters) accept as an env.

Every driver takes the same four things, normalised here in one place:

* an id, ``"mtenvs/Maze-v0"`` (built with ``gym.make(id, **env_kwargs)``);
* a list of ids or of any of these (tasks alternate between them);
* a Gymnasium :class:`~gymnasium.envs.registration.EnvSpec` (``gym.spec(id)``, or the
  ``spec`` of an env made and wrapped, whose wrappers ``gym.make(spec)`` applies again);
* a zero-argument factory returning an env wrapped as the caller likes:
  ``lambda: TryAgain(gym.make("mtenvs/PythonMath-v0"))``, or a :class:`WrappedEnv`, the
  picklable factory the command line builds from ``--wrapper`` options.

:func:`env_source` builds one env of the source (a *probe*) and reads what the engine
needs through its wrapper stack, the Gymnasium way (``get_wrapper_attr``, ``unwrapped``):
the readable name (the id of the innermost registered env), the wrappers applied, and the
facts ``io_bound`` and ``has_oracle``. The rollout engine hands the probe to its first
in-process worker, so it costs nothing there.

Factories travel to other processes (``executor="process"``, ``"ray"``) with cloudpickle,
as Gymnasium's ``AsyncVectorEnv`` sends its env functions; :func:`pickle_sources` names the
executor and the factory when one cannot be sent.

The verl adapter (or any other driver) uses the same normalisation::

    source = env_source(config_env)     # an id, an EnvSpec or a factory
    env = source.make(env_kwargs)       # a fresh env of that source
    source.name, source.wrappers        # for its records
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import gymnasium as gym
from gymnasium.envs.registration import EnvSpec
from gymnasium.wrappers import OrderEnforcing, PassiveEnvChecker

from mtenvs.core.registry import env_spec
from mtenvs.error import InvalidArgumentError, did_you_mean

__all__ = [
    "EnvFactory",
    "EnvLike",
    "EnvSource",
    "WrappedEnv",
    "build_env",
    "check_wrapper_args",
    "env_name",
    "env_source",
    "env_sources",
    "pickle_sources",
    "resolve_wrapper",
    "wrapper_names",
]

#: A zero-argument callable returning an env (wrapped as its author likes).
EnvFactory = Callable[[], gym.Env[Any, Any]]
#: What a driver accepts as one env: an id, an :class:`EnvSpec` or an :data:`EnvFactory`.
EnvLike = str | EnvSpec | EnvFactory

#: Wrappers ``gym.make`` adds to every env; they are not the user's choice, so not recorded.
_MAKE_WRAPPERS: tuple[type, ...] = (OrderEnforcing, PassiveEnvChecker)


def _describe(env_like: object) -> str:
    if isinstance(env_like, EnvSpec):
        return f"EnvSpec({env_like.id!r})"
    return repr(env_like) if len(repr(env_like)) <= 80 else type(env_like).__name__


def _check_env_like(env_like: object) -> None:
    """Raise a helpful error unless ``env_like`` is one of the :data:`EnvLike` forms."""
    if isinstance(env_like, str):
        env_spec(env_like)  # unknown ids name the close matches
        return
    if isinstance(env_like, EnvSpec) or callable(env_like):
        return
    raise InvalidArgumentError(
        f"Not an env: {_describe(env_like)}. Give an env id ('mtenvs/Maze-v0'), a list of "
        "them, a gymnasium EnvSpec (gym.spec(id)) or a zero-argument factory returning an "
        "env (lambda: TryAgain(gym.make('mtenvs/PythonMath-v0')))."
    )


def build_env(target: EnvLike, env_kwargs: Mapping[str, Any] | None = None) -> gym.Env[Any, Any]:
    """A fresh env of ``target``: ``gym.make(id_or_spec, **env_kwargs)`` or ``factory()``.

    Raises:
        InvalidArgumentError: ``env_kwargs`` with a factory (which builds its env itself),
            or a factory that returns something other than a ``gymnasium.Env``.
    """
    import mtenvs  # noqa: F401  (registers the ids, in a fresh worker process too)

    kwargs = dict(env_kwargs or {})
    if isinstance(target, (str, EnvSpec)):
        return gym.make(target, **kwargs)
    if kwargs:
        raise InvalidArgumentError(
            f"env_kwargs {sorted(kwargs)} apply to env ids and specs, but "
            f"{_describe(target)} is a factory, which builds its env itself: pass the "
            "arguments inside it (lambda: TryAgain(gym.make(id, max_turns=8)))."
        )
    env = target()
    if not isinstance(env, gym.Env):
        raise InvalidArgumentError(
            f"The env factory {_describe(target)} returned {type(env).__name__}, not a "
            "gymnasium.Env; a factory takes no arguments and returns an env."
        )
    return env


def env_name(env: gym.Env[Any, Any]) -> str:
    """A readable name of ``env``: the id of its innermost registered env (the unwrapped
    env's spec), else the unwrapped env's class name."""
    spec = env.unwrapped.spec
    return spec.id if spec is not None else type(env.unwrapped).__name__


def _value_text(value: Any) -> str:
    if value is None or isinstance(value, (str, int, float, bool)):
        return repr(value)
    name = getattr(value, "name", None)  # agents (a summarizer) have a name
    return str(name) if isinstance(name, str) else type(value).__name__


def wrapper_names(env: gym.Env[Any, Any]) -> tuple[str, ...]:
    """The wrappers around ``env``'s registered env, innermost first (the order of
    Gymnasium's ``EnvSpec.additional_wrappers``), each with its recorded constructor
    arguments: ``("TryAgain(max_attempts=3, decay=0.5, feedback=\"Let's try again.\")",)``.
    The checker wrappers ``gym.make`` adds to every env are left out."""
    out: list[str] = []
    current: Any = env
    while isinstance(current, gym.Wrapper):
        if not isinstance(current, _MAKE_WRAPPERS):
            kwargs = getattr(current, "_saved_kwargs", None) or {}
            args = ", ".join(f"{k}={_value_text(v)}" for k, v in kwargs.items() if k != "env")
            out.append(f"{type(current).__name__}({args})")
        current = current.env
    return tuple(reversed(out))


def _fact(env: gym.Env[Any, Any], name: str, default: bool) -> bool:
    """An env fact read through the wrapper stack (a wrapper may override it)."""
    try:
        return bool(env.get_wrapper_attr(name))
    except AttributeError:
        return default


@dataclass(frozen=True, eq=False)
class EnvSource:
    """One env source, normalised: how to build its envs and what the engine knows of it.

    Build envs with :meth:`make`; ``name`` and ``wrappers`` go into the trajectory records.
    """

    #: What the caller gave: an id, an :class:`EnvSpec` or a factory.
    target: EnvLike
    #: The id of the innermost registered env (or the spec id, or a class name).
    name: str
    #: The wrappers applied above the registered env, innermost first (:func:`wrapper_names`).
    wrappers: tuple[str, ...] = ()
    #: Steps mostly wait on I/O (the engine then steps on threads).
    io_bound: bool = False
    #: ``oracle_action`` exists.
    has_oracle: bool = False
    #: ``name`` is a registered id (its class can be looked up: eval sets, reference configs).
    registered: bool = False
    #: Constructor arguments given to ``gym.make`` for ids and specs.
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_factory(self) -> bool:
        return not isinstance(self.target, (str, EnvSpec))

    def make(self, env_kwargs: Mapping[str, Any] | None = None) -> gym.Env[Any, Any]:
        """A fresh env of this source (``env_kwargs``: those given to :func:`env_source`)."""
        return build_env(self.target, self.env_kwargs if env_kwargs is None else env_kwargs)


def probe_source(
    env_like: EnvLike, env_kwargs: Mapping[str, Any] | None = None
) -> tuple[EnvSource, gym.Env[Any, Any]]:
    """:func:`env_source` and the env it built to read the facts (the caller owns it)."""
    _check_env_like(env_like)
    kwargs = dict(env_kwargs or {})
    env = build_env(env_like, kwargs)
    try:
        name = env_name(env)
        source = EnvSource(
            target=env_like,
            name=name,
            wrappers=wrapper_names(env),
            io_bound=_fact(env, "io_bound", False),
            has_oracle=_fact(env, "has_oracle", False),
            registered=name in gym.registry,
            env_kwargs=kwargs,
        )
    except BaseException:
        with contextlib.suppress(Exception):
            env.close()
        raise
    return source, env


def env_source(env_like: EnvLike, env_kwargs: Mapping[str, Any] | None = None) -> EnvSource:
    """Normalise one env (id, :class:`EnvSpec` or factory; see the module doc).

    Builds one env to read the name, the wrappers and the facts through its wrapper stack,
    then closes it.

    Raises:
        UnknownEnvError: An unknown id (the message names close matches).
        InvalidArgumentError: Not an env, ``env_kwargs`` with a factory, or a factory that
            does not return a ``gymnasium.Env``.
    """
    source, env = probe_source(env_like, env_kwargs)
    env.close()
    return source


def env_sources(
    envs: EnvLike | Sequence[EnvLike], env_kwargs: Mapping[str, Any] | None = None
) -> list[EnvSource]:
    """:func:`env_source` of one env or of each of a list."""
    items = list(envs) if isinstance(envs, (list, tuple)) else [cast(EnvLike, envs)]
    return [env_source(e, env_kwargs) for e in items]


def pickle_sources(targets: Mapping[str, EnvLike], executor: str) -> bytes:
    """The ``key -> target`` mapping as cloudpickle bytes for workers in other processes.

    Raises:
        InvalidArgumentError: A factory cannot be pickled; the message names it and the
            executor, and says what to do instead.
    """
    import cloudpickle  # a gymnasium dependency (AsyncVectorEnv's CloudpickleWrapper)

    try:
        return bytes(cloudpickle.dumps(dict(targets)))
    except Exception as whole:
        for key, target in targets.items():
            try:
                cloudpickle.dumps(target)
            except Exception as e:
                raise InvalidArgumentError(
                    f"executor={executor!r} runs envs in other processes and must send them "
                    f"the env factory of {key!r} ({_describe(target)}), but cloudpickle "
                    f"cannot pickle it: {e}. Use executor='thread' or 'sync' (envs in this "
                    "process), or a factory that pickles: a module-level function, a "
                    "mtenvs.rollout.WrappedEnv, or a lambda holding no lock, socket or open "
                    "file."
                ) from e
        raise InvalidArgumentError(
            f"executor={executor!r} cannot send the env factories to its workers: {whole}."
        ) from whole


def resolve_wrapper(name: str) -> type[gym.Wrapper[Any, Any, Any, Any]]:
    """The wrapper class of :mod:`mtenvs.wrappers` named ``name`` (its public names).

    Raises:
        InvalidArgumentError: Unknown name; the message names the allowed ones.
    """
    import mtenvs.wrappers

    allowed = list(mtenvs.wrappers.__all__)
    if name not in allowed:
        raise InvalidArgumentError(
            f"Unknown wrapper {name!r}; choose one of {', '.join(allowed)}."
            f"{did_you_mean(name, allowed)}"
        )
    wrapper: type[gym.Wrapper[Any, Any, Any, Any]] = getattr(mtenvs.wrappers, name)
    return wrapper


def check_wrapper_args(wrapper: type, kwargs: Mapping[str, Any]) -> None:
    """Raise :class:`InvalidArgumentError` naming the allowed arguments when ``kwargs``
    has one ``wrapper``'s constructor does not take (the env is its first argument)."""
    params = list(inspect.signature(wrapper).parameters.values())[1:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return
    allowed = [p.name for p in params if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    for name in kwargs:
        if name not in allowed:
            raise InvalidArgumentError(
                f"Unknown argument {name!r} for wrapper {wrapper.__name__}; allowed "
                f"arguments: {', '.join(allowed)}.{did_you_mean(name, allowed)}"
            )


@dataclass(frozen=True)
class WrappedEnv:
    """A picklable env factory: ``base`` (an id, spec or factory) built with ``env_kwargs``,
    then wrapped by each of ``wrappers`` in order (the first is innermost).

    ``WrappedEnv("mtenvs/PythonMath-v0", (("TryAgain", {"max_attempts": 3}),))`` is
    ``TryAgain(gym.make("mtenvs/PythonMath-v0"), max_attempts=3)``. A wrapper is a public
    name of :mod:`mtenvs.wrappers` or a wrapper class.
    """

    base: EnvLike
    wrappers: tuple[tuple[str | type[gym.Wrapper[Any, Any, Any, Any]], Mapping[str, Any]], ...]
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_env_like(self.base)
        for wrapper, kwargs in self.wrappers:
            if isinstance(wrapper, str):
                wrapper = resolve_wrapper(wrapper)
            elif not (isinstance(wrapper, type) and issubclass(wrapper, gym.Wrapper)):
                raise InvalidArgumentError(
                    f"{wrapper!r} is not a wrapper; give a name of mtenvs.wrappers or a "
                    "gymnasium.Wrapper class."
                )
            if not isinstance(kwargs, Mapping):
                raise InvalidArgumentError(
                    f"The arguments of wrapper {wrapper.__name__} must be a mapping, got "
                    f"{kwargs!r}."
                )
            check_wrapper_args(wrapper, kwargs)

    def __call__(self) -> gym.Env[Any, Any]:
        env = build_env(self.base, self.env_kwargs)
        for wrapper, kwargs in self.wrappers:
            cls = resolve_wrapper(wrapper) if isinstance(wrapper, str) else wrapper
            try:
                env = cls(env, **kwargs)
            except Exception as e:
                env.close()
                if isinstance(e, TypeError):  # a mistyped argument name
                    raise InvalidArgumentError(f"Wrapper {cls.__name__}: {e}.") from e
                raise
        return env
