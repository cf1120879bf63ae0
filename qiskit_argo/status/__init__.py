"""Pure status logic: the whole QiskitJob status, computed from the job and its Argo Workflow.

``next_status(job, workflow, now)`` is the one place that decides what ``kubectl get qj`` and
``kubectl describe qj`` show: the phase, the metav1 conditions, the per-step progress read from
the Workflow's ``status.nodes``, the step outputs (circuit metrics, chosen backend, result
summary, where the full result lives) and a ``Reason`` a person can act on when something
failed. It does no I/O and never raises on a strange Workflow: whatever Argo wrote, a status
comes out.

The controller calls it after every change it sees and writes the result only when it differs
from what is stored, so it is idempotent: with unchanged inputs and a later ``now`` it returns
the same status (a condition's ``lastTransitionTime`` moves only when its ``status`` changes;
start and completion times are taken once). And it never moves the job backwards on an older
observation: a Workflow snapshot older than what the status shows (a step it shows started or
finished is missing or unfinished there), or one that has not caught up with the job's
``spec.suspend`` yet, leaves the phase where it is. ``is_terminal`` is the one check of "final,
must not change", for this package and the controller alike.

Layout, one concern per private module; every public name is here:

- ``_argo`` — what Argo writes, read: Workflow phase, node tree, attempts, messages → reasons
  (knows no kind of ours);
- ``_workflow`` — what the job's Workflow says: each step's node, outputs, progress, why it failed,
  whether a snapshot is older than the status;
- ``_conditions`` — the conditions a phase wants, merged by the metav1 rules;
- ``_messages`` — the one line a person reads;
- ``_machine`` — the terminal guard, ``detect`` (the one ``Cause`` the inputs say) and ``PHASE_FUNCTIONS``
  (one function per cause), the transition Event;
- ``_child`` — whose a Workflow is, whether the job should have one, the suspend patch;
- ``_ibm`` — the job's IBM side for the controller: the finalizer, whether its IBM job may be
  live, where to cancel it, whether its QiskitSession lets it start;
- ``_next`` — ``next_status``, ``invalid_spec_status``, ``parse_status``;
- ``_service`` — a QiskitBackend's status from its probe Workflow, a QiskitSession's from its
  open/close Workflows.

Reasons are ``qiskit_argo.reasons.Reason`` (re-exported here), shared with the steps' errors.
"""

from __future__ import annotations

from qiskit_argo.reasons import Reason
from qiskit_argo.status._argo import (
    NODE_DONE,
    NODE_FAILED,
    WORKFLOW_DONE,
    ContainerMessage,
    StepFailure,
    attempts,
    classify_message,
    parse_container_message,
    step_failure,
    step_message,
    task_nodes,
    uninformative,
    workflow_completed,
    workflow_failure,
    workflow_nodes,
    workflow_phase,
    workflow_suspended,
)
from qiskit_argo.status._child import suspend_patch, workflow_belongs_to, workflow_expected
from qiskit_argo.status._ibm import (
    IBM_FINAL_STATES,
    CancelTarget,
    cancel_target,
    ibm_branch_started,
    ibm_job_final,
    ibm_possibly_live,
    may_reach_ibm,
    needs_finalizer,
    session_gate,
    workflow_generation,
)
from qiskit_argo.status._machine import (
    PHASE_FUNCTIONS,
    Cause,
    Failure,
    Inputs,
    TransitionEvent,
    detect,
    is_terminal,
    phase_changed,
    spec_fixed,
    transition_event,
)
from qiskit_argo.status._messages import MAX_MESSAGE
from qiskit_argo.status._next import inputs_of, invalid_spec_status, next_status, parse_status
from qiskit_argo.status._service import (
    BACKEND_REASONS,
    SESSION_REASONS,
    backend_status_from_probe,
    service_failure,
    service_output,
    session_status,
)
from qiskit_argo.status._workflow import STEP_NAMES, FailureAt, failure_reason, ibm_job, parse_time, step_nodes

__all__ = [
    # the status
    "next_status",
    "invalid_spec_status",
    "parse_status",
    "parse_time",
    "is_terminal",
    "spec_fixed",
    "Failure",
    "MAX_MESSAGE",
    # the phase machine
    "Cause",
    "Inputs",
    "inputs_of",
    "PHASE_FUNCTIONS",
    "detect",
    "phase_changed",
    "TransitionEvent",
    "transition_event",
    # reasons
    "Reason",
    "REASON_INVALID_SPEC",
    "REASON_WORKFLOW_DELETED",
    "REASON_WORKFLOW_CONFLICT",
    "REASON_WORKFLOW_REJECTED",
    "FailureAt",
    "failure_reason",
    # the job's Workflow
    "STEP_NAMES",
    "step_nodes",
    "workflow_belongs_to",
    "workflow_expected",
    "suspend_patch",
    "ibm_job",
    # the job's IBM side
    "IBM_FINAL_STATES",
    "CancelTarget",
    "may_reach_ibm",
    "ibm_job_final",
    "needs_finalizer",
    "ibm_branch_started",
    "ibm_possibly_live",
    "cancel_target",
    "session_gate",
    "workflow_generation",
    # the QiskitBackend's and QiskitSession's status (service Workflows)
    "BACKEND_REASONS",
    "SESSION_REASONS",
    "backend_status_from_probe",
    "session_status",
    "service_output",
    "service_failure",
    # Argo's shapes
    "WORKFLOW_DONE",
    "NODE_FAILED",
    "NODE_DONE",
    "ContainerMessage",
    "StepFailure",
    "workflow_phase",
    "workflow_completed",
    "workflow_suspended",
    "workflow_nodes",
    "task_nodes",
    "attempts",
    "parse_container_message",
    "classify_message",
    "step_failure",
    "step_message",
    "workflow_failure",
    "uninformative",
]

#: The controller's own failure reasons, by their former names (``Reason`` members).
REASON_INVALID_SPEC = Reason.INVALID_SPEC
REASON_WORKFLOW_DELETED = Reason.WORKFLOW_DELETED
REASON_WORKFLOW_CONFLICT = Reason.WORKFLOW_CONFLICT
REASON_WORKFLOW_REJECTED = Reason.WORKFLOW_REJECTED
