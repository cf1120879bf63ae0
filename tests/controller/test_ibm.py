"""The controller's IBM side end to end: the catalogue snapshot and the semaphore ConfigMap before
the Workflow, sessions that are not open yet, and cancelling at IBM when a job is deleted or
suspended (the finalizer, bounded).

Same harness as ``test_scenarios.py``: the real kopf operator over HTTP against the strict
emulator (and envtest when ``KUBEBUILDER_ASSETS`` is set); the test plays the user and Argo
(``Argo`` for the job's Workflow, ``ServiceArgo`` for the cancel Workflow).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from qiskit_argo.steps import SEMAPHORE_CONFIGMAP
from tests.argo_fake import IBM_BACKEND_JSON, IBM_SCHEDULE, SUBMISSION_JSON, ArgoFake, ServiceFake
from tests.controller.cluster import Argo, Cluster, ServiceArgo, bell_spec, eventually

pytestmark = pytest.mark.timeout(60)

FINALIZER = "qiskit-argo.io/ibm-cancel"
SHERBROOKE = {"type": "ibm", "fakeBackend": "fake_sherbrooke", "maxConcurrentJobs": 2}
READY_BACKEND = {"phase": "Ready", "device": "fake_sherbrooke", "capabilities": {"numQubits": 127}}


def _artifact(workflow: dict[str, Any], task: str, name: str) -> Any:
    for template in workflow["spec"]["templates"]:
        for entry in (template.get("dag") or {}).get("tasks", []):
            if entry["name"] != task:
                continue
            for artifact in (entry.get("arguments") or {}).get("artifacts", []):
                if artifact["name"] == name:
                    return json.loads(artifact["raw"]["data"])
    raise AssertionError(f"no artifact {name} on task {task}")


async def _finalizers(cluster: Cluster, name: str) -> list[str] | None:
    job = await cluster.api.get(cluster.job_path(name))
    return None if job is None else list(job["metadata"].get("finalizers") or [])


def _controller_writes(cluster: Cluster) -> list[Any]:
    assert cluster.emulator is not None
    return cluster.emulator.writes_by("controller")


# --------------------------------------------------------------------------- catalogue and semaphores


async def test_the_catalogue_and_semaphores_come_before_the_workflow(cluster: Cluster) -> None:
    await cluster.create("QiskitBackend", "qiskitbackends", "sherbrooke", SHERBROOKE, READY_BACKEND)
    await cluster.create("QiskitBackend", "qiskitbackends", "local", {"type": "aer"})
    await cluster.controller().start()
    await cluster.create_job("bell", bell_spec(backend={"ref": "sherbrooke"}))
    workflow = await cluster.workflow_of("bell")
    name = workflow["metadata"]["name"]

    catalogue = _artifact(workflow, "schedule", "catalogue")
    entries = {entry["name"]: entry for entry in catalogue["entries"]}
    assert set(entries) == {"local", "sherbrooke"}
    assert entries["sherbrooke"]["device"] == "fake_sherbrooke" and entries["sherbrooke"]["numQubits"] == 127
    assert entries["sherbrooke"]["maxConcurrentJobs"] == 2

    configmap = await cluster.api.get(cluster.configmap_path(SEMAPHORE_CONFIGMAP))
    assert configmap is not None
    assert configmap["data"] == {"_builtin": "1000000", "local": "1000000", "sherbrooke": "2"}
    assert all(int(value) >= 1 for value in configmap["data"].values())
    # The job may reach IBM: it carries the finalizer, added before its Workflow was created.
    assert await _finalizers(cluster, "bell") == [FINALIZER]
    if cluster.emulator is not None:
        # Before the job's Workflow was created, the ConfigMap held the key it names and the job
        # carried the finalizer (the backend's own passes write the ConfigMap too).
        data: dict[str, str] = {}
        finalized = False
        for write in _controller_writes(cluster):
            if write.resource == "configmaps":
                data.update((write.body or {}).get("data") or {})
            elif write.resource == "qiskitjobs" and write.name == "bell":
                finalized = FINALIZER in ((write.body or {}).get("metadata") or {}).get("finalizers") or []
            elif write.method == "POST" and write.resource == "workflows" and write.body["metadata"]["name"] == name:
                break
        else:
            raise AssertionError("the job's Workflow was never created")
        assert data.get("sherbrooke") == "2" and finalized


async def test_the_semaphore_configmap_follows_a_new_backend_without_dropping_keys(cluster: Cluster) -> None:
    await cluster.create("QiskitBackend", "qiskitbackends", "sherbrooke", SHERBROOKE, READY_BACKEND)
    await cluster.controller().start()
    await cluster.create_job("one")
    await cluster.workflow_of("one")
    await cluster.api.ok("DELETE", cluster.kind_path("qiskitbackends", "sherbrooke"))
    await cluster.create("QiskitBackend", "qiskitbackends", "torino-sim", {"type": "aer", "maxConcurrentJobs": 1})
    await cluster.create_job("two")
    await cluster.workflow_of("two")
    configmap = await cluster.api.get(cluster.configmap_path(SEMAPHORE_CONFIGMAP))
    assert configmap is not None
    # A running Workflow may still hold the deleted backend's semaphore: its key stays.
    assert configmap["data"] == {"_builtin": "1000000", "sherbrooke": "2", "torino-sim": "1"}


async def test_an_aer_job_gets_no_finalizer(cluster: Cluster) -> None:
    await cluster.controller().start()
    await cluster.create_job("bell")
    await cluster.phase("bell", "Pending")
    assert await _finalizers(cluster, "bell") == []


async def test_the_finalizer_goes_once_the_schedule_step_chose_aer(cluster: Cluster) -> None:
    await cluster.create("QiskitBackend", "qiskitbackends", "local", {"type": "aer"})
    await cluster.controller().start()
    await cluster.create_job("bell", bell_spec(backend={"ref": "local"}))
    workflow = await cluster.workflow_of("bell")
    assert await _finalizers(cluster, "bell") == [FINALIZER]
    argo = Argo(cluster, workflow["metadata"]["name"])
    aer = json.dumps({"name": "local", "type": "aer", "device": "aer_simulator", "method": "automatic"})

    def scheduled(fake: ArgoFake) -> None:
        fake.start()
        for step, outputs in (("validate", None), ("schedule", {"backend": aer})):
            fake.run_step(step)
            fake.succeed_step(step, outputs)
        fake.run_step("execute-aer")

    await argo(scheduled)
    await cluster.phase("bell", "Running")
    assert await eventually(lambda: _no_finalizer(cluster, "bell"), what="the finalizer removed")


async def _no_finalizer(cluster: Cluster, name: str) -> bool:
    return await _finalizers(cluster, name) in ([], None)


# --------------------------------------------------------------------------- sessions


async def test_a_job_waits_for_its_session_then_runs_inside_it(cluster: Cluster) -> None:
    await cluster.create("QiskitBackend", "qiskitbackends", "sherbrooke", SHERBROOKE, READY_BACKEND)
    await cluster.controller(session_recheck_seconds=0.3).start()
    await cluster.create_job("bell", bell_spec(sessionRef="s1"))
    job = await eventually(lambda: _reason(cluster, "bell", "SessionNotReady"), what="SessionNotReady")
    assert job["status"]["phase"] == "Pending"
    assert "spec.sessionRef" in job["status"]["message"] and "s1" in job["status"]["message"]
    assert await _job_workflows(cluster) == []

    await cluster.create("QiskitSession", "qiskitsessions", "s1", {"backendRef": "sherbrooke"}, {"phase": "Opening"})
    job = await eventually(lambda: _message_has(cluster, "bell", "is Opening"), what="the session's phase")
    assert job["status"]["reason"] == "SessionNotReady" and await _job_workflows(cluster) == []

    # The session's controller opens it (its open Workflow, played by Argo here).
    opener = await eventually(lambda: _service_workflow(cluster, "session-open"), what="the open Workflow")
    opened = {"session": {"sessionId": "sess-42", "state": "open", "device": "fake_sherbrooke"}}
    await ServiceArgo(cluster, opener["metadata"]["name"])(lambda fake: (fake.start(), fake.succeed(opened)))
    workflow = await cluster.workflow_of("bell")
    catalogue = _artifact(workflow, "schedule", "catalogue")
    assert catalogue["session"] == {"name": "s1", "backendRef": "sherbrooke", "mode": "session", "sessionId": "sess-42"}
    job = await eventually(lambda: _reason(cluster, "bell", "WorkflowPending"), what="the Workflow's status")
    assert job["status"]["phase"] == "Pending" and job["status"]["workflowName"] == workflow["metadata"]["name"]


async def test_a_job_in_a_closed_session_fails(cluster: Cluster) -> None:
    await cluster.create("QiskitSession", "qiskitsessions", "old", {"backendRef": "sherbrooke"}, {"phase": "Closed"})
    await cluster.controller().start()
    await cluster.create_job("bell", bell_spec(sessionRef="old"))
    job = await cluster.phase("bell", "Failed")
    assert job["status"]["reason"] == "SessionClosed"
    assert "spec.sessionRef" in job["status"]["message"]
    assert await _job_workflows(cluster) == []
    assert await _finalizers(cluster, "bell") == []


async def _service_workflow(cluster: Cluster, step: str) -> dict[str, Any] | None:
    for workflow in await cluster.workflows():
        if (workflow["metadata"].get("labels") or {}).get("qiskit-argo.io/service") == step:
            return workflow
    return None


async def _job_workflows(cluster: Cluster) -> list[dict[str, Any]]:
    return [wf for wf in await cluster.workflows() if "qiskit-argo.io/job" in (wf["metadata"].get("labels") or {})]


async def _reason(cluster: Cluster, name: str, reason: str) -> dict[str, Any] | None:
    job = await cluster.job(name)
    return job if (job.get("status") or {}).get("reason") == reason else None


async def _message_has(cluster: Cluster, name: str, text: str) -> dict[str, Any] | None:
    job = await cluster.job(name)
    return job if text in ((job.get("status") or {}).get("message") or "") else None


# --------------------------------------------------------------------------- cancel at IBM


async def _waiting_at_ibm(cluster: Cluster, name: str = "bell", *, target: bool = True) -> str:
    """A job on sherbrooke whose ibm-wait step runs; the job Workflow's name. ``target``: the
    schedule step published its target (else only its choice: the controller finds the target
    from the QiskitBackend the status names)."""
    await cluster.create("QiskitBackend", "qiskitbackends", "sherbrooke", SHERBROOKE, READY_BACKEND)
    await cluster.create_job(name, bell_spec(backend={"ref": "sherbrooke"}))
    workflow = await cluster.workflow_of(name)

    def waiting(fake: ArgoFake) -> None:
        fake.start()
        for step, outputs in (
            ("validate", None),
            ("schedule", IBM_SCHEDULE if target else {"backend": IBM_BACKEND_JSON, "executor": "ibm"}),
            ("ibm-submit", {"submission": SUBMISSION_JSON}),
        ):
            fake.run_step(step)
            fake.succeed_step(step, outputs)
        fake.run_step("ibm-wait")

    await Argo(cluster, workflow["metadata"]["name"])(waiting)
    await eventually(lambda: _message_has(cluster, name, "is queued or running at IBM"), what="ibm-wait running")
    return str(workflow["metadata"]["name"])


def _task_parameters(workflow: dict[str, Any], task: str) -> dict[str, str]:
    for template in workflow["spec"]["templates"]:
        for entry in (template.get("dag") or {}).get("tasks", []):
            if entry["name"] == task:
                return {p["name"]: p["value"] for p in (entry.get("arguments") or {}).get("parameters", [])}
    raise AssertionError(f"no task {task}")


def _cancels(workflows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        wf for wf in workflows if (wf["metadata"].get("labels") or {}).get("qiskit-argo.io/service") == "ibm-cancel"
    ]


async def test_deleting_a_job_during_ibm_wait_cancels_at_ibm_then_lets_go(cluster: Cluster) -> None:
    await cluster.controller().start()
    await _waiting_at_ibm(cluster)
    job = await cluster.job("bell")
    assert job["status"]["ibm"]["jobId"] == json.loads(SUBMISSION_JSON)["jobId"]
    await cluster.delete_job("bell")

    cancel = await eventually(lambda: _one_cancel(cluster), what="the cancel Workflow")
    assert await _finalizers(cluster, "bell") == [FINALIZER], "the finalizer waits for the cancel"
    parameters = _task_parameters(cancel, "ibm-cancel")
    target = json.loads(parameters["target"])
    assert (target["name"], target["device"], target["fake"]) == ("sherbrooke", "fake_sherbrooke", True)
    job_uid = job["metadata"]["uid"]
    identity = {"namespace": cluster.namespace, "name": "bell", "uid": job_uid, "generation": 1}
    assert json.loads(parameters["identity"]) == identity
    events = await eventually(lambda: _events(cluster, "bell", "IbmCancelRequested"), what="IbmCancelRequested")
    assert len(events) == 1

    await ServiceArgo(cluster, cancel["metadata"]["name"])(
        lambda fake: (fake.start(), fake.succeed({"cancelled": {"cancelled": ["d1k2mq8s0abc"]}}))
    )
    assert await eventually(lambda: _gone(cluster, "bell"), what="the job deleted")
    assert len(_cancels(await cluster.workflows())) == 1, "one cancel Workflow, created once"
    assert not await _events(cluster, "bell", "IbmCancelFailed")


async def test_a_cancel_that_never_finishes_lets_go_after_the_bound(cluster: Cluster) -> None:
    await cluster.controller(cancel_timeout_seconds=1.5).start()
    await _waiting_at_ibm(cluster, target=False)  # the target found through the QiskitBackend
    await cluster.delete_job("bell")
    cancel = await eventually(lambda: _one_cancel(cluster), what="the cancel Workflow")
    assert json.loads(_task_parameters(cancel, "ibm-cancel")["target"])["device"] == "fake_sherbrooke"
    assert await _finalizers(cluster, "bell") == [FINALIZER]
    assert await eventually(lambda: _gone(cluster, "bell"), timeout=15, what="the job let go after the bound")
    events = await eventually(lambda: _events(cluster, "bell", "IbmCancelFailed"), what="IbmCancelFailed")
    assert "did not finish within 1.5s" in events[0]["message"]
    assert "d1k2mq8s0abc" in events[0]["message"]
    assert events[0]["type"] == "Warning"


async def test_a_failed_cancel_lets_go_with_an_event(cluster: Cluster) -> None:
    await cluster.controller().start()
    await _waiting_at_ibm(cluster)
    await cluster.delete_job("bell")
    cancel = await eventually(lambda: _one_cancel(cluster), what="the cancel Workflow")
    await ServiceArgo(cluster, cancel["metadata"]["name"])(
        lambda fake: (fake.start(), fake.fail("CredentialsRejected: IBM Quantum rejected the API key"))
    )
    assert await eventually(lambda: _gone(cluster, "bell"), what="the job deleted")
    events = await eventually(lambda: _events(cluster, "bell", "IbmCancelFailed"), what="IbmCancelFailed")
    assert "could not cancel" in events[0]["message"]


async def test_deleting_a_job_before_it_reached_ibm_needs_no_cancel(cluster: Cluster) -> None:
    await cluster.create("QiskitBackend", "qiskitbackends", "sherbrooke", SHERBROOKE, READY_BACKEND)
    await cluster.controller().start()
    await cluster.create_job("bell", bell_spec(backend={"ref": "sherbrooke"}))
    await cluster.workflow_of("bell")
    assert await _finalizers(cluster, "bell") == [FINALIZER]
    await cluster.delete_job("bell")
    assert await eventually(lambda: _gone(cluster, "bell"), what="the job deleted at once")
    assert _cancels(await cluster.workflows()) == []


async def test_suspending_a_job_during_ibm_wait_cancels_at_ibm_once(cluster: Cluster) -> None:
    await cluster.controller().start()
    name = await _waiting_at_ibm(cluster)
    await cluster.patch_job("bell", {"spec": {"suspend": True}})
    await eventually(lambda: _suspended(cluster, name), what="the Workflow suspended")
    cancel = await eventually(lambda: _one_cancel(cluster), what="the cancel Workflow")
    # The identity is the generation the Workflow was made for (1), not the job's now (2).
    assert cancel["metadata"]["name"].startswith("bell-cancel-1-")
    assert json.loads(_task_parameters(cancel, "ibm-cancel")["identity"])["generation"] == 1
    await cluster.patch_job("bell", {"spec": {"suspend": False}})
    await cluster.patch_job("bell", {"spec": {"suspend": True}})
    await asyncio.sleep(0.5)
    assert len(_cancels(await cluster.workflows())) == 1
    assert len(await _events(cluster, "bell", "IbmCancelRequested") or []) == 1


async def _suspended(cluster: Cluster, name: str) -> bool:
    workflow = await cluster.workflow(name)
    return bool(workflow and workflow["spec"].get("suspend"))


async def _one_cancel(cluster: Cluster) -> dict[str, Any] | None:
    found = _cancels(await cluster.workflows())
    return found[0] if found else None


async def _gone(cluster: Cluster, name: str) -> bool:
    return await cluster.api.get(cluster.job_path(name)) is None


async def _events(cluster: Cluster, name: str, reason: str) -> list[dict[str, Any]] | None:
    found = [event for event in await cluster.events(name) if event["reason"] == reason]
    return found or None


def test_service_fake_reads_as_argo_writes() -> None:
    """The cancel Workflow's node tree: the DAG root, the task's Retry node and its Pod attempt."""
    import yaml

    from qiskit_argo import workflows
    from qiskit_argo.api import QiskitJob
    from tests.controller.cluster import REPO

    document = yaml.safe_load((REPO / "examples" / "bell.yaml").read_text())
    document["metadata"].update({"namespace": "lab", "uid": "u-1", "generation": 1})
    job = QiskitJob.model_validate(document)
    manifest = workflows.cancel_workflow(job, {"name": "sherbrooke", "device": "fake_sherbrooke", "fake": True})
    fake = ServiceFake(manifest)
    fake.start()
    fake.succeed({"cancelled": {"cancelled": ["x"]}})
    root = fake.nodes[fake.name]
    assert (root["type"], root["phase"]) == ("DAG", "Succeeded")
    task = fake.task
    assert task is not None and (task["type"], task["displayName"]) == ("Retry", "ibm-cancel")
    assert fake.attempts()[0]["displayName"] == "ibm-cancel(0)"
    assert fake.status["outputs"]["parameters"] == [{"name": "cancelled", "value": '{"cancelled": ["x"]}'}]
