"""Pure status logic: the whole QiskitJob status, computed from the job and its Argo Workflow.

``next_status(job, workflow, now)`` is the one place that decides what ``kubectl get qj`` and
``kubectl describe qj`` show: the phase, the metav1 conditions, the per-step progress read from
the Workflow's ``status.nodes``, the step outputs (circuit metrics, chosen backend, result
summary, where the full result lives) and a reason a person can act on when something failed.
It does no I/O and never raises on a strange Workflow: whatever Argo wrote, a status comes out.
How Argo's node tree and messages are read is ``qiskit_argo.argo_nodes``.

The controller calls it after every change it sees and writes the result only when it differs
from what is stored, so the function must be idempotent: with unchanged inputs and a later
``now`` it returns the same status (a condition's ``lastTransitionTime`` moves only when its
``status`` changes; start and completion times are taken once). And it never moves the job
backwards on an older observation: a Workflow snapshot older than what the status shows (a step
it shows started or finished is missing or unfinished there), or one that has not caught up with
the job's ``spec.suspend`` yet, leaves the phase where it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from qiskit_argo.api import (
    TERMINAL_PHASES,
    BackendStatus,
    CircuitMetrics,
    Condition,
    ConditionType,
    Phase,
    QiskitJob,
    QiskitJobStatus,
    ResultLocation,
    ResultSummary,
    StepProgress,
)
from qiskit_argo.argo_nodes import (
    NODE_DONE,
    NODE_FAILED,
    classify_message,
    get,
    step_failure,
    step_message,
    task_nodes,
    workflow_completed,
    workflow_failure,
    workflow_nodes,
    workflow_phase,
    workflow_suspended,
)
from qiskit_argo.naming import LABEL_JOB, LABEL_JOB_UID, workflow_name
from qiskit_argo.steps import STEPS

__all__ = [
    "Failure",
    "REASON_INVALID_SPEC",
    "REASON_WORKFLOW_DELETED",
    "REASON_WORKFLOW_CONFLICT",
    "REASON_WORKFLOW_REJECTED",
    "STEP_NAMES",
    "MAX_MESSAGE",
    "next_status",
    "invalid_spec_status",
    "parse_status",
    "failure_reason",
    "classify_message",
    "step_nodes",
    "workflow_nodes",
    "workflow_phase",
    "workflow_completed",
    "workflow_suspended",
    "workflow_belongs_to",
    "suspend_patch",
    "phase_changed",
]

REASON_INVALID_SPEC = "InvalidSpec"
REASON_WORKFLOW_DELETED = "WorkflowDeleted"
REASON_WORKFLOW_CONFLICT = "WorkflowConflict"
REASON_WORKFLOW_REJECTED = "WorkflowRejected"

#: The DAG's steps in the order they run; a node whose displayName is one of these is that step.
STEP_NAMES: tuple[str, ...] = tuple(STEPS)
#: Which job phase a step being the current one means.
_STEP_PHASE = {"validate": Phase.VALIDATING, "schedule": Phase.SCHEDULING}
#: Longest message kept in status (conditions allow 32 kB; a person reads one line).
MAX_MESSAGE = 1024

_M = TypeVar("_M", bound=BaseModel)

_get = get
_NODE_FAILED = NODE_FAILED
_NODE_DONE = NODE_DONE


@dataclass(frozen=True)
class Failure:
    """A failure the controller detected itself (not reported by Argo), e.g. a name conflict."""

    reason: str
    message: str


# --------------------------------------------------------------------------- reading a Workflow


def step_nodes(nodes: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The task node of each DAG step, keyed by step name (see ``argo_nodes.task_nodes``)."""
    return task_nodes(nodes, STEP_NAMES)


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _output_parameter(node: Mapping[str, Any] | None, name: str) -> str | None:
    for parameter in _get(node, "outputs", "parameters") or []:
        if isinstance(parameter, Mapping) and parameter.get("name") == name:
            value = parameter.get("value")
            return value if isinstance(value, str) else None
    return None


