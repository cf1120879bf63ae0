"""QiskitBudget end to end: 50 jobs at once against a budget that fits exactly 10, with and without
a controller killed in the middle; settling the 10 with what IBM metered; a refusal's status; a
deleted job's reservation.

Same harness as ``test_ibm.py``: the real kopf operator over HTTP against the strict emulator (and
envtest when ``KUBEBUILDER_ASSETS`` is set). The emulator keeps every stored version of the budget
(``StrictEmulator.versions``): the invariants are checked at every version the API server ever
held, not only at the end.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import pytest

from qiskit_argo.budget import need_for
from qiskit_argo.catalogue import Catalogue, CatalogueEntry
from qiskit_argo.manifests import parse_job
from tests.argo_fake import IBM_SCHEDULE, SUBMISSION_JSON, SUMMARY_JSON, ArgoFake
from tests.controller.cluster import Argo, Cluster, bell_spec, eventually
from tests.controller.emulator import conflict

pytestmark = pytest.mark.timeout(180)

BUDGETS = "qiskit-argo.io/v1alpha1/qiskitbudgets"
FINALIZER = "qiskit-argo.io/budget"
SHERBROOKE = {"type": "ibm", "fakeBackend": "fake_sherbrooke", "maxConcurrentJobs": 2}
READY_BACKEND = {"phase": "Ready", "device": "fake_sherbrooke", "capabilities": {"numQubits": 127}}
#: Each job reserves its maxExecutionTime: 60 quantum seconds; the budget holds exactly 10 of them.
SECONDS_PER_JOB = 60
FITS = 10
JOBS = 50
LIMIT = SECONDS_PER_JOB * FITS


def _spec() -> dict[str, Any]:
    return bell_spec(backend={"ref": "sherbrooke", "ibm": {"maxExecutionTime": SECONDS_PER_JOB}})


def test_the_need_is_what_the_test_assumes() -> None:
    """The jobs' need, computed as the controller computes it: 60 quantum seconds each, no money."""
    job = parse_job(
        {
            "apiVersion": "qiskit-argo.io/v1alpha1",
            "kind": "QiskitJob",
            "metadata": {"name": "j", "namespace": "n", "uid": "u"},
            "spec": _spec(),
        },
        source="",
    )
    entry = CatalogueEntry(name="sherbrooke", type="ibm", device="fake_sherbrooke", fake=True, num_qubits=127)
    need = need_for(job, Catalogue(entries=[entry]))
    assert need is not None
    assert (need.quantum_seconds, need.amount, need.max_execution_time) == (Decimal(SECONDS_PER_JOB), 0, 60)


async def _setup(cluster: Cluster) -> None:
    await cluster.create("QiskitBackend", "qiskitbackends", "sherbrooke", SHERBROOKE, READY_BACKEND)
    await cluster.create(
        "QiskitBudget", "qiskitbudgets", "lab", {"limit": {"quantumSeconds": str(LIMIT)}, "period": "total"}
    )


async def _create_all(cluster: Cluster) -> list[str]:
    names = [f"job-{index:02d}" for index in range(JOBS)]
    await asyncio.gather(*(cluster.create_job(name, _spec()) for name in names))
    return names


