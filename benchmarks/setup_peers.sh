#!/usr/bin/env bash
# Create /work/main/.venv-bench (the repository's .venv-bench) with the peer environments that
# benchmarks/bench_grid.py and benchmarks/bench_games.py compare against: gym-sokoban, GEM
# (gem-llm), TextArena and PettingZoo (classic Tic-Tac-Toe / Connect Four, with pygame), and the
# BM25 libraries of benchmarks/bench_search.py (bm25s, rank-bm25), pinned
# in benchmarks/requirements-peers.txt; and BrowserGym's MiniWoB++ env for
# benchmarks/bench_miniwob.py (BROWSERGYM_PINS below; it brings its own Playwright, which only
# ever launches Debian's /usr/bin/chromium: `playwright install` is never run). A venv of its
# own, so the peers' pins (old gym, NumPy 1.26) never touch the project's .venv.
#
# Idempotent: a stamp file inside the venv records the hash of the requirements file (and the
# BrowserGym pins) and the interpreter; when both match, a second run does nothing. Delete
# .venv-bench to start over.
#
# Environment: PYTHON (interpreter for the venv; default: the base interpreter of .venv, so
# ours and the peers run on the same Python), BENCH_VENV (default: <repo>/.venv-bench).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
venv="${BENCH_VENV:-$repo/.venv-bench}"
reqs="$here/requirements-peers.txt"
stamp="$venv/.stamp-peers"
# Installed after the requirements file; they add packages and change none of its pins.
BROWSERGYM_PINS=(browsergym-core==0.14.3 browsergym-miniwob==0.14.3 playwright==1.44.0)

if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$repo/.venv/bin/python" ]]; then
        PYTHON="$("$repo/.venv/bin/python" -c 'import sys; print(sys._base_executable)')"
    else
        PYTHON="$(command -v python3)"
    fi
fi

want="$(cat "$reqs" <(echo "${BROWSERGYM_PINS[*]}") | sha256sum | cut -d' ' -f1) $("$PYTHON" -c 'import sys; print(sys.version.split()[0])')"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$venv/bin/python" ]]; then
    echo "setup_peers: $venv is up to date (rm -r $venv to rebuild)."
    exit 0
fi

echo "setup_peers: building $venv with $PYTHON"
rm -f "$stamp"
if [[ ! -x "$venv/bin/python" ]]; then
    "$PYTHON" -m venv "$venv"
fi
# -qq: errors only (pip otherwise repeats, for every package, a warning about each configured
# --find-links / index folder that does not exist).
"$venv/bin/python" -m pip install -qq --disable-pip-version-check -r "$reqs"
"$venv/bin/python" -m pip install -qq --disable-pip-version-check "${BROWSERGYM_PINS[@]}"

# The peers must import, make their Sokoban envs and step them; fail here rather than in the
# benchmark. (gym prints an "unmaintained" banner on import: shown only on failure.)
if ! log="$(SDL_VIDEODRIVER=dummy "$venv/bin/python" -W ignore - 2>&1 <<'PY'
import gem
import gym
import gym_sokoban  # noqa: F401  (registers Sokoban-v*)
import textarena as ta

env = gym.make("Sokoban-v1", dim_room=(6, 6), num_boxes=2, reset=False)
env.reset()
env.step(1)  # runs gym's passive checker, which needs NumPy < 2
gem.make("game:Sokoban-v0-easy").step("\\boxed{up}")
env = ta.make("Sokoban-v0")
env.reset(num_players=1, seed=0)
env.get_observation()
env = ta.make("TicTacToe-v0")
env.reset(num_players=2, seed=0)
env.step("[4]")
env.get_observation()
from pettingzoo.classic import connect_four_v3, tictactoe_v3

for game in (tictactoe_v3, connect_four_v3):
    env = game.env()
    env.reset(seed=0)
    env.step(3)
    env.last()
import bm25s
from rank_bm25 import BM25Okapi

# (rank_bm25's idf is 0 for a term in half the documents: three documents here.)
corpus = [["capital", "of", "france"], ["river", "seine"], ["a", "lake"]]
assert BM25Okapi(corpus).get_scores(["seine"])[1] > 0
retriever = bm25s.BM25()
retriever.index(bm25s.tokenize(["capital of france", "river seine"], show_progress=False), show_progress=False)
import browsergym.miniwob  # noqa: F401  (registers browsergym/miniwob.*)
import gymnasium

assert "browsergym/miniwob.click-checkboxes" in gymnasium.registry
PY
)"; then
    echo "$log" >&2
    echo "setup_peers: the peers do not work in $venv (see above)." >&2
    exit 1
fi

echo "$want" > "$stamp"
echo "setup_peers: done ($venv)."
