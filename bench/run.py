"""Benchmarks: qiskit-argo against bare Qiskit Aer, in the same run, reported as ratios.

    python bench/run.py [--repeats N] [--quick] [--only execute,run,render]

Every row of the README's first Benchmarks table comes from one run of this script, which
prints that table (Markdown) and writes it, with the raw figures, to bench/out/:

1. execute step vs bare Aer (in-process, imports warm; the bare side starts from an already parsed
   circuit, the step from its QPY artifact): 1000-binding sweep, 20-qubit circuit.
2. `qiskit-argo run JOB` vs `python bench/bare.py CASE`, each a new process, timed from start to
   exit (imports cold, bytecode caches warm): Bell and the 1000-binding sweep.
3. Render throughput: `workflows.build(job)` calls per second, and with the YAML.

Medians of interleaved repeats (bare, ours, bare, ours, ...), so drift on the machine hits both.
The processes run with Python's bytecode cache on, as on any machine where qiskit-argo is
installed: a `PYTHONDONTWRITEBYTECODE` in the environment (some sandboxes set it) would make
each run recompile qiskit-argo's own modules, which no installed copy does.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cases import CASES, Case  # noqa: E402

BIN = Path(sys.executable).parent
OUT = HERE / "out"


@dataclass(frozen=True)
class Row:
    """One line of the README table: a ratio against bare Aer (``bare_s``) or a throughput."""

    what: str
    target: str
    ours_s: float | None = None
    bare_s: float | None = None
    per_second: float | None = None
    #: The largest ratio (or, for a throughput, the smallest value) that meets the target.
    limit: float | None = None

    @property
    def ratio(self) -> float | None:
        return None if self.ours_s is None or self.bare_s is None else self.ours_s / self.bare_s

    @property
    def met(self) -> bool | None:
        if self.limit is None:
            return None
        if self.ratio is not None:
            return self.ratio <= self.limit
        return self.per_second is not None and self.per_second >= self.limit

    def markdown(self) -> str:
        target = self.target + (" (missed)" if self.met is False else "")
        if self.per_second is not None:
            return f"| {self.what} | {self.per_second:,.0f} jobs/s | | | {target} |"
        assert self.ours_s is not None and self.bare_s is not None and self.ratio is not None
        return f"| {self.what} | {self.ours_s:.2f} s | {self.bare_s:.2f} s | {self.ratio:.2f}× | {target} |"


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
    catalogue = str(work / "catalogue.json")
    schedule = ["schedule", "--request", str(request), "--catalogue", catalogue, "--metrics", metrics]
    schedule += ["--reserved", "{}"]
    assert steps.main([*schedule, "--out", str(work / "s")]) == 0
    backend = (work / "s" / "backend.json").read_text()
    return [
        "execute-aer", "--circuit", str(work / "v" / "circuit.qpy"), "--request", str(request),
        "--bindings", str(work / "v" / "bindings"),
        "--backend", backend, "--target", (work / "s" / "target.json").read_text(),
        "--semaphore", "_builtin", "--shard", "0-of-1", "--out", str(work / "e"),
    ]  # fmt: skip


def bench_execute(repeats: int) -> list[Row]:
    import bare

    from qiskit_argo import steps

    described = {
        "sweep1000": "execute step, 1000-binding sweep (8 qubits, 16 parameters, 1000 shots)",
        "wide20": "execute step, 20-qubit statevector circuit, 1000 shots",
    }
    rows = []
    for name, what in described.items():
        case = CASES[name]
        with tempfile.TemporaryDirectory() as tmp:
            argv = _prepare_execute(case, Path(tmp))
            prepared = bare.prepare(name)  # the bare side starts from a parsed circuit, as the step does
            steps.main(argv)  # warm imports on both sides
            bare.execute(*prepared)
            ours, base = _median_pair(
                lambda argv=argv: steps.main(argv), lambda prepared=prepared: bare.execute(*prepared), repeats
            )
        rows.append(Row(what, "≤ 1.05×", ours, base, limit=1.05))
    return rows


def _child_environment() -> dict[str, str]:
    """This environment, with Python's bytecode cache on (see the module's docstring)."""
    return {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def bench_end_to_end(repeats: int) -> list[Row]:
    described = {
        "sweep1000": ("`qiskit-argo run`, 1000-binding sweep job (new process, every step, histogram)", 1.25),
        "bell": ("`qiskit-argo run`, Bell (new process)", 2.0),
    }
    env = _child_environment()
    rows = []
    for name, (what, limit) in described.items():
        case = CASES[name]
        with tempfile.TemporaryDirectory() as tmp:
            job = Path(tmp) / f"{name}.yaml"
            job.write_text(case.job_yaml())
            ours_cmd = [str(BIN / "qiskit-argo"), "run", str(job), "--out", str(Path(tmp) / "out")]
            bare_cmd = [sys.executable, str(HERE / "bare.py"), name]

            def run(cmd: list[str]) -> Callable[[], None]:
                return lambda: subprocess.run(cmd, check=True, capture_output=True, env=env)

            run(ours_cmd)()  # the first runs fill the bytecode caches of both
            run(bare_cmd)()
            ours, base = _median_pair(run(ours_cmd), run(bare_cmd), repeats)
        rows.append(Row(what, f"≤ {limit:g}×", ours, base, limit=limit))
    return rows


def bench_render(count: int) -> list[Row]:
    from qiskit_argo import workflows
    from qiskit_argo.manifests import load_job

    job, _ = load_job(HERE.parent / "examples" / "bell.yaml")
    jobs = [
        job.model_copy(update={"metadata": job.metadata.model_copy(update={"name": f"bell-{i}"})}) for i in range(count)
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
        Row("render, `workflows.build(job)`", "≥ 500 jobs/s", per_second=count / built, limit=500),
        Row("render + YAML", "", per_second=(count // 4) / yamled),
    ]


def table(rows: list[Row]) -> str:
    header = ["| what | qiskit-argo | bare Aer | ratio | target |", "| --- | --- | --- | --- | --- |"]
    return "\n".join([*header, *(row.markdown() for row in rows)]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="one repeat each, for a smoke run")
    parser.add_argument("--only", default="execute,run,render", help="comma-separated: execute, run, render")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    only = set(args.only.split(","))

    rows: list[Row] = []
    if "execute" in only:
        rows += bench_execute(repeats)
    if "run" in only:
        rows += bench_end_to_end(repeats)
    if "render" in only:
        rows += bench_render(200 if args.quick else 2000)
    machine = f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs"
    report = f"Median of {repeats} interleaved repeats; {machine}.\n\n" + table(rows)
    print(report, end="")
    OUT.mkdir(exist_ok=True)
    (OUT / "table.md").write_text(report)
    figures = [{**asdict(row), "ratio": row.ratio, "met": row.met} for row in rows]
    (OUT / "report.json").write_text(json.dumps({"repeats": repeats, "machine": machine, "rows": figures}, indent=2))


if __name__ == "__main__":
    main()
