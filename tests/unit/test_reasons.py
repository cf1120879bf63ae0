"""``Reason``: one list of reasons, shared by the steps' errors, the status logic and the controller."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from qiskit_argo import errors, reasons, safeio
from qiskit_argo.api._conditions import REASON_PATTERN
from qiskit_argo.reasons import (
    ARGO_REASONS,
    CONTROLLER_REASONS,
    EVENT_REASONS,
    FAILURE_REASONS,
    PROGRESS_REASONS,
    STATUS_REASONS,
    STEP_REASONS,
    Reason,
    reason_of,
)
from qiskit_argo.status import classify_message

REPO = Path(__file__).resolve().parents[2]
README = REPO / "controller" / "README.md"
#: Where reasons are produced: the library and the controller (not tests, not docs).
SOURCES = [*sorted((REPO / "qiskit_argo").rglob("*.py")), *sorted((REPO / "controller").rglob("*.py"))]


def test_every_member_is_camel_case_and_in_a_group() -> None:
    groups = STEP_REASONS | ARGO_REASONS | CONTROLLER_REASONS | PROGRESS_REASONS | EVENT_REASONS
    assert set(Reason) == groups
    for reason in Reason:
        assert re.fullmatch(REASON_PATTERN, reason.value), reason
        assert str(reason) == reason.value == f"{reason}"
    assert FAILURE_REASONS == STEP_REASONS | ARGO_REASONS | CONTROLLER_REASONS
    assert STATUS_REASONS == FAILURE_REASONS | PROGRESS_REASONS
    assert not (FAILURE_REASONS & PROGRESS_REASONS), "a reason is a failure or it is not"


def _readme_tables() -> list[set[str]]:
    """The words in the first column of each ``| reason | when |`` table of controller/README.md."""
    tables: list[set[str]] = []
    current: set[str] | None = None
    for line in README.read_text().splitlines():
        if line.strip() == "| reason | when |":
            current = set()
            tables.append(current)
        elif current is not None and line.startswith("|"):
            first = line.split("|")[1]
            current.update(re.findall(r"`([A-Za-z]+)`", first))
        else:
            current = None
    return tables


def test_the_controller_readme_lists_exactly_the_reasons_that_reach_a_status() -> None:
    failures, progress = _readme_tables()
    assert failures == {reason.value for reason in FAILURE_REASONS}
    assert progress == {reason.value for reason in PROGRESS_REASONS}
    assert failures | progress == {reason.value for reason in STATUS_REASONS}


def _error_classes() -> list[type[errors.QiskitArgoError]]:
    found: list[type[errors.QiskitArgoError]] = []
    todo: list[type[errors.QiskitArgoError]] = [errors.QiskitArgoError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += cls.__subclasses__()
    return found


def test_every_error_class_names_a_step_reason() -> None:
    assert safeio.UnsafePathError in _error_classes()
    for cls in _error_classes():
        assert isinstance(cls.reason, Reason), cls
        assert cls.reason in STEP_REASONS, cls


def test_an_error_takes_a_member_or_its_word_and_nothing_else() -> None:
    assert errors.TransientError("x", reason="MissingArtifact").reason is Reason.MISSING_ARTIFACT
    assert errors.PermanentError("x", reason=Reason.CORRUPT_RESULT).reason is Reason.CORRUPT_RESULT
    assert f"{errors.InvalidJobError('x').reason}: x" == "InvalidSpec: x"  # the termination line, unchanged
    with pytest.raises(ValueError, match="qiskit_argo.reasons.Reason"):
        errors.TransientError("x", reason="SomethingNew")
    with pytest.raises(ValueError, match="qiskit_argo.reasons.Reason"):
        type("Odd", (errors.PermanentError,), {"reason": "NotAReason"})


def test_a_step_word_is_read_as_the_member_and_an_unknown_one_as_written() -> None:
    assert reason_of("InvalidCircuit") is Reason.INVALID_CIRCUIT
    assert reason_of("FromANewerStep") == "FromANewerStep"
    reason, _ = classify_message("main: Error (exit code 2): InvalidCircuit: line 3: bad")
    assert reason is Reason.INVALID_CIRCUIT
    reason, detail = classify_message("main: Error (exit code 1): FromANewerStep: it says so")
    assert (reason, detail) == ("FromANewerStep", "it says so") and not isinstance(reason, Reason)


def _produced(sources: list[Path]) -> set[str]:
    """Every ``Reason.X`` named, every quoted word and every ``f"<Word>: ..."`` in ``sources``."""
    names: set[str] = set()
    for path in sources:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Reason":
                names.add(Reason[node.attr].value)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)
            elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
                # f"StepError: {...}": a termination line written with its reason word
                names.update(re.findall(r"^([A-Z][A-Za-z0-9]+): ", str(node.values[0].value)))
    return names


def test_no_member_is_dead() -> None:
    """Each member is produced somewhere besides its own definition (``Reason.X``, or — in a
    module not switched to the enum yet — its word)."""
    own = Path(reasons.__file__).resolve()
    produced = _produced([path for path in SOURCES if path.resolve() != own])
    assert {reason.value for reason in Reason} - produced == set()
