"""Argo's two little condition languages, as far as the local runner (``qiskit_argo.local``) needs them.

Each follows Argo v4.1's source, so a Workflow that branches runs here as it runs in a cluster:

* ``depends`` (``workflow/common/ancestry.go``, ``workflow/controller/dag.go``): task names, each
  bare or with a result (``A.Succeeded``, ``.Failed``, ``.Errored``, ``.Skipped``, ``.Omitted``,
  ``.Daemoned``), joined by ``&&``, ``||``, ``!`` and parentheses. A bare name means
  ``(A.Succeeded || A.Skipped || A.Daemoned)``, plus ``A.Failed``/``A.Errored`` when task ``A``
  has ``continueOn``. Argo evaluates it once every task it names has finished; false: Omitted.
* ``when`` (``shouldExecute`` in ``workflow/controller/steps.go``): after ``{{...}}`` substitution,
  a govaluate expression in which a bare word is a string. Only the simple form is supported
  here: ``A == B`` or ``A != B`` of words, numbers or quoted strings, or ``true``/``false``.
  False: the task is Skipped.

Nothing here evaluates Python: each is read by a small hand-written parser.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = [
    "ExpressionError",
    "TASK_RESULTS",
    "depends_tasks",
    "evaluate_depends",
    "when_holds",
]


class ExpressionError(ValueError):
    """An expression that cannot be parsed or evaluated (the message says which and why)."""


# --------------------------------------------------------------------------- depends

#: A task's result as ``depends`` names it -> the node phases that make it true.
TASK_RESULTS: Mapping[str, frozenset[str]] = {
    "Succeeded": frozenset({"Succeeded"}),
    "Failed": frozenset({"Failed"}),
    "Errored": frozenset({"Error"}),
    "Skipped": frozenset({"Skipped"}),
    "Omitted": frozenset({"Omitted"}),
    "Daemoned": frozenset(),  # no daemon steps run locally
}
_DEPENDS_TOKEN = re.compile(r"\s*(?:(&&|\|\||!|\(|\))|([a-zA-Z0-9][-a-zA-Z0-9]*)(?:\.([A-Za-z]+))?)")


def _depends_tokens(logic: str) -> Iterator[tuple[str, str, str | None]]:
    """``("op", "&&", None)`` or ``("task", NAME, RESULT or None)``."""
    position, end = 0, len(logic.rstrip())
    while position < end:
        match = _DEPENDS_TOKEN.match(logic, position)
        if match is None or match.end() == position:
            raise ExpressionError(f"depends {logic!r}: cannot read it at {logic[position:].strip()!r}")
        position = match.end()
        if match.group(1):
            yield "op", match.group(1), None
        else:
            result = match.group(3)
            if result is not None and result not in TASK_RESULTS:
                known = ", ".join(TASK_RESULTS)
                raise ExpressionError(f"depends {logic!r}: {match.group(0).strip()}: the result must be one of {known}")
            yield "task", match.group(2), result


def depends_tasks(logic: str) -> list[str]:
    """The tasks a ``depends`` expression names, in order, each once."""
    return list(dict.fromkeys(name for kind, name, _ in _depends_tokens(logic) if kind == "task"))


def evaluate_depends(logic: str, phases: Mapping[str, str], continue_on: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether a task whose ``depends`` is ``logic`` runs, given each task's phase (``phases``) and
    each task's ``continueOn`` (for bare names)."""
    tokens = list(_depends_tokens(logic))
    position = 0

    def peek() -> tuple[str, str, str | None] | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> tuple[str, str, str | None]:
        nonlocal position
        token = peek()
        if token is None:
            raise ExpressionError(f"depends {logic!r}: it ends too early")
        position += 1
        return token

    def result(name: str, which: str) -> bool:
        if name not in phases:
            raise ExpressionError(f"depends {logic!r}: no task {name!r}")
        return phases[name] in TASK_RESULTS[which]

    def atom() -> bool:
        kind, value, which = take()
        if kind == "op" and value == "!":
            return not atom()
        if kind == "op" and value == "(":
            inner = disjunction()
            if take()[1] != ")":
                raise ExpressionError(f"depends {logic!r}: a parenthesis is not closed")
            return inner
        if kind != "task":
            raise ExpressionError(f"depends {logic!r}: unexpected {value!r}")
        if which is not None:
            return result(value, which)
        own = continue_on.get(value) or {}
        bare = ["Succeeded", "Skipped", "Daemoned"]
        bare += ["Errored"] if own.get("error") else []
        bare += ["Failed"] if own.get("failed") else []
        return any(result(value, each) for each in bare)

    def conjunction() -> bool:
        value = atom()
        while (token := peek()) is not None and token[1] == "&&":
            take()
            right = atom()  # both sides always read: a malformed right side is an error either way
            value = value and right
        return value

    def disjunction() -> bool:
        value = conjunction()
        while (token := peek()) is not None and token[1] == "||":
            take()
            right = conjunction()
            value = value or right
        return value

    outcome = disjunction()
    if peek() is not None:
        raise ExpressionError(f"depends {logic!r}: unexpected {peek()[1]!r}")  # type: ignore[index]
    return outcome


# --------------------------------------------------------------------------- when

_WHEN_OPERAND = r"'[^']*'|\"[^\"]*\"|[^\s=!'\"]+"
_WHEN = re.compile(rf"\s*({_WHEN_OPERAND})\s*(==|!=)\s*({_WHEN_OPERAND})\s*")
#: What govaluate reads as a variable (Argo turns those into strings) or a number.
_WHEN_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_WHEN_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")


def _when_operand(text: str, when: str) -> object:
    if text[:1] in ("'", '"'):
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    if _WHEN_NUMBER.fullmatch(text):
        return float(text)
    if _WHEN_WORD.fullmatch(text):
        return text
    raise ExpressionError(
        f"when {when!r}: {text!r} is not a word, a number or a quoted string "
        "(govaluate would read it as an expression; quote it)"
    )


def when_holds(when: str) -> bool:
    """Whether a ``when`` (already substituted) holds: ``aer == aer``, ``'a b' != c``, ``true``."""
    text = when.strip()
    if text in ("true", "false"):
        return text == "true"
    match = _WHEN.fullmatch(text)
    if match is None:
        raise ExpressionError(f"when {when!r}: only 'A == B' or 'A != B' (words, numbers, quoted strings) runs locally")
    left, right = _when_operand(match.group(1), when), _when_operand(match.group(3), when)
    equal = type(left) is type(right) and left == right
    return equal if match.group(2) == "==" else not equal
