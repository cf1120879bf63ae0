"""QiskitBackends end to end: the periodic probe Workflow, its output in the backend's status,
Disabled and aer backends without a probe, and the semaphore ConfigMap following the backend."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from qiskit_argo.steps import SEMAPHORE_CONFIGMAP
from tests.controller.cluster import Cluster, ServiceArgo, eventually

pytestmark = pytest.mark.timeout(60)

PROBE = {
    "device": "fake_sherbrooke",
    "numQubits": 127,
    "basisGates": ["ecr", "id", "rz", "sx", "x"],
    "operational": True,
    "pendingJobs": 0,
    "statusMessage": "active",
    "credentialsValid": True,
    "reason": None,
    "message": None,
}


def _probes(workflows: list[dict[str, Any]], backend: str = "sherbrooke") -> list[dict[str, Any]]:
    return sorted(
        (
            wf
            for wf in workflows
            if (wf["metadata"].get("labels") or {}).get("qiskit-argo.io/service") == "ibm-probe"
            and wf["metadata"]["labels"].get("qiskit-argo.io/backend") == backend
        ),
        key=lambda wf: wf["metadata"]["creationTimestamp"] + wf["metadata"]["name"],
    )


async def _backend(cluster: Cluster, name: str) -> dict[str, Any]:
    found = await cluster.api.get(cluster.kind_path("qiskitbackends", name))
    assert found is not None
    return found


async def _phase(cluster: Cluster, name: str, phase: str) -> dict[str, Any] | None:
    backend = await _backend(cluster, name)
    return backend if (backend.get("status") or {}).get("phase") == phase else None


async def test_an_ibm_backend_is_probed_and_its_status_follows(cluster: Cluster) -> None:
    await cluster.create(
        "QiskitBackend", "qiskitbackends", "sherbrooke", {"type": "ibm", "fakeBackend": "fake_sherbrooke"}
    )
    await cluster.controller().start()
    probes = await eventually(lambda: _listed(cluster), what="a probe Workflow")
    assert len(probes) == 1
    probe = probes[0]
    assert probe["metadata"]["ownerReferences"][0]["kind"] == "QiskitBackend"
    backend = await eventually(lambda: _phase(cluster, "sherbrooke", "Pending"), what="Pending while probing")
    assert backend["status"]["probeWorkflowName"] == probe["metadata"]["name"]
    assert backend["status"]["conditions"][0]["reason"] == "Probing"

    await ServiceArgo(cluster, probe["metadata"]["name"])(lambda fake: (fake.start(), fake.succeed({"probe": PROBE})))
    backend = await eventually(lambda: _phase(cluster, "sherbrooke", "Ready"), what="Ready")
    status = backend["status"]
    assert status["capabilities"]["numQubits"] == 127 and status["capabilities"]["pendingJobs"] == 0
    assert status["device"] == "fake_sherbrooke" and status["lastProbeTime"]
    assert {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]} == {"Ready": ("True", "Operational")}
    assert status["observedGeneration"] == 1
    await asyncio.sleep(0.3)
    assert len(_probes(await cluster.workflows())) == 1, "no second probe before the interval"


async def _listed(cluster: Cluster) -> list[dict[str, Any]] | None:
    return _probes(await cluster.workflows()) or None


async def test_the_next_probe_comes_after_the_interval(cluster: Cluster) -> None:
    await cluster.create(
        "QiskitBackend", "qiskitbackends", "sherbrooke", {"type": "ibm", "fakeBackend": "fake_sherbrooke"}
    )
    await cluster.controller(probe_interval_seconds=1.0).start()
    first = (await eventually(lambda: _listed(cluster), what="a probe"))[0]
    await ServiceArgo(cluster, first["metadata"]["name"])(lambda fake: (fake.start(), fake.succeed({"probe": PROBE})))
    await eventually(lambda: _phase(cluster, "sherbrooke", "Ready"), what="Ready")

    async def two() -> list[dict[str, Any]] | None:
        found = _probes(await cluster.workflows())
        return found if len(found) == 2 else None

    probes = await eventually(two, timeout=10, what="a second probe after the interval")
    second = next(wf for wf in probes if wf["metadata"]["name"] != first["metadata"]["name"])
    backend = await _backend(cluster, "sherbrooke")
    assert backend["status"]["phase"] == "Ready", "the last probe's finding stays while the next one runs"
    await eventually(
        lambda: _named(cluster, "sherbrooke", second["metadata"]["name"]), what="the status names the new probe"
    )


async def _named(cluster: Cluster, name: str, probe: str) -> bool:
    return (await _backend(cluster, name)).get("status", {}).get("probeWorkflowName") == probe


async def test_a_rejected_key_is_not_ready_with_the_reason(cluster: Cluster) -> None:
    spec = {"type": "ibm", "backend": "ibm_torino", "credentialsSecretRef": {"name": "ibm", "key": "token"}}
    await cluster.create("QiskitBackend", "qiskitbackends", "torino", spec)
    await cluster.controller().start()
    probe = (await eventually(lambda: _listed_for(cluster, "torino"), what="a probe"))[0]
    said = "IBM Quantum rejected the API key in Secret ibm key token; put a valid key there"
    output = {"credentialsValid": False, "reason": "CredentialsRejected", "message": said}
    await ServiceArgo(cluster, probe["metadata"]["name"])(lambda fake: (fake.start(), fake.succeed({"probe": output})))
    backend = await eventually(lambda: _phase(cluster, "torino", "NotReady"), what="NotReady")
    conditions = {c["type"]: (c["status"], c["reason"]) for c in backend["status"]["conditions"]}
    assert conditions == {
        "Ready": ("False", "CredentialsRejected"),
        "CredentialsValid": ("False", "CredentialsRejected"),
    }
    assert backend["status"]["message"] == said

    async def warned() -> list[dict[str, Any]] | None:
        found = [e for e in await cluster.events("torino") if e["reason"] == "CredentialsRejected"]
        return found or None

    events = await eventually(warned, what="a Warning Event")
    assert events[0]["type"] == "Warning"


async def _listed_for(cluster: Cluster, name: str) -> list[dict[str, Any]] | None:
    return _probes(await cluster.workflows(), name) or None


async def test_disabled_and_aer_backends_are_not_probed(cluster: Cluster) -> None:
    off = {"type": "ibm", "fakeBackend": "fake_kyiv", "enabled": False}
    await cluster.create("QiskitBackend", "qiskitbackends", "kyiv", off)
    await cluster.create("QiskitBackend", "qiskitbackends", "local", {"type": "aer", "maxConcurrentJobs": 4})
    await cluster.controller().start()
    await eventually(lambda: _phase(cluster, "kyiv", "Disabled"), what="Disabled")
    local = await eventually(lambda: _phase(cluster, "local", "Ready"), what="Ready")
    assert local["status"]["device"] == "aer_simulator"
    await asyncio.sleep(0.3)
    assert await cluster.workflows() == []
    configmap = await cluster.api.get(cluster.configmap_path(SEMAPHORE_CONFIGMAP))
    assert configmap is not None and configmap["data"]["local"] == "4" and configmap["data"]["kyiv"] == "1000000"

    # A new limit reaches the ConfigMap without waiting for a job.
    await cluster.api.ok(
        "PATCH",
        cluster.kind_path("qiskitbackends", "local"),
        {"spec": {"maxConcurrentJobs": 2}},
        content_type="application/merge-patch+json",
    )

    async def limit() -> bool:
        found = await cluster.api.get(cluster.configmap_path(SEMAPHORE_CONFIGMAP))
        return bool(found and found["data"]["local"] == "2")

    assert await eventually(limit, what="the new limit")


async def test_a_restart_adopts_the_running_probe(cluster: Cluster) -> None:
    await cluster.create(
        "QiskitBackend", "qiskitbackends", "sherbrooke", {"type": "ibm", "fakeBackend": "fake_sherbrooke"}
    )
    controller = await cluster.controller().start()
    await eventually(lambda: _listed(cluster), what="a probe")
    await eventually(lambda: _phase(cluster, "sherbrooke", "Pending"), what="Pending")
    await controller.kill()
    await cluster.controller().start()
    await asyncio.sleep(0.5)
    assert len(_probes(await cluster.workflows())) == 1
