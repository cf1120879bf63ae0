"""The controller end to end: the real kopf operator against a Kubernetes API over HTTP.

Every scenario runs against kmock's strict emulator and, when ``KUBEBUILDER_ASSETS`` points at
``kube-apiserver`` + ``etcd``, against a real API server (see ``conftest.py``). The test plays the
user (kubectl) and Argo (``cluster.Argo`` writes Workflow status as Argo does); nothing else
touches the objects. Waits poll with timeouts; nothing sleeps a fixed time except where the
point is that nothing happens.
"""

from __future__ import annotations

import asyncio
from typing import Any

import kmock
import pytest

from qiskit_argo import workflows
from qiskit_argo.api import QiskitJob
from qiskit_argo.naming import LABEL_JOB, LABEL_JOB_UID, LABEL_MANAGED_BY, workflow_name
from tests.argo_fake import BACKEND, METRICS, SUMMARY, ArgoFake
from tests.controller.cluster import Argo, Cluster, bell_spec, eventually

pytestmark = pytest.mark.timeout(60)


def conditions(job: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in (job.get("status") or {}).get("conditions", [])}


async def start_and_get_workflow(cluster: Cluster, name: str = "bell", **spec: Any) -> tuple[dict[str, Any], Argo]:
    await cluster.create_job(name, bell_spec(**spec))
    workflow = await cluster.workflow_of(name)
    return workflow, Argo(cluster, workflow["metadata"]["name"])


# --------------------------------------------------------------------------- create


