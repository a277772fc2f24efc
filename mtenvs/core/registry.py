"""Registration of mtenvs ids with Gymnasium, and lookups with helpful errors.

Each env family registers its ids in its package ``__init__`` with :func:`register_env`
(one call per id, the Gymnasium way). ``import mtenvs`` imports every family, so
``gym.make("mtenvs/Sokoban-v0")`` works after it, and ``gym.make("mtenvs:mtenvs/Sokoban-v0")``
works without it.

Ids are registered without ``max_episode_steps``: the env itself truncates at ``max_turns``
(a constructor argument), so there is one turn budget, not two that can disagree.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from mtenvs.error import UnknownEnvError, did_you_mean

__all__ = ["NAMESPACE", "env_spec", "list_envs", "make", "register_env"]

NAMESPACE = "mtenvs"


#: Ids registered with ``suite=False``: adapter families with one id per external task
#: (MiniWoB++'s 130 pages) that ``list_envs(suite=True)`` leaves out.
_OUTSIDE_SUITE: set[str] = set()


def register_env(
    id: str, entry_point: str, kwargs: dict[str, Any] | None = None, *, suite: bool = True
) -> None:
    """Register ``id`` (``mtenvs/<Name>-v<k>``) unless it is registered already.

    ``suite=False`` marks an id of a large adapter family: it is made like any other id but
    left out of :func:`list_envs` ``(suite=True)``, the list ``mtenvs eval --env all``, the
    demo, the env cards and the all-env tests run over (each family keeps a few
    representatives in the suite)."""
    if not id.startswith(f"{NAMESPACE}/"):
        raise ValueError(f"mtenvs ids live in the {NAMESPACE!r} namespace, got {id!r}.")
    if not suite:
        _OUTSIDE_SUITE.add(id)
    if id in gym.registry:
        return
    gym.register(
        id=id,
        entry_point=entry_point,
        kwargs=kwargs or {},
        disable_env_checker=False,
        order_enforce=True,
    )


def list_envs(*, suite: bool = False) -> list[str]:
    """Every registered mtenvs id, sorted; ``suite=True``: without the adapter-family ids
    registered with ``suite=False`` (see :func:`register_env`)."""
    ids = sorted(i for i in gym.registry if i.startswith(f"{NAMESPACE}/"))
    return [i for i in ids if i not in _OUTSIDE_SUITE] if suite else ids


def env_spec(id: str) -> gym.envs.registration.EnvSpec:
    """The spec of ``id``; raises :class:`UnknownEnvError` with close matches if unknown."""
    if id in gym.registry and id.startswith(f"{NAMESPACE}/"):
        return gym.registry[id]
    ids = list_envs()
    hint = did_you_mean(id, ids)
    if not hint and "/" not in id:
        hint = did_you_mean(f"{NAMESPACE}/{id}", ids)
    raise UnknownEnvError(f"Unknown environment id {id!r}.{hint} Registered ids: {', '.join(ids)}.")


def make(id: str, **kwargs: Any) -> gym.Env[Any, Any]:
    """``gym.make`` with a :class:`UnknownEnvError` naming close matches for unknown ids."""
    env_spec(id)
    return gym.make(id, **kwargs)


def env_class(id: str) -> Any:
    """The class (or factory) registered as ``id``'s entry point, imported if needed."""
    entry = env_spec(id).entry_point
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = getattr(__import__(module, fromlist=[attr]), attr)
    return entry
