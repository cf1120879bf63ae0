"""next_status: the whole QiskitJob status from the job and its Workflow, table by table."""

from __future__ import annotations

import base64
import contextlib
import copy
import dataclasses
import gzip
import io
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from qiskit_argo import scheduling
from qiskit_argo import steps as steps_module
from qiskit_argo.api import Phase, QiskitJob, QiskitJobStatus
from qiskit_argo.errors import (
    ExecutionError,
    InvalidCircuitError,
    InvalidJobError,
    LimitExceededError,
    PermanentError,
    TransientError,
)
from qiskit_argo.naming import job_labels, workflow_name
from qiskit_argo.safeio import ResultsDirError, UnsafePathError
from qiskit_argo.status import (
    PHASE_FUNCTIONS,
    REASON_INVALID_SPEC,
    REASON_WORKFLOW_CONFLICT,
    REASON_WORKFLOW_DELETED,
    STEP_NAMES,
    Cause,
    Failure,
    Reason,
    classify_message,
    detect,
    failure_reason,
    inputs_of,
    invalid_spec_status,
    is_terminal,
    next_status,
    parse_container_message,
    parse_status,
    phase_changed,
    suspend_patch,
    transition_event,
    workflow_belongs_to,
)
from qiskit_argo.steps import STEPS
from tests.argo_fake import (
    BACKEND,
    BACKEND_JSON,
    METRICS_JSON,
    SUMMARY,
    SUMMARY_JSON,
    ArgoFake,
    fnv32a,
    node_id,
    pod_name,
    ts,
)

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
#: Argo versions whose node message formats differ: ``Error (exit code 2): ...`` before v3.7,
#: ``main: Error (exit code 2): ...`` since (tests/argo_fake.py cites the source).
ARGO_VERSIONS = ["3.6", "4.1"]


def _nothing(argo: ArgoFake) -> None:
    return None


def _started(argo: ArgoFake) -> None:
    argo.start()


def _validating(argo: ArgoFake) -> None:
    argo.start()
    argo.run_step("validate")


def _validate_pending(argo: ArgoFake) -> None:
    argo.start()
    argo.pending_step("validate", 'ImagePullBackOff: Back-off pulling image "qiskit-argo/validator:0.1.0"')


def _scheduling(argo: ArgoFake) -> None:
    _validating(argo)
    argo.succeed_step("validate")
    argo.run_step("schedule")


def _executing(argo: ArgoFake) -> None:
    _scheduling(argo)
    argo.succeed_step("schedule")
    argo.run_step("execute-aer")


def _storing(argo: ArgoFake) -> None:
    _executing(argo)
    argo.succeed_step("execute-aer")
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
    argo.fail_step("execute-aer", "ExecutionFailed: Aer ran out of memory", exit_code=1, retried=2)


def _oom(argo: ArgoFake) -> None:
    _executing(argo)
    argo.fail_step("execute-aer", reason="OOMKilled", exit_code=137, retried=2)


def _evicted(argo: ArgoFake) -> None:
    _executing(argo)
    argo.fail_step(
        "execute-aer",
        pod_message="The node was low on resource: memory. Threshold quantity: 100Mi, available: 52Mi.",
        retried=2,
    )


def _image_pull(argo: ArgoFake) -> None:
    _validate_pending(argo)
    message = 'Pod failed before main container starts due to ImagePullBackOff: Back-off pulling image "x"'
    argo.fail_step("validate", message=message, phase="Error", exit_code=1)


def _deadline(argo: ArgoFake) -> None:
    _executing(argo)
    argo.exceed_deadline()


def _max_duration(argo: ArgoFake) -> None:
    _executing(argo)
    argo.fail_attempt("execute-aer", "ExecutionFailed: Aer was interrupted", exit_code=1)
    argo.give_up("execute-aer", "Max duration limit exceeded")


def _pod_deleted(argo: ArgoFake) -> None:
    _executing(argo)
    argo.fail_step("execute-aer", message="pod deleted", phase="Error", exit_code=1, retried=2)


def _outputs_not_saved(argo: ArgoFake) -> None:
    _storing(argo)
    argo.fail_step(
        "store-results",
        'failed to put file: Put "http://minio:9000/my-bucket/x": dial tcp: lookup minio: no such host; ',
        container="wait",
        exit_code=1,
        retried=2,
    )


def _exit_code_only(argo: ArgoFake) -> None:
    _scheduling(argo)
    argo.fail_step("schedule", exit_code=1, retried=2)


def _template_missing(argo: ArgoFake) -> None:
    argo.template_missing()


def _terminated(argo: ArgoFake) -> None:
    _executing(argo)
    argo.shutdown("Terminate")


