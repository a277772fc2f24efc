"""Negotiation over an item pool: the PettingZoo AEC env (``negotiation_v0``) and
``mtenvs/Negotiation-v0``."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any, ClassVar, Unpack

import numpy as np

from mtenvs.core.env import Reply, Transition
from mtenvs.core.parsing import reply_text
from mtenvs.envs.games import negotiation_rules as rules
from mtenvs.envs.games.aec import (
    AGENTS,
    IllegalOutcome,
    TextGameEnv,
    wrapped_factory,
)
from mtenvs.envs.games.single import GameArgs, GameEnv
from mtenvs.envs.games.table import GAMES
from mtenvs.error import check_int_range

__all__ = ["MAX_MESSAGE_CHARS", "NegotiationEnv", "NegotiationGame", "env", "raw_env"]

#: This game's row of the games table: every name it goes by derives from it.
GAME = GAMES["negotiation"]

#: Messages are cut to this many characters.
MAX_MESSAGE_CHARS = 300
_MESSAGE = re.compile(r"<message>(.*?)</message>", re.IGNORECASE | re.DOTALL)
_ITEM_COUNT = re.compile(r"(\d+)\s*(book|hat|ball)s?\b")
_WALK = re.compile(r"\b(walk|no deal|quit|leave)\b")
_ACCEPT = re.compile(r"\b(accept|agree|deal)\b")
_TALK = re.compile(r"\b(talk|say|message|pass)\b")


def _items(counts: tuple[int, ...]) -> str:
    return ", ".join(f"{n} {name}{'' if n == 1 else 's'}" for n, name in zip(counts, rules.ITEMS))


def extract_message(reply: object) -> str | None:
    """The ``<message>…</message>`` of a reply (or the ``message`` argument of a tool
    call), cleaned of control characters and cut to :data:`MAX_MESSAGE_CHARS`."""
    text: str | None = None
    if isinstance(reply, Mapping):
        args = reply.get("arguments")
        if isinstance(args, Mapping) and isinstance(args.get("message"), str):
            text = args["message"]
    if text is None:
        raw = reply_text(reply)
        match = _MESSAGE.search(raw[:100_000]) if raw else None
        text = match.group(1) if match else None
    if text is None:
        return None
    cleaned = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    cleaned = " ".join(cleaned.split())[:MAX_MESSAGE_CHARS]
    return cleaned or None


class NegotiationGame(TextGameEnv[rules.NegotiationState]):
    """Two agents divide a pool of items, each with private values (PettingZoo AEC);
    mixed cooperative/competitive: a deal pays each the value of its share, no deal 0.

    Actions: ``25 * books + 5 * hats + balls`` (ids 0-124) proposes to take those items,
    ``125`` accepts the standing proposal, ``126`` talks (message only), ``127`` walks
    away; or reply text (``<action>propose 2 1 0</action>``, ``take 2 books and 1 hat``,
    ``accept``, ``walk away``) with an optional ``<message>…</message>`` that the partner
    reads. ``render_mode``: ``human``, ``ansi`` (a spectator view with both values).
    """

    metadata = {  # noqa: RUF012
        "render_modes": ["human", "ansi"],
        "name": GAME.pettingzoo_name,
        "is_parallelizable": False,
        "render_fps": 1,
    }
    title = GAME.title
    zero_sum = False
    num_actions = rules.NUM_ACTIONS
    roles = ("moves first", "moves second")
    policies = {  # noqa: RUF012
        "random": rules.random_policy,
        "heuristic": rules.heuristic_policy,
        "optimal": rules.optimal_policy,
    }

    def __init__(
        self,
        *,
        max_moves: int = 10,
        max_illegal: int = 2,
        illegal_outcome: IllegalOutcome = "forfeit",
        illegal_penalty: float = 0.0,
        render_mode: str | None = None,
    ) -> None:
        self.max_moves = check_int_range("max_moves", max_moves, 2, 100)
        self._queued: str | None = None
        super().__init__(
            max_illegal=max_illegal,
            illegal_outcome=illegal_outcome,
            illegal_penalty=illegal_penalty,
            render_mode=render_mode,
        )

    def new_state(self, rng: np.random.Generator) -> rules.NegotiationState:
        counts, values = rules.deal_pool(rng)
        return rules.NegotiationState(counts, values, max_moves=self.max_moves)

    def queue_message(self, message: str | None) -> None:
        """Send ``message`` with the next move given as an id (the single-agent env parses
        the reply before stepping with the id)."""
        self._queued = message

    def step(self, action: Any) -> None:
        message, self._queued = extract_message(action) or self._queued, None
        player = self.game.current_player()
        before = len(self.game.actions)
        super().step(action)
        if message and len(self.game.actions) > before and not self._forfeit >= 0:
            self.game.say(player, message)

    def parse_move(self, reply: object) -> tuple[int | None, str | None]:
        move, error = super().parse_move(reply)
        if move is None and not self.is_over() and extract_message(reply) is not None:
            text = reply_text(reply) or ""
            if "<action>" not in text.lower():
                return rules.TALK, None  # a message alone: talk
        return move, error

    def move_label(self, action: int) -> str:
        if action == rules.ACCEPT:
            return "accept"
        if action == rules.TALK:
            return "talk"
        if action == rules.WALK:
            return "walk away"
        return "propose {} {} {}".format(*rules.proposal_of(action))

    def view(self, player: int) -> str:
        s = self.game
        pool = f"Items in the pool: {_items(s.counts)}."
        if player < 0:
            values = "; ".join(
                f"{a} values {self._values(s.values[p])}" for p, a in enumerate(AGENTS)
            )
            return f"{pool} {values}. Moves left: {s.moves_left()}."
        lines = [
            pool,
            f"Your private values per item: {self._values(s.values[player])} (the whole "
            f"pool is worth {rules.TOTAL_VALUE} to you; your partner's values are hidden "
            f"and differ). Moves left: {s.moves_left()}.",
        ]
        standing = s.standing()
        if standing is None:
            lines.append("No proposal on the table.")
        else:
            proposer, take = standing
            rest = tuple(n - t for n, t in zip(s.counts, take))
            mine = take if proposer == player else rest
            who = "your" if proposer == player else "your partner's"
            worth = rules.value(s.values[player], mine)
            lines.append(
                f"On the table ({who} proposal): you get {_items(mine)} (worth {worth} to "
                f"you); {'your partner' if proposer == player else 'they'} get "
                f"{_items(take if proposer != player else rest)}."
            )
        return "\n".join(lines)

    @staticmethod
    def _values(values: tuple[int, ...]) -> str:
        return ", ".join(f"{name} {v}" for name, v in zip(rules.ITEMS, values))

    def history_text(self) -> str:
        if not self.game.actions:
            return "Moves so far: none."
        said = {i: text for i, _, text in self.game.messages}
        parts = []
        for i, action in enumerate(self.game.actions):
            if action < rules.NUM_PROPOSALS:
                label = f"proposes to take {_items(rules.proposal_of(action))}"
            else:
                label = {rules.ACCEPT: "accepts", rules.TALK: "talks"}.get(action, "walks away")
            message = f' (says: "{said[i]}")' if i in said else ""
            parts.append(f"{AGENTS[i % 2]} {label}{message}")
        return "Moves so far: " + "; ".join(parts) + "."

    def rules(self) -> str:
        return (
            "Negotiation: you and your partner divide a pool of books, hats and balls. Each "
            f"of you has private values per item; the whole pool is worth {rules.TOTAL_VALUE} "
            "to each of you, but your values differ. Take turns; on your turn propose a "
            "split (propose B H L: you take B books, H hats and L balls, your partner gets "
            "the rest), accept your partner's proposal on the table (the game ends with that "
            "deal), talk (send a message only), or, once a proposal is on the table, walk "
            "away (no deal). After "
            f"{self.max_moves} moves in all without a deal there is no deal. A deal pays "
            "each of you the value of your share; no deal pays both 0. You may add a "
            "message for your partner to any move: <message>…</message>."
        )

    def action_format(self) -> str:
        return (
            "<action>MOVE</action> with MOVE one of: propose B H L (the numbers of books, "
            "hats and balls you take), accept, talk, walk away; optionally with "
            "<message>TEXT</message> for your partner. E.g. <message>I need the hats."
            "</message><action>propose 1 2 0</action>."
        )

    def result_text(self, player: int) -> str:
        if self._forfeit >= 0:
            return super().result_text(player)
        deal = self.game.deal()
        if deal is None:
            return "Game over: no deal; both score 0."
        score = self._result[player]
        return (
            f"Game over: deal. You get {_items(deal[player])}, worth {score:g} to you; your "
            f"partner gets {_items(deal[1 - player])}, worth {self._result[1 - player]:g} to "
            "them."
        )

    def privileged(self, player: int) -> dict[str, Any]:
        return {"partner_values": list(self.game.values[1 - player])}

    def legal_labels(self) -> list[str]:
        return [] if self.is_over() else [self.move_label(a) for a in self.game.legal_actions()]

    def _match(self, text: str) -> int | None:
        lowered = text.lower()
        counts = _ITEM_COUNT.findall(lowered)
        if counts:
            take = [0, 0, 0]
            for number, item in counts:
                take[rules.ITEMS.index(item)] = int(number[:3])
            if any(n > rules.MAX_COUNT for n in take):
                return None
            return rules.proposal_id((take[0], take[1], take[2]))
        numbers = re.findall(r"\d+", lowered)
        if len(numbers) == 3:
            take3 = tuple(int(n[:3]) for n in numbers)
            if all(n <= rules.MAX_COUNT for n in take3):
                return rules.proposal_id(take3)
            return None
        if numbers:
            return super()._match(text) if len(numbers) == 1 else None
        for pattern, action in ((_WALK, rules.WALK), (_ACCEPT, rules.ACCEPT), (_TALK, rules.TALK)):
            if pattern.search(lowered):
                return action
        return None


#: The unwrapped AEC env: the game class itself, whose keyword arguments are the factory's.
raw_env = NegotiationGame
env = wrapped_factory(NegotiationGame)


class NegotiationEnv(GameEnv):
    """Negotiate the division of an item pool with private values against a built-in
    negotiator or any agent.

    ## Description
    As Lewis et al. 2017 ("Deal or no deal?"; rules in
    :mod:`mtenvs.envs.games.negotiation_rules`, over the AEC game
    ``mtenvs.games.negotiation_v0``): a pool holds 1 to 4 books, hats and balls (5 to 7
    items). Each side has private integer values per item type adding up to 10 over the
    pool; every type is worth something to someone and some type to both. Players
    alternate, seat 0 first: propose a split (what you take; the partner gets the rest),
    accept the partner's proposal on the table (the game ends with that deal), talk (a
    message only), or, once a proposal is on the table, walk away. After ``max_moves`` moves in all (default 10) there is no
    deal. A deal pays each side the value of its share, no deal 0: cooperative (a deal
    beats none) and competitive (over the split) at once.

    **Text and the ``Discrete`` action space**: the AEC game's action space is
    ``Discrete(128)`` over the structured moves (so PettingZoo's ``api_test`` and OpenSpiel-
    style tooling work), and free text rides along: any reply may carry
    ``<message>…</message>`` (or a ``message`` tool argument), recorded with the move and
    shown to the partner in the history; a reply that is only a message counts as
    ``talk``. Messages never change the game state beyond the record, so scores depend on
    moves alone. The built-in negotiators do not talk.

    Opponents: ``random`` (uniform legal move, walking away included); ``heuristic``
    (target value falling from 8 to 5 over the game; accepts offers that reach it, else
    proposes the split that reaches it leaving the partner the most items); ``optimal`` —
    *not* a solved strategy (values are private and partners differ): an expected-value
    negotiator with a Bayesian belief over the partner's values from its proposals,
    proposing the split with the best value x acceptance probability and accepting when
    the offer on the table is worth at least that.

    ## Action Space
    The raw model reply (``str``), a ``play`` tool call (``{"name": "play", "arguments":
    {"move": "propose 2 1 0", "message": "…"}}``) or an ``int``.
    ``<action>propose 2 1 0</action>`` (take 2 books, 1 hat, 0 balls; also ``take 2 books
    and 1 hat``), ``accept``, ``talk``, ``walk away``, each optionally with
    ``<message>TEXT</message>`` (cut to 300 characters). Ids: a proposal taking ``(b, h,
    l)`` is ``25 * b + 5 * h + l`` (0-124), ``accept`` 125, ``talk`` 126, ``walk away``
    127. Taking more than the pool, or accepting with no partner proposal on the table, is a
    malformed reply.

    ## Observation Space
    ``str``: the pool, the agent's values, moves left, the proposal on the table and what it
    is worth to the agent, every move with its message, and the legal moves; at the end the
    deal and its value to each side. Example (seat 1)::

        Negotiation. You are player_1 (moves second).
        Items in the pool: 1 book, 3 hats, 2 balls.
        Your private values per item: book 4, hat 0, ball 3 (the whole pool is worth 10 to
        you; your partner's values are hidden and differ). Moves left: 9.
        On the table (your partner's proposal): you get 0 books, 1 hat, 2 balls (worth 6 to
        you); they get 1 book, 2 hats, 0 balls.
        Moves so far: player_0 proposes to take 1 book, 2 hats, 0 balls (says: "I like
        books.").
        Your turn. Legal moves: propose 0 0 0, propose 0 0 1, …, propose 1 3 2, accept,
        talk, walk away. Reply with <action>MOVE</action> …

    ## Rewards
    | Component | Value |
    |---|---|
    | `outcome` | at the end: the value of the agent's share / 10 (0 without a deal) |
    | `format` | −`format_penalty` for a malformed or illegal reply (the game waits) |
    | `turn_cost` | −`turn_cost` every turn (when non-zero) |

    ## Episode End
    ``terminated`` on a deal, a walk-away, or after ``max_moves`` moves; ``truncated``
    after ``max_turns`` replies (malformed ones count).

    ## Info keys
    | Key | Description |
    |---|---|
    | `system_prompt` | rules and reply format for the agent's seat (reset only) |
    | `task_id` | `negotiation-<seed>-p<seat>` (reset only) |
    | `max_turns` | reply budget (reset only) |
    | `split` | always `train` (games have no task split; reset only) |
    | `turn` | replies so far |
    | `success` | a deal worth at least half the pool (5 of 10) to the agent |
    | `reward_components` | counted reward components; they sum to `reward` |
    | `uncounted_components` | components computed but not counted under `reward_mode` |
    | `parse_error` | why the reply was rejected, else `None` |
    | `final_answer` | always `False` (step only) |
    | `state_key` | hash of the seat, the pool, the values, the moves and the messages |
    | `seat` | 0 (moves first) or 1 |
    | `legal_moves` | legal moves now (empty at the end) |
    | `opponent_moves` | the partner's moves since the agent's last move |
    | `returns` | each seat's value of its share (zeros until the end or without a deal) |

    The partner's values are privileged (:meth:`privileged`).

    ## Arguments
    | Argument | Default | Description |
    |---|---|---|
    | `max_moves` | `10` | moves in all (both sides) before the game ends without a deal |
    | `opponent` | `"heuristic"` | `random`, `heuristic`, `optimal` or an agent with `act(batch)` |
    | `play_as` | `"random"` | seat 0 (moves first), 1, or `"random"` per episode |

    ## Registered ids
    * `mtenvs/Negotiation-v0`

    ## Version History
    * v0: initial release.
    """

    game_class = NegotiationGame
    game_name = GAME.task_name
    reward_scale = float(rules.TOTAL_VALUE)
    default_max_turns: ClassVar[int] = 20

    def __init__(
        self,
        *,
        max_moves: int = 10,
        **kwargs: Unpack[GameArgs],
    ) -> None:
        self.max_moves = check_int_range("max_moves", max_moves, 2, 100)
        self._message: str | None = None
        super().__init__(**kwargs)

    def make_game(self) -> TextGameEnv[Any]:
        return NegotiationGame(max_moves=self.max_moves)

    def parse_action(self, reply: Reply) -> int:
        move = super().parse_action(reply)
        self._message = extract_message(reply)
        return move

    def apply_action(self, action: int) -> Transition:
        assert isinstance(self._game, NegotiationGame)
        self._game.queue_message(self._message)
        self._message = None
        return super().apply_action(action)

    def is_success(self, payoffs: tuple[float, float]) -> bool:
        return payoffs[self._seat] >= rules.TOTAL_VALUE / 2
