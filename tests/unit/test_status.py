"""next_status: the whole QiskitJob status from the job and its Workflow, table by table."""

from __future__ import annotations

import base64
import copy
import gzip
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from qiskit_argo.api import Phase, QiskitJob, QiskitJobStatus
from qiskit_argo.naming import job_labels, workflow_name
from qiskit_argo.status import (
    REASON_INVALID_SPEC,
    REASON_WORKFLOW_CONFLICT,
    REASON_WORKFLOW_DELETED,
    Failure,
    classify_message,
    failure_reason,
    invalid_spec_status,
    next_status,
    parse_status,
    phase_changed,
    suspend_patch,
    workflow_belongs_to,
)
from tests.argo_fake import BACKEND, METRICS, SUMMARY, ArgoFake, ts

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO.parent / "shared" / "schemas" / "argo-workflows.schema.json"
UID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
T0 = datetime(2026, 1, 1, 13, 0, 0, tzinfo=UTC)


def make_job(**spec: Any) -> QiskitJob:
    document = yaml.safe_load((REPO / "examples" / "bell.yaml").read_text())
    document["metadata"].update({"namespace": "lab", "uid": UID, "generation": 1})
    document["spec"].update(spec)
    return QiskitJob.model_validate(document)


def make_workflow(job: QiskitJob) -> dict[str, Any]:
    name = workflow_name(job.name, job.metadata.uid, job.namespace)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "name": name,
            "namespace": job.namespace,
            "labels": job_labels(job.name, job.metadata.uid),
            "ownerReferences": [
                {
                    "apiVersion": "qiskit-argo.io/v1alpha1",
                    "kind": "QiskitJob",
                    "name": job.name,
                    "uid": job.metadata.uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {"workflowTemplateRef": {"name": "qiskit-job-v1"}},
    }


def with_status(job: QiskitJob, status: QiskitJobStatus) -> QiskitJob:
    return job.model_copy(update={"status": status})


def conditions(status: QiskitJobStatus) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in status.conditions}


# --------------------------------------------------------------------------- the phase table

Drive = Callable[[ArgoFake], object]


def _nothing(argo: ArgoFake) -> None:
    return None


def _started(argo: ArgoFake) -> None:
    argo.start()


def _validating(argo: ArgoFake) -> None:
    argo.start()
    argo.run_step("validate")


def _scheduling(argo: ArgoFake) -> None:
    _validating(argo)
    argo.succeed_step("validate", {"metrics": METRICS})
    argo.run_step("schedule")


def _executing(argo: ArgoFake) -> None:
    _scheduling(argo)
    argo.succeed_step("schedule", {"backend": BACKEND})
    argo.run_step("execute-aer")


def _storing(argo: ArgoFake) -> None:
    _executing(argo)
    argo.succeed_step("execute-aer", {"summary": SUMMARY})
    argo.run_step("store-results")


def _succeeded(argo: ArgoFake) -> None:
    argo.succeed_all()


def _invalid_circuit(argo: ArgoFake) -> None:
    _validating(argo)
    argo.fail_step("validate", "InvalidCircuit: line 3: 'qreg' expects a size")


def _limit(argo: ArgoFake) -> None:
    _validating(argo)
    argo.fail_step("validate", "LimitExceeded: 40 qubits is more than the limit of 32")


def _execution_failed_after_retries(argo: ArgoFake) -> None:
    _executing(argo)
    argo.fail_attempt("execute-aer", "ExecutionFailed: Aer ran out of memory", exit_code="1")
    argo.retry_step("execute-aer")
    argo.fail_step("execute-aer", "ExecutionFailed: Aer ran out of memory")


def _oom(argo: ArgoFake) -> None:
    _executing(argo)
    argo.fail_step("execute-aer", "OOMKilled (exit code 137)")


def _image_pull(argo: ArgoFake) -> None:
    _validating(argo)
    argo.fail_step("validate", 'ImagePullBackOff: Back-off pulling image "qiskit-argo/validator:0.1.0"')


def _deadline(argo: ArgoFake) -> None:
    _executing(argo)
    argo.exceed_deadline()


