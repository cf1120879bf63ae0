"""The controller's small pure pieces: the status merge patch, reading a job, the flags."""

from __future__ import annotations

from typing import Any

import pytest
from qiskit_argo_controller.cli import parse_args
from qiskit_argo_controller.reconcile import read_job, status_patch

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
    assert status_patch(old, new) == patch


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
