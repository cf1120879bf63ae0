"""``Reason``: every machine word qiskit-argo puts in ``status.reason``, a condition or an Event.

One list, shared by the steps (``qiskit_argo.errors``: a step ends with ``<Reason>: <one line>``
on its termination log), the status logic (``qiskit_argo.status``: what it reads in Argo's
messages, what it finds itself) and the controller (what it finds through the API, the Events it
records). A reason is CamelCase, as ``metav1.Condition.reason`` requires, and its value never
changes once released: people match on it (``kubectl wait``, alerts, Argo CD health checks).

The groups below say where a reason comes from and where it can appear; every member is in at
least one of them, and ``controller/README.md`` lists exactly ``STATUS_REASONS`` (a test checks
both). A word a step writes that is not listed here (a newer step image) still reaches the status
as it is; ``reason_of`` tells the two apart.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "Reason",
    "STEP_REASONS",
    "ARGO_REASONS",
    "CONTROLLER_REASONS",
    "FAILURE_REASONS",
    "PROGRESS_REASONS",
    "EVENT_REASONS",
    "STATUS_REASONS",
    "reason_of",
]


class Reason(StrEnum):
    """Why something is as it is, one CamelCase word (``str(Reason.X)`` is the word)."""

    # -- a step's own: raised as a ``qiskit_argo.errors`` exception, written by the step ----------
    #: The QiskitJob manifest itself (a step's input, or the controller reading the job).
    INVALID_SPEC = "InvalidSpec"
    #: The circuit cannot be read, or does not fit the job.
    INVALID_CIRCUIT = "InvalidCircuit"
    #: A platform limit (qubits, shots, size, sweep).
    LIMIT_EXCEEDED = "LimitExceeded"
    #: The backend failed on valid work (transient).
    EXECUTION_FAILED = "ExecutionFailed"
    #: An input artifact the previous step should have passed is not there (transient).
    MISSING_ARTIFACT = "MissingArtifact"
    #: A noise model needs qiskit-ibm-runtime, which the executor image lacks.
    NOISE_MODEL_UNAVAILABLE = "NoiseModelUnavailable"
    #: ``spec.backend.aer.device: GPU``, but the executor has no GPU Qiskit Aer can use.
    GPU_UNAVAILABLE = "GpuUnavailable"
    #: A result part (or the result) is not JSON, not ours, or the parts do not add up.
    CORRUPT_RESULT = "CorruptResult"
    #: A name from a manifest would not be one file inside its directory.
    UNSAFE_PATH = "UnsafePath"
    #: The results directory holds what is not ours.
    RESULTS_DIRECTORY = "ResultsDirectory"
    #: A permanent error of ours without a more precise reason.
    PERMANENT_FAILURE = "PermanentFailure"
    #: A transient error of ours without a more precise reason.
    TRANSIENT_FAILURE = "TransientFailure"
    #: An error of ours that says neither (the base class: a bug if it is ever seen).
    ERROR = "Error"
    #: An unexpected exception in a step (the step runner's catch-all; transient).
    STEP_ERROR = "StepError"
    #: ``spec.backend.ref`` (or a session's ``backendRef``) names no QiskitBackend in the namespace.
    BACKEND_NOT_FOUND = "BackendNotFound"
    #: No catalogue candidate fits the job (a selector matched nothing, or the circuit is too wide).
    NO_SUITABLE_BACKEND = "NoSuitableBackend"
    #: The IBM backend is unknown, retired, disabled or not operational.
    BACKEND_UNAVAILABLE = "BackendUnavailable"
    #: The Secret key holding the IBM Quantum API key is missing or empty.
    CREDENTIALS_MISSING = "CredentialsMissing"
    #: IBM Quantum rejected the API key.
    CREDENTIALS_REJECTED = "CredentialsRejected"
    #: IBM Quantum refused the request (e.g. a circuit not ISA for the backend, an invalid option).
    IBM_REQUEST_REFUSED = "IbmRequestRefused"
    #: The IBM job failed at IBM (IBM's message follows).
    IBM_JOB_FAILED = "IbmJobFailed"
    #: The IBM job was cancelled (at IBM, or because the QiskitJob was suspended or deleted).
    IBM_JOB_CANCELLED = "IbmJobCancelled"
    #: IBM does not know the job id the wait step re-attaches to.
    IBM_JOB_NOT_FOUND = "IbmJobNotFound"
    #: The job does not fit a QiskitBudget of its namespace (the controller, before any Workflow),
    #: or its circuit-based estimate exceeds what was reserved for it (the schedule step).
    BUDGET_EXCEEDED = "BudgetExceeded"

    # -- what Argo, its executor or the kubelet reported (read from node and Workflow messages) --
    #: ``activeDeadlineSeconds`` or a retry's ``maxDuration`` ran out.
    DEADLINE_EXCEEDED = "DeadlineExceeded"
    #: The step's container was OOM-killed.
    OUT_OF_MEMORY = "OutOfMemory"
    #: The step's pod was deleted.
    POD_DELETED = "PodDeleted"
    #: The step's pod was evicted.
    POD_EVICTED = "PodEvicted"
    #: The step's image could not be pulled.
    IMAGE_PULL_FAILED = "ImagePullFailed"
    #: The step's container could not be created or started.
    CONTAINER_ERROR = "ContainerError"
    #: The step's pod could not be scheduled.
    UNSCHEDULABLE = "Unschedulable"
    #: ``argo stop``.
    WORKFLOW_STOPPED = "WorkflowStopped"
    #: ``argo terminate``.
    WORKFLOW_TERMINATED = "WorkflowTerminated"
    #: A WorkflowTemplate the Workflow references is not installed.
    TEMPLATE_NOT_FOUND = "TemplateNotFound"
    #: Argo rejected the Workflow's spec.
    INVALID_WORKFLOW = "InvalidWorkflow"
    #: Argo's ``init`` or ``wait`` container could not load or save an artifact.
    ARTIFACT_ERROR = "ArtifactError"
    #: A step exited non-zero without a reason of its own.
    STEP_FAILED = "StepFailed"
    #: Anything else Argo reported as Failed.
    WORKFLOW_FAILED = "WorkflowFailed"
    #: Anything else Argo reported as Error.
    WORKFLOW_ERROR = "WorkflowError"

    # -- what the controller found through the API -------------------------------------------
    #: The Workflow was deleted before it finished.
    WORKFLOW_DELETED = "WorkflowDeleted"
    #: A Workflow with the job's name exists and belongs to something else.
    WORKFLOW_CONFLICT = "WorkflowConflict"
    #: The API server refused to create the Workflow.
    WORKFLOW_REJECTED = "WorkflowRejected"

    # -- not failures: status.reason and conditions while all is well ------------------------
    #: No Workflow yet: the controller is creating it.
    WORKFLOW_NOT_CREATED = "WorkflowNotCreated"
    #: The Workflow exists; Argo has not started it.
    WORKFLOW_PENDING = "WorkflowPending"
    #: The Workflow is suspended (also the Event when the controller suspends it).
    SUSPENDED = "Suspended"
    #: The Workflow succeeded.
    SUCCEEDED = "Succeeded"
    #: The Validated condition: the validate step succeeded.
    CIRCUIT_VALID = "CircuitValid"
    #: The Scheduled condition: the schedule step succeeded.
    BACKEND_CHOSEN = "BackendChosen"
    #: A step condition while its step is pending or running.
    IN_PROGRESS = "InProgress"

    # -- Events only ----------------------------------------------------------------------
    #: The controller created the Workflow.
    WORKFLOW_CREATED = "WorkflowCreated"
    #: The controller resumed the Workflow.
    RESUMED = "Resumed"
    #: The job's QiskitSession is not open yet (the job waits in Pending).
    SESSION_NOT_READY = "SessionNotReady"
    #: The job's QiskitSession is closed or failed: it will never run inside it.
    SESSION_CLOSED = "SessionClosed"
    #: The controller created a Workflow that cancels the job's IBM job (deleted or suspended).
    IBM_CANCEL_REQUESTED = "IbmCancelRequested"
    #: That cancel could not run in time; the finalizer let go (the IBM job may still run).
    IBM_CANCEL_FAILED = "IbmCancelFailed"


#: Raised by a step (``qiskit_argo.errors`` and the step runner): ``<Reason>: <one line>``.
STEP_REASONS: frozenset[Reason] = frozenset(
    {
        Reason.INVALID_SPEC,
        Reason.INVALID_CIRCUIT,
        Reason.LIMIT_EXCEEDED,
        Reason.EXECUTION_FAILED,
        Reason.MISSING_ARTIFACT,
        Reason.NOISE_MODEL_UNAVAILABLE,
        Reason.GPU_UNAVAILABLE,
        Reason.CORRUPT_RESULT,
        Reason.UNSAFE_PATH,
        Reason.RESULTS_DIRECTORY,
        Reason.PERMANENT_FAILURE,
        Reason.TRANSIENT_FAILURE,
        Reason.ERROR,
        Reason.STEP_ERROR,
        Reason.BACKEND_NOT_FOUND,
        Reason.NO_SUITABLE_BACKEND,
        Reason.BACKEND_UNAVAILABLE,
        Reason.CREDENTIALS_MISSING,
        Reason.CREDENTIALS_REJECTED,
        Reason.IBM_REQUEST_REFUSED,
        Reason.IBM_JOB_FAILED,
        Reason.IBM_JOB_CANCELLED,
        Reason.IBM_JOB_NOT_FOUND,
        Reason.BUDGET_EXCEEDED,
    }
)
#: Read from what Argo writes (``qiskit_argo.status``: node and Workflow messages, phases).
ARGO_REASONS: frozenset[Reason] = frozenset(
    {
        Reason.DEADLINE_EXCEEDED,
        Reason.OUT_OF_MEMORY,
        Reason.POD_DELETED,
        Reason.POD_EVICTED,
        Reason.IMAGE_PULL_FAILED,
        Reason.CONTAINER_ERROR,
        Reason.UNSCHEDULABLE,
        Reason.WORKFLOW_STOPPED,
        Reason.WORKFLOW_TERMINATED,
        Reason.TEMPLATE_NOT_FOUND,
        Reason.INVALID_WORKFLOW,
        Reason.ARTIFACT_ERROR,
        Reason.STEP_FAILED,
        Reason.WORKFLOW_FAILED,
        Reason.WORKFLOW_ERROR,
    }
)
#: Found by the controller itself (InvalidSpec: the job's spec cannot be read by the models).
CONTROLLER_REASONS: frozenset[Reason] = frozenset(
    {
        Reason.INVALID_SPEC,
        Reason.WORKFLOW_DELETED,
        Reason.WORKFLOW_CONFLICT,
        Reason.WORKFLOW_REJECTED,
        Reason.SESSION_CLOSED,
        Reason.BUDGET_EXCEEDED,
    }
)
#: Why a job failed: ``status.reason`` of a Failed job, its Failed condition, its Warning Event.
FAILURE_REASONS: frozenset[Reason] = STEP_REASONS | ARGO_REASONS | CONTROLLER_REASONS
#: ``status.reason`` or a condition's reason while nothing failed.
PROGRESS_REASONS: frozenset[Reason] = frozenset(
    {
        Reason.WORKFLOW_NOT_CREATED,
        Reason.WORKFLOW_PENDING,
        Reason.SUSPENDED,
        Reason.SUCCEEDED,
        Reason.CIRCUIT_VALID,
        Reason.BACKEND_CHOSEN,
        Reason.IN_PROGRESS,
        Reason.SESSION_NOT_READY,
    }
)
#: Events the controller records besides one per phase transition (whose reason is the phase, or
#: the failure reason).
EVENT_REASONS: frozenset[Reason] = frozenset(
    {
        Reason.WORKFLOW_CREATED,
        Reason.SUSPENDED,
        Reason.RESUMED,
        Reason.IBM_CANCEL_REQUESTED,
        Reason.IBM_CANCEL_FAILED,
    }
)
#: Every reason that can reach a status (``status.reason`` or a condition).
STATUS_REASONS: frozenset[Reason] = FAILURE_REASONS | PROGRESS_REASONS

_BY_VALUE: dict[str, Reason] = {reason.value: reason for reason in Reason}


def reason_of(word: str) -> Reason | str:
    """The member named by ``word``, or ``word`` itself when it is not one of ours (a step of a
    newer image may know a reason this version does not; it still reaches the status as written)."""
    return _BY_VALUE.get(word, word)