def _pod_deleted(argo: ArgoFake) -> None:
    _executing(argo)
    argo.fail_step("execute-aer", "pod deleted", phase="Error")


def _exit_code_only(argo: ArgoFake) -> None:
    _scheduling(argo)
    argo.fail_step("schedule", "Error (exit code 1)")


def _template_missing(argo: ArgoFake) -> None:
    argo.error('invalid spec: workflowtemplates.argoproj.io "qiskit-job-v1" not found')


def _terminated(argo: ArgoFake) -> None:
    _executing(argo)
    argo.finish("Failed", "Stopped with strategy 'Terminate'")


def _stopped(argo: ArgoFake) -> None:
    _executing(argo)
    argo.finish("Failed", "Stopped with strategy 'Stop'")


def _unknown_error(argo: ArgoFake) -> None:
    argo.start()
    argo.finish("Error", "something odd happened")


def _suspended(argo: ArgoFake) -> None:
    _scheduling(argo)
    argo.succeed_step("schedule", {"backend": BACKEND})
    argo.workflow["spec"]["suspend"] = True


def _suspended_but_done(argo: ArgoFake) -> None:
    argo.succeed_all()
    argo.workflow["spec"]["suspend"] = True


PHASES: list[tuple[str, Drive, str, str | None, dict[str, str]]] = [
    # id, what Argo did, phase, reason, condition statuses
    ("created", _nothing, "Pending", "WorkflowPending", {"Running": "False", "Succeeded": "Unknown"}),
    ("started", _started, "Validating", None, {"Running": "True", "Validated": "Unknown"}),
    ("validating", _validating, "Validating", None, {"Running": "True", "Validated": "Unknown"}),
    ("scheduling", _scheduling, "Scheduling", None, {"Validated": "True", "Scheduled": "Unknown", "Running": "True"}),
    ("executing", _executing, "Running", None, {"Validated": "True", "Scheduled": "True", "Running": "True"}),
    ("storing", _storing, "Running", None, {"Scheduled": "True", "Succeeded": "Unknown", "Failed": "False"}),
    (
        "succeeded",
        _succeeded,
        "Succeeded",
        "Succeeded",
        {"Validated": "True", "Scheduled": "True", "Running": "False", "Succeeded": "True", "Failed": "False"},
    ),
    (
        "invalid-circuit",
        _invalid_circuit,
        "Failed",
        "InvalidCircuit",
        {"Validated": "False", "Scheduled": "Unknown", "Succeeded": "False", "Failed": "True", "Running": "False"},
    ),
    ("limit-exceeded", _limit, "Failed", "LimitExceeded", {"Validated": "False", "Failed": "True"}),
    ("execution-retried", _execution_failed_after_retries, "Failed", "ExecutionFailed", {"Scheduled": "True"}),
    ("oom", _oom, "Failed", "OutOfMemory", {"Failed": "True"}),
    ("image-pull", _image_pull, "Failed", "ImagePullFailed", {"Validated": "False"}),
    ("deadline", _deadline, "Failed", "DeadlineExceeded", {"Failed": "True", "Succeeded": "False"}),
    ("pod-deleted", _pod_deleted, "Failed", "PodDeleted", {"Failed": "True"}),
    ("exit-code-only", _exit_code_only, "Failed", "StepFailed", {"Validated": "True", "Scheduled": "False"}),
    ("template-missing", _template_missing, "Failed", "TemplateNotFound", {"Failed": "True"}),
    ("terminated", _terminated, "Failed", "WorkflowTerminated", {"Failed": "True"}),
    ("stopped", _stopped, "Failed", "WorkflowStopped", {"Failed": "True"}),
    ("unknown-error", _unknown_error, "Failed", "WorkflowError", {"Failed": "True"}),
    ("suspended", _suspended, "Suspended", "Suspended", {"Suspended": "True", "Running": "False"}),
    ("suspended-but-done", _suspended_but_done, "Succeeded", "Succeeded", {"Suspended": "False"}),
]


