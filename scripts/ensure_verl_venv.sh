#!/usr/bin/env bash
# Create .venv-verl: mtenvs (editable) with the `verl` extra (and `games`), for tests/integrations/test_verl_native.py.
#
# A venv of its own because the last verl with interactions (verl.interactions, removed in
# verl 0.8) is 0.7.1, and it requires NumPy < 2, while the project's .venv runs NumPy 2; the
# project's .venv is never touched. torch stays at the project's pin (the CPU wheel on disk).
#
# Idempotent: a stamp inside the venv records the hash of pyproject.toml and this script and
# the interpreter's version; when they match, a second run does nothing. rm -r .venv-verl to
# start over. Environment: PYTHON (default: the base interpreter of .venv), VERL_VENV.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${VERL_VENV:-.venv-verl}"
stamp="$venv/.stamp-verl"

if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then
    PYTHON="$(.venv/bin/python -c 'import sys; print(sys._base_executable)')"
  else
    PYTHON="$(command -v python3)"
  fi
fi
want="$(cat pyproject.toml "$0" | sha256sum | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$venv/bin/python" ]]; then
  exit 0
fi

echo "Installing mtenvs[verl] into $venv (log: $venv/install.log) ..."
rm -f "$stamp"
[[ -x "$venv/bin/python" ]] || "$PYTHON" -m venv "$venv"
log="$venv/install.log"
: >"$log"
constraints="$venv/constraints.txt"
echo "torch==2.13.0" >"$constraints" # the CPU wheel on disk; any other torch pulls GBs of CUDA
pip_install() {
  if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check -c "$constraints" "$@" >>"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "pip install $* failed (full log: $log)." >&2
    exit 1
  fi
}
pip_install "torch==2.13.0"
# games: importing mtenvs registers every id, the PettingZoo games too
pip_install -e ".[verl,games]" "pytest>=8" "pytest-timeout>=2.3"
if ! "$venv/bin/python" -c 'import verl.interactions.base, verl.experimental.agent_loop.tool_agent_loop' >>"$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "verl does not import in $venv (full log: $log)." >&2
  exit 1
fi
echo "$want" >"$stamp"
