"""``LocalTestingService``: the ``IbmService`` of qiskit-ibm-runtime's local testing mode (fake backends, offline).

A fake backend (``qiskit_ibm_runtime.fake_provider``, named as its ``name`` says, e.g.
``fake_sherbrooke``) simulated by Aer with the device's noise, through the very primitives and
options used against IBM (``qiskit_argo.ibm.primitives``): nothing is sent to IBM, nothing is
billed, no credentials are needed. qiskit-ibm-runtime's ``QiskitRuntimeLocalService`` has no
``jobs()`` nor ``job(id)``, so jobs are remembered here, with their tags, in one of two ways:

* ``LocalTestingService()`` — in this process only: ``submit`` starts the run at once (a
  ``LocalRuntimeJob``, whose ``status()`` is the ``qiskit.providers.JobStatus`` enum read by
  ``qiskit_argo.ibm.state.job_state``);
* ``LocalTestingService(store=path)`` — in a JSON file, so the submit step and the wait step (two
  processes, two pods: the file travels between them as the ``ibm-jobs`` artifact) see the same
  jobs. ``submit`` records the job *queued* and returns at once; the first ``status``/``result``
  in any process runs it (under an exclusive lock on ``<store>.lock``, so it runs once) and
  stores its result; ``cancel`` of a queued job marks it cancelled and it never runs.

Each step attempt works on its own copy (Argo hands every attempt the artifact as the submit step
wrote it): a retried wait step re-attaches to the same job id and, the job being still queued in
its copy, simulates it again — seeded, with the same counts, and never submitting anything. A
retried submit step starts from an empty store (a failed attempt passes on no output): nothing is
billed in local testing mode, so this is the one place where a job can be simulated twice.

The store (``STORE_KIND``, version 1)::

    {"kind": "qiskit-argo.local-testing-jobs", "version": 1,
     "jobs": {"<id>": {"id", "tags": [...], "created": ISO 8601, "backend", "primitive",
                       "state": "QUEUED" | "DONE" | "ERROR" | "CANCELLED", "message",
                       "pubs": <PUBs>, "shots", "precision", "seed", "resilienceLevel",
                       "maxExecutionTime", "sessionId",
                       "metrics": {...}, "result": <PrimitiveResult>}},
     "sessions": {"<id>": {"backend", "mode", "state"}}}

``pubs`` and ``result`` are encoded with qiskit-ibm-runtime's own ``RuntimeEncoder`` (circuits as
base64 QPY, arrays, ``SparsePauliOp``, ``PrimitiveResult``) and read back with ``RuntimeDecoder``
— the encoding IBM's service uses for the same objects. ``{}`` (what the submit step writes for
IBM Quantum itself) reads as an empty store. A job's usage is 0 quantum seconds, as local testing
mode reports; its metrics are ``LocalRuntimeJob.metrics()``'s shape (timestamps, usage).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qiskit_argo.errors import one_line
from qiskit_argo.ibm.errors import IbmFailure, IbmPermanentError, IbmTransientError, ibm_call
from qiskit_argo.ibm.primitives import run_request
from qiskit_argo.ibm.service import BackendInfo, JobInfo, JobReport, SessionMode, SubmitRequest, Usage, oldest_first
from qiskit_argo.ibm.state import JobState, job_state

__all__ = ["STORE_KIND", "LocalTestingService", "fake_backend_named", "empty_store"]

STORE_KIND = "qiskit-argo.local-testing-jobs"
_VERSION = 1
_FINAL = ("DONE", "ERROR", "CANCELLED")


def _class_name(name: str) -> str:
    """``fake_sherbrooke`` -> ``FakeSherbrooke`` (the fake provider's own naming)."""
    return "".join(part.capitalize() for part in name.split("_"))


def fake_backend_named(name: str) -> Any:
    """The fake backend whose ``name`` is ``name``. Tries the class named after it first
    (``FakeSherbrooke``: one backend built, not every one), then ``QiskitRuntimeLocalService.backend``
    (raises ``QiskitBackendNotFoundError`` for an unknown one)."""
    from qiskit_ibm_runtime import fake_provider

    with warnings.catch_warnings():
        # Building a fake backend reads its stored properties; some warn about them.
        warnings.simplefilter("ignore", UserWarning)
        cls = getattr(fake_provider, _class_name(name), None) if name.startswith("fake_") else None
        if isinstance(cls, type):
            with contextlib.suppress(Exception):
                backend = cls()
                if getattr(backend, "name", None) == name and hasattr(backend, "target"):
                    return backend
        from qiskit_ibm_runtime.fake_provider.local_service import QiskitRuntimeLocalService

        return QiskitRuntimeLocalService().backend(name)


def empty_store() -> dict[str, Any]:
    """A store holding no job."""
    return {"kind": STORE_KIND, "version": _VERSION, "jobs": {}, "sessions": {}}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _encode(value: Any) -> Any:
    from qiskit_ibm_runtime.json import RuntimeEncoder

    return json.loads(json.dumps(value, cls=RuntimeEncoder))


def _decode(value: Any) -> Any:
    from qiskit_ibm_runtime.json import RuntimeDecoder

    return json.loads(json.dumps(value), cls=RuntimeDecoder)


def _plain(value: Any) -> Any:
    """Metadata made of what ``RuntimeEncoder`` can write: dataclasses and pydantic models become dicts."""
    import dataclasses

    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if hasattr(value, "model_dump"):
        return _plain(value.model_dump())
    return value


def _storable(result: Any) -> Any:
    """``result`` (a ``PrimitiveResult``) with metadata ``RuntimeEncoder`` can write (the executor's
    ``Metadata`` dataclass becomes a dict); the data is unchanged."""
    from qiskit.primitives import PrimitiveResult

    pubs = [type(pub)(pub.data, metadata=_plain(dict(pub.metadata))) for pub in result]
    return PrimitiveResult(pubs, metadata=_plain(dict(result.metadata)))


def _simulation_failure(error: BaseException, backend: Any, primitive: str) -> str:
    """IBM's-style message for a local job that failed, naming what to change when we know."""
    text = one_line(str(error) or type(error).__name__, 160)
    if "max_memory_mb" in text or "insufficient memory" in text.lower():
        return (
            f"local testing mode: Aer cannot simulate this {primitive} job on the {backend.num_qubits} qubits of "
            f"{backend.name} within its memory limit (the estimator measures every qubit of the device); use a "
            "smaller fake backend (e.g. fake_manila) or the sampler"
        )
    return f"local testing mode: the simulation failed ({type(error).__name__}: {text})"


@dataclass
class _Job:
    job: Any
    tags: tuple[str, ...]
    created: datetime
    backend: str


class LocalTestingService:
    """Local testing mode (an ``IbmService``): the request's ``backend`` names a fake backend; with
    ``store``, jobs live in that JSON file (see the module docstring)."""

    def __init__(self, store: Path | None = None) -> None:
        self.store = store
        self._backends: dict[str, Any] = {}
        self._jobs: dict[str, _Job] = {}

    def __repr__(self) -> str:
        where = f"store={str(self.store)!r}" if self.store is not None else f"jobs={len(self._jobs)}"
        return f"LocalTestingService(backends={sorted(self._backends)!r}, {where})"

    def _backend(self, name: str) -> Any:
        if name not in self._backends:
            self._backends[name] = fake_backend_named(name)
        return self._backends[name]

    # ------------------------------------------------------------------ the store

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """The store's contents under an exclusive lock; written back (atomically) on exit."""
        assert self.store is not None
        lock_path = self.store.with_name(f".{self.store.name}.lock")
        self.store.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                data = self._read()
                before = json.dumps(data, sort_keys=True)
                yield data
                if json.dumps(data, sort_keys=True) != before or not self.store.exists():
                    self._write(data)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _read(self) -> dict[str, Any]:
        assert self.store is not None
        try:
            raw = self.store.read_text()
        except FileNotFoundError:
            return empty_store()
        except OSError as error:
            raise IbmTransientError(
                f"local testing mode: cannot read the job store {self.store} ({error.strerror}); retrying",
                failure=IbmFailure.NETWORK,
            ) from None
        try:
            data = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError:
            data = None
        if data == {}:
            return empty_store()
        if not isinstance(data, dict) or data.get("kind") != STORE_KIND or not isinstance(data.get("jobs"), dict):
            raise IbmPermanentError(
                f"ibm-jobs artifact {self.store}: not a local-testing job store ({STORE_KIND}); the submit step "
                "wrote another file, or it was damaged",
                failure=IbmFailure.REQUEST_REFUSED,
            )
        data.setdefault("sessions", {})
        return data

    def _write(self, data: dict[str, Any]) -> None:
        assert self.store is not None
        fd, temporary = tempfile.mkstemp(prefix=f".{self.store.name}.", dir=self.store.parent)
        try:
            with os.fdopen(fd, "w") as file:
                json.dump(data, file, separators=(",", ":"))
            os.replace(temporary, self.store)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    @staticmethod
    def _stored(data: dict[str, Any], job_id: str) -> dict[str, Any]:
        from qiskit_ibm_runtime.exceptions import RuntimeJobNotFound

        record = data["jobs"].get(job_id)
        if record is None:
            raise RuntimeJobNotFound(f"Job not found: {job_id}")
        return record  # type: ignore[no-any-return]

    def _run_stored(self, record: dict[str, Any]) -> None:
        """Run a queued stored job now, in this process, and record how it ended."""
        request = SubmitRequest(
            backend=record["backend"],
            primitive=record["primitive"],
            pubs=_decode(record["pubs"]),
            tags=tuple(record["tags"]),
            shots=record.get("shots"),
            precision=record.get("precision"),
            max_execution_time=record.get("maxExecutionTime"),
            seed=record.get("seed"),
            resilience_level=record.get("resilienceLevel"),
        )
        backend = self._backend(request.backend)
        running = _now()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                result = run_request(request, backend).result()
        except Exception as error:  # noqa: BLE001 - whatever the simulation raised is the job's failure
            record.update(state="ERROR", message=_simulation_failure(error, backend, request.primitive))
            record["metrics"] = _metrics(record["created"], running, _now())
            return
        record["result"] = _encode(_storable(result))
        record.update(state="DONE", message=None, metrics=_metrics(record["created"], running, _now()))

    def _settled(self, job_id: str) -> dict[str, Any]:
        """The stored job, run first if it was still queued."""
        with self._locked() as data:
            record = self._stored(data, job_id)
            if record["state"] == "QUEUED":
                self._run_stored(record)
            return dict(record)

    # ------------------------------------------------------------------ in process

    def _job(self, job_id: str) -> _Job:
        from qiskit_ibm_runtime.exceptions import RuntimeJobNotFound

        if job_id not in self._jobs:
            raise RuntimeJobNotFound(f"Job not found: {job_id}")
        return self._jobs[job_id]

    # ------------------------------------------------------------------ IbmService

    def backend_info(self, name: str) -> BackendInfo:
        with ibm_call(f"reading backend {name}"):
            backend = self._backend(name)
            return BackendInfo.of(backend)

    def backend(self, name: str) -> Any:
        with ibm_call(f"reading backend {name}"):
            return self._backend(name)

    def submit(self, request: SubmitRequest) -> str:
        with ibm_call(f"submitting to {request.backend}"):
            backend = self._backend(request.backend)
            if self.store is None:
                job = run_request(request, backend)
                job_id = str(job.job_id())
                self._jobs[job_id] = _Job(job, tuple(request.tags), datetime.now(UTC), request.backend)
                return job_id
            record = {
                "id": f"local-{uuid.uuid4().hex[:20]}",
                "tags": list(request.tags),
                "created": _now(),
                "backend": request.backend,
                "primitive": request.primitive,
                "state": "QUEUED",
                "message": None,
                "pubs": _encode(list(request.pubs)),
                "shots": request.shots,
                "precision": request.precision,
                "seed": request.seed,
                "resilienceLevel": request.resilience_level,
                "maxExecutionTime": request.max_execution_time,
                "sessionId": request.session_id,
            }
            with self._locked() as data:
                data["jobs"][record["id"]] = record
            return str(record["id"])

    def find_jobs(self, tag: str) -> list[JobInfo]:
        with ibm_call(f"looking for jobs tagged {tag}"):
            if self.store is None:
                tagged = [(job_id, job) for job_id, job in self._jobs.items() if tag in job.tags]
                return oldest_first([JobInfo(job_id, job.tags, job.created, job.backend) for job_id, job in tagged])
            with self._locked() as data:
                records = [record for record in data["jobs"].values() if tag in record["tags"]]
            return oldest_first(
                [
                    JobInfo(r["id"], tuple(r["tags"]), datetime.fromisoformat(r["created"]), r["backend"])
                    for r in records
                ]
            )

    def status(self, job_id: str) -> JobReport:
        with ibm_call(f"reading the status of job {job_id}"):
            if self.store is not None:
                record = self._settled(job_id)
                return JobReport(job_id, job_state(record["state"]), record.get("message"))
            job = self._job(job_id).job
            state = job_state(job.status())
            return JobReport(job_id, state, _failure_of(job) if state == JobState.FAILED else None)

    def result(self, job_id: str) -> Any:
        from qiskit_ibm_runtime.exceptions import RuntimeInvalidStateError, RuntimeJobFailureError

        with ibm_call(f"reading the result of job {job_id}"):
            if self.store is None:
                return self._job(job_id).job.result()
            record = self._settled(job_id)
            if record["state"] == "ERROR":
                raise RuntimeJobFailureError(f"Unable to retrieve job result. {record.get('message')}")
            if record["state"] == "CANCELLED":
                raise RuntimeInvalidStateError(f"Unable to retrieve result for job {job_id}. Job was cancelled.")
            return _decode(record["result"])

    def usage(self, job_id: str) -> Usage:
        with ibm_call(f"reading the usage of job {job_id}"):
            if self.store is None:
                job = self._job(job_id).job
                metrics = job.metrics()
            else:
                with self._locked() as data:
                    record = self._stored(data, job_id)
                    metrics = record.get("metrics") or _metrics(record["created"], None, None, final=False)
            final = (metrics.get("usage") or {}).get("status", "pending") != "pending"
            return Usage(0.0, final, metrics)

    def cancel(self, job_id: str) -> bool:
        with ibm_call(f"cancelling job {job_id}"):
            if self.store is not None:
                with self._locked() as data:
                    record = self._stored(data, job_id)
                    if record["state"] != "QUEUED":
                        return False
                    record.update(state="CANCELLED", metrics=_metrics(record["created"], None, _now()))
                    return True
            job = self._job(job_id).job
            if job_state(job.status()) not in (JobState.QUEUED, JobState.RUNNING):
                return False
            return bool(job.cancel())

    def open_session(self, backend: str, *, mode: SessionMode = "batch", max_time: int | None = None) -> str:
        with ibm_call(f"opening a {mode} on {backend}"):
            self._backend(backend)
            session_id = f"local-{mode}-{uuid.uuid4()}"
            if self.store is not None:
                with self._locked() as data:
                    data["sessions"][session_id] = {"backend": backend, "mode": mode, "state": "open"}
            return session_id

    def close_session(self, session_id: str, *, cancel: bool = False) -> None:
        """Sessions are accepted and ignored, as local testing mode does; with a store, ``cancel``
        also cancels the session's queued jobs."""
        if self.store is None:
            return
        with ibm_call(f"closing session {session_id}"), self._locked() as data:
            if session_id in data["sessions"]:
                data["sessions"][session_id]["state"] = "cancelled" if cancel else "closed"
            if cancel:
                for record in data["jobs"].values():
                    if record.get("sessionId") == session_id and record["state"] == "QUEUED":
                        record.update(state="CANCELLED", metrics=_metrics(record["created"], None, _now()))


def _metrics(created: str, running: str | None, finished: str | None, *, final: bool = True) -> dict[str, Any]:
    """Metrics in ``LocalRuntimeJob.metrics()``'s shape (no QPU time is charged locally)."""
    return {
        "timestamps": {"created": created, "running": running, "finished": finished},
        "usage": {"qpu_charge_time_seconds": 0, "status": "complete" if final else "pending"},
    }


def _failure_of(job: Any) -> str | None:
    """What a failed local job raised (``PrimitiveJob.result`` re-raises it)."""
    try:
        job.result()
    except Exception as error:  # noqa: BLE001 - whatever the simulation raised is the job's failure
        return f"{type(error).__name__}: {error}"
    return None