def _output_model(node: Mapping[str, Any] | None, name: str, model: type[_M]) -> _M | None:
    value = _output_parameter(node, name)
    if value is None:
        return None
    try:
        return model.model_validate_json(value)
    except ValidationError:
        return None


#: Where an artifact's key lives, per artifact repository kind (Argo's Artifact locations).
_ARTIFACT_KEYS: tuple[tuple[str, str], ...] = (
    ("s3", "key"),
    ("gcs", "key"),
    ("oss", "key"),
    ("azure", "blob"),
    ("hdfs", "path"),
    ("http", "url"),
    ("artifactory", "url"),
)


def _result_location(node: Mapping[str, Any] | None) -> ResultLocation | None:
    for name, _ in STEPS["store-results"].output_artifacts.items():
        for artifact in _get(node, "outputs", "artifacts") or []:
            if not isinstance(artifact, Mapping) or artifact.get("name") != name:
                continue
            key = None
            for kind, field in _ARTIFACT_KEYS:
                value = _get(artifact, kind, field)
                if isinstance(value, str) and value:
                    key = value
                    break
            path = artifact.get("path") if isinstance(artifact.get("path"), str) else None
            return ResultLocation(artifact=name, key=key, path=path)
    return None


# --------------------------------------------------------------------------- reasons


