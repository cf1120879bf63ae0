"""``FakeIbmService``: IBM Quantum in memory, for tests — it records every submission and injects IBM's faults.

IBM's service is an edge we cannot reach from here, so this stands in for it *and* for
qiskit-ibm-runtime's client in front of it, behind the same ``IbmService`` interface and the same
translation (``qiskit_argo.ibm.errors.ibm_call``) as ``RuntimeService``. What it says is copied
from qiskit-ibm-runtime 0.51:

* job states: ``runtime_job_v2.py`` (``JobStatus`` literal, ``API_TO_JOB_STATUS``), read through
  ``qiskit_argo.ibm.state.job_state`` like the real ones;
* a failed job's message: ``API_TO_JOB_ERROR_MESSAGE["FAILED"]`` (``"Job {} has failed:\\n{}"``);
  ``result()`` of a failed job raises ``RuntimeJobFailureError("Unable to retrieve job result. ...")``,
  of a cancelled one ``RuntimeInvalidStateError("Unable to retrieve result for job ... Job was
  cancelled.")``; ``cancel()`` of a finished one ``RuntimeInvalidStateError("Job cannot be
  cancelled: ...")`` (``RuntimeJobV2.result``/``cancel``);
* metrics and usage: ``{"timestamps": {created, running, finished}, "usage":
  {"qpu_charge_time_seconds", "status"}}`` with ``usage()`` 0 while ``status`` is ``pending``
  (``RuntimeJobV2.usage``, ``LocalRuntimeJob.metrics``);
* network and server faults as the client raises them: ``api/session.py`` wraps every requests
  failure into ``RequestsApiError`` (a 401 into ``IBMNotAuthorizedError``) after urllib3 has retried
  — a POST too, on ``STATUS_FORCELIST`` 5xx (``PostForcelistRetry``), which is how one submit can
  create two jobs — and ``QiskitRuntimeService._run`` re-raises as ``IBMRuntimeError("Failed to
  run program: ...")``; an unknown backend is ``QiskitBackendNotFoundError("No backend matches the
  criteria.")``, an unknown job ``RuntimeJobNotFound("Job not found: ...")``.

Time is the fake's own (``clock``/``sleep``/``advance``): a job waits ``queue_seconds`` in the
queue, then runs ``run_seconds`` (it has *run* from then on: it used the QPU), and nothing moves
unless someone sleeps on the fake's clock. Faults are armed one call at a time (``lose_response``,
``duplicate_submit``, ``refuse_submit``, ``die_after_submit``, ``flaky``, ``reject_credentials``,
``fail_job``, ``cancel_at_ibm``, ``listing_lag``). Counting for tests: ``submissions`` (every
request that reached IBM, once per job it created), ``jobs``, ``tagged(tag)``, ``ran(tag)``.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from qiskit_argo.ibm.errors import ibm_call
from qiskit_argo.ibm.service import (
    BackendInfo,
    JobInfo,
    JobReport,
    SessionMode,
    SubmitRequest,
    Usage,
    oldest_first,
)
from qiskit_argo.ibm.state import JobState, job_state

__all__ = ["Killed", "FakeJob", "FakeIbmService"]

_URL = "https://quantum.cloud.ibm.com/api/v1"
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
#: The error-message format of a failed job (``runtime_job_v2.API_TO_JOB_ERROR_MESSAGE["FAILED"]``).
FAILED_MESSAGE = "Job {} has failed:\n{}"


class Killed(BaseException):  # noqa: N818 - it is an event, like KeyboardInterrupt
    """The pod running the step was killed (not an ``Exception``: nothing in the step catches it)."""


@dataclass
class FakeJob:
    """One job at the fake IBM: what was asked, and what became of it."""

    job_id: str
    request: SubmitRequest
    created: float
    queue_seconds: float
    run_seconds: float
    quantum_seconds: float
    #: Set when the job ended early: (fake time, ``"CANCELLED"`` or ``"ERROR"``, IBM's reason).
    ended: tuple[float, str, str] | None = None

    @property
    def tags(self) -> tuple[str, ...]:
        return self.request.tags

    def api_status(self, now: float) -> str:
        """What ``RuntimeJobV2.status()`` would return now (its ``JobStatus`` literal)."""
        if self.ended is not None and self.ended[0] <= now:
            return self.ended[1]
        if now < self.created + self.queue_seconds:
            return "QUEUED"
        if now < self.created + self.queue_seconds + self.run_seconds:
            return "RUNNING"
        return "DONE"

    def ran(self, now: float) -> bool:
        """Whether it got to run (used the QPU) by ``now``."""
        start = self.created + self.queue_seconds
        return start <= now and (self.ended is None or self.ended[0] > start)


@dataclass
class _Faults:
    lose_response: int = 0
    duplicate_submit: list[int] = field(default_factory=list)
    refuse_submit: int = 0
    die_after_submit: int = 0
    flaky: Counter[str] = field(default_factory=Counter)
    flaky_after: Counter[str] = field(default_factory=Counter)
    credentials_rejected: bool = False


class FakeIbmService:
    """IBM Quantum in memory (see the module docstring): an ``IbmService`` for tests."""

    def __init__(
        self,
        backends: Iterable[str] = ("ibm_torino", "ibm_fez"),
        *,
        queue_seconds: float = 30.0,
        run_seconds: float = 5.0,
        quantum_seconds: float = 2.0,
        listing_lag: float = 0.0,
        num_qubits: int = 133,
        result_for: Callable[[FakeJob], Any] | None = None,
    ) -> None:
        self.backends = tuple(backends)
        self.queue_seconds = queue_seconds
        self.run_seconds = run_seconds
        self.quantum_seconds = quantum_seconds
        #: A job shows in ``find_jobs`` only this many (fake) seconds after it was created.
        self.listing_lag = listing_lag
        self.num_qubits = num_qubits
        self.result_for = result_for or _empty_result
        #: Every request that reached IBM, once per job it created (a retried POST twice).
        self.submissions: list[SubmitRequest] = []
        self.jobs: dict[str, FakeJob] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        #: How often each method was called.
        self.calls: Counter[str] = Counter()
        self.now = 0.0
        self._ids = itertools.count(1)
        self._faults = _Faults()
        self._devices: dict[str, Any] = {}

    # ------------------------------------------------------------------ time

    def clock(self) -> float:
        """The fake's time, in seconds."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of fake time pass (what ``wait`` and ``submit_once`` sleep on in tests)."""
        self.now += max(0.0, seconds)

    advance = sleep

    # ------------------------------------------------------------------ faults

    def lose_response(self, times: int = 1) -> None:
        """The next ``times`` submissions create their job, but the answer never arrives."""
        self._faults.lose_response += times

    def duplicate_submit(self, copies: int = 2) -> None:
        """The next submission gets a 5xx and the client retries the POST: ``copies`` jobs; the caller
        gets the last one's id."""
        self._faults.duplicate_submit.append(copies)

    def refuse_submit(self, times: int = 1) -> None:
        """The next ``times`` submissions fail with 5xx until the client gives up; no job is created."""
        self._faults.refuse_submit += times

    def die_after_submit(self, times: int = 1) -> None:
        """The next ``times`` submissions create their job, then the pod is killed (``Killed``)."""
        self._faults.die_after_submit += times

    def flaky(self, method: str, times: int = 1, *, after: int = 0) -> None:
        """``times`` calls of ``method`` (``status``, ``find_jobs``, ``result``, ``usage``, ``cancel``,
        ``backend_info``), after the next ``after`` ones, fail as a 5xx the client gave up retrying does."""
        self._faults.flaky[method] += times
        self._faults.flaky_after[method] = after

    def reject_credentials(self, rejected: bool = True) -> None:
        """Every call answers 401 (a revoked or wrong API key)."""
        self._faults.credentials_rejected = rejected

    def fail_job(self, job_id: str, reason: str = "Error code 1517; The circuit exceeds the device's limits.") -> None:
        """IBM fails the job now (if it has not finished), with ``reason``."""
        self._end(job_id, "ERROR", reason)

    def cancel_at_ibm(self, job_id: str) -> None:
        """Someone cancels the job at IBM (the dashboard, another client), if it has not finished."""
        self._end(job_id, "CANCELLED", "")

    def _end(self, job_id: str, status: str, reason: str) -> None:
        job = self.jobs[job_id]
        if job.api_status(self.now) in ("QUEUED", "RUNNING"):
            job.ended = (self.now, status, reason)

    # ------------------------------------------------------------------ counting, for tests

    def tagged(self, tag: str) -> list[FakeJob]:
        """Every job carrying ``tag``, oldest first (whatever ``listing_lag`` hides)."""
        return sorted((job for job in self.jobs.values() if tag in job.tags), key=lambda job: job.created)

    def ran(self, tag: str) -> list[FakeJob]:
        """The jobs carrying ``tag`` that have run (used the QPU) by now."""
        return [job for job in self.tagged(tag) if job.ran(self.now)]

    def unfinished(self, tag: str) -> list[FakeJob]:
        """The jobs carrying ``tag`` that are queued or running now (they will run)."""
        return [job for job in self.tagged(tag) if job.api_status(self.now) in ("QUEUED", "RUNNING")]

    def run_all(self) -> None:
        """Let enough time pass for every queued job to finish."""
        self.sleep(self.queue_seconds + self.run_seconds)

    # ------------------------------------------------------------------ the library's exceptions

    def _server(self, method: str, url: str) -> None:
        """Raise what the client raises for an armed fault of ``method``; count the call."""
        from qiskit_ibm_runtime.api.exceptions import RequestsApiError
        from qiskit_ibm_runtime.exceptions import IBMNotAuthorizedError

        self.calls[method] += 1
        if self._faults.credentials_rejected:
            raise IBMNotAuthorizedError(f"401 Client Error: Unauthorized for url: {url}")
        if self._faults.flaky[method] > 0 and self._faults.flaky_after[method] > 0:
            self._faults.flaky_after[method] -= 1
        elif self._faults.flaky[method] > 0:
            self._faults.flaky[method] -= 1
            raise RequestsApiError(
                f"HTTPSConnectionPool(host='quantum.cloud.ibm.com', port=443): Max retries exceeded with url: "
                f"{url.removeprefix('https://quantum.cloud.ibm.com')} (Caused by ResponseError('too many 502 error "
                "responses'))"
            )

    def _job(self, job_id: str) -> FakeJob:
        from qiskit_ibm_runtime.exceptions import RuntimeJobNotFound

        job = self.jobs.get(job_id)
        if job is None:
            raise RuntimeJobNotFound(f"Job not found: {job_id}")
        return job

    def _backend(self, name: str) -> None:
        from qiskit.providers.exceptions import QiskitBackendNotFoundError

        if name not in self.backends:
            raise QiskitBackendNotFoundError(
                "No backend matches the criteria. Learn more about available backends here "
                "https://quantum.cloud.ibm.com/docs/guides/qpu-information#view-your-resources"
            )

    def _create(self, request: SubmitRequest) -> FakeJob:
        job_id = f"d{next(self._ids):019x}"
        job = FakeJob(job_id, request, self.now, self.queue_seconds, self.run_seconds, self.quantum_seconds)
        self.jobs[job_id] = job
        self.submissions.append(request)
        self.now += 0.001  # IBM's creation times are distinct
        return job

    # ------------------------------------------------------------------ IbmService

    def backend_info(self, name: str) -> BackendInfo:
        with ibm_call(f"reading backend {name}"):
            self._server("backend_info", f"{_URL}/backends/{name}/status")
            self._backend(name)
            queued = sum(1 for job in self.jobs.values() if job.api_status(self.now) == "QUEUED")
            return BackendInfo(name, self.num_qubits, ("cz", "rz", "sx", "x"), True, queued, "active")

    def backend(self, name: str) -> Any:
        """A generic device of ``num_qubits`` qubits and the fake's gates, named ``name`` (its
        target is what the submit step transpiles for)."""
        with ibm_call(f"reading backend {name}"):
            self._server("backend", f"{_URL}/backends/{name}/configuration")
            self._backend(name)
            if name not in self._devices:
                from qiskit.providers.fake_provider import GenericBackendV2

                device = GenericBackendV2(self.num_qubits, basis_gates=["cz", "rz", "sx", "x"], seed=11)
                device.name = name
                self._devices[name] = device
            return self._devices[name]

    def submit(self, request: SubmitRequest) -> str:
        from qiskit_ibm_runtime.exceptions import IBMRuntimeError

        with ibm_call(f"submitting to {request.backend}"):
            self._server("submit", f"{_URL}/jobs")
            self._backend(request.backend)
            if request.session_id is not None and not self.sessions.get(request.session_id, {}).get("open"):
                raise IBMRuntimeError(f"Failed to run program: 409 Client Error: Conflict for url: {_URL}/jobs")
            faults = self._faults
            if faults.refuse_submit:
                faults.refuse_submit -= 1
                raise IBMRuntimeError(
                    "Failed to run program: HTTPSConnectionPool(host='quantum.cloud.ibm.com', port=443): Max retries "
                    "exceeded with url: /api/v1/jobs (Caused by ResponseError('too many 502 error responses'))"
                )
            copies = faults.duplicate_submit.pop(0) if faults.duplicate_submit else 1
            created = [self._create(request) for _ in range(copies)]
            if faults.die_after_submit:
                faults.die_after_submit -= 1
                raise Killed(f"the pod was killed after IBM created job {created[-1].job_id}")
            if faults.lose_response:
                faults.lose_response -= 1
                raise IBMRuntimeError(
                    "Failed to run program: ('Connection aborted.', RemoteDisconnected('Remote end closed "
                    "connection without response'))"
                )
            return created[-1].job_id

    def find_jobs(self, tag: str) -> list[JobInfo]:
        with ibm_call(f"looking for jobs tagged {tag}"):
            self._server("find_jobs", f"{_URL}/jobs?tags={tag}")
            visible = [job for job in self.tagged(tag) if job.created <= self.now - self.listing_lag]
            return oldest_first(
                [
                    JobInfo(job.job_id, job.tags, _EPOCH + timedelta(seconds=job.created), job.request.backend)
                    for job in visible
                ]
            )

    def status(self, job_id: str) -> JobReport:
        with ibm_call(f"reading the status of job {job_id}"):
            self._server("status", f"{_URL}/jobs/{job_id}")
            job = self._job(job_id)
            state = job_state(job.api_status(self.now))
            message = None
            if state == JobState.FAILED and job.ended is not None:
                message = FAILED_MESSAGE.format(job_id, job.ended[2])
            return JobReport(job_id, state, message)

    def result(self, job_id: str) -> Any:
        from qiskit_ibm_runtime.exceptions import RuntimeInvalidStateError, RuntimeJobFailureError

        with ibm_call(f"reading the result of job {job_id}"):
            self._server("result", f"{_URL}/jobs/{job_id}/results")
            job = self._job(job_id)
            status = job.api_status(self.now)
            if status == "ERROR" and job.ended is not None:
                raise RuntimeJobFailureError(
                    f"Unable to retrieve job result. {FAILED_MESSAGE.format(job_id, job.ended[2])}"
                )
            if status == "CANCELLED":
                raise RuntimeInvalidStateError(f"Unable to retrieve result for job {job_id}. Job was cancelled.")
            if status != "DONE":
                self.now = job.created + job.queue_seconds + job.run_seconds  # result() waits for it
            return self.result_for(job)

    def usage(self, job_id: str) -> Usage:
        with ibm_call(f"reading the usage of job {job_id}"):
            self._server("usage", f"{_URL}/jobs/{job_id}/metrics")
            job = self._job(job_id)
            done = job.api_status(self.now) in ("DONE", "ERROR", "CANCELLED")
            seconds = job.quantum_seconds if job.ran(self.now) and done else 0.0
            start = job.created + job.queue_seconds
            metrics = {
                "timestamps": {
                    "created": _iso(job.created),
                    "running": _iso(start) if job.ran(self.now) else None,
                    "finished": _iso(self.now) if done else None,
                },
                "usage": {"qpu_charge_time_seconds": seconds, "status": "complete" if done else "pending"},
            }
            return Usage(seconds if done else 0.0, done, metrics, job.quantum_seconds)

    def cancel(self, job_id: str) -> bool:
        from qiskit_ibm_runtime.exceptions import RuntimeInvalidStateError

        with ibm_call(f"cancelling job {job_id}"):
            self._server("cancel", f"{_URL}/jobs/{job_id}/cancel")
            job = self._job(job_id)
            try:
                if job.api_status(self.now) not in ("QUEUED", "RUNNING"):
                    raise RuntimeInvalidStateError(
                        f"Job cannot be cancelled: 409 Client Error: Conflict for url: {_URL}/jobs/{job_id}/cancel"
                    )
            except RuntimeInvalidStateError:
                return False  # as RuntimeService.cancel: a finished job has nothing to cancel
            job.ended = (self.now, "CANCELLED", "")
            return True

    def open_session(self, backend: str, *, mode: SessionMode = "batch", max_time: int | None = None) -> str:
        with ibm_call(f"opening a {mode} on {backend}"):
            self._server("open_session", f"{_URL}/sessions")
            self._backend(backend)
            session_id = f"s{next(self._ids):019x}"
            self.sessions[session_id] = {"backend": backend, "mode": mode, "max_time": max_time, "open": True}
            return session_id

    def close_session(self, session_id: str, *, cancel: bool = False) -> None:
        with ibm_call(f"closing session {session_id}"):
            self._server("close_session", f"{_URL}/sessions/{session_id}/{'cancel' if cancel else 'close'}")
            if session_id in self.sessions:
                self.sessions[session_id]["open"] = False
                if cancel:
                    self.sessions[session_id]["cancelled"] = True
                    for job in self.jobs.values():
                        if job.request.session_id == session_id:
                            self._end(job.job_id, "CANCELLED", "")


def _iso(seconds: float) -> str:
    return (_EPOCH + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def _empty_result(job: FakeJob) -> Any:
    """A ``PrimitiveResult`` with no PUB results (the shape, without pretending to have measured)."""
    from qiskit.primitives import PrimitiveResult

    return PrimitiveResult([], metadata={"job_id": job.job_id, "fake": True})
