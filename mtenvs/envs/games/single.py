"""``GameEnv``: a single-agent Gymnasium view of a two-player :class:`TextGameEnv`.

The agent plays one seat; the other seat is played by a built-in opponent policy
(``random``, ``heuristic``, ``optimal``) or by any :class:`mtenvs.agents.Agent`. Opponent
moves happen inside ``reset`` and ``step``, so each observation is the agent's turn (or the
end of the game). Invalid replies follow the mtenvs convention rather than the AEC one: the
reason and the legal moves come back with a ``format`` penalty, and the turn budget
``max_turns`` bounds how many replies one game may take.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar, Unpack

import numpy as np

from mtenvs.core.agent import AgentInput
from mtenvs.core.args import CommonArgs
from mtenvs.core.env import InvalidAction, MultiTurnEnv, Reply, Transition
from mtenvs.core.rewards import OUTCOME
from mtenvs.core.spaces import text_image_space, text_space
from mtenvs.core.task_source import GeneratedTasks, TaskSource
from mtenvs.envs.games.aec import AGENTS, TextGameEnv
from mtenvs.error import InvalidArgumentError, ResetNeededError, check_choice

__all__ = ["OPPONENT_LEVELS", "GameArgs", "GameEnv", "GameTask"]

OPPONENT_LEVELS: tuple[str, ...] = ("random", "heuristic", "optimal")
_TASK_ID = re.compile(r"([a-z]+)-(\d{10})-p([01])")
_SEED_RANGE = 10**10


class GameArgs(CommonArgs, total=False):
    """Arguments of every single-agent game id: the common ones and the other seat's."""

    #: ``"random"``, ``"heuristic"``, ``"optimal"``, or an agent with ``act(batch)``.
    opponent: str | Any
    play_as: int | str


@dataclass(frozen=True)
class GameTask:
    """One game: the seed of its deal or setup and the agent's seat."""

    game: str
    seed: int
    seat: int

    @property
    def task_id(self) -> str:
        return f"{self.game}-{self.seed:010d}-p{self.seat}"


