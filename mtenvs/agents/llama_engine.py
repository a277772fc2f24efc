"""``LlamaCppEngine``: batched sampling from a GGUF model with llama.cpp (``llama-cpp-python``).

One llama.cpp context holds a KV cache of ``n_seq`` independent sequences (slots). A call
of :meth:`LlamaCppEngine.generate` takes up to ``n_seq`` prompts (token ids) and decodes
them together: the prompts are evaluated in shared batches, then every step feeds one new
token per unfinished sequence in one ``llama_decode``, so the model's weights are read once
per step for the whole batch. Each slot keeps its tokens after the call; a later prompt that
starts with a slot's tokens (the next turn of the same conversation) reuses them and only
evaluates the new tail, so a multi-turn episode does not pay for its whole history every
turn.

Sampling runs in llama.cpp's own sampler chain, one per sequence: temperature, top-k,
top-p, then a draw from a generator seeded per sequence and call, so the same seed and
prompt give the same tokens. ``temperature=0`` is greedy.

Only the low-level API of ``llama_cpp`` (the C functions of ``llama.h``) is used; its
high-level ``Llama`` class holds one sequence per object.
"""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtenvs.error import InvalidArgumentError, UnavailableError, check_int_range

__all__ = ["INSTALL_LLAMA_CPP", "LlamaCppEngine", "LlamaCppPool", "import_llama_cpp"]

INSTALL_LLAMA_CPP = 'pip install "mtenvs[llm]"'

#: llama.cpp's own logger in ``llama_cpp``: model loading prints hundreds of lines at INFO.
_LOGGER = "llama-cpp-python"


def import_llama_cpp() -> Any:
    """The ``llama_cpp`` module (the bindings of ``llama-cpp-python``), its logging quiet
    except for errors, with the backend initialised."""
    # llama.cpp's CPU threads meet at an OpenMP barrier after every operation; libgomp's
    # default is to spin there for ~300,000 rounds. When another process holds a core
    # (a shared or busy machine), the spinning thread burns its time slice waiting for a
    # descheduled partner: measured 3-5x slower than sleeping at once. Read when libgomp
    # loads, so set before llama.cpp's libraries are; an explicit setting wins.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import llama_cpp
    except ImportError as e:
        raise ImportError(
            "The llama.cpp engine needs llama-cpp-python: "
            f"{INSTALL_LLAMA_CPP} (it compiles llama.cpp once; see docs/agents.md), or "
            "pass engine='transformers'."
        ) from e
    # The bindings print a message when the logger's level lets it through; NOTSET (the
    # default) lets everything through.
    logging.getLogger(_LOGGER).setLevel(logging.ERROR)
    _init_backend(llama_cpp)
    return llama_cpp


_backend_ready = False


def _init_backend(llama_cpp: Any) -> None:
    global _backend_ready
    if not _backend_ready:
        llama_cpp.llama_backend_init()
        _backend_ready = True


@dataclass
class _Slot:
    """One KV-cache sequence: the tokens it holds (positions ``0 … len(tokens) - 1``)."""

    tokens: list[int] = field(default_factory=list)


