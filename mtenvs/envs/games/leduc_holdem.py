"""Leduc Hold'em: the PettingZoo AEC env (``leduc_holdem_v0``) and ``mtenvs/LeducHoldem-v0``."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from mtenvs.envs.games import leduc_holdem_rules as rules
from mtenvs.envs.games.aec import (
    AGENTS,
    TextGameEnv,
    wrapped_factory,
)
from mtenvs.envs.games.single import GameEnv
from mtenvs.envs.games.table import GAMES

__all__ = ["LeducHoldemEnv", "LeducHoldemGame", "env", "raw_env"]

#: This game's row of the games table: every name it goes by derives from it.
GAME = GAMES["leduc_holdem"]


class LeducHoldemGame(TextGameEnv[rules.LeducState]):
    """Leduc Hold'em for two agents (PettingZoo AEC): ``player_0`` acts first each round.

    Actions: ``0`` = fold, ``1`` = call/check, ``2`` = raise/bet, as OpenSpiel's
    ``leduc_poker``; or reply text (``<action>raise</action>``, ``check``, ``call``, …).
    Rewards: chips won or lost at the end. ``render_mode``: ``human``, ``ansi``
    (a spectator view with every card).
    """

    metadata = {  # noqa: RUF012
        "render_modes": ["human", "ansi"],
        "name": GAME.pettingzoo_name,
        "is_parallelizable": False,
        "render_fps": 1,
    }
    title = GAME.title
    num_actions = 3
    roles = ("acts first each round", "acts second each round")
    policies = {  # noqa: RUF012
        "random": rules.random_policy,
        "heuristic": rules.heuristic_policy,
        "optimal": rules.strong_policy,
    }
    aliases = {"fold": 0, "call": 1, "check": 1, "raise": 2, "bet": 2}  # noqa: RUF012

    def new_state(self, rng: np.random.Generator) -> rules.LeducState:
        first, second, public = rules.deal(rng)
        return rules.LeducState((first, second), public)

    def move_label(self, action: int) -> str:
        owed = self.game.to_call() > 0
        return ("fold", "call" if owed else "check", "raise" if owed else "bet")[action]

    def view(self, player: int) -> str:
        s = self.game
        public = s.public_card()
        board = (
            f"Public card: {rules.card_name(public)} (round 2 of 2)."
            if public is not None
            else "Public card: not revealed yet (round 1 of 2)."
        )
        raise_size = rules.RAISE_SIZES[s.round]
        betting = (
            f"Pot: {s.pot()} chips. Raises this round: {s.raises} of {rules.MAX_RAISES} "
            f"(raise size {raise_size})."
        )
        if player < 0:
            cards = ", ".join(
                f"{a} holds the {rules.card_name(c)}" for a, c in zip(AGENTS, s.cards)
            )
            return f"{cards}; the public card is the {rules.card_name(s.public)}.\n{betting}"
        to_call = s.to_call() if s.current_player() == player else 0
        return (
            f"Your card: {rules.card_name(s.cards[player])}. {board}\n{betting} You have put "
            f"in {s.paid[player]}, your opponent {s.paid[1 - player]}; to call: {to_call}."
        )

    def rules(self) -> str:
        return (
            "Leduc Hold'em: a deck of six cards, J, Q and K in two suits. Each player antes 1 "
            "chip and gets one private card. There are two betting rounds; player_0 acts "
            "first in each. In a round a player may check or bet when nothing is owed, and "
            "fold, call or raise when facing a bet; bets and raises are 2 chips in round 1 "
            "and 4 in round 2, at most two per round. A round ends when a bet is called or "
            "both check. After round 1 one public card is revealed. At showdown a private "
            "card that pairs the public card wins; otherwise the higher rank wins; equal "
            "ranks split the pot. Your reward is the chips you win or lose."
        )

    def action_format(self) -> str:
        return (
            "<action>MOVE</action> with MOVE one of the legal moves (check, bet, call, raise, "
            "fold), e.g. <action>call</action>."
        )

    def result_text(self, player: int) -> str:
        text = super().result_text(player)
        s = self.game
        if self._forfeit < 0 and s.folded < 0:
            text += (
                f" Showdown: you had the {rules.card_name(s.cards[player])}, your opponent "
                f"the {rules.card_name(s.cards[1 - player])}; public card the "
                f"{rules.card_name(s.public)}."
            )
        return text

    def information_key(self, player: int) -> object:
        return (self.game.cards[player], self.game.public_card(), tuple(self.game.history))

    def privileged(self, player: int) -> dict[str, Any]:
        return {
            "opponent_card": rules.card_name(self.game.cards[1 - player]),
            "public_card": rules.card_name(self.game.public),
        }


#: The unwrapped AEC env: the game class itself, whose keyword arguments are the factory's.
raw_env = LeducHoldemGame
env = wrapped_factory(LeducHoldemGame)


class LeducHoldemEnv(GameEnv):
    """Play Leduc Hold'em against a built-in opponent or any agent.

    ## Description
    Leduc Hold'em (six cards, ante 1, two betting rounds with raises of 2 then 4, one public
    card; rules in :mod:`mtenvs.envs.games.leduc_holdem_rules`) as a single-agent env over
    the AEC game ``mtenvs.games.leduc_holdem_v0``. Each episode is one hand with a fresh
    deal; the agent acts first (seat 0) or second (seat 1) in each round, chosen by
    ``play_as``.

    Opponents: ``random`` (uniform legal action); ``heuristic`` (deterministic, by rank:
    raise K in round 1 and pairs in round 2, check/call one bet with Q or an unpaired K,
    check and fold J); ``optimal`` — *not* a computed equilibrium: a hand-written mixed
    strategy by hand strength, with bluffs and slow-plays so it is hard to exploit by
    simple rules, but no guarantee of being unexploitable.

    ## Action Space
    The raw model reply (``str``), a ``play`` tool call (``{"name": "play", "arguments":
    {"move": "raise"}}``) or an ``int``: ``<action>check</action>``, ``bet``, ``call``,
    ``raise``, ``fold``. Ids as OpenSpiel's ``leduc_poker``: 0 = fold, 1 = call/check,
    2 = raise/bet. Folding is legal only when facing a bet.

    ## Observation Space
    ``str``: the agent's card, the public card once revealed, pot, raises this round, what
    each player has put in and what it costs to call, the betting so far and the legal
    moves; at the end the result (and every card after a showdown).

    Example (seat 1, after the opponent's first move)::

        Leduc Hold'em. You are player_1 (acts second each round).
        Your card: K of hearts. Public card: not revealed yet (round 1 of 2).
        Pot: 2 chips. Raises this round: 0 of 2 (raise size 2). You have put in 1, your opponent
         1; to call: 0.
        Moves so far: player_0 check.
        Your turn. Legal moves: check, bet. Reply with …

    ## Rewards
    | Component | Value |
    |---|---|
    | `outcome` | at the end of the hand: chips won / 13, the largest possible win (so in [−1, 1]) |
    | `format` | −`format_penalty` for a malformed or illegal reply (the hand waits) |
    | `turn_cost` | −`turn_cost` every turn (when non-zero) |

    ## Episode End
    ``terminated`` when the hand is over (fold or showdown); ``truncated`` after
    ``max_turns`` replies (malformed ones count).

    ## Info keys
    | Key | Description |
    |---|---|
    | `system_prompt` | rules and reply format for the agent's seat (reset only) |
    | `task_id` | `leducholdem-<seed>-p<seat>` (reset only) |
    | `max_turns` | reply budget (reset only) |
    | `split` | always `train` (games have no task split; reset only) |
    | `turn` | replies so far |
    | `success` | the agent has won chips |
    | `reward_components` | counted reward components; they sum to `reward` |
    | `uncounted_components` | components computed but not counted under `reward_mode` |
    | `parse_error` | why the reply was rejected, else `None` |
    | `final_answer` | always `False` (step only) |
    | `state_key` | hash of the seat, the deal and the betting |
    | `seat` | 0 (acts first) or 1 |
    | `legal_moves` | legal moves now (empty at the end) |
    | `opponent_moves` | the opponent's moves since the agent's last move |
    | `returns` | chips won by each seat (zeros until the end) |

    The opponent's card and the undealt public card are privileged (:meth:`privileged`).

    ## Arguments
    | Argument | Default | Description |
    |---|---|---|
    | `opponent` | `"heuristic"` | `random`, `heuristic`, `optimal` or an agent with `act(batch)` |
    | `play_as` | `"random"` | seat 0 (acts first), 1, or `"random"` per episode |

    ## Registered ids
    * `mtenvs/LeducHoldem-v0`

    ## Version History
    * v0: initial release.
    """

    game_class = LeducHoldemGame
    game_name = GAME.task_name
    reward_scale = float(rules.MAX_WIN)
    default_max_turns: ClassVar[int] = 20
