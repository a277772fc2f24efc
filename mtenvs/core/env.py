"""``MultiTurnEnv``: the Gymnasium base class every mtenvs environment derives from.

The base class owns what is the same in every env, so families only write their rules:

* turn counting and truncation at ``max_turns``;
* parse errors: a subclass raises :class:`InvalidAction` from :meth:`MultiTurnEnv.parse_action`
  and the base class answers with an observation giving the reason and the expected format,
  a ``format`` penalty, and the episode goes on;
* reward bookkeeping: ``info["reward_components"]`` always sums to ``reward``;
* the documented info keys (:class:`ResetInfo`, :class:`StepInfo`) and ``state_key``;
* branching: :meth:`snapshot` / :meth:`restore`, plus :meth:`oracle_action` and
  :meth:`privileged` for teacher, critic and search methods;
* argument checks: unknown constructor keywords raise :class:`mtenvs.error.InvalidArgumentError`
  naming the allowed ones.

The base class also owns episode set-up: ``reset`` picks the task from the env's
:meth:`~MultiTurnEnv.task_source` by the one seed rule of :mod:`mtenvs.core.task_source`
(``options={"task_id": …}`` looks one up), keeps it as :attr:`~MultiTurnEnv.task` (whose
``task_id`` is the env's :attr:`~MultiTurnEnv.task_id`; snapshots carry it) and hands it to
:meth:`~MultiTurnEnv.new_episode`; no env overrides ``reset`` or stores the task again.
The env declares its reply surface (``tool_schemas``, :meth:`episode_info`,
:meth:`step_info`) and the base class fills the info dicts.

A subclass implements :meth:`task_source`, :meth:`new_episode`, :meth:`parse_action`,
:meth:`apply_action`, :meth:`system_prompt`, :meth:`action_format`, :meth:`oracle_action`,
:meth:`privileged`, :meth:`render_text` and lists its mutable state in ``_snapshot_fields``.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import pickle
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypedDict, TypeVar, cast

import gymnasium as gym
import numpy as np

from mtenvs.core.args import ObsMode, constructor_arguments
from mtenvs.core.rewards import (
    DEFAULT_FORMAT_PENALTY,
    FORMAT,
    TURN_COST,
    RewardMode,
    split_components,
)
from mtenvs.core.spaces import MAX_REPLY_CHARS, UnicodeText
from mtenvs.core.task_source import HasTaskId, TaskSource
from mtenvs.core.tasks import SPLITS, Split, eval_set_split
from mtenvs.error import (
    InvalidArgumentError,
    ResetNeededError,
    check_choice,
    check_int_range,
    did_you_mean,
)

__all__ = [
    "EnvSnapshot",
    "InvalidAction",
    "MultiTurnEnv",
    "ObsMode",
    "Reply",
    "ResetInfo",
    "Split",
    "StepInfo",
    "Transition",
]

ObsT = TypeVar("ObsT")
ActionT = TypeVar("ActionT")
#: What a reset hands :meth:`MultiTurnEnv.new_episode`: any task that knows its id.
TaskT = TypeVar("TaskT", bound=HasTaskId)
#: What ``step`` accepts: the raw model reply, or a tool-call / chat-message dict.
Reply = str | Mapping[str, Any]
OBS_MODES: tuple[str, ...] = ("text", "image", "text+image")


class ResetInfo(TypedDict, total=False):
    """Keys of the ``info`` dict returned by ``reset``."""

    system_prompt: str
    #: OpenAI function schemas of the env's tools (envs that declare ``tool_schemas``).
    tools: list[Mapping[str, Any]]
    task_id: str
    max_turns: int
    split: str
    turn: int
    success: bool
    reward_components: dict[str, float]
    uncounted_components: dict[str, float]
    parse_error: str | None
    state_key: str


class StepInfo(ResetInfo, total=False):
    """Keys of the ``info`` dict returned by ``step`` (a superset of :class:`ResetInfo`)."""

    final_answer: bool


class InvalidAction(Exception):
    """Raised by :meth:`MultiTurnEnv.parse_action` for a reply that is not a legal action.

    Never escapes ``step``: the base class turns it into an observation with ``reason``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Transition:
    """What :meth:`MultiTurnEnv.apply_action` returns for one legal action."""

    #: The text of the next observation (the base class adds the image where there is one).
    observation: str
    #: Reward components of this step (the base class adds ``turn_cost``).
    components: dict[str, float] = field(default_factory=dict)
    #: The task is over (solved, failed, or a final answer was given).
    terminated: bool = False
    #: The task is solved.
    success: bool = False
    #: This step was a final answer; a wrong one may be retried with
    #: :class:`mtenvs.wrappers.TryAgain`.
    final_answer: bool = False
    #: Extra env-specific info keys.
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EnvSnapshot:
    """An opaque copy of an env's full state, from :meth:`MultiTurnEnv.snapshot`."""

    env_class: str
    state: dict[str, Any]


