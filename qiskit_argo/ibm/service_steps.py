"""The service steps (``qiskit_argo.steps.SERVICE_STEPS``): probe a backend, cancel a job's IBM jobs,
open and close a session. Each runs alone in a one-step Workflow the controller creates, in the one
pod that gets the API key; the controller copies its output into the owner's status.

* ``probe_step`` -> ``probe.json``: ``{"device","numQubits","basisGates","operational","pendingJobs",
  "statusMessage","credentialsValid","reason","message"}``. A missing or rejected key, or an unknown
  or retired backend, is *reported* there (``reason`` a ``Reason`` word; exit 0, so the controller
  can copy it into the QiskitBackend's conditions); a transient failure fails the step (exit 1).
* ``cancel_step`` -> ``cancelled.json``: ``{"cancelled": [ids]}``, every unfinished job carrying the
  identity's tag (``exactly_once.cancel_all``).
* ``session_open_step`` -> ``session.json``: ``{"sessionId","state","device"}``.
* ``session_close_step`` -> ``session.json``: ``{"sessionId","state"}`` (``closed`` or ``cancelled``).

In local testing mode (a fake target) the cancel and session steps have no job store to share
(jobs of a local run live in its own ``ibm-jobs`` artifacts), so cancel finds nothing and
sessions are accepted and ignored, as qiskit-ibm-runtime's local mode does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qiskit_argo.errors import InvalidJobError, PermanentError, quote
from qiskit_argo.ibm import connect
from qiskit_argo.ibm.connect import parse_target
from qiskit_argo.ibm.errors import IbmFailure, IbmPermanentError
from qiskit_argo.ibm.exactly_once import cancel_all
from qiskit_argo.ibm.service import SessionMode
from qiskit_argo.ibm.tags import JobIdentity
from qiskit_argo.reasons import Reason

__all__ = [
    "parse_duration",
    "probe_step",
    "cancel_step",
    "session_open_step",
    "session_close_step",
]

_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str, *, field: str) -> int:
    """``2h``, ``30m``, ``1h30m`` as whole seconds (at least 1); ``InvalidJobError`` naming ``field``."""
    position, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if not text or position != len(text) or total < 1:
        raise InvalidJobError(f"{field}: {quote(text)} is not a duration of at least 1s; write it like 2h or 30m")
    return int(total)


def _json_object(text: str, what: str, shape: str) -> dict[str, Any]:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError:
        raw = None
    if not isinstance(raw, dict):
        raise InvalidJobError(f"{what} parameter: not a JSON object {shape}")
    return raw


def _write(out_dir: Path, name: str, document: Mapping[str, Any]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / name).write_text(json.dumps(document, separators=(",", ":")))


# --------------------------------------------------------------------------- probe


def _probe_failure(device: str, *, valid: bool | None, reason: str, message: str) -> dict[str, Any]:
    return {
        "device": device,
        "numQubits": None,
        "basisGates": [],
        "operational": False,
        "pendingJobs": None,
        "statusMessage": None,
        "credentialsValid": valid,
        "reason": reason,
        "message": message,
    }


def probe_step(*, target_json: str, secret_ref: tuple[str, str] | None, out_dir: Path) -> dict[str, Any]:
    """The ibm-probe step: write ``probe.json`` (see the module docstring) and return it."""
    target = parse_target(target_json)
    try:
        service = connect.service_for(target, store=None, secret_ref=secret_ref)
        info = service.backend_info(target.device)
    except IbmPermanentError as error:
        rejected = error.failure == IbmFailure.CREDENTIALS_REJECTED
        document = _probe_failure(target.device, valid=False if rejected else True, reason=error.reason.value,
                                  message=str(error))  # fmt: skip
    except PermanentError as error:
        if error.reason != Reason.CREDENTIALS_MISSING:
            raise
        document = _probe_failure(target.device, valid=False, reason=error.reason.value, message=str(error))
    else:
        where = "local testing mode" if target.fake else "IBM Quantum"
        document = {
            "device": info.name,
            "numQubits": info.num_qubits,
            "basisGates": list(info.basis_gates),
            "operational": info.operational,
            "pendingJobs": info.pending_jobs,
            "statusMessage": info.status_message,
            "credentialsValid": True,
            "reason": None,
            "message": f"{info.name} ({where}): {info.num_qubits} qubits, "
            f"{'operational' if info.operational else 'not operational'}, {info.pending_jobs} pending jobs",
        }
    _write(out_dir, "probe.json", document)
    return document


# --------------------------------------------------------------------------- cancel


def _identity(text: str) -> JobIdentity:
    raw = _json_object(text, "identity", '{"namespace","name","uid","generation"}')
    namespace, name, uid, generation = (raw.get(key) for key in ("namespace", "name", "uid", "generation"))
    if not isinstance(namespace, str) or not namespace or not isinstance(name, str) or not name:
        raise InvalidJobError("identity parameter: namespace and name are required strings")
    if uid is not None and not isinstance(uid, str):
        raise InvalidJobError("identity parameter: uid must be a string or null")
    if isinstance(generation, bool) or not isinstance(generation, int) or generation < 0:
        raise InvalidJobError("identity parameter: generation must be an integer >= 0")
    return JobIdentity(namespace, name, uid or None, generation)


def cancel_step(
    *, target_json: str, identity_json: str, secret_ref: tuple[str, str] | None, out_dir: Path
) -> list[str]:
    """The ibm-cancel step: cancel the identity's unfinished IBM jobs; write ``cancelled.json``."""
    target = parse_target(target_json)
    identity = _identity(identity_json)
    service = connect.service_for(target, store=None, secret_ref=secret_ref)
    cancelled = list(cancel_all(service, identity))
    _write(out_dir, "cancelled.json", {"cancelled": cancelled})
    return cancelled