def _stopped(argo: ArgoFake) -> None:
    _executing(argo)
    argo.shutdown("Stop")


def _unknown_error(argo: ArgoFake) -> None:
    argo.start()
    argo.error("something odd happened")


def _retrying(argo: ArgoFake) -> None:
    _executing(argo)
    argo.fail_attempt("execute-aer", "ExecutionFailed: Aer was interrupted", exit_code=1)


def _suspended(argo: ArgoFake) -> None:
    _scheduling(argo)
    argo.succeed_step("schedule")
    argo.workflow["spec"]["suspend"] = True


def _suspended_but_done(argo: ArgoFake) -> None:
    argo.succeed_all()
    argo.workflow["spec"]["suspend"] = True


PHASES: list[tuple[str, Drive, str, str | None, dict[str, str]]] = [
    # id, what Argo did, phase, reason, condition statuses
    ("created", _nothing, "Pending", "WorkflowPending", {"Running": "False", "Succeeded": "Unknown"}),
    ("started", _started, "Validating", None, {"Running": "True", "Validated": "Unknown"}),
    ("validating", _validating, "Validating", None, {"Running": "True", "Validated": "Unknown"}),
    ("image-pulling", _validate_pending, "Validating", None, {"Running": "True", "Validated": "Unknown"}),
    ("scheduling", _scheduling, "Scheduling", None, {"Validated": "True", "Scheduled": "Unknown", "Running": "True"}),
    ("executing", _executing, "Running", None, {"Validated": "True", "Scheduled": "True", "Running": "True"}),
    ("retrying", _retrying, "Running", None, {"Scheduled": "True", "Running": "True", "Failed": "False"}),
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
    ("evicted", _evicted, "Failed", "PodEvicted", {"Failed": "True"}),
    ("image-pull", _image_pull, "Failed", "ImagePullFailed", {"Validated": "False"}),
    ("deadline", _deadline, "Failed", "DeadlineExceeded", {"Failed": "True", "Succeeded": "False"}),
    ("max-duration", _max_duration, "Failed", "DeadlineExceeded", {"Failed": "True"}),
    ("pod-deleted", _pod_deleted, "Failed", "PodDeleted", {"Failed": "True"}),
    ("outputs-not-saved", _outputs_not_saved, "Failed", "ArtifactError", {"Failed": "True"}),
    ("exit-code-only", _exit_code_only, "Failed", "StepFailed", {"Validated": "True", "Scheduled": "False"}),
    ("template-missing", _template_missing, "Failed", "TemplateNotFound", {"Failed": "True"}),
    ("terminated", _terminated, "Failed", "WorkflowTerminated", {"Failed": "True"}),
    ("stopped", _stopped, "Failed", "WorkflowStopped", {"Failed": "True"}),
    ("unknown-error", _unknown_error, "Failed", "WorkflowError", {"Failed": "True"}),
    ("suspended", _suspended, "Suspended", "Suspended", {"Suspended": "True", "Running": "False"}),
    ("suspended-but-done", _suspended_but_done, "Succeeded", "Succeeded", {"Suspended": "False"}),
]


@pytest.mark.parametrize("version", ARGO_VERSIONS)
@pytest.mark.parametrize(("drive", "phase", "reason", "want"), [p[1:] for p in PHASES], ids=[p[0] for p in PHASES])
def test_phase_reason_and_conditions(
    drive: Drive, phase: str, reason: str | None, want: dict[str, str], version: str
) -> None:
    job = make_job(suspend=drive in (_suspended, _suspended_but_done))
    argo = ArgoFake(make_workflow(job), argo_version=version)
    drive(argo)
    status = next_status(job, argo.workflow, T0)
    assert (status.phase, status.reason) == (phase, reason), status.message
    got = {name: value[0] for name, value in conditions(status).items()}
    assert {name: got[name] for name in want} == want
    assert status.message, "a person always gets a message"
    assert status.workflow_name == argo.name
    assert status.observed_generation == 1
    assert all(c.observed_generation == 1 for c in status.conditions)
    assert [s.name for s in status.steps] == list(STEPS)


FAILURE_MESSAGES = [
    ("invalid-circuit", _invalid_circuit, "validate failed: line 3: 'qreg' expects a size"),
    ("execution-retried", _execution_failed_after_retries, "execute-aer failed: Aer ran out of memory"),
    ("oom", _oom, "execute-aer failed: main: OOMKilled (exit code 137)"),
    ("deadline", _deadline, "execute-aer failed: Step exceeded its deadline"),
    (
        "max-duration",
        _max_duration,
        "execute-aer failed: Max duration limit exceeded; the last attempt failed with ExecutionFailed: Aer was",
    ),
    (
        "template-missing",
        _template_missing,
        "Workflow failed: invalid spec: templates.main.tasks.validate template reference qiskit-job-v1.validate",
    ),
    ("terminated", _terminated, "execute-aer failed: workflow shutdown with strategy: Terminate"),
    ("exit-code-only", _exit_code_only, "schedule failed: main: Error (exit code 1)"),
]


