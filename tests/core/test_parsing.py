from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from mtenvs.core.parsing import (
    ToolCall,
    extract_action,
    extract_answer,
    extract_code_blocks,
    extract_tag,
    parse_tool_calls,
    reply_text,
    strip_think,
)


def test_last_complete_tag_wins_and_is_stripped():
    text = "draft <answer>1</answer> then <answer>  42 </answer> and <answer>unclosed"
    assert extract_answer(text) == "42"
    assert extract_action("<ACTION>up</ACTION>") == "up"
    assert extract_answer("no tags here") is None


def test_think_blocks_are_ignored():
    text = "<think>maybe <answer>7</answer></think><answer>8</answer>"
    assert extract_answer(text) == "8"
    assert strip_think("<think>x</think>y") == "y"


def test_fenced_code_blocks_by_language():
    text = "a\n```python\nprint(1)\n```\nb\n```js\nalert(1)\n```\n```\nx = 2\n```"
    assert extract_code_blocks(text) == ["print(1)\n", "x = 2\n"]
    assert extract_code_blocks(text, languages=("js",)) == ["alert(1)\n"]


def test_tool_calls_from_all_supported_shapes():
    openai = {
        "type": "function",
        "id": "c1",
        "function": {"name": "move", "arguments": json.dumps({"direction": "up"})},
    }
    assert parse_tool_calls(openai) == [ToolCall("move", {"direction": "up"}, id="c1")]
    assert parse_tool_calls({"name": "submit", "arguments": {"sql": "x"}}) == [
        ToolCall("submit", {"sql": "x"})
    ]
    message = {"role": "assistant", "content": None, "tool_calls": [openai, {"bad": 1}]}
    assert [c.name for c in parse_tool_calls(message)] == ["move"]
    text = 'ok <tool_call>{"name": "a", "arguments": {"x": 1}}</tool_call> '
    text += "<tool_call>{oops</tool_call>"
    assert parse_tool_calls(text) == [ToolCall("a", {"x": 1})]
    assert parse_tool_calls({"name": "f", "arguments": "not json"}) == []
    assert parse_tool_calls({"name": "f", "arguments": "[1, 2]"}) == []
    assert parse_tool_calls([openai]) == [ToolCall("move", {"direction": "up"}, id="c1")]
    assert reply_text({"role": "assistant", "content": "hi"}) == "hi"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["name", "arguments", "function", "tool_calls", "content", "id", "type"]
            )
            | st.text(max_size=5),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(st.text() | st.binary().map(lambda b: b.decode("latin-1")))
def test_text_parsers_never_raise(text):
    for tag in ("answer", "action", "tool_call", "", "a(b"):
        result = extract_tag(text, tag)
        assert result is None or isinstance(result, str)
    assert isinstance(extract_code_blocks(text), list)
    assert all(isinstance(c, ToolCall) for c in parse_tool_calls(text))
    wrapped = f"<tool_call>{text}</tool_call><answer>{text}</answer>```python\n{text}\n```"
    assert extract_answer(wrapped) is not None or "</answer>" in text
    parse_tool_calls(wrapped)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_tool_call_parser_never_raises_on_arbitrary_objects(obj):
    for candidate in (obj, json.dumps(obj) if _jsonable(obj) else "", {"tool_calls": [obj]}):
        calls = parse_tool_calls(candidate)
        assert all(isinstance(c.name, str) and c.name for c in calls)
    extract_answer(obj)
    extract_code_blocks(obj)


def _jsonable(obj) -> bool:
    try:
        json.dumps(obj)
    except (TypeError, ValueError):
        return False
    return True


def test_huge_and_deep_inputs_are_bounded():
    huge = "<answer>" * 100_000 + "x"
    assert extract_answer(huge) is None
    deep = "[" * 100_000
    assert parse_tool_calls(f"<tool_call>{deep}</tool_call>") == []
    nested: dict = {}
    for _ in range(5000):
        nested = {"content": nested}
    assert parse_tool_calls(nested) == []


def test_unicode_case_folding_does_not_shift_positions():
    assert extract_answer("İİİ <ANSWER>ok</Answer>") == "ok"
    assert strip_think("İ<think>x</think>y") == "İy"