# --------------------------------------------------------------------------- sessions


def session_open_step(
    *, target_json: str, session_json: str, secret_ref: tuple[str, str] | None, out_dir: Path
) -> dict[str, Any]:
    """The session-open step: open a session or batch on the target's device; write ``session.json``."""
    target = parse_target(target_json)
    raw = _json_object(session_json, "session", '{"mode","maxTime"}')
    mode: SessionMode
    given = raw.get("mode") or "session"
    if given == "session":
        mode = "session"
    elif given == "batch":
        mode = "batch"
    else:
        raise InvalidJobError(f"QiskitSession spec.mode: {quote(given)} is not session or batch; use one of them")
    max_time = raw.get("maxTime")
    seconds = None if max_time in (None, "") else parse_duration(str(max_time), field="QiskitSession spec.maxTime")
    service = connect.service_for(target, store=None, secret_ref=secret_ref)
    session_id = service.open_session(target.device, mode=mode, max_time=seconds)
    document = {"sessionId": session_id, "state": "open", "device": target.device}
    _write(out_dir, "session.json", document)
    return document


def session_close_step(
    *, target_json: str, session_json: str, secret_ref: tuple[str, str] | None, out_dir: Path
) -> dict[str, Any]:
    """The session-close step: close (``cancel``: cancel) the session; write ``session.json``."""
    target = parse_target(target_json)
    raw = _json_object(session_json, "session", '{"sessionId","cancel"}')
    session_id = raw.get("sessionId")
    if not isinstance(session_id, str) or not session_id:
        raise InvalidJobError("session parameter: no sessionId; the QiskitSession's status.sessionId names it")
    cancel = raw.get("cancel") is True
    service = connect.service_for(target, store=None, secret_ref=secret_ref)
    try:
        service.close_session(session_id, cancel=cancel)
    except IbmPermanentError as error:
        if error.failure != IbmFailure.JOB_NOT_FOUND:
            raise
        # IBM no longer knows it (expired, closed long ago): it is closed either way.
    document = {"sessionId": session_id, "state": "cancelled" if cancel else "closed"}
    _write(out_dir, "session.json", document)
    return document