@pytest.mark.parametrize(("drive", "message"), [f[1:] for f in FAILURE_MESSAGES], ids=[f[0] for f in FAILURE_MESSAGES])
def test_failure_message_tells_a_person_what_happened(drive: Drive, message: str) -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    drive(argo)
    status = next_status(job, argo.workflow, T0)
    assert status.message is not None and status.message.startswith(message), status.message
    failed = next(c for c in status.conditions if c.type == "Failed")
    assert failed.message == status.message


# --------------------------------------------------------------------------- every reason a step has


def _argv(step: str, out: Path) -> list[str]:
    """Arguments the step's parser accepts (the files need not exist: the step is replaced)."""
    spec = STEPS[step]
    argv = [step]
    for artifact in spec.input_artifacts:
        argv += [f"--{artifact}", str(out / "missing")]
    for parameter in spec.input_parameters:
        argv += [f"--{parameter}", "{}"]
    return argv + ["--out", str(out)]


def _raise(error: BaseException) -> Callable[..., None]:
    def step(**_: Any) -> None:
        raise error

    return step


#: Every error a step raises on purpose (``qiskit_argo.errors`` and the reasons given in the steps'
#: modules), plus an unexpected one: (step, the error).
STEP_ERRORS: list[tuple[str, str, BaseException]] = [
    ("InvalidSpec", "validate", InvalidJobError("spec.shots: must be at least 1")),
    ("InvalidCircuit", "validate", InvalidCircuitError("spec.circuit.openqasm: line 4: index 5 is out-of-range")),
    ("LimitExceeded", "validate", LimitExceededError("spec.circuit.openqasm: 40 qubits exceeds the limit of 32")),
    ("MissingArtifact", "schedule", TransientError("cannot read the request artifact", reason="MissingArtifact")),
    ("ExecutionFailed", "execute-aer", ExecutionError("Qiskit Aer ran out of memory; retrying may help")),
    ("NoiseModelUnavailable", "execute-aer", PermanentError("no qiskit-ibm-runtime", reason="NoiseModelUnavailable")),
    ("CorruptResult", "store-results", PermanentError("result is not JSON", reason="CorruptResult")),
    ("UnsafePath", "store-results", UnsafePathError("results/../x is not a file inside results")),
    ("ResultsDirectory", "store-results", ResultsDirError("results/ holds files that are not ours")),
    ("PermanentFailure", "execute-aer", PermanentError("cannot go on")),
    ("TransientFailure", "execute-aer", TransientError("try again")),
    ("StepError", "schedule", RuntimeError("boom")),
]


def _termination(step: str, error: BaseException, tmp_path: Path) -> tuple[str, int]:
    """What the real step entry point writes to its termination log, and its exit code."""
    failing = STEPS.with_step(dataclasses.replace(STEPS[step], function=_raise(error)))
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = steps_module.main(_argv(step, tmp_path), steps=failing)
    return stderr.getvalue().strip().splitlines()[-1], code


def _drive_to(argo: ArgoFake, step: str) -> None:
    argo.start()
    for earlier in STEP_NAMES[: STEP_NAMES.index(step)]:
        argo.run_step(earlier)
        argo.succeed_step(earlier)
    argo.run_step(step)


@pytest.mark.parametrize("version", ARGO_VERSIONS)
@pytest.mark.parametrize(("reason", "step", "error"), STEP_ERRORS, ids=[e[0] for e in STEP_ERRORS])
def test_every_step_reason_reaches_the_status(
    reason: str, step: str, error: BaseException, version: str, tmp_path: Path
) -> None:
    line, code = _termination(step, error, tmp_path)
    assert line.startswith(f"{reason}: ") and code in (1, 2)
    job = make_job()
    argo = ArgoFake(make_workflow(job), argo_version=version)
    _drive_to(argo, step)
    # Permanent failures (exit code 2) are not retried; transient ones are, up to spec.retry.limit.
    argo.fail_step(step, line, exit_code=code, retried=0 if code == 2 else 2)
    pod = argo.attempts(step)[-1]
    prefix = "main: " if version != "3.6" else ""
    assert pod["message"] == f"{prefix}Error (exit code {code}): {line}"
    status = next_status(job, argo.workflow, T0)
    detail = line.split(": ", 1)[1]
    assert (status.phase, status.reason) == ("Failed", reason)
    assert status.message == f"{step} failed: {detail}"
    assert conditions(status)["Failed"] == ("True", reason)
    assert {s.name: s.message for s in status.steps}[step] == line


