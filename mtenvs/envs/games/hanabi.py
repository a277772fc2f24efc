"""A small cooperative Hanabi: the PettingZoo AEC env (``hanabi_v0``) and ``mtenvs/Hanabi-v0``."""

from __future__ import annotations

import re
from typing import Any, ClassVar, Unpack

import numpy as np

from mtenvs.envs.games import hanabi_rules as rules
from mtenvs.envs.games.aec import (
    AGENTS,
    IllegalOutcome,
    TextGameEnv,
    wrapped_factory,
)
from mtenvs.envs.games.single import GameArgs, GameEnv
from mtenvs.envs.games.table import GAMES
from mtenvs.error import check_int_range

__all__ = ["HanabiEnv", "HanabiGame", "env", "raw_env"]

#: This game's row of the games table: every name it goes by derives from it.
GAME = GAMES["hanabi"]

_SLOT_MOVE = re.compile(r"\b(play|discard)\w*\s*(?:card|slot|#|position)?\s*(\d+)\b")
_HINT = re.compile(r"\b(?:hint|tell|reveal|clue)\w*\b(.*)")


def _card(card: rules.Card) -> str:
    return f"{rules.COLOR_NAMES[card[0]]} {card[1]}"


class HanabiGame(TextGameEnv[rules.HanabiState]):
    """A small two-player Hanabi (PettingZoo AEC), cooperative: both agents get the score.

    Actions: the Hanabi Learning Environment / OpenSpiel ``hanabi`` ids for two players
    (``discard i`` = ``i``, ``play i`` = ``hand_size + i``, ``hint <colour>`` =
    ``2 * hand_size + colour``, ``hint <rank>`` = ``2 * hand_size + colors + rank - 1``); or
    reply text (``<action>play 0</action>``, ``discard 2``, ``hint red``, ``hint 1``).
    Rewards: the final score (cards on the fireworks; 0 if all lives are lost) to both
    agents. ``render_mode``: ``human``, ``ansi`` (a spectator view with both hands).
    """

    metadata = {  # noqa: RUF012
        "render_modes": ["human", "ansi"],
        "name": GAME.pettingzoo_name,
        "is_parallelizable": False,
        "render_fps": 1,
    }
    title = GAME.title
    zero_sum = False
    roles = ("moves first", "moves second")
    policies = {  # noqa: RUF012
        "random": rules.random_policy,
        "heuristic": rules.heuristic_policy,
        "optimal": rules.optimal_policy,
    }

    def __init__(
        self,
        *,
        colors: int = 3,
        ranks: int = 3,
        hand_size: int = 3,
        max_illegal: int = 2,
        illegal_outcome: IllegalOutcome = "forfeit",
        illegal_penalty: float = 0.0,
        render_mode: str | None = None,
    ) -> None:
        self.config = rules.HanabiConfig(
            colors=check_int_range("colors", colors, 1, len(rules.COLOR_NAMES)),
            ranks=check_int_range("ranks", ranks, 2, 5),
            hand_size=check_int_range("hand_size", hand_size, 1, 5),
        )
        self.num_actions = self.config.num_actions
        super().__init__(
            max_illegal=max_illegal,
            illegal_outcome=illegal_outcome,
            illegal_penalty=illegal_penalty,
            render_mode=render_mode,
        )

    def new_state(self, rng: np.random.Generator) -> rules.HanabiState:
        return rules.deal(self.config, rng)

    def move_label(self, action: int) -> str:
        kind, value = self.game.describe(action)
        if kind == "color":
            return f"hint {rules.COLOR_NAMES[value]}"
        return f"hint {value}" if kind == "rank" else f"{kind} {value}"

    def view(self, player: int) -> str:
        s, cfg = self.game, self.config
        fireworks = ", ".join(f"{rules.COLOR_NAMES[c]} {s.fireworks[c]}" for c in range(cfg.colors))
        discards = ", ".join(_card(c) for c in sorted(s.discards)) or "none"
        lines = [
            f"Fireworks (next card of a colour must be one higher; top rank {cfg.ranks}): "
            f"{fireworks}. Score {sum(s.fireworks)} of {cfg.max_score}.",
            f"Hint tokens: {s.hints} of {rules.MAX_HINTS}. Lives: {s.lives} of "
            f"{rules.MAX_LIVES}. Deck: {len(s.deck)} cards left. Discards: {discards}.",
        ]
        if player < 0:
            for p, agent in enumerate(AGENTS):
                cards = ", ".join(f"{i}: {_card(c)}" for i, c in enumerate(s.hands[p]))
                lines.append(f"{agent}'s cards: {cards or 'none'}.")
            return "\n".join(lines)
        other = 1 - player
        partner = ", ".join(
            f"slot {i}: {_card(c)} (they know: {self._knowledge(other, i)})"
            for i, c in enumerate(s.hands[other])
        )
        own = ", ".join(
            f"slot {i}: {self._knowledge(player, i)}" for i in range(len(s.hands[player]))
        )
        lines.append(f"Your partner's cards: {partner or 'none'}.")
        lines.append(f"Your cards (hidden from you; what the hints told you): {own or 'none'}.")
        return "\n".join(lines)

    def _knowledge(self, player: int, slot: int) -> str:
        colors, ranks = self.game.knowledge[player][slot]
        cs = [rules.COLOR_NAMES[c] for c in range(self.config.colors) if colors >> c & 1]
        rs = [str(r) for r in range(1, self.config.ranks + 1) if ranks >> (r - 1) & 1]
        color = cs[0] if len(cs) == 1 else "?" if len(cs) == self.config.colors else "/".join(cs)
        rank = rs[0] if len(rs) == 1 else "?" if len(rs) == self.config.ranks else "/".join(rs)
        return f"{color} {rank}"

    def history_text(self) -> str:
        if not self.game.events:
            return "Moves so far: none."
        parts = []
        for i, event in enumerate(self.game.events[-12:], max(0, len(self.game.events) - 12)):
            kind, number, detail = event[0], int(event[1]), event[2]  # type: ignore[call-overload]
            if kind == "play":
                result = "it fit" if event[3] else "a misplay, a life lost"
                text = f"played slot {number} ({_card(detail)}: {result})"  # type: ignore[arg-type]
            elif kind == "discard":
                text = f"discarded slot {number} ({_card(detail)})"  # type: ignore[arg-type]
            else:
                value = rules.COLOR_NAMES[number] if kind == "color" else str(number)
                slots = ", ".join(str(i) for i in detail)  # type: ignore[attr-defined]
                text = f"hinted {value}: slots {slots}"
            parts.append(f"{AGENTS[i % 2]} {text}")
        earlier = "" if len(self.game.events) <= 12 else "… "
        return "Moves so far (latest 12): " + earlier + "; ".join(parts) + "."

    def rules(self) -> str:
        cfg = self.config
        names = ", ".join(rules.COLOR_NAMES[: cfg.colors])
        return (
            f"Hanabi (cooperative; small version): a deck of {cfg.colors} colours ({names}) "
            f"with ranks 1 to {cfg.ranks}: three 1s, two of each middle rank and one "
            f"{cfg.ranks} per colour. Each player holds {cfg.hand_size} cards and sees the "
            "partner's cards but never their own. Together you build one firework per "
            "colour, from 1 upwards. On your turn do one of: play a card (slot number; if it "
            "is the next rank of its colour it joins the firework, else it is discarded and "
            "a life is lost), discard a card (gain a hint token; not allowed with all 8), or "
            "spend a hint token to tell your partner which of their cards have one colour or "
            "one rank (at least one card must match). You then draw a card; new cards go to "
            "the end, slot 0 is the oldest. Completing a colour returns a hint token. The "
            f"game ends when all 3 lives are lost (score 0), every firework is complete "
            f"({cfg.max_score} points), or one round after the deck runs out. Both players "
            "get the score: the cards on the fireworks."
        )

    def action_format(self) -> str:
        return (
            "<action>MOVE</action> with MOVE one of the legal moves (play N, discard N, hint "
            "COLOUR, hint RANK), e.g. <action>play 0</action>."
        )

    def result_text(self, player: int) -> str:
        if self._forfeit >= 0:
            return super().result_text(player)
        return (
            f"Game over: the team scored {self.game.score()} of {self.config.max_score}"
            f"{' (all lives lost)' if self.game.lives == 0 else ''}."
        )

    def privileged(self, player: int) -> dict[str, Any]:
        return {
            "own_cards": [_card(c) for c in self.game.hands[player]],
            "deck_order": [_card(c) for c in reversed(self.game.deck)],
        }

    def _match(self, text: str) -> int | None:
        lowered = text.lower()
        h, c = self.config.hand_size, self.config.colors
        slot = _SLOT_MOVE.findall(lowered)
        hint = _HINT.search(lowered)
        if len(slot) == 1 and hint is None:
            kind, index = slot[0][0], int(slot[0][1])
            if index >= h:
                return None
            return index if kind == "discard" else h + index
        if hint is not None and not slot:
            words = re.findall(r"[a-z]+|\d+", hint.group(1))
            colors = {rules.COLOR_NAMES.index(w) for w in words if w in rules.COLOR_NAMES[:c]}
            ranks = {int(w) for w in words if w.isdigit()}
            if len(colors) + len(ranks) != 1:
                return None
            if colors:
                return 2 * h + colors.pop()
            rank = ranks.pop()
            return 2 * h + c + rank - 1 if 1 <= rank <= self.config.ranks else None
        return super()._match(text) if not slot and hint is None else None


