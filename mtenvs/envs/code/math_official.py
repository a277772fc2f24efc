"""The official answer checks of GSM8K and MATH, for ``mtenvs/PythonMath-v0`` with ``dataset=``.

Agents trained on these sets (ReTool, SimpleTIR, UFO) report the numbers their authors'
checks give, so a dataset episode is graded by those checks, re-implemented here step for
step (pure string work, cheap enough to run on the host for an answer of at most
:data:`~mtenvs.envs.code.math_verify.MAX_ANSWER_CHARS` characters), and not by our symbolic
checker (:mod:`~mtenvs.envs.code.math_verify`), which would accept forms the official checks
refuse (``0.75`` for ``\\frac{3}{4}``) and so give scores no paper can be compared with.

**GSM8K** (openai/grade-school-math, ``grade_school_math/dataset.py``): ``extract_answer``
takes the first match of ``#### (-?[0-9.,]+)``, strips it and removes its commas, and
``is_correct`` compares the model's string with the gold one. The gold here is exactly that
(:func:`gsm8k_gold`). The agent's final answer is the text after ``#### `` when it has one,
else the last number in it (:func:`gsm8k_final_number`: ``$`` and thousands commas dropped,
``−`` read as ``-``, no exponents), and it is right when it is numerically equal to the gold
(:func:`gsm8k_equal`, exact decimal arithmetic): unlike the official string comparison,
``18.0`` or ``18.`` pass for ``18``; every GSM8K gold is an integer, so nothing else differs.

**MATH** (hendrycks/math): the gold is the content of the last ``\\boxed{…}`` of the solution
(``modeling/dataset/util.py::last_boxed_only_string``, braces balanced, then
``modeling/eval_math_gpt.py::remove_boxed``), and two answers are equal when their
normalised strings are (``modeling/math_equivalence.py::is_equiv`` with ``_strip_string``:
see :func:`strip_string`). Where the official code raises on a string (a second
``\\text{ ``, ``\\frac`` or ``\\sqrt`` with nothing after it) ``is_equiv`` compares the raw
strings instead, and so does :func:`is_equiv`. One addition: the official ``remove_boxed``
only knows ``\\boxed{``, so a solution whose last box is ``\\fbox{…}`` would have no gold;
:func:`remove_boxed` unwraps ``\\fbox{`` as well. The agent's answer is the content of its
last ``\\boxed{…}`` when it has one (what the official evaluation reads from a model's
output), else the whole answer with one pair of math delimiters (``$…$``, ``$$…$$``,
``\\(…\\)``, ``\\[…\\]``) removed (:func:`math_final_answer`).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Final

from mtenvs.envs.code.math_verify import MAX_ANSWER_CHARS, Verdict

__all__ = [
    "GSM8K_ANSWER",
    "grade_gsm8k",
    "grade_math",
    "gsm8k_equal",
    "gsm8k_final_number",
    "gsm8k_gold",
    "is_equiv",
    "last_boxed_only_string",
    "math_final_answer",
    "remove_boxed",
    "strip_string",
]

#: The official GSM8K answer pattern (``ANS_RE`` of grade_school_math/dataset.py).
GSM8K_ANSWER: Final = re.compile(r"#### (\-?[0-9\.\,]+)")
#: A number in the agent's text: an optional sign (not after a letter, digit or ``)``, so
#: ``5-3`` is two numbers), an optional ``$``, digits with optional thousands commas, and
#: an optional fraction part.
_NUMBER: Final = re.compile(
    r"(?:(?<![\w)])-)?\$?(?:(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+)"
)
_DELIMITERS: Final = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))


class _OfficialError(Exception):
    """Raised where the official MATH normalisation raises (``is_equiv`` catches it)."""


# --------------------------------------------------------------------------- GSM8K


def gsm8k_gold(answer: str) -> str | None:
    """The official ``extract_answer``: the number after ``#### ``, commas removed, or
    ``None`` when there is none."""
    match = GSM8K_ANSWER.search(answer)
    return match.group(1).strip().replace(",", "") if match else None


def gsm8k_final_number(text: str) -> str | None:
    """The agent's final number: the official extraction when the text has ``#### N``,
    else the last number in the text (``$`` and commas removed); ``None`` without one."""
    official = gsm8k_gold(text)
    if official is not None:
        return official
    numbers = _NUMBER.findall(text.replace("\u2212", "-"))
    return numbers[-1].replace("$", "").replace(",", "") if numbers else None


def gsm8k_equal(number: str, gold: str) -> bool:
    """Whether two extracted numbers are equal as exact decimals (``18.0`` is ``18``)."""
    try:
        return Decimal(number) == Decimal(gold)
    except InvalidOperation:
        return False


def grade_gsm8k(answer: str, gold: str) -> Verdict:
    """The verdict on the agent's ``answer`` for a GSM8K record whose gold number is
    ``gold`` (:func:`gsm8k_gold` of the record's answer)."""
    refused = _refuse(answer)
    if refused is not None:
        return refused
    number = gsm8k_final_number(answer)
    if number is None:
        return Verdict(
            False,
            0.0,
            "unparseable",
            "Your answer holds no number; a GSM8K answer is one number, e.g. 42.",
        )
    if gsm8k_equal(number, gold):
        return Verdict(True, 1.0, "correct", "Correct.")
    return Verdict(False, 0.0, "wrong", f"Your final number {number} is not the expected one.")


# --------------------------------------------------------------------------- MATH


def last_boxed_only_string(string: str) -> str | None:
    """The last ``\\boxed…`` (or, without one, ``\\fbox…``) up to the ``}`` that balances
    the braces after it, as the official ``last_boxed_only_string``; ``None`` without a
    box or a balancing brace."""
    idx = string.rfind("\\boxed")
    if idx < 0:
        idx = string.rfind("\\fbox")
        if idx < 0:
            return None
    depth = 0
    for i in range(idx, len(string)):
        if string[i] == "{":
            depth += 1
        elif string[i] == "}":
            depth -= 1
            if depth == 0:
                return string[idx : i + 1]
    return None


def remove_boxed(boxed: str | None) -> str | None:
    """The content of ``\\boxed{…}`` (the official ``remove_boxed``) or of ``\\fbox{…}``
    (an addition); ``None`` for anything else (``\\boxed 5``, ``None``)."""
    if boxed is None:
        return None
    for left in ("\\boxed{", "\\fbox{"):
        if boxed.startswith(left) and boxed.endswith("}"):
            return boxed[len(left) : -1]
    return None


def math_final_answer(text: str) -> str | None:
    """What the official evaluation compares from the agent's answer: the content of its
    last box, else the answer without surrounding math delimiters; ``None`` for a box
    that is not closed."""
    if "\\boxed" in text or "\\fbox" in text:
        return remove_boxed(last_boxed_only_string(text))
    text = text.strip()
    for left, right in _DELIMITERS:
        inner = text[len(left) : len(text) - len(right)]
        if (
            len(text) >= len(left) + len(right)
            and text.startswith(left)
            and text.endswith(right)
            and "$" not in inner
        ):
            return inner.strip()
    return text


def _fix_fracs(string: str) -> str:
    # \frac12 -> \frac{1}{2}, \frac1{72} -> \frac{1}{72} (not \frac{72}1).
    substrs = string.split("\\frac")
    new_str = substrs[0]
    for substr in substrs[1:]:
        new_str += "\\frac"
        if not substr:  # the official code's substr[0] raises an IndexError here
            raise _OfficialError("\\frac with nothing after it")
        if substr[0] == "{":
            new_str += substr
            continue
        if len(substr) < 2:
            return string
        a, b = substr[0], substr[1]
        if b != "{":
            new_str += "{" + a + "}{" + b + "}" + substr[2:]
        else:
            new_str += "{" + a + "}" + b + substr[2:]
    return new_str


def _fix_a_slash_b(string: str) -> str:
    # An integer ratio a/b written exactly so becomes \frac{a}{b}.
    parts = string.split("/")
    if len(parts) != 2:
        return string
    try:
        a, b = int(parts[0]), int(parts[1])
    except ValueError:
        return string
    if string != f"{a}/{b}":
        return string
    return "\\frac{" + str(a) + "}{" + str(b) + "}"


def _remove_right_units(string: str) -> str:
    # The official note: "\text{ " only ever describes units (in the validation set).
    if "\\text{ " not in string:
        return string
    splits = string.split("\\text{ ")
    if len(splits) != 2:  # the official code asserts there is one
        raise _OfficialError("several \\text{ units")
    return splits[0]


def _fix_sqrt(string: str) -> str:
    # \sqrt3 -> \sqrt{3}
    if "\\sqrt" not in string:
        return string
    splits = string.split("\\sqrt")
    new_string = splits[0]
    for split in splits[1:]:
        if not split:  # the official code's split[0] raises an IndexError here
            raise _OfficialError("\\sqrt with nothing after it")
        if split[0] != "{":
            new_string += "\\sqrt{" + split[0] + "}" + split[1:]
        else:
            new_string += "\\sqrt" + split
    return new_string


def strip_string(string: str) -> str:
    """The official ``_strip_string``, step for step: drop line breaks and ``\\!``; ``\\\\``
    to ``\\``; ``tfrac``/``dfrac`` to ``frac``; drop ``\\left``, ``\\right``,
    ``^{\\circ}``, ``^\\circ``, ``\\$``, the units after a ``\\text{ `` and ``\\%``;
    ``" ."``/``"{."``/a leading ``.`` get their ``0``; drop a left side of at most two
    characters before the one ``=`` (``x = 3``); ``\\sqrt3`` to ``\\sqrt{3}``; drop spaces;
    ``\\frac12`` to ``\\frac{1}{2}``; ``0.5`` to ``\\frac{1}{2}``; ``a/b`` (integers) to
    ``\\frac{a}{b}``.

    Raises ``_OfficialError`` where the official code raises (:func:`is_equiv` then
    compares the raw strings, as the official one does).
    """
    string = string.replace("\n", "")
    string = string.replace("\\!", "")
    string = string.replace("\\\\", "\\")
    string = string.replace("tfrac", "frac")
    string = string.replace("dfrac", "frac")
    string = string.replace("\\left", "")
    string = string.replace("\\right", "")
    string = string.replace("^{\\circ}", "")
    string = string.replace("^\\circ", "")
    string = string.replace("\\$", "")
    string = _remove_right_units(string)
    string = string.replace("\\%", "")
    string = string.replace(" .", " 0.")
    string = string.replace("{.", "{0.")
    if not string:
        return string
    if string[0] == ".":
        string = "0" + string
    sides = string.split("=")
    if len(sides) == 2 and len(sides[0]) <= 2:
        string = sides[1]
    string = _fix_sqrt(string)
    string = string.replace(" ", "")
    string = _fix_fracs(string)
    if string == "0.5":
        string = "\\frac{1}{2}"
    return _fix_a_slash_b(string)


def is_equiv(str1: str | None, str2: str | None) -> bool:
    """The official ``is_equiv``: equal normalised strings (:func:`strip_string`); the raw
    strings where normalising raises; two ``None`` are equal, one ``None`` is not."""
    if str1 is None and str2 is None:
        return True
    if str1 is None or str2 is None:
        return False
    try:
        return strip_string(str1) == strip_string(str2)
    except _OfficialError:
        return str1 == str2


def grade_math(answer: str, gold: str) -> Verdict:
    """The verdict on the agent's ``answer`` for a MATH record whose gold answer is
    ``gold`` (the content of the solution's last box)."""
    refused = _refuse(answer)
    if refused is not None:
        return refused
    final = math_final_answer(answer)
    if final is None:
        return Verdict(
            False,
            0.0,
            "unparseable",
            "Your \\boxed{…} is not closed (or not written \\boxed{…}); give the answer "
            "inside \\boxed{…} or on its own.",
        )
    if is_equiv(final, gold):
        return Verdict(True, 1.0, "correct", "Correct.")
    return Verdict(
        False,
        0.0,
        "wrong",
        "Your answer does not match the expected one (compared as MATH's official "
        "grader does: as strings, after its normalisation of LaTeX, units and fractions).",
    )


def _refuse(answer: str) -> Verdict | None:
    if not isinstance(answer, str) or not answer.strip():
        return Verdict(False, 0.0, "unparseable", "The answer is empty.")
    if len(answer) > MAX_ANSWER_CHARS:
        return Verdict(
            False, 0.0, "unparseable", f"The answer is longer than {MAX_ANSWER_CHARS} characters."
        )
    return None
