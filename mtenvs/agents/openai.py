"""``OpenAIAgent``: replies from any OpenAI-compatible chat server (vLLM, SGLang, TGI, …).

Requests go to ``{base_url}/chat/completions`` through ``httpx`` (imported when an agent is
built), concurrently from a thread pool no larger than ``max_concurrency``.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mtenvs.agents.content import openai_message
from mtenvs.core.agent import AgentInput, Message
from mtenvs.error import Error, InvalidArgumentError, check_int_range

if TYPE_CHECKING:
    import httpx

__all__ = ["AgentServerError", "OpenAIAgent", "discover_model", "normalize_base_url"]

#: Statuses worth another try: request timeout, conflict, rate limit and server errors.
RETRY_STATUSES = frozenset({408, 409, 429})
#: The longest single wait between tries, whatever the backoff or ``Retry-After`` says.
MAX_BACKOFF_S = 30.0
#: How much of an error response body goes into the exception message.
_BODY_CHARS = 300


class AgentServerError(Error, RuntimeError):
    """A model server did not answer a request (after any retries) or answered nonsense.

    Attributes:
        url: The endpoint that was called.
        status: The last HTTP status, or ``None`` when no response came (connection error,
            timeout).
    """

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


def _import_httpx() -> Any:
    try:
        import httpx
    except ImportError as e:
        raise ImportError('OpenAIAgent needs httpx: pip install "httpx>=0.27"') from e
    return httpx


def normalize_base_url(base_url: str) -> str:
    """Strip trailing slashes; a URL with no path gets ``/v1`` (``http://host:8000`` works)."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidArgumentError(
            f"base_url must be an http(s) URL such as 'http://127.0.0.1:8000/v1', got {base_url!r}."
        )
    url = base_url.rstrip("/")
    return url if parts.path.strip("/") else f"{url}/v1"


def _resolve_api_key(api_key: str | None) -> str:
    # vLLM and most local servers ignore the key but some clients refuse an empty one.
    return api_key if api_key is not None else os.environ.get("OPENAI_API_KEY") or "EMPTY"


