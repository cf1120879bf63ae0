"""A made-up second executor, registered only here: proof that the DAG branches on a step's output.

``REGISTRY`` is the real step registry plus ``execute-fake`` (after execute-aer: the same
contract, ``when`` the schedule step's ``executor`` is ``fake``) and with a schedule step that
writes the executor named by ``QISKIT_ARGO_TEST_EXECUTOR`` (default ``aer``) over the real one's
choice. ``execute-fake`` runs the real Aer execution and marks what it wrote, so a test can tell
which branch store-results took its inputs from: its ``result.json`` holds ``"executor": "fake"``
and its summary's top counts are ``{MARK: 1}``.

A step worker that must run these steps preloads ``tests.support.fake_executor_worker``, which
points the worker's ``qiskit-argo-step`` at ``REGISTRY``; importing this module changes nothing.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from qiskit_argo import scheduling
from qiskit_argo.steps import STEPS, Condition, execute_aer, schedule

__all__ = ["EXECUTOR_VARIABLE", "MARK", "FAKE", "REGISTRY", "WORKER_MODULE"]

EXECUTOR_VARIABLE = "QISKIT_ARGO_TEST_EXECUTOR"
MARK = "fake-executor"
WORKER_MODULE = "tests.support.fake_executor_worker"


def schedule_for_tests(request: Path, catalogue: Path, metrics: str, reserved: str, out: Path) -> None:
    """The real schedule step, then the executor the test asks for."""
    schedule(request, catalogue, metrics, reserved, out)
    (out / scheduling.EXECUTOR_FILE).write_text(os.environ.get(EXECUTOR_VARIABLE, scheduling.AER))


def execute_fake(circuit: Path, request: Path, backend: str, target: str, semaphore: str, out: Path) -> None:
    """Aer's execution, marked as this executor's."""
    execute_aer(circuit, request, backend, target, semaphore, out)
    result = json.loads((out / "result.json").read_text())
    (out / "result.json").write_text(json.dumps({**result, "executor": "fake"}))
    summary = json.loads((out / "summary.json").read_text())
    (out / "summary.json").write_text(json.dumps({**summary, "topCounts": {MARK: 1}}))


_AER = STEPS["execute-aer"]
FAKE = dataclasses.replace(_AER, name="execute-fake", function=execute_fake, when=Condition("executor", "fake"))
REGISTRY = STEPS.with_step(dataclasses.replace(STEPS["schedule"], function=schedule_for_tests)).with_step(
    FAKE, after=_AER.name
)
