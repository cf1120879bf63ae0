"""The ibm-submit and ibm-wait steps: files in, files out, around ``exactly_once`` (DESIGN.md, "Exactly once").

``submit_step`` — ISA-transpiles every PUB's circuit (the ``circuit`` artifact: one circuit per
PUB) for the target's device, with its rows from the ``bindings`` directory
(``qiskit_argo.ibm.isa``), then ``submit_once`` of all the PUBs as ONE IBM job with the QiskitJob's
identity tag (adopting the job an earlier attempt submitted, cancelling duplicates). It writes
``submission.json`` as soon as the job id is known (before duplicates are looked for), then again
with what happened::

    {"jobId", "tag", "action": Submitted | Recovered | Adopted | null, "duplicatesCancelled": [ids],
     "sessionId", "message"}

and ``ibm-jobs.json``: the local-testing job store for a fake backend (``LocalTestingService``),
``{}`` for IBM Quantum.

``wait_step`` — re-attaches to ``submission.json``'s job by id and waits (``exactly_once.wait``,
with the tag, so a duplicate IBM's list hid from the submit step is cancelled too); it never
submits. It writes ``part.json``: the result as the one part of the run (shard ``0-of-1``, a
slice per PUB covering all its bindings, in execute-aer's part format, ``qiskit_argo.execution``)
whose ``backend`` block gains ``type``/``device``/``fake``, and whose ``ibm`` block holds the job
id, tag, state, usage in quantum seconds, IBM's estimate, the timestamps and IBM's metrics; and
``ibm.json`` (the job's ``IbmJobStatus``, camelCase) — ``ibm.json`` also when the job failed or was
cancelled at IBM, before the step fails. store-results merges the part and summarizes it.

Waiting: every ``QISKIT_ARGO_IBM_POLL_SECONDS`` (default 10 s against IBM, 0.2 s in local
testing mode); ``QISKIT_ARGO_IBM_WAIT_SECONDS`` bounds one attempt (default: unbounded; when it
passes the step fails transiently and Argo's retry re-attaches). The submit step looks for its
job by tag ``QISKIT_ARGO_IBM_LOOKUP_SECONDS`` apart (default 5 s; 0 in local testing mode).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qiskit_argo.api import BackendStatus, IbmJobStatus, Primitive
from qiskit_argo.errors import InvalidJobError, PermanentError, one_line, quote
from qiskit_argo.ibm import connect
from qiskit_argo.ibm.connect import Target, parse_target
from qiskit_argo.ibm.errors import IbmPermanentError
from qiskit_argo.ibm.exactly_once import SubmitOutcome, submit_once, wait
from qiskit_argo.ibm.service import IbmService, JobReport, Usage
from qiskit_argo.ibm.state import JobState
from qiskit_argo.ibm.tags import IDENTITY_TAG_PATTERN, JobIdentity, identity_tag
from qiskit_argo.reasons import Reason
from qiskit_argo.request import ExecutionRequest
from qiskit_argo.stepio import load_request, parse_parameter, read_artifact
from qiskit_argo.steps._contract import SINGLE_PART

__all__ = [
    "POLL_ENV",
    "WAIT_ENV",
    "LOOKUP_ENV",
    "STORE_FILE",
    "SUBMISSION_FILE",
    "IBM_FILE",
    "part_document",
    "identity_of",
    "parse_max_execution_time",
    "max_execution_time",
    "submit_step",
    "wait_step",
]

POLL_ENV = "QISKIT_ARGO_IBM_POLL_SECONDS"
WAIT_ENV = "QISKIT_ARGO_IBM_WAIT_SECONDS"
LOOKUP_ENV = "QISKIT_ARGO_IBM_LOOKUP_SECONDS"
STORE_FILE = "ibm-jobs.json"
SUBMISSION_FILE = "submission.json"
IBM_FILE = "ibm.json"
#: The executor estimator's ``default_precision`` (``EstimatorOptions``: 1/sqrt(4096)), used when a job sets none.
DEFAULT_PRECISION = 0.015625


def _seconds(env: Mapping[str, str], name: str, default: float | None) -> float | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise PermanentError(f"{name}={quote(raw)}: not a number of seconds; set it to a number >= 0, or unset it")
    return value


def identity_of(request: ExecutionRequest) -> JobIdentity:
    """The QiskitJob's identity as the validate step recorded it (namespace, name, uid, generation)."""
    return JobIdentity(request.namespace, request.job_name, request.uid, request.generation)


