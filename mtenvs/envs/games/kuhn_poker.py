"""Kuhn poker: the PettingZoo AEC env (``kuhn_poker_v0``) and ``mtenvs/KuhnPoker-v0``."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from mtenvs.envs.games import kuhn_poker_rules as rules
from mtenvs.envs.games.aec import (
    AGENTS,
    TextGameEnv,
    wrapped_factory,
)
from mtenvs.envs.games.single import GameEnv
from mtenvs.envs.games.table import GAMES

__all__ = ["KuhnPokerEnv", "KuhnPokerGame", "env", "raw_env"]

#: This game's row of the games table: every name it goes by derives from it.
GAME = GAMES["kuhn_poker"]


class KuhnPokerGame(TextGameEnv[rules.KuhnState]):
    """Kuhn poker for two agents (PettingZoo AEC): ``player_0`` acts first.

    Actions: ``0`` = pass (check, or fold facing a bet), ``1`` = bet (bet, or call facing a
    bet), as OpenSpiel's ``kuhn_poker``; or reply text (``<action>call</action>``, ``check``,
    ``fold``, ``bet``). Rewards: chips won or lost at the end (±1 or ±2).
    ``render_mode``: ``human``, ``ansi`` (a spectator view with both cards).
    """

    metadata = {  # noqa: RUF012
        "render_modes": ["human", "ansi"],
        "name": GAME.pettingzoo_name,
        "is_parallelizable": False,
        "render_fps": 1,
    }
    title = GAME.title
    num_actions = 2
    roles = ("acts first", "acts second")
    policies = {  # noqa: RUF012
        "random": rules.random_policy,
        "heuristic": rules.heuristic_policy,
        "optimal": rules.optimal_policy,
    }
    aliases = {"pass": 0, "check": 0, "fold": 0, "bet": 1, "call": 1}  # noqa: RUF012

    def new_state(self, rng: np.random.Generator) -> rules.KuhnState:
        first, second = rng.permutation(3)[:2]
        return rules.KuhnState((int(first), int(second)))

    def move_label(self, action: int) -> str:
        facing = self.game.facing_bet()
        if action == 0:
            return "fold" if facing else "check"
        return "call" if facing else "bet"

    def view(self, player: int) -> str:
        names = rules.CARD_NAMES
        paid = self.game.contributions()
        if player < 0:
            cards = ", ".join(f"{a} holds {names[c]}" for a, c in zip(AGENTS, self.game.cards))
            return f"{cards}. Pot: {sum(paid)} chips ({paid[0]} + {paid[1]})."
        return (
            f"Your card: {names[self.game.cards[player]]} (the deck is J < Q < K; your "
            f"opponent holds one of the other two). Pot: {sum(paid)} chips; you have put in "
            f"{paid[player]}, your opponent {paid[1 - player]}."
        )

    def rules(self) -> str:
        return (
            "Kuhn poker: a deck of three cards J < Q < K. Each player antes 1 chip and gets "
            "one card. player_0 acts first: check or bet 1 chip. After a check, player_1 may "
            "check (showdown) or bet. Facing a bet, a player calls (adds 1 chip, showdown) or "
            "folds (loses the chips already in). At showdown the higher card wins the pot. "
            "Your reward is the chips you win or lose."
        )

    def action_format(self) -> str:
        return (
            "<action>MOVE</action> with MOVE one of the legal moves (check, bet, call, fold), "
            "e.g. <action>check</action>."
        )

    def result_text(self, player: int) -> str:
        text = super().result_text(player)
        state = self.game
        if self._forfeit < 0 and not (state.actions[-1] == rules.PASS and state.facing_bet()):
            names = rules.CARD_NAMES
            text += (
                f" Showdown: you had {names[state.cards[player]]}, your opponent "
                f"{names[state.cards[1 - player]]}."
            )
        return text

    def information_key(self, player: int) -> object:
        return (self.game.cards[player], tuple(self.game.actions))

    def privileged(self, player: int) -> dict[str, Any]:
        value = float(rules.GAME_VALUE) * (1 if player == 0 else -1)
        facts: dict[str, Any] = {
            "opponent_card": rules.CARD_NAMES[self.game.cards[1 - player]],
            "nash_value": value,
            "nash_policy": {},
        }
        if self.current_player() == player:
            probs = rules.nash_probabilities(self.game.cards[player], tuple(self.game.actions))
            facts["nash_policy"] = {self.move_label(a): float(p) for a, p in enumerate(probs)}
        return facts


#: The unwrapped AEC env: the game class itself, whose keyword arguments are the factory's.
raw_env = KuhnPokerGame
env = wrapped_factory(KuhnPokerGame)


class KuhnPokerEnv(GameEnv):
    """Play Kuhn poker against a built-in opponent or any agent.

    ## Description
    Kuhn poker (three cards J < Q < K, ante 1, one bet of 1; rules in
    :mod:`mtenvs.envs.games.kuhn_poker_rules`) as a single-agent env over the AEC game
    ``mtenvs.games.kuhn_poker_v0``. Each episode is one hand with a fresh deal; the agent
    acts first (seat 0) or second (seat 1), chosen by ``play_as``.

    Opponents: ``random`` (check/bet or fold/call with probability 1/2); ``heuristic``
    (no bluffs: bet or call with K, check and call with Q, check and fold with J);
    ``optimal``: the Nash equilibrium with ``alpha = 1/3`` (seat 0: bet J with probability
    1/3, always bet K, call with Q after check-bet with probability 2/3; seat 1: call with
    Q with probability 1/3, bet J after a check with probability 1/3). Against it the best
    any strategy can expect is −1/18 chip per hand as seat 0 and +1/18 as seat 1.

    ## Action Space
    The raw model reply (``str``), a ``play`` tool call (``{"name": "play", "arguments":
    {"move": "call"}}``) or an ``int``: ``<action>check</action>``, ``bet``, ``call``,
    ``fold`` (``pass`` works for check/fold). Ids as OpenSpiel's ``kuhn_poker``: 0 = pass
    (check/fold), 1 = bet (bet/call).

    ## Observation Space
    ``str``: the agent's card, the pot and what each player has put in, the betting so far
    and the legal moves; at the end the result (and both cards after a showdown).

    Example (seat 1, after the opponent's first move)::

        Kuhn poker. You are player_1 (acts second).
        Your card: K (the deck is J < Q < K; your opponent holds one of the other two). Pot: 2
        chips; you have put in 1, your opponent 1.
        Moves so far: player_0 check.
        Your turn. Legal moves: check, bet. Reply with …

    ## Rewards
    | Component | Value |
    |---|---|
    | `outcome` | at the end of the hand: chips won / 2 (so in [−1, 1]: ±0.5 for the ante, ±1 for a called bet) |
    | `format` | −`format_penalty` for a malformed or illegal reply (the hand waits) |
    | `turn_cost` | −`turn_cost` every turn (when non-zero) |

    ## Episode End
    ``terminated`` when the hand is over (fold or showdown); ``truncated`` after
    ``max_turns`` replies (malformed ones count).

    ## Info keys
    | Key | Description |
    |---|---|
    | `system_prompt` | rules and reply format for the agent's seat (reset only) |
    | `task_id` | `kuhnpoker-<seed>-p<seat>` (reset only) |
    | `max_turns` | reply budget (reset only) |
    | `split` | always `train` (games have no task split; reset only) |
    | `turn` | replies so far |
    | `success` | the agent has won chips. Against `heuristic` (no bluffs, never folds K) the higher card wins every hand whatever the agent plays, so `success` is the share of hands dealt the higher card (about 1/2) and agents differ only in `return` |
    | `reward_components` | counted reward components; they sum to `reward` |
    | `uncounted_components` | components computed but not counted under `reward_mode` |
    | `parse_error` | why the reply was rejected, else `None` |
    | `final_answer` | always `False` (step only) |
    | `state_key` | hash of the seat, the deal and the betting |
    | `seat` | 0 (acts first) or 1 |
    | `legal_moves` | legal moves now (empty at the end) |
    | `opponent_moves` | the opponent's moves since the agent's last move |
    | `returns` | chips won by each seat (zeros until the end) |

    The opponent's card and the equilibrium value are privileged (:meth:`privileged`).

    ## Arguments
    | Argument | Default | Description |
    |---|---|---|
    | `opponent` | `"heuristic"` | `random`, `heuristic`, `optimal` or an agent with `act(batch)` |
    | `play_as` | `"random"` | seat 0 (acts first), 1, or `"random"` per episode |

    ## Registered ids
    * `mtenvs/KuhnPoker-v0`

    ## Version History
    * v0: initial release.
    """

    game_class = KuhnPokerGame
    game_name = GAME.task_name
    reward_scale = 2.0
    default_max_turns: ClassVar[int] = 10
    # headline (first): the heuristic opponent (the trained reference agent plays this one)
    reference_configs: ClassVar[tuple[dict[str, Any], ...]] = (
        {"opponent": "heuristic"},
        {"opponent": "random"},
        {"opponent": "optimal"},
    )
