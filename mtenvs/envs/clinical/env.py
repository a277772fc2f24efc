"""``mtenvs/Clinical-v0``: interview a simulated patient, examine, order tests, diagnose."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar, Final, Unpack

import numpy as np

from mtenvs.core.agent import Agent
from mtenvs.core.args import EvalSetArgs
from mtenvs.core.env import MultiTurnEnv, Reply, Transition
from mtenvs.core.rewards import OUTCOME, PROCESS
from mtenvs.core.spaces import text_space
from mtenvs.core.task_source import TaskSource
from mtenvs.envs.clinical.actions import ActionKind, ClinicalAction, parse_reply
from mtenvs.envs.clinical.cases import Case, case_source, check_case_source
from mtenvs.envs.clinical.kb import KnowledgeBase, load_kb
from mtenvs.envs.clinical.mediq import (
    MEDIQ_MAX_QUESTIONS,
    MediQEpisode,
    MediQRecord,
    load_mediq,
)
from mtenvs.envs.clinical.oracle import greedy_eig_reply
from mtenvs.envs.clinical.patients import Patient
from mtenvs.envs.clinical.rules import (
    Verdict,
    check_category_credit,
    grade_diagnosis,
    grade_option,
    grounding_facts,
    opening_posterior,
    persona,
    posterior_summary,
    random_reply,
    resolve_argument,
    resolve_option,
    reveal_findings,
)
from mtenvs.envs.clinical.simulator import (
    Lexicon,
    answer_question,
    exam_report,
    lab_report,
    opening_statement,
)
from mtenvs.envs.clinical.tools import CLINICAL_TOOLS, kb_system_prompt
from mtenvs.envs.clinical.voice import make_patient_agent, voice_answer
from mtenvs.error import ResetNeededError

__all__ = ["TEST_COST", "ClinicalEnv"]

#: Reward component: minus the cost of each test ordered (charged once per test).
TEST_COST: Final = "test_cost"


class ClinicalEnv(MultiTurnEnv[str, ClinicalAction, Case]):
    """Diagnose a simulated patient by asking, examining and testing (MediQ-style).

    ## Description
    A patient sampled from an authored clinical knowledge base
    (``mtenvs/assets/clinical/kb.json``: 69 conditions across 12 specialties, 211 findings,
    42 tests — an *educational toy model*, **not medical advice**) opens with their age, sex
    and chief complaint. Each turn the doctor agent asks one free-text question, examines
    a body system, orders a test, or gives a final diagnosis (or abstains). The rule-based
    patient maps a question to findings through lay-language synonyms and answers only
    what was asked, in varied natural language (style by persona; some items it is "not
    sure" about); an unrelated question gets a natural non-answer. The model is naive
    Bayes (:mod:`mtenvs.envs.clinical.kb`), so the posterior over conditions given what has
    been revealed is exact, and so is the information gain of every answer. KB summary:
    [clinical-kb.md](clinical-kb.md). Reference (100 eval patients): the oracle (greedy
    expected information gain, then the MAP diagnosis) is right 94 % of the time in 6.5
    turns; random replies 0 %.

    ``patient="hf:PATH"`` / ``"openai:URL#MODEL"`` / an agent object lets a language model
    word the answers, grounded on exactly the facts the rules reveal
    (:mod:`mtenvs.envs.clinical.voice`; rewards stay exact, wording is then up to the model).
    ``dataset=PATH`` plays MediQ JSONL records instead (:mod:`mtenvs.envs.clinical.mediq`):
    the episode opens with the initial information (``initial_info``, else the first
    context sentence), the question and the options; a question reveals the atomic fact it
    shares the most rare words with (or gets MediQ's "The patient cannot answer this
    question…"); the final reply picks an option letter (``<answer>C</answer>`` or
    ``answer(C)``), graded against ``answer_idx`` as MediQ's accuracy is. The budget is
    MediQ's: 30 questions, then the answer (31 turns); the last turn is announced and a
    question then goes unanswered. No ``process`` or ``test_cost`` there (no model), and
    the oracle answers with the gold letter (docs/clinical.md compares the rules with
    MediQ's).

    ## Action Space
    The raw model reply (``str``) or a tool call (schemas in ``info["tools"]``).
    A question: ``<action>Do you have a fever?</action>``, ``<action>ask(Any cough?)</action>``
    or the bare question text (at most 500 characters). ``<action>examine(respiratory)
    </action>`` (systems: general, cardiovascular, respiratory, abdominal, neurological,
    skin, ent, musculoskeletal, pelvic). ``<action>order_test(chest x-ray)</action>``
    (``test(…)`` too; names and synonyms as in the system prompt). Final:
    ``<answer>pneumonia</answer>`` or ``<action>diagnose(pneumonia)</action>`` (condition id,
    name or synonym), or ``<action>abstain()</action>``. Unknown systems, tests or
    conditions, empty or over-long replies are malformed.

    ## Observation Space
    ``str``: the patient's answer (or the exam / test report), then the turn and the test
    costs so far. Patient answers contain unicode (“”, —).

    ## Rewards
    | Component | Value |
    |---|---|
    | `outcome` | on diagnosis: 1.0 if right, `category_credit` if wrong but in the right category, else 0.0; 0.0 on abstain |
    | `process` | information gain: exact drop in entropy (bits) of the posterior over conditions from the findings revealed this turn, divided by log2(69); may be negative when a finding is surprising (counted only with `reward_mode="process"`) |
    | `test_cost` | −cost of a test the first time it is ordered (0.01 to 0.25) |
    | `format` | −`format_penalty` for a malformed reply |
    | `turn_cost` | −`turn_cost` every turn (when non-zero) |

    ## Episode End
    ``terminated`` on a diagnosis (right or wrong; a wrong one is a final answer that
    :class:`mtenvs.wrappers.TryAgain` can reopen) or on abstaining; ``truncated`` after
    ``max_turns`` turns without either.

    ## Info keys
    | Key | Description |
    |---|---|
    | `system_prompt` | rules, systems, tests with costs, conditions, reply format (reset only) |
    | `tools` | OpenAI function schemas of ask, examine, order_test, diagnose, abstain (reset only) |
    | `task_id` | e.g. `clinical-test-0000012`, or `mediq-<id>` with `dataset` (reset only) |
    | `max_turns` | turn budget (reset only) |
    | `split` | `train` or `test` (reset only) |
    | `turn` | turns taken so far |
    | `success` | the diagnosis was right |
    | `reward_components` | counted reward components; they sum to `reward` |
    | `uncounted_components` | components computed but not counted under `reward_mode` |
    | `parse_error` | why the reply was malformed, else `None` |
    | `final_answer` | whether this step was a diagnosis (step only) |
    | `state_key` | hash of the case and everything revealed so far |
    | `action` | kind of the last action (`ask`, `examine`, `order_test`, `diagnose`, `abstain`), else `None` |
    | `findings_revealed` | findings known so far (chief complaint included) |
    | `tests_ordered` | test ids ordered so far |
    | `total_test_cost` | sum of the costs of the tests ordered |
    | `diagnosis` | the condition id diagnosed (the option letter with `dataset`), else `None` |
    | `info_gain_bits` | this turn's entropy drop of the posterior in bits (`process` before scaling; 0 at reset and with `dataset`) |

    The true condition and the posterior are privileged (:meth:`privileged`).

    ## Arguments
    | Argument | Default | Description |
    |---|---|---|
    | `category_credit` | `0.0` | outcome for a wrong diagnosis in the right category (0 to 1) |
    | `dataset` | `None` | path of a MediQ JSONL file to play instead of the knowledge base: reset plays record `seed % size` (the next one when no seed) |
    | `patient` | `"rule"` | `rule`, or an agent voicing the patient: `hf:PATH`, `openai:URL#MODEL` or an object with `act(batch)` |
    | `max_turns` | `20` (`31` with `dataset`: MediQ's 30 questions and the answer) | turn budget |
    | `render_mode` | `None` | `ansi` (the transcript plus the hidden condition) |

    ## Registered ids
    * `mtenvs/Clinical-v0`

    ## Version History
    * v0: initial release. With `dataset`, records are read and budgeted as the official
      MediQ benchmark reads them (`initial_info`, string contexts, facts from
      `atomic_facts`/`facts`/the context, 31 turns by default; were 20); no reference score
      changes. With `dataset`, `reset(seed=s)` plays record `s % size` and a reset without
      a seed the next record (were drawn at random).
    """

    _snapshot_fields: ClassVar[tuple[str, ...]] = (
        "_post",
        "_known",
        "_asked",
        "_examined",
        "_tests",
        "_test_cost_total",
        "_diagnosis",
        "_last_kind",
        "_log",
        "_task_cursor",
        "_mediq",
        "_gain_bits",
    )
    default_max_turns: ClassVar[int] = 20
    tool_schemas: ClassVar[tuple[Mapping[str, Any], ...]] = tuple(CLINICAL_TOOLS)
    oracle_always_succeeds: ClassVar[bool] = False
    reference_configs: ClassVar[tuple[dict[str, Any], ...]] = ({"eval_set": True},)

    def __init__(
        self,
        *,
        category_credit: float = 0.0,
        dataset: str | None = None,
        patient: str | Agent = "rule",
        **kwargs: Unpack[EvalSetArgs],
    ) -> None:
        check_case_source(kwargs.get("eval_set", False), dataset)
        credit = check_category_credit(category_credit)
        if kwargs.get("max_turns") is None and dataset is not None:
            kwargs["max_turns"] = MEDIQ_MAX_QUESTIONS + 1
        super().__init__(**kwargs)
        self.category_credit = credit
        self.dataset = dataset
        self.patient = patient
        self._records = () if dataset is None else load_mediq(dataset)
        self._voice = make_patient_agent(patient)
        self._mediq: MediQEpisode | None = None
        self._gain_bits = 0.0
        self.observation_space = text_space()
        self.kb: KnowledgeBase = load_kb()
        self.lexicon = Lexicon(self.kb)
        self._norm = math.log2(len(self.kb.conditions))
        self._post = np.zeros(len(self.kb.conditions))
        self._known: dict[int, bool] = {}
        self._asked: set[int] = set()
        self._examined: list[str] = []
        self._tests: list[str] = []
        self._test_cost_total = 0.0
        self._diagnosis: str | None = None
        self._last_kind: str | None = None
        self._log: list[str] = []

    # ------------------------------------------------------------------ episode

    def task_source(self) -> TaskSource[Case]:
        return case_source(
            self.split, use_eval_set=self.eval_set, records=self._records, dataset=self.dataset
        )

    def new_episode(self, task: Case) -> str:
        self._examined, self._tests, self._test_cost_total = [], [], 0.0
        self._diagnosis, self._last_kind, self._gain_bits = None, None, 0.0
        self._mediq = None
        if isinstance(task, MediQRecord):
            self._mediq = MediQEpisode(task, [])
            opening = self._mediq.record.opening()
            self._log = [opening]
            return (
                f"{opening}\nAsk the patient questions, then answer with a letter. "
                f"Turn 0 of {self.max_turns}."
            )
        chief, self._post = opening_posterior(self.kb, task)
        self._known, self._asked = {chief: True}, {chief}
        opening = opening_statement(self.kb, task)
        self._log = [opening]
        return (
            f"{opening}\nInterview, examine and test the patient, then diagnose. "
            f"Turn 0 of {self.max_turns}."
        )

    @property
    def _patient(self) -> Patient | None:
        """The simulated patient of a knowledge-base episode: the task itself (``None``
        in MediQ episodes and before the first reset)."""
        task = self._task
        return task if isinstance(task, Patient) else None

    @property
    def _lik(self) -> np.ndarray:
        return self.kb.likelihood(self._patient.sex if self._patient is not None else "F")

    # ------------------------------------------------------------------ actions

    def parse_action(self, reply: Reply) -> ClinicalAction:
        return parse_reply(reply, self._resolve)

    def _resolve(self, kind: ActionKind, arg: str) -> ClinicalAction:
        if self._mediq is not None:
            if kind != "diagnose":  # exams and tests become questions about their name
                return ClinicalAction(kind, arg)
            return ClinicalAction("diagnose", resolve_option(self._mediq, arg))
        return ClinicalAction(kind, resolve_argument(self.kb, self.lexicon, kind, arg))

    def apply_action(self, action: ClinicalAction) -> Transition:
        self._last_kind = action.kind
        self._gain_bits = 0.0
        if self._mediq is not None:
            return self._mediq_step(action)
        assert self._patient is not None
        if action.kind == "diagnose":
            return self._final(action.arg)
        if action.kind == "abstain":
            text = "You chose not to make a diagnosis. The consultation is over."
            self._log.append(f"Doctor: abstain()\n{text}")
            return Transition(text, {OUTCOME: 0.0}, terminated=True)
        components: dict[str, float] = {}
        if action.kind == "ask":
            answer = answer_question(
                self.kb, self.lexicon, self._patient, action.arg, self.np_random
            )
            self._asked.update(i for i, _ in answer.revealed)
            self._asked.update(answer.unsure)
            revealed, text = answer.revealed, f"Patient: “{answer.text}”"
            if self._voice is not None:
                facts = grounding_facts(self.kb, answer)
                role = f"You are {persona(self._patient)}."
                text = voice_answer(self._voice, self, role, facts, action.arg, text)
            self._log.append(f"Doctor: {action.arg}\n{text}")
        elif action.kind == "examine":
            report, revealed = exam_report(self.kb, self._patient, action.arg)
            if action.arg not in self._examined:
                self._examined.append(action.arg)
            text = report
            self._log.append(f"Doctor: examine({action.arg})\n{text}")
        else:
            report, revealed = lab_report(self.kb, self._patient, action.arg)
            if action.arg not in self._tests:
                self._tests.append(action.arg)
                cost = self.kb.test_cost(action.arg)
                self._test_cost_total += cost
                components[TEST_COST] = -cost
            text = f"Result — {report}"
            self._log.append(f"Doctor: order_test({action.arg})\n{text}")
        self._post, self._gain_bits = reveal_findings(self._post, self._lik, self._known, revealed)
        components[PROCESS] = self._gain_bits / self._norm
        return Transition(f"{text}\n{self._footer()}", components)

    def _mediq_step(self, action: ClinicalAction) -> Transition:
        assert self._mediq is not None
        record = self._mediq.record
        if action.kind == "diagnose":
            self._diagnosis = action.arg
            verdict = grade_option(record, action.arg)
            self._log.append(f"Doctor: answer({action.arg})\n{verdict.text}")
            return self._verdict_transition(verdict)
        if action.kind == "abstain":
            text = "You chose not to answer. The consultation is over."
            self._log.append(f"Doctor: abstain()\n{text}")
            return Transition(text, {OUTCOME: 0.0}, terminated=True)
        if self.turns_left == 0:  # MediQ answers max_questions questions, then wants a choice
            text = "No questions left: the consultation ends without an answer."
            self._log.append(f"Doctor: {action.arg}\n{text}")
            return Transition(text, {})
        text, index = self._mediq.respond(action.kind, action.arg)
        if self._voice is not None and action.kind == "ask":
            facts = [] if index is None else [record.facts[index]]
            text = voice_answer(
                self._voice, self, "Answer as the patient in the case.", facts, action.arg, text
            )
        self._log.append(f"Doctor: {action.arg}\n{text}")
        if self.turns_left == 1:
            text += "\nNo questions left: answer now with <answer>LETTER</answer>."
        return Transition(f"{text}\n{self._footer()}", {})

    def _final(self, condition: str) -> Transition:
        assert self._patient is not None
        self._diagnosis = condition
        verdict = grade_diagnosis(self.kb, condition, self._patient.condition, self.category_credit)
        self._log.append(f"Doctor: diagnose({condition})\n{verdict.text}")
        return self._verdict_transition(verdict)

    @staticmethod
    def _verdict_transition(verdict: Verdict) -> Transition:
        return Transition(
            verdict.text,
            {OUTCOME: verdict.outcome},
            terminated=True,
            success=verdict.right,
            final_answer=True,
        )

    def _footer(self) -> str:
        return (
            f"Turn {self.turn} of {self.max_turns}. Test costs so far: {self._test_cost_total:.2f}."
        )

    # ------------------------------------------------------------------ text

    def system_prompt(self) -> str:
        if self._mediq is not None:
            return self._mediq.system_prompt(self.max_turns, self.action_format())
        return kb_system_prompt(self.kb, self.max_turns, self.action_format())

    def action_format(self) -> str:
        return (
            "<action>QUESTION</action>, <action>examine(SYSTEM)</action>, "
            "<action>order_test(TEST)</action>, <answer>CONDITION</answer> or "
            "<action>abstain()</action>; or call the ask / examine / order_test / diagnose / "
            "abstain tools."
        )

    def render_text(self) -> str:
        self._require_started("render")
        truth = (
            self._mediq.record.answer_idx
            if self._mediq is not None
            else self._patient.condition
            if self._patient is not None
            else "?"
        )
        return f"[{self.task_id}; hidden condition: {truth}]\n" + "\n".join(self._log)

    def state_key_data(self) -> object:
        # What is known, not how it was worded (answers vary) or when it was asked.
        revealed = sorted(self._mediq.revealed) if self._mediq is not None else []
        return (
            sorted(self._known.items()),
            sorted(self._asked),
            sorted(self._examined),
            sorted(self._tests),
            self._diagnosis,
            revealed,
        )

    def episode_info(self) -> dict[str, Any]:
        return {
            "action": self._last_kind,
            "findings_revealed": (
                len(self._mediq.revealed) if self._mediq is not None else len(self._known)
            ),
            "tests_ordered": list(self._tests),
            "total_test_cost": round(self._test_cost_total, 10),
            "diagnosis": self._diagnosis,
            "info_gain_bits": self._gain_bits,
        }

    def random_action(self, rng: np.random.Generator) -> str:
        return random_reply(self.kb, None if self._mediq is None else self._mediq.record, rng)

    # ------------------------------------------------------------------ privileged

    def oracle_action(self) -> str:
        """Greedy expected information gain, then the MAP diagnosis
        (:mod:`mtenvs.envs.clinical.oracle`)."""
        self._require_started("oracle_action")
        if not self.episode_active:
            raise ResetNeededError("oracle_action() called after the episode ended; reset.")
        if self._mediq is not None:  # privileged: no model to be greedy over
            return f"<answer>{self._mediq.record.answer_idx}</answer>"
        return greedy_eig_reply(
            self.kb,
            self._post,
            self._lik,
            asked=self._asked | set(self._known),
            examined=self._examined,
            tests=self._tests,
            turns_left=self.turns_left,
        )

    def privileged(self) -> dict[str, Any]:
        self._require_started("privileged")
        if self._mediq is not None:
            record = self._mediq.record
            return {
                "true_condition": record.answer_idx,
                "answer_text": record.answer,
                "hidden_facts": [
                    f for i, f in enumerate(record.facts) if i not in self._mediq.revealed
                ],
            }
        assert self._patient is not None
        return {
            "true_condition": self._patient.condition,
            **posterior_summary(self.kb, self._post),
            "present_findings": list(self._patient.present),
        }
