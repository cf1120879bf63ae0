"""The status of a QiskitBackend and of a QiskitSession, from the service Workflows that talk to
IBM for them (``workflows.probe_workflow``, ``workflows.session_workflow``).

A service Workflow is one ``main`` DAG with one task named after its step; the step's output
parameter (``probe``, ``session``) is on that task's node (and, as a global output, in the
Workflow's ``status.outputs``). Pure functions: the controller reads the Workflow, calls these
and writes what they return. Conditions follow the metav1 rules (``_conditions.merge``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from qiskit_argo.api import (
    BackendCapabilities,
    BackendConditionType,
    BackendPhase,
    QiskitBackend,
    QiskitBackendStatus,
    QiskitSession,
    QiskitSessionStatus,
)
from qiskit_argo.api.session import SessionConditionType, SessionPhase
from qiskit_argo.status import _conditions
from qiskit_argo.status._argo import get, step_failure, task_nodes, workflow_failure, workflow_nodes, workflow_phase
from qiskit_argo.status._messages import one_line
from qiskit_argo.status._workflow import parse_time

__all__ = [
    "AER_DEVICE",
    "BACKEND_REASONS",
    "SESSION_REASONS",
    "service_output",
    "service_failure",
    "backend_status_from_probe",
    "session_status",
]

#: The device of an aer QiskitBackend (``AerSimulator().name``).
AER_DEVICE = "aer_simulator"
_PROBE = "ibm-probe"
_PROBE_OUTPUT = "probe"
_SESSION_OUTPUT = "session"

#: The reasons a QiskitBackend's conditions give besides the probe's own (``CredentialsRejected``,
#: ``CredentialsMissing``, ``BackendUnavailable``...): CamelCase, as metav1 requires.
BACKEND_REASONS = (
    "Disabled",
    "Simulator",
    "Probing",
    "Operational",
    "NotOperational",
    "CredentialsAccepted",
    "NotChecked",
    "ProbeFailed",
)
#: The reasons a QiskitSession gives besides a step's own (``CredentialsRejected``...).
SESSION_REASONS = ("Opening", "Open", "Closing", "Closed", "OpenFailed", "CloseFailed")


def service_output(workflow: Mapping[str, Any] | None, step: str, parameter: str) -> str | None:
    """The output parameter ``parameter`` of the task ``step``: its node, else the Workflow's
    global outputs (``status.outputs.parameters``); None when not published."""
    node = task_nodes(workflow_nodes(workflow), (step,)).get(step)
    sources = [get(node, "outputs", "parameters"), get(workflow, "status", "outputs", "parameters")]
    for parameters in sources:
        for found in parameters or []:
            if isinstance(found, Mapping) and found.get("name") == parameter and isinstance(found.get("value"), str):
                return str(found["value"])
    return None


def _document(workflow: Mapping[str, Any] | None, step: str, parameter: str) -> dict[str, Any] | None:
    text = service_output(workflow, step, parameter)
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def service_failure(workflow: Mapping[str, Any] | None, step: str) -> tuple[str, str]:
    """Why a service Workflow failed: ``(reason, detail)`` — the step's own reason when it wrote one."""
    nodes = workflow_nodes(workflow)
    node = task_nodes(nodes, (step,)).get(step)
    if node is not None and node.get("phase") in ("Failed", "Error"):
        failure = step_failure(node, nodes)
        return str(failure.reason), failure.detail
    reason, detail = workflow_failure(workflow or {}, nodes)
    return str(reason or "WorkflowFailed"), detail or f"Workflow {get(workflow, 'metadata', 'name')} failed"


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _capabilities(probe: Mapping[str, Any]) -> BackendCapabilities:
    gates = probe.get("basisGates")
    operational = probe.get("operational")
    status_message = probe.get("statusMessage")
    return BackendCapabilities(
        num_qubits=_int(probe.get("numQubits")),
        basis_gates=[str(gate) for gate in gates] if isinstance(gates, list) else [],
        operational=operational if isinstance(operational, bool) else None,
        pending_jobs=_int(probe.get("pendingJobs")),
        status_message=str(status_message) if isinstance(status_message, str) else None,
    )


def _backend_conditions(
    previous: QiskitBackendStatus, wants: list[_conditions.Want], now: datetime, generation: int | None
) -> list[Any]:
    return _conditions.merge(previous.conditions, wants, now, generation)


