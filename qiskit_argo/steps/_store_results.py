"""The store-results step: merge the parts into ``results/`` and the status summary (executor image)."""

from __future__ import annotations

from pathlib import Path

from qiskit_argo.steps._contract import CACHE_KEY_PARAMETER, SHARDS_PARAMETER, Resources, StepSpec

__all__ = ["store_results", "STEP"]


def store_results(
    request: Path,
    bindings: Path,
    metrics: str,
    backend: str,
    shards: str,
    cache_key: str,
    parts: Path | None,
    cached_parts: Path | None,
    out: Path,
) -> None:
    """Merge the execute steps' parts (``parts``, or ``cached_parts`` when a cached run's parts are
    all there) in shard order and write the final ``results/`` directory (result, metrics,
    histogram), the status summary and ``checksum.json`` (the sha256 and size of
    ``results/result.json``). ``bindings`` (validate's) gives ``result.json`` the rows of the PUBs
    whose values were inline in the spec."""
    from qiskit_argo import results

    results.run_step(
        request_file=request,
        bindings_dir=bindings,
        metrics_json=metrics,
        backend_json=backend,
        shards_json=shards,
        cache_key=cache_key,
        parts_dir=parts,
        cached_parts_dir=cached_parts,
        out_dir=out,
    )


STEP = StepSpec(
    name="store-results",
    function=store_results,
    component="executor",
    phase="Running",
    activity="Storing the results",
    input_artifacts={"request": "request.json", "bindings": "bindings"},
    input_parameters=("metrics", "backend", SHARDS_PARAMETER, CACHE_KEY_PARAMETER),
    output_artifacts={"results": "results"},
    # summary.json: the bounded ResultSummary (per PUB) the controller copies into the status;
    # checksum.json: {"sha256", "size"} of results/result.json; the controller copies it into
    # status.resultLocation and `qiskit-argo results` verifies the download against it.
    output_parameters={"summary": "summary.json", "checksum": "checksum.json"},
    resources=Resources(requests={"cpu": "100m", "memory": "512Mi"}, limits={"cpu": "1", "memory": "2Gi"}),
    preload=("matplotlib.pyplot", "qiskit.visualization", "qiskit_argo.results"),
    gathers_parts=True,
)