def _real_step(argv: list[str]) -> tuple[str, int]:
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = steps_module.main(argv)
    return stderr.getvalue().strip().splitlines()[-1], code


def _job_file(tmp_path: Path, **spec: Any) -> Path:
    document = yaml.safe_load((REPO / "examples" / "bell.yaml").read_text())
    document["metadata"]["namespace"] = "lab"
    document["spec"].update(spec)
    path = tmp_path / f"job-{len(list(tmp_path.glob('job-*.json')))}.json"
    path.write_text(json.dumps(document))
    return path


def test_real_step_failures_reach_the_status(tmp_path: Path) -> None:
    """The steps themselves fail (no stand-in): their termination lines, through Argo's shapes."""
    bad = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[5];\n'
    cases = [
        (
            "validate",
            ["--job", str(_job_file(tmp_path, circuit={"openqasm": bad})), "--limits", "{}"],
            "InvalidCircuit",
        ),
        ("validate", ["--job", str(_job_file(tmp_path)), "--limits", '{"maxQubits": 1}'], "LimitExceeded"),
        ("validate", ["--job", str(_job_file(tmp_path, shots=0)), "--limits", "{}"], "InvalidSpec"),
        (
            "schedule",
            [
                "--request",
                str(tmp_path / "absent.json"),
                "--catalogue",
                str(tmp_path / "none.json"),
                "--metrics",
                "{}",
                "--reserved",
                "{}",
            ],  # fmt: skip
            "MissingArtifact",
        ),
    ]
    for index, (step, args, reason) in enumerate(cases):
        line, code = _real_step([step, *args, "--out", str(tmp_path / f"out{index}")])
        assert line.startswith(f"{reason}: "), line
        for version in ARGO_VERSIONS:
            job = make_job()
            argo = ArgoFake(make_workflow(job), argo_version=version)
            _drive_to(argo, step)
            argo.fail_step(step, line, exit_code=code, retried=0 if code == 2 else 2)
            status = next_status(job, argo.workflow, T0)
            assert status.reason == reason, (version, status.message)
            assert status.message == f"{step} failed: {line.split(': ', 1)[1]}"


def test_the_fake_publishes_what_the_real_steps_write(tmp_path: Path) -> None:
    """The Bell outputs in tests/argo_fake.py are byte for byte what validate, schedule and
    store-results (over execute-aer's part) write (the parameter value is the file, as Argo's
    SaveParameters reads it)."""
    out = tmp_path / "out"
    assert steps_module.main(["validate", "--job", str(_job_file(tmp_path)), "--limits", "{}", "--out", str(out)]) == 0
    metrics = (out / "metrics.json").read_text()
    assert metrics == METRICS_JSON
    request = str(out / "request.json")
    catalogue = str(tmp_path / "catalogue.json")
    argv = ["schedule", "--request", request, "--catalogue", catalogue, "--metrics", metrics, "--reserved", "{}"]
    assert steps_module.main([*argv, "--out", str(out)]) == 0
    backend = (out / "backend.json").read_text()
    assert backend == BACKEND_JSON
    assert (out / "shards.json").read_text() == '["0-of-1"]'
    # The Bell job sets a seed: its run is cacheable (the fake's default is an uncached run, key "none").
    assert re.fullmatch(r"[0-9a-f]{64}|none", (out / "cache-key.txt").read_text())
    circuit, bindings = str(out / "circuit.qpy"), str(out / "bindings")
    ran = tmp_path / "execute"
    argv = ["execute-aer", "--circuit", circuit, "--request", request, "--bindings", bindings, "--backend", backend]
    argv += ["--target", "{}", "--semaphore", "_builtin", "--shard", "0-of-1", "--out", str(ran)]
    assert steps_module.main(argv) == 0
    parts = tmp_path / "parts"  # what store-results downloads from the run's parts prefix
    parts.mkdir()
    (parts / "0-of-1.json").write_bytes((ran / "part.json").read_bytes())
    stored = tmp_path / "store"
    argv = ["store-results", "--request", request, "--bindings", bindings, "--metrics", metrics, "--backend", backend]
    argv += ["--shards", '["0-of-1"]', "--cache-key", "none", "--parts", str(parts)]
    argv += ["--cached-parts", str(tmp_path / "no-cached-parts"), "--out", str(stored)]
    assert steps_module.main(argv) == 0
    assert (stored / "summary.json").read_text() == SUMMARY_JSON
    # And the scheduler never names a backend it does not have.
    assert BACKEND["name"] == scheduling.AER