async def test_create_makes_one_workflow_owned_by_the_job(cluster: Cluster) -> None:
    await cluster.controller().start()
    job = await cluster.create_job("bell")
    uid = job["metadata"]["uid"]
    workflow = await cluster.workflow_of("bell")

    assert workflow["metadata"]["name"] == workflow_name("bell", uid, cluster.namespace)
    owner = workflow["metadata"]["ownerReferences"]
    assert owner == [
        {
            "apiVersion": "qiskit-argo.io/v1alpha1",
            "kind": "QiskitJob",
            "name": "bell",
            "uid": uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    labels = workflow["metadata"]["labels"]
    assert (labels[LABEL_JOB], labels[LABEL_JOB_UID], labels[LABEL_MANAGED_BY]) == ("bell", uid, "qiskit-argo")
    assert "workflows.argoproj.io/title" in workflow["metadata"]["annotations"]

    job = await cluster.phase("bell", "Pending")
    status = job["status"]
    assert status["workflowName"] == workflow["metadata"]["name"]
    assert status["observedGeneration"] == 1
    assert conditions(job)["Succeeded"][0] == "Unknown"
    assert len(await cluster.workflows()) == 1
    reasons = await eventually(
        lambda: _reasons(cluster, "bell", {"WorkflowCreated", "Pending"}), what="creation Events"
    )
    assert {"WorkflowCreated", "Pending"} <= reasons


async def _reasons(cluster: Cluster, name: str, wanted: set[str]) -> set[str] | None:
    reasons = {event["reason"] for event in await cluster.events(name)}
    return reasons if wanted <= reasons else None


# --------------------------------------------------------------------------- the Workflow runs


async def test_workflow_progress_reaches_the_job_status(cluster: Cluster) -> None:
    await cluster.controller().start()
    workflow, argo = await start_and_get_workflow(cluster)

    await argo(ArgoFake.start)
    await argo(lambda a: a.run_step("validate"))
    job = await cluster.phase("bell", "Validating")
    assert conditions(job)["Running"] == ("True", "Validating")

    await argo(lambda a: a.succeed_step("validate", {"metrics": METRICS}))
    await argo(lambda a: a.run_step("schedule"))
    job = await cluster.phase("bell", "Scheduling")
    assert job["status"]["circuit"]["numQubits"] == 2
    assert conditions(job)["Validated"] == ("True", "CircuitValid")

    await argo(lambda a: a.succeed_step("schedule", {"backend": BACKEND}))
    await argo(lambda a: a.run_step("execute-aer"))
    job = await cluster.phase("bell", "Running")
    assert job["status"]["backend"] == BACKEND
    assert conditions(job)["Scheduled"] == ("True", "BackendChosen")

    await argo(lambda a: a.succeed_step("execute-aer", {"summary": SUMMARY}))
    await argo(lambda a: a.run_step("store-results"))
    await argo(lambda a: a.succeed_step("store-results", {"summary": SUMMARY}))
    await argo(lambda a: a.finish("Succeeded"))
    job = await cluster.phase("bell", "Succeeded")

    status = job["status"]
    assert status["result"]["topCounts"] == SUMMARY["topCounts"]
    assert status["resultLocation"]["artifact"] == "results"
    assert status["resultLocation"]["key"].endswith("/results.tgz")
    assert status["startTime"] and status["completionTime"]
    assert [step["phase"] for step in status["steps"]] == ["Succeeded"] * 4
    assert conditions(job)["Succeeded"] == ("True", "Succeeded")  # kubectl wait --for=condition=Succeeded
    assert conditions(job)["Running"][0] == "False"
    wanted = {"WorkflowCreated", "Pending", "Validating", "Scheduling", "Running", "Succeeded"}
    assert wanted <= await eventually(lambda: _reasons(cluster, "bell", wanted), what="transition Events")


def _invalid_circuit(argo: ArgoFake) -> None:
    argo.start()
    argo.run_step("validate")
    argo.fail_step("validate", "InvalidCircuit: line 3: bad")


def _deadline(argo: ArgoFake) -> None:
    argo.start()
    argo.run_step("validate")
    argo.exceed_deadline()


def _template_missing(argo: ArgoFake) -> None:
    argo.error('invalid spec: workflowtemplates.argoproj.io "qiskit-job-v1" not found')


FAILURES = [
    ("invalid-circuit", _invalid_circuit, "InvalidCircuit"),
    ("deadline", _deadline, "DeadlineExceeded"),
    ("error", _template_missing, "TemplateNotFound"),
]


@pytest.mark.parametrize(("drive", "reason"), [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES])
async def test_failed_and_error_workflows_give_a_reason(cluster: Cluster, drive: Any, reason: str) -> None:
    await cluster.controller().start()
    _, argo = await start_and_get_workflow(cluster)
    await argo(drive)
    job = await cluster.phase("bell", "Failed")
    assert job["status"]["reason"] == reason
    assert conditions(job)["Failed"] == ("True", reason)
    assert conditions(job)["Succeeded"] == ("False", reason)
    assert job["status"]["completionTime"]
    events = await eventually(lambda: _warnings(cluster, "bell"), what="a Warning Event")
    assert events[0]["reason"] == reason


async def _warnings(cluster: Cluster, name: str) -> list[dict[str, Any]] | None:
    return [e for e in await cluster.events(name) if e.get("type") == "Warning"] or None


# --------------------------------------------------------------------------- by hand


async def test_workflow_deleted_by_hand_fails_the_job(cluster: Cluster) -> None:
    await cluster.controller().start()
    workflow, argo = await start_and_get_workflow(cluster)
    await argo(lambda a: (a.start(), a.run_step("validate")))
    await cluster.phase("bell", "Validating")
    await cluster.api.ok("DELETE", cluster.workflow_path(workflow["metadata"]["name"]))
    job = await cluster.phase("bell", "Failed")
    assert job["status"]["reason"] == "WorkflowDeleted"
    assert workflow["metadata"]["name"] in job["status"]["message"]
    await asyncio.sleep(0.3)  # and nothing recreates it
    assert await cluster.workflows() == []


async def test_finished_workflow_deleted_by_ttl_keeps_the_outcome(cluster: Cluster) -> None:
    await cluster.controller().start()
    workflow, argo = await start_and_get_workflow(cluster)
    await argo(lambda a: a.succeed_all())
    await cluster.phase("bell", "Succeeded")
    await cluster.api.ok("DELETE", cluster.workflow_path(workflow["metadata"]["name"]))
    await asyncio.sleep(0.3)
    assert (await cluster.job("bell"))["status"]["phase"] == "Succeeded"


async def test_suspend_and_resume(cluster: Cluster) -> None:
    await cluster.controller().start()
    workflow, argo = await start_and_get_workflow(cluster)
    name = workflow["metadata"]["name"]
    await argo(lambda a: (a.start(), a.run_step("validate")))
    await cluster.phase("bell", "Validating")

    await cluster.patch_job("bell", {"spec": {"suspend": True}})
    job = await cluster.phase("bell", "Suspended")
    assert (await cluster.workflow(name))["spec"]["suspend"] is True  # type: ignore[index]
    assert conditions(job)["Suspended"] == ("True", "Suspended")
    assert conditions(job)["Running"][0] == "False"

    await cluster.patch_job("bell", {"spec": {"suspend": False}})
    job = await cluster.phase("bell", "Validating")
    assert "suspend" not in (await cluster.workflow(name))["spec"]  # type: ignore[index]
    assert conditions(job)["Suspended"][0] == "False"
    reasons = await eventually(lambda: _reasons(cluster, "bell", {"Suspended", "Resumed"}), what="suspend Events")
    assert {"Suspended", "Resumed"} <= reasons


async def test_job_created_suspended_gets_a_suspended_workflow(cluster: Cluster) -> None:
    await cluster.controller().start()
    workflow, argo = await start_and_get_workflow(cluster, suspend=True)
    assert workflow["spec"]["suspend"] is True
    await argo(ArgoFake.start)  # Argo starts it and, suspended, runs nothing
    await cluster.phase("bell", "Suspended")


# --------------------------------------------------------------------------- invalid specs


async def test_invalid_job_fails_once_without_a_retry_storm(cluster: Cluster) -> None:
    await cluster.controller().start()
    # The CRD schema accepts it (no CEL rule ties observables to the estimator); the models do not.
    spec = bell_spec(primitive="estimator")
    spec.pop("shots")
    await cluster.create_job("est", spec)
    job = await cluster.phase("est", "Failed")
    assert job["status"]["reason"] == "InvalidSpec"
    assert "observables" in job["status"]["message"]
    assert conditions(job)["Validated"] == ("False", "InvalidSpec")
    job = await eventually(lambda: _handled(cluster, "est"), what="kopf to record the job as handled")
    await asyncio.sleep(1.0)  # the point: nothing happens any more
    again = await cluster.job("est")
    assert again["metadata"]["resourceVersion"] == job["metadata"]["resourceVersion"]
    assert await cluster.workflows() == []
    if cluster.emulator is not None:
        status_writes = [r for r in cluster.emulator._requests if r.method == "PATCH" and r.subresource == "status"]
        assert len(status_writes) == 1

    # Fixing the spec (a new generation) lets it run.
    await cluster.patch_job("est", {"spec": {"observables": [{"ZZ": 1}]}})
    await cluster.workflow_of("est")
    await cluster.phase("est", "Pending")


async def _handled(cluster: Cluster, name: str) -> dict[str, Any] | None:
    job = await cluster.job(name)
    annotations = job["metadata"].get("annotations") or {}
    return job if "qiskit-argo.io/last-handled-configuration" in annotations else None


# --------------------------------------------------------------------------- restarts


async def test_restart_between_create_and_status_copy(cluster: Cluster) -> None:
    first = await cluster.controller().start()
    await cluster.create_job("bell")
    workflow = await cluster.workflow_of("bell")
    await first.kill()  # possibly before it wrote any status: the point is it must not matter
    argo = Argo(cluster, workflow["metadata"]["name"])
    await argo(lambda a: a.succeed_all())  # Argo finishes while no controller runs

    await cluster.controller().start()
    job = await cluster.phase("bell", "Succeeded")
    assert job["status"]["workflowName"] == workflow["metadata"]["name"]
    assert job["status"]["result"]["topCounts"] == SUMMARY["topCounts"]
    assert len(await cluster.workflows()) == 1


async def test_controller_restarts_keep_one_workflow_and_every_transition(cluster: Cluster) -> None:
    controller = await cluster.controller().start()
    workflow, argo = await start_and_get_workflow(cluster)
    await argo(lambda a: (a.start(), a.run_step("validate")))
    await cluster.phase("bell", "Validating")
    await controller.stop()
    await argo(lambda a: (a.succeed_step("validate", {"metrics": METRICS}), a.run_step("schedule")))
    controller = await cluster.controller().start()
    await cluster.phase("bell", "Scheduling")
    await controller.kill()
    await argo(lambda a: (a.succeed_step("schedule", {"backend": BACKEND}), a.run_step("execute-aer")))
    await cluster.controller().start()
    job = await cluster.phase("bell", "Running")
    assert job["status"]["circuit"]["numQubits"] == 2 and job["status"]["backend"]["name"] == "aer_simulator"
    assert len(await cluster.workflows()) == 1


async def test_a_foreign_workflow_with_the_name_fails_the_job_clearly(cluster: Cluster) -> None:
    job = await cluster.create_job("bell")  # no controller yet
    name = workflow_name("bell", job["metadata"]["uid"], cluster.namespace)
    foreign = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": name, "namespace": cluster.namespace, "labels": {"team": "other"}},
        "spec": {"entrypoint": "main", "templates": [{"name": "main", "container": {"image": "busybox"}}]},
    }
    await cluster.api.ok("POST", cluster.workflow_path(), foreign)
    await cluster.controller().start()
    job = await cluster.phase("bell", "Failed")
    assert job["status"]["reason"] == "WorkflowConflict"
    assert name in job["status"]["message"]
    workflows = await cluster.workflows()
    assert len(workflows) == 1 and workflows[0]["metadata"]["labels"] == {"team": "other"}


async def test_namespace_flag_limits_what_is_served(cluster: Cluster) -> None:
    await cluster.controller(namespaces=(cluster.namespace,)).start()
    await cluster.create_job("bell")
    await cluster.workflow_of("bell")
    if cluster.kind == "envtest":
        pytest.skip("a second namespace is created only in the emulator")
    await cluster.create_job("elsewhere", namespace="not-served")
    await asyncio.sleep(0.5)
    assert await cluster.workflows(namespace="not-served") == []


# --------------------------------------------------------------------------- conflicts, adoption, peering

JOBS = kmock.resource("qiskit-argo.io", "v1alpha1", "qiskitjobs")
WORKFLOWS = kmock.resource("argoproj.io", "v1alpha1", "workflows")


def _status_error(code: int, reason: str, message: str) -> kmock.Response:
    body = {"apiVersion": "v1", "kind": "Status", "status": "Failure", "code": code, "reason": reason}
    return kmock.Response(status=code, payload={**body, "message": message, "details": {}})


def _emulator(cluster: Cluster) -> Any:
    if cluster.emulator is None:
        pytest.skip("injects API failures: emulator only")
    return cluster.emulator


async def test_status_conflicts_are_retried(cluster: Cluster) -> None:
    emulator = _emulator(cluster)
    refused = []

    def conflict(request: kmock.Request) -> Any:
        if len(refused) < 3:
            refused.append(request)
            return _status_error(409, "Conflict", "the object has been modified; please apply your changes")
        return NotImplemented  # from now on the emulator answers

    emulator[kmock.method.PATCH, JOBS, kmock.subresource("status")] << conflict
    await cluster.controller().start()
    _, argo = await start_and_get_workflow(cluster)
    await argo(lambda a: a.succeed_all())
    job = await cluster.phase("bell", "Succeeded")
    assert len(refused) == 3
    assert job["status"]["result"]["topCounts"] == SUMMARY["topCounts"]


async def test_a_busy_job_still_gets_every_status(cluster: Cluster) -> None:
    """Someone keeps changing the job (labels) while it runs: stale resourceVersions, real 409s."""
    await cluster.controller().start()
    _, argo = await start_and_get_workflow(cluster)
    stop = asyncio.Event()

    async def churn() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            await cluster.patch_job("bell", {"metadata": {"labels": {"touched": str(n)}}})
            await asyncio.sleep(0.005)

    task = asyncio.create_task(churn())
    try:
        await argo(ArgoFake.start)
        await argo(lambda a: a.run_step("validate"))
        await cluster.phase("bell", "Validating")
        await argo(lambda a: a.succeed_all())
        job = await cluster.phase("bell", "Succeeded")
    finally:
        stop.set()
        await task
    assert job["status"]["circuit"]["numQubits"] == 2 and job["status"]["backend"]["name"] == "aer_simulator"


async def test_adopts_its_own_workflow_on_already_exists(cluster: Cluster) -> None:
    """The Workflow exists but the controller does not see it (a create raced it): 409 → adopt."""
    emulator = _emulator(cluster)
    job = await cluster.create_job("bell")
    own = workflows.build(QiskitJob.model_validate(job))
    created = await cluster.api.ok("POST", cluster.workflow_path(), own)
    hidden = []

    def not_found(request: kmock.Request) -> Any:
        if not hidden:
            hidden.append(request)
            return _status_error(404, "NotFound", "not found")
        return NotImplemented

    emulator[kmock.method.GET, WORKFLOWS, kmock.name(own["metadata"]["name"])] << not_found
    await cluster.controller().start()

    async def posts() -> list[Any] | None:
        found = [r for r in emulator._requests if r.method == "POST" and r.resource == WORKFLOWS]
        return found if len(found) == 2 else None  # ours, then the controller's (answered 409)

    await eventually(posts, what="the controller's create")
    job = await cluster.phase("bell", "Pending")
    assert job["status"]["workflowName"] == own["metadata"]["name"]
    workflows_now = await cluster.workflows()
    assert [w["metadata"]["uid"] for w in workflows_now] == [created["metadata"]["uid"]]


async def test_adopts_a_workflow_created_before_a_crash(cluster: Cluster) -> None:
    """An earlier controller created the Workflow and died before writing anything to the job."""
    job = await cluster.create_job("bell")
    own = workflows.build(QiskitJob.model_validate(job))
    created = await cluster.api.ok("POST", cluster.workflow_path(), own)
    await cluster.controller().start()
    job = await cluster.phase("bell", "Pending")
    assert job["status"]["workflowName"] == own["metadata"]["name"]
    assert [w["metadata"]["uid"] for w in await cluster.workflows()] == [created["metadata"]["uid"]]


async def test_killed_exactly_between_create_and_status_copy(cluster: Cluster) -> None:
    emulator = _emulator(cluster)
    entered, release = asyncio.Event(), asyncio.Event()
    seen = []

    async def hang(request: kmock.Request) -> Any:
        seen.append(request)
        if len(seen) == 1:
            entered.set()  # the Workflow exists; its status copy is in flight...
            await release.wait()
            return _status_error(503, "ServiceUnavailable", "the request was cut")
        return NotImplemented

    emulator[kmock.method.PATCH, JOBS, kmock.subresource("status")] << hang
    first = await cluster.controller().start()
    await cluster.create_job("bell")
    await asyncio.wait_for(entered.wait(), 10)
    await first.kill()  # ...when the controller dies
    release.set()
    assert len(await cluster.workflows()) == 1
    assert "status" not in await cluster.job("bell")

    await cluster.controller().start()
    job = await cluster.phase("bell", "Pending")
    workflow = await cluster.workflow_of("bell")
    assert job["status"]["workflowName"] == workflow["metadata"]["name"]
    await Argo(cluster, workflow["metadata"]["name"])(lambda a: a.succeed_all())
    await cluster.phase("bell", "Succeeded")
    posts = [r for r in emulator._requests if r.method == "POST" and r.resource == WORKFLOWS]
    assert len(posts) == 1, "the restarted controller found the Workflow and created none"


async def test_peering_lets_one_replica_act(cluster: Cluster) -> None:
    status, _ = await cluster.api.call(
        "POST", "/apis/kopf.dev/v1/clusterkopfpeerings", {"metadata": {"name": "qiskit-argo"}}
    )
    assert status in (201, 409)
    high = await cluster.controller(standalone=False, priority=200).start()

    async def high_is_registered() -> bool:
        peering = await cluster.api.get("/apis/kopf.dev/v1/clusterkopfpeerings/qiskit-argo")
        return any(peer.get("priority") == 200 for peer in ((peering or {}).get("status") or {}).values())

    # Replicas starting at the same instant may both act for a moment until they see each other
    # (harmless here: names are deterministic and writes are guarded); the test wants the steady state.
    await eventually(high_is_registered, what="the first replica's peering record")
    low = await cluster.controller(standalone=False, priority=100).start()
    _, argo = await start_and_get_workflow(cluster)
    await cluster.phase("bell", "Pending")
    assert high.op is not None and low.op is not None
    assert high.op.reconciler.book.counts()["Pending"] == 1
    assert sum(low.op.reconciler.book.counts().values()) == 0, "the standby replica did nothing"

    await high.stop()  # a clean shutdown hands over at once
    await argo(lambda a: a.succeed_all())
    await cluster.phase("bell", "Succeeded", timeout=20)
    assert low.op.reconciler.book.counts()["Succeeded"] == 1
    assert len(await cluster.workflows()) == 1
