"""The store-results step: the final ``results/`` directory and the status summary (executor image)."""

from __future__ import annotations

from pathlib import Path

from qiskit_argo.steps._contract import Resources, StepSpec

__all__ = ["store_results", "STEP"]


def store_results(result: Path, request: Path, metrics: str, backend: str, summary: str, out: Path) -> None:
    """Write the final ``results/`` directory (result, metrics, histogram), the status summary and
    ``checksum.json`` (the sha256 and size of ``results/result.json``)."""
    from qiskit_argo import results

    results.run_step(
        result_file=result,
        request_file=request,
        metrics_json=metrics,
        backend_json=backend,
        summary_json=summary,
        out_dir=out,
    )


STEP = StepSpec(
    name="store-results",
    function=store_results,
    component="executor",
    phase="Running",
    activity="Storing the results",
    input_artifacts={"result": "result.json", "request": "request.json"},
    input_parameters=("metrics", "backend", "summary"),
    output_artifacts={"results": "results"},
    # checksum.json: {"sha256", "size"} of results/result.json; the controller copies it into
    # status.resultLocation and `qiskit-argo results` verifies the download against it.
    output_parameters={"summary": "summary.json", "checksum": "checksum.json"},
    resources=Resources(requests={"cpu": "100m", "memory": "512Mi"}, limits={"cpu": "1", "memory": "2Gi"}),
    preload=("matplotlib.pyplot", "qiskit.visualization", "qiskit_argo.results"),
)
