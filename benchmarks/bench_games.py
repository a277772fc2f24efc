"""Board-game speed benchmark: mtenvs Tic-Tac-Toe and Connect Four against PettingZoo's
``classic`` envs and TextArena's ``TicTacToe-v0``, side by side in one run.

Run from the repository root::

    benchmarks/setup_peers.sh                   # once: the peers' own venv, .venv-bench
    .venv/bin/python benchmarks/bench_games.py  # --quick for a smoke run

As ``bench_grid.py`` (whose measuring loop, rows and rounds this reuses): this process (the
project's ``.venv``) times our envs in-process, then runs this file with
``.venv-bench/bin/python --worker <peer>`` once per peer and round.

A timed **turn** is what an agent loop does for one move, the same for every row:

* AEC envs (ours and PettingZoo): ``env.step(action)`` then ``env.last()`` (the next
  agent's observation; PettingZoo computes observations lazily, so a step alone would
  leave it out);
* TextArena: ``env.step(reply)`` then ``env.get_observation()``;
* our single-agent ids through ``gym.make``: ``env.step(reply)``, which also plays the
  built-in ``random`` opponent's reply (so it is two moves; noted in the table).

Every action is a *legal* move drawn at random among the legal ones (found untimed from the
action mask or the board), so every timed turn changes the position (``valid`` = 100 %).
Actions: ints for the AEC rows marked ``int`` (PettingZoo only takes ints), our
``<action>N</action>`` reply text for the rows marked ``text`` (parsed by the env, as
TextArena parses ``[N]``). A reset is ``reset`` plus the first observation.

Results (machine, versions, every statistic) go to ``benchmarks/results/bench_games.json``
(``bench_games_quick.json`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable, Hashable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common
import bench_grid
from bench_grid import Adapter, Row, merge_rounds, run_rows

REPO = Path(__file__).resolve().parent.parent
ROUND_STRIDE = 100_000_000
PEERS = ("pettingzoo", "textarena")
OUR_PACKAGES = ("mtenvs", "gymnasium", "pettingzoo", "numpy")
PEER_PACKAGES = ("pettingzoo", "gymnasium", "pygame", "textarena", "numpy")
#: Rows whose step median the others are compared with.
BASELINES = {"tictactoe": "ours-tictactoe-aec-text", "connect4": "ours-connect4-aec-text"}


# --------------------------------------------------------------------------- adapters


class AecAdapter:
    """A PettingZoo AEC env (ours or PettingZoo's): a turn is ``step`` + ``last``."""

    def __init__(
        self,
        make: Callable[[], Any],
        label: Callable[[int], Any],
        signature: Callable[[Any], Hashable],
    ) -> None:
        self.env = make()
        self.label = label
        self._signature = signature

    def before_reset(self, seed: int) -> None:
        pass

    def reset(self, seed: int) -> None:
        self.env.reset(seed=seed)
        self.env.last()

    def step(self, action: Any) -> bool:
        self.env.step(action)
        _, _, terminated, truncated, _ = self.env.last()
        return bool(terminated or truncated)

    def moves(self) -> list[Any]:
        mask = self.env.observe(self.env.agent_selection)["action_mask"]
        return [self.label(i) for i in range(len(mask)) if mask[i]]

    def signature(self) -> Hashable:
        return self._signature(self.env.unwrapped)


class GymAdapter(bench_grid.GymApiAdapter):
    """One of our single-agent ids through ``gym.make`` against the random opponent."""

    def __init__(self, env_id: str) -> None:
        import gymnasium as gym

        import mtenvs  # noqa: F401  (registers the ids)

        self.env = gym.make(env_id, opponent="random", play_as=0)

    def moves(self) -> list[Any]:
        game = self.env.unwrapped._game
        return [f"<action>{label}</action>" for label in game.legal_labels()]

    def signature(self) -> Hashable:
        return self.env.unwrapped.state_key()


class TextArenaAdapter(bench_grid.TextArenaAdapter):
    """TextArena's ``ta.make("TicTacToe-v0")`` (two players, default wrappers), replies
    ``[N]``; a fresh ``ta.make`` per episode (untimed), as in ``bench_grid.py``."""

    env_id = "TicTacToe-v0"
    num_players = 2

    def moves(self) -> list[Any]:
        board = self.core.state.game_state["board"]
        return [f"[{r * 3 + c}]" for r in range(3) for c in range(3) if board[r][c] == ""]

    def signature(self) -> Hashable:
        return str(self.core.state.game_state["board"])


# --------------------------------------------------------------------------- rows


def our_specs() -> list[tuple[Row, Callable[[], Adapter]]]:
    from mtenvs.games import connect_four_v0, tictactoe_v0

    specs: list[tuple[Row, Callable[[], Adapter]]] = []
    for game, module, env_id in (
        ("tictactoe", tictactoe_v0, "mtenvs/TicTacToe-v0"),
        ("connect4", connect_four_v0, "mtenvs/ConnectFour-v0"),
    ):
        name = "Tic-Tac-Toe" if game == "tictactoe" else "Connect Four"
        for kind in ("int", "text"):

            def make(module: Any = module, kind: str = kind) -> Adapter:
                env = module.env()
                raw = env.unwrapped
                label = (
                    (lambda i: i)
                    if kind == "int"
                    else (lambda i: f"<action>{raw.move_label(i)}</action>")
                )
                return AecAdapter(lambda: env, label, lambda u: u.game.key())

            specs.append(
                (
                    Row(
                        key=f"ours-{game}-aec-{kind}",
                        group="ours",
                        env=f"mtenvs {name}",
                        obs="text",
                        api=f"AEC env(), {kind}",
                    ),
                    make,
                )
            )
        specs.append(
            (
                Row(
                    key=f"ours-{game}-gym-text",
                    group="ours",
                    env=f"mtenvs {name}",
                    obs="text",
                    api="gym.make, text",
                    notes="a turn includes the random opponent's reply",
                ),
                lambda env_id=env_id: GymAdapter(env_id),
            )
        )
    return specs


def peer_specs(peer: str) -> list[tuple[Row, Callable[[], Adapter]]]:
    if peer == "pettingzoo":

        def make_pz(game: str) -> Adapter:
            import importlib

            module = importlib.import_module(f"pettingzoo.classic.{game}")
            sig = (
                (lambda u: tuple(u.board.squares))
                if "tictactoe" in game
                else (lambda u: tuple(u.board))
            )
            return AecAdapter(module.env, lambda i: i, sig)

        return [
            (
                Row(
                    key=f"pettingzoo-{short}",
                    group="peer",
                    env=f"PettingZoo {game}",
                    obs="array",
                    api="AEC env(), int",
                ),
                functools.partial(make_pz, game),
            )
            for short, game in (("tictactoe", "tictactoe_v3"), ("connect4", "connect_four_v3"))
        ]
    if peer == "textarena":
        return [
            (
                Row(
                    key="textarena-tictactoe",
                    group="peer",
                    env="TextArena TicTacToe-v0",
                    obs="text",
                    api="ta.make, text [N]",
                ),
                TextArenaAdapter,
            )
        ]
    raise SystemExit(f"unknown peer {peer!r}; choose from {', '.join(PEERS)}")


# --------------------------------------------------------------------------- processes


def run_worker(args: argparse.Namespace) -> None:
    """``--worker PEER``: measure one peer and write its rows to ``--json-out``."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    rows = run_rows(
        peer_specs(args.worker),
        resets=args.resets,
        steps=args.steps,
        warmup=args.warmup,
        seed=args.seed,
    )
    common.write_worker_payload(args.json_out, args.worker, rows, PEER_PACKAGES)


def run_peer(peer: str, args: argparse.Namespace, seed: int) -> tuple[list[Row], dict[str, Any]]:
    """Run one round of one peer's worker in ``--bench-python``; its rows (raw results),
    or error rows on failure."""
    payload, failure = common.run_peer_worker(
        Path(__file__).resolve(),
        args.bench_python,
        peer,
        common.cli_flags(resets=args.resets, steps=args.steps, warmup=args.warmup, seed=seed),
        timeout=args.peer_timeout,
        cwd=REPO,
    )
    if payload is None:
        # The rows as the worker would name them: building the specs imports no peer.
        placeholder = [row for row, _ in peer_specs(peer)]
        for row in placeholder:
            row.error = failure
        return placeholder, {}
    return [Row(**r) for r in payload.pop("rows")], payload


def report(rows: list[Row], peer_meta: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    medians = {r.key: r.step_median() for r in rows}
    for r in rows:
        game = "tictactoe" if "tictactoe" in r.key else "connect4"
        base = medians.get(BASELINES[game])
        us = r.step_median()
        r.result["turn_ratio_vs_ours_aec_text"] = us / base if us and base else None
        r.result["turns_per_s"] = 1e6 / us if us else None
    meta: dict[str, Any] = next((m for m in peer_meta.values() if m), {})
    return {
        "benchmark": "bench_games",
        "timestamp": common.utc_timestamp(),
        "quick": args.quick,
        "settings": {
            "resets": args.resets,
            "steps": args.steps,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "seed": args.seed,
        },
        "machine": common.machine_info(),
        "versions": common.versions_record(OUR_PACKAGES, meta),
        "baselines": BASELINES,
        "rows": [asdict(r) for r in rows],
    }


def print_report(rows: list[Row], data: dict[str, Any]) -> None:
    columns = [
        ("env", "left"),
        ("obs", "left"),
        ("API, action", "left"),
        ("reset µs\nmedian", "right"),
        ("turn µs\nmedian", "right"),
        ("turn µs\np90", "right"),
        ("turns/s", "right"),
        ("turn vs ours\nAEC text", "right"),
        ("valid", "right"),
        ("notes", "left"),
    ]
    table = []
    for r in rows:
        if r.error:
            table.append([r.env, r.obs, r.api, *["n/a"] * 5, "", r.error[:70]])
            continue
        res = r.result
        rate = res.get("turns_per_s")
        table.append(
            [
                r.env,
                r.obs,
                r.api,
                common.fmt_us(res["reset"].get("median_us")),
                common.fmt_us(res["step"].get("median_us")),
                common.fmt_us(res["step"].get("p90_us")),
                f"{rate:,.0f}" if rate else "n/a",
                common.fmt_ratio(res["turn_ratio_vs_ours_aec_text"]),
                f"{res['valid_fraction']:.0%}",
                r.notes.strip(),
            ]
        )
    s = data["settings"]
    common.print_table(
        f"bench_games: {s['resets']} resets, {s['steps']} turns per row over {s['rounds']} "
        "rounds (median µs; lower is faster)",
        columns,
        table,
        sections=[sum(r.group == "ours" for r in rows)],
    )


def run_orchestrator(args: argparse.Namespace) -> int:
    rounds: list[list[Row]] = []
    meta: dict[str, Any] = {}
    per_round = argparse.Namespace(
        **{
            **vars(args),
            "resets": max(1, args.resets // args.rounds),
            "steps": max(1, args.steps // args.rounds),
        }
    )
    for k in range(args.rounds):
        seed = args.seed + ROUND_STRIDE * k
        print(f"round {k + 1} of {args.rounds}", file=sys.stderr, flush=True)
        rows = run_rows(
            our_specs(),
            resets=per_round.resets,
            steps=per_round.steps,
            warmup=args.warmup,
            seed=seed,
        )
        for peer in args.peers:
            peer_rows, meta[peer] = run_peer(peer, per_round, seed)
            rows += peer_rows
        rounds.append(rows)
    rows = merge_rounds(rounds)
    data = report(rows, meta, args)
    out = common.results_path("bench_games", quick=args.quick, out=args.out)
    common.write_json(out, data)
    print_report(rows, data)
    print(f"wrote {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    return 1 if args.strict and any(r.error for r in rows) else 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke run (a few seconds)")
    parser.add_argument("--resets", type=int, default=600)
    parser.add_argument("--steps", type=int, default=6000, help="timed turns per row")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    common.add_peer_options(parser, "bench_games", PEERS, peer_timeout=600.0)
    args = parser.parse_args(argv)
    common.check_peer_options(parser, args, PEERS)
    if args.quick:
        args.resets, args.steps, args.rounds, args.warmup = 60, 600, 1, 2
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: the orchestrator, or a peer worker with ``--worker``."""
    return common.run_main(parse_args(argv), run_worker, run_orchestrator)


if __name__ == "__main__":
    raise SystemExit(main())
