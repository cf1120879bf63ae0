"""``qiskit-argo-step STEP ...``: parse a step's arguments from its declaration and run it.

Exit codes: 0 ok, 2 permanent failure (never retried by Argo), 1 transient failure. On failure the
last line on stderr (and ``/dev/termination-log``, which Argo shows as the node message) is the
one-line reason, prefixed by the machine reason: ``InvalidCircuit: line 3: ...``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path

from qiskit_argo.errors import EXIT_OK, EXIT_TRANSIENT, QiskitArgoError
from qiskit_argo.reasons import Reason
from qiskit_argo.steps import _contract
from qiskit_argo.steps._contract import ENTRY_POINT, StepRegistry

__all__ = ["main"]


def _parser(steps: StepRegistry) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=ENTRY_POINT, description="Run one qiskit-argo workflow step.")
    sub = parser.add_subparsers(dest="step", required=True)
    for spec in steps.values():
        step = sub.add_parser(spec.name)
        for artifact in spec.input_artifacts:
            step.add_argument(f"--{artifact}", type=Path, required=True)
        for parameter in spec.input_parameters:
            step.add_argument(f"--{parameter}", required=True)
        if spec.mounts_circuit_source:
            step.add_argument("--circuit-dir", type=Path, default=None)
        if spec.reads_sources:
            step.add_argument("--sources-dir", type=Path, default=None)
        if spec.gathers_parts:
            # Optional input artifacts: a directory Argo did not fill is absent (None-like).
            step.add_argument(f"--{_contract.PARTS_ARTIFACT}", type=Path, default=None)
            step.add_argument(f"--{_contract.CACHED_PARTS_ARTIFACT}", type=Path, default=None)
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
    if _contract.TERMINATION_LOG.is_file():
        with contextlib.suppress(OSError):
            _contract.TERMINATION_LOG.write_text(line)
    return code


def main(argv: Sequence[str] | None = None, *, steps: StepRegistry | None = None) -> int:
    """Entry point of ``qiskit-argo-step STEP ...``; returns the exit code. ``steps`` defaults to
    the job DAG's ``qiskit_argo.steps.STEPS`` and the ``SERVICE_STEPS`` together."""
    from qiskit_argo.steps import SERVICE_STEPS, STEPS

    registry = StepRegistry([*STEPS.values(), *SERVICE_STEPS.values()]) if steps is None else steps
    args = vars(_parser(registry).parse_args(argv))
    step = args.pop("step")
    args = {key.replace("-", "_"): value for key, value in args.items()}
    args["out"].mkdir(parents=True, exist_ok=True)
    try:
        registry[step].function(**args)
    except QiskitArgoError as error:
        return _report_failure(error)
    except Exception as error:  # noqa: BLE001 - a step must end with one line, never a traceback
        return _report_failure(error)
    return EXIT_OK
