"""The store-results step: results/ (result, metrics, histogram) and the status summary."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from qiskit_argo import results
from qiskit_argo.api import AerOptions, BackendStatus, CircuitMetrics, Observable, ResultSummary
from qiskit_argo.errors import InvalidJobError, PermanentError
from qiskit_argo.request import ExecutionRequest

PNG = b"\x89PNG\r\n\x1a\n"
BACKEND = BackendStatus(name="aer", method="automatic", reason="spec.backend.aer.method=automatic: test")
METRICS = CircuitMetrics(num_qubits=2, num_clbits=2, depth=3, size=4, count_ops={"h": 1, "cx": 1, "measure": 2})


def _sampler_document(bindings: int, names: list[str], registers: int = 1, outcomes: int = 2) -> dict[str, Any]:
    rows = [[0.1 * b] * len(names) for b in range(bindings)] if names else []
    keys = [format(i, "06b") for i in range(outcomes)]
    counts = [{key: 10 + b + i for i, key in enumerate(keys)} for b in range(max(bindings, 1))]
    data = {f"c{r}": {"num_bits": 6, "num_shots": sum(counts[0].values()), "counts": counts} for r in range(registers)}
    return {
        "primitive": "sampler",
        "job": {"name": "demo", "namespace": "default"},
        "backend": {"name": "aer", "method": "automatic", "noise_model": None, "seed": 1},
        "pubs": [{"parameter_names": names, "parameter_values": rows, "num_bindings": max(bindings, 1), "shots": 100}],
        "pub_results": [{"data": data, "metadata": {"shots": 100}}],
        "metadata": {"version": 2, "transpiled": False, "optimization_level": None, "qiskit_version": "2"},
    }


def _estimator_document(bindings: int, observables: int) -> dict[str, Any]:
    names = ["theta"] if bindings > 1 else []
    rows = [[0.1 * b] for b in range(bindings)] if bindings > 1 else []
    evs = [[(b - o) / 10 for o in range(observables)] for b in range(bindings)]
    return {
        "primitive": "estimator",
        "job": {"name": "est", "namespace": "default"},
        "backend": {"name": "aer", "method": "automatic", "noise_model": None, "seed": 1},
        "pubs": [
            {
                "parameter_names": names,
                "parameter_values": rows,
                "num_bindings": bindings,
                "precision": 0.01,
                "observables": [{"Z" * 2: 1.0, "XX": 0.5} if o % 2 else {"ZI": 1.0} for o in range(observables)],
            }
        ],
        "pub_results": [{"data": {"evs": evs, "stds": [[0.01] * observables] * bindings}, "metadata": {}}],
        "metadata": {"version": 2, "transpiled": True, "optimization_level": 1},
    }


@pytest.mark.parametrize(
    ("names", "values", "index", "label"),
    [
        (["theta"], [[0.5], [1.25]], 1, "theta=1.25"),
        (["a", "b"], [[0.5, 2.0]], 0, "a=0.5, b=2"),
        (["a", "b", "c"], [[1, 2, 3]], 0, "binding 0"),
        ([], [], 0, "binding 0"),
    ],
)
def test_binding_label(names: list[str], values: list[list[float]], index: int, label: str) -> None:
    assert results.binding_label(names, values, index) == label


@pytest.mark.parametrize(("bindings", "shown"), [(0, 1), (1, 1), (3, 3), (50, results.HISTOGRAM_BINDINGS)])
def test_histogram_series_shows_the_first_bindings(bindings: int, shown: int) -> None:
    register, counts, labels = results.histogram_series(_sampler_document(bindings, ["theta"] if bindings else []))
    assert register == "c0" and len(counts) == len(labels) == shown
    if bindings > 1:
        assert labels[1] == "theta=0.1"


def test_estimator_series() -> None:
    labels, evs, stds = results.estimator_series(_estimator_document(3, 2))
    assert labels == ["ZI", "ZZ + 0.5·XX"] and len(evs) == len(stds) == 3


def test_metrics_document() -> None:
    document = _sampler_document(1, [])
    request = ExecutionRequest(job_name="demo", primitive="sampler", shots=100, aer=AerOptions(seed=1))
    summary = ResultSummary(primitive="sampler", num_pubs=1, shots=100, top_counts={"000000": 10})
    facts = results.metrics_document(
        request=request,
        metrics=METRICS,
        backend=BACKEND,
        summary=summary,
        result=document,
        result_bytes=123,
        result_sha256="ab",
        stored_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    assert facts["circuit"]["numQubits"] == 2 and facts["backend"]["reason"].startswith("spec.backend")
    assert facts["summary"]["topCounts"] == {"000000": 10}
    assert facts["run"] == {
        "numBindings": 1,
        "parameterNames": [],
        "optimizationLevel": 1,
        "transpiled": False,
        "seed": 1,
        "qiskitVersion": "2",
        "shots": 100,
    }
    assert facts["files"]["result"] == {"path": "result.json", "bytes": 123, "sha256": "ab"}
    assert facts["storedAt"] == "2026-01-02T03:04:05Z"


def _step(tmp_path: Path, document: dict[str, Any], request: ExecutionRequest, summary: ResultSummary) -> Path:
    result_file, request_file = tmp_path / "result.json", tmp_path / "request.json"
    result_file.write_text(json.dumps(document))
    request_file.write_text(json.dumps(request.dump()))
    out = tmp_path / "out"
    results.run_step(
        result_file,
        request_file,
        json.dumps(METRICS.dump()),
        json.dumps(BACKEND.dump()),
        json.dumps(summary.dump()),
        out,
    )
    return out


@pytest.mark.parametrize(
    "document",
    [
        _sampler_document(1, []),
        _sampler_document(8, ["theta"]),
        _sampler_document(1, [], registers=2, outcomes=40),  # many outcomes: top ones and "rest"
        _estimator_document(1, 3),
        _estimator_document(12, 10),  # a sweep of many observables: lines, first 8
    ],
    ids=["sampler", "sampler-sweep", "sampler-wide", "estimator", "estimator-sweep"],
)
def test_run_step_writes_the_results_directory(tmp_path: Path, document: dict[str, Any]) -> None:
    primitive = document["primitive"]
    pub = document["pubs"][0]
    request = ExecutionRequest(
        job_name=document["job"]["name"],
        primitive=primitive,
        shots=100 if primitive == "sampler" else None,
        precision=0.01 if primitive == "estimator" else None,
        observables=[Observable(paulis=o) for o in pub.get("observables", [])] or None,
        parameter_names=pub["parameter_names"],
        parameter_values=pub["parameter_values"],
    )
    summary = ResultSummary(primitive=primitive, num_pubs=1, truncated=True)
    out = _step(tmp_path, document, request, summary)
    folder = out / results.RESULTS_DIR
    assert sorted(p.name for p in folder.iterdir()) == ["histogram.png", "metrics.json", "result.json"]
    assert (folder / "histogram.png").read_bytes().startswith(PNG)
    raw = (tmp_path / "result.json").read_bytes()
    assert (folder / "result.json").read_bytes() == raw
    facts = json.loads((folder / "metrics.json").read_text())
    assert facts["files"]["result"]["sha256"] == hashlib.sha256(raw).hexdigest()
    assert facts["primitive"] == primitive and facts["backend"]["name"] == "aer"
    assert ResultSummary.model_validate_json((out / "summary.json").read_text()) == summary


def test_run_step_with_a_corrupt_result(tmp_path: Path) -> None:
    (tmp_path / "result.json").write_text("{not json")
    with pytest.raises(PermanentError) as caught:
        results.run_step(tmp_path / "result.json", tmp_path / "request.json", "{}", "{}", "{}", tmp_path / "out")
    assert caught.value.reason == "CorruptResult" and "\n" not in str(caught.value)


def test_run_step_with_a_bad_summary(tmp_path: Path) -> None:
    request = ExecutionRequest(job_name="demo", primitive="sampler", shots=100)
    with pytest.raises(InvalidJobError) as caught:
        results.run_step(
            _write(tmp_path / "result.json", _sampler_document(1, [])),
            _write(tmp_path / "request.json", request.dump()),
            json.dumps(METRICS.dump()),
            json.dumps(BACKEND.dump()),
            '{"primitive": "sampler"}',
            tmp_path / "out",
        )
    assert "summary parameter" in str(caught.value)


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path
