"""The job's metav1 conditions: which ones a phase wants, and how they merge with the stored ones.

``merge`` is the metav1 rule every kind follows: ``lastTransitionTime`` moves only when a
condition's ``status`` changes (so ``kubectl wait --for=condition=Succeeded`` works and an
unchanged job yields an unchanged status), every condition carries ``observedGeneration``, and
conditions someone else added are kept. ``wanted`` is the QiskitJob's table: Validated and
Scheduled follow the steps whose ``StepSpec.phase`` is Validating and Scheduling; Running,
Succeeded, Failed and Suspended follow the phase.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from qiskit_argo.api import BackendStatus, CircuitMetrics, Condition, ConditionType, Phase
from qiskit_argo.reasons import Reason
from qiskit_argo.status._argo import NODE_FAILED
from qiskit_argo.status._messages import backend_text, one_line
from qiskit_argo.status._workflow import FailureAt, phase_step

__all__ = ["Want", "merge", "wanted"]

Status = Literal["True", "False", "Unknown"]


@dataclass(frozen=True)
class Want:
    """One condition as the phase wants it (its time is decided by ``merge``); ``type`` is the
    kind's condition type (``ConditionType`` for a job, ``BackendConditionType``...)."""

    type: ConditionType | StrEnum
    status: Status
    reason: str
    message: str = ""


def merge(
    previous: Iterable[Condition], wants: Iterable[Want], now: datetime, generation: int | None
) -> list[Condition]:
    """Ours in the order wanted, then the ones someone else added, untouched."""
    before = {condition.type: condition for condition in previous}
    ours: list[Condition] = []
    for want in wants:
        old = before.pop(want.type.value, None)
        moved = old is None or old.status != want.status
        ours.append(
            Condition(
                type=want.type.value,
                status=want.status,
                reason=want.reason,
                message=one_line(want.message),
                last_transition_time=now if moved or old is None else old.last_transition_time,
                observed_generation=generation,
            )
        )
    return ours + list(before.values())


def _step(
    kind: ConditionType,
    step: str,
    node: Mapping[str, Any] | None,
    ok_reason: Reason,
    ok_message: str,
    phase: Phase,
    failure: FailureAt | None,
) -> Want:
    """A condition that follows one step: True when it succeeded, False when it failed, else Unknown."""
    node_phase = node.get("phase") if node else None
    if node_phase == "Succeeded":
        return Want(kind, "True", ok_reason, ok_message)
    if failure is not None and failure.step == step:
        return Want(kind, "False", failure.reason, failure.message)
    if node_phase in NODE_FAILED:
        return Want(kind, "False", Reason.STEP_FAILED, f"{step} ended {node_phase}")
    if failure is not None:
        return Want(kind, "Unknown", failure.reason, f"{step} did not finish: {failure.message}")
    if node_phase in ("Running", "Pending"):
        return Want(kind, "Unknown", Reason.IN_PROGRESS, f"{step} is {str(node_phase).lower()}")
    return Want(kind, "Unknown", phase.value, f"{step} has not started")


def wanted(
    phase: Phase,
    by_step: Mapping[str, Mapping[str, Any]],
    failure: FailureAt | None,
    message: str,
    circuit: CircuitMetrics | None,
    backend: BackendStatus | None,
) -> list[Want]:
    """Every condition of ours for a job in ``phase``; their reason is the failure's when there is
    one, else the phase (or the step's own reason for Validated and Scheduled)."""
    validated_message = (
        f"{circuit.num_qubits} qubits, depth {circuit.depth}, {circuit.size} operations" if circuit else "circuit valid"
    )
    scheduled_message = backend_text(backend) if backend else "backend chosen"
    running = phase in (Phase.VALIDATING, Phase.SCHEDULING, Phase.RUNNING)
    failed = phase == Phase.FAILED
    reason_now = failure.reason if failure else phase.value
    succeeded: Status = "True" if phase == Phase.SUCCEEDED else "False" if failed else "Unknown"
    validating, scheduling = phase_step(Phase.VALIDATING), phase_step(Phase.SCHEDULING)
    return [
        _step(
            ConditionType.VALIDATED,
            validating,
            by_step.get(validating),
            Reason.CIRCUIT_VALID,
            validated_message,
            phase,
            failure,
        ),
        _step(
            ConditionType.SCHEDULED,
            scheduling,
            by_step.get(scheduling),
            Reason.BACKEND_CHOSEN,
            scheduled_message,
            phase,
            failure,
        ),
        Want(ConditionType.RUNNING, "True" if running else "False", reason_now, message),
        Want(ConditionType.SUCCEEDED, succeeded, reason_now, message),
        Want(ConditionType.FAILED, "True" if failed else "False", reason_now, message),
        Want(ConditionType.SUSPENDED, "True" if phase == Phase.SUSPENDED else "False", reason_now, message),
    ]
