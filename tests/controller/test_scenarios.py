"""The controller end to end: the real kopf operator against a Kubernetes API over HTTP.

Every scenario runs against kmock's strict emulator and, when ``KUBEBUILDER_ASSETS`` points at
``kube-apiserver`` + ``etcd``, against a real API server (see ``conftest.py``). The test plays the
user (kubectl) and Argo (``cluster.Argo`` writes Workflow status as Argo does); nothing else
touches the objects. Waits poll with timeouts; nothing sleeps a fixed time except where the
point is that nothing happens.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import kmock
import pytest

from qiskit_argo import workflows
from qiskit_argo.api import QiskitJob
from qiskit_argo.naming import LABEL_JOB, LABEL_JOB_UID, LABEL_MANAGED_BY, workflow_name
from qiskit_argo.steps import STEPS
from tests.argo_fake import BACKEND, METRICS, SUMMARY, ArgoFake
from tests.controller.cluster import MERGE, Argo, Cluster, bell_spec, big_circuit, eventually
from tests.controller.emulator import TOTAL_ANNOTATION_SIZE_LIMIT

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
    assert status["progress"] == "1/1"  # Argo's progress of the execute step's one shard, completed
    assert status["steps"][2]["progress"] == "1/1"
    assert status["result"]["topCounts"] == SUMMARY["topCounts"]
    assert status["resultLocation"]["artifact"] == "results"
    assert status["resultLocation"]["key"].endswith("/results.tgz")
    assert status["startTime"] and status["completionTime"]
    phases = {step["name"]: step["phase"] for step in status["steps"]}
    assert phases == {
        "validate": "Succeeded",
        "schedule": "Succeeded",
        "execute-aer": "Succeeded",
        "execute-aer-cached": "Skipped",  # a fanned-out alternative whose when is false never expands
        "execute-aer-gpu": "Skipped",
        "execute-aer-gpu-cached": "Skipped",
        "ibm-submit": "Skipped",  # its when is false: the schedule step chose aer
        "ibm-wait": "Omitted",  # its depends (ibm-submit.Succeeded) is false
        "store-results": "Succeeded",
    }
    assert conditions(job)["Succeeded"] == ("True", "Succeeded")  # kubectl wait --for=condition=Succeeded
    assert conditions(job)["Running"][0] == "False"
    wanted = {"WorkflowCreated", "Pending", "Validating", "Scheduling", "Running", "Succeeded"}
    assert wanted <= await eventually(lambda: _reasons(cluster, "bell", wanted), what="transition Events")


def _running(argo: ArgoFake, step: str) -> None:
    """Argo has run every step before ``step`` and started ``step``."""
    argo.start()
    for earlier in list(STEPS)[: list(STEPS).index(step)]:
        argo.run_step(earlier)
        argo.succeed_step(earlier)
    argo.run_step(step)


def _step_fails(step: str, termination: str | None, **how: Any) -> Any:
    def drive(argo: ArgoFake) -> None:
        _running(argo, step)
        argo.fail_step(step, termination, **how)

    return drive


def _deadline(argo: ArgoFake) -> None:
    _running(argo, "execute-aer")
    argo.exceed_deadline()


def _stopped(argo: ArgoFake) -> None:
    _running(argo, "execute-aer")
    argo.shutdown("Stop")


#: What real Argo writes when a step fails, in both node message formats, and the reason a
#: person then reads in status.reason, the Failed condition and the Warning Event.
FAILURES = [
    (
        "invalid-circuit-v3.7",
        "4.1",
        _step_fails("validate", "InvalidCircuit: line 6: index 5 is out-of-range for register 'q'"),
        "InvalidCircuit",
    ),
    (
        "invalid-circuit-v3.6",
        "3.6",
        _step_fails("validate", "InvalidCircuit: line 6: index 5 is out-of-range for register 'q'"),
        "InvalidCircuit",
    ),
    ("limit-exceeded-v3.7", "4.1", _step_fails("validate", "LimitExceeded: 40 qubits > 32"), "LimitExceeded"),
    ("invalid-spec-v3.6", "3.6", _step_fails("validate", "InvalidSpec: spec.shots: must be >= 1"), "InvalidSpec"),
    (
        "execution-failed-after-retries-v3.7",
        "4.1",
        _step_fails("execute-aer", "ExecutionFailed: Qiskit Aer ran out of memory", exit_code=1, retried=2),
        "ExecutionFailed",
    ),
    (
        "missing-artifact-v3.6",
        "3.6",
        _step_fails("schedule", "MissingArtifact: cannot read the request artifact", exit_code=1, retried=2),
        "MissingArtifact",
    ),
    ("oom", "4.1", _step_fails("execute-aer", None, reason="OOMKilled", exit_code=137, retried=2), "OutOfMemory"),
    ("deadline", "4.1", _deadline, "DeadlineExceeded"),
    ("stopped", "4.1", _stopped, "WorkflowStopped"),
    ("template-missing", "4.1", ArgoFake.template_missing, "TemplateNotFound"),
]


@pytest.mark.parametrize(("version", "drive", "reason"), [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES])
async def test_failed_workflows_give_the_steps_reason(cluster: Cluster, version: str, drive: Any, reason: str) -> None:
    await cluster.controller().start()
    job = await cluster.create_job("bell")
    workflow = await cluster.workflow_of("bell")
    await cluster.phase("bell", "Pending")
    await Argo(cluster, workflow["metadata"]["name"], argo_version=version)(drive)
    job = await cluster.phase("bell", "Failed")
    assert job["status"]["reason"] == reason, job["status"]["message"]
    assert conditions(job)["Failed"] == ("True", reason)
    assert conditions(job)["Succeeded"] == ("False", reason)
    assert job["status"]["completionTime"]
    events = await eventually(lambda: _warnings(cluster, "bell"), what="a Warning Event")
    assert [event["reason"] for event in events] == [reason]


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
    assert job["status"]["circuit"]["numQubits"] == 2 and job["status"]["backend"]["name"] == BACKEND["name"]
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
    refused: list[kmock.Request] = []

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
    assert job["status"]["circuit"]["numQubits"] == 2 and job["status"]["backend"]["name"] == BACKEND["name"]


async def test_adopts_its_own_workflow_on_already_exists(cluster: Cluster) -> None:
    """The Workflow exists but the controller does not see it (a create raced it): 409 → adopt."""
    emulator = _emulator(cluster)
    job = await cluster.create_job("bell")
    own = workflows.build(QiskitJob.model_validate(job))
    created = await cluster.api.ok("POST", cluster.workflow_path(), own)
    hidden: list[kmock.Request] = []

    def not_found(request: kmock.Request) -> Any:
        if not hidden:
            hidden.append(request)
            return _status_error(404, "NotFound", "not found")
        return NotImplemented

    listed: list[kmock.Request] = []

    def unseen(request: kmock.Request) -> Any:
        # The controller's first list of Workflows misses it too (it was created a moment later).
        if request.name is None and request.params.get("watch") not in ("true", "1") and not listed:
            listed.append(request)
            body = {"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowList", "items": []}
            return kmock.Response(payload={**body, "metadata": {"resourceVersion": str(emulator._rv)}})
        return NotImplemented

    emulator[kmock.method.GET, WORKFLOWS, kmock.name(own["metadata"]["name"])] << not_found
    emulator[kmock.method.GET, WORKFLOWS] << unseen
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
    assert high.op.reconciler("QiskitJob").book.counts()["Pending"] == 1
    assert sum(low.op.reconciler("QiskitJob").book.counts().values()) == 0, "the standby replica did nothing"

    await high.stop()  # a clean shutdown hands over at once
    await argo(lambda a: a.succeed_all())
    await cluster.phase("bell", "Succeeded", timeout=20)
    assert low.op.reconciler("QiskitJob").book.counts()["Succeeded"] == 1
    assert len(await cluster.workflows()) == 1


# --------------------------------------------------------------------------- races, limits, restarts


def _controller_writes(emulator: Any, since: int = 0, *, refused: bool = False) -> list[Any]:
    """What the controller wrote (answered, or with ``refused`` refused) since ``since``."""
    return [w for w in emulator.writes[since:] if w.who == "controller" and (w.status >= 400) == refused]


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


def _statuses(writes: list[Any], name: str, start: dict[str, Any]) -> list[dict[str, Any]]:
    """Every whole status the controller's successful status patches left, in order."""
    current, out = start, []
    for write in writes:
        if write.resource == "qiskitjobs/status" and write.name == name and write.status < 400:
            current = _merge(current, write.body.get("status") or {})
            out.append(current)
    return out


