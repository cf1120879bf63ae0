"""The QiskitJob's phase machine: the terminal guard, what the inputs say (one ``Cause``), and one
function per cause that says the job's status.

Shaped like KubeRay's RayJob controller and kopf: *detection* is pure and comes first and alone
(``detect``: which single thing the job, its stored status and its Workflow say now); then exactly
one function of ``PHASE_FUNCTIONS`` makes the whole status for that cause; the status is returned once,
complete, and written once by the controller. Failure reasons are ``Reason`` members throughout.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from qiskit_argo.api import TERMINAL_PHASES, CacheStatus, Phase, QiskitJob, QiskitJobStatus, StepProgress
from qiskit_argo.reasons import Reason
from qiskit_argo.status import _conditions
from qiskit_argo.status._argo import (
    NODE_DONE,
    NODE_FAILED,
    get,
    workflow_completed,
    workflow_phase,
    workflow_suspended,
)
from qiskit_argo.status._messages import (
    created_message,
    deleted_message,
    one_line,
    progress_message,
    succeeded_message,
    suspended_message,
)
from qiskit_argo.status._workflow import (
    STEP_PHASE,
    FailureAt,
    WorkflowView,
    cache_status,
    failure_reason,
    job_progress,
    older_than_known,
    outputs,
    overlay_ibm,
    parse_time,
    phase_step,
    step_progress,
    waiting_step,
)

__all__ = [
    "Cause",
    "Failure",
    "Inputs",
    "PHASE_FUNCTIONS",
    "TransitionEvent",
    "is_terminal",
    "spec_fixed",
    "detect",
    "failed_status",
    "with_generation",
    "phase_changed",
    "transition_event",
]


@dataclass(frozen=True)
class Failure:
    """A failure the controller detected itself (not reported by Argo), e.g. a name conflict."""

    reason: Reason
    message: str


# --------------------------------------------------------------------------- the terminal guard


def spec_fixed(status: QiskitJobStatus, generation: int | None) -> bool:
    """Failed/InvalidSpec written for an older generation: the spec reads now, the job starts over."""
    return status.reason == Reason.INVALID_SPEC and status.observed_generation != generation


def is_terminal(status: QiskitJobStatus | None, generation: int | None) -> bool:
    """Whether ``status`` is final for the job's ``generation`` and must not change.

    Succeeded and Failed are final: nothing a Workflow does (Argo's TTL deleting it, a late event)
    changes them, and only ``observedGeneration`` follows the job — except a Failed/InvalidSpec
    written for an older generation (``spec_fixed``): nothing ran, and the new spec may read.
    The one check the status logic and the controller make.
    """
    return status is not None and status.phase in TERMINAL_PHASES and not spec_fixed(status, generation)


def with_generation(previous: QiskitJobStatus, generation: int | None) -> QiskitJobStatus:
    """``previous`` unchanged but for ``observedGeneration`` (its own and its conditions')."""
    status = previous.model_copy(deep=True)
    status.observed_generation = generation
    status.conditions = [
        condition.model_copy(update={"observed_generation": generation}) for condition in status.conditions
    ]
    return status


# --------------------------------------------------------------------------- what the inputs say


class Cause(StrEnum):
    """The one thing the inputs say now; ``PHASE_FUNCTIONS`` has one function for each."""

    #: The status is final for this generation (``is_terminal``).
    FINAL = "Final"
    #: The controller found a failure itself (``Failure``: name conflict, Workflow rejected).
    CONTROLLER_FAILURE = "ControllerFailure"
    #: The Workflow existed and is gone before it finished.
    WORKFLOW_DELETED = "WorkflowDeleted"
    #: The Workflow is older than what the status shows: it must not move the job backwards.
    STALE_WORKFLOW = "StaleWorkflow"
    #: No Workflow yet, and the controller waits before making one (``Inputs.waiting``: the job's
    #: QiskitSession is not open yet).
    WAITING = "Waiting"
    #: No Workflow yet.
    NO_WORKFLOW = "NoWorkflow"
    WORKFLOW_SUCCEEDED = "WorkflowSucceeded"
    WORKFLOW_FAILED = "WorkflowFailed"
    #: Suspended, and the Workflow carries the job's ``spec.suspend`` (see ``_suspended``).
    WORKFLOW_SUSPENDED = "WorkflowSuspended"
    WORKFLOW_RUNNING = "WorkflowRunning"
    #: Created, not started by Argo yet (or a phase this version does not know).
    WORKFLOW_PENDING = "WorkflowPending"


@dataclass(frozen=True)
class Inputs:
    """Everything one status is made from."""

    job: QiskitJob
    #: The stored status (already started over when ``spec_fixed``).
    previous: QiskitJobStatus
    generation: int | None
    workflow: Mapping[str, Any] | None
    workflow_missing: bool
    failure: Failure | None
    now: datetime
    #: The name the job's Workflow has (``metadata.name``), or had, or will have.
    workflow_name: str
    #: The name it is created with.
    expected_name: str
    #: Why the controller does not create the Workflow yet (e.g. SessionNotReady); the job waits in Pending.
    waiting: Failure | None = None


def _suspended(job: QiskitJob, previous: QiskitJobStatus, workflow: Mapping[str, Any]) -> bool:
    """Whether the job shows Suspended: when the Workflow is suspended — unless the Workflow has not
    caught up with the job's ``spec.suspend`` yet (the controller is about to patch it, or this is
    a snapshot from before its last patch): then the phase stays what it was."""
    suspended = workflow_suspended(workflow)
    if suspended != bool(job.spec.suspend) and not workflow_completed(workflow):
        return previous.phase == Phase.SUSPENDED.value
    return suspended


def detect(inputs: Inputs) -> Cause:
    """Which ``Cause`` the inputs say; pure, first, and the only place that asks."""
    previous, workflow = inputs.previous, inputs.workflow
    if is_terminal(previous, inputs.generation):
        return Cause.FINAL
    if inputs.failure is not None:
        return Cause.CONTROLLER_FAILURE
    if inputs.workflow_missing and not workflow_completed(workflow):
        return Cause.WORKFLOW_DELETED
    if workflow is None:
        return Cause.NO_WORKFLOW if inputs.waiting is None else Cause.WAITING
    if older_than_known(previous, workflow):
        return Cause.STALE_WORKFLOW
    phase = workflow_phase(workflow)
    if phase == "Succeeded":
        return Cause.WORKFLOW_SUCCEEDED
    if phase in ("Failed", "Error"):
        return Cause.WORKFLOW_FAILED
    if _suspended(inputs.job, previous, workflow):
        return Cause.WORKFLOW_SUSPENDED
    if phase == "Running":
        return Cause.WORKFLOW_RUNNING
    return Cause.WORKFLOW_PENDING


# --------------------------------------------------------------------------- failed, by anyone


def failed_status(
    previous: QiskitJobStatus,
    *,
    generation: int | None,
    reason: Reason | str,
    message: str,
    now: datetime,
    workflow_name: str | None,
    steps: list[StepProgress] | None = None,
) -> QiskitJobStatus:
    """Failed for a reason found outside the Workflow's nodes (the controller's, InvalidSpec);
    what the steps did stays known."""
    status = previous.model_copy(deep=True)
    message = one_line(message)
    status.phase = Phase.FAILED.value  # type: ignore[assignment]
    status.reason = reason
    status.message = message
    status.observed_generation = generation
    status.workflow_name = workflow_name
    status.completion_time = status.completion_time or now
    if steps is not None:
        status.steps = steps
    failure = FailureAt(reason, message, phase_step(Phase.VALIDATING) if reason == Reason.INVALID_SPEC else None)
    known = {step.name: {"phase": step.phase} for step in previous.steps}
    wants = _conditions.wanted(Phase.FAILED, known, failure, message, status.circuit, status.backend)
    status.conditions = _conditions.merge(previous.conditions, wants, now, generation)
    return status


# --------------------------------------------------------------------------- one function per cause


def _final(inputs: Inputs) -> QiskitJobStatus:
    return with_generation(inputs.previous, inputs.generation)


def _stale(inputs: Inputs) -> QiskitJobStatus:
    # A Workflow snapshot older than what the status already shows (a late watch event after a
    # fresher read, another replica's older view): it must not move the job backwards.
    return with_generation(inputs.previous, inputs.generation)


def _controller_failure(inputs: Inputs) -> QiskitJobStatus:
    assert inputs.failure is not None
    return failed_status(
        inputs.previous,
        generation=inputs.generation,
        reason=inputs.failure.reason,
        message=inputs.failure.message,
        now=inputs.now,
        workflow_name=inputs.previous.workflow_name,
    )


def _workflow_deleted(inputs: Inputs) -> QiskitJobStatus:
    steps = [
        step if step.phase in NODE_DONE or step.phase in NODE_FAILED else step.model_copy(update={"phase": "Omitted"})
        for step in inputs.previous.steps
    ]
    return failed_status(
        inputs.previous,
        generation=inputs.generation,
        reason=Reason.WORKFLOW_DELETED,
        message=deleted_message(inputs.workflow_name),
        now=inputs.now,
        workflow_name=inputs.workflow_name,
        steps=steps,
    )


def _no_workflow(inputs: Inputs) -> QiskitJobStatus:
    previous = inputs.previous
    status = previous.model_copy(deep=True)
    status.observed_generation = inputs.generation
    status.phase = Phase.PENDING.value  # type: ignore[assignment]
    if inputs.waiting is not None:
        status.reason = inputs.waiting.reason
        status.message = one_line(inputs.waiting.message)
    else:
        status.reason = Reason.WORKFLOW_NOT_CREATED
        status.message = created_message(inputs.expected_name)
    wants = _conditions.wanted(Phase.PENDING, {}, None, status.message, status.circuit, status.backend)
    status.conditions = _conditions.merge(previous.conditions, wants, inputs.now, inputs.generation)
    return status


def _progress_and_cache(status: QiskitJobStatus, view: WorkflowView) -> None:
    """``status.progress`` and ``status.cache`` from the execute steps' nodes; unreadable nodes
    keep what the status knew."""
    if not view.by_step:
        return
    total = status.circuit.num_bindings if status.circuit is not None else None
    progress = job_progress(view.by_step, view.nodes, total)
    cache = cache_status(view.by_step, view.nodes)
    status.progress = progress or status.progress
    if cache is not None:
        status.cache = CacheStatus.model_validate(cache)


class _Decision(NamedTuple):
    """What one phase function decides; the rest of the status is the same for every phase."""

    phase: Phase
    reason: Reason | str | None
    message: str
    failure: FailureAt | None = None


def _succeeded(inputs: Inputs, view: WorkflowView, status: QiskitJobStatus) -> _Decision:
    message = succeeded_message(status.result, status.result_location, view.name)
    return _Decision(Phase.SUCCEEDED, Reason.SUCCEEDED, message)


def _failed(inputs: Inputs, view: WorkflowView, status: QiskitJobStatus) -> _Decision:
    assert inputs.workflow is not None
    failure = failure_reason(inputs.workflow)
    return _Decision(Phase.FAILED, failure.reason, failure.message, failure)


def _suspended_phase(inputs: Inputs, view: WorkflowView, status: QiskitJobStatus) -> _Decision:
    return _Decision(Phase.SUSPENDED, Reason.SUSPENDED, suspended_message(view.current, inputs.job.spec.suspend))


def _running(inputs: Inputs, view: WorkflowView, status: QiskitJobStatus) -> _Decision:
    phase = STEP_PHASE.get(view.current or "", Phase.RUNNING)
    step = view.current or view.execute_step
    message = progress_message(
        phase, step, status.backend, view.name, status.ibm, waits_for_ibm=waiting_step(view.current)
    )
    return _Decision(phase, None, message)


def _pending(inputs: Inputs, view: WorkflowView, status: QiskitJobStatus) -> _Decision:
    waiting = str(get(inputs.workflow, "status", "message") or "")
    message = progress_message(Phase.PENDING, view.current, status.backend, view.name)
    return _Decision(Phase.PENDING, Reason.WORKFLOW_PENDING, one_line(message + (f": {waiting}" if waiting else "")))


def _following(
    decide: Callable[[Inputs, WorkflowView, QiskitJobStatus], _Decision],
) -> Callable[[Inputs], QiskitJobStatus]:
    """A phase function over the Workflow: ``decide`` says phase, reason and message; the steps'
    outputs and progress, the times and the conditions are the same for every phase."""

    def phase_function(inputs: Inputs) -> QiskitJobStatus:
        assert inputs.workflow is not None
        previous, workflow = inputs.previous, inputs.workflow
        view = WorkflowView.of(workflow, inputs.workflow_name)
        status = previous.model_copy(deep=True)
        status.observed_generation = inputs.generation
        status.workflow_name = view.name
        # Outputs: whatever the steps have published so far; keep what we knew if nodes are unreadable.
        published = outputs(view.by_step)
        status.circuit = published.circuit or status.circuit
        status.backend = published.backend or status.backend
        status.result = published.result or status.result
        status.result_location = published.result_location or status.result_location
        status.ibm = overlay_ibm(status.ibm, published.ibm)

        decision = decide(inputs, view, status)
        status.phase = decision.phase.value  # type: ignore[assignment]
        status.reason = decision.reason
        status.message = decision.message
        terminal = decision.phase.value in TERMINAL_PHASES
        status.steps = step_progress(view.by_step, view.nodes, previous.steps, terminal)
        _progress_and_cache(status, view)
        if status.start_time is None and decision.phase != Phase.PENDING:
            status.start_time = parse_time(get(workflow, "status", "startedAt")) or inputs.now
        if terminal:
            finished = parse_time(get(workflow, "status", "finishedAt"))
            status.completion_time = status.completion_time or finished or inputs.now
        else:
            status.completion_time = None
        wants = _conditions.wanted(
            decision.phase, view.by_step, decision.failure, decision.message, status.circuit, status.backend
        )
        status.conditions = _conditions.merge(previous.conditions, wants, inputs.now, inputs.generation)
        return status

    return phase_function


#: The phase machine: one function per cause, each making the whole status.
PHASE_FUNCTIONS: Mapping[Cause, Callable[[Inputs], QiskitJobStatus]] = {
    Cause.FINAL: _final,
    Cause.CONTROLLER_FAILURE: _controller_failure,
    Cause.WORKFLOW_DELETED: _workflow_deleted,
    Cause.STALE_WORKFLOW: _stale,
    Cause.WAITING: _no_workflow,
    Cause.NO_WORKFLOW: _no_workflow,
    Cause.WORKFLOW_SUCCEEDED: _following(_succeeded),
    Cause.WORKFLOW_FAILED: _following(_failed),
    Cause.WORKFLOW_SUSPENDED: _following(_suspended_phase),
    Cause.WORKFLOW_RUNNING: _following(_running),
    Cause.WORKFLOW_PENDING: _following(_pending),
}


# --------------------------------------------------------------------------- transitions


def phase_changed(old: QiskitJobStatus | None, new: QiskitJobStatus) -> bool:
    """Whether a transition worth an Event happened (phase or failure reason changed)."""
    if old is None:
        return True
    return (old.phase, old.reason) != (new.phase, new.reason)


class TransitionEvent(NamedTuple):
    """The Event that announces a status: ``Warning`` with the failure reason when it failed,
    else ``Normal`` with the phase."""

    type: str
    reason: str
    message: str


def transition_event(status: QiskitJobStatus) -> TransitionEvent:
    phase = str(status.phase)
    message = status.message or phase
    if phase == Phase.FAILED.value:
        return TransitionEvent("Warning", str(status.reason or phase), message)
    return TransitionEvent("Normal", phase, message)
