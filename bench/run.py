"""Benchmarks: qiskit-argo against bare Qiskit Aer, in the same run, reported as ratios.

    python bench/run.py [--repeats N] [--quick]

1. execute step vs bare Aer (in-process, imports warm; the bare side starts from an already parsed
   circuit, the step from its QPY artifact): 1000-binding sweep, 20-qubit circuit.
2. `qiskit-argo run JOB` vs `python bench/bare.py CASE` (new process each, imports cold): Bell
   and the 1000-binding sweep.
3. Render throughput: `workflows.build(job)` calls per second.
Medians of interleaved repeats; the figures go to bench/out/report.json.
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cases import CASES, Case  # noqa: E402

BIN = Path(sys.executable).parent


def _median_pair(ours: Callable[[], object], bare: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Interleave the two so drift on the machine hits both alike; return (ours, bare) medians."""
    ours_times, bare_times = [], []
    for _ in range(repeats):
        for fn, times in ((bare, bare_times), (ours, ours_times)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return statistics.median(ours_times), statistics.median(bare_times)


def _prepare_execute(case: Case, work: Path) -> list[str]:
    """Run validate and schedule once; return the argv of the execute step."""
    import yaml

    from qiskit_argo import steps
    from qiskit_argo.manifests import parse_job

    job = parse_job(yaml.safe_load(case.job_yaml()))
    (work / "job.json").write_text(json.dumps(job.dump()))
    assert steps.main(["validate", "--job", str(work / "job.json"), "--limits", "{}", "--out", str(work / "v")]) == 0
    metrics = (work / "v" / "metrics.json").read_text()
    request = work / "v" / "request.json"
    assert steps.main(["schedule", "--request", str(request), "--metrics", metrics, "--out", str(work / "s")]) == 0
    backend = (work / "s" / "backend.json").read_text()
    return [
        "execute-aer", "--circuit", str(work / "v" / "circuit.qpy"), "--request", str(request),
        "--backend", backend, "--out", str(work / "e"),
    ]  # fmt: skip


def bench_execute(repeats: int) -> list[dict[str, object]]:
    import bare

    from qiskit_argo import steps

    rows = []
    for name in ("sweep1000", "wide20"):
        case = CASES[name]
        with tempfile.TemporaryDirectory() as tmp:
            argv = _prepare_execute(case, Path(tmp))
            prepared = bare.prepare(name)  # the bare side starts from a parsed circuit, as the step does
            steps.main(argv)  # warm imports on both sides
            bare.execute(*prepared)
            ours, base = _median_pair(
                lambda argv=argv: steps.main(argv), lambda prepared=prepared: bare.execute(*prepared), repeats
            )
        rows.append({"what": f"execute step, {name}", "ours_s": ours, "bare_s": base, "ratio": ours / base})
    return rows


def bench_end_to_end(repeats: int) -> list[dict[str, object]]:
    rows = []
    for name in ("bell", "sweep1000"):
        case = CASES[name]
        with tempfile.TemporaryDirectory() as tmp:
            job = Path(tmp) / f"{name}.yaml"
            job.write_text(case.job_yaml())
            ours_cmd = [str(BIN / "qiskit-argo"), "run", str(job), "--out", str(Path(tmp) / "out")]
            bare_cmd = [sys.executable, str(HERE / "bare.py"), name]

            def run(cmd: list[str]) -> Callable[[], None]:
                return lambda: subprocess.run(cmd, check=True, capture_output=True)

            run(ours_cmd)()  # first run fills the bytecode caches for both
            run(bare_cmd)()
            ours, base = _median_pair(run(ours_cmd), run(bare_cmd), repeats)
        rows.append({"what": f"qiskit-argo run, {name}", "ours_s": ours, "bare_s": base, "ratio": ours / base})
    return rows


def bench_render(count: int) -> list[dict[str, object]]:
    from qiskit_argo import workflows
    from qiskit_argo.manifests import load_job

    job, _ = load_job(HERE.parent / "examples" / "bell.yaml")
    jobs = [
        job.model_copy(update={"metadata": job.metadata.model_copy(update={"name": f"bell-{i}"})})
        for i in range(count)
    ]
    workflows.build(jobs[0])
    start = time.perf_counter()
    for each in jobs:
        workflows.build(each)
    built = time.perf_counter() - start
    start = time.perf_counter()
    for each in jobs[: count // 4]:
        workflows.to_yaml(workflows.build(each))
    yamled = time.perf_counter() - start
    return [
        {"what": "render: build() jobs/s", "value": count / built},
        {"what": "render: build() + YAML jobs/s", "value": (count // 4) / yamled},
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one repeat each, for a smoke run")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats

    from rich.console import Console
    from rich.table import Table

    rows = bench_execute(repeats) + bench_end_to_end(repeats) + bench_render(200 if args.quick else 2000)
    table = Table(title=f"qiskit-argo vs bare Qiskit Aer (median of {repeats})")
    for column in ("what", "qiskit-argo", "bare", "ratio / value"):
        table.add_column(column)
    for row in rows:
        if "ratio" in row:
            table.add_row(str(row["what"]), f"{row['ours_s']:.3f} s", f"{row['bare_s']:.3f} s", f"{row['ratio']:.2f}x")
        else:
            table.add_row(str(row["what"]), "", "", f"{row['value']:.0f}")
    Console().print(table)
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / "report.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