CLASSIFY = [
    ("InvalidCircuit: line 3: bad", "InvalidCircuit", "line 3: bad"),
    ("main: Error (exit code 2): InvalidCircuit: line 6: bad", "InvalidCircuit", "line 6: bad"),
    ("Error (exit code 2): InvalidCircuit: line 6: bad", "InvalidCircuit", "line 6: bad"),
    ("main: Error (exit code 1): ExecutionFailed: Aer died", "ExecutionFailed", "Aer died"),
    ("main: Error (exit code 1): StepError: ValueError: boom", "StepError", "ValueError: boom"),
    ("LimitExceeded: too many qubits", "LimitExceeded", "too many qubits"),
    ("StepError: ValueError: boom", "StepError", "ValueError: boom"),
    ("OOMKilled (exit code 137)", "OutOfMemory", None),
    ("main: OOMKilled (exit code 137)", "OutOfMemory", None),
    ("Pod was active on the node longer than the specified deadline", "DeadlineExceeded", None),
    ("Step exceeded its deadline", "DeadlineExceeded", None),
    ("Max duration limit exceeded", "DeadlineExceeded", None),
    ("Backoff would exceed max duration limit", "DeadlineExceeded", None),
    ("retry exceeded workflow deadline 2026-01-01 13:00:00 +0000 UTC", "DeadlineExceeded", None),
    ("ErrImagePull: rpc error: not found", "ImagePullFailed", None),
    ("ImagePullBackOff: Back-off pulling image", "ImagePullFailed", None),
    ("Pod failed before main container starts due to ImagePullBackOff: Back-off", "ImagePullFailed", None),
    ("Pod failed before main container starts due to CreateContainerConfigError: no", "ContainerError", None),
    ("Unschedulable: 0/3 nodes are available", "Unschedulable", None),
    ("CreateContainerConfigError: secret not found", "ContainerError", None),
    ("pod deleted", "PodDeleted", None),
    ("The node was low on resource: memory.", "PodEvicted", None),
    ("Stopped with strategy 'Stop'", "WorkflowStopped", None),
    ("Stopped with strategy 'Terminate'", "WorkflowTerminated", None),
    ("workflow shutdown with strategy:  Stop", "WorkflowStopped", None),
    ("workflow shutdown with strategy:  Terminate", "WorkflowTerminated", None),
    (
        "invalid spec: templates.main.tasks.validate template reference qiskit-job-v1.validate not found",
        "TemplateNotFound",
        None,
    ),
    ("invalid spec: spec.entrypoint is required", "InvalidWorkflow", None),
    (
        "wait: Error (exit code 1): failed to put file: no such host",
        "ArtifactError",
        "failed to put file: no such host",
    ),
    ("init: Error (exit code 1): required artifact 'request' not supplied", "ArtifactError", None),
    ("failed to save outputs: timed out", "ArtifactError", None),
    ("Error (exit code 1)", "StepFailed", None),
    ("main: Error (exit code 1)", "StepFailed", None),
    ("main: Error (exit code 1): no reason in this line", "StepFailed", "no reason in this line"),
    ("no idea what went wrong", None, "no idea what went wrong"),
]


@pytest.mark.parametrize(("message", "reason", "detail"), CLASSIFY, ids=[c[0][:40] for c in CLASSIFY])
def test_classify_message(message: str, reason: str | None, detail: str | None) -> None:
    got_reason, got_detail = classify_message(message)
    assert got_reason == reason
    if detail is not None or reason is None:
        assert got_detail == (detail if detail is not None else message)
    elif parse_container_message(message) is None:
        assert got_detail == message


# --------------------------------------------------------------------------- outputs


def test_outputs_reach_the_status() -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    argo.succeed_all()
    status = next_status(job, argo.workflow, T0)
    assert status.circuit is not None and status.circuit.num_qubits == 2 and status.circuit.count_ops["cx"] == 1
    assert status.backend is not None
    assert (status.backend.name, status.backend.method) == ("aer", "automatic")
    assert status.result is not None and status.result.top_counts == {"00": 529, "11": 495}
    assert status.result_location is not None
    assert status.result_location.artifact == "results"
    # The key Argo's executor gives a directory artifact: <workflow>/<pod name>/<name>.tgz.
    pod = argo.attempts("store-results")[-1]
    assert status.result_location.key == f"{argo.name}/{pod_name(argo.name, pod['name'], 'store-results')}/results.tgz"
    assert status.result_location.path == "/tmp/qiskit-argo/outputs/results"
    assert status.start_time == datetime.fromisoformat(ts(1).replace("Z", "+00:00"))
    assert status.completion_time is not None and status.completion_time > status.start_time
    assert {s.name: s.phase for s in status.steps} == {
        "validate": "Succeeded",
        "schedule": "Succeeded",
        "execute-aer": "Succeeded",
        "execute-aer-cached": "Skipped",
        "execute-aer-gpu": "Skipped",
        "execute-aer-gpu-cached": "Skipped",
        "ibm-submit": "Skipped",
        "ibm-wait": "Omitted",
        "store-results": "Succeeded",
    }
    assert "most frequent 00 (529)" in (status.message or "")


