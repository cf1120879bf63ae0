"""Argo's depends and when, as the local runner evaluates them (Argo v4.1's semantics)."""

from __future__ import annotations

from typing import Any

import pytest

from qiskit_argo.expressions import ExpressionError, depends_tasks, evaluate_depends, when_holds

# --------------------------------------------------------------------------- depends

PHASES = {"a": "Succeeded", "b": "Failed", "c": "Skipped", "d": "Omitted", "e": "Error", "sub-task": "Succeeded"}


@pytest.mark.parametrize(
    ("logic", "runs"),
    [
        ("a", True),
        ("b", False),
        ("c", True),  # a bare name: Succeeded, Skipped or Daemoned
        ("d", False),
        ("e", False),
        ("a && c", True),
        ("a && b", False),
        ("a.Succeeded", True),
        ("c.Succeeded", False),
        ("c.Skipped", True),
        ("d.Omitted", True),
        ("b.Failed", True),
        ("e.Errored", True),
        ("a.Daemoned", False),
        ("c.Succeeded || a.Succeeded", True),
        ("(c.Succeeded || d.Succeeded)", False),
        ("a && (c.Succeeded || sub-task.Succeeded)", True),
        ("!b", True),
        ("!(a && c)", False),
        ("a || b && d", True),  # && binds tighter than ||
        ("(a || b) && d", False),
    ],
)
def test_depends_follows_argo(logic: str, runs: bool) -> None:
    assert evaluate_depends(logic, PHASES, {}) is runs


@pytest.mark.parametrize(("continue_on", "runs"), [({}, False), ({"failed": True}, True), ({"error": True}, False)])
def test_a_bare_name_honours_continue_on(continue_on: dict[str, Any], runs: bool) -> None:
    assert evaluate_depends("b", PHASES, {"b": continue_on}) is runs


def test_depends_names_each_task_once() -> None:
    assert depends_tasks("a && (b.Succeeded || b.Failed) && sub-task") == ["a", "b", "sub-task"]


@pytest.mark.parametrize(
    ("logic", "message"),
    [
        ("a.AnySucceeded", "the result must be one of"),
        ("a.Finished", "the result must be one of"),
        ("a &&", "ends too early"),
        ("(a || c", "ends too early"),
        ("a c", "unexpected 'c'"),
        ("a && zz", "no task 'zz'"),
        ("a ; c", "cannot read it"),
    ],
)
def test_depends_rejects(logic: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        evaluate_depends(logic, PHASES, {})


# --------------------------------------------------------------------------- when


@pytest.mark.parametrize(
    ("when", "holds"),
    [
        ("aer == aer", True),
        ("aer == ibm", False),
        ("aer != ibm", True),
        ("  aer==aer  ", True),
        ("'a b' == 'a b'", True),
        ('"aer" == aer', True),
        ("1 == 1.0", True),
        ("1 == one", False),
        ("true", True),
        ("false", False),
        ("true == true", True),
    ],
)
def test_when_compares_like_govaluate(when: str, holds: bool) -> None:
    assert when_holds(when) is holds


@pytest.mark.parametrize("when", ["execute-aer == aer", "aer", "a == b == c", "a < b", "a == b && c == d", ""])
def test_when_outside_the_simple_form_is_refused(when: str) -> None:
    with pytest.raises(ExpressionError):
        when_holds(when)