def backend_status_from_probe(
    backend: QiskitBackend, workflow: Mapping[str, Any] | None, now: datetime
) -> QiskitBackendStatus:
    """The backend's whole status: Disabled when ``spec.enabled`` is false (no probe), Ready for
    an aer backend (nothing to ask IBM), else what the probe Workflow found — Ready when IBM
    accepted the key and reports the device operational, NotReady with the probe's reason and
    message otherwise; Pending until the first probe finished. A probe still running keeps what
    the previous one found."""
    previous = backend.status or QiskitBackendStatus()
    status = previous.model_copy(deep=True)
    generation = backend.metadata.generation
    spec = backend.spec
    ready = BackendConditionType.READY
    credentials = BackendConditionType.CREDENTIALS_VALID
    wants: list[_conditions.Want] = []
    if spec.type == "aer":
        status.device = AER_DEVICE
        status.capabilities = None
        status.last_probe_time = None
        status.probe_workflow_name = None
    else:
        status.device = spec.backend or spec.fake_backend or status.device
    device = status.device or backend.name

    if not spec.enabled:
        status.phase = BackendPhase.DISABLED
        status.message = "spec.enabled is false: no new job is sent here; set it to true to use this backend again"
        status.observed_generation = generation
        wants.append(_conditions.Want(ready, "False", "Disabled", status.message))
        status.conditions = _backend_conditions(previous, wants, now, generation)
        return status
    if spec.type == "aer":
        status.phase = BackendPhase.READY
        method = spec.aer.method if spec.aer is not None else "automatic"
        status.message = f"Qiskit Aer simulator ({method}): ready; nothing to probe"
        status.observed_generation = generation
        wants.append(_conditions.Want(ready, "True", "Simulator", status.message))
        status.conditions = _backend_conditions(previous, wants, now, generation)
        return status

    real = spec.backend is not None
    name = get(workflow, "metadata", "name")
    phase = workflow_phase(workflow)
    if workflow is None or phase not in ("Succeeded", "Failed", "Error"):
        if isinstance(name, str):
            status.probe_workflow_name = name
        if previous.last_probe_time is None:
            status.phase = BackendPhase.PENDING
            status.message = one_line(
                f"Probing {device}" + (f" (Workflow {name})" if isinstance(name, str) else "") + "; jobs wait for it"
            )
            wants.append(_conditions.Want(ready, "Unknown", "Probing", status.message))
            if real:
                wants.append(_conditions.Want(credentials, "Unknown", "Probing", "the API key has not been tried yet"))
            status.conditions = _backend_conditions(previous, wants, now, previous.observed_generation)
        return status

    status.probe_workflow_name = str(name) if isinstance(name, str) else status.probe_workflow_name
    status.last_probe_time = parse_time(get(workflow, "status", "finishedAt")) or now
    status.observed_generation = generation
    probe = _document(workflow, _PROBE, _PROBE_OUTPUT) if phase == "Succeeded" else None
    if probe is None:
        if phase == "Succeeded":
            reason, detail = "ProbeFailed", f"the probe Workflow {name} succeeded without a readable probe output"
        else:
            reason, detail = service_failure(workflow, _PROBE)
        status.phase = BackendPhase.NOT_READY
        status.message = one_line(f"The probe of {device} failed: {reason}: {detail}; it is tried again periodically")
        wants.append(_conditions.Want(ready, "False", reason, status.message))
        if real:
            wants.append(
                _conditions.Want(credentials, "Unknown", "ProbeFailed", "the probe did not get to try the key")
            )
        status.conditions = _backend_conditions(previous, wants, now, generation)
        return status

    status.capabilities = _capabilities(probe)
    if isinstance(probe.get("device"), str) and probe["device"]:
        status.device = device = probe["device"]
    accepted = probe.get("credentialsValid")
    operational = status.capabilities.operational
    said = probe.get("message") if isinstance(probe.get("message"), str) else None
    probe_reason = probe.get("reason") if isinstance(probe.get("reason"), str) and probe.get("reason") else None
    if accepted is not False and operational is True:
        caps = status.capabilities
        queue = f", {caps.pending_jobs} jobs queued" if caps.pending_jobs is not None else ""
        qubits = f"{caps.num_qubits} qubits, " if caps.num_qubits is not None else ""
        status.phase = BackendPhase.READY
        status.message = one_line(said or f"{device}: {qubits}operational{queue}")
        wants.append(_conditions.Want(ready, "True", "Operational", status.message))
    else:
        status.phase = BackendPhase.NOT_READY
        reason = probe_reason or ("CredentialsRejected" if accepted is False else "NotOperational")
        fallback = (
            "IBM Quantum rejected the API key in spec.credentialsSecretRef; put a valid key in that Secret"
            if accepted is False
            else f"{device} is not operational ({status.capabilities.status_message or 'no status'}); jobs wait"
        )
        status.message = one_line(said or fallback)
        wants.append(_conditions.Want(ready, "False", reason, status.message))
    if real:
        if accepted is True:
            wants.append(
                _conditions.Want(credentials, "True", "CredentialsAccepted", "IBM Quantum accepted the API key")
            )
        elif accepted is False:
            reason = probe_reason or "CredentialsRejected"
            wants.append(_conditions.Want(credentials, "False", reason, status.message))
        else:
            wants.append(_conditions.Want(credentials, "Unknown", "NotChecked", "the probe did not say"))
    status.conditions = _backend_conditions(previous, wants, now, generation)
    return status