@pytest.mark.parametrize(("drive", "phase", "reason", "want"), [p[1:] for p in PHASES], ids=[p[0] for p in PHASES])
def test_phase_reason_and_conditions(drive: Drive, phase: str, reason: str | None, want: dict[str, str]) -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    drive(argo)
    status = next_status(job, argo.workflow, T0)
    assert (status.phase, status.reason) == (phase, reason), status.message
    got = {name: value[0] for name, value in conditions(status).items()}
    assert {name: got[name] for name in want} == want
    assert status.message, "a person always gets a message"
    assert status.workflow_name == argo.name
    assert status.observed_generation == 1
    assert all(c.observed_generation == 1 for c in status.conditions)
    assert [s.name for s in status.steps] == ["validate", "schedule", "execute-aer", "store-results"]


FAILURE_MESSAGES = [
    ("invalid-circuit", _invalid_circuit, "validate failed: line 3: 'qreg' expects a size"),
    ("execution-retried", _execution_failed_after_retries, "execute-aer failed: Aer ran out of memory"),
    ("deadline", _deadline, "execute-aer failed: Step exceeded its deadline"),
    ("template-missing", _template_missing, "Workflow error: invalid spec: workflowtemplates.argoproj.io"),
    ("terminated", _terminated, "Workflow failed: Stopped with strategy 'Terminate'"),
]


@pytest.mark.parametrize(("drive", "message"), [f[1:] for f in FAILURE_MESSAGES], ids=[f[0] for f in FAILURE_MESSAGES])
def test_failure_message_tells_a_person_what_happened(drive: Drive, message: str) -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    drive(argo)
    status = next_status(job, argo.workflow, T0)
    assert status.message is not None and status.message.startswith(message)
    failed = next(c for c in status.conditions if c.type == "Failed")
    assert failed.message == status.message


CLASSIFY = [
    ("InvalidCircuit: line 3: bad", "InvalidCircuit", "line 3: bad"),
    ("LimitExceeded: too many qubits", "LimitExceeded", "too many qubits"),
    ("StepError: ValueError: boom", "StepError", "ValueError: boom"),
    ("OOMKilled (exit code 137)", "OutOfMemory", "OOMKilled (exit code 137)"),
    ("Pod was active on the node longer than the specified deadline", "DeadlineExceeded", None),
    ("Step exceeded its deadline", "DeadlineExceeded", None),
    ("Max duration limit exceeded", "DeadlineExceeded", None),
    ("ErrImagePull: rpc error: not found", "ImagePullFailed", None),
    ("ImagePullBackOff: Back-off pulling image", "ImagePullFailed", None),
    ("Unschedulable: 0/3 nodes are available", "Unschedulable", None),
    ("CreateContainerConfigError: secret not found", "ContainerError", None),
    ("pod deleted", "PodDeleted", None),
    ("The node was low on resource: memory.", "PodEvicted", None),
    ("Stopped with strategy 'Stop'", "WorkflowStopped", None),
    ("Stopped with strategy 'Terminate'", "WorkflowTerminated", None),
    (
        "invalid spec: templates.main.tasks.validate template reference qiskit-job-v1.validate not found",
        "TemplateNotFound",
        None,
    ),
    ("invalid spec: spec.entrypoint is required", "InvalidWorkflow", None),
    ("failed to save outputs: timed out", "ArtifactError", None),
    ("Error (exit code 1)", "StepFailed", None),
    ("no idea what went wrong", None, "no idea what went wrong"),
]


@pytest.mark.parametrize(("message", "reason", "detail"), CLASSIFY, ids=[c[0][:40] for c in CLASSIFY])
def test_classify_message(message: str, reason: str | None, detail: str | None) -> None:
    got_reason, got_detail = classify_message(message)
    assert got_reason == reason
    assert got_detail == (detail if detail is not None else message)


# --------------------------------------------------------------------------- outputs


def test_outputs_reach_the_status() -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    argo.succeed_all()
    status = next_status(job, argo.workflow, T0)
    assert status.circuit is not None and status.circuit.num_qubits == 2 and status.circuit.count_ops["cx"] == 1
    assert status.backend is not None
    assert (status.backend.name, status.backend.method) == ("aer_simulator", "stabilizer")
    assert status.result is not None and status.result.top_counts == {"00": 517, "11": 507}
    assert status.result_location is not None
    assert status.result_location.artifact == "results"
    assert status.result_location.key == f"{argo.name}/{argo.name}-store-results/results.tgz"
    assert status.result_location.path == "/tmp/qiskit-argo/outputs/results"
    assert status.start_time == datetime.fromisoformat(ts(1).replace("Z", "+00:00"))
    assert status.completion_time is not None and status.completion_time > status.start_time
    assert [s.phase for s in status.steps] == ["Succeeded"] * 4
    assert "most frequent 00 (517)" in (status.message or "")