_BASE_SNAPSHOT_FIELDS: tuple[str, ...] = (
    "_task",
    "_task_cursor",
    "_turn",
    "_active",
    "_success",
    "_last_final_answer_wrong",
    "_last_observation",
)


def _canonical(value: Any) -> Any:
    """``value`` with every set and dict in a fixed order (sets of strings iterate in an
    order that changes with ``PYTHONHASHSEED``, so their pickle differs between processes;
    equal dicts built in another order are the same state), recursing into containers,
    dataclasses and plain objects."""
    if isinstance(value, set | frozenset):
        items = [_canonical(v) for v in value]
        return ("set", sorted(items, key=lambda v: pickle.dumps(v, 4)))
    if isinstance(value, dict):
        pairs = [(_canonical(k), _canonical(v)) for k, v in value.items()]
        return ("dict", sorted(pairs, key=lambda kv: pickle.dumps(kv[0], 4)))
    if isinstance(value, list | tuple):
        return (type(value).__name__, [_canonical(v) for v in value])
    if isinstance(value, str | bytes | int | float | bool | np.ndarray | np.generic) or (
        value is None
    ):
        return value
    if isinstance(value, type):
        return value
    if dataclasses.is_dataclass(value):
        named = [(f.name, _canonical(getattr(value, f.name))) for f in dataclasses.fields(value)]
        return (type(value).__qualname__, named)
    attributes = getattr(value, "__dict__", None)
    if attributes is not None:
        return (type(value).__qualname__, _canonical(attributes))
    return value


def stable_digest(value: Any) -> str:
    """A 16-hex-digit hash of ``value`` that is the same in every process (``state_key``)."""
    data = pickle.dumps(_canonical(value), 4)
    return hashlib.blake2b(data, digest_size=8).hexdigest()


