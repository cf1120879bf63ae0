"""Sharded sweeps: speed-up of shards over one, scaling with the sweep's size, memory, Workflow size.

    python bench/shards.py [--repeats N] [--quick] [--only speedup,scaling,size]

1. **Speed-up.** A 1000-binding sweep (a 12-qubit hardware-efficient ansatz, 72 parameters) run
   by `qiskit-argo run` with `spec.execution.shards` 1 and 4, each a new process, interleaved,
   medians; bare Aer (one `SamplerV2.run` of the same PUB, same seed, in a new process) beside
   them. The shards run in parallel processes (as many at once as the machine has cores).
2. **Scaling.** 1,000, 10,000 and 100,000 bindings x 16 parameters (8 qubits, 100 shots), the
   values in a `.npy` file read through `parameterValuesFrom.artifact`, `shards: auto`: seconds
   per 1,000 bindings, and the peak resident memory of one shard's execute step run alone in a new
   process (what its pod needs: it maps only its rows of the sweep).
3. **Workflow size.** The Workflow `workflows.build` makes for a 100,000 x 16 sweep from an
   artifact, against the inline form's 5,000 x 16 (the size that already passes etcd's limit).

It prints a Markdown table and writes it, with the raw figures, to bench/out/shards.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cases import _ansatz, _sweep  # noqa: E402

BIN = Path(sys.executable).parent
OUT = HERE / "out"
SEED = 42


def _job_yaml(name: str, qasm: str, shots: int, shards: int | str, values: str) -> str:
    body = "\n".join(f"      {line}" for line in qasm.splitlines())
    return (
        "apiVersion: qiskit-argo.io/v1alpha1\nkind: QiskitJob\n"
        f"metadata:\n  name: {name}\n"
        f"spec:\n  circuit:\n    openqasm: |\n{body}\n"
        f"  shots: {shots}\n  optimizationLevel: 0\n"
        f"  execution:\n    shards: {shards}\n"
        f"  backend:\n    aer:\n      seed: {SEED}\n"
        f"{values}"
    )


def _artifact_values(key: str) -> str:
    return f"  parameterValuesFrom:\n    artifact:\n      key: {key}\n"


def _write_values(directory: Path, key: str, rows: list[list[float]]) -> None:
    import numpy as np

    path = directory / key
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.asarray(rows, dtype=float))


def _environment() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


#: The execute step's row of `qiskit-argo run`'s summary: "step execute-aer | Succeeded  4.21 s".
_EXECUTE_ROW = re.compile(r"step execute-aer\S*\s*\W\s*Succeeded\s+([0-9.]+) s")


def _run(cmd: list[str], env: dict[str, str], stages: list[float] | None = None) -> float:
    """Run ``cmd``; its wall time (and, into ``stages``, the execute step's, all shards together)."""
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env={**env, "COLUMNS": "200"}, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    if stages is not None:
        found = _EXECUTE_ROW.search(done.stdout)
        if found is None:
            raise SystemExit(f"no execute step in the summary of {' '.join(cmd[:3])}:\n{done.stdout[-1500:]}")
        stages.append(float(found.group(1)))
    return seconds


_BARE = """
import sys, numpy as np
from qiskit import qasm3
from qiskit_aer.primitives import SamplerV2
circuit = qasm3.loads(open(sys.argv[1]).read())
values = np.load(sys.argv[2])
data = SamplerV2(seed={seed}).run([(circuit, values, {shots})]).result()[0].data
bits = next(iter(data.values()))
print(len([bits.get_counts(i) for i in range(len(values))]))
"""


def bench_speedup(repeats: int, quick: bool) -> list[dict[str, Any]]:
    qubits, layers, shots = (6, 1, 100) if quick else (12, 6, 2000)
    qasm, num_parameters = _ansatz(qubits, layers)
    rows = _sweep(1000, num_parameters)
    env = _environment()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        _write_values(work, "sweep.npy", rows)
        (work / "circuit.qasm").write_text(qasm)
        (work / "bare.py").write_text(_BARE.format(seed=SEED, shots=shots))
        commands: dict[str, list[str]] = {
            "bare": [sys.executable, str(work / "bare.py"), str(work / "circuit.qasm"), str(work / "sweep.npy")]
        }
        for shards in (1, 4):
            job = work / f"shards-{shards}.yaml"
            job.write_text(_job_yaml(f"sweep-{shards}", qasm, shots, shards, _artifact_values("sweep.npy")))
            commands[f"shards-{shards}"] = [
                str(BIN / "qiskit-argo"), "run", str(job), "--out", str(work / f"out-{shards}"),
                "--cache-dir", str(work / "cache"),
            ]  # fmt: skip
        # The same seed each time would make every run after the first a cache hit: off for this.
        for name in ("shards-1", "shards-4"):
            job = work / f"{name}.yaml"
            job.write_text(job.read_text().replace("  execution:\n", "  execution:\n    cache: false\n"))
        times: dict[str, list[float]] = {name: [] for name in commands}
        stages: dict[str, list[float]] = {name: [] for name in commands if name != "bare"}
        for cmd in commands.values():  # warm the bytecode caches
            _run(cmd, env)
        for _ in range(repeats):
            for name, cmd in commands.items():
                times[name].append(_run(cmd, env, stages.get(name)))
    medians = {name: statistics.median(values) for name, values in times.items()}
    execute = {name: statistics.median(values) for name, values in stages.items()}
    what = f"1000 bindings, {qubits} qubits, {num_parameters} parameters, {shots} shots"
    return [
        {"what": f"{what}: 1 shard", "seconds": medians["shards-1"], "bare_s": medians["bare"]},
        {"what": f"{what}: 4 shards", "seconds": medians["shards-4"], "bare_s": medians["bare"]},
        {
            "what": "speed-up of 4 shards over 1: the execute step (every shard, start to end)",
            "ratio": execute["shards-1"] / execute["shards-4"],
            "detail": f"{execute['shards-1']:.2f} s → {execute['shards-4']:.2f} s",
            "target": "≥ 1.8× on 2 cores",
            "cores": os.cpu_count(),
        },
        {
            "what": "speed-up of 4 shards over 1: the whole `qiskit-argo run`",
            "ratio": medians["shards-1"] / medians["shards-4"],
            "detail": f"{medians['shards-1']:.2f} s → {medians['shards-4']:.2f} s",
            "cores": os.cpu_count(),
        },
    ]


_PEAK = (
    "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:], capture_output=True); "
    "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def _shard_peak_mib(job_yaml: str, sources: Path, work: Path) -> tuple[float, int, int]:
    """Peak resident memory of shard 0's execute step alone in a new process (what its pod needs),
    the shard count and shard 0's bindings: validate and schedule run here first, as in Argo."""
    import yaml

    from qiskit_argo import sharding, steps
    from qiskit_argo.manifests import parse_job
    from qiskit_argo.request import ExecutionRequest

    job = parse_job(yaml.safe_load(job_yaml), source="bench")
    (work / "job.json").write_text(json.dumps(job.dump()))
    validate = ["validate", "--job", str(work / "job.json"), "--limits", "{}", "--sources-dir", str(sources)]
    assert steps.main([*validate, "--out", str(work / "v")]) == 0
    request_file = work / "v" / "request.json"
    schedule = ["schedule", "--request", str(request_file), "--catalogue", str(work / "catalogue.json")]
    schedule += ["--metrics", (work / "v" / "metrics.json").read_text(), "--reserved", "{}"]
    assert steps.main([*schedule, "--out", str(work / "s")]) == 0
    shard = json.loads((work / "s" / "shards.json").read_text())[0]
    execute = [
        str(BIN / "qiskit-argo-step"), "execute-aer", "--circuit", str(work / "v" / "circuit.qpy"),
        "--request", str(request_file), "--bindings", str(work / "v" / "bindings"),
        "--backend", (work / "s" / "backend.json").read_text(), "--target", (work / "s" / "target.json").read_text(),
        "--semaphore", "_builtin", "--shard", shard, "--out", str(work / "e"),
    ]  # fmt: skip
    done = subprocess.run([sys.executable, "-c", _PEAK, *execute], capture_output=True, text=True, check=True)
    code, peak_kib = (int(word) for word in done.stdout.split())
    if code != 0:
        raise SystemExit(f"shard {shard} failed ({code})")
    request = ExecutionRequest.model_validate_json(request_file.read_text())
    index, count = sharding.parse_shard_id(shard)
    size = sum(piece.size for piece in sharding.plan(request.bindings_per_pub, count)[index])
    return peak_kib / 1024, count, size


def bench_scaling(quick: bool) -> list[dict[str, Any]]:
    qasm, num_parameters = _ansatz(8, 2)
    sizes = (1_000, 10_000) if quick else (1_000, 10_000, 100_000)
    env = _environment()
    found = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for size in sizes:
            key = f"sweeps/{size}.npy"
            _write_values(work, key, _sweep(size, num_parameters))
            job = work / f"scale-{size}.yaml"
            job.write_text(
                _job_yaml(f"scale-{size}", qasm, 100, "auto", _artifact_values(key)).replace(
                    "  execution:\n", "  execution:\n    cache: false\n"
                )
            )
            cmd = [
                str(BIN / "qiskit-argo"), "run", str(job), "--out", str(work / f"out-{size}"),
                "--cache-dir", str(work / "cache"),
            ]  # fmt: skip
            seconds = _run(cmd, env)
            sources = work / f"sources-{size}"
            sources.mkdir()
            (sources / "0").write_bytes((work / key).read_bytes())  # the validate pod's source-0
            step = work / f"step-{size}"
            step.mkdir()
            peak, shards, shard_size = _shard_peak_mib(job.read_text(), sources, step)
            found.append(
                {
                    "what": f"{size:,} bindings x {num_parameters} parameters, 100 shots, shards auto",
                    "seconds": seconds,
                    "per_1000": seconds / size * 1000,
                    "shards": shards,
                    "shard_bindings": shard_size,
                    "peak_rss_mib": peak,
                }
            )
    return found


def bench_size() -> list[dict[str, Any]]:
    import yaml

    from qiskit_argo import workflows
    from qiskit_argo.manifests import parse_job

    qasm, num_parameters = _ansatz(8, 2)
    inline = _job_yaml("inline", qasm, 100, 1, "  parameterValues:\n") + "".join(
        f"    - [{', '.join(repr(v) for v in row)}]\n" for row in _sweep(5_000, num_parameters)
    )
    stored = _job_yaml("stored", qasm, 100, "auto", _artifact_values("sweeps/100000.npy"))
    sizes = {}
    for name, text in (("inline 5,000 x 16", inline), ("artifact 100,000 x 16", stored)):
        job = parse_job(yaml.safe_load(text), source=name)
        sizes[name] = len(json.dumps(workflows.build(job), separators=(",", ":")).encode())
    return [{"what": f"Workflow for a sweep, {name}", "bytes": size} for name, size in sizes.items()]


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| what | figure | target |", "| --- | --- | --- |"]
    for row in rows:
        if "ratio" in row:
            figure = f"{row['ratio']:.2f}× ({row['detail']}, {row['cores']} cores)"
        elif "bytes" in row:
            figure = f"{row['bytes'] / 1024:,.1f} KiB"
        elif "per_1000" in row:
            memory = (
                f"; {row['shards']} shard(s), one shard's execute step ({row['shard_bindings']:,} bindings) "
                f"peaks at {row['peak_rss_mib']:,.0f} MiB"
            )
            figure = f"{row['seconds']:.2f} s ({row['per_1000']:.3f} s per 1,000 bindings{memory})"
        else:
            figure = f"{row['seconds']:.2f} s (bare Aer {row['bare_s']:.2f} s, {row['seconds'] / row['bare_s']:.2f}×)"
        lines.append(f"| {row['what']} | {figure} | {row.get('target', '')} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat: a smoke run")
    parser.add_argument("--only", default="speedup,scaling,size", help="comma-separated: speedup, scaling, size")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    only = set(args.only.split(","))
    rows: list[dict[str, Any]] = []
    if "speedup" in only:
        rows += bench_speedup(repeats, args.quick)
    if "scaling" in only:
        rows += bench_scaling(args.quick)
    if "size" in only:
        rows += bench_size()
    text = table(rows)
    print(text)
    if not args.quick:
        OUT.mkdir(exist_ok=True)
        machine = {"python": platform.python_version(), "cores": os.cpu_count(), "machine": platform.machine()}
        (OUT / "shards.json").write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))
        (OUT / "shards.md").write_text(text)


if __name__ == "__main__":
    main()
