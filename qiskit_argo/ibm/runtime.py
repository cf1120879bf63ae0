"""``RuntimeService``: the ``IbmService`` of IBM Quantum itself, through qiskit-ibm-runtime's ``QiskitRuntimeService``.

Only a step that talks to IBM builds one, from the ``Credentials`` its pod was given; the
connection is made on first use. Every call goes through ``ibm_call`` with the API key as a
secret to redact. Not exercised against IBM in tests (nothing here can reach it): the tests give
it a stand-in ``factory``; ``FakeIbmService`` and ``LocalTestingService`` carry the behaviour.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qiskit_argo.ibm.credentials import Credentials
from qiskit_argo.ibm.errors import ibm_call
from qiskit_argo.ibm.primitives import run_request
from qiskit_argo.ibm.service import BackendInfo, JobInfo, JobReport, SessionMode, SubmitRequest, Usage, oldest_first
from qiskit_argo.ibm.state import JobState, job_state

__all__ = ["RuntimeService", "runtime_service_factory"]


def runtime_service_factory(**arguments: Any) -> Any:
    """``qiskit_ibm_runtime.QiskitRuntimeService(**arguments)`` (imported only here)."""
    from qiskit_ibm_runtime import QiskitRuntimeService

    return QiskitRuntimeService(**arguments)


class RuntimeService:
    """IBM Quantum through ``QiskitRuntimeService`` (an ``IbmService``)."""

    def __init__(self, credentials: Credentials, *, factory: Callable[..., Any] = runtime_service_factory) -> None:
        self._credentials = credentials
        self._factory = factory
        self._service: Any = None

    def __repr__(self) -> str:
        return f"RuntimeService(channel={self._credentials.channel!r}, instance={self._credentials.instance!r})"

    @property
    def _secrets(self) -> tuple[str]:
        return (self._credentials.token.reveal(),)

    def _connect(self) -> Any:
        if self._service is None:
            with ibm_call("connecting", secrets=self._secrets):
                self._service = self._factory(**self._credentials.service_arguments())
        return self._service

    def backend_info(self, name: str) -> BackendInfo:
        service = self._connect()
        with ibm_call(f"reading backend {name}", secrets=self._secrets):
            backend = service.backend(name)
            return BackendInfo.of(backend)

    def backend(self, name: str) -> Any:
        service = self._connect()
        with ibm_call(f"reading backend {name}", secrets=self._secrets):
            return service.backend(name)

    def submit(self, request: SubmitRequest) -> str:
        service = self._connect()
        with ibm_call(f"submitting to {request.backend}", secrets=self._secrets):
            if request.session_id is not None:
                from qiskit_ibm_runtime import Session

                mode: Any = Session.from_id(request.session_id, service)
            else:
                mode = service.backend(request.backend)
            return str(run_request(request, mode).job_id())

    def find_jobs(self, tag: str) -> list[JobInfo]:
        service = self._connect()
        with ibm_call(f"looking for jobs tagged {tag}", secrets=self._secrets):
            jobs = service.jobs(job_tags=[tag], limit=None, descending=False)
            # (not job.backend(): without a backend in the listing it waits for the job to finish)
            return oldest_first([JobInfo(job.job_id(), tuple(job.tags or ()), job.creation_date) for job in jobs])

    def status(self, job_id: str) -> JobReport:
        service = self._connect()
        with ibm_call(f"reading the status of job {job_id}", secrets=self._secrets):
            job = service.job(job_id)
            state = job_state(job.status())
            message = job.error_message() if state in (JobState.FAILED, JobState.CANCELLED) else None
            return JobReport(job_id, state, message or None)

    def result(self, job_id: str) -> Any:
        service = self._connect()
        with ibm_call(f"reading the result of job {job_id}", secrets=self._secrets):
            return service.job(job_id).result()

    def usage(self, job_id: str) -> Usage:
        service = self._connect()
        with ibm_call(f"reading the usage of job {job_id}", secrets=self._secrets):
            job = service.job(job_id)
            metrics = job.metrics()
            final = (metrics.get("usage") or {}).get("status", "pending") != "pending"
            estimate = (job.usage_estimation or {}).get("quantum_seconds")
            return Usage(float(job.usage() or 0.0), final, metrics, None if estimate is None else float(estimate))

    def cancel(self, job_id: str) -> bool:
        service = self._connect()
        with ibm_call(f"cancelling job {job_id}", secrets=self._secrets):
            from qiskit_ibm_runtime.exceptions import RuntimeInvalidStateError

            try:
                service.job(job_id).cancel()
            except RuntimeInvalidStateError:
                return False  # 409: it has already finished
            return True

    def open_session(self, backend: str, *, mode: SessionMode = "batch", max_time: int | None = None) -> str:
        service = self._connect()
        with ibm_call(f"opening a {mode} on {backend}", secrets=self._secrets):
            from qiskit_ibm_runtime import Batch, Session

            kind = Batch if mode == "batch" else Session
            opened = kind(backend=service.backend(backend), max_time=max_time)
            return str(opened.session_id)

    def close_session(self, session_id: str, *, cancel: bool = False) -> None:
        service = self._connect()
        with ibm_call(f"{'cancelling' if cancel else 'closing'} session {session_id}", secrets=self._secrets):
            from qiskit_ibm_runtime import Session

            session = Session.from_id(session_id, service)
            if cancel:
                session.cancel()
            else:
                session.close()
