"""Aer on a GPU against Aer on the CPU cores: bare ``SamplerV2``, statevector, same circuit and seed.

    python bench/gpu.py [--qubits 24,28,32] [--shots 1000] [--cpu-max 28]

For each width: the layered circuit of ``examples/gpu.yaml`` (H on every qubit, then a CX + Rz
ladder), 1000 shots, seed 28, run once to warm up and then timed on ``device="GPU"`` and (up to
``--cpu-max`` qubits) on ``device="CPU"`` with every core; the counts of the two must be equal.
Without a GPU Qiskit Aer can use (qiskit-aer-gpu and an NVIDIA driver) it says so and exits 0,
having measured nothing, so ``make bench`` runs anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"
SEED = 28


def circuit(num_qubits: int) -> Any:
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(num_qubits)
    qc.h(range(num_qubits))
    for q in range(num_qubits - 1):
        qc.cx(q, q + 1)
        qc.rz(0.1, q + 1)
    qc.measure_all()
    return qc


def timed(device: str, qc: Any, shots: int) -> tuple[float, dict[str, int]]:
    from qiskit_aer import AerSimulator
    from qiskit_aer.primitives import SamplerV2

    backend = AerSimulator(method="statevector", device=device)
    sampler = SamplerV2.from_backend(backend, seed=SEED)
    sampler.run([(qc, None, shots)]).result()  # warm-up: allocation, kernels
    start = time.perf_counter()
    data = sampler.run([(qc, None, shots)]).result()[0].data
    seconds = time.perf_counter() - start
    return seconds, next(iter(data.values())).get_counts()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--qubits", default="24,28,32")
    parser.add_argument("--shots", type=int, default=1000)
    parser.add_argument("--cpu-max", type=int, default=28, help="widest circuit also timed on the CPU")
    args = parser.parse_args()
    from qiskit_aer import AerSimulator

    devices = AerSimulator().available_devices()
    if "GPU" not in devices:
        print(f"no GPU Qiskit Aer can use here (available devices: {', '.join(devices)}); nothing measured")
        return
    rows = []
    for width in (int(w) for w in args.qubits.split(",")):
        qc = circuit(width)
        gpu_s, gpu_counts = timed("GPU", qc, args.shots)
        row: dict[str, Any] = {"qubits": width, "gpu_s": gpu_s}
        if width <= args.cpu_max:
            cpu_s, cpu_counts = timed("CPU", qc, args.shots)
            row |= {"cpu_s": cpu_s, "counts_equal": cpu_counts == gpu_counts}
        rows.append(row)
        print(json.dumps(row))
    print(f"| qubits | GPU | CPU ({os.cpu_count() or 0} cores) | counts equal |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        cpu = f"{row['cpu_s']:.2f} s" if "cpu_s" in row else "—"
        print(f"| {row['qubits']} | {row['gpu_s']:.2f} s | {cpu} | {row.get('counts_equal', '—')} |")
    OUT.mkdir(exist_ok=True)
    (OUT / "gpu.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
