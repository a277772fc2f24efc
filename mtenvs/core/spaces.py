"""Observation and action spaces shared by every env.

Gymnasium's :class:`~gymnasium.spaces.Text` only contains strings made of its ``charset``.
Replies from a language model can hold any character, and some observations carry unicode
(web pages, patient answers), so :class:`UnicodeText` accepts any ``str`` up to
``max_length`` while still sampling from a printable charset. Its ``contains`` is a type and
length check, cheap enough for the step path (the character scan of ``Text`` costs ~0.4 ms
on 5 k characters).

An observation is a ``str``, or a ``{"text": …, "image": …}`` dict under
``obs_mode="image"`` / ``"text+image"``; :func:`obs_text` reads its text part and
:func:`with_text` replaces it, whichever the form.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any, overload

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import shared_memory as _shm

__all__ = [
    "ASCII_CHARSET",
    "SAMPLE_CHARSET",
    "UnicodeText",
    "image_space",
    "obs_text",
    "text_image_space",
    "text_space",
    "with_text",
]

#: Printable ASCII plus newline and tab: enough for grid worlds and most prompts.
ASCII_CHARSET: str = string.printable
#: What :meth:`UnicodeText.sample` draws from: ASCII plus a few multi-byte characters, so
#: sampled replies exercise unicode handling.
SAMPLE_CHARSET: str = ASCII_CHARSET + "éßøλπ→✓中文🙂"

#: Default maximum length of an action (a model reply) in characters.
MAX_REPLY_CHARS = 1_000_000
#: Default maximum length of a text observation in characters. Envs truncate longer text.
#: It also sizes the shared memory ``AsyncVectorEnv`` allocates (4 bytes a character).
MAX_OBS_CHARS = 262_144


class UnicodeText(spaces.Text):
    """A :class:`gymnasium.spaces.Text` that contains every ``str`` of allowed length.

    Sampling draws from ``charset`` (default :data:`SAMPLE_CHARSET`); membership does not
    look at the characters, because a model reply or a web page may contain any of them.
    """

    def __init__(
        self,
        max_length: int = MAX_OBS_CHARS,
        *,
        min_length: int = 0,
        charset: str = SAMPLE_CHARSET,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        super().__init__(max_length, min_length=min_length, charset=charset, seed=seed)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"UnicodeText({self.min_length}, {self.max_length})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, UnicodeText)
            and self.min_length == other.min_length
            and self.max_length == other.max_length
        )

    def __hash__(self) -> int:
        return hash(("UnicodeText", self.min_length, self.max_length))


def text_space(max_length: int = MAX_OBS_CHARS) -> UnicodeText:
    """The text observation space every env uses."""
    return UnicodeText(max_length)


def image_space(height: int, width: int) -> spaces.Box:
    """An RGB ``uint8`` image of ``height`` x ``width`` pixels."""
    return spaces.Box(low=0, high=255, shape=(height, width, 3), dtype=np.uint8)


def text_image_space(height: int, width: int, max_length: int = MAX_OBS_CHARS) -> spaces.Dict:
    """``Dict({"text": UnicodeText, "image": Box(uint8, (H, W, 3))})``."""
    return spaces.Dict({"text": text_space(max_length), "image": image_space(height, width)})


def obs_text(obs: object) -> str:
    """The text part of an observation: the ``str`` itself, or the ``"text"`` entry of a
    ``{"text": …, "image": …}`` dict (``""`` when it has none)."""
    if isinstance(obs, Mapping):
        return str(obs.get("text", ""))
    return str(obs)


@overload
def with_text(obs: Mapping[str, Any], text: str) -> dict[str, Any]: ...
@overload
def with_text(obs: str, text: str) -> str: ...
def with_text(obs: object, text: str) -> dict[str, Any] | str:
    """``obs`` with its text part replaced by ``text``: a dict observation keeps its other
    entries (the image) in a new dict; any other observation becomes ``text``."""
    if isinstance(obs, Mapping):
        return {**obs, "text": text}
    return text


# ``AsyncVectorEnv`` passes observations through shared memory. Gymnasium stores ``Text`` as
# indices into its charset, which cannot hold characters outside it; ``UnicodeText`` stores
# a length followed by the UTF-32 code points instead.


@_shm.create_shared_memory.register(UnicodeText)
def _create_unicode_shared_memory(space: UnicodeText, n: int = 1, ctx: Any = None) -> Any:
    import multiprocessing

    ctx = ctx or multiprocessing
    return ctx.Array(np.dtype(np.int32).char, n * (space.max_length + 1))


@_shm.write_to_shared_memory.register(UnicodeText)
def _write_unicode_to_shared_memory(
    space: UnicodeText, index: int, value: str, shared_memory: Any
) -> None:
    row = space.max_length + 1
    dest = np.frombuffer(shared_memory.get_obj(), dtype=np.int32)[index * row : (index + 1) * row]
    points = np.frombuffer(value.encode("utf-32-le", "surrogatepass"), dtype=np.int32)
    points = points[: space.max_length]
    dest[0] = len(points)
    dest[1 : 1 + len(points)] = points


class SharedTextView(Sequence[str]):
    """The batch of text observations in shared memory, read when indexed.

    ``AsyncVectorEnv`` reads its observation buffer once, at construction, and relies on
    numpy views to see later writes; strings are immutable, so this view plays the array's
    part. ``deepcopy`` (what ``AsyncVectorEnv`` returns with ``copy=True``) gives a tuple.
    """

    def __init__(self, space: UnicodeText, shared_memory: Any, n: int) -> None:
        self._data = np.frombuffer(shared_memory.get_obj(), dtype=np.int32).reshape(
            n, space.max_length + 1
        )

    def __len__(self) -> int:
        return len(self._data)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[str, ...]: ...
    def __getitem__(self, index: int | slice) -> str | tuple[str, ...]:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        row = self._data[index]
        return row[1 : 1 + row[0]].tobytes().decode("utf-32-le", "surrogatepass")

    def __deepcopy__(self, memo: dict[int, Any]) -> tuple[str, ...]:
        return tuple(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(tuple(self))


@_shm.read_from_shared_memory.register(UnicodeText)
def _read_unicode_from_shared_memory(
    space: UnicodeText, shared_memory: Any, n: int = 1
) -> SharedTextView:
    return SharedTextView(space, shared_memory, n)
