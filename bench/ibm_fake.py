"""Benchmark: an IBM job on a fake backend through qiskit-argo against the bare local-testing-mode script.

    python bench/ibm_fake.py [--device fake_sherbrooke] [--shots 4000] [--seed 1234] [--level 2] [--json PATH]
    python bench/ibm_fake.py --bare        # only the bare script (what a researcher would write)

The same Bell circuit (examples/ibm-by-ref.yaml's), fake backend, shots, seed and optimization level
everywhere. The bare script: build the fake backend, ISA-transpile with the preset pass manager, run
qiskit-ibm-runtime's executor ``Sampler`` on it (local testing mode), get the counts. Against it, in
one run, one measurement each (no assertion on time: the machine decides):

1. ``steps, warm``: the ibm-submit and ibm-wait step functions (``qiskit_argo.steps.main``) in this
   process, imports done — what the steps add to the same work (QPY in and out, the job store, the
   identity tag, the part document); the median of ``--repeats`` runs of each (the simulation's
   own time varies by tens of percent from run to run);
2. ``steps, cold``: ``qiskit-argo-step ibm-submit`` then ``ibm-wait``, each a new process sharing only
   files, as two pods run them, against the bare script in a new process;
3. ``qiskit-argo run``: the whole DAG (probe of the catalogue entry, validate, schedule, submit,
   wait, store-results with the histogram) against the bare script in a new process.

Each line prints both times and the ratio (qiskit-argo / bare); the counts of both are checked equal
where both are seeded the same (1 and 2).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "ibm-by-ref.yaml"
CATALOGUE = REPO / "examples" / "catalogue"
BIN = Path(sys.executable).parent


def bell_qasm() -> str:
    """The circuit of examples/ibm-by-ref.yaml."""
    import yaml

    return str(yaml.safe_load(EXAMPLE.read_text())["spec"]["circuit"]["openqasm"])


# --------------------------------------------------------------------------- the bare script


def bare(device: str, shots: int, seed: int, level: int) -> dict[str, int]:
    """What a researcher writes for local testing mode: fake backend, ISA circuit, executor Sampler."""
    from qiskit import qasm2
    from qiskit.transpiler import generate_preset_pass_manager
    from qiskit_ibm_runtime import fake_provider
    from qiskit_ibm_runtime.executor_sampler import Sampler

    stem = "".join(part.capitalize() for part in device.split("_"))  # fake_sherbrooke -> FakeSherbrooke
    backend = (getattr(fake_provider, stem, None) or getattr(fake_provider, stem + "V2"))()
    circuit = qasm2.loads(bell_qasm())
    isa = generate_preset_pass_manager(optimization_level=level, backend=backend, seed_transpiler=seed).run(circuit)
    sampler = Sampler(mode=backend)
    sampler.options.simulator.seed_simulator = seed
    result = sampler.run([isa], shots=shots).result()
    return dict(result[0].data.c.get_counts())


# --------------------------------------------------------------------------- qiskit-argo's steps


def step_inputs(root: Path, device: str, shots: int, seed: int, level: int) -> tuple[list[str], Any]:
    """The validate/schedule outputs the IBM steps read (circuit.qpy, request.json, bindings/, backend, target)."""
    from qiskit import qasm2

    from qiskit_argo.api import AerOptions
    from qiskit_argo.circuits import circuits_to_qpy
    from qiskit_argo.request import ExecutionRequest, PubRequest
    from qiskit_argo.sweeps import write_bindings

    root.mkdir(parents=True, exist_ok=True)
    request = ExecutionRequest(job_name="bell-sherbrooke", namespace="bench", primitive="sampler",  # type: ignore[arg-type]
                               pubs=[PubRequest(circuit=0, shots=shots)], aer=AerOptions(seed=seed),
                               optimization_level=level, generation=1)  # fmt: skip
    (root / "circuit.qpy").write_bytes(circuits_to_qpy([qasm2.loads(bell_qasm())]))  # one circuit per PUB
    (root / "request.json").write_text(json.dumps(request.dump()))
    write_bindings(root / "bindings", [None])  # the Bell circuit is unparameterized
    backend = json.dumps({"name": "fake-sherbrooke", "type": "ibm", "device": device})
    target = json.dumps({"name": "fake-sherbrooke", "device": device, "fake": True})
    common = ["--backend", backend, "--target", target, "--credentials-secret", "qiskit-argo-no-credentials",
              "--credentials-key", "token", "--semaphore", "fake-sherbrooke"]  # fmt: skip

    def argv(step: str, out: Path, submit_out: Path | None = None) -> list[str]:
        if step == "ibm-submit":
            return ["ibm-submit", "--circuit", str(root / "circuit.qpy"), "--request", str(root / "request.json"),
                    "--bindings", str(root / "bindings"), *common, "--max-execution-time", "0",
                    "--out", str(out)]  # fmt: skip
        assert submit_out is not None
        submission = (submit_out / "submission.json").read_text()
        return ["ibm-wait", "--request", str(root / "request.json"), "--ibm-jobs", str(submit_out / "ibm-jobs.json"),
                *common, "--submission", submission, "--out", str(out)]  # fmt: skip

    return common, argv


def counts_of(wait_out: Path) -> dict[str, int]:
    """The first binding's counts of the run's one part (ibm-wait's ``part.json``, shard ``0-of-1``)."""
    document = json.loads((wait_out / "part.json").read_text())
    return dict(document["pub_results"][0]["data"]["c"]["counts"][0])


def steps_in_process(root: Path, argv: Any) -> dict[str, int]:
    from qiskit_argo.steps import main

    if main(argv("ibm-submit", root / "submit")) != 0:
        raise SystemExit("ibm-submit failed")
    if main(argv("ibm-wait", root / "wait", root / "submit")) != 0:
        raise SystemExit("ibm-wait failed")
    return counts_of(root / "wait")


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def run_process(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:3])} failed: {done.stderr.strip().splitlines()[-1:]}")