def _suspends(writes: list[Any]) -> list[Any]:
    return [w.body["spec"]["suspend"] for w in writes if w.resource == "workflows" and w.method == "PATCH"]


async def _workflow_suspend(cluster: Cluster, name: str, wanted: bool) -> bool:
    workflow = await cluster.workflow(name)
    return workflow is not None and bool(workflow["spec"].get("suspend")) == wanted


async def _phase_events(cluster: Cluster, name: str, reason: str) -> list[dict[str, Any]]:
    """Phase-transition Events (not the Suspended/Resumed Workflow ones) with this reason."""
    return [
        e
        for e in await cluster.events(name)
        if e["reason"] == reason and not e.get("message", "").startswith(("Suspended Workflow", "Resumed Workflow"))
    ]


async def test_the_api_refuses_annotations_over_256_kib(cluster: Cluster) -> None:
    """As the API server does: a copy of a 244 KiB circuit's spec in an annotation (what kopf's
    diff base would be) is refused, so a controller that wrote one would fail these scenarios."""
    spec = bell_spec(circuit={"openqasm": big_circuit()})
    copy_of_spec = {"qiskit-argo.io/last-handled-configuration": json.dumps({"spec": spec})}
    meta: dict[str, Any] = {"name": "big", "namespace": cluster.namespace, "annotations": copy_of_spec}
    body = {"apiVersion": "qiskit-argo.io/v1alpha1", "kind": "QiskitJob", "metadata": meta, "spec": spec}
    status, answer = await cluster.api.call("POST", cluster.job_path(), body)
    assert status == 422 and "metadata.annotations" in answer["message"]
    meta.pop("annotations")
    await cluster.api.ok("POST", cluster.job_path(), body)  # the job itself is fine (256 KiB cap)
    status, answer = await cluster.api.call(
        "PATCH", cluster.job_path("big"), {"metadata": {"annotations": copy_of_spec}}, content_type=MERGE
    )
    assert status == 422 and "metadata.annotations" in answer["message"]
    at_limit = {"a": "x" * (TOTAL_ANNOTATION_SIZE_LIMIT - 1)}
    await cluster.patch_job("big", {"metadata": {"annotations": at_limit}})