def _backend_status(backend_json: str, step: str) -> BackendStatus:
    status = parse_parameter(BackendStatus, backend_json, "backend")
    if status.type not in (None, "ibm") or status.name == "aer":
        raise InvalidJobError(f"backend parameter: {step} runs only on an IBM backend, not {quote(status.name)}")
    return status


def _write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(document, separators=(",", ":")))
    temporary.replace(path)


def _submission(outcome: SubmitOutcome | None, job_id: str, tag: str, session_id: str | None) -> dict[str, Any]:
    if outcome is None:
        return {
            "jobId": job_id,
            "tag": tag,
            "action": None,
            "duplicatesCancelled": [],
            "sessionId": session_id,
            "message": f"IBM job {job_id}: recorded; looking for duplicates",
        }
    return {
        "jobId": outcome.job_id,
        "tag": outcome.tag,
        "action": outcome.action.value,
        "duplicatesCancelled": list(outcome.duplicates_cancelled),
        "sessionId": session_id,
        "message": outcome.message,
    }


# --------------------------------------------------------------------------- submit


def parse_max_execution_time(text: str) -> int:
    """The ``max-execution-time`` parameter: whole seconds reserved for the job, ``0`` (or the
    template's default ``{}``, or empty) when nothing was reserved."""
    raw = (text or "").strip()
    if raw in ("", "{}"):
        return 0
    if not raw.isdigit() or len(raw) > 12:
        raise InvalidJobError(
            f"max-execution-time parameter: {quote(raw)} is not a whole number of seconds >= 0 (0: none reserved)"
        )
    return int(raw)


def max_execution_time(reserved_seconds: int, job_limit: int | None) -> int | None:
    """The ``max_execution_time`` to submit with: the smaller of the reserved seconds (``0``: none)
    and the job's ``spec.backend.ibm.maxExecutionTime`` (``None``: none); ``None`` = IBM's own limit."""
    limits = [value for value in (reserved_seconds or None, job_limit) if value]
    return min(limits) if limits else None


def submit_step(
    *,
    circuit_file: Path,
    request_file: Path,
    backend_json: str,
    target_json: str,
    secret_ref: tuple[str, str] | None,
    out_dir: Path,
    env: Mapping[str, str] | None = None,
    reserved_seconds: int = 0,
    bindings_dir: Path | None = None,
) -> SubmitOutcome:
    """The ibm-submit step (see the module docstring); returns what ``submit_once`` did."""
    from qiskit_argo.circuits import circuits_from_qpy
    from qiskit_argo.ibm.isa import isa_request

    env = os.environ if env is None else env
    request = load_request(request_file)
    _backend_status(backend_json, "ibm-submit")
    target = parse_target(target_json)
    circuits = circuits_from_qpy(read_artifact(circuit_file, "circuit"), field="circuit artifact")
    out_dir.mkdir(parents=True, exist_ok=True)
    store = out_dir / STORE_FILE
    _write_json(store, _empty_store(target))
    service = connect.service_for(target, store=store if target.fake else None, env=env, secret_ref=secret_ref)
    device = service.backend(target.device)
    submit, _ = isa_request(
        circuits,
        request,
        device,
        bindings_dir,
        session_id=target.session_id,
        seed=request.aer.seed if target.fake else None,
    )
    limit = max_execution_time(reserved_seconds, request.ibm.max_execution_time)
    if limit != submit.max_execution_time:
        submit = dataclasses.replace(submit, max_execution_time=limit)
    identity = identity_of(request)
    tag = identity_tag(identity)
    submission = out_dir / SUBMISSION_FILE

    def record(job_id: str) -> None:
        _write_json(submission, _submission(None, job_id, tag, target.session_id))

    clock = connect.timing()
    lookup = _seconds(env, LOOKUP_ENV, 0.0 if target.fake else 5.0)
    outcome = submit_once(
        service,
        identity,
        submit,
        record=record,
        lookup_delay=lookup or 0.0,
        sleep=clock.sleep,
    )
    _write_json(submission, _submission(outcome, outcome.job_id, tag, target.session_id))
    return outcome