class GameEnv(MultiTurnEnv[Any, int, GameTask]):
    """Base of the single-agent game ids; see the module doc. Subclasses set
    ``game_class``, ``game_name``, ``reward_scale`` and write the docstring."""

    metadata = {"render_modes": ["ansi"], "render_fps": 1}  # noqa: RUF012
    _snapshot_fields: ClassVar[tuple[str, ...]] = ("_game", "_seat", "_opponent_moves")
    default_max_turns: ClassVar[int] = 20
    oracle_always_succeeds: ClassVar[bool] = False
    reference_configs: ClassVar[tuple[dict[str, Any], ...]] = tuple(
        {"opponent": level} for level in OPPONENT_LEVELS
    )
    #: The AEC game this env wraps.
    game_class: ClassVar[type[TextGameEnv[Any]]]
    #: Short name used in task ids.
    game_name: ClassVar[str] = "game"
    #: ``outcome`` = the seat's game payoff / ``reward_scale`` (poker: the largest win).
    reward_scale: float = 1.0
    #: Image size (height, width) for ``obs_mode="image"``, where the game has a picture.
    image_shape: ClassVar[tuple[int, int] | None] = None

    def __init__(
        self,
        *,
        opponent: str | Any = "heuristic",
        play_as: int | str = "random",
        **kwargs: Unpack[CommonArgs],
    ) -> None:
        if isinstance(opponent, str):
            check_choice("opponent", opponent, OPPONENT_LEVELS)
        elif not callable(getattr(opponent, "act", None)):
            raise InvalidArgumentError(
                f"opponent must be one of {', '.join(map(repr, OPPONENT_LEVELS))} or an agent "
                f"with an act(batch) method (mtenvs.agents.Agent), got {opponent!r:.80}."
            )
        check_choice("play_as", play_as, [0, 1, "random"])
        super().__init__(**kwargs)
        self.opponent = opponent
        self.play_as = play_as
        if self.obs_mode != "text" and self.image_shape is not None:
            self.observation_space = text_image_space(*self.image_shape)
        else:
            self.observation_space = text_space()
        self._game: TextGameEnv[Any] = self.make_game()
        self._seat = 0
        self._opponent_moves: list[str] = []

    def make_game(self) -> TextGameEnv[Any]:
        """The AEC game to wrap (override to pass game arguments)."""
        return self.game_class()

    def is_success(self, payoffs: tuple[float, float]) -> bool:
        """Whether a finished game counts as ``success`` for the agent's seat: by default
        a positive payoff (a win)."""
        return payoffs[self._seat] > 0

    @classmethod
    def supported_obs_modes(cls) -> tuple[str, ...]:
        return ("text",) if cls.image_shape is None else ("text", "image", "text+image")

    # ------------------------------------------------------------------ episode

    def task_source(self) -> TaskSource[GameTask]:
        return GeneratedTasks(self._new_game, self._game_by_id)

    def _new_game(self, rng: np.random.Generator) -> GameTask:
        seed = int(rng.integers(_SEED_RANGE))
        seat = int(rng.integers(2)) if self.play_as == "random" else int(self.play_as)
        return GameTask(self.game_name, seed, seat)

    def _game_by_id(self, task_id: object) -> GameTask:
        match = _TASK_ID.fullmatch(str(task_id))
        if match is None or match.group(1) != self.game_name:
            raise InvalidArgumentError(
                f"Task id {task_id!r} is not a {self.game_name} task id; expected "
                f"'{self.game_name}-<10 digits>-p<0|1>', e.g. '{self.game_name}-0000000042-p1'."
            )
        return GameTask(self.game_name, int(match.group(2)), int(match.group(3)))

    def new_episode(self, task: GameTask) -> str:
        self._seat = task.seat
        self._game.reset(seed=task.seed)
        self._opponent_moves = []
        self._play_opponent()
        return self._observation_text()

    def _play_opponent(self) -> None:
        game = self._game
        while not game.is_over() and game.current_player() != self._seat:
            move = self._opponent_move()
            self._opponent_moves.append(game.move_label(move))
            game.step(move)

    def _opponent_move(self) -> int:
        game = self._game
        if isinstance(self.opponent, str):
            return game.policies[self.opponent](game.game, self.np_random)
        # An agent opponent answers like a model: system prompt plus its observation, and
        # after an invalid reply the error, up to the game's max_illegal tries.
        player = game.current_player()
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": game.system_prompt(AGENTS[player])},
            {"role": "user", "content": game.observation_text(player)},
        ]
        for _ in range(game.max_illegal + 1):
            reply = self.opponent.act([AgentInput(messages, self, {"seat": player})])[0]
            move, error = game.parse_move(reply)
            if move is not None:
                return move
            messages += [
                {"role": "assistant", "content": str(reply)},
                {"role": "user", "content": f"Invalid reply: {error}"},
            ]
        legal = game.game.legal_actions()
        return legal[int(self.np_random.integers(len(legal)))]

    # ------------------------------------------------------------------ actions

    def parse_action(self, reply: Reply) -> int:
        move, error = self._game.parse_move(reply)
        if move is None:
            raise InvalidAction(error or "no move found.")
        return move

    def apply_action(self, action: int) -> Transition:
        self._opponent_moves = []
        self._game.step(action)
        self._play_opponent()
        text = self._observation_text()
        if not self._game.is_over():
            return Transition(text, {OUTCOME: 0.0})
        payoffs = self._game.payoffs()
        return Transition(
            text,
            {OUTCOME: payoffs[self._seat] / self.reward_scale},
            terminated=True,
            success=self.is_success(payoffs),
        )

    # ------------------------------------------------------------------ text

    def _observation_text(self) -> str:
        # obs_mode="image": the board is only in the picture (see TextGameEnv.observation_text).
        return self._game.observation_text(self._seat, picture=self.obs_mode == "image")

    def system_prompt(self) -> str:
        return self._game.system_prompt(AGENTS[self._seat], picture=self.obs_mode == "image")

    def action_format(self) -> str:
        return self._game.action_format()

    def render_text(self) -> str:
        self._require_started("render")
        # The agent's own view: a spectator picture would show the opponent's cards.
        return self._game.observation_text(self._seat)

    def render_image(self) -> np.ndarray:
        return self._game.render_image()

    def episode_info(self) -> dict[str, Any]:
        return {
            "seat": self._seat,
            "legal_moves": self._game.legal_labels(),
            "opponent_moves": list(self._opponent_moves),
            "returns": [float(r) for r in self._game.payoffs()],
        }

    # ------------------------------------------------------------------ privileged

    def oracle_action(self) -> str:
        self._require_started("oracle_action")
        if self._game.is_over():
            raise ResetNeededError("oracle_action() called after the game ended; reset.")
        return self._game.oracle_action()

    def privileged(self) -> dict[str, Any]:
        self._require_started("privileged")
        return self._game.privileged(self._seat)

    def random_action(self, rng: np.random.Generator) -> str:
        return self._game.random_action(rng)

    def scripted_action(self, rng: np.random.Generator) -> str:
        """The game's ``heuristic`` opponent policy, played from the agent's seat (it sees
        only the agent's own view: legal moves, the board, its own cards)."""
        game = self._game
        if game.is_over():
            return "<action>none</action>"
        move = game.policies["heuristic"](game.game, rng)
        return f"<action>{game.move_label(move)}</action>"

    def state_key_data(self) -> object:
        return (self._seat, self._game.game.key(), tuple(self._opponent_moves))
