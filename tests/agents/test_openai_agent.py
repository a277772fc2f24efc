"""OpenAIAgent against a stub OpenAI-compatible server on loopback."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

pytest.importorskip("httpx")

from mtenvs.agents import AgentInput, AgentServerError, OpenAIAgent, make_agent
from mtenvs.agents.openai import discover_model, normalize_base_url
from mtenvs.error import InvalidArgumentError


@dataclass
class Stub:
    """Scripted behaviour and observations of the stub server."""

    reply: Callable[[dict[str, Any]], str] = lambda body: body["messages"][-1]["content"]
    delay_s: Callable[[dict[str, Any]], float] = lambda body: 0.0
    fail_first: int = 0
    fail_status: int = 500
    retry_after: str | None = None
    models: list[str] = field(default_factory=lambda: ["stub"])
    tool_call: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def _handler(stub: Stub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

        def _send(self, status: int, payload: object, headers: dict[str, str] | None = None):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            with contextlib.suppress(OSError):  # the client gave up (timeout test)
                self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path != "/v1/models":
                self._send(404, {"error": "not found"})
                return
            self._send(
                200, {"object": "list", "data": [{"id": m, "object": "model"} for m in stub.models]}
            )

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with stub.lock:
                stub.requests.append({"body": body, "auth": self.headers.get("Authorization")})
                n = len(stub.requests)
                stub.in_flight += 1
                stub.max_in_flight = max(stub.max_in_flight, stub.in_flight)
            try:
                if self.path != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                if n <= stub.fail_first:
                    headers = {"Retry-After": stub.retry_after} if stub.retry_after else None
                    self._send(
                        stub.fail_status, {"error": {"message": "scripted failure"}}, headers
                    )
                    return
                time.sleep(stub.delay_s(body))
                message: dict[str, Any] = {"role": "assistant", "content": stub.reply(body)}
                if stub.tool_call:
                    message = {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "move", "arguments": '{"direction": "up"}'},
                            }
                        ],
                    }
                self._send(
                    200,
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "model": body["model"],
                        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    },
                )
            finally:
                with stub.lock:
                    stub.in_flight -= 1

    return Handler


@pytest.fixture
def stub() -> Iterator[Stub]:
    state = Stub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _inp(text: str) -> AgentInput:
    messages = [{"role": "system", "content": "rules"}, {"role": "user", "content": text}]
    return AgentInput(messages=messages, env=None)  # type: ignore[arg-type]


def test_replies_in_order_under_the_concurrency_limit(stub):
    # Later requests finish first, so order must come from the agent, not from arrival.
    stub.delay_s = lambda body: 0.06 - 0.002 * int(body["messages"][-1]["content"])
    with OpenAIAgent(
        stub.url,
        "stub",
        max_concurrency=4,
        api_key="k",
        seed=10,
        max_tokens=16,
        stop=["</action>"],
        extra_body={"top_k": 5},
    ) as agent:
        replies = agent.act([_inp(str(i)) for i in range(20)])
    assert replies == [str(i) for i in range(20)]
    assert 1 < stub.max_in_flight <= 4
    first = stub.requests[0]
    assert first["auth"] == "Bearer k"
    body = first["body"]
    assert body["model"] == "stub" and body["temperature"] == 0.0 and body["max_tokens"] == 16
    assert body["stop"] == ["</action>"] and body["top_k"] == 5
    assert body["messages"][0] == {"role": "system", "content": "rules"}
    assert sorted(r["body"]["seed"] for r in stub.requests) == list(range(10, 30))


def test_retries_server_errors_and_rate_limits(stub):
    stub.fail_first, stub.fail_status = 2, 503
    agent = OpenAIAgent(stub.url, "stub", max_retries=3, backoff_s=0.01)
    assert agent.act([_inp("hello")]) == ["hello"]
    assert len(stub.requests) == 3
    stub.requests.clear()
    stub.fail_first, stub.fail_status, stub.retry_after = 1, 429, "0"
    assert agent.act([_inp("again")]) == ["again"]
    assert len(stub.requests) == 2
    agent.close()


def test_gives_up_after_retries_naming_url_and_status(stub):
    stub.fail_first = 100
    agent = OpenAIAgent(stub.url, "stub", max_retries=2, backoff_s=0.01)
    with pytest.raises(AgentServerError, match="failed after 3 tries: HTTP 500") as err:
        agent.act([_inp("x")])
    assert err.value.status == 500 and err.value.url == f"{stub.url}/chat/completions"
    assert stub.url in str(err.value) and len(stub.requests) == 3


def test_client_errors_are_not_retried(stub):
    agent = OpenAIAgent(f"http://127.0.0.1:{stub.port}/wrong", "stub", backoff_s=0.01)
    with pytest.raises(AgentServerError, match="HTTP 404") as err:
        agent.act([_inp("x")])
    assert err.value.status == 404 and len(stub.requests) == 1


def test_timeouts_raise(stub):
    stub.delay_s = lambda body: 1.0
    agent = OpenAIAgent(stub.url, "stub", timeout_s=0.1, max_retries=1, backoff_s=0.01)
    start = time.perf_counter()
    with pytest.raises(AgentServerError, match="timed out") as err:
        agent.act([_inp("slow")])
    assert err.value.status is None and time.perf_counter() - start < 0.9
    assert len(stub.requests) == 2


def test_connection_refused_raises_after_retries():
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    agent = OpenAIAgent(f"http://127.0.0.1:{port}/v1", "m", max_retries=1, backoff_s=0.01)
    with pytest.raises(AgentServerError, match="connection failed"):
        agent.act([_inp("x")])


def test_tool_calls_become_tool_call_text(stub):
    stub.tool_call = True
    agent = OpenAIAgent(stub.url, "stub")
    (reply,) = agent.act([_inp("x")])
    assert reply == '<tool_call>{"name": "move", "arguments": {"direction": "up"}}</tool_call>'


def test_api_key_from_environment(stub, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    OpenAIAgent(stub.url, "stub").act([_inp("x")])
    monkeypatch.delenv("OPENAI_API_KEY")
    OpenAIAgent(stub.url, "stub").act([_inp("x")])
    assert [r["auth"] for r in stub.requests] == ["Bearer from-env", "Bearer EMPTY"]


def test_make_agent_openai_specs(stub):
    agent = make_agent(f"openai:{stub.url}#stub")
    assert isinstance(agent, OpenAIAgent) and agent.name == "openai:stub"
    assert agent.act([_inp("hi")]) == ["hi"]
    # No path: /v1 is added; no model: the one the server lists.
    found = make_agent(f"openai:http://127.0.0.1:{stub.port}")
    assert isinstance(found, OpenAIAgent) and found.model == "stub"
    assert found.url == f"{stub.url}/chat/completions"
    named = make_agent(f"openai:{stub.url}", model="other")
    assert isinstance(named, OpenAIAgent) and named.model == "other"
    stub.models = ["a", "b"]
    with pytest.raises(InvalidArgumentError, match="serves 2 models"):
        discover_model(stub.url)
    with pytest.raises(InvalidArgumentError, match="openai:URL#MODEL"):
        make_agent("openai:")
    with pytest.raises(InvalidArgumentError, match="Did you mean 'oracle'"):
        make_agent("oracel")


def test_bad_arguments():
    with pytest.raises(InvalidArgumentError, match="http"):
        normalize_base_url("127.0.0.1:8000")
    with pytest.raises(InvalidArgumentError, match="max_concurrency"):
        OpenAIAgent("http://127.0.0.1:1/v1", "m", max_concurrency=0)
    with pytest.raises(InvalidArgumentError, match=r"stop=\('x',\)"):
        OpenAIAgent("http://127.0.0.1:1/v1", "m", stop="x")


def test_rollout_end_to_end(stub):
    from mtenvs.rollout import rollout

    stub.reply = lambda body: "<action>up</action>"
    with make_agent(f"openai:{stub.url}#stub") as agent:  # type: ignore[attr-defined]
        trajs = list(rollout("mtenvs/Maze-v0", agent, 4, num_envs=2, env_kwargs={"max_turns": 2}))
    assert len(trajs) == 4 and all(t.agent == "openai:stub" for t in trajs)
    turns = [turn for t in trajs for turn in t.turns]
    assert turns and all(t.reply == "<action>up</action>" and t.parse_error is None for t in turns)
    # Every request carried the whole conversation so far, system prompt first.
    assert all(r["body"]["messages"][0]["role"] == "system" for r in stub.requests)
    assert len(stub.requests) == len(turns)


def test_image_parts_are_sent_as_png_data_urls(stub):
    import base64
    import io

    import numpy as np
    from PIL import Image

    from mtenvs.core.agent import user_message

    pixels = np.random.default_rng(0).integers(0, 256, (12, 17, 3), dtype=np.uint8)
    stub.reply = lambda body: "<action>up</action>"
    messages = [
        {"role": "system", "content": "rules"},
        user_message({"text": "You are at the @.", "image": pixels}),
        {"role": "assistant", "content": "<action>up</action>"},
        {"role": "user", "content": "text only"},
    ]
    with OpenAIAgent(stub.url, "stub") as agent:
        assert agent.act([AgentInput(messages=messages, env=None)]) == ["<action>up</action>"]  # type: ignore[arg-type]
    sent = stub.requests[0]["body"]["messages"]
    # String contents go as they are; the image message as OpenAI parts, image first.
    assert sent[0] == {"role": "system", "content": "rules"}
    assert sent[2:] == messages[2:]
    image_part, text_part = sent[1]["content"]
    assert text_part == {"type": "text", "text": "You are at the @."}
    assert image_part["type"] == "image_url"
    prefix = "data:image/png;base64,"
    url = image_part["image_url"]["url"]
    assert url.startswith(prefix)
    decoded = Image.open(io.BytesIO(base64.b64decode(url[len(prefix) :])))
    assert decoded.format == "PNG" and np.array_equal(np.asarray(decoded), pixels)
    # The caller's messages still hold the PIL image (the conversion makes new dicts).
    assert isinstance(messages[1]["content"][0]["image"], Image.Image)


def _pixels(url: str) -> bytes:
    import base64
    import io

    import numpy as np
    from PIL import Image

    prefix = "data:image/png;base64,"
    assert url.startswith(prefix)
    image = Image.open(io.BytesIO(base64.b64decode(url[len(prefix) :])))
    return np.asarray(image.convert("RGB")).tobytes()


def test_rollout_with_image_observations_end_to_end(stub):
    import gymnasium as gym

    from mtenvs.rollout import rollout

    stub.reply = lambda body: "<action>up</action>"
    env_kwargs = {"max_turns": 2, "obs_mode": "image"}
    with OpenAIAgent(stub.url, "stub") as agent:
        trajs = list(rollout("mtenvs/Maze-v0", agent, 2, num_envs=2, env_kwargs=env_kwargs))
    assert len(trajs) == 2 and len(stub.requests) == sum(len(t.turns) for t in trajs)
    first_images = set()
    for request in stub.requests:
        users = [m for m in request["body"]["messages"] if m["role"] == "user"]
        for message in users:  # every observation: its picture, then its text
            image_part, text_part = message["content"]
            assert image_part["type"] == "image_url" and text_part["type"] == "text"
        if len(users) == 1:
            first_images.add(_pixels(users[0]["content"][0]["image_url"]["url"]))
    # The first request of each episode shows the very pixels of the env's first picture.
    env = gym.make("mtenvs/Maze-v0", **env_kwargs)
    expected = {env.reset(seed=t.seed)[0]["image"].tobytes() for t in trajs}
    env.close()
    assert first_images == expected