async def test_a_job_with_a_244_kib_circuit_suspends_and_resumes_at_once(cluster: Cluster) -> None:
    """kopf keeps no copy of the spec on the job: nothing the controller writes is refused, every
    flip reaches the Workflow (no backoff growing with each refused patch)."""
    emulator = _emulator(cluster)
    await cluster.controller().start()
    workflow, argo = await start_and_get_workflow(cluster, circuit={"openqasm": big_circuit()})
    name = workflow["metadata"]["name"]
    await argo(lambda a: (a.start(), a.run_step("validate")))
    await cluster.phase("bell", "Validating")
    for flip in (True, False, True, False, True):
        await cluster.patch_job("bell", {"spec": {"suspend": flip}})

        async def reached(wanted: bool = flip) -> bool:
            return await _workflow_suspend(cluster, name, wanted)

        await eventually(reached, what=f"suspend={flip}")
        await cluster.phase("bell", "Suspended" if flip else "Validating")
    writes = _controller_writes(emulator)
    assert _controller_writes(emulator, refused=True) == []
    assert [w for w in writes if w.resource == "qiskitjobs"] == [], "the controller never writes the job itself"
    assert _suspends(writes) == [True, None, True, None, True]
    annotations = (await cluster.job("bell"))["metadata"].get("annotations") or {}
    assert not [key for key in annotations if key.startswith(("qiskit-argo.io/", "kopf.zalando.org/"))]


