"""An LLM agent voicing the patient, grounded on exactly the facts the rules reveal.

With ``patient=`` an agent (``"hf:PATH"``, ``"openai:URL#MODEL"`` or any object with the
:class:`mtenvs.agents.Agent` ``act`` method), the rule layer still decides *what* a question
reveals (so the posterior and the rewards stay exact); the agent only words the answer. Its
prompt holds the persona and the facts revealed by this question, nothing else, so it cannot
reveal more or contradict the case unless it ignores its instructions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from mtenvs.core.agent import AgentInput, load_agent
from mtenvs.core.parsing import strip_think
from mtenvs.error import InvalidArgumentError

__all__ = ["PATIENT_PROMPT", "make_patient_agent", "voice_answer"]

PATIENT_PROMPT: Final = (
    "You are a patient talking to a doctor. {persona} Answer the doctor's last question in "
    "one or two short sentences of everyday language, using ONLY these facts:\n{facts}\n"
    "Never mention a diagnosis or a medical term the facts do not use, and never add "
    "symptoms. If there are no facts, say kindly that you don't know or don't understand."
)


def make_patient_agent(patient: object) -> Any | None:
    """``None`` for the rule-based patient, else the agent voicing it."""
    if patient == "rule":
        return None
    if isinstance(patient, str):
        if not patient.startswith(("hf:", "openai:")):
            raise InvalidArgumentError(
                f"Unknown patient {patient!r}; use 'rule', 'hf:PATH', 'openai:URL#MODEL' or an "
                "agent object with an act(batch) method."
            )
        return load_agent(patient)
    if not callable(getattr(patient, "act", None)):
        raise InvalidArgumentError(
            f"patient must be 'rule', an agent spec or an agent object, got {patient!r:.80}."
        )
    return patient


def voice_answer(
    agent: Any, env: object, persona: str, facts: Sequence[str], question: str, fallback: str
) -> str:
    """The agent's wording of the answer (the rule-based text if it replies with nothing)."""
    listed = "\n".join(f"- {f}" for f in facts) or "(none)"
    messages = [
        {"role": "system", "content": PATIENT_PROMPT.format(persona=persona, facts=listed)},
        {"role": "user", "content": question},
    ]
    reply = agent.act([AgentInput(messages=messages, env=env)])[0]
    text = strip_think(reply).strip() if isinstance(reply, str) else ""
    return f"Patient: “{text}”" if text else fallback