def session_status(
    session: QiskitSession,
    workflow: Mapping[str, Any] | None,
    now: datetime,
    *,
    closing: bool = False,
    problem: tuple[str, str] | None = None,
) -> QiskitSessionStatus:
    """The session's whole status from its open Workflow (or, ``closing``, its close Workflow):
    Pending (``problem``: why it cannot be opened yet, e.g. its backend is missing), Opening,
    Ready with the runtime session id, Failed with the step's reason; Closing, then Closed."""
    previous = session.status or QiskitSessionStatus()
    status = previous.model_copy(deep=True)
    generation = session.metadata.generation
    status.observed_generation = generation
    ready = SessionConditionType.READY
    name = get(workflow, "metadata", "name")
    phase = workflow_phase(workflow)
    want: _conditions.Want
    step = "session-close" if closing else "session-open"
    if closing:
        if isinstance(name, str):
            status.close_workflow_name = name
        if phase == "Succeeded":
            closed = _document(workflow, step, _SESSION_OUTPUT) or {}
            status.phase = SessionPhase.CLOSED
            status.reason = "Closed"
            status.state = str(closed.get("state") or "closed")
            status.message = f"Session {status.session_id or ''} closed at IBM".replace("  ", " ")
        elif phase in ("Failed", "Error"):
            reason, detail = service_failure(workflow, step)
            status.phase = SessionPhase.CLOSED
            status.reason = "CloseFailed"
            status.message = one_line(f"Closing it at IBM failed ({reason}: {detail}); it expires at IBM by itself")
        else:
            status.phase = SessionPhase.CLOSING
            status.reason = "Closing"
            status.message = f"Closing the session at IBM (Workflow {name})" if name else "Closing the session at IBM"
        want = _conditions.Want(ready, "False", str(status.reason), status.message or "")
    elif problem is not None:
        status.phase = SessionPhase.PENDING
        status.reason, status.message = problem[0], one_line(problem[1])
        want = _conditions.Want(ready, "False", problem[0], status.message)
    elif workflow is None or phase not in ("Succeeded", "Failed", "Error"):
        status.phase = SessionPhase.OPENING
        status.reason = "Opening"
        status.message = f"Opening the {session.spec.mode} at IBM" + (f" (Workflow {name})" if name else "")
        if isinstance(name, str):
            status.open_workflow_name = name
        want = _conditions.Want(ready, "False", "Opening", status.message)
    elif phase == "Succeeded":
        found = _document(workflow, step, _SESSION_OUTPUT) or {}
        status.open_workflow_name = str(name) if isinstance(name, str) else status.open_workflow_name
        session_id = found.get("sessionId")
        if not isinstance(session_id, str) or not session_id:
            status.phase = SessionPhase.FAILED
            status.reason = "OpenFailed"
            status.message = (
                f"The open Workflow {name} succeeded without a session id; delete and re-create the session"
            )
            want = _conditions.Want(ready, "False", "OpenFailed", status.message)
        else:
            status.phase = SessionPhase.READY
            status.reason = "Open"
            status.session_id = session_id
            status.state = str(found.get("state")) if found.get("state") else status.state
            status.device = str(found.get("device")) if found.get("device") else status.device
            status.opened_at = status.opened_at or parse_time(get(workflow, "status", "finishedAt")) or now
            status.message = f"Open at IBM: {session.spec.mode} {session_id}" + (
                f" on {status.device}" if status.device else ""
            )
            want = _conditions.Want(ready, "True", "Open", status.message)
    else:
        reason, detail = service_failure(workflow, step)
        status.open_workflow_name = str(name) if isinstance(name, str) else status.open_workflow_name
        status.phase = SessionPhase.FAILED
        status.reason = reason
        status.message = one_line(f"Opening the session failed: {detail}; fix it and re-create the QiskitSession")
        want = _conditions.Want(ready, "False", reason, status.message)
    status.conditions = _conditions.merge(previous.conditions, [want], now, generation)
    return status
