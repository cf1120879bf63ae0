"""The four workflow steps: their file contract and the ``qiskit-argo-step`` entry point.

Each step is a plain typed function (``validate``, ``schedule``, ``execute_aer``,
``store_results``) that reads input files and writes output files. ``STEPS`` describes, in one
place, each step's inputs and outputs — ``qiskit_argo.workflows`` builds the WorkflowTemplate
from it and ``main`` parses the same arguments inside the pod (or in the local runner).

Exit codes: 0 ok, 2 permanent failure (never retried by Argo), 1 transient failure. On failure the
last line on stderr (and ``/dev/termination-log``, which Argo shows as the node message) is the
one-line reason, prefixed by the machine reason: ``InvalidCircuit: line 3: ...``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from qiskit_argo.errors import EXIT_OK, EXIT_TRANSIENT, QiskitArgoError
from qiskit_argo.reasons import Reason

__all__ = [
    "ENTRY_POINT",
    "INPUTS_DIR",
    "OUTPUTS_DIR",
    "SCRATCH_MOUNT",
    "CIRCUIT_SOURCE_MOUNT",
    "TERMINATION_LOG",
    "StepSpec",
    "STEPS",
    "validate",
    "schedule",
    "execute_aer",
    "store_results",
    "main",
]

#: Console script (``pyproject.toml``) that the step containers run.
ENTRY_POINT = "qiskit-argo-step"
#: Writable emptyDir in every step pod (the root filesystem is read-only).
SCRATCH_MOUNT = "/tmp"
INPUTS_DIR = "/tmp/qiskit-argo/inputs"
OUTPUTS_DIR = "/tmp/qiskit-argo/outputs"
#: Where the validate pod sees a ConfigMap-held circuit (the Workflow's ``circuit-source`` volume).
CIRCUIT_SOURCE_MOUNT = "/etc/qiskit-argo/circuit"
TERMINATION_LOG = Path("/dev/termination-log")


@dataclass(frozen=True)
class StepSpec:
    """One step's contract: artifact files in, parameter values in, files out.

    ``input_artifacts`` / ``output_artifacts`` map an Argo artifact name to a file name under
    ``INPUTS_DIR`` / ``OUTPUTS_DIR``; ``input_parameters`` are passed as ``--name value``;
    ``output_parameters`` map a parameter name to the file under ``OUTPUTS_DIR`` holding its value.
    """

    name: str
    component: str
    input_artifacts: dict[str, str] = field(default_factory=dict)
    input_parameters: tuple[str, ...] = ()
    output_artifacts: dict[str, str] = field(default_factory=dict)
    output_parameters: dict[str, str] = field(default_factory=dict)
    mounts_circuit_source: bool = False
    #: The heavy modules the step imports on first use; a local run imports them while it renders.
    preload: tuple[str, ...] = ()

    def argv(self, parameter_value: dict[str, str] | None = None) -> list[str]:
        """Container args: the step name, then ``--flag value`` for every input and ``--out``.

        ``parameter_value`` maps a parameter to its value; by default the Argo expression
        ``{{inputs.parameters.NAME}}`` is used, which is what the WorkflowTemplate carries.
        """
        values = parameter_value or {}
        args = [self.name]
        for artifact, filename in self.input_artifacts.items():
            args += [f"--{artifact}", f"{INPUTS_DIR}/{filename}"]
        for parameter in self.input_parameters:
            args += [f"--{parameter}", values.get(parameter, f"{{{{inputs.parameters.{parameter}}}}}")]
        if self.mounts_circuit_source:
            args += ["--circuit-dir", CIRCUIT_SOURCE_MOUNT]
        args += ["--out", OUTPUTS_DIR]
        return args


STEPS: dict[str, StepSpec] = {
    spec.name: spec
    for spec in (
        StepSpec(
            name="validate",
            component="validator",
            input_artifacts={"job": "job.json"},
            input_parameters=("limits",),
            output_artifacts={"circuit": "circuit.qpy", "request": "request.json"},
            output_parameters={"metrics": "metrics.json"},
            mounts_circuit_source=True,
            preload=("qiskit.qasm2", "qiskit.qpy"),
        ),
        StepSpec(
            name="schedule",
            component="validator",
            input_artifacts={"request": "request.json"},
            input_parameters=("metrics",),
            output_parameters={"backend": "backend.json"},
        ),
        StepSpec(
            name="execute-aer",
            component="executor",
            input_artifacts={"circuit": "circuit.qpy", "request": "request.json"},
            input_parameters=("backend",),
            output_artifacts={"result": "result.json"},
            output_parameters={"summary": "summary.json"},
            preload=("qiskit_aer.primitives",),
        ),
        StepSpec(
            name="store-results",
            component="executor",
            input_artifacts={"result": "result.json", "request": "request.json"},
            input_parameters=("metrics", "backend", "summary"),
            output_artifacts={"results": "results"},
            output_parameters={"summary": "summary.json"},
            preload=("matplotlib.pyplot", "qiskit.visualization"),
        ),
    )
}


# --------------------------------------------------------------------------- the steps


def validate(job: Path, limits: str, circuit_dir: Path | None, out: Path) -> None:
    """Parse and analyse the job's circuit; write ``circuit.qpy``, ``request.json``, ``metrics.json``."""
    from qiskit_argo import validation

    validation.run_step(job_file=job, limits_json=limits, circuit_dir=circuit_dir, out_dir=out)


