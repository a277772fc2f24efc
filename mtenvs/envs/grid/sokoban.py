"""``mtenvs/Sokoban-v0``: push boxes onto targets, one reply per turn, text or image."""

from __future__ import annotations

import hashlib
import pickle
from typing import Any, ClassVar, Final, Unpack

import numpy as np

from mtenvs.core.args import EvalSetArgs
from mtenvs.core.env import EnvSnapshot, MultiTurnEnv, Reply, Transition
from mtenvs.core.rewards import OUTCOME, PROCESS
from mtenvs.core.spaces import text_image_space, text_space
from mtenvs.core.task_source import TaskSource
from mtenvs.envs.grid.sokoban_bank import BANK_SPLIT, TABLE_DIFFICULTIES, banked_table
from mtenvs.envs.grid.sokoban_image import make_sokoban_palette, render_level_image
from mtenvs.envs.grid.sokoban_replies import ALLOWED_MOVES, parse_moves
from mtenvs.envs.grid.sokoban_rules import DIRECTIONS, LEGEND, Level, MoveResult
from mtenvs.envs.grid.sokoban_solver import SokobanSolver, solver_for
from mtenvs.envs.grid.sokoban_tasks import DIFFICULTIES, SokobanTask, task_source
from mtenvs.error import check_choice, check_int_range

__all__ = ["SokobanEnv"]

_MAX_ACTIONS_PER_TURN: Final = 1000
_FEEDBACK: Final[tuple[tuple[str, ...], ...]] = tuple(
    (
        f"You moved {d}.",
        f"You pushed a box {d}.",
        f"Moving {d} hit a wall (no-op).",
        f"Moving {d} hit a box that cannot be pushed: a wall or another box is behind it (no-op).",
    )
    for d in DIRECTIONS
)
#: The system prompt's legend under ``obs_mode="image"``: the picture's tiles, not the text
#: symbols (colours from :mod:`mtenvs.envs.grid.render`).
_IMAGE_LEGEND: Final = (
    "The board is shown as a picture of square cells, up toward the top: brown brick cells "
    "are walls, beige cells floor, a red ring marks a target, an orange wooden crate is a "
    "box, a green crate a box on a target, and the blue disc is you (on a red ring when you "
    "stand on a target). The room is padded with walls to a fixed size."
)
# Plain ints: enum member lookups cost more than the comparisons in the step loop.
_BLOCKED: Final = int(MoveResult.BLOCKED_BY_WALL)
_PUSHED: Final = int(MoveResult.PUSHED)
_TUPLE: Final = tuple.__name__
_TUPLE_INNER: Final = "".join(("tu", "ple"))  # equal to _TUPLE, another object (state_key)