def discover_model(base_url: str, *, api_key: str | None = None, timeout_s: float = 10.0) -> str:
    """The id of the one model a server lists at ``GET {base_url}/models``.

    Raises :class:`AgentServerError` when the server does not answer and
    :class:`~mtenvs.error.InvalidArgumentError` when it serves no model or several (name one).
    """
    httpx = _import_httpx()
    url = f"{normalize_base_url(base_url)}/models"
    headers = {"Authorization": f"Bearer {_resolve_api_key(api_key)}"}
    try:
        response = httpx.get(url, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as e:
        raise AgentServerError(f"GET {url} failed: {e!r}.", url=url) from e
    if response.status_code != 200:
        raise AgentServerError(
            f"GET {url} answered HTTP {response.status_code}: {response.text[:_BODY_CHARS]}",
            url=url,
            status=response.status_code,
        )
    try:
        ids = [str(m["id"]) for m in response.json()["data"]]
    except (ValueError, KeyError, TypeError) as e:
        raise AgentServerError(
            f"GET {url} did not return an OpenAI model list: {response.text[:_BODY_CHARS]}",
            url=url,
            status=response.status_code,
        ) from e
    if len(ids) != 1:
        served = ", ".join(map(repr, ids)) or "none"
        raise InvalidArgumentError(
            f"{base_url} serves {len(ids)} models ({served}); name one, as in "
            f"'openai:{base_url}#MODEL'."
        )
    return ids[0]


class OpenAIAgent:
    """Sends each conversation to ``POST {base_url}/chat/completions``; replies come in order.

    ``act`` sends the whole batch at once, at most ``max_concurrency`` requests in flight.
    A request that fails with a connection error, a timeout, HTTP 408/409/429 or 5xx is
    tried again up to ``max_retries`` times, waiting ``backoff_s * 2**attempt`` seconds
    (with jitter; a ``Retry-After`` header wins; at most :data:`MAX_BACKOFF_S`). Any other
    HTTP error, a reply that is not a chat completion, or a request still failing after its
    retries raises :class:`AgentServerError` naming the URL and the status: those are
    infrastructure failures, not agent mistakes.

    Messages go out in the OpenAI chat format: a string content as it is; a list of Hugging
    Face content parts (an observation with an image, see
    :func:`mtenvs.core.agent.user_message`) as OpenAI parts, each image an ``image_url``
    part holding a lossless ``data:image/png;base64,…`` URL and each text a
    ``{"type": "text", "text": …}`` part (:func:`mtenvs.agents.content.openai_message`).
    The server must serve a vision-language model for those.

    A reply is the message ``content``; tool calls the server returns (when tools were
    passed in ``extra_body``) are appended as ``<tool_call>{json}</tool_call>`` text, which
    :mod:`mtenvs.core.parsing` accepts.

    The agent holds a connection pool and threads: call :meth:`close` (or use it as a
    context manager) when done.

    Args:
        base_url: The server's OpenAI API root, e.g. ``http://127.0.0.1:8000/v1`` (a URL
            without a path gets ``/v1``).
        model: The model id to ask for (see :func:`discover_model`).
        api_key: Bearer token; default ``$OPENAI_API_KEY``, else ``"EMPTY"``.
        max_concurrency: Most requests in flight at once.
        timeout_s: Per-request network timeout: connecting, and waiting for the reply.
        max_retries: Further tries of a failed request (0: none).
        backoff_s: Wait before the first retry; doubles with each further one.
        temperature: Sampling temperature (``0.0``: greedy).
        top_p: Nucleus sampling mass; ``None``: the server's default.
        max_tokens: Most tokens per reply; ``None``: the server's default.
        stop: Stop strings (the server drops the matched string from the reply).
        seed: Base seed: request ``n`` of this agent carries ``seed + n``, so a rerun
            reproduces on servers that honour ``seed`` while a group of identical prompts
            still gets different samples. ``None``: no seed is sent.
        extra_body: More fields for every request body (e.g. vLLM's ``top_k``,
            ``include_stop_str_in_output``, ``tools``).
        name: Name recorded in trajectories (default ``openai:<model>``).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        max_concurrency: int = 16,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        temperature: float = 0.0,
        top_p: float | None = None,
        max_tokens: int | None = None,
        stop: Sequence[str] = (),
        seed: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        httpx = _import_httpx()
        if not model:
            raise InvalidArgumentError("model must name the served model, got an empty string.")
        check_int_range("max_concurrency", max_concurrency, 1)
        check_int_range("max_retries", max_retries, 0)
        if max_tokens is not None:
            check_int_range("max_tokens", max_tokens, 1)
        if not timeout_s > 0:
            raise InvalidArgumentError(f"timeout_s must be > 0, got {timeout_s!r}.")
        if not backoff_s >= 0:
            raise InvalidArgumentError(f"backoff_s must be >= 0, got {backoff_s!r}.")
        if isinstance(stop, str):
            raise InvalidArgumentError(
                f"stop must be a sequence of strings, got the string {stop!r}; "
                f"write stop=({stop!r},)."
            )
        self.base_url = normalize_base_url(base_url)
        self.url = f"{self.base_url}/chat/completions"
        self.model = model
        self.name = name if name is not None else f"openai:{model}"
        self.max_concurrency = max_concurrency
        self.timeout_s = float(timeout_s)
        self.max_retries = max_retries
        self.backoff_s = float(backoff_s)
        self.seed = seed
        params: dict[str, Any] = {"temperature": temperature}
        if top_p is not None:
            params["top_p"] = top_p
        if max_tokens is not None:
            params["max_tokens"] = max_tokens
        if stop:
            params["stop"] = list(stop)
        params.update(extra_body or {})
        self._params = params
        self._httpx = httpx
        self._client = httpx.Client(
            headers={"Authorization": f"Bearer {_resolve_api_key(api_key)}"},
            timeout=httpx.Timeout(self.timeout_s),
            limits=httpx.Limits(
                max_connections=max_concurrency, max_keepalive_connections=max_concurrency
            ),
        )
        self._pool = ThreadPoolExecutor(max_concurrency, thread_name_prefix="mtenvs-openai")
        # An agent dropped without close() (make_agent's callers rarely close) still lets go
        # of its sockets and threads when collected.
        self._finalizer = weakref.finalize(self, _release, self._pool, self._client)
        self._jitter = random.Random(seed)
        self._lock = threading.Lock()
        self._requests = 0

    def act(self, batch: Sequence[AgentInput]) -> list[str]:
        """Return one reply per conversation, in order (see the class doc)."""
        with self._lock:
            first, self._requests = self._requests, self._requests + len(batch)
        futures: list[Future[str]] = [
            self._pool.submit(self._complete, item.messages, first + k)
            for k, item in enumerate(batch)
        ]
        try:
            return [f.result() for f in futures]
        finally:
            # On a failure, requests not yet sent are dropped rather than left to run.
            for f in futures:
                f.cancel()

    def _complete(self, messages: Sequence[Message], index: int) -> str:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [openai_message(m) for m in messages],
            **self._params,
        }
        if self.seed is not None:
            body["seed"] = self.seed + index
        httpx = self._httpx
        last_error = "no attempt made"
        status: int | None = None
        for attempt in range(self.max_retries + 1):
            retry_after: float | None = None
            try:
                response = self._client.post(self.url, json=body)
            except httpx.TimeoutException as e:
                last_error, status = f"timed out after {self.timeout_s:g} s ({e!r})", None
            except httpx.TransportError as e:
                last_error, status = f"connection failed ({e!r})", None
            else:
                status = response.status_code
                if status == 200:
                    return self._reply(response)
                last_error = f"HTTP {status}: {response.text[:_BODY_CHARS]}"
                if status not in RETRY_STATUSES and status < 500:
                    raise AgentServerError(
                        f"POST {self.url} (model {self.model!r}) answered {last_error}",
                        url=self.url,
                        status=status,
                    )
                retry_after = _retry_after(response.headers.get("retry-after"))
            if attempt < self.max_retries:
                time.sleep(self._backoff(attempt, retry_after))
        raise AgentServerError(
            f"POST {self.url} (model {self.model!r}) failed after {self.max_retries + 1} "
            f"tries: {last_error}",
            url=self.url,
            status=status,
        )

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_BACKOFF_S)
        # Jitter spreads out the retries of a batch that failed together.
        with self._lock:
            jitter = 0.5 + 0.5 * self._jitter.random()
        return min(self.backoff_s * 2**attempt * jitter, MAX_BACKOFF_S)

    def _reply(self, response: httpx.Response) -> str:
        try:
            message = response.json()["choices"][0]["message"]
            content = message.get("content") or ""
            calls = message.get("tool_calls") or []
            tool_text = "".join(
                "<tool_call>"
                + json.dumps(
                    {
                        "name": c["function"]["name"],
                        "arguments": _arguments(c["function"].get("arguments")),
                    }
                )
                + "</tool_call>"
                for c in calls
            )
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
            raise AgentServerError(
                f"POST {self.url} returned HTTP 200 but no chat completion: "
                f"{response.text[:_BODY_CHARS]}",
                url=self.url,
                status=response.status_code,
            ) from e
        return f"{content}{tool_text}" if isinstance(content, str) else str(content)

    def close(self) -> None:
        """Wait for requests in flight, then release the threads and connections."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._finalizer()

    def __enter__(self) -> OpenAIAgent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"OpenAIAgent(base_url={self.base_url!r}, model={self.model!r}, "
            f"max_concurrency={self.max_concurrency})"
        )


def _release(pool: ThreadPoolExecutor, client: httpx.Client) -> None:
    pool.shutdown(wait=False, cancel_futures=True)
    client.close()


def _arguments(raw: object) -> object:
    """Tool-call arguments arrive as a JSON string; keep them as an object when they parse."""
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw if raw is not None else {}


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (the HTTP-date form is ignored)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
