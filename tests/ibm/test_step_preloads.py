"""The IBM steps' ``preload`` lists name what they really import: an IBM job (examples/ibm-by-ref.yaml on
the catalogue's fake_sherbrooke) run by the local runner with workers that preload nothing of theirs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qiskit_argo.local import STEPS_SHARE, StepWorkers, run_workflow, step_component, step_preloads
from qiskit_argo.steps import STEPS
from tests.local import faults

pytest.importorskip("qiskit_ibm_runtime")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_ibm_steps_import_what_they_preload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qiskit_argo import workflows
    from qiskit_argo.catalogue import load_catalogue, snapshot
    from qiskit_argo.manifests import load_job

    monkeypatch.setenv("PYTHONPATH", faults.pythonpath_with_tests())
    monkeypatch.setenv("QISKIT_ARGO_TEST_MODULES", str(tmp_path / "modules"))
    (tmp_path / "modules").mkdir()
    template = workflows.cluster_workflow_template()
    backends, _ = load_catalogue([EXAMPLES / "catalogue"])
    job, _ = load_job(EXAMPLES / "ibm-by-ref.yaml")
    with StepWorkers({component: (faults.MODULE,) for component in step_preloads()}, key=step_component) as pool:
        run = run_workflow(workflows.build(job, catalogue=snapshot(backends)),
                           {template["metadata"]["name"]: template}, tmp_path / "run", workers=pool)  # fmt: skip
    assert run.phase == "Succeeded", run.tasks
    for name in ("ibm-submit", "ibm-wait"):
        spec = STEPS[name]
        imported = set(json.loads((tmp_path / "modules" / f"{name}.json").read_text()))
        assert spec.preload[-1].startswith("qiskit_argo."), name
        assert {*spec.preload, *STEPS_SHARE} <= imported, (name, {*spec.preload, *STEPS_SHARE} - imported)
