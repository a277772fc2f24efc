"""Date/time inputs and radio groups in the outline, and ``type()`` checking a date or time
input's format first, with real Chromium: a tiny local form page, then the admin site."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mtenvs.envs.web.actions import WebAction
from mtenvs.envs.web.admin import WebAdminEnv
from mtenvs.envs.web.admin_data import LOGIN
from mtenvs.envs.web.browser import BrowserSession, PageView
from tests.envs.web._support import act, element_id, require_browser

pytestmark = pytest.mark.xdist_group("web-forms")

_FORM = b"""<!doctype html><html><head><title>Form</title></head><body><form>
<label>Size <select name="size"><option>S</option><option>M</option><option>L</option>
</select></label>
<label>Due date <input type="date" name="due" value="2024-03-01"></label>
<label>Start <input type="time" name="start"></label>
<label>Meeting <input type="datetime-local" name="meeting"></label>
<label>Billing month <input type="month" name="month"></label>
<label>Sprint week <input type="week" name="week"></label>
<label>Title <input name="title" value="x"></label>
<fieldset><legend>Subscribe to the newsletter?</legend>
<label><input type="radio" name="q1" value="y"> Yes</label>
<label><input type="radio" name="q1" value="n" checked> No</label></fieldset>
<fieldset><legend>Share usage data?</legend>
<label><input type="radio" name="q2" value="y"> Yes</label>
<label><input type="radio" name="q2" value="n"> No</label></fieldset>
<div role="radiogroup" aria-label="Plan">
<label><input type="radio" name="plan" value="f"> Free</label></div>
<label><input type="radio" name="size" value="s"> Small</label>
<label><input type="checkbox" name="agree"> I agree</label>
</form></body></html>"""


class _FormPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(_FORM)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def session() -> Iterator[BrowserSession]:
    require_browser()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FormPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    s = BrowserSession(
        f"http://127.0.0.1:{server.server_address[1]}",
        "http://forms.local",
        viewport=(800, 600),
        load_timeout_s=3.0,
    )
    try:
        yield s
    finally:
        s.close()
        server.shutdown()


@pytest.fixture
def view(session: BrowserSession) -> PageView:
    session.open("/")
    return session.view()


def _by_name(view: PageView, name: str) -> int:
    ids = [e.id for e in view.elements.values() if e.name == name]
    assert len(ids) == 1, f"{name!r}: {ids} in {view.lines}"
    return ids[0]


def _value(session: BrowserSession, element_id: int) -> str:
    return str(
        session.call(
            lambda: session.page.evaluate(
                '(i) => document.querySelector(`[data-mt-id="${i}"]`).value', element_id
            )
        )
    )


@pytest.mark.parametrize("action", ["click", "press"])
def test_a_native_popup_never_reaches_the_screenshot(session, action):
    """Clicking a ``<select>`` (or pressing Space on it) opens Chromium's own list, drawn above
    or below the field depending on the window's place on the screen: the screenshot must show
    the focused field only, the same pixels as focusing it from a script."""

    def focus() -> None:
        session.call(lambda: session.page.locator("select").focus())

    session.open("/")
    focus()
    focused = session.screenshot(marks=False)
    session.open("/")
    view = session.view()
    size = next(e.id for e in view.elements.values() if e.kind == "combobox")
    if action == "click":
        assert session.run(WebAction("click", (size,)), view) is None
    else:
        focus()
        assert session.run(WebAction("press", ("Space",)), view) is None
    tag = session.call(lambda: session.page.evaluate("document.activeElement.tagName"))
    assert tag == "SELECT"
    assert (session.screenshot(marks=False) == focused).all()


def test_date_and_time_inputs_show_their_format(view):
    lines = [line.strip() for line in view.lines]
    for name, shown in [
        ('"Due date" (date, YYYY-MM-DD) value="2024-03-01"', "date"),
        ('"Start" (time, HH:MM) value=""', "time"),
        ('"Meeting" (datetime-local, YYYY-MM-DDTHH:MM) value=""', "datetime-local"),
        ('"Billing month" (month, YYYY-MM) value=""', "month"),
        ('"Sprint week" (week, YYYY-Www) value=""', "week"),
    ]:
        line = next(x for x in lines if name in x)
        element = view.elements[int(re.match(r"\[(\d+)\]", line).group(1))]
        assert line == f"[{element.id}] textbox {name}"
        assert element.kind == "textbox" and element.input_type == shown
    # an input without a fixed format keeps the plain line
    title = view.elements[_by_name(view, "Title")]
    assert f'[{title.id}] textbox "Title" value="x"' in lines and title.input_type == ""


def test_radio_lines_name_their_group(view):
    lines = [line.strip() for line in view.lines]
    radios = [e for e in view.elements.values() if e.kind == "radio"]
    assert [(e.name, e.group) for e in radios] == [
        ("Yes", "Subscribe to the newsletter?"),
        ("No", "Subscribe to the newsletter?"),
        ("Yes", "Share usage data?"),
        ("No", "Share usage data?"),
        ("Free", "Plan"),  # an ARIA radiogroup's label
        ("Small", "size"),  # no fieldset: the name attribute
    ]
    first, second = radios[1], radios[3]
    assert f'[{first.id}] radio "No" (group "Subscribe to the newsletter?") checked' in lines
    assert f'[{second.id}] radio "No" (group "Share usage data?")' in lines
    # checkboxes are unchanged
    agree = _by_name(view, "I agree")
    assert f'[{agree}] checkbox "I agree"' in lines


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("Due date", "03/01/2024", "date inputs take YYYY-MM-DD, e.g. 2024-03-01"),
        ("Due date", "2024-3-1", "date inputs take YYYY-MM-DD"),
        ("Due date", "2024-02-30", "no such date; date inputs take YYYY-MM-DD"),
        ("Due date", "tomorrow", "date inputs take YYYY-MM-DD"),
        ("Start", "2:30 PM", "time inputs take HH:MM, e.g. 14:30"),
        ("Start", "25:00", "no such time"),
        ("Meeting", "2024-03-01 14:30", "datetime-local inputs take YYYY-MM-DDTHH:MM"),
        ("Billing month", "March 2024", "month inputs take YYYY-MM, e.g. 2024-03"),
        ("Billing month", "2024-13", "no such month"),
        ("Sprint week", "2024-9", "week inputs take YYYY-Www, e.g. 2024-W09"),
        ("Sprint week", "2021-W53", "no such week"),
    ],
)
def test_type_refuses_text_in_the_wrong_format(session, view, name, text, reason):
    element_id = _by_name(view, name)
    before = _value(session, element_id)
    action = WebAction("type", (element_id, text))
    error = session.run(action, view)
    assert error is not None and error.startswith(f"{action}: ") and reason in error
    assert error.endswith(f"[{element_id}] is unchanged.")
    assert _value(session, element_id) == before


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("Due date", "2024-02-29", "2024-02-29"),
        ("Due date", " 2025-12-31 ", "2025-12-31"),
        ("Due date", "", ""),  # clearing is allowed
        ("Start", "09:05", "09:05"),
        ("Start", "23:59:30", "23:59:30"),
        ("Meeting", "2024-03-01T14:30", "2024-03-01T14:30"),
        ("Billing month", "2024-03", "2024-03"),
        ("Sprint week", "2020-W53", "2020-W53"),
        ("Title", "03/01/2024", "03/01/2024"),  # a plain textbox takes any text
    ],
)
def test_type_puts_a_well_formatted_value_in_the_input(session, view, name, text, value):
    element_id = _by_name(view, name)
    assert session.run(WebAction("type", (element_id, text)), view) is None
    assert _value(session, element_id) == value
    line = next(x for x in session.view().lines if f"[{element_id}] " in x)
    assert line.endswith(f'value="{value}"')


# ---------------------------------------------------------------------- the admin site


@pytest.fixture(scope="module")
def admin() -> Iterator[WebAdminEnv]:
    require_browser()
    e = WebAdminEnv(page_load_timeout=2.0)
    yield e
    e.close()


def _settings(env: WebAdminEnv) -> str:
    env.reset(seed=0)
    obs, _ = act(env, "goto(/settings)")
    act(env, f'type({element_id(obs, "textbox", "Username")}, "{LOGIN[0]}")')
    obs, _ = act(env, f'type({element_id(obs, "textbox", "Password")}, "{LOGIN[1]}")')
    obs, _ = act(env, f"click({element_id(obs, 'button', 'Log in')})")
    assert 'heading "Settings"' in obs
    return obs


def test_admin_settings_show_the_date_format_and_the_radio_group(admin):
    obs = _settings(admin)
    day = element_id(obs, "textbox", "Fiscal year start")
    assert f'[{day}] textbox "Fiscal year start" (date, YYYY-MM-DD) value="2026-01-01"' in obs
    urgent = element_id(obs, "radio", "Urgent")
    assert f'[{urgent}] radio "Urgent" (group "Default ticket priority")' in obs


def test_admin_wrong_date_format_is_an_error_observation_and_the_episode_goes_on(admin):
    obs = _settings(admin)
    day = element_id(obs, "textbox", "Fiscal year start")
    obs, info = act(admin, f'type({day}, "04/01/2027")')
    error = f"type({day}, '04/01/2027'): date inputs take YYYY-MM-DD, e.g. 2024-03-01"
    assert info["last_action_error"].startswith(error)
    assert info["reward_components"] == {"format": pytest.approx(-0.1)}
    assert f"Last action: type({day}, '04/01/2027') -> error: {error}" in obs
    assert 'textbox "Fiscal year start" (date, YYYY-MM-DD) value="2026-01-01"' in obs
    # a correctly formatted date lands in the input and is saved
    obs, info = act(admin, f'type({day}, "2027-04-01")')
    assert info["last_action_error"] is None and "format" not in info["reward_components"]
    session = admin.session
    value = session.call(lambda: session.locator(day).input_value())
    assert value == "2027-04-01" and 'value="2027-04-01"' in obs
    obs, _ = act(admin, f"click({element_id(obs, 'button', 'Save settings')})")
    assert "Settings saved." in obs
    assert admin.server_state()["settings"]["fiscal_year_start"] == "2027-04-01"
