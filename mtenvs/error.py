"""Exceptions raised by mtenvs.

Every exception derives from :class:`Error`. Messages name the bad value, the allowed
values and, where there is one, the fix. Agent mistakes (malformed replies, illegal moves)
are never exceptions: they come back as observations with a ``format`` penalty.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "Error",
    "InvalidArgumentError",
    "ResetNeededError",
    "UnavailableError",
    "UnknownEnvError",
    "choice_error",
]


class Error(Exception):
    """Root of every exception raised by mtenvs."""


class InvalidArgumentError(Error, ValueError):
    """An argument to ``make``, an env constructor, ``reset`` or a wrapper is not allowed."""


class UnknownEnvError(Error, LookupError):
    """An environment id is not registered."""


class UnavailableError(Error, RuntimeError):
    """A component an env needs (a browser, a container engine, a database server) is not
    available on this machine; the message says what is missing and how to get it.
    ``mtenvs eval`` skips such an env, saying why, and plays the others."""


class ResetNeededError(Error, RuntimeError):
    """``step`` (or a state accessor) was called before ``reset`` or after the episode ended."""


def _quote_all(values: Iterable[object]) -> str:
    return ", ".join(repr(v) for v in values)


def did_you_mean(value: str, allowed: Iterable[str]) -> str:
    """Return `` Did you mean 'x'?`` for the closest allowed value, or an empty string."""
    close = difflib.get_close_matches(value, list(allowed), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def choice_error(name: str, value: object, allowed: Iterable[object]) -> InvalidArgumentError:
    """Build the error for ``value`` not being one of ``allowed`` for argument ``name``."""
    allowed = list(allowed)
    hint = did_you_mean(value, [str(a) for a in allowed]) if isinstance(value, str) else ""
    return InvalidArgumentError(
        f"Unknown {name} {value!r}; choose one of {_quote_all(allowed)}.{hint}"
    )


def check_flag(name: str, value: object) -> None:
    """Raise :class:`InvalidArgumentError` naming ``name`` unless ``value`` is ``True`` or
    ``False``."""
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{name} must be True or False, got {value!r}.")


def check_choice(name: str, value: object, allowed: Iterable[object]) -> None:
    """Raise :class:`InvalidArgumentError` unless ``value`` is one of ``allowed``."""
    allowed = list(allowed)
    if value not in allowed:
        raise choice_error(name, value, allowed)


def check_int_range(name: str, value: object, low: int, high: int | None = None) -> int:
    """Return ``value`` as an int, or raise unless it is an int in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(
            f"{name} must be an int, got {value!r} ({type(value).__name__})."
        )
    if value < low or (high is not None and value > high):
        upper = "" if high is None else f" and <= {high}"
        raise InvalidArgumentError(f"{name} must be >= {low}{upper}, got {value!r}.")
    return value