def failure_reason(workflow: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """Why a Failed/Error Workflow failed: ``(Reason, message for a person, failed step or None)``.

    The first failed step decides (``argo_nodes.step_failure``: the step's own reason behind
    Argo's ``main: Error (exit code N):`` prefix, an OOM kill, a deadline...); without one, the
    Workflow's own message or any failed node's.
    """
    nodes = workflow_nodes(workflow)
    by_step = step_nodes(nodes)
    phase = workflow_phase(workflow)
    fallback = "WorkflowError" if phase == "Error" else "WorkflowFailed"
    for step in STEP_NAMES:
        node = by_step.get(step)
        if node is None or node.get("phase") not in _NODE_FAILED:
            continue
        failure = step_failure(node, nodes)
        return failure.reason, _one_line(f"{step} failed: {failure.detail}"), step
    # Not a step (the template could not be resolved, the Workflow was stopped before a step ran...).
    reason, detail = workflow_failure(workflow, nodes)
    if reason is not None or detail:
        return reason or fallback, _one_line(f"Workflow {phase.lower() or 'failed'}: {detail}"), None
    name = _get(workflow, "metadata", "name") or "the Workflow"
    return fallback, f"Workflow {name} ended {phase or 'Failed'} without a message", None


# --------------------------------------------------------------------------- ownership, suspend


def workflow_belongs_to(workflow: Mapping[str, Any], job: QiskitJob) -> bool:
    """Is this Workflow the job's own child? By ownerReference uid, else by the job-uid label."""
    uid = job.metadata.uid
    labels = _get(workflow, "metadata", "labels") or {}
    if uid:
        for owner in _get(workflow, "metadata", "ownerReferences") or []:
            if isinstance(owner, Mapping) and owner.get("uid") == uid:
                return True
        return labels.get(LABEL_JOB_UID) == uid
    return labels.get(LABEL_JOB) == job.name and _get(workflow, "metadata", "namespace") in (None, job.namespace)


def suspend_patch(job: QiskitJob, workflow: Mapping[str, Any]) -> dict[str, Any] | None:
    """The merge patch that makes the Workflow's ``spec.suspend`` follow the job's, or None.

    Resuming removes the field (``null``), as ``argo resume`` does. A finished Workflow is left alone.
    """
    if workflow_completed(workflow):
        return None
    actual = bool(_get(workflow, "spec", "suspend"))
    if actual == job.spec.suspend:
        return None
    return {"spec": {"suspend": True if job.spec.suspend else None}}


def phase_changed(old: QiskitJobStatus | None, new: QiskitJobStatus) -> bool:
    """Whether a transition worth an Event happened (phase or failure reason changed)."""
    if old is None:
        return True
    return (old.phase, old.reason) != (new.phase, new.reason)


# --------------------------------------------------------------------------- parsing stored status


def parse_status(raw: Any) -> QiskitJobStatus | None:
    """Read a stored status leniently: fields this version does not understand are dropped.

    A status written by a newer controller, or edited by hand, must never make the job look
    invalid; whatever cannot be read is recomputed.
    """
    if not isinstance(raw, Mapping) or not raw:
        return None
    try:
        return QiskitJobStatus.model_validate(dict(raw))
    except ValidationError:
        pass
    kept: dict[str, Any] = {}
    for key, value in raw.items():
        candidate = {**kept, key: value}
        try:
            QiskitJobStatus.model_validate(candidate)
        except ValidationError:
            continue
        kept = candidate
    return QiskitJobStatus.model_validate(kept) if kept else None


# --------------------------------------------------------------------------- conditions


@dataclass(frozen=True)
class _Want:
    type: ConditionType
    status: str
    reason: str
    message: str = ""


def _merge_conditions(
    previous: Iterable[Condition], wanted: Iterable[_Want], now: datetime, generation: int | None
) -> list[Condition]:
    before = {condition.type: condition for condition in previous}
    ours: list[Condition] = []
    for want in wanted:
        old = before.pop(want.type.value, None)
        moved = old is None or old.status != want.status
        ours.append(
            Condition(
                type=want.type.value,
                status=want.status,  # type: ignore[arg-type]
                reason=want.reason,
                message=_one_line(want.message),
                last_transition_time=now if moved or old is None else old.last_transition_time,
                observed_generation=generation,
            )
        )
    # Conditions someone else added stay, after ours, untouched.
    return ours + list(before.values())


def _step_condition(
    kind: ConditionType,
    step: str,
    node: Mapping[str, Any] | None,
    ok_reason: str,
    ok_message: str,
    phase: Phase,
    failure: tuple[str, str, str | None] | None,
) -> _Want:
    node_phase = node.get("phase") if node else None
    if node_phase == "Succeeded":
        return _Want(kind, "True", ok_reason, ok_message)
    if failure is not None and failure[2] == step:
        return _Want(kind, "False", failure[0], failure[1])
    if node_phase in _NODE_FAILED:
        return _Want(kind, "False", "StepFailed", f"{step} ended {node_phase}")
    if failure is not None:
        return _Want(kind, "Unknown", failure[0], f"{step} did not finish: {failure[1]}")
    if node_phase in ("Running", "Pending"):
        return _Want(kind, "Unknown", "InProgress", f"{step} is {str(node_phase).lower()}")
    return _Want(kind, "Unknown", phase.value, f"{step} has not started")


def _conditions(
    phase: Phase,
    by_step: Mapping[str, Mapping[str, Any]],
    failure: tuple[str, str, str | None] | None,
    message: str,
    circuit: CircuitMetrics | None,
    backend: BackendStatus | None,
) -> list[_Want]:
    validated_message = (
        f"{circuit.num_qubits} qubits, depth {circuit.depth}, {circuit.size} operations" if circuit else "circuit valid"
    )
    scheduled_message = _backend_text(backend) if backend else "backend chosen"
    running = phase in (Phase.VALIDATING, Phase.SCHEDULING, Phase.RUNNING)
    failed = phase == Phase.FAILED
    reason_now = failure[0] if failure else phase.value
    return [
        _step_condition(
            ConditionType.VALIDATED,
            "validate",
            by_step.get("validate"),
            "CircuitValid",
            validated_message,
            phase,
            failure,
        ),
        _step_condition(
            ConditionType.SCHEDULED,
            "schedule",
            by_step.get("schedule"),
            "BackendChosen",
            scheduled_message,
            phase,
            failure,
        ),
        _Want(ConditionType.RUNNING, "True" if running else "False", reason_now, message),
        _Want(
            ConditionType.SUCCEEDED,
            "True" if phase == Phase.SUCCEEDED else "False" if failed else "Unknown",
            reason_now,
            message,
        ),
        _Want(ConditionType.FAILED, "True" if failed else "False", reason_now, message),
        _Want(ConditionType.SUSPENDED, "True" if phase == Phase.SUSPENDED else "False", reason_now, message),
    ]


# --------------------------------------------------------------------------- messages


def _backend_text(backend: BackendStatus) -> str:
    text = backend.name + (f" ({backend.method})" if backend.method else "")
    return text + (f": {backend.reason}" if backend.reason else "")


def _result_text(result: ResultSummary | None, location: ResultLocation | None) -> str:
    parts: list[str] = []
    if result is not None:
        pubs = f"{result.num_pubs} PUB" + ("s" if result.num_pubs != 1 else "")
        if result.top_counts:
            top = max(result.top_counts.items(), key=lambda item: item[1])
            parts.append(f"{result.primitive}, {pubs}" + (f", {result.shots} shots" if result.shots else ""))
            parts.append(f"most frequent {top[0]} ({top[1]})")
        elif result.expectation_values:
            values = ", ".join(f"{value:.4g}" for value in result.expectation_values[:4])
            more = ", …" if len(result.expectation_values) > 4 else ""
            parts.append(f"{result.primitive}, {pubs}, <O> = [{values}{more}]")
        else:
            parts.append(f"{result.primitive}, {pubs}")
    if location is not None:
        parts.append(f"full result in artifact {location.artifact}" + (f" ({location.key})" if location.key else ""))
    return "; ".join(parts)


def _progress_message(phase: Phase, current: str | None, backend: BackendStatus | None, wf_name: str) -> str:
    if phase == Phase.PENDING:
        return f"Workflow {wf_name} created; waiting for Argo to start it"
    if phase == Phase.VALIDATING:
        return "Validating the circuit (step validate)"
    if phase == Phase.SCHEDULING:
        return "Choosing a backend (step schedule)"
    where = f" on {_backend_text(backend)}" if backend else ""
    if current == "store-results":
        return "Storing the results (step store-results)"
    return f"Running the circuit{where} (step {current or 'execute-aer'})"


# --------------------------------------------------------------------------- the status


def _updated_generation(previous: QiskitJobStatus, generation: int | None) -> QiskitJobStatus:
    status = previous.model_copy(deep=True)
    status.observed_generation = generation
    status.conditions = [
        condition.model_copy(update={"observed_generation": generation}) for condition in status.conditions
    ]
    return status


def _failed(
    previous: QiskitJobStatus,
    *,
    generation: int | None,
    reason: str,
    message: str,
    now: datetime,
    workflow_name_: str | None,
    steps: list[StepProgress] | None = None,
) -> QiskitJobStatus:
    status = previous.model_copy(deep=True)
    message = _one_line(message)
    status.phase = Phase.FAILED.value  # type: ignore[assignment]
    status.reason = reason
    status.message = message
    status.observed_generation = generation
    status.workflow_name = workflow_name_
    status.completion_time = status.completion_time or now
    if steps is not None:
        status.steps = steps
    failure = (reason, message, "validate" if reason == REASON_INVALID_SPEC else None)
    known = {step.name: {"phase": step.phase} for step in previous.steps}  # what the steps did stays known
    wanted = _conditions(Phase.FAILED, known, failure, message, status.circuit, status.backend)
    status.conditions = _merge_conditions(previous.conditions, wanted, now, generation)
    return status


def invalid_spec_status(
    previous: QiskitJobStatus | None, *, generation: int | None, message: str, now: datetime
) -> QiskitJobStatus:
    """Failed/InvalidSpec for a job whose spec cannot be read (e.g. created under an older CRD).

    Terminal like any failure; the controller writes it once and does not retry.
    """
    previous = previous or QiskitJobStatus()
    if previous.phase in TERMINAL_PHASES and previous.reason != REASON_INVALID_SPEC:
        return _updated_generation(previous, generation)  # it ran and finished: that stays
    return _failed(
        previous,
        generation=generation,
        reason=REASON_INVALID_SPEC,
        message=f"spec is invalid: {message}",
        now=now,
        workflow_name_=previous.workflow_name,
    )


def _steps(
    by_step: Mapping[str, Mapping[str, Any]],
    nodes: Mapping[str, Mapping[str, Any]],
    previous: list[StepProgress],
    terminal: bool,
) -> list[StepProgress]:
    if not by_step and previous:
        return [step.model_copy(deep=True) for step in previous]  # nodes unreadable: keep what we knew
    steps: list[StepProgress] = []
    for name in STEP_NAMES:
        node = by_step.get(name)
        if node is None:
            steps.append(StepProgress(name=name, phase="Omitted" if terminal else "Pending"))
            continue
        message = step_message(node, nodes)
        steps.append(
            StepProgress(
                name=name,
                phase=str(node.get("phase") or "Pending"),
                started_at=_parse_time(node.get("startedAt")),
                finished_at=_parse_time(node.get("finishedAt")),
                message=_one_line(message) if message else None,
            )
        )
    return steps


#: How far a step has come, as the status shows it (``Pending`` there may mean "no node yet").
_STATUS_RANK = {"Running": 1, "Succeeded": 2, "Failed": 2, "Error": 2, "Skipped": 2, "Omitted": 2}
#: How far a step has come, as a node shows it.
_NODE_RANK = {"Pending": 0, "Running": 1, "Succeeded": 2, "Failed": 2, "Error": 2, "Skipped": 2, "Omitted": 2}


def _older_than_known(previous: QiskitJobStatus, workflow: Mapping[str, Any]) -> bool:
    """Whether this Workflow is older than what the status shows: a step it shows started or
    finished is absent, or not as far, in its nodes."""
    nodes = workflow_nodes(workflow)
    if not nodes:
        return False  # not started, or nodes unreadable (offloaded): nothing to compare
    by_step = step_nodes(nodes)
    for step in previous.steps:
        shown = _STATUS_RANK.get(str(step.phase), -1)
        if shown < 0:
            continue
        node = by_step.get(step.name)
        seen = -1 if node is None else _NODE_RANK.get(str(node.get("phase")), -1)
        if seen < shown:
            return True
    return False


def _suspended(job: QiskitJob, previous: QiskitJobStatus, workflow: Mapping[str, Any]) -> bool:
    """Whether the job shows Suspended: when the Workflow is suspended — unless the Workflow has not
    caught up with the job's ``spec.suspend`` yet (the controller is about to patch it, or this is
    a snapshot from before its last patch): then the phase stays what it was."""
    suspended = workflow_suspended(workflow)
    if suspended != bool(job.spec.suspend) and not workflow_completed(workflow):
        return previous.phase == Phase.SUSPENDED.value
    return suspended


def next_status(
    job: QiskitJob,
    workflow: Mapping[str, Any] | None,
    now: datetime,
    *,
    workflow_missing: bool = False,
    failure: Failure | None = None,
) -> QiskitJobStatus:
    """The job's whole status, given its Workflow as last read from the API.

    - ``workflow`` is the Workflow object (Argo's shape), or None when there is none (yet).
    - ``workflow_missing``: the Workflow existed and is gone (deleted by hand, or its DELETED
      watch event). ``workflow`` may then carry its last known state: if that had already
      finished, the outcome is taken from it; otherwise the job fails with WorkflowDeleted.
    - ``failure``: a failure the controller found itself (name conflict, Workflow rejected).

    Succeeded and Failed are final: once there, only ``observedGeneration`` follows the job —
    except InvalidSpec, which a new generation whose spec now reads clears (nothing ran yet).
    """
    previous = job.status or QiskitJobStatus()
    generation = job.metadata.generation
    expected_name = workflow_name(job.name, job.metadata.uid, job.namespace)
    wf_name = str(_get(workflow, "metadata", "name") or previous.workflow_name or expected_name)

    if previous.reason == REASON_INVALID_SPEC and previous.observed_generation != generation:
        # The spec was fixed (it parses now): start over, keeping only the conditions' history.
        previous = QiskitJobStatus(conditions=previous.conditions)
    if previous.phase in TERMINAL_PHASES:
        return _updated_generation(previous, generation)

    if failure is not None:
        return _failed(
            previous,
            generation=generation,
            reason=failure.reason,
            message=failure.message,
            now=now,
            workflow_name_=previous.workflow_name,
        )

    if workflow_missing and not workflow_completed(workflow):
        step_list = [
            step
            if step.phase in _NODE_DONE or step.phase in _NODE_FAILED
            else step.model_copy(update={"phase": "Omitted"})
            for step in previous.steps
        ]
        return _failed(
            previous,
            generation=generation,
            reason=REASON_WORKFLOW_DELETED,
            message=(
                f"Workflow {wf_name} was deleted before it finished; delete and re-create the QiskitJob to run it again"
            ),
            now=now,
            workflow_name_=wf_name,
            steps=step_list,
        )

    if workflow is not None and _older_than_known(previous, workflow):
        # A Workflow snapshot older than what the status already shows (a late watch event after a
        # fresher read, another replica's older view): it must not move the job backwards.
        return _updated_generation(previous, generation)

    status = previous.model_copy(deep=True)
    status.observed_generation = generation

    if workflow is None:
        status.phase = Phase.PENDING.value  # type: ignore[assignment]
        status.reason = "WorkflowNotCreated"
        status.message = f"Creating Workflow {expected_name}"
        wanted = _conditions(Phase.PENDING, {}, None, status.message, status.circuit, status.backend)
        status.conditions = _merge_conditions(previous.conditions, wanted, now, generation)
        return status

    status.workflow_name = wf_name
    nodes = workflow_nodes(workflow)
    by_step = step_nodes(nodes)
    wf_phase = workflow_phase(workflow)

    # Outputs: whatever the steps have published so far; keep what we knew if nodes are unreadable.
    status.circuit = _output_model(by_step.get("validate"), "metrics", CircuitMetrics) or status.circuit
    status.backend = _output_model(by_step.get("schedule"), "backend", BackendStatus) or status.backend
    status.result = (
        _output_model(by_step.get("store-results"), "summary", ResultSummary)
        or _output_model(by_step.get("execute-aer"), "summary", ResultSummary)
        or status.result
    )
    status.result_location = _result_location(by_step.get("store-results")) or status.result_location

    failed: tuple[str, str, str | None] | None = None
    current = next((name for name in STEP_NAMES if (by_step.get(name) or {}).get("phase") not in _NODE_DONE), None)
    if wf_phase == "Succeeded":
        phase = Phase.SUCCEEDED
        status.reason = "Succeeded"
        summary = _result_text(status.result, status.result_location)
        status.message = _one_line(f"Succeeded: {summary}" if summary else f"Workflow {wf_name} succeeded")
    elif wf_phase in ("Failed", "Error"):
        phase = Phase.FAILED
        failed = failure_reason(workflow)
        status.reason, status.message = failed[0], failed[1]
    elif _suspended(job, previous, workflow):
        phase = Phase.SUSPENDED
        status.reason = "Suspended"
        at = f" before step {current}" if current else ""
        if job.spec.suspend:
            status.message = f"Suspended{at} (spec.suspend is true); set it to false to resume"
        else:
            status.message = f"Suspended{at}; resuming (spec.suspend is false)"
    elif wf_phase == "Running":
        phase = _STEP_PHASE.get(current or "", Phase.RUNNING)
        status.reason = None
        status.message = _progress_message(phase, current, status.backend, wf_name)
    else:
        phase = Phase.PENDING
        status.reason = "WorkflowPending"
        pending = str(_get(workflow, "status", "message") or "")
        status.message = _one_line(
            _progress_message(phase, current, status.backend, wf_name) + (f": {pending}" if pending else "")
        )

    status.phase = phase.value  # type: ignore[assignment]
    terminal = phase.value in TERMINAL_PHASES
    status.steps = _steps(by_step, nodes, previous.steps, terminal)

    started = _parse_time(_get(workflow, "status", "startedAt"))
    if status.start_time is None and phase != Phase.PENDING:
        status.start_time = started or now
    if terminal:
        finished = _parse_time(_get(workflow, "status", "finishedAt"))
        status.completion_time = status.completion_time or finished or now
    else:
        status.completion_time = None

    wanted = _conditions(phase, by_step, failed, status.message or "", status.circuit, status.backend)
    status.conditions = _merge_conditions(previous.conditions, wanted, now, generation)
    return status