class MultiTurnEnv(gym.Env[ObsT, Reply], Generic[ObsT, ActionT, TaskT]):
    """Base class for multi-turn text (and multimodal) environments; see the module doc.

    Type parameters: the observation, the parsed action, and the task a reset hands to
    :meth:`new_episode`."""

    metadata: dict[str, Any] = {"render_modes": ["ansi"], "render_fps": 4}  # noqa: RUF012
    #: Attribute names holding the mutable episode state (deep-copied by ``snapshot``).
    _snapshot_fields: ClassVar[tuple[str, ...]] = ()
    #: Keys ``reset(options=…)`` accepts.
    reset_options: ClassVar[frozenset[str]] = frozenset({"task_id"})
    #: OpenAI function schemas of the env's tools, given as the reset info's ``tools``
    #: (envs without tools leave it empty and the key out).
    tool_schemas: ClassVar[tuple[Mapping[str, Any], ...]] = ()
    #: Default turn budget of the env family.
    default_max_turns: ClassVar[int] = 20
    #: Whether ``oracle_action`` exists (False for adapters of external tasks with no
    #: scripted solver, e.g. MiniWoB++: it raises ``NotImplementedError`` there).
    has_oracle: ClassVar[bool] = True
    #: Whether following ``oracle_action`` always solves the task (puzzles: yes; games
    #: against a strong opponent or with hidden chance: no). Tests rely on it.
    oracle_always_succeeds: ClassVar[bool] = True
    #: Whether steps mostly wait on I/O (sandboxes, browsers, databases): the rollout
    #: engine's ``executor="auto"`` then steps envs on threads, else in the calling thread.
    io_bound: ClassVar[bool] = False
    #: Constructor arguments of the configurations whose reference scores the docs report.
    #: The first is the env's headline configuration: what ``mtenvs eval
    #: --reference-config`` (and so ``make demo``) plays, and what its trained reference
    #: agent (``baselines/``) is trained and scored on.
    reference_configs: ClassVar[tuple[dict[str, Any], ...]] = ({},)
    #: The task splits ``split=`` accepts: ``train`` and ``test`` everywhere; a family with
    #: a held-out set for model selection adds ``validation`` (Search).
    splits: ClassVar[tuple[Split, ...]] = SPLITS

    def __new__(cls, *args: Any, **kwargs: Any) -> MultiTurnEnv[Any, Any, Any]:
        # Runs before __init__ so a mistyped keyword names the allowed ones instead of
        # Python's bare TypeError (and gym.make keeps the env class as entry point).
        if kwargs:
            allowed = constructor_arguments(cls)
            for name in kwargs:
                if name not in allowed:
                    raise InvalidArgumentError(
                        f"Unknown argument {name!r} for {cls.__name__}; allowed arguments: "
                        f"{', '.join(allowed)}.{did_you_mean(name, allowed)}"
                    )
        return super().__new__(cls)

    # The arguments every env shares, declared here once (mtenvs.core.args types them for
    # the subclasses' **kwargs and documents them for the env cards).
    def __init__(
        self,
        *,
        max_turns: int | None = None,
        reward_mode: RewardMode | str = RewardMode.OUTCOME,
        split: Split | None = None,
        eval_set: bool = False,
        obs_mode: ObsMode = "text",
        render_mode: str | None = None,
        turn_cost: float = 0.0,
        format_penalty: float = DEFAULT_FORMAT_PENALTY,
    ) -> None:
        check_choice(
            "reward_mode",
            str(getattr(reward_mode, "value", reward_mode)),
            [m.value for m in RewardMode],
        )
        split = eval_set_split(
            split, eval_set, f"The {type(self).__name__} eval set holds", choices=self.splits
        )
        check_choice("obs_mode", obs_mode, self.supported_obs_modes())
        check_choice("render_mode", render_mode, [None, *self.metadata["render_modes"]])
        self.max_turns = check_int_range(
            "max_turns", self.default_max_turns if max_turns is None else max_turns, 1
        )
        for name, value in (("turn_cost", turn_cost), ("format_penalty", format_penalty)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise InvalidArgumentError(
                    f"{name} must be a non-negative number (it is subtracted), got {value!r}."
                )
        self.reward_mode = RewardMode(getattr(reward_mode, "value", reward_mode))
        self.split: Split = split
        #: Whether resets play the env's fixed eval set (envs that have one).
        self.eval_set = eval_set
        self.obs_mode: ObsMode = obs_mode
        self.render_mode = render_mode
        self.turn_cost = float(turn_cost)
        self.format_penalty = float(format_penalty)
        self.action_space = UnicodeText(MAX_REPLY_CHARS)
        #: The task being played (``None`` before the first reset); see :attr:`task`.
        self._task: TaskT | None = None
        #: The list position a reset without a seed plays (task lists; see task_source).
        self._task_cursor = 0
        self._turn = 0
        self._active = False
        self._started = False
        self._success = False
        self._last_final_answer_wrong = False
        self._last_observation = ""

    # ------------------------------------------------------------------ subclass hooks

    @classmethod
    def supported_obs_modes(cls) -> tuple[str, ...]:
        """Observation modes this env offers (``text`` always; images where there is one)."""
        return ("text",)

    @abstractmethod
    def task_source(self) -> TaskSource[TaskT]:
        """Where this env's tasks come from (given its arguments): a
        :class:`~mtenvs.core.task_source.TaskList` or
        :class:`~mtenvs.core.task_source.GeneratedTasks`. Called on every reset, so cache
        what is costly to build."""

    @abstractmethod
    def new_episode(self, task: TaskT) -> str:
        """Set up the episode of ``task`` (chosen by ``reset``, which already keeps it as
        :attr:`task`; more randomness, if any, comes from ``self.np_random``) and return
        the first observation's text."""

    @abstractmethod
    def parse_action(self, reply: Reply) -> ActionT:
        """Turn a reply into an action, or raise :class:`InvalidAction` with the reason."""

    @abstractmethod
    def apply_action(self, action: ActionT) -> Transition:
        """Apply a parsed action and return the resulting :class:`Transition`."""

    @abstractmethod
    def system_prompt(self) -> str:
        """Rules of the task and the reply format, for the model's system message."""

    @abstractmethod
    def action_format(self) -> str:
        """A short statement of the expected reply format, shown after a malformed reply."""

    @property
    def task_id(self) -> str:
        """Stable id of the current task (same seed and split give the same id): the
        task's own ``task_id``, ``""`` before the first reset."""
        return "" if self._task is None else self._task.task_id

    @abstractmethod
    def oracle_action(self) -> str:
        """The reply an optimal agent would send now (privileged; never in observations)."""

    @abstractmethod
    def privileged(self) -> dict[str, Any]:
        """Hidden facts about the current state (gold answer, optimal remaining cost…)."""

    @abstractmethod
    def render_text(self) -> str:
        """A text picture of the current state (``render_mode="ansi"``)."""

    def render_image(self) -> np.ndarray:
        """An RGB ``uint8`` picture of the current state, for envs that have one."""
        raise NotImplementedError(f"{type(self).__name__} has no image rendering.")

    def episode_info(self) -> dict[str, Any]:
        """Env-specific keys added to every info dict (override to add some)."""
        return {}

    def step_info(self) -> dict[str, Any]:
        """Env-specific keys added to every step's info dict only (after the
        transition's), e.g. what kind of turn this was."""
        return {}

    def random_action(self, rng: np.random.Generator) -> str:
        """A well-formed random reply (used by :class:`mtenvs.agents.RandomAgent`)."""
        return str(self.action_space.sample())

    def scripted_action(self, rng: np.random.Generator) -> str:
        """The next reply of a hand-written policy that uses only what the observations
        showed (used by :class:`mtenvs.agents.ScriptedAgent`): the tier between random and
        the privileged oracle. Envs without one raise ``NotImplementedError``
        (:meth:`has_scripted_policy` says which)."""
        raise NotImplementedError(f"{type(self).__name__} has no scripted policy.")

    @classmethod
    def has_scripted_policy(cls) -> bool:
        """Whether :meth:`scripted_action` is implemented."""
        return cls.scripted_action is not MultiTurnEnv.scripted_action

    def state_key_data(self) -> object:
        """What ``state_key`` hashes: by default the task and every snapshot field of the
        env (not the turn counter), so identical situations reached at different turns
        share a key."""
        return [self._task, *(getattr(self, name) for name in self._snapshot_fields)]

    # ------------------------------------------------------------------ gymnasium API

    # The info dicts are declared as TypedDicts, which mypy does not take for Gymnasium's
    # dict[str, Any] (a TypedDict may not grow arbitrary keys); at run time they are dicts.
    def reset(  # type: ignore[override]
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsT, ResetInfo]:
        super().reset(seed=seed)
        options = dict(options or {})
        for key in options:
            if key not in self.reset_options:
                raise InvalidArgumentError(
                    f"Unknown reset option {key!r}; allowed options: "
                    f"{', '.join(sorted(self.reset_options)) or 'none'}."
                    f"{did_you_mean(key, self.reset_options)}"
                )
        source = self.task_source()
        task_id = options.get("task_id")
        if task_id is None:
            task, self._task_cursor = source.choose(seed, self._task_cursor, self.np_random)
        else:
            task = source.find(task_id)
        self._task = task
        self._turn = 0
        self._success = False
        self._last_final_answer_wrong = False
        text = self.new_episode(task)
        self._active = True
        self._started = True
        self._last_observation = text
        info: dict[str, Any] = {
            "system_prompt": self.system_prompt(),
            "task_id": self.task_id,
            "max_turns": self.max_turns,
            "split": self.split,
            "turn": 0,
            "success": False,
            "reward_components": {},
            "uncounted_components": {},
            "parse_error": None,
            "state_key": self.state_key(),
        }
        if self.tool_schemas:
            info["tools"] = list(self.tool_schemas)
        info.update(self.episode_info())
        return self._observation(text), cast(ResetInfo, info)

    def step(self, action: Reply) -> tuple[ObsT, float, bool, bool, StepInfo]:  # type: ignore[override]
        if not self._active:
            raise ResetNeededError(
                "step() called "
                + ("after the episode ended" if self._started else "before reset()")
                + "; call env.reset() first."
            )
        # This body runs on every step of every env: it is written for speed (no copies
        # that are not needed, no calls of hooks the env does not override).
        self._turn = turn = self._turn + 1
        parse_error: str | None = None
        try:
            parsed = self.parse_action(action)
        except InvalidAction as e:
            parse_error = e.reason
            transition = Transition(
                observation=self.format_error_observation(e.reason),
                components={FORMAT: -self.format_penalty},
            )
        else:
            transition = self.apply_action(parsed)
        components = transition.components
        if self.turn_cost:
            components = dict(components)  # the transition's own dict stays as it was
            components[TURN_COST] = components.get(TURN_COST, 0.0) - self.turn_cost
        terminated = bool(transition.terminated)
        truncated = not terminated and turn >= self.max_turns
        counted, uncounted = split_components(components, self.reward_mode)
        reward = float(sum(counted.values()))
        self._success = success = bool(transition.success)
        final_answer = transition.final_answer
        self._last_final_answer_wrong = final_answer and not success
        self._active = not (terminated or truncated)
        self._last_observation = text = transition.observation
        info: dict[str, Any] = {
            "turn": turn,
            "success": success,
            "reward_components": counted,
            "uncounted_components": uncounted,
            "parse_error": parse_error,
            "final_answer": final_answer,
            "state_key": self.state_key(),
        }
        info.update(self.episode_info())
        if transition.info:
            info.update(transition.info)
        if type(self).step_info is not MultiTurnEnv.step_info:
            info.update(self.step_info())
        observation = self._observation(text)
        return observation, reward, terminated, truncated, info  # type: ignore[return-value]

    def render(self) -> str | np.ndarray | None:  # type: ignore[override]
        if self.render_mode is None:
            return None
        if self.render_mode == "rgb_array":
            return self.render_image()
        return self.render_text()

    # ------------------------------------------------------------------ shared helpers

    @property
    def task(self) -> TaskT:
        """The task being played, as :meth:`task_source` gave it to the last reset (or as a
        restored snapshot holds it); raises :class:`~mtenvs.error.ResetNeededError` before
        the first reset."""
        if self._task is None:
            raise ResetNeededError(
                f"{type(self).__name__}.task read before reset(): no task is chosen yet; "
                "call env.reset() first."
            )
        return self._task

    @property
    def turn(self) -> int:
        """Turns taken in the current episode."""
        return self._turn

    @property
    def turns_left(self) -> int:
        return self.max_turns - self._turn

    @property
    def episode_active(self) -> bool:
        """Whether ``step`` may be called (reset done, episode not over)."""
        return self._active

    def format_error_observation(self, reason: str) -> str:
        """The observation after a malformed reply: the reason, then the expected format."""
        return (
            f"Invalid reply: {reason}\nExpected format: {self.action_format()}\n"
            f"(turn {self._turn} of {self.max_turns}; the episode goes on.)"
        )

    def _observation(self, text: str) -> ObsT:
        if self.obs_mode == "text":
            return text  # type: ignore[return-value]
        return {"text": text, "image": self.render_image()}  # type: ignore[return-value]

    def state_key(self) -> str:
        """A stable hash of the full env state (task and dynamic state, not the turn
        counter): equal keys mean identical situations, across rollouts and processes."""
        return stable_digest((type(self).__name__, self.task_id, self.state_key_data()))

    def snapshot(self) -> EnvSnapshot:
        """A copy of the full episode state, RNG included; see :meth:`restore`."""
        self._require_started("snapshot")
        fields = _BASE_SNAPSHOT_FIELDS + self._snapshot_fields
        state = {name: copy.deepcopy(getattr(self, name)) for name in fields}
        state["__rng__"] = copy.deepcopy(self.np_random.bit_generator.state)
        return EnvSnapshot(env_class=type(self).__qualname__, state=state)

    def restore(self, snapshot: EnvSnapshot) -> None:
        """Return to a state saved by :meth:`snapshot`; the same actions then give the same
        continuation (observations, rewards, infos)."""
        if not isinstance(snapshot, EnvSnapshot) or snapshot.env_class != type(self).__qualname__:
            raise InvalidArgumentError(
                f"restore() needs an EnvSnapshot taken from a {type(self).__qualname__}, "
                f"got {snapshot!r:.80}."
            )
        state = dict(snapshot.state)
        rng_state = state.pop("__rng__")
        for name, value in state.items():
            setattr(self, name, copy.deepcopy(value))
        self.np_random.bit_generator.state = copy.deepcopy(rng_state)
        self._started = True

    def resume(self) -> None:
        """Reopen an episode that ended on a wrong final answer (used by ``TryAgain``)."""
        if not self._last_final_answer_wrong:
            raise ResetNeededError("resume() is only allowed right after a wrong final answer.")
        self._last_final_answer_wrong = False
        self._active = self._turn < self.max_turns

    def _require_started(self, what: str) -> None:
        if not self._started:
            raise ResetNeededError(f"{what}() called before reset(); call env.reset() first.")
