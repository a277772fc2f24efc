"""What the doctor agent is told: the system prompt and the OpenAI function schemas of the
clinical actions (``info["tools"]`` at reset)."""

from __future__ import annotations

from typing import Any, Final

from mtenvs.envs.clinical.kb import KnowledgeBase

__all__ = ["CLINICAL_TOOLS", "kb_system_prompt"]


def _tool(name: str, description: str, arg: str | None = None, arg_doc: str = "") -> dict[str, Any]:
    properties = {arg: {"type": "string", "description": arg_doc}} if arg else {}
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": [arg] if arg else [],
            },
        },
    }


CLINICAL_TOOLS: Final[list[dict[str, Any]]] = [
    _tool(
        "ask",
        "Ask the patient one question in plain words.",
        "question",
        "The question, e.g. 'Do you have a fever?'",
    ),
    _tool(
        "examine",
        "Examine one body system.",
        "system",
        "general, cardiovascular, respiratory, abdominal, neurological, skin, ent, "
        "musculoskeletal or pelvic",
    ),
    _tool(
        "order_test",
        "Order a test (its cost is charged once).",
        "name",
        "Test id or name from the system prompt, e.g. 'chest_xray'",
    ),
    _tool(
        "diagnose",
        "Give the final diagnosis (ends the consultation).",
        "condition",
        "Condition id or name from the system prompt",
    ),
    _tool("abstain", "Decline to make a diagnosis (ends the consultation)."),
]


def kb_system_prompt(kb: KnowledgeBase, max_turns: int, action_format: str) -> str:
    """The rules, every system, test (with cost) and condition, and the reply format."""
    tests = "; ".join(f"{t.id} ({t.display}, cost {t.cost:.2f})" for t in kb.tests)
    conditions = "; ".join(f"{c.id} ({c.display})" for c in kb.conditions)
    return (
        "You are a doctor seeing a simulated patient. Find the diagnosis with as few "
        f"turns and as little test cost as you can; you have {max_turns} turns. Each "
        "turn do exactly one thing:\n"
        "- ask the patient one question in plain words, e.g. <action>Do you have a "
        "fever?</action> (the patient answers only what you ask);\n"
        "- examine a body system: <action>examine(SYSTEM)</action>;\n"
        "- order a test: <action>order_test(TEST)</action> (its cost is subtracted once);\n"
        "- give your final diagnosis: <answer>CONDITION</answer> (ends the consultation);\n"
        "- or decline to diagnose: <action>abstain()</action>.\n"
        f"Systems: {', '.join(kb.systems)}.\nTests: {tests}.\n"
        f"Conditions (use the id or the name): {conditions}.\n"
        f"Note: {kb.disclaimer}\nReply format: {action_format}"
    )