def test_outputs_appear_step_by_step_and_summary_prefers_store_results() -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    _executing(argo)
    status = next_status(job, argo.workflow, T0)
    assert status.circuit is not None and status.backend is not None and status.result is None
    assert "aer_simulator (stabilizer)" in (status.message or "")
    argo.succeed_step("execute-aer", {"summary": SUMMARY})
    argo.run_step("store-results")
    final = dict(SUMMARY, topCounts={"00": 1, "11": 1023})
    argo.succeed_step("store-results", {"summary": final})
    argo.finish()
    status = next_status(with_status(job, status), argo.workflow, T0)
    assert status.result is not None and status.result.top_counts == {"00": 1, "11": 1023}


def test_garbage_outputs_are_ignored_not_fatal() -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    _scheduling(argo)
    argo.succeed_step("schedule", {"backend": "{not json"})
    status = next_status(job, argo.workflow, T0)
    assert status.backend is None and status.circuit is not None
    assert status.phase == Phase.RUNNING


def test_step_progress_carries_the_reason_from_the_failed_attempt() -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    _execution_failed_after_retries(argo)
    status = next_status(job, argo.workflow, T0)
    steps = {s.name: s for s in status.steps}
    assert steps["execute-aer"].phase == "Failed"
    assert steps["execute-aer"].message == "ExecutionFailed: Aer ran out of memory"
    assert steps["store-results"].phase == "Omitted"
    assert steps["validate"].started_at is not None and steps["validate"].finished_at is not None


def test_compressed_nodes_are_read() -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    argo.succeed_all()
    nodes = argo.workflow["status"].pop("nodes")
    argo.workflow["status"]["compressedNodes"] = base64.b64encode(gzip.compress(json.dumps(nodes).encode())).decode()
    status = next_status(job, argo.workflow, T0)
    assert status.phase == Phase.SUCCEEDED and status.circuit is not None and status.result_location is not None


def test_offloaded_nodes_keep_what_was_known() -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    _executing(argo)
    before = next_status(job, argo.workflow, T0)
    argo.workflow["status"].pop("nodes")
    argo.workflow["status"]["offloadNodeStatusVersion"] = "fnv:12345"
    after = next_status(with_status(job, before), argo.workflow, T0 + timedelta(seconds=5))
    assert after.circuit == before.circuit and after.backend == before.backend
    assert after.steps == before.steps


def test_workflow_without_a_job_uid_is_matched_by_label() -> None:
    job = make_job()
    job.metadata.uid = None
    workflow = make_workflow(job)
    workflow["metadata"].pop("ownerReferences")
    assert workflow_belongs_to(workflow, job)


# --------------------------------------------------------------------------- conditions over time


def test_last_transition_time_moves_only_on_a_real_transition() -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    argo.start()
    argo.run_step("validate")
    first = next_status(job, argo.workflow, T0)
    # Nothing changed but time: the very same status comes back (so nothing is patched).
    again = next_status(with_status(job, first), argo.workflow, T0 + timedelta(minutes=5))
    assert again == first
    # validate succeeded: Validated flips Unknown -> True at the new time; Running stays True.
    argo.succeed_step("validate", {"metrics": METRICS})
    argo.run_step("schedule")
    t1 = T0 + timedelta(minutes=6)
    second = next_status(with_status(job, first), argo.workflow, t1)
    before = {c.type: c for c in first.conditions}
    after = {c.type: c for c in second.conditions}
    assert after["Validated"].status == "True" and after["Validated"].last_transition_time == t1
    assert after["Running"].status == "True"
    assert after["Running"].last_transition_time == before["Running"].last_transition_time == T0
    assert after["Running"].reason == "Scheduling" and before["Running"].reason == "Validating"
    assert after["Failed"].last_transition_time == T0


