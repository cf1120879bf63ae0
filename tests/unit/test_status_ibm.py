"""The IBM branch in the job's status: ``status.ibm`` from ibm-submit's ``submission`` and
ibm-wait's ``ibm`` outputs, the schedule step's choice in ``status.backend``, the message while
the IBM job is queued or running, the IBM step reasons in ``status.reason``, and the
controller's SessionNotReady / SessionClosed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from qiskit_argo.api import QiskitJob
from qiskit_argo.naming import job_labels, workflow_name
from qiskit_argo.reasons import STEP_REASONS, Reason
from qiskit_argo.status import Failure, detect, inputs_of, next_status, parse_status, transition_event
from qiskit_argo.status._workflow import ibm_job, step_nodes, waiting_step
from tests.argo_fake import IBM_BACKEND, IBM_BACKEND_JSON, IBM_JOB, SUBMISSION, SUBMISSION_JSON, ArgoFake

REPO = Path(__file__).resolve().parents[2]
UID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
T0 = datetime(2026, 1, 1, 13, 0, 0, tzinfo=UTC)
VERSIONS = ["3.6", "4.1"]


def make_job(**spec: Any) -> QiskitJob:
    document = yaml.safe_load((REPO / "examples" / "bell.yaml").read_text())
    document["metadata"].update({"namespace": "lab", "uid": UID, "generation": 1})
    document["spec"].update(spec)
    return QiskitJob.model_validate(document)


def make_workflow(job: QiskitJob) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "name": workflow_name(job.name, job.metadata.uid, job.namespace),
            "namespace": job.namespace,
            "labels": job_labels(job.name, job.metadata.uid),
        },
        "spec": {},
    }


def ibm_fake(version: str = "4.1") -> tuple[QiskitJob, ArgoFake]:
    """Validate and schedule done, the schedule step chose the IBM backend ``sherbrooke``."""
    job = make_job()
    argo = ArgoFake(make_workflow(job), argo_version=version)
    argo.start()
    argo.run_step("validate")
    argo.succeed_step("validate")
    argo.run_step("schedule")
    argo.succeed_step("schedule", {"backend": IBM_BACKEND_JSON, "executor": "ibm"})
    return job, argo


def status_after(job: QiskitJob, argo: ArgoFake, previous: Any = None) -> Any:
    job = job.model_copy(deep=True)
    job.status = previous
    return next_status(job, argo.workflow, T0)


# --------------------------------------------------------------------------- the happy path


def test_an_ibm_job_shows_its_backend_its_ibm_job_and_where_it_is() -> None:
    job, argo = ibm_fake()
    skipped = argo.task("execute-aer")
    assert skipped is not None and (skipped["type"], skipped["phase"]) == ("Skipped", "Skipped")
    assert skipped["message"] == "Skipped, empty params"  # a fanned-out task whose when is false never expands

    argo.run_step("ibm-submit")
    status = status_after(job, argo)
    assert (status.phase, status.reason) == ("Running", None)
    assert status.backend.model_dump(by_alias=True, exclude_none=True) == IBM_BACKEND
    assert status.ibm is None
    assert "Submitting" in (status.message or "") and "(step ibm-submit)" in (status.message or "")

    argo.succeed_step("ibm-submit", {"submission": SUBMISSION_JSON})
    argo.run_step("ibm-wait")
    status = status_after(job, argo, status)
    assert status.ibm is not None
    assert (status.ibm.job_id, status.ibm.tag, status.ibm.action) == (
        SUBMISSION["jobId"],
        SUBMISSION["tag"],
        "Submitted",
    )
    assert status.ibm.state is None and status.ibm.quantum_seconds is None
    assert status.message == (
        f"IBM job {SUBMISSION['jobId']} is queued or running at IBM on fake_sherbrooke (step ibm-wait)"
    )

    argo.succeed_step("ibm-wait")
    argo.run_step("store-results")
    argo.succeed_step("store-results")
    argo.finish()
    status = status_after(job, argo, status)
    assert (status.phase, status.reason) == ("Succeeded", "Succeeded")
    assert status.ibm is not None
    assert status.ibm.state == "Done"
    assert status.ibm.quantum_seconds == IBM_JOB["quantumSeconds"]
    assert status.ibm.estimated_quantum_seconds == IBM_JOB["estimatedQuantumSeconds"]
    assert status.ibm.finished == datetime(2026, 1, 1, 12, 0, 15, tzinfo=UTC)
    assert status.ibm.job_id == SUBMISSION["jobId"]
    phases = {step.name: step.phase for step in status.steps}
    assert phases == {
        "validate": "Succeeded",
        "schedule": "Succeeded",
        "execute-aer": "Skipped",
        "execute-aer-cached": "Skipped",
        "execute-aer-gpu": "Skipped",
        "execute-aer-gpu-cached": "Skipped",
        "ibm-submit": "Succeeded",
        "ibm-wait": "Succeeded",
        "store-results": "Succeeded",
    }
    # What the controller writes reads back the same (camelCase on the wire).
    dumped = status.dump()
    assert dumped["ibm"]["jobId"] == SUBMISSION["jobId"] and dumped["ibm"]["quantumSeconds"] == 2.0
    assert parse_status(dumped) == status


def test_an_aer_job_skips_the_ibm_branch_and_has_no_ibm_status() -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    argo.succeed_all()
    status = status_after(job, argo)
    assert (status.phase, status.ibm) == ("Succeeded", None)
    phases = {step.name: step.phase for step in status.steps}
    assert (phases["execute-aer"], phases["ibm-submit"], phases["ibm-wait"]) == ("Succeeded", "Skipped", "Omitted")
    assert argo.task("ibm-submit")["message"] == "when 'aer == ibm' evaluated false"  # type: ignore[index]


def test_the_ibm_branch_runs_end_to_end_with_succeed_all() -> None:
    job, argo = ibm_fake()
    argo.succeed_all()
    status = status_after(job, argo)
    assert status.phase == "Succeeded" and status.ibm is not None and status.ibm.state == "Done"


def test_the_wait_steps_word_wins_and_the_submissions_fills_the_rest() -> None:
    job, argo = ibm_fake()
    argo.run_step("ibm-submit")
    submission = {**SUBMISSION, "action": "Recovered", "duplicatesCancelled": ["dup-1", "dup-2"], "sessionId": "s-9"}
    argo.succeed_step("ibm-submit", {"submission": submission})
    argo.run_step("ibm-wait")
    waited = {"jobId": SUBMISSION["jobId"], "state": "Running", "duplicatesCancelled": []}
    argo.succeed_step("ibm-wait", {"ibm": waited})
    merged = ibm_job(step_nodes(argo.nodes))
    assert merged is not None
    assert (merged.state, merged.action, merged.session_id) == ("Running", "Recovered", "s-9")
    assert merged.duplicates_cancelled == ["dup-1", "dup-2"]


def test_an_output_a_newer_step_writes_is_read_leniently() -> None:
    job, argo = ibm_fake()
    argo.run_step("ibm-submit")
    odd = {**SUBMISSION, "somethingNew": {"x": 1}, "duplicatesCancelled": "not-a-list"}
    argo.succeed_step("ibm-submit", {"submission": odd})
    status = status_after(job, argo)
    assert status.ibm is not None and status.ibm.job_id == SUBMISSION["jobId"]
    assert status.ibm.duplicates_cancelled == []


def test_unreadable_outputs_keep_what_the_status_knew() -> None:
    job, argo = ibm_fake()
    argo.run_step("ibm-submit")
    argo.succeed_step("ibm-submit", {"submission": SUBMISSION_JSON})
    known = status_after(job, argo)
    job2, argo2 = ibm_fake()
    argo2.run_step("ibm-submit")
    argo2.succeed_step("ibm-submit", {"submission": "{not json"})
    status = status_after(job2, argo2, known)
    assert status.ibm == known.ibm


def test_a_state_reported_by_the_wait_step_is_in_the_message() -> None:
    job, argo = ibm_fake()
    argo.run_step("ibm-submit")
    argo.succeed_step("ibm-submit", {"submission": SUBMISSION_JSON})
    argo.run_step("ibm-wait")
    previous = status_after(job, argo)
    previous.ibm.state = "Queued"  # e.g. an earlier attempt of the wait step reported it
    status = status_after(job, argo, previous)
    assert status.message is not None and f"IBM job {SUBMISSION['jobId']} is queued at IBM" in status.message


def test_only_a_step_that_takes_the_submission_waits_for_ibm() -> None:
    assert waiting_step("ibm-wait") and not waiting_step("ibm-submit") and not waiting_step(None)


# --------------------------------------------------------------------------- failures

#: Every reason the IBM branch (and the schedule step choosing it) can end a job with, where it
#: is raised, and a line as the step writes it to its termination log.
IBM_FAILURES = [
    ("BackendNotFound", "schedule", "spec.backend.ref: no QiskitBackend torino in namespace lab; it has: aer-local"),
    ("NoSuitableBackend", "schedule", "no backend fits: sherbrooke: 127 qubits < 130"),
    ("BackendUnavailable", "schedule", "spec.backend.ref: QiskitBackend sherbrooke is disabled"),
    ("CredentialsMissing", "ibm-submit", "Secret ibm-token key token is missing or empty"),
    ("CredentialsRejected", "ibm-submit", "IBM Quantum rejected the API key in Secret ibm-token"),
    ("IbmRequestRefused", "ibm-submit", "circuit is not ISA for ibm_torino: gate h"),
    ("IbmJobFailed", "ibm-wait", "IBM job d1k2 failed: Error in transpilation process. (1517)"),
    ("IbmJobCancelled", "ibm-wait", "IBM job d1k2 was cancelled"),
    ("IbmJobNotFound", "ibm-wait", "IBM does not know job d1k2"),
]


def test_the_table_covers_every_ibm_step_reason() -> None:
    ibm = {
        Reason.BACKEND_NOT_FOUND,
        Reason.NO_SUITABLE_BACKEND,
        Reason.BACKEND_UNAVAILABLE,
        Reason.CREDENTIALS_MISSING,
        Reason.CREDENTIALS_REJECTED,
        Reason.IBM_REQUEST_REFUSED,
        Reason.IBM_JOB_FAILED,
        Reason.IBM_JOB_CANCELLED,
        Reason.IBM_JOB_NOT_FOUND,
    }
    assert ibm <= STEP_REASONS
    assert {row[0] for row in IBM_FAILURES} == {reason.value for reason in ibm}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("reason", "step", "detail"), IBM_FAILURES, ids=[row[0] for row in IBM_FAILURES])
def test_every_ibm_reason_reaches_status_reason(reason: str, step: str, detail: str, version: str) -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job), argo_version=version)
    argo.start()
    for earlier in ("validate", "schedule", "ibm-submit"):
        if earlier == step:
            break
        argo.run_step(earlier)
        argo.succeed_step(
            earlier,
            {"backend": IBM_BACKEND_JSON, "executor": "ibm"}
            if earlier == "schedule"
            else ({"submission": SUBMISSION_JSON} if earlier == "ibm-submit" else None),
        )
    argo.run_step(step)
    argo.fail_step(step, f"{reason}: {detail}", exit_code=2)
    status = next_status(job, argo.workflow, T0)
    assert (status.phase, status.reason) == ("Failed", reason)
    assert isinstance(status.reason, Reason), "read as the member, not as an unknown word"
    assert status.message == f"{step} failed: {detail}"
    failed = {c.type: (c.status, c.reason) for c in status.conditions}["Failed"]
    assert failed == ("True", reason)
    assert transition_event(status) == ("Warning", reason, status.message)
    if step == "ibm-wait":
        assert status.ibm is not None and status.ibm.job_id == SUBMISSION["jobId"]


def test_a_transient_ibm_failure_retries_and_says_so() -> None:
    job, argo = ibm_fake()
    argo.run_step("ibm-submit")
    argo.succeed_step("ibm-submit", {"submission": SUBMISSION_JSON})
    argo.run_step("ibm-wait")
    argo.fail_attempt("ibm-wait", "ExecutionFailed: IBM answered 503 Service Unavailable", exit_code=1)
    status = next_status(job, argo.workflow, T0)
    assert (status.phase, status.reason) == ("Running", None)
    wait = next(step for step in status.steps if step.name == "ibm-wait")
    assert wait.message is not None and wait.message.startswith("attempt 1 failed (ExecutionFailed: IBM answered 503")


# --------------------------------------------------------------------------- sessions (the controller's)


def test_a_job_whose_session_is_not_ready_waits_in_pending() -> None:
    job = make_job()
    waiting = Failure(
        Reason.SESSION_NOT_READY, "spec.sessionRef: QiskitSession s1 is Opening; the job starts once it is Ready"
    )
    inputs = inputs_of(job, None, T0, waiting=waiting)
    assert detect(inputs).value == "Waiting"
    status = next_status(job, None, T0, waiting=waiting)
    assert (status.phase, status.reason) == ("Pending", "SessionNotReady")
    assert status.message == waiting.message
    assert status.workflow_name is None
    assert transition_event(status) == ("Normal", "Pending", waiting.message)
    # Once the Workflow exists, waiting says nothing any more.
    argo = ArgoFake(make_workflow(job))
    argo.start()
    job.status = status
    assert next_status(job, argo.workflow, T0, waiting=waiting).reason != "SessionNotReady"


def test_a_closed_session_fails_the_job() -> None:
    job = make_job()
    failure = Failure(Reason.SESSION_CLOSED, "spec.sessionRef: QiskitSession s1 is Closed; create a new session")
    status = next_status(job, None, T0, failure=failure)
    assert (status.phase, status.reason, status.message) == ("Failed", "SessionClosed", failure.message)
    assert {c.type: c.status for c in status.conditions}["Failed"] == "True"
    assert json.loads(json.dumps(status.dump(), default=str))["reason"] == "SessionClosed"


# --------------------------------------------------------------------------- QiskitBackend status from its probe

PROBE = {
    "device": "fake_sherbrooke",
    "numQubits": 127,
    "basisGates": ["ecr", "id", "rz", "sx", "x"],
    "operational": True,
    "pendingJobs": 3,
    "statusMessage": "active",
    "credentialsValid": True,
    "reason": None,
    "message": None,
}


def make_backend(status: dict[str, Any] | None = None, **spec: Any) -> Any:
    from qiskit_argo.api import QiskitBackend

    document: dict[str, Any] = {
        "metadata": {"name": "sherbrooke", "namespace": "lab", "uid": "b-1", "generation": 1},
        "spec": spec or {"type": "ibm", "fakeBackend": "fake_sherbrooke"},
    }
    if status is not None:
        document["status"] = status
    return QiskitBackend.model_validate(document)


def probe_fake(backend: Any) -> Any:
    from qiskit_argo import workflows
    from tests.argo_fake import ServiceFake

    return ServiceFake(workflows.probe_workflow(backend, round=7))


def conditions_of(status: Any) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in status.conditions}


def test_a_disabled_backend_is_disabled_and_an_aer_one_ready_without_a_probe() -> None:
    from qiskit_argo.status import backend_status_from_probe

    disabled = backend_status_from_probe(make_backend(type="ibm", fakeBackend="fake_kyiv", enabled=False), None, T0)
    assert (disabled.phase, conditions_of(disabled)["Ready"]) == ("Disabled", ("False", "Disabled"))
    assert "spec.enabled is false" in (disabled.message or "")
    aer = backend_status_from_probe(make_backend(type="aer"), None, T0)
    assert (aer.phase, aer.device, aer.last_probe_time) == ("Ready", "aer_simulator", None)
    assert conditions_of(aer) == {"Ready": ("True", "Simulator")}


def test_a_probe_fills_capabilities_and_conditions() -> None:
    from qiskit_argo.status import backend_status_from_probe

    backend = make_backend(type="ibm", backend="ibm_torino", credentialsSecretRef={"name": "ibm", "key": "token"})
    fake = probe_fake(backend)
    first = backend_status_from_probe(backend, None, T0)
    assert first.phase == "Pending" and conditions_of(first)["Ready"] == ("Unknown", "Probing")
    fake.start()
    running = backend_status_from_probe(backend, fake.workflow, T0)
    assert (running.phase, running.probe_workflow_name) == ("Pending", fake.name)
    fake.succeed({"probe": {**PROBE, "device": "ibm_torino", "numQubits": 133}})
    done = backend_status_from_probe(backend, fake.workflow, T0)
    assert done.phase == "Ready" and done.device == "ibm_torino"
    assert done.capabilities is not None
    assert (done.capabilities.num_qubits, done.capabilities.pending_jobs, done.capabilities.operational) == (
        133,
        3,
        True,
    )
    assert done.capabilities.basis_gates == PROBE["basisGates"]
    assert done.last_probe_time == datetime(2026, 1, 1, 12, 0, 4, tzinfo=UTC)
    assert conditions_of(done) == {
        "Ready": ("True", "Operational"),
        "CredentialsValid": ("True", "CredentialsAccepted"),
    }
    assert done.message == "ibm_torino: 133 qubits, operational, 3 jobs queued"
    # Idempotent: the same Workflow later changes nothing (times included).
    backend.status = done
    assert backend_status_from_probe(backend, fake.workflow, T0.replace(hour=14)) == done


def test_a_rejected_key_makes_the_backend_not_ready_with_the_probes_words() -> None:
    from qiskit_argo.status import backend_status_from_probe

    backend = make_backend(type="ibm", backend="ibm_torino", credentialsSecretRef={"name": "ibm", "key": "token"})
    fake = probe_fake(backend)
    fake.start()
    said = "IBM Quantum rejected the API key in Secret ibm key token; put a valid key there"
    fake.succeed({"probe": {"credentialsValid": False, "reason": "CredentialsRejected", "message": said}})
    status = backend_status_from_probe(backend, fake.workflow, T0)
    assert (status.phase, status.message) == ("NotReady", said)
    assert conditions_of(status) == {
        "Ready": ("False", "CredentialsRejected"),
        "CredentialsValid": ("False", "CredentialsRejected"),
    }


def test_a_device_not_operational_and_a_failed_probe_are_not_ready() -> None:
    from qiskit_argo.status import backend_status_from_probe

    backend = make_backend()
    fake = probe_fake(backend)
    fake.start()
    fake.succeed({"probe": {**PROBE, "operational": False, "statusMessage": "maintenance"}})
    status = backend_status_from_probe(backend, fake.workflow, T0)
    assert status.phase == "NotReady" and conditions_of(status)["Ready"] == ("False", "NotOperational")
    assert "maintenance" in (status.message or "") and "CredentialsValid" not in conditions_of(status)

    fake = probe_fake(backend)
    fake.start()
    fake.fail("TransientFailure: IBM answered 503 three times", exit_code=1)
    status = backend_status_from_probe(backend, fake.workflow, T0)
    assert status.phase == "NotReady" and conditions_of(status)["Ready"] == ("False", "TransientFailure")
    assert "IBM answered 503" in (status.message or "")


# --------------------------------------------------------------------------- QiskitSession status


def make_session(status: dict[str, Any] | None = None, **spec: Any) -> Any:
    from qiskit_argo.api import QiskitSession

    document: dict[str, Any] = {
        "metadata": {"name": "s1", "namespace": "lab", "uid": "s-1", "generation": 1},
        "spec": {"backendRef": "sherbrooke", **spec},
    }
    if status is not None:
        document["status"] = status
    return QiskitSession.model_validate(document)


def test_a_session_opens_then_closes() -> None:
    from qiskit_argo import workflows
    from qiskit_argo.status import session_status
    from tests.argo_fake import ServiceFake

    session = make_session()
    pending = session_status(session, None, T0, problem=("BackendNotFound", "spec.backendRef: no QiskitBackend x"))
    assert (pending.phase, pending.reason) == ("Pending", "BackendNotFound")
    fake = ServiceFake(workflows.session_workflow(session, make_backend(), "open"))
    fake.start()
    opening = session_status(session, fake.workflow, T0)
    assert (opening.phase, opening.open_workflow_name) == ("Opening", fake.name)
    fake.succeed({"session": {"sessionId": "sess-42", "state": "open", "device": "fake_sherbrooke"}})
    ready = session_status(session, fake.workflow, T0)
    assert (ready.phase, ready.session_id, ready.device, ready.state) == ("Ready", "sess-42", "fake_sherbrooke", "open")
    assert {c.type: (c.status, c.reason) for c in ready.conditions} == {"Ready": ("True", "Open")}
    session.status = ready
    close = ServiceFake(workflows.session_workflow(session, make_backend(), "close"))
    close.start()
    closing = session_status(session, close.workflow, T0, closing=True)
    assert (closing.phase, closing.close_workflow_name) == ("Closing", close.name)
    close.succeed({"session": {"sessionId": "sess-42", "state": "closed"}})
    closed = session_status(session, close.workflow, T0, closing=True)
    assert (closed.phase, closed.state, closed.session_id) == ("Closed", "closed", "sess-42")


def test_a_session_that_cannot_open_fails_with_the_steps_reason() -> None:
    from qiskit_argo import workflows
    from qiskit_argo.status import session_status
    from tests.argo_fake import ServiceFake

    session = make_session()
    fake = ServiceFake(workflows.session_workflow(session, make_backend(), "open"))
    fake.start()
    fake.fail("CredentialsRejected: IBM Quantum rejected the API key")
    failed = session_status(session, fake.workflow, T0)
    assert (failed.phase, failed.reason) == ("Failed", "CredentialsRejected")
    assert "rejected the API key" in (failed.message or "")


# --------------------------------------------------------------------------- the controller's IBM questions


def test_where_to_cancel_comes_from_the_schedule_steps_outputs() -> None:
    from qiskit_argo.status import cancel_target
    from tests.argo_fake import IBM_SCHEDULE

    job = make_job()
    argo = ArgoFake(make_workflow(job))
    assert cancel_target(argo.workflow) is None
    argo.start()
    argo.run_step("validate")
    argo.succeed_step("validate")
    argo.run_step("schedule")
    real = {**IBM_SCHEDULE, "credentials-secret": "ibm-token", "credentials-key": "apikey"}
    argo.succeed_step("schedule", real)
    where = cancel_target(argo.workflow)
    assert where is not None
    assert (where.target["device"], where.secret, where.key) == ("fake_sherbrooke", "ibm-token", "apikey")


def test_the_generation_an_ibm_job_was_tagged_with_is_the_workflows() -> None:
    from qiskit_argo import workflows
    from qiskit_argo.status import workflow_generation

    job = make_job()
    job.metadata.generation = 3
    assert workflow_generation(workflows.build(job)) == 3
    assert workflow_generation(make_workflow(job)) is None  # a slim copy says nothing


@pytest.mark.parametrize(
    ("spec", "backend", "ibm_state", "phase", "wanted"),
    [
        ({}, None, None, None, False),  # inline Aer: never IBM
        ({"backend": {"ref": "sherbrooke"}}, None, None, None, True),  # not chosen yet
        ({"backend": {"selector": {"type": "aer"}}}, None, None, None, False),
        ({"backend": {"selector": {"minQubits": 5}}}, None, None, None, True),
        ({"sessionRef": "s1"}, None, None, None, True),
        ({"backend": {"ref": "local"}}, {"name": "local", "type": "aer"}, None, "Running", False),  # aer chosen
        ({"backend": {"ref": "sherbrooke"}}, IBM_BACKEND, None, "Running", True),
        ({"backend": {"ref": "sherbrooke"}}, IBM_BACKEND, "Done", "Running", False),  # IBM job final
        ({"backend": {"ref": "sherbrooke"}}, IBM_BACKEND, None, "Failed", False),  # the job finished
    ],
)
def test_the_finalizer_is_wanted_exactly_while_ibm_may_be_reached(
    spec: dict[str, Any], backend: Any, ibm_state: str | None, phase: str | None, wanted: bool
) -> None:
    from qiskit_argo.api import QiskitJobStatus
    from qiskit_argo.status import needs_finalizer

    job = make_job(**spec)
    status = None
    if phase is not None:
        status = QiskitJobStatus.model_validate(
            {
                "phase": phase,
                "backend": backend,
                "ibm": {"jobId": "j1", "state": ibm_state} if ibm_state else None,
            }
        )
    assert needs_finalizer(job, status) is wanted


def test_an_ibm_job_may_be_live_until_the_wait_step_or_ibm_says_it_is_over() -> None:
    from qiskit_argo.status import ibm_possibly_live

    job, argo = ibm_fake()
    assert ibm_possibly_live(None, argo.workflow)  # ibm chosen: submit may be under way
    argo.run_step("ibm-submit")
    argo.succeed_step("ibm-submit", {"submission": SUBMISSION_JSON})
    argo.run_step("ibm-wait")
    status = next_status(job, argo.workflow, T0)
    assert ibm_possibly_live(status, argo.workflow)
    argo.succeed_step("ibm-wait")
    assert not ibm_possibly_live(status, argo.workflow)
    aer = ArgoFake(make_workflow(job))
    aer.succeed_all()
    assert not ibm_possibly_live(None, aer.workflow)


def test_the_session_gate() -> None:
    from qiskit_argo.status import session_gate

    job = make_job(sessionRef="s1")
    waiting, failure = session_gate(job, None)
    assert failure is None and waiting is not None and waiting.reason == "SessionNotReady"
    assert waiting.message.startswith("spec.sessionRef: there is no QiskitSession s1 in namespace lab")
    for phase, reason in (("Pending", "SessionNotReady"), ("Opening", "SessionNotReady"), ("Ready", "SessionNotReady")):
        waiting, failure = session_gate(job, make_session({"phase": phase}))
        assert failure is None and waiting is not None and waiting.reason == reason, phase
    for phase in ("Closing", "Closed", "Failed"):
        waiting, failure = session_gate(job, make_session({"phase": phase, "message": "it expired"}))
        assert waiting is None and failure is not None and failure.reason == "SessionClosed", phase
        assert "spec.sessionRef: QiskitSession s1" in failure.message
    assert session_gate(job, make_session({"phase": "Ready", "sessionId": "sess-1"})) == (None, None)
    assert session_gate(make_job(), None) == (None, None)