@dataclass
class _Active:
    """A sequence being generated in this call."""

    index: int
    slot: int
    sampler: Any
    pos: int
    out: list[int] = field(default_factory=list)
    done: bool = False


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class LlamaCppEngine:
    """Batched, seeded sampling from a GGUF file (see the module doc).

    Args:
        path: The GGUF model file.
        n_seq: Sequences decoded together (KV-cache slots); larger batches of prompts are
            split into groups of this size.
        n_ctx_seq: Tokens one sequence holds, prompt and reply together (rounded up to a
            multiple of 256). A longer prompt keeps its last ``n_ctx_seq - max_new_tokens``
            tokens.
        n_threads: CPU threads (default: the CPUs this process may use).
        n_batch: Most prompt tokens evaluated per ``llama_decode``.

    Raises:
        ImportError: llama-cpp-python is not installed (``pip install "mtenvs[llm]"``).
        UnavailableError: llama.cpp cannot load the file (the message names it).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        n_seq: int = 16,
        n_ctx_seq: int = 2048,
        n_threads: int | None = None,
        n_batch: int = 512,
    ) -> None:
        check_int_range("n_seq", n_seq, 1, 256)
        check_int_range("n_ctx_seq", n_ctx_seq, 16)
        check_int_range("n_batch", n_batch, 1)
        if n_threads is not None:
            check_int_range("n_threads", n_threads, 1)
        lib = import_llama_cpp()
        self._lib = lib
        self.path = Path(path)
        self.n_seq = n_seq
        self.n_ctx_seq = -(-n_ctx_seq // 256) * 256
        self.n_batch = n_batch
        self.n_threads = n_threads or len(os.sched_getaffinity(0))
        mparams = lib.llama_model_default_params()
        model = lib.llama_model_load_from_file(os.fsencode(self.path), mparams)
        if not model:
            raise UnavailableError(f"llama.cpp could not load the model file {self.path}.")
        self._model = model
        self._vocab = lib.llama_model_get_vocab(model)
        cparams = lib.llama_context_default_params()
        cparams.n_ctx = self.n_ctx_seq * n_seq
        cparams.n_batch = n_batch
        cparams.n_ubatch = n_batch
        cparams.n_seq_max = n_seq
        cparams.n_threads = self.n_threads
        cparams.n_threads_batch = self.n_threads
        cparams.no_perf = True
        # One cache region per sequence: a long prompt cannot evict another's tokens.
        cparams.kv_unified = False
        ctx = lib.llama_init_from_model(model, cparams)
        if not ctx:
            lib.llama_model_free(model)
            raise UnavailableError(
                f"llama.cpp could not create a context for {self.path} "
                f"(n_seq={n_seq}, n_ctx_seq={self.n_ctx_seq}); try smaller values."
            )
        self._ctx = ctx
        self._memory = lib.llama_get_memory(ctx)
        self._batch = lib.llama_batch_init(max(n_batch, n_seq), 0, 1)
        self._slots = [_Slot() for _ in range(n_seq)]
        self.n_vocab = int(lib.llama_vocab_n_tokens(self._vocab))
        #: Prompt tokens evaluated, and prompt tokens found in a slot's cache instead.
        self.prompt_tokens_evaluated = 0
        self.prompt_tokens_reused = 0
        self._lora: Any = None
        #: The llama.cpp LoRA file in use (:meth:`set_lora`), if any.
        self.lora_path: Path | None = None

    def set_lora(self, path: str | os.PathLike[str] | None) -> None:
        """Play with the llama.cpp LoRA file ``path`` (``None``: without an adapter); the
        cached prompts are forgotten, since they were computed with other weights."""
        lib = self._lib
        lora = None
        if path is not None:
            lora = lib.llama_adapter_lora_init(self._model, os.fsencode(Path(path)))
            if not lora:
                raise UnavailableError(f"llama.cpp could not load the LoRA file {path}.")
            adapters = (lib.llama_adapter_lora_p_ctypes * 1)(lora)
            scales = (ctypes.c_float * 1)(1.0)
            status = lib.llama_set_adapters_lora(self._ctx, adapters, 1, scales)
        else:
            status = lib.llama_set_adapters_lora(self._ctx, None, 0, None)
        if status != 0:
            if lora:
                lib.llama_adapter_lora_free(lora)
            raise UnavailableError(f"llama.cpp could not apply the LoRA file {path}.")
        if self._lora:
            lib.llama_adapter_lora_free(self._lora)
        self._lora = lora
        self.lora_path = Path(path) if path is not None else None
        self.reset()

    # ------------------------------------------------------------------ tokens

    def tokenize(self, text: str) -> list[int]:
        """llama.cpp's tokens for ``text``, special tokens (``<|im_start|>``) parsed, no BOS
        added (a chat template writes its own)."""
        lib = self._lib
        data = text.encode("utf-8")
        size = len(data) + 8
        buf = (lib.llama_token * size)()
        n = lib.llama_tokenize(self._vocab, data, len(data), buf, size, False, True)
        if n < 0:
            size = -n
            buf = (lib.llama_token * size)()
            n = lib.llama_tokenize(self._vocab, data, len(data), buf, size, False, True)
        return list(buf[:n])

    def chat_template(self) -> str | None:
        """The chat template stored in the GGUF file (``tokenizer.chat_template``)."""
        raw = self._lib.llama_model_chat_template(self._model, None)
        return raw.decode("utf-8") if raw else None

    def cached_prefix(self, prompt: Sequence[int]) -> int:
        """The most leading tokens of ``prompt`` that one slot already holds."""
        return max(_common_prefix(slot.tokens, prompt) for slot in self._slots)

    def is_end(self, token: int) -> bool:
        """Whether ``token`` ends generation (EOS, end of turn)."""
        return bool(self._lib.llama_vocab_is_eog(self._vocab, token))

    # ------------------------------------------------------------------ generation

    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        *,
        max_new_tokens: int,
        seeds: Sequence[int],
        temperature: float = 0.0,
        top_p: float | None = None,
        top_k: int | None = None,
        stop: Callable[[list[int]], bool] | None = None,
        logit_bias: Mapping[int, float] | None = None,
    ) -> list[list[int]]:
        """The generated token ids for each prompt (the end-of-turn token left out).

        Args:
            prompts: Token ids, at most ``n_seq`` of them, each non-empty.
            max_new_tokens: Most tokens per reply.
            seeds: One sampling seed per prompt (unused when greedy).
            temperature: ``0.0`` is greedy.
            top_p: Nucleus mass (``None``: off).
            top_k: Keep the ``k`` most likely tokens (``None``: off).
            stop: Called with a sequence's tokens so far after each new token; ``True``
                ends that sequence (stop strings).
            logit_bias: Added to these tokens' logits before sampling (``-inf`` bans a
                token).
        """
        check_int_range("max_new_tokens", max_new_tokens, 1)
        if len(prompts) > self.n_seq:
            raise InvalidArgumentError(
                f"{len(prompts)} prompts for an engine of n_seq={self.n_seq}; split them."
            )
        if len(seeds) != len(prompts):
            raise InvalidArgumentError(f"{len(seeds)} seeds for {len(prompts)} prompts.")
        if any(len(p) == 0 for p in prompts):
            raise InvalidArgumentError("Every prompt needs at least one token.")
        keep = self.n_ctx_seq - max_new_tokens
        if keep < 1:
            raise InvalidArgumentError(
                f"max_new_tokens={max_new_tokens} leaves no room for a prompt in "
                f"n_ctx_seq={self.n_ctx_seq}."
            )
        fitted = [list(p[-keep:]) for p in prompts]
        slots = self._assign_slots(fitted)
        active: list[_Active] = []
        try:
            for i, (tokens, slot, seed) in enumerate(zip(fitted, slots, seeds, strict=True)):
                sampler = self._sampler(temperature, top_p, top_k, seed, logit_bias)
                active.append(_Active(index=i, slot=slot, sampler=sampler, pos=len(tokens)))
            self._prefill(fitted, active)
            self._decode_loop(active, max_new_tokens, stop)
        finally:
            for a in active:
                self._lib.llama_sampler_free(a.sampler)
        return [a.out for a in active]

    def _assign_slots(self, prompts: list[list[int]]) -> list[int]:
        """A distinct slot per prompt, preferring the one that already holds the longest
        start of it; each slot's cache is cut to the part it shares with its prompt."""
        free = set(range(self.n_seq))
        chosen: list[int] = [-1] * len(prompts)
        # Longest matches first, so one conversation does not take another's slot.
        scored = sorted(
            (
                (_common_prefix(self._slots[s].tokens, p), i, s)
                for i, p in enumerate(prompts)
                for s in range(self.n_seq)
            ),
            reverse=True,
        )
        for _, i, s in scored:
            if chosen[i] < 0 and s in free:
                chosen[i] = s
                free.remove(s)
        for i, s in enumerate(chosen):
            slot = self._slots[s]
            # The last prompt token is always evaluated again: its logits start the reply.
            shared = min(_common_prefix(slot.tokens, prompts[i]), len(prompts[i]) - 1)
            if not self._lib.llama_memory_seq_rm(self._memory, s, shared, -1):
                self._lib.llama_memory_seq_rm(self._memory, s, -1, -1)
                shared = 0
            slot.tokens = slot.tokens[:shared]
            self.prompt_tokens_reused += shared
            self.prompt_tokens_evaluated += len(prompts[i]) - shared
        return chosen

    def _sampler(
        self,
        temperature: float,
        top_p: float | None,
        top_k: int | None,
        seed: int,
        logit_bias: Mapping[int, float] | None,
    ) -> Any:
        lib = self._lib
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        if logit_bias:
            biases = (lib.llama_logit_bias * len(logit_bias))()
            for k, (token, bias) in enumerate(logit_bias.items()):
                biases[k].token = int(token)
                biases[k].bias = float(bias)
            lib.llama_sampler_chain_add(
                chain, lib.llama_sampler_init_logit_bias(self.n_vocab, len(logit_bias), biases)
            )
        if temperature <= 0.0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
            return chain
        # transformers' order: temperature, then top-k, then top-p on the scaled logits.
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_temp(temperature))
        if top_k is not None:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_k(top_k))
        if top_p is not None and top_p < 1.0:
            lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_top_p(top_p, 1))
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_dist(seed & 0xFFFFFFFF))
        return chain

    def _prefill(self, prompts: list[list[int]], active: list[_Active]) -> None:
        """Evaluate each prompt's uncached tail, packed into batches of ``n_batch`` tokens;
        every prompt's first reply token is sampled from its last position's logits."""
        queue: list[tuple[_Active, int, int, bool]] = []  # (seq, token, pos, wants logits)
        for a in active:
            start = len(self._slots[a.slot].tokens)
            tail = prompts[a.index][start:]
            for k, token in enumerate(tail):
                queue.append((a, token, start + k, k == len(tail) - 1))
            self._slots[a.slot].tokens.extend(tail)
        for begin in range(0, len(queue), self.n_batch):
            chunk = queue[begin : begin + self.n_batch]
            self._decode([(a.slot, token, pos, logits) for a, token, pos, logits in chunk])
            for row, (a, _, _, logits) in enumerate(chunk):
                if logits:
                    self._take(a, row)

    def _decode_loop(
        self,
        active: list[_Active],
        max_new_tokens: int,
        stop: Callable[[list[int]], bool] | None,
    ) -> None:
        for a in active:
            self._finish_check(a, max_new_tokens, stop)
        while running := [a for a in active if not a.done]:
            self._decode([(a.slot, a.out[-1], a.pos - 1, True) for a in running])
            for row, a in enumerate(running):
                self._take(a, row)
                self._finish_check(a, max_new_tokens, stop)

    def _take(self, a: _Active, row: int) -> None:
        """Sample ``a``'s next token from batch row ``row``'s logits."""
        token = int(self._lib.llama_sampler_sample(a.sampler, self._ctx, row))
        if self.is_end(token):
            a.done = True
            return
        a.out.append(token)
        # The token is fed back at the next step: it will hold position ``pos``.
        self._slots[a.slot].tokens.append(token)
        a.pos += 1

    def _finish_check(
        self, a: _Active, max_new_tokens: int, stop: Callable[[list[int]], bool] | None
    ) -> None:
        if a.done:
            return
        if len(a.out) >= max_new_tokens or (stop is not None and stop(a.out)):
            a.done = True
            # The last sampled token was never evaluated: it is not in the cache.
            self._slots[a.slot].tokens.pop()

    def _decode(self, rows: list[tuple[int, int, int, bool]]) -> None:
        """One ``llama_decode`` of ``(seq, token, pos, logits)`` rows."""
        lib = self._lib
        batch = self._batch
        batch.n_tokens = len(rows)
        for i, (seq, token, pos, logits) in enumerate(rows):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = 1 if logits else 0
        status = lib.llama_decode(self._ctx, batch)
        if status != 0:
            # The cache no longer matches what the slots think it holds.
            self.reset()
            raise UnavailableError(
                f"llama_decode failed with status {status} on {len(rows)} tokens "
                f"(n_seq={self.n_seq}, n_ctx_seq={self.n_ctx_seq})."
            )

    def reset(self) -> None:
        """Forget every slot's cached tokens."""
        self._lib.llama_memory_clear(self._memory, True)
        for slot in self._slots:
            slot.tokens = []

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Free the context, batch and model (also done when the engine is collected)."""
        lib = getattr(self, "_lib", None)
        if lib is None:
            return
        if getattr(self, "_batch", None) is not None:
            lib.llama_batch_free(self._batch)
            self._batch = None
        if getattr(self, "_ctx", None):
            lib.llama_free(self._ctx)
            self._ctx = None
        if getattr(self, "_lora", None):
            lib.llama_adapter_lora_free(self._lora)
            self._lora = None
        if getattr(self, "_model", None):
            lib.llama_model_free(self._model)
            self._model = None

    def __del__(self) -> None:
        # At interpreter exit module globals (contextlib included) may already be gone.
        try:  # noqa: SIM105
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        return (
            f"LlamaCppEngine({str(self.path)!r}, n_seq={self.n_seq}, "
            f"n_ctx_seq={self.n_ctx_seq}, n_threads={self.n_threads})"
        )


class LlamaCppPool:
    """Several :class:`LlamaCppEngine` of one CPU thread each, decoding separate parts of a
    batch at the same time (llama.cpp releases the GIL), with :class:`LlamaCppEngine`'s
    :meth:`~LlamaCppEngine.generate`.

    Why not one context with several threads: llama.cpp's threads meet at a barrier after
    every operation of every layer, so one thread that another process holds up stalls the
    rest. On this project's 2-CPU machine, two one-thread contexts measured as fast as
    one two-thread context at batch 16 when the machine was quiet, and 1.6x faster when
    other processes kept it busy (``benchmarks/bench_llm.py``). Each
    prompt goes to the engine whose cache holds the longest start of it (then to the least
    loaded), so a conversation keeps its cached turns from call to call.

    Args:
        path: The GGUF model file.
        n_seq: Sequences decoded together, in all engines.
        n_ctx_seq: Tokens one sequence holds (see :class:`LlamaCppEngine`).
        n_workers: Engines, each one CPU thread (default: the CPUs this process may use,
            at most ``n_seq``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        n_seq: int = 16,
        n_ctx_seq: int = 2048,
        n_workers: int | None = None,
    ) -> None:
        check_int_range("n_seq", n_seq, 1, 256)
        if n_workers is not None:
            check_int_range("n_workers", n_workers, 1)
        workers = min(n_workers or len(os.sched_getaffinity(0)), n_seq)
        per = -(-n_seq // workers)
        self.engines: list[LlamaCppEngine] = []
        try:
            for _ in range(workers):
                self.engines.append(
                    LlamaCppEngine(path, n_seq=per, n_ctx_seq=n_ctx_seq, n_threads=1)
                )
        except BaseException:
            self.close()
            raise
        self.path = Path(path)
        self.n_seq = per * workers
        self.n_ctx_seq = self.engines[0].n_ctx_seq
        self.n_vocab = self.engines[0].n_vocab
        self._executor: Any = None

    @property
    def n_threads(self) -> int:
        """CPU threads in all (one per engine)."""
        return len(self.engines)

    @property
    def prompt_tokens_evaluated(self) -> int:
        return sum(e.prompt_tokens_evaluated for e in self.engines)

    @property
    def prompt_tokens_reused(self) -> int:
        return sum(e.prompt_tokens_reused for e in self.engines)

    def tokenize(self, text: str) -> list[int]:
        return self.engines[0].tokenize(text)

    def is_end(self, token: int) -> bool:
        return self.engines[0].is_end(token)

    def chat_template(self) -> str | None:
        return self.engines[0].chat_template()

    def generate(
        self,
        prompts: Sequence[Sequence[int]],
        *,
        max_new_tokens: int,
        seeds: Sequence[int],
        temperature: float = 0.0,
        top_p: float | None = None,
        top_k: int | None = None,
        stop: Callable[[list[int]], bool] | None = None,
        logit_bias: Mapping[int, float] | None = None,
    ) -> list[list[int]]:
        """As :meth:`LlamaCppEngine.generate`, with up to ``n_seq`` prompts in all."""
        if len(prompts) > self.n_seq:
            raise InvalidArgumentError(
                f"{len(prompts)} prompts for a pool of n_seq={self.n_seq}; split them."
            )
        if len(seeds) != len(prompts):
            raise InvalidArgumentError(f"{len(seeds)} seeds for {len(prompts)} prompts.")
        parts = self._split(prompts)
        settings: dict[str, Any] = {
            "max_new_tokens": max_new_tokens,
            "temperature": temperature,
            "top_p": top_p,
            "top_k": top_k,
            "stop": stop,
            "logit_bias": logit_bias,
        }

        def run(k: int) -> list[list[int]]:
            return self.engines[k].generate(
                [prompts[i] for i in parts[k]], seeds=[seeds[i] for i in parts[k]], **settings
            )

        busy = [k for k in range(len(self.engines)) if parts[k]]
        if len(busy) <= 1:
            results = {k: run(k) for k in busy}
        else:
            if self._executor is None:
                from concurrent.futures import ThreadPoolExecutor

                self._executor = ThreadPoolExecutor(
                    len(self.engines), thread_name_prefix="llama-cpp"
                )
            futures = {k: self._executor.submit(run, k) for k in busy}
            results = {k: f.result() for k, f in futures.items()}
        out: list[list[int]] = [[] for _ in prompts]
        for k in busy:
            for i, tokens in zip(parts[k], results[k], strict=True):
                out[i] = tokens
        return out

    def _split(self, prompts: Sequence[Sequence[int]]) -> list[list[int]]:
        """Prompt indices per engine: the engine caching the longest start of a prompt
        takes it while it has room; prompts with nothing cached fill the emptiest."""
        capacity = self.engines[0].n_seq
        parts: list[list[int]] = [[] for _ in self.engines]
        scored = sorted(
            (
                (engine.cached_prefix(p), i, k)
                for i, p in enumerate(prompts)
                for k, engine in enumerate(self.engines)
            ),
            reverse=True,
        )
        placed: set[int] = set()
        for score, i, k in scored:
            if score == 0:
                break
            if i not in placed and len(parts[k]) < capacity:
                parts[k].append(i)
                placed.add(i)
        for i in range(len(prompts)):
            if i not in placed:
                k = min(range(len(parts)), key=lambda k: len(parts[k]))
                parts[k].append(i)
        for part in parts:
            part.sort()
        return parts

    def set_lora(self, path: str | os.PathLike[str] | None) -> None:
        """:meth:`LlamaCppEngine.set_lora` on every engine."""
        for engine in self.engines:
            engine.set_lora(path)

    def reset(self) -> None:
        for engine in self.engines:
            engine.reset()

    def close(self) -> None:
        if getattr(self, "_executor", None) is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        for engine in getattr(self, "engines", []):
            engine.close()

    def __repr__(self) -> str:
        return (
            f"LlamaCppPool({str(self.path)!r}, n_seq={self.n_seq}, "
            f"n_ctx_seq={self.n_ctx_seq}, n_workers={len(self.engines)})"
        )
