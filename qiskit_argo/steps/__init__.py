"""The workflow steps: one registry, each step declared once, and the ``qiskit-argo-step`` entry point.

``STEPS`` is the registry: every step, in DAG order, each a ``StepSpec`` declared beside its
function in a module of its own (``_validate``, ``_schedule``, ``_execute_aer``,
``_store_results``). A declaration holds everything about the step — its function, its file
contract (input/output artifacts and parameters), its image, the phase it means, its default
resources and whether the job's ``spec.resources`` apply, its egress class, its ``when``
condition, its preload modules — and everything else is derived from it: the
ClusterWorkflowTemplate and the DAG (``qiskit_argo.workflows``), the local runner's workers
(``qiskit_argo.local``), the status (``qiskit_argo.status``), the argument parser of ``main``.
Adding a step or a backend is a module here and one line in ``STEPS``.

``SERVICE_STEPS`` holds the steps that are not part of a job's DAG: each runs alone in a small
Workflow the controller creates (``qiskit_argo.workflows.service_workflow``) to talk to IBM Quantum
for a QiskitBackend, a QiskitSession or a deleted QiskitJob: ``ibm-probe``, ``ibm-cancel``,
``session-open``, ``session-close``. ``qiskit-argo-step`` runs the steps of both registries.

Each step is a plain typed function that reads input files and writes output files; ``main``
parses the same arguments inside the pod (or in the local runner) and calls it. Exit codes: 0
ok, 2 permanent failure (never retried by Argo), 1 transient failure; on failure the last line
on stderr (and ``/dev/termination-log``, which Argo shows as the node message) is the one-line
reason, prefixed by the machine reason: ``InvalidCircuit: line 3: ...``.
"""

from __future__ import annotations

from qiskit_argo.steps import (
    _execute_aer,
    _ibm_cancel,
    _ibm_probe,
    _ibm_submit,
    _ibm_wait,
    _schedule,
    _session_close,
    _session_open,
    _store_results,
    _validate,
)
from qiskit_argo.steps._contract import (
    CACHE_CONFIGMAP,
    CACHE_KEY_PARAMETER,
    CACHE_MAX_AGE,
    CACHE_PREFIX,
    CACHED_PARTS_ARTIFACT,
    CIRCUIT_SOURCE_MOUNT,
    CREDENTIALS_ENV,
    CREDENTIALS_KEY_PARAMETER,
    CREDENTIALS_SECRET_PARAMETER,
    EGRESS_CLASSES,
    EGRESS_IBM_QUANTUM,
    EGRESS_NONE,
    ENTRY_POINT,
    GPU_RESOURCE,
    INPUTS_DIR,
    NO_CACHE_KEY,
    NO_CREDENTIALS_KEY,
    NO_CREDENTIALS_SECRET,
    OUTPUTS_DIR,
    PART_ARTIFACT,
    PART_FILE,
    PARTS_ARTIFACT,
    RUN_PARTS_PREFIX,
    SCRATCH_MOUNT,
    SEMAPHORE_CONFIGMAP,
    SEMAPHORE_PARAMETER,
    SHARD_PARAMETER,
    SHARDS_PARAMETER,
    SINGLE_PART,
    SMALL,
    SOURCE_ARTIFACTS,
    SOURCES_DIR,
    TERMINATION_LOG,
    Condition,
    FanOut,
    Part,
    Resources,
    StepPhase,
    StepRegistry,
    StepSpec,
)
from qiskit_argo.steps._execute_aer import execute_aer
from qiskit_argo.steps._ibm_cancel import ibm_cancel
from qiskit_argo.steps._ibm_probe import ibm_probe
from qiskit_argo.steps._ibm_submit import ibm_submit
from qiskit_argo.steps._ibm_wait import ibm_wait
from qiskit_argo.steps._main import main
from qiskit_argo.steps._schedule import schedule
from qiskit_argo.steps._session_close import session_close
from qiskit_argo.steps._session_open import session_open
from qiskit_argo.steps._store_results import store_results
from qiskit_argo.steps._validate import validate

__all__ = [
    "STEPS",
    "SERVICE_STEPS",
    "StepRegistry",
    "StepSpec",
    "StepPhase",
    "Condition",
    "Resources",
    "SMALL",
    "EGRESS_NONE",
    "EGRESS_IBM_QUANTUM",
    "EGRESS_CLASSES",
    "ENTRY_POINT",
    "INPUTS_DIR",
    "OUTPUTS_DIR",
    "SCRATCH_MOUNT",
    "CIRCUIT_SOURCE_MOUNT",
    "TERMINATION_LOG",
    "CREDENTIALS_ENV",
    "CREDENTIALS_SECRET_PARAMETER",
    "CREDENTIALS_KEY_PARAMETER",
    "NO_CREDENTIALS_SECRET",
    "NO_CREDENTIALS_KEY",
    "SEMAPHORE_PARAMETER",
    "SEMAPHORE_CONFIGMAP",
    "FanOut",
    "Part",
    "SHARDS_PARAMETER",
    "SHARD_PARAMETER",
    "CACHE_KEY_PARAMETER",
    "NO_CACHE_KEY",
    "SINGLE_PART",
    "PART_ARTIFACT",
    "PART_FILE",
    "PARTS_ARTIFACT",
    "CACHED_PARTS_ARTIFACT",
    "RUN_PARTS_PREFIX",
    "CACHE_PREFIX",
    "CACHE_CONFIGMAP",
    "CACHE_MAX_AGE",
    "SOURCE_ARTIFACTS",
    "SOURCES_DIR",
    "GPU_RESOURCE",
    "validate",
    "schedule",
    "execute_aer",
    "ibm_submit",
    "ibm_wait",
    "ibm_probe",
    "ibm_cancel",
    "session_open",
    "session_close",
    "store_results",
    "main",
]

#: Every step, in DAG order: one line per step. The four Aer execute steps are alternatives (the
#: schedule step's ``executor`` names one): on the CPU or a GPU (``spec.backend.aer.device``), and
#: memoized by the simulator cache key or not (``execute-aer-cached``...).
STEPS = StepRegistry(
    (
        _validate.STEP,
        _schedule.STEP,
        _execute_aer.aer_step(gpu=False, cached=False),
        _execute_aer.aer_step(gpu=False, cached=True),
        _execute_aer.aer_step(gpu=True, cached=False),
        _execute_aer.aer_step(gpu=True, cached=True),
        _ibm_submit.STEP,
        _ibm_wait.STEP,
        _store_results.STEP,
    )
)

#: The steps that run alone, each in a one-step Workflow of the controller's (not in the job DAG).
SERVICE_STEPS = StepRegistry(
    (
        _ibm_probe.STEP,
        _ibm_cancel.STEP,
        _session_open.STEP,
        _session_close.STEP,
    )
)
