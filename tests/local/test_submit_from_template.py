"""`argo submit --from clusterworkflowtemplate/qiskit-job-v1 -p job=...`, run by the local runner:
the Workflow Argo's CLI makes (only a workflowTemplateRef and the job parameter) runs the
template's own DAG and gives what `qiskit-argo run` gives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qiskit_argo import workflows
from qiskit_argo.cli import app
from qiskit_argo.errors import EXIT_PERMANENT
from qiskit_argo.local import LocalRunError, WorkflowRun, run_workflow, substitute_known
from qiskit_argo.manifests import load_job
from qiskit_argo.steps import STEPS
from tests.support.submit import submitted_from_template


def _templates() -> dict[str, dict[str, Any]]:
    template = workflows.cluster_workflow_template()
    return {template["metadata"]["name"]: template}


def _job_json(path: Path) -> str:
    result = CliRunner().invoke(app, ["render", "--job-json", str(path)])
    assert result.exit_code == 0, result.output
    return result.stdout.strip()  # as "$(...)" hands it to argo submit -p


def _counts(folder: Path) -> dict[str, int]:
    document = json.loads((folder / "result.json").read_text())
    counts: dict[str, int] = document["pub_results"][0]["data"]["c"]["counts"][0]
    return counts


def test_render_job_json_is_what_build_passes(examples: Path) -> None:
    job, _ = load_job(examples / "bell.yaml")
    assert _job_json(examples / "bell.yaml") == workflows.job_json(job)


def test_submitted_from_template_runs_like_qiskit_argo_run(examples: Path, tmp_path: Path) -> None:
    own = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", str(examples / "bell.yaml"), "--out", str(own)])
    assert result.exit_code == 0, result.output

    run = run_workflow(submitted_from_template(_job_json(examples / "bell.yaml")), _templates(), tmp_path / "from")
    assert run.phase == "Succeeded", run.message
    assert list(run.tasks) == list(STEPS)
    assert run.name.startswith(f"{workflows.cluster_workflow_template()['metadata']['name']}-")
    # validate read exactly the job document build() would have passed
    job, _ = load_job(examples / "bell.yaml")
    assert (tmp_path / "from/steps/validate").rglob("job.json")
    (received,) = (tmp_path / "from/steps/validate").rglob("job.json")
    assert received.read_text() == workflows.job_json(job)
    counts = _counts(run.tasks["store-results"].artifacts["results"])
    assert counts == _counts(own) and sum(counts.values()) == 1024


def _failed(run: WorkflowRun) -> tuple[str, int | None, str]:
    task = run.failed_task
    assert task is not None
    return task.name, task.exit_code, task.message


def test_a_configmap_circuit_fails_validation_with_its_reason(examples: Path, tmp_path: Path) -> None:
    """The template's circuit-source volume is empty: only inline circuits run through --from."""
    run = run_workflow(submitted_from_template(_job_json(examples / "configmap.yaml")), _templates(), tmp_path)
    assert run.phase == "Failed"
    name, code, message = _failed(run)
    assert (name, code) == ("validate", EXIT_PERMANENT)
    assert "configMapKeyRef" in message, message


def test_without_the_job_parameter_nothing_runs(tmp_path: Path) -> None:
    with pytest.raises(LocalRunError, match=r"'job' has no value \(argo submit -p job=\.\.\.\)"):
        run_workflow(submitted_from_template(None), _templates(), tmp_path)


def test_an_own_circuit_source_volume_merges_into_two_sources_like_argo(examples: Path, tmp_path: Path) -> None:
    """Argo joins the Workflow's volumes over the template's by name, field by field."""
    volume = {"name": workflows.CIRCUIT_SOURCE_VOLUME, "configMap": {"name": "circuits", "optional": True}}
    workflow = submitted_from_template(_job_json(examples / "bell.yaml"), volumes=[volume])
    with pytest.raises(LocalRunError, match="two sources"):
        run_workflow(workflow, _templates(), tmp_path)


def test_an_unknown_template_is_reported(tmp_path: Path) -> None:
    with pytest.raises(LocalRunError, match="ClusterWorkflowTemplate 'qiskit-job-v1' not found"):
        run_workflow(submitted_from_template("{}"), {}, tmp_path)


def test_raw_data_keeps_references_it_cannot_resolve() -> None:
    scope = {"workflow.parameters.job": '{"a":"b\\nc"}'}
    assert substitute_known("{{workflow.parameters.job}}", scope) == '{"a":"b\\nc"}'
    assert substitute_known("x {{ workflow.parameters.job }} {{other}}", scope) == 'x {"a":"b\\nc"} {{other}}'
