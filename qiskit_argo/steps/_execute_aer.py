"""The execute-aer steps: run one shard of the PUBs on Qiskit Aer, in-process, no network.

One function, four declarations (``aer_step(gpu, cached)``): ``execute-aer`` and
``execute-aer-gpu`` (the ``executor-gpu`` image, one ``nvidia.com/gpu``), each also ``-cached``
(Argo ``memoize`` keyed by the schedule step's ``cache-key`` and the shard; the part is kept under
the cache prefix). The schedule step's ``executor`` output picks one: ``aer``, ``aer_cached``,
``aer_gpu``, ``aer_gpu_cached``. Each is fanned out over the schedule step's ``shards`` and writes
its shard's part (``PART_FILE``, ``part.json``) for store-results.
"""

from __future__ import annotations

from pathlib import Path

from qiskit_argo.steps._contract import (
    CACHE_KEY_PARAMETER,
    EGRESS_NONE,
    GPU_RESOURCE,
    SEMAPHORE_PARAMETER,
    SHARD_PARAMETER,
    Condition,
    FanOut,
    Part,
    Resources,
    StepSpec,
    shards_parameter,
)

__all__ = ["execute_aer", "aer_step", "STEP", "STEP_CACHED", "STEP_GPU", "STEP_GPU_CACHED", "STEPS"]


def execute_aer(
    circuit: Path,
    request: Path,
    bindings: Path,
    backend: str,
    target: str,
    semaphore: str,
    shard: str,
    out: Path,
    cache_key: str | None = None,
) -> None:
    """Run shard ``shard`` (``"1-of-4"``) of the PUBs on Qiskit Aer with the options the schedule
    step settled on (``target``: an aer QiskitBackend's defaults under the job's own; ``{}`` for
    the built-in Aer) and write ``out/part.json``. ``semaphore`` is the concurrency slot Argo holds
    for the step (the QiskitBackend's ``maxConcurrentJobs``) and ``cache_key`` names the Argo
    memoization entry; the step itself reads neither. Progress (``0/M`` .. ``M/M`` bindings) goes
    to ``ARGO_PROGRESS_FILE``."""
    from qiskit_argo import execution

    execution.run_step(
        circuit_file=circuit,
        request_file=request,
        bindings_dir=bindings,
        backend_json=backend,
        shard=shard,
        out_dir=out,
        target_json=target,
    )


_CPU = Resources(requests={"cpu": "1", "memory": "1Gi"}, limits={"cpu": "2", "memory": "4Gi"})
#: A GPU variant asks for what the CPU one does and one GPU.
_GPU = Resources(
    requests={**_CPU.requests, GPU_RESOURCE: "1"},
    limits={**_CPU.limits, GPU_RESOURCE: "1"},
)


def aer_step(gpu: bool, cached: bool) -> StepSpec:
    """The declaration of one execute-aer variant (name, image, ``when`` word, GPU resources, memoize)."""
    name = "execute-aer" + ("-gpu" if gpu else "") + ("-cached" if cached else "")
    word = "aer" + ("_gpu" if gpu else "") + ("_cached" if cached else "")
    parameters: tuple[str, ...] = ("backend", "target", SEMAPHORE_PARAMETER, SHARD_PARAMETER)
    if cached:
        parameters += (CACHE_KEY_PARAMETER,)
    return StepSpec(
        name=name,
        function=execute_aer,
        component="executor-gpu" if gpu else "executor",
        phase="Running",
        activity="Running the circuit" + (" on a GPU" if gpu else ""),
        shows_backend=True,
        input_artifacts={"circuit": "circuit.qpy", "request": "request.json", "bindings": "bindings"},
        input_parameters=parameters,
        when=Condition("executor", word),
        resources=_GPU if gpu else _CPU,
        job_resources=True,
        egress=EGRESS_NONE,
        semaphore=True,
        preload=("qiskit_aer.primitives", "qiskit_argo.execution"),
        # A local run warms no GPU worker ahead: its imports would slow every other run, on a
        # machine that rarely has a GPU (a GPU job's worker imports them when it starts).
        warm=not gpu,
        fan_out=FanOut(shards_parameter(word), SHARD_PARAMETER),
        part=Part(cached=cached),
        memoize=cached,
    )


STEP = aer_step(gpu=False, cached=False)
STEP_CACHED = aer_step(gpu=False, cached=True)
STEP_GPU = aer_step(gpu=True, cached=False)
STEP_GPU_CACHED = aer_step(gpu=True, cached=True)
#: The four, in registry order.
STEPS = (STEP, STEP_CACHED, STEP_GPU, STEP_GPU_CACHED)