def test_conditions_of_others_are_kept() -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    argo.start()
    first = next_status(job, argo.workflow, T0)
    foreign = first.model_dump(by_alias=True, mode="json")
    foreign["conditions"].append(
        {"type": "example.com/Audited", "status": "True", "reason": "Checked", "lastTransitionTime": ts(0)}
    )
    status = next_status(with_status(job, QiskitJobStatus.model_validate(foreign)), argo.workflow, T0)
    assert "example.com/Audited" in conditions(status)


def test_terminal_status_is_final() -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    argo.succeed_all()
    done = next_status(job, argo.workflow, T0)
    # Argo's ttlStrategy deletes the finished Workflow: the job stays Succeeded.
    gone = next_status(with_status(job, done), None, T0 + timedelta(hours=1), workflow_missing=True)
    assert gone == done
    job.metadata.generation = 2
    bumped = next_status(with_status(job, done), argo.workflow, T0 + timedelta(hours=2))
    assert bumped.phase == Phase.SUCCEEDED and bumped.observed_generation == 2
    assert {c.observed_generation for c in bumped.conditions} == {2}


# --------------------------------------------------------------------------- controller-side outcomes


def test_no_workflow_yet_is_pending() -> None:
    status = next_status(make_job(), None, T0)
    assert (status.phase, status.reason) == (Phase.PENDING, "WorkflowNotCreated")
    assert conditions(status)["Succeeded"] == ("Unknown", "Pending")


def test_workflow_deleted_by_hand_fails_the_job() -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    _executing(argo)
    running = next_status(job, argo.workflow, T0)
    status = next_status(with_status(job, running), None, T0 + timedelta(seconds=30), workflow_missing=True)
    assert (status.phase, status.reason) == (Phase.FAILED, REASON_WORKFLOW_DELETED)
    assert argo.name in (status.message or "")
    assert conditions(status)["Failed"] == ("True", REASON_WORKFLOW_DELETED)
    assert conditions(status)["Validated"][0] == "True", "what had happened stays known"
    assert status.completion_time == T0 + timedelta(seconds=30)
    assert {s.name: s.phase for s in status.steps}["execute-aer"] == "Omitted"


def test_deleted_event_with_a_finished_workflow_takes_its_outcome() -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    _executing(argo)
    running = next_status(job, argo.workflow, T0)
    argo.succeed_all()  # it finished, then Argo's TTL removed it before we copied the outcome
    status = next_status(with_status(job, running), argo.workflow, T0, workflow_missing=True)
    assert status.phase == Phase.SUCCEEDED


def test_controller_failure_is_terminal() -> None:
    failure = Failure(REASON_WORKFLOW_CONFLICT, "Workflow bell-123456 exists and belongs to another job")
    status = next_status(make_job(), None, T0, failure=failure)
    assert (status.phase, status.reason, status.message) == (Phase.FAILED, failure.reason, failure.message)


def test_invalid_spec_is_written_once_and_cleared_by_a_fixed_generation() -> None:
    first = invalid_spec_status(None, generation=1, message="spec.shots: must be >= 1", now=T0)
    assert (first.phase, first.reason) == (Phase.FAILED, REASON_INVALID_SPEC)
    assert conditions(first)["Validated"] == ("False", REASON_INVALID_SPEC)
    assert invalid_spec_status(first, generation=1, message="spec.shots: must be >= 1", now=T0 + timedelta(1)) == first
    # The user fixes the spec: generation 2 parses, so the job starts over.
    job = make_job()
    job.metadata.generation = 2
    fixed = next_status(with_status(job, first), make_workflow(job), T0 + timedelta(days=1))
    assert fixed.phase == Phase.PENDING and fixed.reason == "WorkflowPending"
    # A job that had finished stays finished even if its spec no longer reads (newer CRD).
    argo = ArgoFake(make_workflow(job))
    argo.succeed_all()
    done = next_status(job, argo.workflow, T0)
    assert invalid_spec_status(done, generation=3, message="x", now=T0).phase == Phase.SUCCEEDED


