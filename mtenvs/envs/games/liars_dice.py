"""Liar's Dice: the PettingZoo AEC env (``liars_dice_v0``) and ``mtenvs/LiarsDice-v0``."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Unpack

import numpy as np

from mtenvs.envs.games import liars_dice_rules as rules
from mtenvs.envs.games.aec import (
    AGENTS,
    IllegalOutcome,
    TextGameEnv,
    wrapped_factory,
)
from mtenvs.envs.games.single import GameArgs, GameEnv
from mtenvs.envs.games.table import GAMES
from mtenvs.error import check_int_range

__all__ = ["MAX_DICE", "LiarsDiceEnv", "LiarsDiceGame", "env", "raw_env"]

#: This game's row of the games table: every name it goes by derives from it.
GAME = GAMES["liars_dice"]

#: Most dice per player.
MAX_DICE = 5
_LIAR_WORDS = frozenset({"liar", "challenge", "doubt", "lie", "call"})
#: ``3-4``, ``3 x 4``, ``3x4``, ``three 4s`` are not all accepted: digits only, with ``-``,
#: ``x``, ``*``, ``of`` or a space between (``3 4s``, ``bid 3 of 4``).
_BID = re.compile(r"(\d{1,2})\s*(?:-|x|\*|×|of|\s)\s*(\d)(?:s|'s)?\b", re.IGNORECASE)


class LiarsDiceGame(TextGameEnv[rules.LiarsDiceState]):
    """Liar's Dice for two agents (PettingZoo AEC): ``player_0`` bids first.

    Actions: OpenSpiel's ``liars_dice`` ids: bid ``Q-F`` (at least ``Q`` dice show ``F``,
    6s wild) is ``(Q - 1) * 6 + F - 1``, and ``liar`` is the last id (``12 * num_dice``); or
    reply text (``<action>2-4</action>``, ``2 x 4``, ``bid 2 of 4``, ``liar``). Rewards: +1
    to the winner, -1 to the loser at the end. ``render_mode``: ``human``, ``ansi`` (a
    spectator view with every die).
    """

    metadata = {  # noqa: RUF012
        "render_modes": ["human", "ansi"],
        "name": GAME.pettingzoo_name,
        "is_parallelizable": False,
        "render_fps": 1,
    }
    title = GAME.title
    roles = ("bids first", "bids second")
    policies = {  # noqa: RUF012
        "random": rules.random_policy,
        "heuristic": rules.heuristic_policy,
        "optimal": rules.optimal_policy,
    }

    def __init__(
        self,
        *,
        num_dice: int = 2,
        max_illegal: int = 2,
        illegal_outcome: IllegalOutcome = "forfeit",
        illegal_penalty: float = 0.0,
        render_mode: str | None = None,
    ) -> None:
        self.num_dice = check_int_range("num_dice", num_dice, 1, MAX_DICE)
        self.num_actions = 2 * num_dice * rules.FACES + 1
        super().__init__(
            max_illegal=max_illegal,
            illegal_outcome=illegal_outcome,
            illegal_penalty=illegal_penalty,
            render_mode=render_mode,
        )

    def new_state(self, rng: np.random.Generator) -> rules.LiarsDiceState:
        return rules.LiarsDiceState(rules.roll(rng, self.num_dice))

    def move_label(self, action: int) -> str:
        return "liar" if action == self.num_actions - 1 else rules.bid_label(action)

    def view(self, player: int) -> str:
        s = self.game
        last = s.standing_bid()
        bid = "none yet" if last is None else rules.bid_label(last)
        if player < 0:
            dice = "; ".join(f"{a} rolled {_dice(d)}" for a, d in zip(AGENTS, s.dice))
            return f"{dice}. Standing bid: {bid}."
        return (
            f"Your dice: {_dice(s.dice[player])}. Your opponent has {len(s.dice[1 - player])} "
            f"hidden dice ({s.total_dice} dice in all; 6s are wild). Standing bid: {bid}."
        )

    def rules(self) -> str:
        n = self.num_dice
        return (
            f"Liar's Dice: each player rolls {n} six-sided {'die' if n == 1 else 'dice'} and "
            "sees only their own. player_0 bids first. A bid Q-F claims that at least Q of "
            "all the dice show face F; 6s are wild (a 6 counts as any face; a bid on 6s "
            "counts only 6s). Each new bid must be higher: more dice, or the same number of "
            "a higher face. Instead of bidding you may say liar: all dice are shown; if the "
            "bid holds the caller loses, otherwise the bidder loses. Winner +1, loser -1."
        )

    def action_format(self) -> str:
        return (
            "<action>MOVE</action> with MOVE a legal bid Q-F (e.g. <action>2-4</action>: at "
            "least two 4s) or <action>liar</action>."
        )

    def result_text(self, player: int) -> str:
        text = super().result_text(player)
        s = self.game
        if self._forfeit < 0 and s.is_terminal():
            text += (
                f" Dice: yours {_dice(s.dice[player])}, your opponent's "
                f"{_dice(s.dice[1 - player])}; the bid {rules.bid_label(s.standing_bid() or 0)} "
                f"{'held' if s.bid_holds() else 'was a lie'}."
            )
        return text

    def privileged(self, player: int) -> dict[str, Any]:
        s = self.game
        last = s.standing_bid()
        return {
            "opponent_dice": list(s.dice[1 - player]),
            "standing_bid_holds": None if last is None else s.bid_holds(),
        }

    def _match(self, text: str) -> int | None:
        lowered = text.lower()
        bids = _BID.findall(lowered)
        words = set(re.findall(r"[a-z]+", lowered)) & _LIAR_WORDS
        if len(bids) == 1 and not words:
            quantity, face = int(bids[0][0]), int(bids[0][1])
            if 1 <= quantity <= 2 * self.num_dice and 1 <= face <= rules.FACES:
                return rules.bid_id(quantity, face)
            return None
        if words and not bids and not re.search(r"\d", lowered):
            return self.num_actions - 1
        return super()._match(text) if not bids and not words else None


def _dice(dice: tuple[int, ...]) -> str:
    return " ".join(str(d) for d in dice)


#: The unwrapped AEC env: the game class itself, whose keyword arguments are the factory's.
raw_env = LiarsDiceGame
env = wrapped_factory(LiarsDiceGame)


class LiarsDiceEnv(GameEnv):
    """Play Liar's Dice against a built-in opponent or any agent.

    ## Description
    Two players each roll ``num_dice`` six-sided dice (1 to 5, default 2) and see only
    their own; rules in :mod:`mtenvs.envs.games.liars_dice_rules`, over the AEC game
    ``mtenvs.games.liars_dice_v0``. Seat 0 bids first. A bid ``Q-F`` claims that at least
    ``Q`` of all the dice show face ``F``; 6s are wild (a 6 counts as any face, a bid on 6s
    counts only 6s). Each bid must be higher than the last (more dice, or as many of a
    higher face). Instead of bidding, a player says ``liar``: the dice are shown, and if
    the bid holds the caller loses, otherwise the bidder loses. One round per episode, as
    OpenSpiel's ``liars_dice``.

    Opponents: ``random`` (uniform legal move: it says ``liar`` about as often as any bid);
    ``heuristic`` (counts its own matching dice plus a third of the hidden ones, calls
    ``liar`` above that, else raises on its most common face); ``optimal`` — *not* an
    equilibrium: a myopic Bayesian player that keeps a posterior over the hidden dice
    (prior of the roll, opponent bids taken as mild evidence of holding the face), values
    ``liar`` and each raise by the probability that the bid holds, and plays the best
    (bluffing one time in ten). Hard to beat by simple rules, but exploitable.

    ## Action Space
    The raw model reply (``str``), a ``play`` tool call (``{"name": "play", "arguments":
    {"move": "2-4"}}``) or an ``int``: ``<action>2-4</action>`` (also ``2 x 4``, ``2x4``,
    ``bid 2 of 4``, ``2 4s``) or ``<action>liar</action>`` (also ``challenge``). Ids as
    OpenSpiel's ``liars_dice``: bid ``Q-F`` = ``(Q - 1) * 6 + (F - 1)``, ``liar`` = the
    last id, ``12 * num_dice`` (24 with two dice each). A bid no higher than the standing
    one is a malformed reply.

    ## Observation Space
    ``str``: the agent's dice, how many the opponent hides, the standing bid, the bids so
    far and the legal moves; at the end the result and every die. Example (seat 1, two
    dice each)::

        Liar's Dice. You are player_1 (bids second).
        Your dice: 2 6. Your opponent has 2 hidden dice (4 dice in all; 6s are wild).
        Standing bid: 2-5.
        Moves so far: player_0 2-5.
        Your turn. Legal moves: 2-6, 3-1, 3-2, 3-3, 3-4, 3-5, 3-6, 4-1, 4-2, 4-3, 4-4, 4-5,
        4-6, liar. Reply with <action>MOVE</action> with MOVE a legal bid Q-F …

    ## Rewards
    | Component | Value |
    |---|---|
    | `outcome` | at the end of the round: +1 win, −1 loss (0 before) |
    | `format` | −`format_penalty` for a malformed or illegal reply (the round waits) |
    | `turn_cost` | −`turn_cost` every turn (when non-zero) |

    ## Episode End
    ``terminated`` when someone says ``liar`` (every bid space used up leaves only
    ``liar``); ``truncated`` after ``max_turns`` replies (malformed ones count).

    ## Info keys
    | Key | Description |
    |---|---|
    | `system_prompt` | rules and reply format for the agent's seat (reset only) |
    | `task_id` | `liarsdice-<seed>-p<seat>` (reset only) |
    | `max_turns` | reply budget (reset only) |
    | `split` | always `train` (games have no task split; reset only) |
    | `turn` | replies so far |
    | `success` | the agent has won |
    | `reward_components` | counted reward components; they sum to `reward` |
    | `uncounted_components` | components computed but not counted under `reward_mode` |
    | `parse_error` | why the reply was rejected, else `None` |
    | `final_answer` | always `False` (step only) |
    | `state_key` | hash of the seat, the dice and the bids |
    | `seat` | 0 (bids first) or 1 |
    | `legal_moves` | legal moves now (empty at the end) |
    | `opponent_moves` | the opponent's moves since the agent's last move |
    | `returns` | each seat's payoff (zeros until the end) |

    The opponent's dice and whether the standing bid holds are privileged
    (:meth:`privileged`).

    ## Arguments
    | Argument | Default | Description |
    |---|---|---|
    | `num_dice` | `2` | dice per player, 1 to 5 |
    | `opponent` | `"heuristic"` | `random`, `heuristic`, `optimal` or an agent with `act(batch)` |
    | `play_as` | `"random"` | seat 0 (bids first), 1, or `"random"` per episode |

    ## Registered ids
    * `mtenvs/LiarsDice-v0`

    ## Version History
    * v0: initial release.
    """

    game_class = LiarsDiceGame
    game_name = GAME.task_name
    default_max_turns: ClassVar[int] = 30

    def __init__(
        self,
        *,
        num_dice: int = 2,
        **kwargs: Unpack[GameArgs],
    ) -> None:
        self.num_dice = check_int_range("num_dice", num_dice, 1, MAX_DICE)
        super().__init__(**kwargs)

    def make_game(self) -> TextGameEnv[Any]:
        return LiarsDiceGame(num_dice=self.num_dice)
