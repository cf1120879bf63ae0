"""``LocalTestingService``: the ``IbmService`` of qiskit-ibm-runtime's local testing mode (fake backends, offline).

A fake backend (``qiskit_ibm_runtime.fake_provider``, named as its ``name`` says, e.g.
``fake_sherbrooke``) simulated by Aer with the device's noise, through the very primitives and
options used against IBM (``qiskit_argo.ibm.primitives``): nothing is sent to IBM, nothing is
billed, no credentials are needed. What local testing mode lacks, this keeps itself, in this
process only: qiskit-ibm-runtime's ``QiskitRuntimeLocalService`` has no ``jobs()`` nor
``job(id)``, so jobs are remembered here (with their tags) for ``find_jobs`` and the calls by id;
sessions and batches are accepted and ignored, as local testing mode does. A job's status is the
``qiskit.providers.JobStatus`` enum of ``LocalRuntimeJob`` (``fake_provider/local_runtime_job.py``),
read by ``qiskit_argo.ibm.state.job_state``; its usage is 0 quantum seconds, as it reports.
"""

from __future__ import annotations

import uuid
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from qiskit_argo.ibm.errors import ibm_call
from qiskit_argo.ibm.primitives import run_request
from qiskit_argo.ibm.service import BackendInfo, JobInfo, JobReport, SessionMode, SubmitRequest, Usage, oldest_first
from qiskit_argo.ibm.state import JobState, job_state

__all__ = ["LocalTestingService", "fake_backend_named"]


def fake_backend_named(name: str) -> Any:
    """The fake backend whose ``name`` is ``name`` (``QiskitRuntimeLocalService.backend``: raises
    ``QiskitBackendNotFoundError`` for an unknown one)."""
    from qiskit_ibm_runtime.fake_provider.local_service import QiskitRuntimeLocalService

    with warnings.catch_warnings():
        # Building the provider builds every fake backend; some warn about their own properties.
        warnings.simplefilter("ignore", UserWarning)
        return QiskitRuntimeLocalService().backend(name)


@dataclass
class _Job:
    job: Any
    tags: tuple[str, ...]
    created: datetime
    backend: str


class LocalTestingService:
    """Local testing mode (an ``IbmService``): the request's ``backend`` names a fake backend."""

    def __init__(self) -> None:
        self._backends: dict[str, Any] = {}
        self._jobs: dict[str, _Job] = {}

    def __repr__(self) -> str:
        return f"LocalTestingService(backends={sorted(self._backends)!r}, jobs={len(self._jobs)})"

    def _backend(self, name: str) -> Any:
        if name not in self._backends:
            self._backends[name] = fake_backend_named(name)
        return self._backends[name]

    def _job(self, job_id: str) -> _Job:
        from qiskit_ibm_runtime.exceptions import RuntimeJobNotFound

        if job_id not in self._jobs:
            raise RuntimeJobNotFound(f"Job not found: {job_id}")
        return self._jobs[job_id]

    def backend_info(self, name: str) -> BackendInfo:
        with ibm_call(f"reading backend {name}"):
            backend = self._backend(name)
            return BackendInfo.of(backend)

    def submit(self, request: SubmitRequest) -> str:
        with ibm_call(f"submitting to {request.backend}"):
            job = run_request(request, self._backend(request.backend))
            job_id = str(job.job_id())
            self._jobs[job_id] = _Job(job, tuple(request.tags), datetime.now(UTC), request.backend)
            return job_id

    def find_jobs(self, tag: str) -> list[JobInfo]:
        tagged = [(job_id, job) for job_id, job in self._jobs.items() if tag in job.tags]
        return oldest_first([JobInfo(job_id, job.tags, job.created, job.backend) for job_id, job in tagged])

    def status(self, job_id: str) -> JobReport:
        with ibm_call(f"reading the status of job {job_id}"):
            job = self._job(job_id).job
            state = job_state(job.status())
            return JobReport(job_id, state, _failure_of(job) if state == JobState.FAILED else None)

    def result(self, job_id: str) -> Any:
        with ibm_call(f"reading the result of job {job_id}"):
            return self._job(job_id).job.result()

    def usage(self, job_id: str) -> Usage:
        with ibm_call(f"reading the usage of job {job_id}"):
            job = self._job(job_id).job
            metrics = job.metrics()
            final = (metrics.get("usage") or {}).get("status", "pending") != "pending"
            return Usage(float(job.usage()), final, metrics)

    def cancel(self, job_id: str) -> bool:
        with ibm_call(f"cancelling job {job_id}"):
            job = self._job(job_id).job
            if job_state(job.status()) not in (JobState.QUEUED, JobState.RUNNING):
                return False
            return bool(job.cancel())

    def open_session(self, backend: str, *, mode: SessionMode = "batch", max_time: int | None = None) -> str:
        with ibm_call(f"opening a {mode} on {backend}"):
            self._backend(backend)
            return f"local-{mode}-{uuid.uuid4()}"

    def close_session(self, session_id: str) -> None:
        return None


def _failure_of(job: Any) -> str | None:
    """What a failed local job raised (``PrimitiveJob.result`` re-raises it)."""
    try:
        job.result()
    except Exception as error:  # noqa: BLE001 - whatever the simulation raised is the job's failure
        return f"{type(error).__name__}: {error}"
    return None
