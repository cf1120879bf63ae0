"""Artifacts laid out as Argo's executor stores them, and the store-results step's real output.

* ``argo_tgz(directory)``: the tar.gz Argo's executor makes of a directory output (argo-workflows
  v4.1.2 ``util/archive/archive.go`` ``TarGzToWriter``/``tarDir``: entries named
  ``<base name>/<relative path>``, the directory itself first as ``<base name>``).
* keys: ``<keyFormat>/<file>`` (``workflow/executor/executor.go`` ``saveArtifactFromFile``), the
  key format defaulting to ``{{workflow.name}}/{{pod.name}}`` (``DefaultArchivePattern`` in
  ``pkg/apis/workflow/v1alpha1/artifact_repository_types.go``), the file ``<artifact>.tgz``
  (``stageArchiveFile``); ``tests.argo_fake.ArgoFake`` records exactly that in the node outputs.
* ``sweep_part()``: the one part (``0-of-1.json``, version 3, the shape ``qiskit_argo.execution``
  writes) of a 20-qubit sampler sweep, a little over 10 MB; ``store_results(...)`` lays it out in a
  ``parts`` directory beside the request and the ``bindings`` directory (``sweeps.write_bindings``)
  and runs the real store-results step on it.
"""

from __future__ import annotations

import io
import json
import os
import random
import tarfile
from pathlib import Path
from typing import Any

from qiskit_argo import execution, results, sharding, sweeps
from qiskit_argo.api import AerOptions, BackendStatus
from qiskit_argo.request import ExecutionRequest, PubRequest
from qiskit_argo.steps._contract import NO_CACHE_KEY
from tests.argo_fake import BACKEND_JSON, METRICS_JSON

QUBITS = 20
BINDINGS = 48  # compact result.json (version 3): 48 x 10_000 shots is a little over 10 MB
SHOTS = 10_000
TEN_MB = 10 * 1000 * 1000
#: The sweep runs unsharded: its one part.
SHARD = "0-of-1"


def sweep_thetas() -> list[float]:
    """The sweep's ``BINDINGS`` angles, in binding order."""
    return [round(i * 3.14159 / (BINDINGS - 1), 6) for i in range(BINDINGS)]


def sweep_request(seed: int = 7) -> ExecutionRequest:
    """The validate step's request for the sweep: one inline-valued PUB of ``BINDINGS`` bindings, one shard."""
    return ExecutionRequest(
        job_name="sweep-20q",
        namespace="lab",
        primitive="sampler",
        pubs=[
            PubRequest(
                circuit=0,
                parameter_names=["theta"],
                num_bindings=BINDINGS,
                values=sweeps.values_file(0),
                values_from={"inline": True, "sha256": sweeps.values_sha256([[t] for t in sweep_thetas()])},
                shots=SHOTS,
            )
        ],
        aer=AerOptions(method="matrix_product_state", seed=seed),
    )


def sweep_part(seed: int = 7) -> dict[str, Any]:
    """The one part (shard ``0-of-1``, version 3, the shape ``qiskit_argo.execution`` writes) of a
    20-qubit sampler sweep over one angle: ``BINDINGS`` bindings of ``SHOTS`` shots each, the counts
    of a noisy GHZ-like state (mostly all-0/all-1, the rest spread over 2**20 outcomes)."""
    rng = random.Random(seed)
    counts: list[dict[str, int]] = []
    for theta in sweep_thetas():
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
    request = sweep_request(seed)
    backend = BackendStatus(name="aer", type="aer", method="matrix_product_state")
    part = execution.part_header(request, backend, shard=SHARD, seed=sharding.shard_seed(seed, 0))
    part["pub_results"] = [
        {
            "pub": 0,
            "start": 0,
            "stop": BINDINGS,
            "data": {"meas": {"num_bits": QUBITS, "num_shots": SHOTS, "counts": counts}},
            "metadata": {"shots": SHOTS},
        }
    ]
    part["metadata"] = {
        "transpiled": True,
        "optimization_level": 1,
        "transpiled_pubs": [0],
        "qiskit_version": "2.1.0",
    }
    return part


def store_results(tmp: Path, part: dict[str, Any], seed: int = 7) -> Path:
    """Run the real store-results step on the sweep's one ``part`` (laid out in a ``parts``
    directory as Argo hands it over, with the ``bindings`` directory and request validate writes);
    the step's output directory (``results/``, ``summary.json``, ``checksum.json``)."""
    tmp.mkdir(parents=True, exist_ok=True)
    request_file, bindings, parts = tmp / "request.json", tmp / "bindings", tmp / "parts"
    request_file.write_text(json.dumps(sweep_request(seed).dump()))
    sweeps.write_bindings(bindings, [[[t] for t in sweep_thetas()]])
    parts.mkdir()
    (parts / f"{SHARD}.json").write_text(json.dumps(part))
    out = tmp / "outputs"
    results.run_step(
        request_file,
        bindings,
        METRICS_JSON,
        BACKEND_JSON,
        json.dumps([SHARD]),
        NO_CACHE_KEY,
        parts,
        tmp / "cached-parts",
        out,
    )
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