def _empty_store(target: Target) -> dict[str, Any]:
    if target.fake:
        from qiskit_argo.ibm.local_mode import empty_store

        return empty_store()
    return {}


# --------------------------------------------------------------------------- wait


def _parse_submission(text: str) -> dict[str, Any]:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError:
        raw = None
    job_id = raw.get("jobId") if isinstance(raw, dict) else None
    if not isinstance(job_id, str) or not job_id:
        raise InvalidJobError("submission parameter: no jobId; the ibm-submit step writes submission.json")
    tag = raw.get("tag") if isinstance(raw, dict) else None
    if tag is not None:
        import re

        if not isinstance(tag, str) or not re.fullmatch(IDENTITY_TAG_PATTERN, tag):
            raise InvalidJobError(
                f"submission parameter: tag {quote(tag)} is not an identity tag; the ibm-submit step writes it"
            )
    return raw  # type: ignore[no-any-return]


def _timestamps(usage: Usage | None) -> dict[str, Any]:
    if usage is None:
        return {}
    stamps = usage.metrics.get("timestamps") or {}
    return {key: stamps.get(key) for key in ("created", "running", "finished") if stamps.get(key)}


def _job_status(
    submission: dict[str, Any],
    *,
    state: JobState | None,
    message: str | None,
    usage: Usage | None,
    swept: tuple[str, ...] = (),
) -> IbmJobStatus:
    duplicates = list(dict.fromkeys([*(submission.get("duplicatesCancelled") or []), *swept]))
    return IbmJobStatus(
        job_id=submission["jobId"],
        tag=submission.get("tag"),
        action=submission.get("action"),
        state=state.value if state is not None else None,
        message=one_line(message, 300) if message else None,
        session_id=submission.get("sessionId"),
        duplicates_cancelled=duplicates[:100],
        quantum_seconds=usage.quantum_seconds if usage is not None and usage.final else None,
        estimated_quantum_seconds=usage.estimated_quantum_seconds if usage is not None else None,
        **_timestamps(usage),
    )


def _usage_if_any(service: IbmService, job_id: str) -> Usage | None:
    try:
        return service.usage(job_id)
    except Exception:  # noqa: BLE001 - usage is extra on the way out of a failure; the failure is what counts
        return None


def _ibm_block(status: IbmJobStatus, usage: Usage, polls: int, transient_errors: int, target: Target) -> dict[str, Any]:
    """The ``ibm`` block of ``part.json`` (snake_case, as the rest of the file; store-results
    carries it into ``result.json``)."""
    return {
        "job_id": status.job_id,
        "tag": status.tag,
        "action": status.action,
        "state": status.state,
        "session_id": status.session_id,
        "device": target.device,
        "local_testing": target.fake,
        "duplicates_cancelled": status.duplicates_cancelled,
        "quantum_seconds": usage.quantum_seconds,
        "usage_final": usage.final,
        "estimated_quantum_seconds": usage.estimated_quantum_seconds,
        "timestamps": _timestamps(usage),
        "metrics": usage.metrics,
        "polls": polls,
        "transient_errors": transient_errors,
    }


def _jsonable(value: Any) -> Any:
    """``value`` (a result's metadata) as JSON: containers walked, NumPy scalars and arrays as
    Python values, anything else by ``str``."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item) for item in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _pub_precision(request: ExecutionRequest, index: int, metadata: dict[str, Any], options: Any) -> float | None:
    """An estimator PUB's precision: its own, else what IBM ran it at (the PUB's ``target_precision``,
    else the estimator's ``default_precision``, as its options say)."""
    own = request.pubs[index].precision
    if own:
        return own
    ran = metadata.get("target_precision")
    if isinstance(ran, float):
        return ran
    default = options.get("default_precision") if isinstance(options, dict) else None
    return default if isinstance(default, float) else DEFAULT_PRECISION


