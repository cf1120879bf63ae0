"""The schedule step: Aer, the method, and a reason a person can read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qiskit_argo import scheduling
from qiskit_argo.api import AerOptions, BackendStatus, CircuitMetrics
from qiskit_argo.errors import InvalidJobError, TransientError
from qiskit_argo.request import ExecutionRequest

BELL_OPS = {"h": 1, "cx": 1, "measure": 2}
T_OPS = {"h": 1, "t": 1, "cx": 1, "measure": 2}


def _request(primitive: str = "sampler", shots: int | None = 1024, **aer: Any) -> ExecutionRequest:
    return ExecutionRequest(
        job_name="j",
        primitive=primitive,
        shots=shots if primitive == "sampler" else None,
        aer=AerOptions(**aer),
    )


def _metrics(count_ops: dict[str, int], num_qubits: int = 2) -> CircuitMetrics:
    return CircuitMetrics(num_qubits=num_qubits, depth=3, size=sum(count_ops.values()), count_ops=count_ops)


@pytest.mark.parametrize(
    ("request_", "metrics", "method", "needles"),
    [
        (_request(), _metrics(BELL_OPS), "automatic", ["method=automatic", "Clifford-only", "stabilizer"]),
        (
            _request(),
            _metrics({"h": 1, "s": 1, "sdg": 1, "cz": 2, "swap": 1, "barrier": 1}),
            "automatic",
            ["stabilizer"],
        ),
        (_request(), _metrics(T_OPS), "automatic", ["statevector", "t", "64 B"]),
        (_request(), _metrics({"ry": 20, "cx": 19}, num_qubits=20), "automatic", ["20-qubit", "statevector", "16 MiB"]),
        (_request(), _metrics({"ry": 30}, num_qubits=30), "automatic", ["16 GiB", "matrix_product_state"]),
        (
            _request(shots=2000, noise_model="FakeManilaV2"),
            _metrics(BELL_OPS, num_qubits=3),
            "automatic",
            ["FakeManilaV2", "2000 shots > 2^3", "density_matrix"],
        ),
        (
            _request(shots=4, noise_model="FakeManilaV2"),
            _metrics(BELL_OPS, num_qubits=3),
            "automatic",
            ["FakeManilaV2", "statevector", "trajectory"],
        ),
        (
            _request("estimator", noise_model="FakeManilaV2"),
            _metrics({"h": 1, "cx": 1}),
            "automatic",
            ["FakeManilaV2", "1024 estimator shots > 2^2", "density_matrix"],
        ),
        (
            _request("estimator", noise_model="FakeSherbrooke"),
            _metrics({"h": 1, "cx": 11}, num_qubits=12),
            "automatic",
            ["FakeSherbrooke", "statevector"],
        ),
        (_request(method="statevector"), _metrics(BELL_OPS), "statevector", ["method=statevector", "set in the job"]),
        (
            _request(method="stabilizer"),
            _metrics(T_OPS),
            "stabilizer",
            ["method=stabilizer", "set in the job", "non-Clifford instructions t"],
        ),
        (
            _request(method="density_matrix", noise_model="FakeManilaV2"),
            _metrics(BELL_OPS),
            "density_matrix",
            ["method=density_matrix", "FakeManilaV2"],
        ),
    ],
)
def test_choose_backend(request_: ExecutionRequest, metrics: CircuitMetrics, method: str, needles: list[str]) -> None:
    status = scheduling.choose_backend(request_, metrics)
    assert status.name == "aer" and status.method == method
    assert status.reason is not None and status.reason.startswith("spec.backend.aer.method=")
    assert "\n" not in status.reason
    for needle in needles:
        assert needle in status.reason, status.reason


@pytest.mark.parametrize(
    ("count_ops", "clifford"),
    [(BELL_OPS, True), ({"rz": 1}, False), ({"x": 1, "reset": 1, "delay": 1}, True), ({}, True), (T_OPS, False)],
)
def test_is_clifford(count_ops: dict[str, int], clifford: bool) -> None:
    assert scheduling.is_clifford(count_ops) is clifford


def test_run_step_writes_backend_json(tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps(_request().dump()))
    scheduling.run_step(request, json.dumps(_metrics(BELL_OPS).dump()), tmp_path / "out")
    status = BackendStatus.model_validate_json((tmp_path / "out" / "backend.json").read_text())
    assert status.name == "aer" and status.method == "automatic" and "stabilizer" in (status.reason or "")


def test_run_step_without_the_request(tmp_path: Path) -> None:
    with pytest.raises(TransientError) as caught:
        scheduling.run_step(tmp_path / "missing.json", "{}", tmp_path / "out")
    assert caught.value.reason == "MissingArtifact" and "missing.json" in str(caught.value)


@pytest.mark.parametrize("metrics", ["", "[]", '{"numQubits": "many"}'])
def test_run_step_with_bad_metrics(tmp_path: Path, metrics: str) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps(_request().dump()))
    with pytest.raises(InvalidJobError) as caught:
        scheduling.run_step(request, metrics, tmp_path / "out")
    assert "metrics parameter" in str(caught.value) and "\n" not in str(caught.value)
