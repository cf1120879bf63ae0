"""A job's IBM side as the controller needs it: may its Workflow reach IBM (the finalizer), may its
IBM job still be live (cancel on delete or suspend), where to cancel it, and whether the job's
QiskitSession lets it start.

Pure functions of the job, its status, its Workflow and its QiskitSession; the controller calls
them around its API requests.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, NamedTuple

from qiskit_argo.api import QiskitJob, QiskitJobStatus, QiskitSession
from qiskit_argo.reasons import Reason
from qiskit_argo.status._argo import get, workflow_nodes
from qiskit_argo.status._machine import Failure, is_terminal
from qiskit_argo.status._workflow import IBM_PARAMETER, SUBMISSION_PARAMETER, step_nodes
from qiskit_argo.steps import CREDENTIALS_KEY_PARAMETER, CREDENTIALS_SECRET_PARAMETER, STEPS

__all__ = [
    "IBM_FINAL_STATES",
    "CancelTarget",
    "may_reach_ibm",
    "ibm_job_final",
    "needs_finalizer",
    "ibm_branch_started",
    "ibm_possibly_live",
    "cancel_target",
    "workflow_generation",
    "session_gate",
]

#: ``IbmJobStatus.state`` values after which the IBM job can no longer run.
IBM_FINAL_STATES = frozenset({"Done", "Failed", "Cancelled"})
#: The schedule step's outputs that say where the IBM job runs and with which Secret.
_TARGET = "target"
_EXECUTOR = "executor"
_IBM = "ibm"


def _output(node: Mapping[str, Any] | None, name: str) -> str | None:
    for parameter in get(node, "outputs", "parameters") or []:
        if isinstance(parameter, Mapping) and parameter.get("name") == name and isinstance(parameter.get("value"), str):
            return str(parameter["value"])
    return None


def _produced(by_step: Mapping[str, Mapping[str, Any]], name: str) -> str | None:
    """The latest value any step published for output parameter ``name``."""
    for spec in reversed(STEPS.producers(name)):
        value = _output(by_step.get(spec.name), name)
        if value is not None:
            return value
    return None


def may_reach_ibm(job: QiskitJob, status: QiskitJobStatus | None) -> bool:
    """Whether the job's Workflow may submit to IBM: the schedule step chose an ibm backend, or
    (not chosen yet) a ``ref``, a selector that allows ibm, or a session could lead there."""
    backend = status.backend if status is not None else None
    if backend is not None and backend.name:
        return backend.type == _IBM
    spec = job.spec
    if spec.session_ref or spec.backend.ref:
        return True
    selector = spec.backend.selector
    return selector is not None and selector.type != "aer"


def ibm_job_final(status: QiskitJobStatus | None) -> bool:
    """Whether the job's IBM job has finished at IBM (done, failed or cancelled)."""
    return status is not None and status.ibm is not None and status.ibm.state in IBM_FINAL_STATES


def needs_finalizer(job: QiskitJob, status: QiskitJobStatus | None) -> bool:
    """Whether the job should carry the IBM-cancel finalizer now: not finished, its Workflow may
    reach IBM, and its IBM job (if any) is not final."""
    return not is_terminal(status, job.metadata.generation) and may_reach_ibm(job, status) and not ibm_job_final(status)


def ibm_branch_started(status: QiskitJobStatus | None, workflow: Mapping[str, Any] | None) -> bool:
    """Whether the IBM branch may have submitted: the schedule step chose ibm (its ``executor``
    output, or the status's backend), or a step that submits has a node that is not Skipped."""
    by_step = step_nodes(workflow_nodes(workflow))
    if _produced(by_step, _EXECUTOR) == _IBM:
        return True
    if status is not None and status.backend is not None and status.backend.type == _IBM:
        return True
    for spec in STEPS.producers(SUBMISSION_PARAMETER):
        node = by_step.get(spec.name)
        if node is not None and node.get("type") != "Skipped":
            return True
    return False


