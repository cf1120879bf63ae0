"""QiskitSessions end to end: opened by a Workflow of ours, Ready with IBM's session id (waking the
jobs that wait for it), closed — or cancelled — by another Workflow when deleted, never blocking
the delete for long."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.controller.cluster import Cluster, ServiceArgo, bell_spec, eventually

pytestmark = pytest.mark.timeout(60)

FINALIZER = "qiskit-argo.io/session-close"
SHERBROOKE = {"type": "ibm", "fakeBackend": "fake_sherbrooke"}
OPENED = {"session": {"sessionId": "sess-42", "state": "open", "device": "fake_sherbrooke"}}


def _service(workflows: list[dict[str, Any]], step: str) -> list[dict[str, Any]]:
    return [wf for wf in workflows if (wf["metadata"].get("labels") or {}).get("qiskit-argo.io/service") == step]


async def _one(cluster: Cluster, step: str) -> dict[str, Any] | None:
    found = _service(await cluster.workflows(), step)
    return found[0] if found else None


async def _session(cluster: Cluster, name: str = "s1") -> dict[str, Any] | None:
    return await cluster.api.get(cluster.kind_path("qiskitsessions", name))


async def _phase(cluster: Cluster, phase: str, name: str = "s1") -> dict[str, Any] | None:
    session = await _session(cluster, name)
    return session if session and (session.get("status") or {}).get("phase") == phase else None


def _parameters(workflow: dict[str, Any]) -> dict[str, Any]:
    for template in workflow["spec"]["templates"]:
        for task in (template.get("dag") or {}).get("tasks", []):
            return {p["name"]: p["value"] for p in (task.get("arguments") or {}).get("parameters", [])}
    raise AssertionError("no task")


async def _open(cluster: Cluster, **spec: Any) -> dict[str, Any]:
    await cluster.create("QiskitBackend", "qiskitbackends", "sherbrooke", SHERBROOKE)
    await cluster.create("QiskitSession", "qiskitsessions", "s1", {"backendRef": "sherbrooke", **spec})
    opener = await eventually(lambda: _one(cluster, "session-open"), what="the open Workflow")
    session = await eventually(lambda: _phase(cluster, "Opening"), what="Opening")
    assert session["metadata"].get("finalizers") == [FINALIZER]
    assert session["status"]["openWorkflowName"] == opener["metadata"]["name"]
    await ServiceArgo(cluster, opener["metadata"]["name"])(lambda fake: (fake.start(), fake.succeed(OPENED)))
    return await eventually(lambda: _phase(cluster, "Ready"), what="Ready")


async def test_a_session_opens_and_wakes_the_job_waiting_for_it(cluster: Cluster) -> None:
    await cluster.controller(session_recheck_seconds=300).start()
    await cluster.create_job("bell", bell_spec(sessionRef="s1"))
    await eventually(lambda: _job_reason(cluster, "SessionNotReady"), what="the job waits")
    session = await _open(cluster)
    status = session["status"]
    assert (status["sessionId"], status["device"], status["state"]) == ("sess-42", "fake_sherbrooke", "open")
    assert {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]} == {"Ready": ("True", "Open")}
    # Woken by the session's change, not by the (300 s) timer.
    workflow = await cluster.workflow_of("bell", timeout=5)
    assert workflow["metadata"]["labels"].get("qiskit-argo.io/service") is None


async def _job_reason(cluster: Cluster, reason: str) -> bool:
    job = await cluster.job("bell")
    return (job.get("status") or {}).get("reason") == reason


async def test_deleting_a_session_closes_it_at_ibm_then_lets_go(cluster: Cluster) -> None:
    await cluster.controller().start()
    await _open(cluster)
    await cluster.api.ok("DELETE", cluster.kind_path("qiskitsessions", "s1"))
    closer = await eventually(lambda: _one(cluster, "session-close"), what="the close Workflow")
    assert json.loads(_parameters(closer)["session"]) == {"sessionId": "sess-42", "cancel": False}
    await eventually(lambda: _phase(cluster, "Closing"), what="Closing")
    await ServiceArgo(cluster, closer["metadata"]["name"])(
        lambda fake: (fake.start(), fake.succeed({"session": {"sessionId": "sess-42", "state": "closed"}}))
    )
    assert await eventually(lambda: _gone(cluster), what="the session deleted")
    assert len(_service(await cluster.workflows(), "session-close")) == 1


async def test_cancel_on_delete_cancels(cluster: Cluster) -> None:
    await cluster.controller().start()
    await _open(cluster, cancelOnDelete=True)
    await cluster.api.ok("DELETE", cluster.kind_path("qiskitsessions", "s1"))
    closer = await eventually(lambda: _one(cluster, "session-close"), what="the close Workflow")
    assert json.loads(_parameters(closer)["session"]) == {"sessionId": "sess-42", "cancel": True}


async def test_a_close_that_never_finishes_lets_go_after_the_bound(cluster: Cluster) -> None:
    await cluster.controller(session_close_timeout_seconds=1.0).start()
    await _open(cluster)
    await cluster.api.ok("DELETE", cluster.kind_path("qiskitsessions", "s1"))
    await eventually(lambda: _one(cluster, "session-close"), what="the close Workflow")
    assert await eventually(lambda: _gone(cluster), timeout=15, what="let go after the bound")

    async def warned() -> list[dict[str, Any]] | None:
        found = [e for e in await cluster.events("s1") if e["reason"] == "SessionCloseFailed"]
        return found or None

    events = await eventually(warned, what="a Warning Event")
    assert "did not finish within 1s" in events[0]["message"]


async def test_a_session_without_its_backend_waits_and_a_failed_open_lets_go(cluster: Cluster) -> None:
    await cluster.controller().start()
    await cluster.create("QiskitSession", "qiskitsessions", "s1", {"backendRef": "nowhere"})
    session = await eventually(lambda: _phase(cluster, "Pending"), what="Pending")
    assert session["status"]["reason"] == "BackendNotFound" and "spec.backendRef" in session["status"]["message"]
    assert session["metadata"].get("finalizers") in (None, [])
    assert _service(await cluster.workflows(), "session-open") == []

    await cluster.create("QiskitBackend", "qiskitbackends", "nowhere", SHERBROOKE)
    await cluster.api.ok(
        "PATCH",
        cluster.kind_path("qiskitsessions", "s1"),
        {"metadata": {"labels": {"poke": "1"}}},
        content_type="application/merge-patch+json",
    )
    opener = await eventually(lambda: _one(cluster, "session-open"), what="the open Workflow")
    await ServiceArgo(cluster, opener["metadata"]["name"])(
        lambda fake: (fake.start(), fake.fail("CredentialsRejected: IBM Quantum rejected the API key"))
    )
    session = await eventually(lambda: _phase(cluster, "Failed"), what="Failed")
    assert session["status"]["reason"] == "CredentialsRejected"
    assert session["metadata"].get("finalizers") in (None, [])
    await cluster.api.ok("DELETE", cluster.kind_path("qiskitsessions", "s1"))
    assert await eventually(lambda: _gone(cluster), what="deleted at once")


async def _gone(cluster: Cluster) -> bool:
    return await _session(cluster) is None


async def test_a_ttl_deleted_open_workflow_never_opens_a_second_session(cluster: Cluster) -> None:
    await cluster.controller().start()
    session = await _open(cluster)
    await cluster.api.ok("DELETE", cluster.workflow_path(session["status"]["openWorkflowName"]))
    await cluster.api.ok(
        "PATCH",
        cluster.kind_path("qiskitsessions", "s1"),
        {"metadata": {"labels": {"poke": "1"}}},
        content_type="application/merge-patch+json",
    )
    await asyncio.sleep(0.5)
    assert _service(await cluster.workflows(), "session-open") == []
    session = await _session(cluster)
    assert session is not None and session["status"]["phase"] == "Ready"
    assert session["status"]["sessionId"] == "sess-42"
