"""The web action grammar and the date/time input formats (no browser)."""

from __future__ import annotations

import pytest

from mtenvs.core.env import InvalidAction
from mtenvs.envs.web.actions import (
    WEB_TOOLS,
    WebAction,
    input_value_problem,
    parse_reply,
    site_path,
)
from mtenvs.envs.web.browser import Element, PageView, format_problem


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("<action>click(12)</action>", WebAction("click", (12,))),
        ("thinking… <action> hover( 3 ) </action>", WebAction("hover", (3,))),
        ('<action>type(4, "hello, world")</action>', WebAction("type", (4, "hello, world"))),
        ("<action>type(4, hello there)</action>", WebAction("type", (4, "hello there"))),
        (
            "<action>select(7, 'Price: low to high')</action>",
            WebAction("select", (7, "Price: low to high")),
        ),
        ("<action>press(Enter)</action>", WebAction("press", ("Enter",))),
        ("<action>scroll(down)</action>", WebAction("scroll", ("down",))),
        ("<action>goto(/cart)</action>", WebAction("goto", ("/cart",))),
        (
            "<action>goto('http://shop.local/orders')</action>",
            WebAction("goto", ("http://shop.local/orders",)),
        ),
        ("<action>back()</action>", WebAction("back", ())),
        ("<action>tab(1)</action>", WebAction("tab", (1,))),
        ("<action>answer($12.50)</action>", WebAction("answer", ("$12.50",))),
        ("<answer>SK-1234</answer>", WebAction("answer", ("SK-1234",))),
        ("click(5)", WebAction("click", (5,))),
        (
            {"name": "select", "arguments": {"id": 3, "option": "Mice"}},
            WebAction("select", (3, "Mice")),
        ),
        (
            '<tool_call>{"name": "click", "arguments": {"id": "9"}}</tool_call>',
            WebAction("click", (9,)),
        ),
        ({"role": "assistant", "content": "<action>back()</action>"}, WebAction("back", ())),
    ],
)
def test_parses_every_action_form(reply, expected):
    assert parse_reply(reply) == expected


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("click 12", "no <action>"),
        ("<action>clack(1)</action>", "unknown action"),
        ("<action>click(abc)</action>", "must be a number"),
        ("<action>click()</action>", "takes 1 argument"),
        ("<action>scroll(left)</action>", "'up' or 'down'"),
        ("<action>press(F13)</action>", "Unknown key"),
        ("<action>goto(https://example.com/)</action>", "only opens pages of the site"),
        ("<action>goto(//evil.test/x)</action>", "only opens pages of the site"),
        ({"name": "fly", "arguments": {}}, "unknown tool"),
        ({"name": "type", "arguments": {"id": 1}}, "needs argument"),
        (None, "not text"),
        ("<action>" + "click(1)" * 1000 + "</action>", "characters long"),
    ],
)
def test_malformed_replies_say_why(reply, reason):
    with pytest.raises(InvalidAction) as info:
        parse_reply(reply)
    assert reason in info.value.reason


def test_site_path_only_accepts_the_site():
    assert site_path("/search?q=x") == "/search?q=x"
    assert site_path("http://shop.local/cart") == "/cart"
    assert site_path("http://127.0.0.1:80/cart") is None
    assert site_path("file:///etc/passwd") is None


def test_tool_schemas_cover_the_grammar():
    names = {tool["function"]["name"] for tool in WEB_TOOLS}
    assert names == {
        "click",
        "type",
        "select",
        "hover",
        "press",
        "scroll",
        "goto",
        "back",
        "tab",
        "answer",
    }


@pytest.mark.parametrize(
    ("input_type", "text"),
    [
        ("date", "2024-03-01"),
        ("date", "2024-02-29"),
        ("date", ""),
        ("time", "00:00"),
        ("time", "23:59:59.999"),
        ("datetime-local", "2024-03-01T14:30"),
        ("month", "2024-12"),
        ("week", "2020-W53"),
        ("text", "03/01/2024"),
        ("email", "anything"),
    ],
)
def test_input_formats_accept_html_values(input_type, text):
    assert input_value_problem(input_type, text) is None


@pytest.mark.parametrize(
    ("input_type", "text", "reason"),
    [
        ("date", "03/01/2024", "date inputs take YYYY-MM-DD, e.g. 2024-03-01"),
        ("date", "2023-02-29", "no such date; date inputs take YYYY-MM-DD"),
        ("date", "0000-01-01", "no such date"),
        ("time", "7:05", "time inputs take HH:MM, e.g. 14:30"),
        ("time", "12:60", "no such time"),
        ("datetime-local", "2024-03-01", "datetime-local inputs take YYYY-MM-DDTHH:MM"),
        ("month", "2024-00", "no such month"),
        ("week", "2024-W9", "week inputs take YYYY-Www"),
        ("week", "2024-W00", "no such week"),
    ],
)
def test_input_formats_refuse_other_text(input_type, text, reason):
    problem = input_value_problem(input_type, text)
    assert problem is not None and reason in problem


def test_format_problem_only_checks_type_into_formatted_inputs():
    view = PageView(
        "http://shop.local/",
        "Form",
        ["Form"],
        0,
        [],
        {
            1: Element(1, "textbox", "Due date", "", input_type="date"),
            2: Element(2, "textbox", "Note", ""),
            3: Element(3, "radio", "Yes", "", group="Subscribe?"),
        },
    )
    bad = WebAction("type", (1, "1 March"))
    assert format_problem(bad, view) == (
        "type(1, '1 March'): date inputs take YYYY-MM-DD, e.g. 2024-03-01; [1] is unchanged."
    )
    assert format_problem(WebAction("type", (1, "2024-03-01")), view) is None
    assert format_problem(WebAction("type", (2, "1 March")), view) is None
    assert format_problem(WebAction("type", (9, "1 March")), view) is None  # unknown id
    assert format_problem(WebAction("click", (1,)), view) is None
    assert format_problem(bad, None) is None
