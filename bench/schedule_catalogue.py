"""Benchmark: the schedule step choosing from a catalogue of 50 QiskitBackends.

    python bench/schedule_catalogue.py [--backends 50] [--repeats 200] [--processes 5]

The catalogue is what a busy namespace could hold: IBM backends (real and local-testing fakes,
probed, some disabled or not ready, priced) and aer entries, made into a snapshot exactly as the
controller does (``catalogue.snapshot``) and written as the step's ``catalogue.json``. Three
figures, each the median of many runs, printed (no assertion on time: the machine decides):

1. ``choose``: the pure decision for a selector that has to look at every entry (type, width,
   minQubits, maxPrice by estimated cost, preference), in-process;
2. the step in-process (``scheduling.run_step``: read request.json and catalogue.json, parse the
   metrics, choose, write the output files: backend, executor, target, shards, cache key, estimate...);
3. the step as a pod runs it: a new ``qiskit-argo-step schedule`` process, imports cold.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from qiskit_argo import scheduling
from qiskit_argo.api import BackendSelector, CircuitMetrics, QiskitBackend
from qiskit_argo.catalogue import Catalogue, snapshot
from qiskit_argo.request import ExecutionRequest, PubRequest

STEP = Path(sys.executable).parent / "qiskit-argo-step"


def backends(count: int) -> list[QiskitBackend]:
    """``count`` QiskitBackends: every fifth aer, the rest IBM (every third a fake), with varied
    qubits, queues, prices and states."""
    made = []
    for index in range(count):
        name = f"backend-{index:03}"
        spec: dict[str, object]
        if index % 5 == 0:
            spec = {"type": "aer", "aer": {"method": "automatic", "seed": index}}
        elif index % 3 == 0:
            spec = {"type": "ibm", "fakeBackend": "fake_sherbrooke", "maxConcurrentJobs": 2}
        else:
            spec = {
                "type": "ibm",
                "backend": f"ibm_device_{index}",
                "credentialsSecretRef": {"name": "ibm-quantum", "key": "api-key"},
                "cost": {"perQuantumSecond": f"{1 + index % 7}.{index % 10}0", "perJob": "0.10"},
                "maxConcurrentJobs": 1 + index % 4,
                "enabled": index % 11 != 1,
            }
        phase = "NotReady" if index % 13 == 2 else "Ready"
        status = {
            "phase": phase,
            "capabilities": {"numQubits": 27 + 10 * (index % 12), "pendingJobs": (index * 7) % 50},
        }
        made.append(
            QiskitBackend.model_validate(
                {
                    "apiVersion": "qiskit-argo.io/v1alpha1",
                    "kind": "QiskitBackend",
                    "metadata": {"name": name, "namespace": "team"},
                    "spec": spec,
                    "status": status,
                }
            )
        )
    return made


def median(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=200, help="runs of the in-process figures")
    parser.add_argument("--processes", type=int, default=5, help="runs of the new-process figure (0: skip)")
    args = parser.parse_args()

    catalogue: Catalogue = snapshot(backends(args.backends))
    request = ExecutionRequest(
        job_name="bench",
        namespace="team",
        primitive="sampler",
        pubs=[PubRequest(circuit=0, shots=4000)],
        selector=BackendSelector(
            type="ibm", min_qubits=60, max_price="50", preference=["backend-047", "backend-031", "backend-missing"]
        ),
    )
    metrics = CircuitMetrics(num_qubits=40, depth=120, size=900, count_ops={"rz": 400, "sx": 300, "cx": 160})
    choice = scheduling.choose(request, metrics, catalogue)
    print(f"catalogue: {len(catalogue.entries)} backends; chose {choice.backend.name} ({choice.executor}), "
          f"{len(choice.backend.rejected)} rejected")  # fmt: skip
    print(f"reason: {choice.backend.reason}")

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "request.json").write_text(json.dumps(request.dump()))
        (work / "catalogue.json").write_text(json.dumps(catalogue.dump()))
        metrics_json = json.dumps(metrics.dump())
        print(f"catalogue.json: {(work / 'catalogue.json').stat().st_size:,} bytes")

        chose = median(lambda: scheduling.choose(request, metrics, catalogue), args.repeats)
        step = median(
            lambda: scheduling.run_step(work / "request.json", metrics_json, work / "out", work / "catalogue.json"),
            args.repeats,
        )
        print(f"choose (in-process), median of {args.repeats}: {chose * 1e3:.3f} ms")
        print(f"schedule step (in-process: files in, choice, files out), median of {args.repeats}: {step * 1e3:.3f} ms")
        if args.processes:
            argv = [str(STEP), "schedule", "--request", str(work / "request.json")]
            argv += ["--catalogue", str(work / "catalogue.json"), "--metrics", metrics_json, "--reserved", "{}"]
            argv += ["--out", str(work / "p")]
            process = median(lambda: subprocess.run(argv, check=True), args.processes)
            print(f"schedule step (new qiskit-argo-step process), median of {args.processes}: {process:.3f} s")


if __name__ == "__main__":
    main()