def test_outputs_appear_step_by_step_and_summary_prefers_store_results() -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    _executing(argo)
    status = next_status(job, argo.workflow, T0)
    assert status.circuit is not None and status.backend is not None and status.result is None
    assert "aer (automatic): spec.backend.aer.method=automatic" in (status.message or "")
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
    argo.succeed_step("validate")
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


@pytest.fixture(scope="module")
def workflow_status_schema() -> Any:
    """A validator for Argo's WorkflowStatus, made strict, built once."""
    jsonschema = pytest.importorskip("jsonschema")
    if not SCHEMA.exists():
        pytest.skip(f"Argo schema not found at {SCHEMA}")
    document = _strict(json.loads(SCHEMA.read_text()))
    status = "#/definitions/io.argoproj.workflow.v1alpha1.WorkflowStatus"
    return jsonschema.Draft7Validator({"$ref": status, "definitions": document["definitions"]})


@pytest.mark.parametrize("retries", [True, False], ids=["retry-nodes", "no-retry-strategy"])
@pytest.mark.parametrize("version", ARGO_VERSIONS)
@pytest.mark.parametrize("drive", [p[1] for p in PHASES], ids=[p[0] for p in PHASES])
def test_fake_workflow_status_matches_argo_schema(
    drive: Drive, version: str, retries: bool, workflow_status_schema: Any
) -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job), argo_version=version, retries=retries)
    if retries or drive not in (_retrying, _max_duration):
        drive(argo)
    else:
        argo.succeed_all()  # a Workflow without a retryStrategy has no attempts to retry
    workflow_status_schema.validate(_drop_nulls(argo.workflow["status"]))


def test_the_fake_builds_argos_node_tree() -> None:
    """The tree Argo builds for a job's Workflow (see tests/argo_fake.py for the source cited)."""
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    _execution_failed_after_retries(argo)
    nodes = argo.nodes
    name = argo.name
    root = nodes[name]
    assert (root["type"], root["displayName"], root["templateName"]) == ("Retry", name, "main")
    assert (root["phase"], root["message"]) == ("Failed", "No more retries left")
    dag = nodes[root["children"][0]]
    assert (dag["name"], dag["type"], dag["nodeFlag"]) == (f"{name}(0)", "DAG", {"retried": True})
    assert dag["id"] == f"{name}-{fnv32a(f'{name}(0)')}" == node_id(name, f"{name}(0)")
    # execute-aer fans out (withParam): a TaskGroup, one expanded task per shard (one here).
    group = argo.task("execute-aer")
    assert group is not None
    assert (group["name"], group["type"], group["displayName"]) == (
        f"{name}(0).execute-aer",
        "TaskGroup",
        "execute-aer",
    )
    assert group["phase"] == "Failed"
    (task,) = argo.shards("execute-aer")
    assert group["children"] == [task["id"]]
    shard = f"{name}(0).execute-aer(0:0-of-1)"
    assert (task["name"], task["type"], task["displayName"]) == (shard, "Retry", "execute-aer(0:0-of-1)")
    assert task["templateRef"] == {"name": "qiskit-job-v1", "template": "execute-aer", "clusterScope": True}
    assert task["boundaryID"] == dag["id"] and "templateName" not in task
    assert (task["phase"], task["message"]) == ("Failed", "No more retries left")
    tried = argo.attempts("execute-aer")
    assert [t["displayName"] for t in tried] == [f"execute-aer(0:0-of-1)({n})" for n in range(3)]
    assert [t["type"] for t in tried] == ["Pod"] * 3
    assert tried[-1]["message"] == "main: Error (exit code 1): ExecutionFailed: Aer ran out of memory"
    assert tried[-1]["outputs"] == {"exitCode": "1"}
    # execute-aer's group hangs off the last attempts of both tasks it depends on.
    for dependency in ("validate", "schedule"):
        assert group["id"] in argo.attempts(dependency)[-1]["children"]
    omitted = argo.task("store-results")
    assert omitted is not None
    assert (omitted["type"], omitted["phase"], omitted["message"]) == (
        "Skipped",
        "Omitted",
        "omitted: depends condition not met",
    )
    validate = argo.attempts("validate")[-1]
    metrics = validate["outputs"]["parameters"][0]
    assert metrics == {
        "name": "metrics",
        "value": METRICS_JSON,
        "valueFrom": {"path": "/tmp/qiskit-argo/outputs/metrics.json"},
    }
    assert validate["outputs"]["exitCode"] == "0"
    circuit = validate["outputs"]["artifacts"][0]
    assert circuit["archive"] == {"none": {}}
    assert circuit["s3"]["key"] == f"{name}/{pod_name(name, validate['name'], 'validate')}/circuit.qpy"
    assert argo.workflow["status"]["message"] == "No more retries left"
    assert argo.workflow["metadata"]["labels"]["workflows.argoproj.io/completed"] == "true"