def cli_job(root: Path, shots: int, seed: int, level: int, device: str) -> tuple[Path, Path]:
    """examples/ibm-by-ref.yaml with the bench's shots, optimization level and seed, and a catalogue
    whose entry of the name it refers to runs on the bench's ``device``."""
    import yaml

    job = yaml.safe_load(EXAMPLE.read_text())
    job["spec"]["shots"] = shots
    job["spec"]["optimizationLevel"] = level
    job["spec"]["backend"]["aer"] = {"seed": seed}
    path = root / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    catalogue = root / "catalogue"
    catalogue.mkdir(exist_ok=True)
    entry = yaml.safe_load((CATALOGUE / "fake-sherbrooke.yaml").read_text())
    entry["spec"]["fakeBackend"] = device
    (catalogue / "backend.yaml").write_text(yaml.safe_dump(entry))
    return path, catalogue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="fake_sherbrooke")
    parser.add_argument("--shots", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--level", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="warm runs of each; the median is reported")
    parser.add_argument("--bare", action="store_true", help="run only the bare script and print its counts")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.bare:
        print(json.dumps(bare(args.device, args.shots, args.seed, args.level), sort_keys=True))
        return

    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="ibm-fake-bench-") as tmp:
        root = Path(tmp)
        _, argv = step_inputs(root / "inputs", args.device, args.shots, args.seed, args.level)
        # Warm up both (imports, first-use caches), then one measured run each.
        bare(args.device, 100, args.seed, args.level)
        steps_in_process(root / "warm", argv)
        bare_runs = [timed(lambda: bare(args.device, args.shots, args.seed, args.level)) for _ in range(args.repeats)]
        step_runs = [timed(lambda i=i: steps_in_process(root / f"measured-{i}", argv)) for i in range(args.repeats)]
        bare_s, bare_counts = statistics.median(t for t, _ in bare_runs), bare_runs[0][1]
        steps_s, steps_counts = statistics.median(t for t, _ in step_runs), step_runs[0][1]
        same = "same counts" if bare_counts == steps_counts else "COUNTS DIFFER"
        figures["steps, warm"] = {"qiskit_argo_s": steps_s, "bare_s": bare_s, "ratio": steps_s / bare_s}
        print(f"{'steps, warm':<18} {steps_s:7.2f} s vs bare {bare_s:7.2f} s  ratio {steps_s / bare_s:5.2f}  ({same})")

        bare_argv = [sys.executable, str(Path(__file__).resolve()), "--bare", "--device", args.device,
                     "--shots", str(args.shots), "--seed", str(args.seed), "--level", str(args.level)]  # fmt: skip
        bare_cold, _ = timed(lambda: run_process(bare_argv))
        step = str(BIN / "qiskit-argo-step")
        cold = root / "cold"

        def two_pods() -> None:
            run_process([step, *argv("ibm-submit", cold / "submit")])
            run_process([step, *argv("ibm-wait", cold / "wait", cold / "submit")])

        steps_cold, _ = timed(two_pods)
        figures["steps, cold"] = {"qiskit_argo_s": steps_cold, "bare_s": bare_cold, "ratio": steps_cold / bare_cold}
        print(f"{'steps, cold':<18} {steps_cold:7.2f} s vs bare {bare_cold:7.2f} s  "
              f"ratio {steps_cold / bare_cold:5.2f}  (2 processes vs 1)")  # fmt: skip

        job, catalogue = cli_job(root, args.shots, args.seed, args.level, args.device)
        cli = [str(BIN / "qiskit-argo"), "run", str(job), "--catalogue", str(catalogue), "--out", str(root / "cli")]
        env_before = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = "100"
        try:
            cli_s, _ = timed(lambda: run_process(cli))
        except SystemExit as failed:
            print(f"{'qiskit-argo run':<18} not measured: {failed}")
        else:
            figures["qiskit-argo run"] = {"qiskit_argo_s": cli_s, "bare_s": bare_cold, "ratio": cli_s / bare_cold}
            print(f"{'qiskit-argo run':<18} {cli_s:7.2f} s vs bare {bare_cold:7.2f} s  ratio {cli_s / bare_cold:5.2f}"
                  "  (whole DAG, probe included)")  # fmt: skip
        finally:
            if env_before is None:
                os.environ.pop("COLUMNS", None)
            else:
                os.environ["COLUMNS"] = env_before
    print(f"({args.device}, {args.shots} shots, seed {args.seed}, optimization level {args.level})")
    if args.json is not None:
        args.json.write_text(json.dumps({"device": args.device, "shots": args.shots, "figures": figures}, indent=2))


if __name__ == "__main__":
    main()
