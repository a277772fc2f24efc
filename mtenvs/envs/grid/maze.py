"""``mtenvs/Maze-v0``: find the goal of a procedurally generated maze, optionally in fog."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, ClassVar, Unpack

import numpy as np

from mtenvs.core.args import EvalSetArgs
from mtenvs.core.env import InvalidAction, MultiTurnEnv, Reply, Transition
from mtenvs.core.parsing import extract_action, parse_tool_calls, reply_text
from mtenvs.core.rewards import OUTCOME, PROCESS
from mtenvs.core.spaces import text_image_space, text_space
from mtenvs.core.task_source import TaskSource, seeded_tasks
from mtenvs.envs.grid import render
from mtenvs.envs.grid.maze_rules import (
    AGENT,
    DIRECTIONS,
    FLOOR,
    GOAL,
    UNSEEN,
    WALL,
    apply_moves,
    bfs_distances,
    initial_board,
    move_offsets,
    optimal_plan,
    view_windows,
)
from mtenvs.envs.grid.maze_tasks import (
    DIFFICULTIES,
    SEEDS_PER_SPLIT,
    MazeTask,
    eval_set,
    make_task,
    parse_task_id,
)
from mtenvs.error import ResetNeededError, check_choice, check_int_range

__all__ = ["MOVE_TOOL", "MazeEnv"]

#: Words accepted for each direction (the first of each is canonical).
_ALIASES: dict[str, str] = {
    alias: name
    for name, aliases in {
        "up": ("up", "u", "north"),
        "down": ("down", "d", "south"),
        "left": ("left", "l", "west"),
        "right": ("right", "r", "east"),
    }.items()
    for alias in aliases
}
_WORD = re.compile(r"[A-Za-z]+")
#: A reply that is one action block and nothing else: parsed without the general (and
#: ~5x slower) tag extraction, with the same result.
_ONLY_ACTION = re.compile(r"\s*<action\s*>([^<]*)</action\s*>\s*", re.IGNORECASE)
#: A bare reply (no tags) is read as moves only if it is this short and nothing but moves.
_BARE_MAX_CHARS = 200
#: OpenAI function schema of the ``move`` tool (replies may call it instead of ``<action>``).
MOVE_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "move",
        "description": "Move one step in the maze.",
        "parameters": {
            "type": "object",
            "properties": {"direction": {"type": "string", "enum": list(DIRECTIONS)}},
            "required": ["direction"],
        },
    },
}

#: Image tiles, one per text character: the picture shows exactly what the text shows
#: (the agent standing on the goal hides it in both).
_TILES: dict[str, str] = {
    WALL: render.WALL,
    FLOOR: render.FLOOR,
    AGENT: render.PLAYER,
    GOAL: render.GOAL,
    UNSEEN: render.FOG,
}
_PALETTE = render.make_palette(tuple(_TILES.values()))
#: Byte of a board character -> its tile code (one gather maps the whole board).
_CODE_OF_BYTE = np.zeros(256, dtype=np.uint8)
for _code, _char in enumerate(_TILES):
    _CODE_OF_BYTE[ord(_char)] = _code


@lru_cache(maxsize=256)
def _derived(task: MazeTask, view_radius: int | None) -> tuple[bytes, bytearray, list[int]]:
    """Per-task constants: maze text with goal, initial board, distance-to-goal map."""
    base, board = initial_board(task.grid, task.start, task.goal, view_radius)
    stride = len(task.grid[0]) + 1
    dist = bfs_distances(base, task.goal[0] * stride + task.goal[1], stride)
    return base, board, dist


class MazeEnv(MultiTurnEnv[Any, tuple[int, ...], MazeTask]):
    """Walk from ``@`` to the goal ``G`` of a maze, seeing all of it or only nearby cells.

    ## Description
    A procedurally generated maze (a randomized depth-first-search "perfect" maze, with a
    few extra openings on ``medium`` and ``hard``) is drawn as text: ``#`` wall, ``.``
    floor, ``@`` the agent, ``G`` the goal, ``?`` not seen yet. The start is a random cell
    and the goal the cell farthest from it. With ``view_radius=r`` the agent sees only the
    cells within Chebyshev distance ``r`` (a square, through walls) and remembers every cell
    it has seen (fog-of-war memory: seen cells stay drawn, the maze never changes).
    Sizes: ``easy`` 7x7, ``medium`` 11x11, ``hard`` 15x15 characters.

    ## Action Space
    The raw model reply (``str``, or a tool-call dict). ``<action>up</action>``, or up to
    ``actions_per_turn`` directions ``<action>up up left</action>`` played in order; the
    ``move`` tool (``{"name": "move", "arguments": {"direction": "up"}}``, one call per move,
    also as ``<tool_call>…</tool_call>`` text); or a bare ``up``. Directions: ``up``,
    ``down``, ``left``, ``right`` (also ``u``/``d``/``l``/``r``, ``north``/…). A move into a
    wall is legal: the agent stays and ``invalid_moves`` counts it. Anything else is a
    malformed reply.

    ## Observation Space
    ``obs_mode="text"``: a ``str``; ``"image"`` / ``"text+image"``:
    ``Dict({"text": str, "image": uint8 (H, W, 3)})`` whose image draws exactly the text
    maze (fog included), 16 px per cell: 112 px (easy), 176 px (medium), 240 px (hard)
    square; brown brick walls, beige floor, a blue disc for the agent, a yellow square for
    the goal, dark dotted cells not seen yet.

    | `obs_mode` | the text holds |
    |---|---|
    | `text` | feedback on the last moves, the maze drawn in characters, the agent's (row, column) — row 0 is the top — the goal's once seen, and the turns left |
    | `image` | feedback on the last moves and the turns left (the first one: the maze size and the task); no maze, no positions: they are only in the picture, whose legend is in the system prompt |
    | `text+image` | the same text as `text`, with the picture |

    ## Rewards
    | Component | Value |
    |---|---|
    | `outcome` | 1.0 on the step that reaches the goal, else 0.0 |
    | `process` | (distance before − distance after) / initial distance, BFS distances to the goal; sums to 1.0 over any episode that reaches the goal, so exactly 1.0 for an optimal one (counted only with `reward_mode="process"`) |
    | `format` | −`format_penalty` for a malformed reply (the turn is used, the agent stays) |
    | `turn_cost` | −`turn_cost` every turn (when non-zero) |

    ## Episode End
    ``terminated`` when the agent reaches the goal (moves after it in the same reply are
    not played); ``truncated`` after ``max_turns`` turns.

    ## Info keys
    | Key | Description |
    |---|---|
    | `system_prompt` | rules, legend (of the characters, or of the picture under `obs_mode="image"`) and reply format (reset only) |
    | `task_id` | e.g. `maze-medium-test-00012` (reset only) |
    | `max_turns` | turn budget (reset only) |
    | `split` | `train` or `test` (reset only) |
    | `turn` | turns taken so far |
    | `success` | the goal has been reached |
    | `reward_components` | counted reward components; they sum to `reward` |
    | `uncounted_components` | components computed but not counted under `reward_mode` |
    | `parse_error` | why the reply was malformed, else `None` |
    | `final_answer` | always `False` (moves are not final answers; step only) |
    | `state_key` | hash of the task, agent position and fog |
    | `invalid_moves` | moves into a wall so far this episode |
    | `effective_moves` | moves that changed the agent's position so far this episode |

    The distance to the goal is privileged: see :meth:`privileged`, never in ``info``.

    ## Arguments
    | Argument | Default | Description |
    |---|---|---|
    | `difficulty` | `"easy"` | `easy`, `medium` or `hard` (maze size and openings) |
    | `view_radius` | `None` | `None`: whole maze visible; `r >= 1`: fog beyond Chebyshev distance `r` |
    | `actions_per_turn` | `1` | most moves one reply may contain |
    | `max_turns` | move budget / `actions_per_turn` | 48 (easy), 100 (medium), 160 (hard) moves |

    ## Registered ids
    * `mtenvs/Maze-v0`

    ## Version History
    * v0: initial release.
    """

    reference_configs: ClassVar[tuple[dict[str, Any], ...]] = (
        {"difficulty": "easy"},
        {"difficulty": "medium"},
        {"difficulty": "hard"},
    )

    # Not ClassVar-annotated: gym.Env declares metadata as an attribute, mypy rejects both.
    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 4}  # noqa: RUF012
    _snapshot_fields: ClassVar[tuple[str, ...]] = (
        "_board",
        "_pos",
        "_invalid_moves",
        "_effective_moves",
        "_task_cursor",
    )

    def __init__(
        self,
        *,
        difficulty: str = "easy",
        view_radius: int | None = None,
        actions_per_turn: int = 1,
        **kwargs: Unpack[EvalSetArgs],
    ) -> None:
        check_choice("difficulty", difficulty, DIFFICULTIES)
        if view_radius is not None:
            check_int_range("view_radius", view_radius, 1)
        check_int_range("actions_per_turn", actions_per_turn, 1, 100)
        spec = DIFFICULTIES[difficulty]
        if kwargs.get("max_turns") is None:
            kwargs["max_turns"] = -(-spec.move_budget // actions_per_turn)
        super().__init__(**kwargs)
        self.difficulty = difficulty
        self.view_radius = view_radius
        self.actions_per_turn = actions_per_turn
        self.size = spec.size
        self._stride = spec.size + 1
        self._offsets = move_offsets(spec.size)
        self._names = {off: name for name, off in self._offsets.items()}
        self._windows = (
            None if view_radius is None else view_windows(spec.size, spec.size, view_radius)
        )
        pixels = spec.size * _PALETTE.tile_size
        self.observation_space = (
            text_space() if self.obs_mode == "text" else text_image_space(pixels, pixels)
        )
        self._board = bytearray()
        self._pos = 0
        self._invalid_moves = 0
        self._effective_moves = 0
        self._base = b""
        self._dist: list[int] = []
        self._goal_idx = 0
        self._d0 = 1

    @classmethod
    def supported_obs_modes(cls) -> tuple[str, ...]:
        return ("text", "image", "text+image")

    # ------------------------------------------------------------------ episode

    def task_source(self) -> TaskSource[MazeTask]:
        return seeded_tasks(
            make_task,
            parse_task_id,
            difficulty=self.difficulty,
            split=self.split,
            seeds=SEEDS_PER_SPLIT,
            eval_tasks=eval_set(self.difficulty) if self.eval_set else None,
            name="maze",
        )

    def new_episode(self, task: MazeTask) -> str:
        self._load_task()
        self._board = bytearray(_derived(task, self.view_radius)[1])
        self._pos = task.start[0] * self._stride + task.start[1]
        self._invalid_moves = 0
        self._effective_moves = 0
        if self.obs_mode == "image":
            fog = (
                ""
                if self.view_radius is None
                else f" You see {self.view_radius} cell(s) around you; dark dotted cells are "
                "not seen yet."
            )
            return (
                f"Find the goal (yellow square) in the {self.size}x{self.size} maze of the "
                f"picture. You are the blue disc.{fog}\n{self._status()}"
            )
        fog = (
            ""
            if self.view_radius is None
            else (f" You see {self.view_radius} cell(s) around you; `?` marks cells not seen yet.")
        )
        return (
            f"Find the goal G in this {self.size}x{self.size} maze. You are @.{fog}\n"
            + self._status()
        )

    def _load_task(self) -> None:
        """Set the per-task constants (not snapshotted: they follow from :attr:`task`)."""
        task = self.task
        self._base, _, self._dist = _derived(task, self.view_radius)
        self._goal_idx = task.goal[0] * self._stride + task.goal[1]
        self._d0 = max(task.optimal_length, 1)

    def restore(self, snapshot: Any) -> None:
        super().restore(snapshot)
        self._load_task()

    # ------------------------------------------------------------------ actions

    def parse_action(self, reply: Reply) -> tuple[int, ...]:
        text = reply_text(reply)
        words: list[str] | None = None
        if text is not None:
            simple = _ONLY_ACTION.fullmatch(text)
            body = simple.group(1) if simple is not None else extract_action(text)
            if body is not None:
                words = _WORD.findall(body)
                if not words:
                    raise InvalidAction(f"the <action> block is empty. {self._allowed()}")
        if words is None:
            calls = parse_tool_calls(reply)
            if calls:
                words = []
                for call in calls:
                    if call.name != "move":
                        raise InvalidAction(
                            f"unknown tool {call.name[:40]!r}; the only tool is 'move' "
                            f"with argument 'direction'. {self._allowed()}"
                        )
                    direction = call.arguments.get("direction")
                    if not isinstance(direction, str):
                        raise InvalidAction(
                            f"the move tool needs a string 'direction'. {self._allowed()}"
                        )
                    words.extend(_WORD.findall(direction) or [direction])
        if words is None:
            stripped = text.strip() if text is not None else ""
            words = _WORD.findall(stripped) if 0 < len(stripped) <= _BARE_MAX_CHARS else []
            if (
                not words
                or not all(w.lower() in _ALIASES for w in words)
                or not re.fullmatch(r"[A-Za-z\s,;.!]*", stripped)
            ):
                raise InvalidAction(f"no <action>…</action> block found. {self._allowed()}")
        moves = []
        for word in words:
            name = _ALIASES.get(word.lower())
            if name is None:
                raise InvalidAction(f"unknown direction {word[:40]!r}. {self._allowed()}")
            moves.append(self._offsets[name])
        if len(moves) > self.actions_per_turn:
            raise InvalidAction(
                f"{len(moves)} moves in one reply, but at most {self.actions_per_turn} "
                f"{'is' if self.actions_per_turn == 1 else 'are'} allowed per turn."
            )
        return tuple(moves)

    def _allowed(self) -> str:
        return "Allowed directions: up, down, left, right."

    def apply_action(self, action: tuple[int, ...]) -> Transition:
        dist = self._dist
        before = dist[self._pos]
        self._pos, moved = apply_moves(
            self._board, self._base, self._pos, action, self._goal_idx, self._windows
        )
        n_moved = sum(moved)
        self._effective_moves += n_moved
        self._invalid_moves += len(moved) - n_moved
        components = {OUTCOME: 0.0, PROCESS: (before - dist[self._pos]) / self._d0}
        if self._pos == self._goal_idx:
            components[OUTCOME] = 1.0
            end = (
                "You reached the goal!"
                if self.obs_mode == "image"
                else f"You reached the goal G!\n{self._board_text()}"
            )
            return Transition(
                f"{self._feedback(action, moved)} {end}",
                components,
                terminated=True,
                success=True,
            )
        return Transition(self._feedback(action, moved) + "\n" + self._status(), components)

    def _feedback(self, action: tuple[int, ...], moved: list[bool]) -> str:
        names = self._names
        if len(action) == 1:
            name = names[action[0]]
            return (
                f"You moved {name}." if moved[0] else (f"A wall blocks {name}; you did not move.")
            )
        parts = [
            f"{names[off]} ({'moved' if ok else 'wall, no move'})" for off, ok in zip(action, moved)
        ]
        skipped = len(action) - len(moved)
        tail = f"; {skipped} move(s) after the goal not played" if skipped else ""
        return f"Moves: {', '.join(parts)}{tail}."

    # ------------------------------------------------------------------ observations

    def _board_text(self) -> str:
        return self._board.decode("ascii")

    def _status(self) -> str:
        if self.obs_mode == "image":
            # The picture alone shows the maze, the agent and the goal: no text copy of them.
            return f"Turns left: {self.max_turns - self._turn}."
        row, col = divmod(self._pos, self._stride)
        if self._board[self._goal_idx] == ord(UNSEEN):
            goal = "The goal is not in sight yet."
        else:
            goal_row, goal_col = divmod(self._goal_idx, self._stride)
            goal = f"Goal G at row {goal_row}, column {goal_col}."
        return (
            f"{self._board_text()}\nYou are at row {row}, column {col}. {goal} "
            f"Turns left: {self.max_turns - self._turn}."
        )

    def render_text(self) -> str:
        self._require_started("render")
        return self._board_text()

    def render_image(self) -> np.ndarray:
        self._require_started("render")
        # The board text has no final newline; one more byte makes it a (size, stride) block.
        chars = np.frombuffer(bytes(self._board) + b"\n", dtype=np.uint8)
        chars = chars.reshape(self.size, self._stride)
        return render.render_tiles(_CODE_OF_BYTE[chars[:, : self.size]], _PALETTE)

    def system_prompt(self) -> str:
        if self.obs_mode == "image":
            return self._image_system_prompt()
        fog = (
            ""
            if self.view_radius is None
            else f"You only see cells at most {self.view_radius} rows and columns away (a square "
            "around you, through walls); `?` marks cells you have not seen yet, and cells "
            "you have seen stay drawn.\n"
        )
        return (
            "You are in a maze drawn as text: `#` wall, `.` floor, `@` you, `G` the goal, "
            "`?` unseen. Row 0 is the top row and column 0 the left column.\n"
            f"{fog}Reach G in as few turns as possible; you have {self.max_turns} turns. "
            "Moving into a wall wastes the move.\n"
            f"Reply format: {self.action_format()}"
        )

    def _image_system_prompt(self) -> str:
        fog = (
            ""
            if self.view_radius is None
            else f"You only see cells at most {self.view_radius} rows and columns away (a square "
            "around you, through walls); dark dotted cells are cells you have not seen yet, "
            "and cells you have seen stay drawn.\n"
        )
        return (
            f"You are in a maze shown as a picture of {self.size}x{self.size} square cells: "
            "brown brick cells are walls, beige cells floor, the blue disc is you and the "
            "yellow square the goal. Up is toward the top of the picture.\n"
            f"{fog}Reach the goal in as few turns as possible; you have {self.max_turns} "
            "turns. Moving into a wall wastes the move.\n"
            f"Reply format: {self.action_format()}"
        )

    def action_format(self) -> str:
        if self.actions_per_turn == 1:
            return (
                "<action>DIRECTION</action> with DIRECTION one of up, down, left, right, "
                "e.g. <action>up</action>."
            )
        return (
            f"<action>DIRECTIONS</action> with 1 to {self.actions_per_turn} of up, down, "
            "left, right separated by spaces, played in order, e.g. <action>up up left</action>."
        )

    def episode_info(self) -> dict[str, Any]:
        return {"invalid_moves": self._invalid_moves, "effective_moves": self._effective_moves}

    # ------------------------------------------------------------------ privileged

    def oracle_action(self) -> str:
        self._require_started("oracle_action")
        plan = optimal_plan(self._dist, self._pos, self.size, self.actions_per_turn)
        if not plan:
            raise ResetNeededError("oracle_action() called after the goal was reached; reset.")
        return f"<action>{' '.join(plan)}</action>"

    def privileged(self) -> dict[str, Any]:
        self._require_started("privileged")
        full = bytearray(self._base)
        full[self._pos] = ord("@")
        return {
            "optimal_remaining": self._dist[self._pos],
            "optimal_plan": optimal_plan(self._dist, self._pos, self.size),
            "optimal_length": self.task.optimal_length,
            "goal": divmod(self._goal_idx, self._stride),
            "position": divmod(self._pos, self._stride),
            "maze": full.decode("ascii"),
        }

    def random_action(self, rng: np.random.Generator) -> str:
        n = int(rng.integers(1, self.actions_per_turn + 1))
        words = [list(DIRECTIONS)[int(i)] for i in rng.integers(0, 4, size=n)]
        return f"<action>{' '.join(words)}</action>"

    def state_key_data(self) -> object:
        # The board text holds the agent position and, in fog, exactly what was seen.
        return bytes(self._board)