async def _outcome(cluster: Cluster, names: list[str]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Once every job either has its Workflow or failed: (jobs with a Workflow, failed jobs), by name."""

    async def settled() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]] | None:
        jobs = {job["metadata"]["name"]: job for job in await cluster.api.items(cluster.job_path())}
        owners = {
            (wf["metadata"].get("labels") or {}).get("qiskit-argo.io/job")
            for wf in await cluster.workflows()
            if (wf["metadata"].get("labels") or {}).get("qiskit-argo.io/job")
        }
        running = {name: jobs[name] for name in names if name in owners}
        failed = {name: jobs[name] for name in names if (jobs[name].get("status") or {}).get("phase") == "Failed"}
        return (running, failed) if len(running) + len(failed) == len(names) else None

    return await eventually(settled, timeout=120, interval=0.2, what="every job has a Workflow or failed")


async def _budget(cluster: Cluster) -> dict[str, Any]:
    budget = await cluster.api.get(cluster.kind_path("qiskitbudgets", "lab"))
    assert budget is not None
    return budget


def _versions(cluster: Cluster) -> list[dict[str, Any]]:
    assert cluster.emulator is not None
    return [v for v in cluster.emulator.versions(BUDGETS, cluster.namespace, "lab") if v is not None]


def _check_every_version(cluster: Cluster) -> tuple[list[str], list[str]]:
    """spent + reserved ≤ limit, reserved = the sum of the reservations and no uid twice, at every
    stored version of the budget; returns the uids in the order they were reserved and settled
    (each at most once: a uid that comes back after it was settled was reserved twice)."""
    reserved_order: list[str] = []
    settled_order: list[str] = []
    held: set[str] = set()
    for version in _versions(cluster):
        status = version.get("status") or {}
        spent = Decimal((status.get("spent") or {}).get("quantumSeconds") or "0")
        reserved = Decimal((status.get("reserved") or {}).get("quantumSeconds") or "0")
        reservations = status.get("reservations") or []
        uids = [item["uid"] for item in reservations]
        assert len(uids) == len(set(uids)), f"a uid reserved twice in one version: {uids}"
        assert reserved == sum(Decimal(item["quantumSeconds"]) for item in reservations), status
        assert spent + reserved <= LIMIT, f"spent {spent} + reserved {reserved} > {LIMIT}"
        now = set(uids)
        for uid in sorted(now - held):
            assert uid not in reserved_order, f"uid {uid} reserved a second time"
            reserved_order.append(uid)
        for uid in sorted(held - now):
            assert uid not in settled_order, f"uid {uid} settled a second time"
            settled_order.append(uid)
        held = now
    return reserved_order, settled_order


def _assert_outcome(
    running: dict[str, dict[str, Any]], failed: dict[str, dict[str, Any]], budget: dict[str, Any]
) -> None:
    assert len(running) == FITS and len(failed) == JOBS - FITS
    assert not set(running) & set(failed)
    for job in failed.values():
        status = job["status"]
        assert status["reason"] == "BudgetExceeded", status
        assert "QiskitBudget lab" in status["message"] or "lab" in status["message"], status["message"]
        assert FINALIZER not in (job["metadata"].get("finalizers") or [])
    for job in running.values():
        cost = job["status"].get("cost") or {}
        assert cost.get("reserved", {}).get("quantumSeconds") == str(SECONDS_PER_JOB), job["status"]
        assert cost.get("budgets") == ["lab"]
        assert FINALIZER in job["metadata"]["finalizers"]
    held = {item["uid"] for item in budget["status"]["reservations"]}
    assert held == {job["metadata"]["uid"] for job in running.values()}
    assert budget["status"]["reserved"]["quantumSeconds"] == str(LIMIT)


async def _no_workflow_for(cluster: Cluster, failed: dict[str, dict[str, Any]]) -> None:
    owners = {(wf["metadata"].get("labels") or {}).get("qiskit-argo.io/job") for wf in await cluster.workflows()}
    assert not owners & set(failed), "a refused job got a Workflow"


def _parameters(workflow: dict[str, Any], task: str) -> dict[str, str]:
    for template in workflow["spec"]["templates"]:
        for entry in (template.get("dag") or {}).get("tasks", []):
            if entry["name"] == task:
                return {p["name"]: p.get("value") for p in (entry.get("arguments") or {}).get("parameters", [])}
    raise AssertionError(f"no task {task}")


# --------------------------------------------------------------------------- 50 at once


def _budget_status_write(request: Any) -> bool:
    resource = request.resource
    return (
        str(request.method.value).upper() == "PATCH"
        and resource is not None
        and resource.plural == "qiskitbudgets"
        and request.subresource == "status"
    )


async def test_fifty_jobs_against_a_budget_for_ten(cluster: Cluster) -> None:
    await _setup(cluster)
    refused: list[Any] = []
    if cluster.emulator is not None:
        # Another writer won the race now and then: 409 on every third budget write, five times.
        writes = [0]

        async def refuse(request: Any) -> None:
            if not _budget_status_write(request):
                return
            writes[0] += 1
            if writes[0] % 3 == 0 and len(refused) < 5:
                refused.append(request)
                raise conflict()

        cluster.emulator.interceptors.append(refuse)
    await cluster.controller().start()
    names = await _create_all(cluster)
    running, failed = await _outcome(cluster, names)
    await _no_workflow_for(cluster, failed)
    _assert_outcome(running, failed, await _budget(cluster))

    # The reservation travels into the Workflow: IBM stops the job at what was reserved.
    workflow = await cluster.workflow_of(next(iter(running)))
    assert _parameters(workflow, "ibm-submit")["max-execution-time"] == str(SECONDS_PER_JOB)
    assert json.loads(_parameters(workflow, "schedule")["reserved"])["quantumSeconds"] == str(SECONDS_PER_JOB)
    if cluster.emulator is not None:
        assert len(refused) == 5, "the conflicts were injected and retried"
        reserved, settled = _check_every_version(cluster)
        assert len(reserved) == FITS and not settled


async def test_a_controller_killed_in_the_middle_changes_nothing(cluster: Cluster) -> None:
    await _setup(cluster)
    stalled, release = asyncio.Event(), asyncio.Event()
    if cluster.emulator is not None:
        # The fifth budget write hangs until the controller is dead; then the API server applies it
        # (the write landed, the controller never heard back): the worst moment to die.
        writes = [0]

        async def stall(request: Any) -> None:
            if not _budget_status_write(request):
                return
            writes[0] += 1
            if writes[0] == 5:
                stalled.set()
                await release.wait()

        cluster.emulator.interceptors.append(stall)
    first = await cluster.controller().start()
    names = await _create_all(cluster)

    async def some_reserved() -> bool:
        status = (await _budget(cluster)).get("status") or {}
        return len(status.get("reservations") or []) >= 3

    if cluster.emulator is not None:
        await asyncio.wait_for(stalled.wait(), 60)
    else:
        await eventually(some_reserved, timeout=60, what="a few reservations")
    decided = sum(
        bool((wf["metadata"].get("labels") or {}).get("qiskit-argo.io/job")) for wf in await cluster.workflows()
    )
    decided += sum(
        (job.get("status") or {}).get("phase") == "Failed" for job in await cluster.api.items(cluster.job_path())
    )
    await first.kill()
    release.set()
    assert decided < JOBS, "killed in the middle, not after the end"
    await cluster.controller().start()
    running, failed = await _outcome(cluster, names)
    await _no_workflow_for(cluster, failed)
    _assert_outcome(running, failed, await _budget(cluster))
    if cluster.emulator is not None:
        reserved, settled = _check_every_version(cluster)
        # A uid may be reserved and released again (all or none), never reserved twice while held.
        assert set(reserved) - set(settled) == {job["metadata"]["uid"] for job in running.values()}


# --------------------------------------------------------------------------- settle


def _ibm_json(seconds: float) -> str:
    return json.dumps(
        {
            "jobId": "d1k2mq8s0abc",
            "tag": "qiskit-argo.job.3f2a9c",
            "action": "Submitted",
            "state": "Done",
            "duplicatesCancelled": [],
            "quantumSeconds": seconds,
        }
    )


async def _succeed(cluster: Cluster, workflow_name: str, seconds: float) -> None:
    def done(fake: ArgoFake) -> None:
        fake.start()
        for step, outputs in (
            ("validate", None),
            ("schedule", IBM_SCHEDULE),
            ("ibm-submit", {"submission": SUBMISSION_JSON}),
            ("ibm-wait", {"summary": SUMMARY_JSON, "ibm": _ibm_json(seconds)}),
        ):
            fake.run_step(step)
            fake.succeed_step(step, outputs)
        fake.succeed_all()

    await Argo(cluster, workflow_name)(done)


async def test_the_ten_settle_with_what_ibm_metered(cluster: Cluster) -> None:
    await _setup(cluster)
    await cluster.controller().start()
    names = await _create_all(cluster)
    running, _ = await _outcome(cluster, names)
    used = {name: 1.5 + index for index, name in enumerate(sorted(running))}
    workflows = {
        (wf["metadata"].get("labels") or {}).get("qiskit-argo.io/job"): wf["metadata"]["name"]
        for wf in await cluster.workflows()
    }
    await asyncio.gather(*(_succeed(cluster, workflows[name], seconds) for name, seconds in used.items()))
    total = sum(Decimal(str(seconds)) for seconds in used.values())

    async def settled() -> dict[str, Any] | None:
        status = (await _budget(cluster)).get("status") or {}
        done = Decimal(status.get("spent", {}).get("quantumSeconds") or "0") == total
        return status if done and not status.get("reservations") else None

    status = await eventually(settled, timeout=60, what="every job settled")
    assert Decimal(status["reserved"]["quantumSeconds"]) == 0
    for name, seconds in used.items():
        job = await cluster.phase(name, "Succeeded")

        async def charged(name: str = name) -> dict[str, Any] | None:
            job = await cluster.job(name)
            ok = ((job["status"].get("cost") or {}).get("charged") or {}).get("quantumSeconds")
            return job if ok and FINALIZER not in (job["metadata"].get("finalizers") or []) else None

        job = await eventually(charged, what=f"{name} charged")
        assert Decimal(job["status"]["cost"]["charged"]["quantumSeconds"]) == Decimal(str(seconds))
    if cluster.emulator is not None:
        reserved, settled_uids = _check_every_version(cluster)
        assert sorted(reserved) == sorted(settled_uids) and len(reserved) == FITS

    # A restart afterwards changes nothing: the same accounts, no budget write at all.
    before = await _budget(cluster)
    writes = len(cluster.emulator.writes) if cluster.emulator is not None else 0
    for controller in list(cluster.controllers):
        await controller.stop()
    restarted = await cluster.controller().start()
    await asyncio.sleep(1.0)  # let it list everything and run its passes
    after = await _budget(cluster)
    assert after["status"] == before["status"]
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    if cluster.emulator is not None:
        budget_writes = [w for w in cluster.emulator.writes[writes:] if w.resource.startswith("qiskitbudgets")]
        assert budget_writes == []
    await restarted.stop()


# --------------------------------------------------------------------------- one job


async def test_a_deleted_job_is_settled_before_it_goes(cluster: Cluster) -> None:
    await _setup(cluster)
    await cluster.controller().start()
    await cluster.create_job("bell", _spec())
    await cluster.workflow_of("bell")

    async def reserved() -> bool:
        return bool(((await _budget(cluster)).get("status") or {}).get("reservations"))

    await eventually(reserved, what="the reservation")
    await cluster.delete_job("bell")
    await eventually(lambda: _gone(cluster, "bell"), timeout=30, what="the job gone")
    status = (await _budget(cluster))["status"]
    assert status["reservations"] == []
    # Nothing ran at IBM (the Workflow never started): nothing is charged.
    assert Decimal(status["spent"]["quantumSeconds"]) == 0


async def _gone(cluster: Cluster, name: str) -> bool:
    return await cluster.api.get(cluster.job_path(name)) is None


async def test_a_job_that_does_not_fit_says_why(cluster: Cluster) -> None:
    await _setup(cluster)
    await cluster.controller().start()
    spec = bell_spec(backend={"ref": "sherbrooke", "ibm": {"maxExecutionTime": LIMIT + 1}})
    await cluster.create_job("big", spec)
    job = await cluster.phase("big", "Failed")
    assert job["status"]["reason"] == "BudgetExceeded"
    assert "lab" in job["status"]["message"], job["status"]["message"]
    assert await cluster.workflows() == [] or all(
        (wf["metadata"].get("labels") or {}).get("qiskit-argo.io/job") != "big" for wf in await cluster.workflows()
    )
    assert FINALIZER not in (job["metadata"].get("finalizers") or [])
    assert ((await _budget(cluster)).get("status") or {}).get("reservations") in (None, [])


async def test_only_reservations_whose_job_is_gone_are_released(cluster: Cluster) -> None:
    """After a crash a budget may hold the reservation of a job deleted meanwhile: released (with
    nothing charged); the reservation of a job that still exists is kept."""
    await _setup(cluster)
    alive = await cluster.create_job("alive")  # Aer: free, the controller reserves nothing for it

    def held(uid: str, job: str) -> dict[str, Any]:
        return {"uid": uid, "job": job, "backend": "sherbrooke", "quantumSeconds": "60", "amount": "0",
                "since": "2026-01-01T00:00:00Z"}  # fmt: skip

    await cluster.set_status(
        "qiskitbudgets",
        "lab",
        {
            "periodStart": "1970-01-01T00:00:00Z",  # a total budget's one period
            "spent": {"quantumSeconds": "5", "amount": "0"},
            "reserved": {"quantumSeconds": "120", "amount": "0"},
            "reservations": [held(alive["metadata"]["uid"], "alive"), held("0000-ghost", "ghost")],
        },
    )
    await cluster.controller().start()

    async def released() -> dict[str, Any] | None:
        status = (await _budget(cluster)).get("status") or {}
        return status if [item["job"] for item in status.get("reservations") or []] == ["alive"] else None

    status = await eventually(released, timeout=30, what="the ghost's reservation released")
    assert Decimal(status["spent"]["quantumSeconds"]) == 5
    assert Decimal(status["reserved"]["quantumSeconds"]) == 60
    assert Decimal(status["remaining"]["quantumSeconds"]) == LIMIT - 65


async def test_all_budgets_or_none(cluster: Cluster) -> None:
    """A later budget refuses: the earlier one that already held the reservation releases it."""
    await cluster.create("QiskitBackend", "qiskitbackends", "sherbrooke", SHERBROOKE, READY_BACKEND)
    await cluster.create(
        "QiskitBudget", "qiskitbudgets", "a-roomy", {"limit": {"quantumSeconds": "600"}, "period": "total"}
    )
    await cluster.create(
        "QiskitBudget", "qiskitbudgets", "b-tight", {"limit": {"quantumSeconds": "30"}, "period": "total"}
    )
    await cluster.controller().start()
    await cluster.create_job("bell", _spec())
    job = await cluster.phase("bell", "Failed")
    assert job["status"]["reason"] == "BudgetExceeded" and "b-tight" in job["status"]["message"]
    assert all(
        (wf["metadata"].get("labels") or {}).get("qiskit-argo.io/job") != "bell" for wf in await cluster.workflows()
    )
    roomy = await cluster.api.get(cluster.kind_path("qiskitbudgets", "a-roomy"))
    assert roomy is not None and not (roomy.get("status") or {}).get("reservations")
    assert Decimal(((roomy.get("status") or {}).get("spent") or {}).get("quantumSeconds") or "0") == 0
    if cluster.emulator is not None:
        held = [
            [item["uid"] for item in (version.get("status") or {}).get("reservations") or []]
            for version in cluster.emulator.versions(BUDGETS, cluster.namespace, "a-roomy")
            if version is not None
        ]
        assert [job["metadata"]["uid"]] in held, "a-roomy held it first (name order), then let it go"
        assert held[-1] == []


async def test_a_job_deleted_while_at_ibm_is_charged_its_reservation(cluster: Cluster) -> None:
    """What a deleted job used at IBM cannot be known any more: the budget assumes the worst."""
    await _setup(cluster)
    await cluster.controller().start()
    await cluster.create_job("bell", _spec())
    workflow = await cluster.workflow_of("bell")

    def waiting(fake: ArgoFake) -> None:
        fake.start()
        for step, outputs in (
            ("validate", None),
            ("schedule", IBM_SCHEDULE),
            ("ibm-submit", {"submission": SUBMISSION_JSON}),
        ):
            fake.run_step(step)
            fake.succeed_step(step, outputs)
        fake.run_step("ibm-wait")

    await Argo(cluster, workflow["metadata"]["name"])(waiting)
    await cluster.phase("bell", "Running")
    await cluster.delete_job("bell")

    async def charged() -> dict[str, Any] | None:
        status = (await _budget(cluster)).get("status") or {}
        return status if not status.get("reservations") else None

    status = await eventually(charged, timeout=30, what="the reservation settled")
    assert Decimal(status["spent"]["quantumSeconds"]) == SECONDS_PER_JOB
    # The IBM-cancel finalizer still holds the job while its cancel Workflow runs; the budget's is gone.
    job = await cluster.api.get(cluster.job_path("bell"))
    assert job is None or FINALIZER not in (job["metadata"].get("finalizers") or [])