def test_a_permanent_failure_waits_out_the_backoff_before_argo_gives_up() -> None:
    """Argo evaluates the retry expression only after the backoff: meanwhile the job still runs,
    and the step says what happened and that Argo waits."""
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    _validating(argo)
    argo.fail_attempt("validate", "InvalidCircuit: line 3: bad")
    waiting = next_status(job, argo.workflow, T0)
    assert waiting.phase == Phase.VALIDATING
    step = {s.name: s for s in waiting.steps}["validate"]
    assert step.message == ("attempt 1 failed (InvalidCircuit: line 3: bad); retrying: Backoff for 10 seconds")
    argo.give_up("validate", "retryStrategy.expression evaluated to false")
    failed = next_status(with_status(job, waiting), argo.workflow, T0)
    assert (failed.phase, failed.reason) == (Phase.FAILED, "InvalidCircuit")


def test_an_older_workflow_snapshot_never_moves_the_job_backwards() -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    _scheduling(argo)
    older = argo.snapshot()
    argo.succeed_step("schedule")
    argo.run_step("execute-aer")
    newer = next_status(job, argo.workflow, T0)
    assert newer.phase == Phase.RUNNING
    late = next_status(with_status(job, newer), older, T0 + timedelta(seconds=1))
    assert late == newer
    # Nor a snapshot from before a step the status shows running had started.
    argo = ArgoFake(make_workflow(job))
    argo.start()
    before = argo.snapshot()
    argo.run_step("validate")
    validating = next_status(job, argo.workflow, T0)
    assert next_status(with_status(job, validating), before, T0) == validating


SUSPEND_FLIPS = [
    # job spec.suspend, Workflow spec.suspend, phase shown before -> phase now
    ("suspended", True, True, Phase.VALIDATING, Phase.SUSPENDED),
    ("resumed", False, False, Phase.SUSPENDED, Phase.VALIDATING),
    ("stale-snapshot-after-suspend", True, False, Phase.SUSPENDED, Phase.SUSPENDED),
    ("not-yet-suspended", True, False, Phase.VALIDATING, Phase.VALIDATING),
    ("stale-snapshot-after-resume", False, True, Phase.VALIDATING, Phase.VALIDATING),
    ("not-yet-resumed", False, True, Phase.SUSPENDED, Phase.SUSPENDED),
]


@pytest.mark.parametrize(
    ("job_suspend", "wf_suspend", "before", "after"), [f[1:] for f in SUSPEND_FLIPS], ids=[f[0] for f in SUSPEND_FLIPS]
)
def test_suspended_only_when_the_workflow_carries_the_jobs_word(
    job_suspend: bool, wf_suspend: bool, before: Phase, after: Phase
) -> None:
    """A Workflow that has not caught up with the job's spec.suspend (a snapshot from before the
    controller's patch, or the patch not made yet) never flips the phase."""
    job = make_job(suspend=job_suspend)
    argo = ArgoFake(make_workflow(job))
    _validating(argo)
    shown = next_status(
        job.model_copy(update={"spec": job.spec.model_copy(update={"suspend": False})}), argo.workflow, T0
    )
    if before == Phase.SUSPENDED:
        argo.workflow["spec"]["suspend"] = True
        shown = next_status(make_job(suspend=True), argo.workflow, T0)
    assert shown.phase == before
    argo.workflow["spec"].pop("suspend", None)
    if wf_suspend:
        argo.workflow["spec"]["suspend"] = True
    status = next_status(with_status(job, shown), argo.workflow, T0 + timedelta(seconds=1))
    assert status.phase == after, status.message


# --------------------------------------------------------------------------- the phase machine


