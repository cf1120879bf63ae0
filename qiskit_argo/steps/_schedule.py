"""The schedule step: choose the backend from the catalogue and say why, and which executor runs
the job, where, in how many shards, under which cache key, with which credentials and under which
semaphore (validator image)."""

from __future__ import annotations

from pathlib import Path

from qiskit_argo.steps._contract import AER_EXECUTORS, CACHE_KEY_PARAMETER, SHARDS_PARAMETER, StepSpec, shards_parameter

__all__ = ["schedule", "STEP"]


def schedule(request: Path, catalogue: Path, metrics: str, reserved: str, out: Path) -> None:
    """Choose the backend (and Aer's method) from the catalogue; write ``backend.json`` with the
    reason, ``executor`` (the word the execute steps' ``when`` compares: ``ibm``, or ``aer`` with
    ``_gpu`` on a GPU and ``_cached`` when cacheable), the ``target``, the ``credentials-secret`` /
    ``credentials-key`` to mount, the ``semaphore`` key, ``shards`` (a JSON list of shard ids),
    ``cache-key`` (``none`` when not cacheable) and ``estimate.json``; fail with ``BudgetExceeded``
    when the estimate is above ``reserved`` (the controller's reservation, ``{}`` without a budget)."""
    from qiskit_argo import scheduling

    scheduling.run_step(
        request_file=request, metrics_json=metrics, out_dir=out, catalogue_file=catalogue, reserved_json=reserved
    )


STEP = StepSpec(
    name="schedule",
    function=schedule,
    component="validator",
    phase="Scheduling",
    activity="Choosing a backend",
    input_artifacts={"request": "request.json", "catalogue": "catalogue.json"},
    input_parameters=("metrics", "reserved"),
    output_parameters={
        "backend": "backend.json",
        "executor": "executor.txt",
        "target": "target.json",
        "credentials-secret": "credentials-secret.txt",
        "credentials-key": "credentials-key.txt",
        "semaphore": "semaphore.txt",
        "estimate": "estimate.json",
        SHARDS_PARAMETER: "shards.json",
        **{shards_parameter(word): f"{shards_parameter(word)}.json" for word in AER_EXECUTORS},
        CACHE_KEY_PARAMETER: "cache-key.txt",
    },
    preload=("qiskit_argo.scheduling",),
)
