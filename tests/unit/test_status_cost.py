"""``status.cost`` and ``BudgetExceeded`` through the pure status logic: the schedule step's
``estimate`` reaches ``status.cost.estimate``; what the controller put in ``status.cost``
(reserved, budgets, charged) survives every later pass; the real schedule step's
``BudgetExceeded`` line, through Argo's shapes, is the job's reason."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from qiskit_argo import steps as steps_module
from qiskit_argo.api import CostAmount, JobCost, Phase
from qiskit_argo.catalogue import Catalogue, CatalogueEntry
from qiskit_argo.reasons import CONTROLLER_REASONS, STEP_REASONS, Reason
from qiskit_argo.status import Failure, is_terminal, next_status
from tests.argo_fake import IBM_SCHEDULE, ArgoFake
from tests.unit.test_status import ARGO_VERSIONS, T0, _job_file, make_job, make_workflow

ESTIMATE = {"quantumSeconds": "2.264", "amount": "3.6224", "currency": "USD", "how": "IBM's model on ibm_torino"}
RESERVED = CostAmount(quantum_seconds="60", amount="96", currency="USD", how="upper bound on torino")


def test_budget_exceeded_is_a_step_and_a_controller_reason() -> None:
    assert Reason.BUDGET_EXCEEDED in STEP_REASONS and Reason.BUDGET_EXCEEDED in CONTROLLER_REASONS


def test_the_estimate_reaches_the_status_and_the_reservation_stays() -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    argo.start()
    argo.run_step("validate")
    argo.succeed_step("validate")
    job.status = next_status(job, argo.workflow, T0).model_copy(
        update={"cost": JobCost(reserved=RESERVED, budgets=["lab"])}
    )
    argo.run_step("schedule")
    argo.succeed_step("schedule", {**IBM_SCHEDULE, "estimate": json.dumps(ESTIMATE)})
    status = next_status(job, argo.workflow, T0)
    assert status.cost is not None
    assert status.cost.estimate == CostAmount.model_validate(ESTIMATE)
    assert (status.cost.reserved, status.cost.budgets) == (RESERVED, ["lab"])
    job.status = status
    assert next_status(job, argo.workflow, T0) == status, "idempotent"


def test_a_finished_status_keeps_what_was_charged() -> None:
    job = make_job()
    argo = ArgoFake(make_workflow(job))
    argo.succeed_all()
    done = next_status(job, argo.workflow, T0)
    assert done.phase == Phase.SUCCEEDED.value and is_terminal(done, 1)
    charged = CostAmount(quantum_seconds="2", amount="3.2", currency="USD")
    job.status = done.model_copy(update={"cost": JobCost(reserved=RESERVED, charged=charged, budgets=["lab"])})
    assert next_status(job, argo.workflow, T0).cost == job.status.cost


def test_the_controllers_refusal_is_the_jobs_reason() -> None:
    job = make_job()
    refusal = Failure(Reason.BUDGET_EXCEEDED, "QiskitBudget lab (total): the job needs 60 quantum seconds, 30 are left")
    status = next_status(job, None, T0, failure=refusal)
    assert (status.phase, status.reason) == (Phase.FAILED.value, "BudgetExceeded")
    assert "QiskitBudget lab" in (status.message or "")
    assert is_terminal(status, 1)


def _real_schedule(tmp_path: Path, reserved: str) -> tuple[str, int]:
    """validate, then schedule on an IBM backend with ``reserved``: the schedule step's last line and exit code."""
    out = tmp_path / "validated"
    job = _job_file(tmp_path, backend={"ref": "torino"})
    assert steps_module.main(["validate", "--job", str(job), "--limits", "{}", "--out", str(out)]) == 0
    entry = CatalogueEntry(name="torino", type="ibm", device="ibm_torino", fake=True, num_qubits=133)
    catalogue = tmp_path / "catalogue.json"
    catalogue.write_text(json.dumps(Catalogue(entries=[entry]).dump()))
    argv = ["schedule", "--request", str(out / "request.json"), "--catalogue", str(catalogue)]
    argv += ["--metrics", (out / "metrics.json").read_text(), "--reserved", reserved, "--out", str(tmp_path / "o")]
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = steps_module.main(argv)
    lines = stderr.getvalue().strip().splitlines()
    return (lines[-1] if lines else ""), code


@pytest.mark.parametrize("version", ARGO_VERSIONS)
def test_the_schedule_steps_budget_exceeded_reaches_the_status(tmp_path: Path, version: str) -> None:
    line, code = _real_schedule(tmp_path, json.dumps({"quantumSeconds": "1"}))
    assert code == 2 and line.startswith("BudgetExceeded: "), line
    job = make_job()
    argo = ArgoFake(make_workflow(job), argo_version=version)
    argo.start()
    argo.run_step("validate")
    argo.succeed_step("validate")
    argo.run_step("schedule")
    argo.fail_step("schedule", line, exit_code=code, retried=0)
    status = next_status(job, argo.workflow, T0)
    assert (status.phase, status.reason) == (Phase.FAILED.value, "BudgetExceeded"), status.message
    assert status.message == f"schedule failed: {line.split(': ', 1)[1]}"


def test_the_schedule_step_runs_within_its_reservation(tmp_path: Path) -> None:
    line, code = _real_schedule(tmp_path, json.dumps({"quantumSeconds": "60"}))
    assert code == 0, line
    estimate = json.loads((tmp_path / "o" / "estimate.json").read_text())
    assert float(estimate["quantumSeconds"]) < 60