#: The unwrapped AEC env: the game class itself, whose keyword arguments are the factory's.
raw_env = HanabiGame
env = wrapped_factory(HanabiGame)


class HanabiEnv(GameEnv):
    """Play a small cooperative Hanabi with a scripted partner or any agent.

    ## Description
    Two-player Hanabi with a small deck (rules in :mod:`mtenvs.envs.games.hanabi_rules`,
    over the AEC game ``mtenvs.games.hanabi_v0``): ``colors`` colours (default 3) of ranks 1
    to ``ranks`` (default 3), three 1s, two of each middle rank and one top card per colour;
    ``hand_size`` cards each (default 3). You see your partner's cards, never your own.
    Each turn: play a card (if it is the next rank of its colour it joins that firework,
    else a life is lost), discard one (gain a hint token; not with all 8 tokens), or spend a
    token to tell the partner every card of one colour or one rank in their hand. The game
    ends on the 3rd lost life (score 0), with every firework complete, or one round after
    the deck runs out; both players get the score. The partner is the ``opponent``
    argument (a team-mate here; the name is shared with the other games).

    Partners: ``random`` (uniform legal move: loses its lives fast); ``heuristic`` (the
    scripted partner: plays a card its hints prove playable, else hints one of your
    playable cards, by rank first, else discards its oldest untouched card);
    ``optimal`` — *not* optimal (no optimal Hanabi policy is known to be computable): the
    scripted partner with card counting (a card is played when every possibility left by
    the hints and the visible cards is playable; dead cards are discarded first).

    ## Action Space
    The raw model reply (``str``), a ``play`` tool call (``{"name": "play", "arguments":
    {"move": "hint red"}}``) or an ``int``: ``<action>play 0</action>``, ``discard 2``,
    ``hint red``, ``hint 1`` (also ``play card 1``, ``tell them about the 2s``). Ids as
    the Hanabi Learning Environment / OpenSpiel ``hanabi`` for two players: ``discard i``
    = ``i``, ``play i`` = ``hand_size + i``, ``hint <colour c>`` = ``2 * hand_size + c``,
    ``hint <rank r>`` = ``2 * hand_size + colors + r - 1`` (12 ids by default). Slots
    count from 0, the oldest card; a drawn card goes to the end.

    ## Observation Space
    ``str``: the fireworks and score, hint tokens, lives, cards left, discards, the
    partner's cards with what they know of them, what the hints told you about yours, the
    latest moves and the legal moves; at the end the score. Example (seat 0, first turn)::

        Hanabi. You are player_0 (moves first).
        Fireworks (next card of a colour must be one higher; top rank 3): red 0, yellow 0,
        green 0. Score 0 of 9.
        Hint tokens: 8 of 8. Lives: 3 of 3. Deck: 12 cards left. Discards: none.
        Your partner's cards: slot 0: green 1 (they know: ? ?), slot 1: red 2 (they know:
        ? ?), slot 2: green 3 (they know: ? ?).
        Your cards (hidden from you; what the hints told you): slot 0: ? ?, slot 1: ? ?,
        slot 2: ? ?.
        Moves so far: none.
        Your turn. Legal moves: play 0, play 1, play 2, hint red, hint green, hint 1,
        hint 2, hint 3. Reply with <action>MOVE</action> …

    ## Rewards
    | Component | Value |
    |---|---|
    | `outcome` | at the end of the game: the team's score / `colors * ranks` (in [0, 1]) |
    | `format` | −`format_penalty` for a malformed or illegal reply (the game waits) |
    | `turn_cost` | −`turn_cost` every turn (when non-zero) |

    ## Episode End
    ``terminated`` when the game is over (3 lives lost, all fireworks complete, or the
    last round played); ``truncated`` after ``max_turns`` replies (malformed ones count).

    ## Info keys
    | Key | Description |
    |---|---|
    | `system_prompt` | rules and reply format for the agent's seat (reset only) |
    | `task_id` | `hanabi-<seed>-p<seat>` (reset only) |
    | `max_turns` | reply budget (reset only) |
    | `split` | always `train` (games have no task split; reset only) |
    | `turn` | replies so far |
    | `success` | the team completed every firework (a perfect score) |
    | `reward_components` | counted reward components; they sum to `reward` |
    | `uncounted_components` | components computed but not counted under `reward_mode` |
    | `parse_error` | why the reply was rejected, else `None` |
    | `final_answer` | always `False` (step only) |
    | `state_key` | hash of the seat, the deal, the hints and the moves |
    | `seat` | 0 (moves first) or 1 |
    | `legal_moves` | legal moves now (empty at the end) |
    | `opponent_moves` | the partner's moves since the agent's last move |
    | `returns` | each seat's payoff, the team's score (zeros until the end) |

    The agent's own cards and the deck order are privileged (:meth:`privileged`).

    ## Arguments
    | Argument | Default | Description |
    |---|---|---|
    | `colors` | `3` | colours in the deck, 1 to 5 |
    | `ranks` | `3` | ranks per colour, 2 to 5 |
    | `hand_size` | `3` | cards per hand, 1 to 5 |
    | `opponent` | `"heuristic"` | the partner: `random`, `heuristic`, `optimal` or an agent with `act(batch)` |
    | `play_as` | `"random"` | seat 0 (moves first), 1, or `"random"` per episode |

    ## Registered ids
    * `mtenvs/Hanabi-v0`

    ## Version History
    * v0: initial release.
    """

    game_class = HanabiGame
    game_name = GAME.task_name
    default_max_turns: ClassVar[int] = 40

    def __init__(
        self,
        *,
        colors: int = 3,
        ranks: int = 3,
        hand_size: int = 3,
        **kwargs: Unpack[GameArgs],
    ) -> None:
        self._sizes = (colors, ranks, hand_size)
        # The outcome is the score over the maximum, whatever the deck size.
        self.reward_scale = float(
            check_int_range("colors", colors, 1, 5) * check_int_range("ranks", ranks, 2, 5)
        )
        super().__init__(**kwargs)

    def make_game(self) -> TextGameEnv[Any]:
        colors, ranks, hand_size = self._sizes
        return HanabiGame(colors=colors, ranks=ranks, hand_size=hand_size)

    def is_success(self, payoffs: tuple[float, float]) -> bool:
        return payoffs[self._seat] >= self.reward_scale