#: What each drive of the phase table is, as ``detect`` says it (one cause, one phase function).
CAUSES = {
    _nothing: Cause.WORKFLOW_PENDING,
    _started: Cause.WORKFLOW_RUNNING,
    _scheduling: Cause.WORKFLOW_RUNNING,
    _retrying: Cause.WORKFLOW_RUNNING,
    _succeeded: Cause.WORKFLOW_SUCCEEDED,
    _invalid_circuit: Cause.WORKFLOW_FAILED,
    _template_missing: Cause.WORKFLOW_FAILED,
    _suspended: Cause.WORKFLOW_SUSPENDED,
    _suspended_but_done: Cause.WORKFLOW_SUCCEEDED,
}


@pytest.mark.parametrize(("drive", "cause"), list(CAUSES.items()), ids=[c.value for c in CAUSES.values()])
def test_detect_says_one_cause_per_workflow(drive: Drive, cause: Cause) -> None:
    job = make_job(suspend=drive in (_suspended, _suspended_but_done))
    argo = ArgoFake(make_workflow(job))
    drive(argo)
    inputs = inputs_of(job, argo.workflow, T0)
    assert detect(inputs) == cause
    assert PHASE_FUNCTIONS[cause](inputs) == next_status(job, argo.workflow, T0)


def test_detect_without_a_workflow_in_view() -> None:
    job = make_job()
    assert detect(inputs_of(job, None, T0)) == Cause.NO_WORKFLOW
    assert detect(inputs_of(job, None, T0, workflow_missing=True)) == Cause.WORKFLOW_DELETED
    failure = Failure(Reason.WORKFLOW_REJECTED, "refused")
    assert detect(inputs_of(job, None, T0, failure=failure)) == Cause.CONTROLLER_FAILURE
    argo = ArgoFake(make_workflow(job))
    _executing(argo)
    older = argo.snapshot()
    argo.succeed_step("execute-aer")
    argo.run_step("store-results")
    shown = with_status(job, next_status(job, argo.workflow, T0))
    assert detect(inputs_of(shown, older, T0)) == Cause.STALE_WORKFLOW
    argo.succeed_all()
    done = with_status(job, next_status(shown, argo.workflow, T0))
    assert detect(inputs_of(done, None, T0, workflow_missing=True, failure=failure)) == Cause.FINAL
    assert set(PHASE_FUNCTIONS) == set(Cause), "one phase function per cause"


def _status(phase: Phase, reason: str | None = None, generation: int = 1) -> QiskitJobStatus:
    return QiskitJobStatus(phase=phase, reason=reason, observed_generation=generation)


TERMINAL = [
    # status, the job's generation -> final for it
    ("none", None, 1, False),
    ("running", _status(Phase.RUNNING), 1, False),
    ("suspended", _status(Phase.SUSPENDED, "Suspended"), 1, False),
    ("succeeded", _status(Phase.SUCCEEDED, "Succeeded"), 1, True),
    ("succeeded-then-edited", _status(Phase.SUCCEEDED, "Succeeded"), 2, True),
    ("failed", _status(Phase.FAILED, "InvalidCircuit"), 1, True),
    ("failed-then-edited", _status(Phase.FAILED, "InvalidCircuit"), 2, True),
    ("invalid-spec", _status(Phase.FAILED, "InvalidSpec"), 1, True),
    ("invalid-spec-fixed", _status(Phase.FAILED, "InvalidSpec"), 2, False),
]


@pytest.mark.parametrize(("status", "generation", "final"), [t[1:] for t in TERMINAL], ids=[t[0] for t in TERMINAL])
def test_the_terminal_guard(status: QiskitJobStatus | None, generation: int, final: bool) -> None:
    assert is_terminal(status, generation) is final
    if status is None:
        return
    job = make_job()
    job.metadata.generation = generation
    argo = ArgoFake(make_workflow(job))
    argo.start()
    argo.run_step("validate")
    after = next_status(with_status(job, status), argo.workflow, T0)
    if final:  # nothing but observedGeneration moves
        assert after.model_copy(update={"observed_generation": 1}) == status
        assert after.observed_generation == generation
    else:
        assert after.phase == Phase.VALIDATING


def test_the_transition_event_warns_with_the_failure_reason() -> None:
    failed = next_status(make_job(), None, T0, failure=Failure(Reason.WORKFLOW_CONFLICT, "taken"))
    assert transition_event(failed) == ("Warning", "WorkflowConflict", "taken")
    pending = next_status(make_job(), None, T0)
    assert transition_event(pending) == ("Normal", "Pending", pending.message)


def test_reasons_in_the_status_are_members() -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    _invalid_circuit(argo)
    status = next_status(job, argo.workflow, T0)
    assert status.reason is Reason.INVALID_CIRCUIT
    assert status.dump()["reason"] == "InvalidCircuit" and type(status.dump()["reason"]) is str
