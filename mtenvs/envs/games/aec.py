"""``TextGameEnv``: the PettingZoo AEC base every two-player text game derives from.

The base owns what is the same in every game, so a game module only writes its rules
(a plain ``<game>_rules.py`` state class) and how to show them:

* observations per agent: ``{"text": str, "action_mask": int8 array}`` — the text holds the
  agent's role, its view of the board or its private cards, the public move history and,
  when it is its turn, the legal moves written out;
* actions: a ``Discrete(n)`` id numbered as in OpenSpiel, *or* the model's reply text,
  parsed leniently (``<action>call</action>``, ``column 3``, ``3``, a ``play`` tool call);
* illegal or unparseable moves: the agent gets an error observation and another try, up to
  ``max_illegal`` in a row, then ``illegal_outcome`` applies (``forfeit``: the agent loses as
  the game's rules define a forfeit; ``random``: a uniformly random legal move is played for
  it); every rejection is counted in the infos;
* ``action_mask`` in both the observation and ``infos`` (PettingZoo's ``api_test`` samples
  actions with it), rewards only at the end (the game's payoffs), ``render_mode`` ``human``
  (prints the text), ``ansi`` and, where there is a board, ``rgb_array``.

The observation is a dict rather than a bare ``str`` because ``api_test`` compares an
observation's ``dtype`` with its space's, which a ``str`` does not have; keys other than
``observation`` of a ``Dict`` space are exempt from that check.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding

try:
    from pettingzoo import AECEnv
    from pettingzoo.utils.wrappers import OrderEnforcingWrapper
except ImportError as e:  # pragma: no cover - depends on the install
    raise ImportError(
        'The mtenvs games are PettingZoo envs; install it with: pip install "mtenvs[games]"'
    ) from e

from mtenvs.core.spaces import text_space
from mtenvs.core.tasks import stable_rng
from mtenvs.envs.games.move_parsing import match_move, move_text
from mtenvs.error import InvalidArgumentError, check_choice, check_int_range

__all__ = [
    "AGENTS",
    "ILLEGAL_OUTCOMES",
    "GameState",
    "IllegalOutcome",
    "OrderEnforcingWrapper",
    "Policy",
    "TextGameEnv",
    "wrap",
]

#: Agent names, in seat order; ``player_0`` moves first.
AGENTS: tuple[str, str] = ("player_0", "player_1")
IllegalOutcome = Literal["forfeit", "random"]
ILLEGAL_OUTCOMES: tuple[str, ...] = ("forfeit", "random")


class GameState(Protocol):
    """What the base needs from a rules-module state class."""

    @property
    def history(self) -> list[tuple[int, int]]: ...

    def current_player(self) -> int: ...
    def legal_actions(self) -> list[int]: ...
    def apply(self, action: int) -> None: ...
    def is_terminal(self) -> bool: ...
    def returns(self) -> tuple[float, float]: ...
    def forfeit_returns(self, player: int) -> tuple[float, float]: ...
    def key(self) -> object: ...


S = TypeVar("S", bound=GameState)
#: An opponent policy over a rules state: ``policy(state, rng) -> action id``.
Policy = Callable[[Any, np.random.Generator], int]


class TextGameEnv(AECEnv, Generic[S]):  # type: ignore[type-arg]
    """Base of the two-player text games; see the module doc. Subclasses set the class
    attributes and implement :meth:`new_state`, :meth:`move_label`, :meth:`view` and
    :meth:`rules`."""

    metadata: dict[str, Any] = {  # noqa: RUF012
        "render_modes": ["human", "ansi"],
        "name": "textgame_v0",
        "is_parallelizable": False,
        "render_fps": 1,
    }
    #: Display name of the game.
    title: ClassVar[str] = ""
    #: Size of the ``Discrete`` action space (OpenSpiel's ``num_distinct_actions``); a game
    #: whose size depends on its arguments sets it on the instance before ``__init__``.
    num_actions: int = 0
    #: Whether the payoffs always sum to zero (cooperative and mixed games: ``False``).
    zero_sum: ClassVar[bool] = True
    #: Role of each seat, shown next to the agent name.
    roles: ClassVar[tuple[str, str]] = ("first player", "second player")
    #: Opponent policies by level name: ``random``, ``heuristic``, ``optimal``.
    policies: ClassVar[Mapping[str, Policy]] = {}
    #: Lowercase words accepted for moves, beside the labels and the action ids.
    aliases: ClassVar[Mapping[str, int]] = {}

    def __init__(
        self,
        *,
        max_illegal: int = 2,
        illegal_outcome: IllegalOutcome = "forfeit",
        illegal_penalty: float = 0.0,
        render_mode: str | None = None,
    ) -> None:
        super().__init__()
        check_int_range("max_illegal", max_illegal, 0)
        check_choice("illegal_outcome", illegal_outcome, ILLEGAL_OUTCOMES)
        check_choice("render_mode", render_mode, [None, *self.metadata["render_modes"]])
        if (
            isinstance(illegal_penalty, bool)
            or not isinstance(illegal_penalty, (int, float))
            or (illegal_penalty < 0)
        ):
            raise InvalidArgumentError(
                f"illegal_penalty must be a non-negative number (it is subtracted), "
                f"got {illegal_penalty!r}."
            )
        self.max_illegal = max_illegal
        self.illegal_outcome: IllegalOutcome = illegal_outcome
        self.illegal_penalty = float(illegal_penalty)
        self.render_mode = render_mode
        self.possible_agents = list(AGENTS)
        self.agents = list(AGENTS)
        mask = spaces.Box(0, 1, shape=(self.num_actions,), dtype=np.int8)
        self.action_spaces = {a: spaces.Discrete(self.num_actions) for a in AGENTS}
        self.observation_spaces = {
            a: spaces.Dict({"text": text_space(), "action_mask": mask}) for a in AGENTS
        }
        self._np_random: np.random.Generator | None = None
        #: The rules state of the current game (``<game>_rules`` class).
        self.game: S = self.new_state(np.random.default_rng(0))
        self._log: list[tuple[int, str]] = []
        self._tries = [0, 0]
        self._illegal = [0, 0]
        self._random_moves = [0, 0]
        self._errors: list[str | None] = [None, None]
        self._forfeit = -1
        self._result: tuple[float, float] = (0.0, 0.0)
        self._salt = 0
        self._started = False

    # ------------------------------------------------------------------ subclass hooks

    def new_state(self, rng: np.random.Generator) -> S:
        """A fresh game (deal the cards with ``rng`` where there are any)."""
        raise NotImplementedError

    def move_label(self, action: int) -> str:
        """The legal-move string of ``action`` in the current state (e.g. ``call``)."""
        return str(action)

    def view(self, player: int) -> str:
        """What ``player`` sees (the board, its private cards); ``-1``: a spectator who
        sees everything (``render``)."""
        raise NotImplementedError

    def rules(self) -> str:
        """The rules of the game, for system prompts."""
        raise NotImplementedError

    def action_format(self) -> str:
        """The reply format, shown in prompts and after an invalid reply."""
        return "<action>MOVE</action> with MOVE one of the legal moves, e.g. <action>0</action>."

    def result_text(self, player: int) -> str:
        """The end-of-game line for ``player``."""
        score = self._result[player]
        if self._forfeit >= 0:
            who = "you" if self._forfeit == player else "your opponent"
            return f"Game over: {who} forfeited after too many invalid moves. Score {score:+g}."
        outcome = "you won" if score > 0 else "you lost" if score < 0 else "a draw"
        return f"Game over: {outcome} ({score:+g})."

    def privileged(self, player: int) -> dict[str, Any]:
        """Hidden facts for ``player``'s critic/teacher (opponent's cards, game value)."""
        return {}

    def render_image(self) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} has no image rendering.")

    def picture_view(self, player: int) -> str:
        """What stands for :meth:`view` in ``player``'s observation when the board is shown
        as a picture (:meth:`render_image`): the player's own pieces, never the board."""
        raise NotImplementedError(f"{type(self).__name__} has no image rendering.")

    def picture_legend(self) -> str:
        """How to read :meth:`render_image`, for system prompts (colours, shapes, numbering)."""
        raise NotImplementedError(f"{type(self).__name__} has no image rendering.")

    # ------------------------------------------------------------------ PettingZoo API

    @property
    def np_random(self) -> np.random.Generator:
        if self._np_random is None:
            self._np_random, _ = seeding.np_random()
        return self._np_random

    def observation_space(self, agent: str) -> spaces.Space[Any]:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space[Any]:
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        # Options are accepted and ignored: the games have no variants chosen per episode
        # (and PettingZoo's api_test passes an arbitrary one).
        if seed is not None:
            self._np_random, _ = seeding.np_random(seed)
        self.game = self.new_state(self.np_random)
        self._salt = int(self.np_random.integers(2**32))
        self._log = []
        self._tries, self._illegal, self._random_moves = [0, 0], [0, 0], [0, 0]
        self._errors = [None, None]
        self._forfeit = -1
        self._result = (0.0, 0.0)
        self._started = True
        self.agents = list(AGENTS)
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.agent_selection = AGENTS[self.game.current_player()]
        self._update_infos()

    def observe(self, agent: str) -> dict[str, Any]:
        player = AGENTS.index(agent)
        return {"text": self.observation_text(player), "action_mask": self.action_mask(player)}

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        player = AGENTS.index(agent)
        self._cumulative_rewards[agent] = 0.0
        self._clear_rewards()
        move, error = self.parse_move(action)
        if error is not None:
            self._illegal[player] += 1
            self._tries[player] += 1
            self.rewards[agent] -= self.illegal_penalty
            self._errors[player] = error
            if self._tries[player] <= self.max_illegal:
                self._accumulate_rewards()
                self._update_infos()
                return
            if self.illegal_outcome == "forfeit":
                self._finish(self.game.forfeit_returns(player), forfeit=player)
                return
            legal = self.game.legal_actions()
            move = legal[int(self.np_random.integers(len(legal)))]
            self._random_moves[player] += 1
            self._errors[player] = (
                f"{error} A random legal move was played for you: {self.move_label(move)}."
            )
        else:
            self._errors[player] = None
        assert move is not None
        self._tries[player] = 0
        self._log.append((player, self.move_label(move)))
        self.game.apply(move)
        if self.game.is_terminal():
            self._finish(self.game.returns())
            return
        self.agent_selection = AGENTS[self.game.current_player()]
        self._accumulate_rewards()
        self._update_infos()
        if self.render_mode == "human":
            self.render()

    def render(self) -> str | np.ndarray | None:
        if self.render_mode is None:
            gymnasium.logger.warn("render() called without a render_mode; pass one to env().")
            return None
        if self.render_mode == "rgb_array":
            return self.render_image()
        text = self.render_text()
        if self.render_mode == "human":
            print(text)
            return None
        return text

    def close(self) -> None:
        pass

    # ------------------------------------------------------------------ text interface

    def observation_text(self, player: int, *, picture: bool = False) -> str:
        """``player``'s text observation (role, view, history, legal moves or result).

        ``picture``: the board is shown to the player as a picture (:meth:`render_image`),
        so the text draws none of it: :meth:`picture_view` replaces the view, and neither the
        move history nor the legal moves (which redraw the board) are written; only the
        moves played since the player's last one are, as feedback."""
        if picture:
            lines = [f"{self.title}. You are {self._who(player)}.", self.picture_view(player)]
            lines.append(self._recent_moves_text(player))
        else:
            lines = [f"{self.title}. You are {self._who(player)}.", self.view(player)]
            lines.append(self.history_text())
        if self._errors[player] is not None:
            left = self.max_illegal - self._tries[player] + 1
            tail = (
                f" Tries left before {self.illegal_outcome}: {left}."
                if (self.current_player() == player and self._tries[player])
                else ""
            )
            lines.append(f"Your last reply was invalid: {self._errors[player]}{tail}")
        if self.is_over():
            lines.append(self.result_text(player))
        elif self.current_player() == player:
            legal = "" if picture else f" Legal moves: {', '.join(self.legal_labels())}."
            lines.append(f"Your turn.{legal} Reply with {self.action_format()}")
        else:
            lines.append(f"Waiting for {self._who(self.current_player())} to move.")
        return "\n".join(line for line in lines if line)

    def system_prompt(self, agent: str, *, picture: bool = False) -> str:
        """The role-conditioned system prompt of ``agent`` (``picture``: for observations
        that show the board as a picture, see :meth:`observation_text`)."""
        player = AGENTS.index(agent)
        seen = (
            f"Each turn you see the board as a picture. {self.picture_legend()}"
            if picture
            else "Each turn you see the game from your side and the legal moves."
        )
        return (
            f"You are playing {self.title} as {self._who(player)} against one opponent.\n"
            f"{self.rules()}\n{seen} "
            f"Reply format: {self.action_format()}"
        )

    def history_text(self) -> str:
        if not self._log:
            return "Moves so far: none."
        return "Moves so far: " + "; ".join(f"{AGENTS[p]} {m}" for p, m in self._log) + "."

    def _recent_moves_text(self, player: int) -> str:
        """The moves played since ``player``'s last move (all of them before it moved)."""
        start = len(self._log)
        while start and self._log[start - 1][0] != player:
            start -= 1
        if not self._log:
            return "No move played yet."
        if start == len(self._log):
            return ""
        moves = "; ".join(f"{AGENTS[p]} {m}" for p, m in self._log[start:])
        return f"Since your last move: {moves}."

    def render_text(self) -> str:
        status = (
            f"Result: {AGENTS[0]} {self._result[0]:+g}, {AGENTS[1]} {self._result[1]:+g}."
            if self.is_over()
            else f"To move: {self._who(self.current_player())}."
        )
        return f"{self.title}\n{self.view(-1)}\n{self.history_text()}\n{status}"

    def legal_labels(self) -> list[str]:
        return [] if self.is_over() else [self.move_label(a) for a in self.game.legal_actions()]

    def action_mask(self, player: int) -> np.ndarray:
        mask = np.zeros(self.num_actions, dtype=np.int8)
        if self.current_player() == player:
            mask[self.game.legal_actions()] = 1
        return mask

    def parse_move(self, reply: object) -> tuple[int | None, str | None]:
        """``(action id, None)`` for a legal move of the player to act, else
        ``(None, reason)``; never raises."""
        legal = [] if self.is_over() else self.game.legal_actions()
        if not legal:
            return None, "the game is over."
        hint = f" Legal moves: {', '.join(self.legal_labels())}."
        if isinstance(reply, (int, np.integer)) and not isinstance(reply, bool):
            action = int(reply)
            if action in legal:
                return action, None
            return None, f"move id {action} is not legal now.{hint}"
        text = move_text(reply)
        if text is None:
            return None, f"no <action>…</action> block found.{hint}"
        action_or_none = self._match(text)
        if action_or_none is None:
            return None, f"could not read a move from {text[:60]!r}.{hint}"
        if action_or_none not in legal:
            return None, f"{text[:60]!r} is not a legal move now.{hint}"
        return action_or_none, None

    def oracle_move(self) -> int:
        """The move of the ``optimal`` policy for the player to act; deterministic per state
        (a mixed strategy is sampled with a generator seeded from the state)."""
        rng = stable_rng(type(self).__name__, self.game.key())
        return self.policies["optimal"](self.game, rng)

    def oracle_action(self) -> str:
        """:meth:`oracle_move` as reply text."""
        return f"<action>{self.move_label(self.oracle_move())}</action>"

    def random_action(self, rng: np.random.Generator) -> str:
        """A uniformly random legal move of the player to act, as reply text."""
        legal = [] if self.is_over() else self.game.legal_actions()
        if not legal:
            return "<action>none</action>"
        return f"<action>{self.move_label(legal[int(rng.integers(len(legal)))])}</action>"

    def payoffs(self) -> tuple[float, float]:
        """Each seat's game payoff (forfeits included; zeros while the game is on)."""
        return self._result

    def is_over(self) -> bool:
        """Whether the game has ended (by its rules or by a forfeit)."""
        return self._forfeit >= 0 or self.game.is_terminal()

    def current_player(self) -> int:
        """The seat to move, or -1 when the game is over."""
        return -1 if self.is_over() else self.game.current_player()

    # ------------------------------------------------------------------ internals

    def _who(self, player: int) -> str:
        return f"{AGENTS[player]} ({self.roles[player]})"

    def _finish(self, returns: tuple[float, float], forfeit: int = -1) -> None:
        self._result = returns
        self._forfeit = forfeit
        for agent, value in zip(AGENTS, returns):
            self.rewards[agent] += float(value)
        self.terminations = dict.fromkeys(self.agents, True)
        # Dead agents are stepped with None in seat order after the game ends.
        self.agent_selection = AGENTS[0]
        self._accumulate_rewards()
        self._update_infos()
        if self.render_mode == "human":
            self.render()

    def _update_infos(self) -> None:
        current = self.current_player()
        self.infos: dict[str, dict[str, Any]] = {
            agent: {
                "action_mask": self.action_mask(p),
                "legal_moves": self.legal_labels() if p == current else [],
                "illegal_moves": self._illegal[p],
                "random_moves": self._random_moves[p],
                "error": self._errors[p],
                "forfeit": self._forfeit == p,
            }
            for p, agent in enumerate(AGENTS)
            if agent in self.agents
        }

    def _match(self, text: str) -> int | None:
        """The action id ``text`` names (games with their own move forms, such as bids,
        read those first and fall back to this)."""
        return match_move(text, self.move_label, self.aliases, self.num_actions)


def wrapped_factory(
    game_cls: Callable[..., TextGameEnv[Any]],
) -> Callable[..., OrderEnforcingWrapper]:
    """``env()`` for a game module: the game class behind PettingZoo's order-enforcing
    wrapper, with the class's own keyword arguments (``functools.wraps`` keeps its
    signature, so ``inspect.signature(env)`` and typos behave as for the class)."""

    @functools.wraps(game_cls)
    def env(**kwargs: Any) -> OrderEnforcingWrapper:
        return wrap(game_cls(**kwargs))

    env.__doc__ = "The AEC env behind PettingZoo's order-enforcing wrapper (the usual entry)."
    return env


def wrap(env: TextGameEnv[Any]) -> OrderEnforcingWrapper:
    """``env`` behind PettingZoo's order-enforcing wrapper, as ``<game>_v0.env()`` returns
    it. Not the ``AssertOutOfBounds``/``TerminateIllegal`` wrappers of PettingZoo classic:
    replies may be text, and illegal moves are handled by the env itself."""
    return OrderEnforcingWrapper(env)