def ibm_possibly_live(status: QiskitJobStatus | None, workflow: Mapping[str, Any] | None) -> bool:
    """Whether an IBM job of this job may still be queued or running at IBM: the IBM branch
    started, and neither the status nor the step that waits for it says it finished."""
    if not ibm_branch_started(status, workflow) or ibm_job_final(status):
        return False
    by_step = step_nodes(workflow_nodes(workflow))
    for spec in STEPS.producers(IBM_PARAMETER):
        node = by_step.get(spec.name)
        if node is not None and node.get("phase") == "Succeeded":
            return False
    return True


class CancelTarget(NamedTuple):
    """Where the job's IBM job runs (the schedule step's ``target.json``) and the Secret key it
    was reached with (``None``: none, e.g. a local-testing fake backend)."""

    target: dict[str, Any]
    secret: str | None
    key: str | None


def cancel_target(workflow: Mapping[str, Any] | None) -> CancelTarget | None:
    """The schedule step's ``target``, ``credentials-secret`` and ``credentials-key`` outputs as
    the job's Workflow holds them; None when it has not published a readable IBM target."""
    by_step = step_nodes(workflow_nodes(workflow))
    raw = _produced(by_step, _TARGET)
    if raw is None:
        return None
    try:
        target = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(target, dict) or not target:
        return None
    return CancelTarget(
        target=target,
        secret=_produced(by_step, CREDENTIALS_SECRET_PARAMETER),
        key=_produced(by_step, CREDENTIALS_KEY_PARAMETER),
    )


#: The job document the Workflow carries (the validate task's raw ``job`` artifact).
_JOB_ARTIFACT = "job"


def workflow_generation(workflow: Mapping[str, Any] | None) -> int | None:
    """The job generation a Workflow was made for (the IBM job's identity tag has it): the job
    document it carries (``metadata.generation`` of the raw ``job`` artifact). None when the
    Workflow does not say (a slim copy without its spec)."""
    for template in get(workflow, "spec", "templates") or []:
        for task in get(template, "dag", "tasks") or []:
            for artifact in get(task, "arguments", "artifacts") or []:
                if not isinstance(artifact, Mapping) or artifact.get("name") != _JOB_ARTIFACT:
                    continue
                data = get(artifact, "raw", "data")
                try:
                    document = json.loads(data) if isinstance(data, str) else None
                except ValueError:
                    continue
                generation = get(document, "metadata", "generation")
                if isinstance(generation, int) and not isinstance(generation, bool):
                    return generation
    return None


def session_gate(job: QiskitJob, session: QiskitSession | None) -> tuple[Failure | None, Failure | None]:
    """``(waiting, failure)`` for a job with ``spec.sessionRef`` before its Workflow is made:
    a session that does not exist or is not Ready (with its runtime id) → waiting, SessionNotReady;
    one that is Closing, Closed or Failed (or being deleted) → failure, SessionClosed; Ready → neither."""
    name = job.spec.session_ref
    if not name:
        return None, None
    if session is None:
        return (
            Failure(
                Reason.SESSION_NOT_READY,
                f"spec.sessionRef: there is no QiskitSession {name} in namespace {job.namespace}; create it "
                f"(kubectl get qs -n {job.namespace}); the job starts once it is Ready",
            ),
            None,
        )
    status = session.status
    phase = str(status.phase) if status is not None else "Pending"
    said = f": {status.message}" if status is not None and status.message else ""
    if phase in ("Closing", "Closed", "Failed") or session.metadata.deletion_timestamp is not None:
        shown = "being deleted" if phase not in ("Closed", "Failed") else phase
        return None, Failure(
            Reason.SESSION_CLOSED,
            f"spec.sessionRef: QiskitSession {name} is {shown}{said}; no job can run in it any more: create a new "
            "QiskitSession and a new QiskitJob naming it",
        )
    if phase != "Ready" or status is None or not status.session_id:
        return (
            Failure(
                Reason.SESSION_NOT_READY,
                f"spec.sessionRef: QiskitSession {name} is {phase}{said}; the job starts once it is Ready",
            ),
            None,
        )
    return None, None
