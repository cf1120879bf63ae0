"""A made-up third executor, registered only here: proof that the DAG branches on a step's output.

``REGISTRY`` is the real step registry plus ``execute-fake`` (after the four Aer variants, before
the IBM pair: ``when`` the schedule step's ``executor`` is ``fake``) and with a schedule step that,
when ``QISKIT_ARGO_TEST_EXECUTOR`` is set, writes that executor word over the real one's choice
(with ``scheduling.write_choice``, so every Aer variant's shard list agrees: the chosen variant's
shards, ``[]`` for the others). ``execute-fake`` is not fanned out: like ibm-wait it writes the
run's one part (``SINGLE_PART``, ``0-of-1``), a valid version-3 part built the way the real
executors build theirs (``execution.part_header``, ``pub_result_entry``, ``write_part``), without
running anything: every shot of every register reads ``mark_bits`` (clbit 0 set: ``01`` for the
Bell pair, which no Bell measurement gives) and the part's metadata says ``"executor": "fake"``,
so a test can tell which branch's part store-results merged.

A step worker that must run these steps preloads ``tests.support.fake_executor_worker``, which
points the worker's ``qiskit-argo-step`` at ``REGISTRY``; importing this module changes nothing.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from qiskit_argo import scheduling
from qiskit_argo.steps import SINGLE_PART, STEPS, Condition, Part, schedule

__all__ = ["EXECUTOR_VARIABLE", "FAKE_WORD", "MARK", "mark_bits", "FAKE", "REGISTRY", "WORKER_MODULE"]

EXECUTOR_VARIABLE = "QISKIT_ARGO_TEST_EXECUTOR"
#: The ``executor`` word execute-fake answers.
FAKE_WORD = "fake"
#: What the fake's part metadata (and so the merged ``result.json`` metadata) says under ``executor``.
MARK = "fake"
WORKER_MODULE = "tests.support.fake_executor_worker"


def mark_bits(num_bits: int) -> str:
    """The bitstring every shot of a ``num_bits`` register reads on the fake executor (clbit 0 set)."""
    return format(1, f"0{num_bits}b")


def schedule_for_tests(request: Path, catalogue: Path, metrics: str, reserved: str, out: Path) -> None:
    """The real schedule step (choice, estimate, budget check); then, when the test names an
    executor, that word, written as the real step writes its choice: the chosen Aer variant gets
    the shards and every other ``[]``; a word without ``_cached`` has no cache key; the fake
    executor writes one part, so its run is one shard."""
    schedule(request, catalogue, metrics, reserved, out)
    word = os.environ.get(EXECUTOR_VARIABLE)
    if word is None:
        return
    from qiskit_argo.api import CircuitMetrics
    from qiskit_argo.stepio import load_request, parse_parameter

    loaded = load_request(request)
    choice = scheduling.choose(
        loaded, parse_parameter(CircuitMetrics, metrics, "metrics"), scheduling.load_catalogue_file(catalogue)
    )
    run = scheduling.plan_run(choice, loaded)
    run = dataclasses.replace(
        run,
        executor=word,
        shards=(SINGLE_PART,) if word == FAKE_WORD else run.shards,
        cache_key=run.cache_key if word.endswith("_cached") else None,
    )
    scheduling.write_choice(choice, out, run)


def execute_fake(circuit: Path, request: Path, backend: str, target: str, semaphore: str, out: Path) -> None:
    """Write the run's one part (``0-of-1``, every PUB's rows) as an executor would, every shot
    reading ``mark_bits``; sampler jobs only."""
    import numpy as np
    from qiskit.primitives.containers import BitArray, DataBin, SamplerPubResult

    from qiskit_argo import execution, sharding
    from qiskit_argo.api import BackendStatus
    from qiskit_argo.stepio import load_request, parse_parameter, read_artifact

    loaded = load_request(request)
    if loaded.primitive != "sampler":
        raise ValueError(f"execute-fake runs sampler jobs only, not the {loaded.primitive}")
    circuits = execution.load_circuits(read_artifact(circuit, "circuit"))
    (slices,) = sharding.plan([pub.num_bindings for pub in loaded.pubs], 1)
    entries = []
    for piece in slices:
        pub = loaded.pubs[piece.pub]
        rows, shots = piece.stop - piece.start, pub.shots or execution.DEFAULT_SHOTS
        registers = {}
        for register in circuits[pub.circuit].cregs:
            samples = np.zeros((rows, shots, (register.size + 7) // 8), dtype=np.uint8)
            samples[..., -1] = 1  # big-endian bytes: clbit 0 is the last byte's lowest bit
            registers[register.name] = BitArray(samples, register.size)
        result = SamplerPubResult(DataBin(**registers, shape=(rows,)), metadata={"shots": shots})
        entries.append(execution.pub_result_entry(piece.pub, piece.start, piece.stop, result, loaded.primitive))
    status = parse_parameter(BackendStatus, backend, "backend")
    document = execution.part_header(loaded, status, shard=SINGLE_PART, seed=None)
    document["pub_results"] = entries
    document["metadata"] = {"executor": MARK, "transpiled": False, "optimization_level": None, **execution.versions()}
    execution.write_part(out, document)


_AER = STEPS["execute-aer"]
FAKE = dataclasses.replace(
    _AER,
    name="execute-fake",
    function=execute_fake,
    activity="Running the circuit on the fake executor",
    input_artifacts={"circuit": "circuit.qpy", "request": "request.json"},
    input_parameters=("backend", "target", "semaphore"),
    when=Condition("executor", FAKE_WORD),
    fan_out=None,
    part=Part(cached=False, shard_parameter=None),
    memoize=False,
    job_resources=False,
)
REGISTRY = STEPS.with_step(dataclasses.replace(STEPS["schedule"], function=schedule_for_tests)).with_step(
    FAKE, after="execute-aer-gpu-cached"
)