def part_document(result: Any, request: ExecutionRequest, status: BackendStatus, target: Target) -> dict[str, Any]:
    """The IBM job's ``PrimitiveResult`` as the run's one part (shard ``SINGLE_PART``): a
    ``pub_results`` entry per PUB in the request's order covering all its bindings (``start`` 0,
    ``stop`` its bindings) in execute-aer's part format (``qiskit_argo.execution.part_header`` and
    ``pub_result_entry``), an estimator PUB's entry with the ``precision`` IBM ran it at; the
    caller adds the ``ibm`` block."""
    from qiskit_argo.execution import part_header, pub_result_entry, versions

    results = list(result)
    if len(results) != len(request.pubs):
        raise PermanentError(
            f"IBM returned {len(results)} PUB results for the job's {len(request.pubs)} PUBs; the result is "
            "not this job's, rerun it",
            reason=Reason.CORRUPT_RESULT,
        )
    metadata = _jsonable(dict(result.metadata))
    options = metadata.get("options") if isinstance(metadata, dict) else None
    pub_results = []
    for index, (pub, pub_result) in enumerate(zip(request.pubs, results, strict=True)):
        entry = pub_result_entry(index, 0, max(1, pub.num_bindings), pub_result, request.primitive)
        if request.primitive == Primitive.ESTIMATOR.value:
            entry["precision"] = _pub_precision(request, index, entry["metadata"], options)
        pub_results.append(entry)
    seed = request.aer.seed if target.fake else None
    document = part_header(request, status, shard=SINGLE_PART, seed=seed, device=target.device)
    document["backend"] = {
        "name": status.name,
        "method": None,
        "noise_model": target.device if target.fake else None,
        "seed": seed,
        "device": target.device,
        "type": "ibm",
        "fake": target.fake,
    }
    document["pub_results"] = pub_results
    document["metadata"] = {
        **metadata,
        "transpiled": True,
        "optimization_level": request.optimization_level,
        **versions(),
        "qiskit_ibm_runtime_version": _runtime_version(),
    }
    return document


def wait_step(
    *,
    request_file: Path,
    store_file: Path,
    backend_json: str,
    target_json: str,
    submission_json: str,
    secret_ref: tuple[str, str] | None,
    out_dir: Path,
    env: Mapping[str, str] | None = None,
) -> IbmJobStatus:
    """The ibm-wait step (see the module docstring); returns the job's final ``IbmJobStatus``."""
    from qiskit_argo.execution import write_part

    env = os.environ if env is None else env
    request = load_request(request_file)
    status = _backend_status(backend_json, "ibm-wait")
    target = parse_target(target_json)
    submission = _parse_submission(submission_json)
    job_id: str = submission["jobId"]
    out_dir.mkdir(parents=True, exist_ok=True)
    store: Path | None = None
    if target.fake:
        # Work on a copy: the input artifact stays as the submit step wrote it.
        read_artifact(store_file, "ibm-jobs")
        store = out_dir / STORE_FILE
        if store.resolve() != store_file.resolve():
            shutil.copyfile(store_file, store)
    service = connect.service_for(target, store=store, env=env, secret_ref=secret_ref)
    clock = connect.timing()
    reports: list[JobReport] = []
    try:
        outcome = wait(
            service,
            job_id,
            poll_interval=_seconds(env, POLL_ENV, 0.2 if target.fake else 10.0) or 0.0,
            timeout=_seconds(env, WAIT_ENV, None),
            sleep=clock.sleep,
            clock=clock.clock,
            on_report=reports.append,
            tag=submission.get("tag"),
        )
    except IbmPermanentError as error:
        state = reports[-1].state if reports else None
        usage = _usage_if_any(service, job_id) if state in (JobState.FAILED, JobState.CANCELLED) else None
        failed = _job_status(submission, state=state, message=error.ibm_message or str(error), usage=usage)
        _write_json(out_dir / IBM_FILE, failed.dump())
        raise
    final = _job_status(submission, state=JobState.DONE, message=None, usage=outcome.usage,
                        swept=outcome.duplicates_cancelled)  # fmt: skip
    document = part_document(outcome.result, request, status, target)
    document["ibm"] = _ibm_block(final, outcome.usage, outcome.polls, outcome.transient_errors, target)
    write_part(out_dir, document)
    _write_json(out_dir / IBM_FILE, final.dump())
    return final


def _runtime_version() -> str | None:
    try:
        import qiskit_ibm_runtime
    except ImportError:  # pragma: no cover - the executor image has it
        return None
    return str(qiskit_ibm_runtime.__version__)
