"""Faults for step workers, for tests: a worker that preloads this module runs its steps through
``main`` below, which does to a step what ``QISKIT_ARGO_TEST_FAULTS`` says, then runs it.

``QISKIT_ARGO_TEST_FAULTS="validate=hang,*=report"`` — per step name (``*``: any step):

- ``raise``: a ``BaseException`` that is not an ``Exception`` escapes (what pyo3 raises on a Rust panic)
- ``segfault``: the process dies of SIGSEGV; ``exit3``: it calls ``os._exit(3)``
- ``hang``: it sleeps for an hour
- ``report``: it prints its argv, working directory and ``HOME`` (JSON) to stdout and writes a
  line to file descriptor 2 directly, as C code would, then runs the step

``QISKIT_ARGO_TEST_MODULES=DIR``: after each step, the names in ``sys.modules`` go to ``DIR/<step>.json``.

The variable is read when the step runs, from the worker's environment with the container's
``env`` over it: a test sets it in its own environment before the workers start, or in a template.
Workers find this module through ``PYTHONPATH`` (``pythonpath_with_tests``).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qiskit_argo import steps

#: The module workers preload to get these faults.
MODULE = __name__
REPO = Path(__file__).resolve().parents[2]

_real_main = steps.main


class Panic(BaseException):
    """What pyo3 raises when Rust code panics: not an Exception, so a step's own handler misses it."""


def pythonpath_with_tests() -> str:
    """``PYTHONPATH`` for workers that must import this module (``tests.local.faults``)."""
    return os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))


def _fault(step: str) -> str | None:
    spec = os.environ.get("QISKIT_ARGO_TEST_FAULTS", "")
    faults = dict(item.split("=", 1) for item in spec.split(",") if "=" in item)
    return faults.get(step) or faults.get("*")


def main(argv: Sequence[str] | None = None, **options: Any) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    step = args[0] if args else ""
    fault = _fault(step)
    if fault == "raise":
        raise Panic("lexer panicked")
    if fault == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    if fault == "exit3":
        os._exit(3)
    if fault == "hang":
        time.sleep(3600)
    if fault == "report":
        print(json.dumps({"argv": sys.argv, "cwd": os.getcwd(), "home": os.environ.get("HOME")}), flush=True)
        os.write(2, b"written to file descriptor 2\n")
    code = _real_main(argv, **options)
    record = os.environ.get("QISKIT_ARGO_TEST_MODULES")
    if record:
        Path(record, f"{step}.json").write_text(json.dumps(sorted(sys.modules)))
    return code


steps.main = main
