"""Artifacts laid out as Argo's executor stores them, and the store-results step's real output.

* ``argo_tgz(directory)``: the tar.gz Argo's executor makes of a directory output (argo-workflows
  v4.1.2 ``util/archive/archive.go`` ``TarGzToWriter``/``tarDir``: entries named
  ``<base name>/<relative path>``, the directory itself first as ``<base name>``).
* keys: ``<keyFormat>/<file>`` (``workflow/executor/executor.go`` ``saveArtifactFromFile``), the
  key format defaulting to ``{{workflow.name}}/{{pod.name}}`` (``DefaultArchivePattern`` in
  ``pkg/apis/workflow/v1alpha1/artifact_repository_types.go``), the file ``<artifact>.tgz``
  (``stageArchiveFile``); ``tests.argo_fake.ArgoFake`` records exactly that in the node outputs.
* ``sweep_document()``: a 20-qubit sampler sweep's result.json (the shape ``qiskit_argo.execution``
  writes), a little over 10 MB; ``store_results(...)`` runs the real store-results step on it.
"""

from __future__ import annotations

import io
import json
import os
import random
import tarfile
from pathlib import Path
from typing import Any

from qiskit_argo import results
from qiskit_argo.api import ResultSummary
from qiskit_argo.request import ExecutionRequest
from tests.argo_fake import BACKEND_JSON, METRICS_JSON

QUBITS = 20
BINDINGS = 44
SHOTS = 10_000
TEN_MB = 10 * 1000 * 1000


def sweep_document(seed: int = 7) -> dict[str, Any]:
    """A 20-qubit sampler sweep over one angle: ``BINDINGS`` bindings of ``SHOTS`` shots each, the
    counts of a noisy GHZ-like state (mostly all-0/all-1, the rest spread over 2**20 outcomes)."""
    rng = random.Random(seed)
    thetas = [round(i * 3.14159 / (BINDINGS - 1), 6) for i in range(BINDINGS)]
    counts: list[dict[str, int]] = []
    for theta in thetas:
        tally: dict[str, int] = {}
        coherent = 0.05 + 0.1 * abs(theta - 1.57)
        for _ in range(SHOTS):
            draw = rng.random()
            if draw < coherent / 2:
                outcome = 0
            elif draw < coherent:
                outcome = (1 << QUBITS) - 1
            else:
                outcome = rng.getrandbits(QUBITS)
            key = format(outcome, f"0{QUBITS}b")
            tally[key] = tally.get(key, 0) + 1
        counts.append(tally)
    return {
        "primitive": "sampler",
        "job": {"name": "sweep-20q", "namespace": "lab"},
        "backend": {"name": "aer", "method": "matrix_product_state", "noise_model": None, "seed": seed},
        "pubs": [
            {
                "parameter_names": ["theta"],
                "parameter_values": [[t] for t in thetas],
                "num_bindings": BINDINGS,
                "shots": SHOTS,
            }
        ],
        "pub_results": [
            {
                "data": {"meas": {"num_bits": QUBITS, "num_shots": SHOTS, "counts": counts}},
                "metadata": {"shots": SHOTS},
            }
        ],
        "metadata": {"version": 2, "transpiled": True, "optimization_level": 1, "qiskit_version": "2.1.0"},
    }


def store_results(tmp: Path, document: dict[str, Any]) -> Path:
    """Run the real store-results step on ``document``; the step's output directory (``results/``,
    ``summary.json``, ``checksum.json``)."""
    tmp.mkdir(parents=True, exist_ok=True)
    result_file, request_file = tmp / "result.json", tmp / "request.json"
    result_file.write_text(json.dumps(document))
    pub = document["pubs"][0]
    request = ExecutionRequest(
        job_name=document["job"]["name"],
        namespace=document["job"]["namespace"],
        primitive="sampler",
        shots=SHOTS,
        parameter_names=pub["parameter_names"],
        parameter_values=pub["parameter_values"],
    )
    request_file.write_text(json.dumps(request.dump()))
    summary = ResultSummary(primitive="sampler", num_pubs=1, shots=SHOTS, truncated=True)
    out = tmp / "outputs"
    results.run_step(result_file, request_file, METRICS_JSON, BACKEND_JSON, json.dumps(summary.dump()), out)
    return out


def argo_tgz(directory: Path) -> bytes:
    """``directory`` as Argo's executor archives a directory output (``tarDir``, at
    ``gzip.DefaultCompression``: level 6)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6) as archive:
        base = directory.name
        archive.add(directory, arcname=base, recursive=False)
        for root, dirs, files in os.walk(directory):
            dirs.sort()
            for name in sorted(files):
                path = Path(root) / name
                archive.add(path, arcname=f"{base}/{path.relative_to(directory).as_posix()}")
    return buffer.getvalue()


def repack(files: dict[str, bytes], base: str = "results") -> bytes:
    """A tgz in Argo's layout holding ``files`` (to make a damaged object)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as archive:
        top = tarfile.TarInfo(base)
        top.type = tarfile.DIRTYPE
        archive.addfile(top)
        for name, data in files.items():
            info = tarfile.TarInfo(f"{base}/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