def test_parse_status_drops_what_it_cannot_read() -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    argo.succeed_all()
    raw = next_status(job, argo.workflow, T0).model_dump(by_alias=True, mode="json", exclude_none=True)
    raw["kopf"] = {"progress": {}}
    raw["cost"] = {"usd": 0}
    parsed = parse_status(raw)
    assert parsed is not None and parsed.phase == Phase.SUCCEEDED and parsed.circuit is not None
    assert parse_status(None) is None and parse_status({}) is None and parse_status("x") is None


SUSPEND = [
    # job.spec.suspend, workflow spec.suspend, workflow phase -> patch
    (True, None, "Running", {"spec": {"suspend": True}}),
    (True, True, "Running", None),
    (False, True, "Running", {"spec": {"suspend": None}}),
    (False, None, "", None),
    (True, None, "Succeeded", None),
    (False, True, "Failed", None),
]


@pytest.mark.parametrize(("job_suspend", "wf_suspend", "wf_phase", "patch"), SUSPEND)
def test_suspend_patch(job_suspend: bool, wf_suspend: bool | None, wf_phase: str, patch: dict[str, Any] | None) -> None:
    job = make_job(suspend=job_suspend)
    workflow = make_workflow(job)
    if wf_suspend is not None:
        workflow["spec"]["suspend"] = wf_suspend
    workflow["status"] = {"phase": wf_phase}
    assert suspend_patch(job, workflow) == patch


def test_ownership() -> None:
    job = make_job()
    workflow = make_workflow(job)
    assert workflow_belongs_to(workflow, job)
    stranger = copy.deepcopy(workflow)
    stranger["metadata"]["ownerReferences"][0]["uid"] = "another"
    stranger["metadata"]["labels"]["qiskit-argo.io/job-uid"] = "another"
    assert not workflow_belongs_to(stranger, job)
    labelled = copy.deepcopy(workflow)
    labelled["metadata"].pop("ownerReferences")
    assert workflow_belongs_to(labelled, job)


def test_phase_changed() -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    argo.start()
    a = next_status(job, argo.workflow, T0)
    assert phase_changed(None, a)
    assert not phase_changed(a, a)
    argo.run_step("validate")
    argo.fail_step("validate", "InvalidCircuit: nope")
    assert phase_changed(a, next_status(job, argo.workflow, T0))


def test_failure_reason_without_nodes_uses_the_workflow_message() -> None:
    reason, message, step = failure_reason({"metadata": {"name": "w"}, "status": {"phase": "Failed"}})
    assert (reason, step) == ("WorkflowFailed", None) and "w" in message


# --------------------------------------------------------------------------- the fake speaks Argo


def _strict(schema: Any) -> Any:
    """Argo's schema with additionalProperties: false wherever properties are listed."""
    if isinstance(schema, dict):
        out = {key: _strict(value) for key, value in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


def _drop_nulls(value: Any) -> Any:
    # metav1.Time marshals its zero value as null; the schema says string.
    if isinstance(value, dict):
        return {key: _drop_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_drop_nulls(item) for item in value]
    return value


@pytest.mark.parametrize("drive", [_succeeded, _execution_failed_after_retries, _deadline, _template_missing])
def test_fake_workflow_status_matches_argo_schema(drive: Drive) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    if not SCHEMA.exists():
        pytest.skip(f"Argo schema not found at {SCHEMA}")
    document = _strict(json.loads(SCHEMA.read_text()))
    definition = {
        "$ref": "#/definitions/io.argoproj.workflow.v1alpha1.WorkflowStatus",
        "definitions": document["definitions"],
    }
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    ArgoFake(make_workflow(job), retries=False).succeed_all()  # the no-retry shape runs too
    drive(argo)
    jsonschema.validate(_drop_nulls(argo.workflow["status"]), definition)


def test_an_older_workflow_snapshot_never_moves_the_job_backwards() -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    _scheduling(argo)
    older = argo.snapshot()
    argo.succeed_step("schedule", {"backend": BACKEND})
    argo.run_step("execute-aer")
    newer = next_status(job, argo.workflow, T0)
    assert newer.phase == Phase.RUNNING
    late = next_status(with_status(job, newer), older, T0 + timedelta(seconds=1))
    assert late == newer