async def test_a_restart_over_existing_jobs_writes_nothing(cluster: Cluster) -> None:
    emulator = _emulator(cluster)
    first = await cluster.controller().start()
    drives: dict[str, Any] = {
        "done": ArgoFake.succeed_all,
        "failed": _step_fails("validate", "InvalidCircuit: line 6: bad"),
        "running": lambda a: _running(a, "execute-aer"),
        "suspended": None,
        "pending": None,
    }
    for name in drives:
        await cluster.create_job(name, bell_spec(suspend=name == "suspended"))
    wanted = {"done": "Succeeded", "failed": "Failed", "running": "Running", "suspended": "Suspended"}
    for name, drive in drives.items():
        workflow = await cluster.workflow_of(name)
        await Argo(cluster, workflow["metadata"]["name"])(drive or ArgoFake.start)
    for name in drives:
        await cluster.phase(name, wanted.get(name, "Validating"))
    await asyncio.sleep(0.3)
    steady = len(emulator.writes)
    await asyncio.sleep(0.3)  # the point: at steady state nothing is written
    assert _controller_writes(emulator, steady) == []
    assert [w for w in _controller_writes(emulator) if w.resource == "qiskitjobs"] == [], "no bookkeeping on jobs"
    await first.stop()

    mark = len(emulator.writes)
    second = await cluster.controller().start()
    assert second.op is not None

    async def seen_all() -> bool:
        return sum(second.op.reconciler("QiskitJob").book.counts().values()) == len(drives)  # type: ignore[union-attr]

    await eventually(seen_all, what="the restarted controller to go through every job")
    await asyncio.sleep(0.3)  # the point: nothing is written
    assert _controller_writes(emulator, mark) == []


async def test_a_stale_workflow_event_never_flips_the_phase(cluster: Cluster) -> None:
    """Argo writes the Workflow while the controller suspends it: the older Workflow's event is
    handled after the job already shows Suspended, and must not move it back (nor add Events)."""
    emulator = _emulator(cluster)
    await cluster.controller().start()
    workflow, argo = await start_and_get_workflow(cluster)
    name = workflow["metadata"]["name"]
    await argo(lambda a: (a.start(), a.run_step("validate")))
    await cluster.phase("bell", "Validating")
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow_suspend(request: kmock.Request) -> Any:
        if not entered.is_set():
            entered.set()
            await release.wait()
        return NotImplemented  # then the emulator applies it

    emulator[kmock.method.PATCH, WORKFLOWS] << slow_suspend
    before = await cluster.job("bell")
    mark = len(emulator.writes)
    await cluster.patch_job("bell", {"spec": {"suspend": True}})
    await asyncio.wait_for(entered.wait(), 10)
    await argo(lambda a: (a.succeed_step("validate"), a.run_step("schedule")))  # its event waits for the job
    release.set()
    await cluster.phase("bell", "Suspended")
    await asyncio.sleep(0.5)  # the late event has been handled by now
    phases = [s["phase"] for s in _statuses(_controller_writes(emulator, mark), "bell", before["status"])]
    assert phases and phases[0] == "Suspended" and set(phases) == {"Suspended"}, phases
    assert (await cluster.job("bell"))["status"]["phase"] == "Suspended"
    assert await _workflow_suspend(cluster, name, True)
    assert len(await _phase_events(cluster, "bell", "Suspended")) == 1
    assert len(await _phase_events(cluster, "bell", "Validating")) == 1