def schedule(request: Path, metrics: str, out: Path) -> None:
    """Choose the backend and simulation method; write ``backend.json`` with the reason."""
    from qiskit_argo import scheduling

    scheduling.run_step(request_file=request, metrics_json=metrics, out_dir=out)


def execute_aer(circuit: Path, request: Path, backend: str, out: Path) -> None:
    """Run the PUBs on Qiskit Aer; write the full ``result.json`` and a bounded ``summary.json``."""
    from qiskit_argo import execution

    execution.run_step(circuit_file=circuit, request_file=request, backend_json=backend, out_dir=out)


def store_results(result: Path, request: Path, metrics: str, backend: str, summary: str, out: Path) -> None:
    """Write the final ``results/`` directory (result, metrics, histogram) and the status summary."""
    from qiskit_argo import results

    results.run_step(
        result_file=result,
        request_file=request,
        metrics_json=metrics,
        backend_json=backend,
        summary_json=summary,
        out_dir=out,
    )


_FUNCTIONS: dict[str, Callable[..., None]] = {
    "validate": validate,
    "schedule": schedule,
    "execute-aer": execute_aer,
    "store-results": store_results,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=ENTRY_POINT, description="Run one qiskit-argo workflow step.")
    sub = parser.add_subparsers(dest="step", required=True)
    for spec in STEPS.values():
        step = sub.add_parser(spec.name)
        for artifact in spec.input_artifacts:
            step.add_argument(f"--{artifact}", type=Path, required=True)
        for parameter in spec.input_parameters:
            step.add_argument(f"--{parameter}", required=True)
        if spec.mounts_circuit_source:
            step.add_argument("--circuit-dir", type=Path, default=None)
        step.add_argument("--out", type=Path, required=True)
    return parser


def _report_failure(error: QiskitArgoError | Exception) -> int:
    if isinstance(error, QiskitArgoError):
        line, code = f"{error.reason}: {error}", error.exit_code
    else:
        line, code = f"{Reason.STEP_ERROR}: {type(error).__name__}: {error}", EXIT_TRANSIENT
    line = " ".join(line.split())
    print(line, file=sys.stderr)
    # The kubelet creates the termination log in a pod; elsewhere (a laptop) there is none to fill.
    if TERMINATION_LOG.is_file():
        with contextlib.suppress(OSError):
            TERMINATION_LOG.write_text(line)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``qiskit-argo-step STEP ...``; returns the exit code."""
    args = vars(_parser().parse_args(argv))
    step = args.pop("step")
    args = {key.replace("-", "_"): value for key, value in args.items()}
    args["out"].mkdir(parents=True, exist_ok=True)
    try:
        _FUNCTIONS[step](**args)
    except QiskitArgoError as error:
        return _report_failure(error)
    except Exception as error:  # noqa: BLE001 - a step must end with one line, never a traceback
        return _report_failure(error)
    return EXIT_OK
