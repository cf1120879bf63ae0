"""Helpers of the IBM step tests: a job's files as the validate and schedule steps write them
(``circuit.qpy`` with one circuit per PUB, ``request.json``, the ``bindings`` directory), and
runners for ``qiskit-argo-step`` in this process (``qiskit_argo.steps.main``) or in a new one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

NO_SECRET = ("qiskit-argo-no-credentials", "token")
REPO = Path(__file__).resolve().parents[2]


@dataclass
class JobFiles:
    """One job's step inputs under ``root``: circuit.qpy, request.json, bindings/, and the schedule step's outputs."""

    root: Path
    backend: str
    target: str
    secret: tuple[str, str] = NO_SECRET
    semaphore: str = "sherbrooke"
    env: dict[str, str] = field(default_factory=dict)
    #: The ibm-submit step's ``max-execution-time`` parameter (seconds reserved; "0": none).
    max_execution_time: str = "0"

    @property
    def circuit(self) -> Path:
        return self.root / "circuit.qpy"

    @property
    def request(self) -> Path:
        return self.root / "request.json"

    @property
    def bindings(self) -> Path:
        return self.root / "bindings"

    def submit_argv(self, out: Path) -> list[str]:
        return [
            "ibm-submit", "--circuit", str(self.circuit), "--request", str(self.request),
            "--bindings", str(self.bindings), "--backend", self.backend, "--target", self.target,
            "--credentials-secret", self.secret[0], "--credentials-key", self.secret[1],
            "--semaphore", self.semaphore, "--max-execution-time", self.max_execution_time, "--out", str(out),
        ]  # fmt: skip

    def wait_argv(self, submit_out: Path, out: Path, submission: str | None = None) -> list[str]:
        text = submission if submission is not None else (submit_out / "submission.json").read_text()
        return [
            "ibm-wait", "--request", str(self.request), "--ibm-jobs", str(submit_out / "ibm-jobs.json"),
            "--backend", self.backend, "--target", self.target, "--submission", text,
            "--credentials-secret", self.secret[0], "--credentials-key", self.secret[1],
            "--semaphore", self.semaphore, "--out", str(out),
        ]  # fmt: skip


def bell(measured: bool = True) -> Any:
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(2, 2 if measured else 0)
    circuit.h(0)
    circuit.cx(0, 1)
    if measured:
        circuit.measure([0, 1], [0, 1])
    return circuit


def make_job(
    root: Path,
    *,
    device: str = "fake_sherbrooke",
    fake: bool = True,
    name: str = "sherbrooke",
    primitive: str = "sampler",
    shots: int = 4000,
    seed: int | None = 1234,
    circuit: Any = None,
    pubs: list[dict[str, Any]] | None = None,
    observables: list[dict[str, float]] | None = None,
    precision: float | None = None,
    resilience_level: int | None = None,
    max_execution_time: int | None = None,
    session_id: str | None = None,
    uid: str | None = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
) -> JobFiles:
    """Write a job's step inputs (as validate and schedule would) under ``root``: one PUB of
    ``circuit`` (a Bell pair) with the job-level options, or ``pubs``: one dict per PUB with
    ``circuit`` and optionally ``parameter_names`` and ``rows`` (its bindings), ``shots``,
    ``precision``, ``observables``."""
    import io

    from qiskit import qpy

    from qiskit_argo.api import AerOptions, IbmOptions, Observable
    from qiskit_argo.request import ExecutionRequest, PubRequest
    from qiskit_argo.sweeps import write_bindings

    root.mkdir(parents=True, exist_ok=True)
    estimator = primitive == "estimator"
    if pubs is None:
        pubs = [{"circuit": circuit if circuit is not None else bell(measured=not estimator)}]
    files = write_bindings(root / "bindings", [pub.get("rows") for pub in pubs])
    pub_requests = [
        PubRequest(
            circuit=index,
            parameter_names=pub.get("parameter_names", [p.name for p in pub["circuit"].parameters]),
            num_bindings=len(pub["rows"]) if pub.get("rows") is not None else 1,
            values=files[index],
            values_from={"inline": True} if files[index] else None,
            shots=None if estimator else pub.get("shots", shots),
            precision=pub.get("precision", precision) if estimator else None,
            observables=[Observable(paulis=o) for o in pub.get("observables", observables) or [{"ZZ": 1.0}]]
            if estimator
            else None,
        )
        for index, pub in enumerate(pubs)
    ]
    request = ExecutionRequest(
        job_name="bell",
        namespace="lab",
        primitive=primitive,  # type: ignore[arg-type]
        pubs=pub_requests,
        aer=AerOptions(seed=seed),
        uid=uid,
        generation=1,
        backend_ref=name,
        ibm=IbmOptions(resilience_level=resilience_level, max_execution_time=max_execution_time),
    )
    buffer = io.BytesIO()
    qpy.dump([pub["circuit"] for pub in pubs], buffer)
    (root / "circuit.qpy").write_bytes(buffer.getvalue())
    (root / "request.json").write_text(json.dumps(request.dump()))
    backend = json.dumps({"name": name, "type": "ibm", "device": device, "reason": "spec.backend.ref"})
    channel = None if fake else "ibm_quantum_platform"
    target: dict[str, Any] = {"name": name, "device": device, "fake": fake, "channel": channel, "instance": None,
                              "sessionId": session_id, "mode": None}  # fmt: skip
    return JobFiles(root, backend, json.dumps(target), semaphore=name)


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str

    @property
    def last_line(self) -> str:
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else ""


def run_in_process(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> Ran:
    """``qiskit-argo-step ARGV`` through ``qiskit_argo.steps.main`` in this process."""
    from qiskit_argo.steps import main

    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return Ran(code, captured.out, captured.err)


def run_in_subprocess(argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 300) -> Ran:
    """``qiskit-argo-step ARGV`` in a new Python process (as a pod runs it)."""
    environment = {**os.environ, **(env or {})}
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), environment.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from qiskit_argo.steps import main; sys.exit(main(sys.argv[1:]))", *argv],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def job_files(tmp_path: Path) -> Callable[..., JobFiles]:
    def make(**options: Any) -> JobFiles:
        return make_job(tmp_path / "inputs", **options)

    return make


def every_text_under(root: Path) -> str:
    """Every file under ``root``, read as text (for canary checks)."""
    return "\n".join(path.read_text(errors="replace") for path in sorted(root.rglob("*")) if path.is_file())
