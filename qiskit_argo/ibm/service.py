"""``IbmService``: the narrow interface every step that talks to IBM Quantum uses, and what travels through it.

Three implementations: ``qiskit_argo.ibm.runtime.RuntimeService`` (IBM Quantum itself, through
qiskit-ibm-runtime's ``QiskitRuntimeService``), ``qiskit_argo.ibm.local_mode.LocalTestingService``
(qiskit-ibm-runtime's local testing mode: fake backends simulated by Aer, offline) and
``qiskit_argo.ibm.fake.FakeIbmService`` (in memory, for tests: records every submission and
injects IBM's faults). The exactly-once logic (``qiskit_argo.ibm.exactly_once``) is written
against this interface only.

Every method raises ``IbmPermanentError`` or ``IbmTransientError`` (``qiskit_argo.ibm.errors``)
and nothing else from IBM or its client library.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from qiskit_argo.ibm.state import JobState

__all__ = [
    "PrimitiveName",
    "SessionMode",
    "SubmitRequest",
    "JobInfo",
    "JobReport",
    "Usage",
    "NOT_GATES",
    "BackendInfo",
    "IbmService",
    "oldest_first",
]

PrimitiveName = Literal["sampler", "estimator"]
#: ``Session`` (dedicated, iterative) or ``Batch`` (independent jobs) of qiskit-ibm-runtime.
SessionMode = Literal["session", "batch"]


@dataclass(frozen=True)
class SubmitRequest:
    """One primitive job: which backend, which primitive, the ISA PUBs, and the run's options."""

    backend: str
    primitive: PrimitiveName
    #: PUB-likes of Qiskit's primitives: ``(circuit,)``, ``(circuit, values)``, ``(circuit, observables, values)``;
    #: circuits already ISA for ``backend``.
    pubs: Sequence[Any]
    #: The job's tags (``qiskit_argo.ibm.tags``); ``submit_once`` puts the identity tag first.
    tags: tuple[str, ...] = ()
    #: Sampler: shots per PUB binding.
    shots: int | None = None
    #: Estimator: target precision of each expectation value.
    precision: float | None = None
    #: IBM cancels the job once it has used this many seconds of quantum time (qiskit-ibm-runtime's
    #: top-level ``options.max_execution_time``; the one in ``options.environment`` is deprecated).
    max_execution_time: int | None = None
    #: Run inside this session or batch (``IbmService.open_session``).
    session_id: str | None = None
    #: Local testing mode only: the simulator's seed (``options.simulator.seed_simulator``).
    seed: int | None = None
    #: Estimator only: error mitigation, 0..2 (``options.resilience_level``); ``None`` leaves IBM's default, 1.
    resilience_level: int | None = None

    def with_tags(self, tags: Sequence[str]) -> SubmitRequest:
        return dataclasses.replace(self, tags=tuple(tags))


@dataclass(frozen=True)
class JobInfo:
    """A job found by tag: enough to pick the one to keep."""

    job_id: str
    tags: tuple[str, ...]
    #: When IBM created it (``None`` if IBM does not say); orders duplicates, oldest first.
    created: datetime | None
    backend: str | None = None


@dataclass(frozen=True)
class JobReport:
    """A job's state now, and IBM's message when it failed or was cancelled."""

    job_id: str
    state: JobState
    message: str | None = None


@dataclass(frozen=True)
class Usage:
    """What a job used: IBM's quantum seconds (what is billed), and IBM's metrics as returned."""

    quantum_seconds: float
    #: ``False`` while IBM is still counting (metrics ``usage.status == "pending"``).
    final: bool
    metrics: Mapping[str, Any] = field(default_factory=dict)
    #: IBM's estimate before running (``RuntimeJobV2.usage_estimation["quantum_seconds"]``), if any.
    estimated_quantum_seconds: float | None = None


#: Operations of a target that are not gates (``basis_gates`` leaves them out).
NOT_GATES = frozenset(
    {"measure", "reset", "delay", "barrier", "store", "box", "for_loop", "if_else", "switch_case", "while_loop"}
)


@dataclass(frozen=True)
class BackendInfo:
    """What a probe learns about a backend."""

    name: str
    num_qubits: int
    #: The gates its target runs natively, sorted (``NOT_GATES`` left out).
    basis_gates: tuple[str, ...]
    operational: bool
    pending_jobs: int
    #: IBM's word for its state, e.g. ``active``, ``internal``, ``maintenance``.
    status_message: str | None = None

    @classmethod
    def of(cls, backend: Any) -> BackendInfo:
        """What a ``BackendV2`` of qiskit-ibm-runtime (an ``IBMBackend`` or a fake one) says of itself
        (``backend.status()`` asks IBM for the queue and state)."""
        status = backend.status()
        return cls(
            name=str(backend.name),
            num_qubits=int(backend.num_qubits),
            basis_gates=tuple(sorted(set(backend.operation_names) - NOT_GATES)),
            operational=bool(status.operational),
            pending_jobs=int(status.pending_jobs),
            status_message=status.status_msg or None,
        )


@runtime_checkable
class IbmService(Protocol):
    """IBM Quantum as the steps see it. Every method raises only ``IbmPermanentError`` or ``IbmTransientError``."""

    def backend_info(self, name: str) -> BackendInfo:
        """The backend's size, native gates and queue (the probe)."""
        ...

    def backend(self, name: str) -> Any:
        """The backend itself (a qiskit ``BackendV2``): its ``target`` is what ISA circuits are made for."""
        ...

    def submit(self, request: SubmitRequest) -> str:
        """Create one job and return its id. The job may exist even when this raises (a lost
        response), and the client library may create more than one (it retries a POST on 5xx)."""
        ...

    def find_jobs(self, tag: str) -> list[JobInfo]:
        """Every job carrying ``tag``, oldest first (whatever their state)."""
        ...

    def status(self, job_id: str) -> JobReport:
        """The job's state now."""
        ...

    def result(self, job_id: str) -> Any:
        """The ``PrimitiveResult`` of a job that is done."""
        ...

    def usage(self, job_id: str) -> Usage:
        """The quantum seconds the job used (0 until IBM has counted) and IBM's metrics."""
        ...

    def cancel(self, job_id: str) -> bool:
        """Cancel the job: ``True`` if it was cancelled now, ``False`` if it had already finished."""
        ...

    def open_session(self, backend: str, *, mode: SessionMode = "batch", max_time: int | None = None) -> str:
        """Open a session or batch on ``backend`` and return its id."""
        ...

    def close_session(self, session_id: str, *, cancel: bool = False) -> None:
        """Close it: no new jobs; queued ones still run. With ``cancel``, also cancel its queued and
        running jobs (``Session.cancel``)."""
        ...


def oldest_first(jobs: Sequence[JobInfo]) -> list[JobInfo]:
    """``jobs`` ordered by creation, oldest first (unknown times last), ties broken by id: every
    caller looking at the same jobs picks the same first one."""

    def key(job: JobInfo) -> tuple[int, float, str]:
        if job.created is None:
            return (1, 0.0, job.job_id)
        return (0, job.created.timestamp(), job.job_id)

    return sorted(jobs, key=key)
