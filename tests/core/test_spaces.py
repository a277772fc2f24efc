from __future__ import annotations

import copy

import numpy as np
from gymnasium.vector.utils import (
    create_shared_memory,
    read_from_shared_memory,
    write_to_shared_memory,
)

from mtenvs.core.spaces import UnicodeText, obs_text, text_image_space, with_text


def test_unicode_text_contains_any_string_of_allowed_length():
    space = UnicodeText(10)
    assert space.contains("中文🙂\x00") and space.contains("")
    assert not space.contains("x" * 11) and not space.contains(b"bytes") and not space.contains(3)
    sample = space.sample()
    assert space.contains(sample)


def test_shared_memory_round_trip_sees_later_writes_and_truncates():
    space = UnicodeText(8)
    memory = create_shared_memory(space, n=2)
    view = read_from_shared_memory(space, memory, n=2)
    write_to_shared_memory(space, 0, "héllo…🙂", memory)
    write_to_shared_memory(space, 1, "0123456789", memory)
    assert tuple(view) == ("héllo…🙂", "01234567")
    frozen = copy.deepcopy(view)
    write_to_shared_memory(space, 0, "\ud800 lone", memory)
    assert view[0] == "\ud800 lone" and frozen[0] == "héllo…🙂" and view[0:1] == ("\ud800 lone",)


def test_text_image_space_shape():
    space = text_image_space(4, 6)
    obs = {"text": "x", "image": np.zeros((4, 6, 3), np.uint8)}
    assert space.contains(obs)


def test_obs_text_reads_the_text_of_either_form():
    image = np.zeros((2, 2, 3), np.uint8)
    assert obs_text("board") == "board"
    assert obs_text({"text": "board", "image": image}) == "board"
    assert obs_text({"image": image}) == ""


def test_with_text_replaces_the_text_and_keeps_the_image():
    image = np.zeros((2, 2, 3), np.uint8)
    assert with_text("board", "note") == "note"
    obs = {"text": "board", "image": image}
    new = with_text(obs, "board\nnote")
    assert set(new) == {"text", "image"}
    assert new["text"] == "board\nnote" and new["image"] is image
    assert new is not obs and obs["text"] == "board"  # the original is left as it was