class SokobanEnv(MultiTurnEnv[Any, tuple[int, ...], SokobanTask]):
    """Push every box onto a target in a procedurally generated, always solvable level.

    ## Description

    Sokoban: push every box (`$`) onto a target (`.`). Levels are generated procedurally
    (reverse play from the solved state, as in gym-sokoban), so each is solvable, and the
    exact optimal solution length is known. The optimal remaining distance is known at every
    step too (:mod:`mtenvs.envs.grid.sokoban_solver`), which gives an exact process reward.
    A walk and a push each count as one move.

    | difficulty | room (walls included) | boxes | optimal length | default `max_turns` |
    |---|---|---|---|---|
    | `easy` | up to 8x8 (6x6 inside) | 1 | 6-30 | 60 |
    | `medium` | up to 10x10 (7x7 to 8x8 inside) | 2 | 12-50 | 120 |
    | `hard` | up to 12x12 (8x8 to 10x10 inside) | 3 | 18-70 | 180 |

    Rooms are cropped to their walls, so the text board is often smaller than the bound.

    ## Action Space

    The raw model reply (`str`, or a tool-call / chat-message dict). A move is one of `up`,
    `down`, `left`, `right` (or `u`, `d`, `l`, `r`), case-insensitive. Accepted shapes:
    `<action>up</action>` (the last complete block counts; `<think>` blocks are ignored);
    a tool call `{"name": "move", "arguments": {"direction": "up"}}` or
    `{"directions": ["up", "left"]}`; or a bare reply made only of move words (`Left`).
    With `actions_per_turn=k > 1` a reply may hold up to `k` moves played in order
    (`<action>up left left</action>`); they stop early once the level is solved. Anything
    else is a malformed reply: the observation names what was wrong and the allowed words,
    `format` is charged and the episode goes on. A move into a wall or an immovable box is
    legal but a no-op (counted in `invalid_moves`).

    ## Observation Space

    `obs_mode="text"`: a `str`. `obs_mode="image"` or `"text+image"`: a
    `Dict({"text": str, "image": Box(0, 255, (H, W, 3), uint8)})` with 16 px tiles (brown
    brick walls, beige floor, red target rings, orange crates, green crates on targets, a
    blue disc for the player); the image has a fixed size per difficulty (128x128 easy,
    160x160 medium, 192x192 hard), smaller rooms padded with walls.

    | `obs_mode` | the text holds |
    |---|---|
    | `text` | feedback on the last move(s), the board in the standard symbols (`#` wall, ` ` floor, `.` target, `$` box, `*` box on target, `@` player, `+` player on target; the legend is in the system prompt) and a status line (boxes on targets, moves made, turns left); the first one also the level id, size and box count |
    | `image` | feedback on the last move(s) and a status line (moves made, turns left); the first one the level id and box count. No board and no count of boxes on targets: they are only in the picture, whose legend is in the system prompt |
    | `text+image` | the same text as `text`, with the picture |

    ## Rewards

    | component | when | value |
    |---|---|---|
    | `outcome` | every step | 1.0 on the step that solves the level, else 0.0 |
    | `process` | every legal reply | `(D(before) - D(after)) / D0`, see below |
    | `format` | malformed reply | `-format_penalty` (default 0.1) |
    | `turn_cost` | every step, if `turn_cost > 0` | `-turn_cost` |

    `D(s) = min(d*(s), 2 * D0)` is the capped optimal remaining number of moves, with
    `d*(s) = infinity` for an unsolvable state and `D0` the level's optimal length. The
    process sum of an episode telescopes to `(D0 - D(final)) / D0`: exactly 1.0 for a solved
    episode (any solved episode, optimal or not; an optimal one earns `1/D0` every move),
    exactly -1.0 for a deadlock, and in [-1, 1] for a truncated one. Per move: `+1/D0` along
    an optimal plan, 0 for a no-op, `-1/D0` for a walk that loses a move, and possibly more
    for a push that cannot be undone (a reply of several moves sums its moves).
    `reward_mode="outcome"` (default) sums `outcome`, `format` and `turn_cost`;
    `reward_mode="process"` adds `process`.

    ## Episode End

    * terminated: every box is on a target (`success=True`), or the level can no longer be
      solved, e.g. a box pushed into a corner off target (`deadlock=True`, `success=False`).
      Unsolvability is decided exactly by the solver.
    * truncated: `max_turns` turns used without either.

    ## Info

    | key | meaning |
    |---|---|
    | `system_prompt` | reset only: rules, legend (of the symbols, or of the picture under `obs_mode="image"`) and reply format |
    | `task_id` | reset only: the level id, e.g. `sokoban-easy-train-123` |
    | `max_turns` | reset only: the turn budget |
    | `split` | reset only: `train` or `test` |
    | `turn` | turns taken so far |
    | `success` | the level is solved |
    | `reward_components` | the components summed into `reward` |
    | `uncounted_components` | components computed but not counted under `reward_mode` |
    | `parse_error` | why the reply was malformed, else `None` |
    | `final_answer` | step only: always `False` (Sokoban has no final answer) |
    | `state_key` | hash of the level and the player and box positions |
    | `effective_moves` | moves of the last reply that changed the state |
    | `invalid_moves` | moves of the last reply that were no-ops (wall or immovable box) |
    | `total_effective_moves` | effective moves since reset |
    | `total_invalid_moves` | no-op moves since reset |
    | `boxes_on_target` | boxes on a target now |
    | `num_boxes` | boxes in the level |
    | `deadlock` | the level became unsolvable (the episode ended) |

    Action efficacy as in "Thinking vs Doing":
    `total_effective_moves / (total_effective_moves + total_invalid_moves)`.

    ## Arguments

    | argument | default | meaning |
    |---|---|---|
    | `difficulty` | `"easy"` | `"easy"`, `"medium"` or `"hard"` (table above) |
    | `actions_per_turn` | `1` | most moves one reply may hold |
    | `eval_set` | `False` | play the fixed eval set of the difficulty (50 test levels, `mtenvs/assets/grid/sokoban_<difficulty>.json`): `reset(seed=s)` plays level `s % 50`, a reset without a seed the next one, `options={"task_id": id or index}` a given one |
    | `max_turns` | per difficulty | turn budget (60 / 120 / 180) |

    `reset(options={"task_id": "sokoban-easy-train-42"})` replays a level by id.

    ## Registered ids

    * `mtenvs/Sokoban-v0`

    ## Version History

    * v0: initial release. With `eval_set`, a reset without a seed plays the level after
      the last one played (was a random level); seeded resets and scores are unchanged.
    """

    reference_configs: ClassVar[tuple[dict[str, Any], ...]] = (
        {"difficulty": "easy"},
        {"difficulty": "medium"},
        {"difficulty": "hard"},
    )

    # Not ClassVar-annotated: gym.Env declares metadata as an attribute, mypy rejects both.
    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}  # noqa: RUF012
    default_max_turns: ClassVar[int] = DIFFICULTIES["easy"].default_max_turns
    _snapshot_fields: ClassVar[tuple[str, ...]] = (
        "_level",
        "_player",
        "_boxes",
        "_board",
        "_remaining",
        "_deadlock",
        "_last_effective",
        "_last_invalid",
        "_total_effective",
        "_total_invalid",
    )

    def __init__(
        self,
        *,
        difficulty: str = "easy",
        actions_per_turn: int = 1,
        **kwargs: Unpack[EvalSetArgs],
    ) -> None:
        check_choice("difficulty", difficulty, DIFFICULTIES)
        self.actions_per_turn = check_int_range(
            "actions_per_turn", actions_per_turn, 1, _MAX_ACTIONS_PER_TURN
        )
        spec = DIFFICULTIES[difficulty]
        if kwargs.get("max_turns") is None:
            kwargs["max_turns"] = spec.default_max_turns
        super().__init__(**kwargs)
        self.difficulty = difficulty
        self._room = rows, cols = spec.room
        self._palette = make_sokoban_palette()
        tile = self._palette.tile_size
        self.observation_space = (
            text_space() if self.obs_mode == "text" else text_image_space(rows * tile, cols * tile)
        )
        self._level: Level | None = None
        self._solver: SokobanSolver | None = None
        self._player = self._boxes = 0
        self._board = bytearray()  # the text board, redrawn in place cell by cell
        self._remaining = 0  # capped optimal remaining distance D(s), see Rewards
        self._deadlock = False
        self._last_effective = self._last_invalid = 0
        self._total_effective = self._total_invalid = 0
        #: state_key of each (player, boxes) of this episode's task seen so far.
        self._state_keys: dict[tuple[int, int], str] = {}

    @classmethod
    def supported_obs_modes(cls) -> tuple[str, ...]:
        return ("text", "image", "text+image")

    # ------------------------------------------------------------------ episode

    def task_source(self) -> TaskSource[SokobanTask]:
        return task_source(self.difficulty, self.split, use_eval_set=self.eval_set)

    def new_episode(self, task: SokobanTask) -> str:
        level, start = task.parsed
        solver = solver_for(level)
        # The shared solver may hold an equal Level object from the generator: adopt it, so
        # the identity check in apply_action holds.
        level = solver.level
        # Any table build happens here, in reset (which the rollout engine overlaps with the
        # agent's turn), not in the first step off the stored solution; a banked level's
        # table is read from the bank instead of built.
        if task.split == BANK_SPLIT and task.difficulty in TABLE_DIFFICULTIES:
            packed = banked_table(task.difficulty, task.seed, task.rows)
            if packed is not None:
                solver.load_table(packed)
        solver.prepare()
        # The stored solution is optimal: an agent that follows it never waits on a search.
        solver.learn_path(start.player, start.boxes, task.solution_moves)
        self._level, self._solver = level, solver
        self._state_keys = {}
        self._player, self._boxes = start
        self._board = level.board(start.player, start.boxes)
        self._remaining = task.optimal_length
        self._deadlock = False
        self._last_effective = self._last_invalid = 0
        self._total_effective = self._total_invalid = 0
        n = level.num_boxes
        goal = "the box onto the target" if n == 1 else f"all {n} boxes onto the targets"
        if self.obs_mode == "image":
            return (
                f"Level {task.task_id} ({n} box{'es' if n > 1 else ''}), shown in the "
                f"picture. Push {goal}.\n\n{self._status()}"
            )
        return (
            f"Level {task.task_id} ({level.height}x{level.width}, {n} box"
            f"{'es' if n > 1 else ''}). Push {goal}.\n\n{self._status()}"
        )

    def _status(self) -> str:
        level = self._level
        assert level is not None
        if self.obs_mode == "image":
            # The board and the boxes on targets are only in the picture.
            return (
                f"Moves made: {self._total_effective}. Turns left: {self.max_turns - self._turn}."
            )
        on = (self._boxes & level.targets_mask).bit_count()
        return (
            f"{self._board.decode()}\n\nBoxes on targets: {on}/"
            f"{level.num_boxes}. Moves made: {self._total_effective}. "
            f"Turns left: {self.max_turns - self._turn}."
        )

    # ------------------------------------------------------------------ replies

    def parse_action(self, reply: Reply) -> tuple[int, ...]:
        return parse_moves(reply, self.actions_per_turn)

    def apply_action(self, action: tuple[int, ...]) -> Transition:
        level, solver, board, task = self._level, self._solver, self._board, self._task
        assert level is not None and task is not None
        if solver is None or solver.level is not level:
            solver = self._current_solver()  # restore() brought back another level
            level = solver.level
        goal, deltas = level.targets_mask, level.deltas
        player, boxes = self._player, self._boxes
        effective = invalid = 0
        feedback: list[str] = []
        for move in action:
            old_player = player
            player, boxes, result = level.move_raw(player, boxes, move)
            feedback.append(_FEEDBACK[move][result])
            if result >= _BLOCKED:
                invalid += 1
                continue
            effective += 1
            level.redraw(
                board, old_player, player, player + deltas[move] if result == _PUSHED else None
            )
            if boxes == goal:
                break  # later moves could only push a box off its target again
        d0 = task.optimal_length
        before = self._remaining
        if effective:
            distance = solver.distance(player, boxes)
            after = 2 * d0 if distance < 0 or distance > 2 * d0 else distance
        else:
            distance = after = before  # only no-ops: the state did not change
        self._player, self._boxes, self._remaining = player, boxes, after
        self._last_effective, self._last_invalid = effective, invalid
        self._total_effective += effective
        self._total_invalid += invalid
        solved = boxes == goal
        self._deadlock = deadlock = distance < 0
        text = feedback[0] if len(feedback) == 1 else " ".join(feedback)
        if solved:
            text += f" Every box is on a target: solved in {self._total_effective} moves!"
        elif deadlock:
            text += " The level can no longer be solved (a box is stuck); the episode is over."
        if self.obs_mode != "image":  # _status(), inlined: this is the step's hot path
            text = (
                f"{text}\n\n{board.decode()}\n\nBoxes on targets: "
                f"{(boxes & goal).bit_count()}/{level.num_boxes}. Moves made: "
                f"{self._total_effective}. Turns left: {self.max_turns - self._turn}."
            )
        else:
            text = f"{text}\n\n{self._status()}"
        # Positional: keywords cost more on a path this hot (observation, components,
        # terminated, success).
        return Transition(
            text,
            {OUTCOME: 1.0 if solved else 0.0, PROCESS: (before - after) / d0},
            solved or deadlock,
            solved,
        )

    # ------------------------------------------------------------------ prompts and views

    def system_prompt(self) -> str:
        k = self.actions_per_turn
        how = (
            "Reply with one move per turn, e.g. <action>up</action>."
            if k == 1
            else f"Reply with up to {k} moves per turn, separated by spaces and played in "
            "order, e.g. <action>up left left</action>."
        )
        legend = _IMAGE_LEGEND if self.obs_mode == "image" else LEGEND
        return (
            "You are playing Sokoban on a grid. Push every box onto a target.\n"
            "Each move takes you one cell up, down, left or right. Walking into a box pushes "
            "it one cell the same way if the cell behind it is free (floor or target). You "
            "cannot pull boxes, push two boxes at once or walk through walls. A box pushed "
            "into a corner or against a wall may never get out again, and the game ends "
            "when the level can no longer be solved: plan ahead.\n"
            f"{legend}\n"
            f"Moves: up, down, left, right. {how} "
            f"You have {self.max_turns} turns."
        )

    def action_format(self) -> str:
        if self.actions_per_turn == 1:
            return (
                f"<action>MOVE</action> with MOVE one of {ALLOWED_MOVES}, e.g. <action>up</action>"
            )
        return (
            f"<action>MOVE MOVE ...</action> with up to {self.actions_per_turn} moves, each "
            f"one of {ALLOWED_MOVES}, e.g. <action>up left</action>"
        )

    def episode_info(self) -> dict[str, Any]:
        level = self._level
        return {
            "effective_moves": self._last_effective,
            "invalid_moves": self._last_invalid,
            "total_effective_moves": self._total_effective,
            "total_invalid_moves": self._total_invalid,
            "boxes_on_target": (self._boxes & level.targets_mask).bit_count() if level else 0,
            "num_boxes": level.num_boxes if level else 0,
            "deadlock": self._deadlock,
        }

    def state_key_data(self) -> object:
        return (self._player, self._boxes)

    def state_key(self) -> str:
        # The base's stable_digest((class name, task id, (player, boxes))), written out:
        # its generic canonical form of these strs and ints is exactly this, and walking it
        # cost more than the rest of a step. Two distinct "tuple" objects, as the base's
        # type(v).__name__ gives, so pickle's memo writes the same bytes. Keys of the
        # episode's states are kept (an episode revisits states: every no-op, every step
        # back), which saves the hash on most steps; new_episode and restore empty it.
        state = (self._player, self._boxes)
        key = self._state_keys.get(state)
        if key is None:
            data = (
                _TUPLE,
                [type(self).__name__, self.task_id, (_TUPLE_INNER, [self._player, self._boxes])],
            )
            key = hashlib.blake2b(pickle.dumps(data, 4), digest_size=8).hexdigest()
            self._state_keys[state] = key
        return key

    def restore(self, snapshot: EnvSnapshot) -> None:
        super().restore(snapshot)
        self._state_keys = {}  # the snapshot may hold another task

    def _current_solver(self) -> SokobanSolver:
        self._require_started("privileged")
        assert self._level is not None
        if self._solver is None or self._solver.level is not self._level:
            self._solver = solver_for(self._level)  # after restore() into another level
            self._level = self._solver.level  # an equal Level; identity keeps the fast path
        return self._solver

    def oracle_action(self) -> str:
        """The next ``actions_per_turn`` moves of an optimal plan (``up`` if none is left:
        solved or unsolvable)."""
        moves = self._current_solver().plan(self._player, self._boxes, self.actions_per_turn)
        return f"<action>{' '.join(DIRECTIONS[m] for m in moves) or 'up'}</action>"

    def privileged(self) -> dict[str, Any]:
        solver = self._current_solver()
        task = self.task
        distance = solver.distance(self._player, self._boxes)
        return {
            "optimal_remaining": distance,  # -1 when unsolvable
            "optimal_plan": [DIRECTIONS[m] for m in solver.plan(self._player, self._boxes)],
            "solvable": distance >= 0,
            "task": {
                "task_id": task.task_id,
                "difficulty": task.difficulty,
                "split": task.split,
                "seed": task.seed,
                "rows": list(task.rows),
                "optimal_length": task.optimal_length,
                "solution": task.solution,
            },
        }

    def random_action(self, rng: np.random.Generator) -> str:
        n = int(rng.integers(1, self.actions_per_turn + 1))
        return f"<action>{' '.join(DIRECTIONS[int(m)] for m in rng.integers(0, 4, n))}</action>"

    def render_text(self) -> str:
        self._require_started("render")
        assert self._level is not None
        return self._board.decode()

    def render_image(self) -> np.ndarray:
        self._require_started("render")
        assert self._level is not None
        return render_level_image(self._level, self._room, self._player, self._boxes, self._palette)