async def test_a_conflict_rereads_the_job_and_its_workflow(cluster: Cluster) -> None:
    """The user suspends the job while the controller writes a status: the 409 re-reads both, so no
    status claims the new generation while showing the Workflow from before the suspend."""
    emulator = _emulator(cluster)
    await cluster.controller().start()
    workflow, argo = await start_and_get_workflow(cluster)
    name = workflow["metadata"]["name"]
    await argo(lambda a: (a.start(), a.run_step("validate")))
    await cluster.phase("bell", "Validating")
    raced: list[kmock.Request] = []

    async def user_races(request: kmock.Request) -> Any:
        if not raced:
            raced.append(request)
            await cluster.patch_job("bell", {"spec": {"suspend": True}})
        return NotImplemented  # the emulator answers: 409, the job changed under the patch

    before = await cluster.job("bell")
    mark = len(emulator.writes)
    emulator[kmock.method.PATCH, JOBS, kmock.subresource("status")] << user_races
    await argo(lambda a: (a.succeed_step("validate"), a.run_step("schedule")))
    job = await cluster.phase("bell", "Suspended")
    assert job["metadata"]["generation"] == 2 and job["status"]["observedGeneration"] == 2
    for status in _statuses(_controller_writes(emulator, mark), "bell", before["status"]):
        if status.get("observedGeneration") == 2:
            assert (status["phase"], status["message"]) == ("Suspended", job["status"]["message"])
    refused = _controller_writes(emulator, mark, refused=True)
    assert 409 in [w.status for w in refused if w.resource == "qiskitjobs/status"]
    assert await _workflow_suspend(cluster, name, True)


async def test_rapid_suspend_flips_end_with_the_users_last_word(cluster: Cluster) -> None:
    emulator = _emulator(cluster)
    await cluster.controller().start()
    workflow, argo = await start_and_get_workflow(cluster)
    name = workflow["metadata"]["name"]
    await argo(lambda a: (a.start(), a.run_step("validate")))
    await cluster.phase("bell", "Validating")
    mark = len(emulator.writes)
    for flip in (True, False, True, False, True):
        await cluster.patch_job("bell", {"spec": {"suspend": flip}})
    await eventually(lambda: _workflow_suspend(cluster, name, True), what="the Workflow to be suspended")
    job = await cluster.phase("bell", "Suspended")
    await asyncio.sleep(0.5)  # the point: nothing undoes it afterwards
    assert await _workflow_suspend(cluster, name, True)
    suspends = _suspends(_controller_writes(emulator, mark))
    assert suspends and suspends[-1] is True and len(suspends) <= 5, suspends
    job = await cluster.job("bell")
    assert job["status"]["phase"] == "Suspended"
    assert job["status"]["observedGeneration"] == job["metadata"]["generation"]


async def test_a_status_set_to_null_is_rebuilt_at_once(cluster: Cluster) -> None:
    """Someone wipes the status: it comes back without waiting for the Workflow to change, and
    without a second Event for a transition that already happened."""
    await cluster.controller().start()
    workflow, argo = await start_and_get_workflow(cluster)
    name = workflow["metadata"]["name"]
    await argo(lambda a: (a.start(), a.run_step("validate")))
    await cluster.phase("bell", "Validating")
    await eventually(lambda: _reasons(cluster, "bell", {"Validating"}), what="the Validating Event")
    version = (await cluster.workflow(name))["metadata"]["resourceVersion"]  # type: ignore[index]
    await cluster.api.ok("PATCH", cluster.job_path("bell") + "/status", {"status": None}, content_type=MERGE)
    job = await cluster.phase("bell", "Validating")
    assert job["status"]["workflowName"] == name and job["status"]["steps"][0]["phase"] == "Running"
    assert (await cluster.workflow(name))["metadata"]["resourceVersion"] == version  # type: ignore[index]
    await asyncio.sleep(0.3)  # Events are posted in the background: give a second one the chance
    assert len(await _phase_events(cluster, "bell", "Validating")) == 1
