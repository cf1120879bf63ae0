"""The controller's small pure pieces: the status merge patch, reading a job, the flags, API paths, and
one module plus one line per kind."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import kopf
import pytest
from qiskit_argo_controller import handlers
from qiskit_argo_controller.cli import parse_args
from qiskit_argo_controller.handlers import CONTROLLERS, Operator, Options
from qiskit_argo_controller.jobs import OWNED_STATUS_KEYS, read_job
from qiskit_argo_controller.kube import Kube, Resource
from qiskit_argo_controller.reconcile import Pass, Reconciler, Status, status_patch

from qiskit_argo.api import KINDS, QISKIT_JOB
from qiskit_argo.status import TransitionEvent
from tests.controller.cluster import bell_spec

PATCHES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ("equal", {"phase": "Running"}, {"phase": "Running"}, {}),
    ("changed", {"phase": "Running"}, {"phase": "Succeeded"}, {"phase": "Succeeded"}),
    ("removed", {"phase": "Failed", "reason": "X"}, {"phase": "Failed"}, {"reason": None}),
    (
        "nested-removed",
        {"backend": {"name": "aer", "method": "statevector"}},
        {"backend": {"name": "aer"}},
        {"backend": {"method": None}},
    ),
    ("list-replaced", {"steps": [{"name": "a"}]}, {"steps": []}, {"steps": []}),
    ("foreign-kept", {"phase": "Running", "kopf": {"x": 1}}, {"phase": "Running"}, {}),
    ("from-nothing", {}, {"phase": "Pending"}, {"phase": "Pending"}),
]


@pytest.mark.parametrize(("old", "new", "patch"), [p[1:] for p in PATCHES], ids=[p[0] for p in PATCHES])
def test_status_patch(old: dict[str, Any], new: dict[str, Any], patch: dict[str, Any]) -> None:
    assert status_patch(old, new, OWNED_STATUS_KEYS) == patch


def test_read_job_keeps_an_unreadable_status_out_of_the_way() -> None:
    raw = {
        "apiVersion": "qiskit-argo.io/v1alpha1",
        "kind": "QiskitJob",
        "metadata": {"name": "bell", "namespace": "lab", "uid": "u", "managedFields": [{}]},
        "spec": bell_spec(),
        "status": {"phase": "Running", "somethingNew": True},
    }
    job = read_job(raw)
    assert job.status is not None and job.status.phase == "Running"
    with pytest.raises(ValueError, match="spec.shots"):
        read_job({**raw, "spec": bell_spec(shots=0)})


def test_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    options, args = parse_args(["-n", "a,b", "--namespace", "c", "--standalone", "--metrics-port=0"])
    assert options.namespaces == ("a", "b", "c") and options.standalone and args.metrics_port == 0
    monkeypatch.setenv("QISKIT_ARGO_NAMESPACES", "x")
    options, _ = parse_args([])
    assert options.namespaces == ("x",) and not options.standalone and options.liveness
    with pytest.raises(SystemExit):
        parse_args(["--limits", "/nonexistent.json"])


# --------------------------------------------------------------------------- one module and one line per kind

#: A kind that is not registered, as the next ones will be: only its registry entry differs.
BACKEND = dataclasses.replace(
    QISKIT_JOB,
    kind="QiskitBackend",
    plural="qiskitbackends",
    singular="qiskitbackend",
    short_names=("qb",),
    noun="backend",
)


class FakeKube(Kube):
    """Answers GETs from a dict, by (plural, namespace, name)."""

    def __init__(self, objects: dict[tuple[str, str, str], dict[str, Any]]) -> None:
        super().__init__()
        self.objects = objects

    async def get(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.objects.get((resource.plural, str(namespace), name))


class BackendReconciler(Reconciler):
    """All a new kind's module has to say (its pass does nothing here)."""

    kind = BACKEND
    owned_status_keys = frozenset({"phase", "reason", "message"})
    phases = ("Pending", "Ready", "Failed")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.passes: list[str] = []

    def parse_status(self, raw: Any) -> Status | None:
        return None

    def is_terminal(self, status: Status, generation: int | None) -> bool:
        return False

    def transition_event(self, status: Status) -> TransitionEvent:
        return TransitionEvent("Normal", str(status.phase), status.message or "")

    async def once(self, run: Pass) -> None:
        self.passes.append(run.name)


def test_api_paths_come_from_the_kind_registry() -> None:
    job = "/apis/qiskit-argo.io/v1alpha1/namespaces/lab/qiskitjobs"
    assert Kube.path(QISKIT_JOB, "lab") == job
    assert Kube.path(QISKIT_JOB, "lab", "bell", "status") == f"{job}/bell/status"
    assert Kube.path(BACKEND, "lab", "fez") == "/apis/qiskit-argo.io/v1alpha1/namespaces/lab/qiskitbackends/fez"
    cluster = dataclasses.replace(BACKEND, scope="Cluster")
    assert Kube.path(cluster, None, "fez") == "/apis/qiskit-argo.io/v1alpha1/qiskitbackends/fez"
    assert Kube.workflow_path("lab", "bell-1") == "/apis/argoproj.io/v1alpha1/namespaces/lab/workflows/bell-1"


def test_every_controller_serves_a_registered_kind() -> None:
    kinds = [controller.kind for controller in CONTROLLERS]
    assert QISKIT_JOB in kinds and set(kinds) <= set(KINDS) and len(set(kinds)) == len(kinds)


def _watched(op: Operator) -> dict[str, tuple[Any, Any]]:
    return {
        handler.id: (handler.selector.any_name if handler.selector else None, handler.labels)
        for handler in op.registry._watching.get_all_handlers()
    }


async def test_a_new_kind_is_one_module_and_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handlers, "CONTROLLERS", (*handlers.CONTROLLERS, BackendReconciler))
    body = {"metadata": {"name": "fez", "namespace": "lab", "uid": "u", "resourceVersion": "1"}}
    op = handlers.operator(Options(standalone=True), kube=FakeKube({("qiskitbackends", "lab", "fez"): body}))
    watched = _watched(op)
    assert watched["job_changed"][0] == "qiskitjobs"
    assert watched["backend_changed"][0] == "qiskitbackends"
    assert watched["backend_workflow_changed"] == (
        "workflows",
        {"app.kubernetes.io/managed-by": "qiskit-argo", "qiskit-argo.io/backend": kopf.PRESENT},
    )
    probes = {handler.id for handler in op.registry._activities.get_all_handlers()}
    assert {"jobs", "backends"} <= probes
    backends = op.reconciler("QiskitBackend")
    assert isinstance(backends, BackendReconciler) and backends.kube is op.reconciler(QISKIT_JOB).kube
    assert backends.book.counts() == {"Pending": 0, "Ready": 0, "Failed": 0}
    assert backends.book.metric == "qiskit_argo_backends"
    logger = logging.getLogger("test")
    await backends.object_event("ADDED", body, logger)
    assert backends.passes == ["fez"]
    # Its Workflow's events reach its reconciler by the kind's owner label, and run a pass.
    workflow = {
        "metadata": {
            "name": "fez-abcdef",
            "namespace": "lab",
            "resourceVersion": "7",
            "labels": {"qiskit-argo.io/backend": "fez", "qiskit-argo.io/backend-uid": "u"},
        }
    }
    await backends.workflow_event("MODIFIED", workflow, lambda _: logger)
    assert backends.passes == ["fez", "fez"]
    await op.reconciler(QISKIT_JOB).workflow_event("MODIFIED", workflow, lambda _: logger)  # not a job's
    assert backends.passes == ["fez", "fez"]
