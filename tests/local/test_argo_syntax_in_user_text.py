"""User text reaches the steps byte for byte, whatever Argo template syntax it holds.

Argo substitutes ``{{...}}`` tags (and evaluates ``{{=...}}``) in a Workflow's templates and
arguments. A circuit that mentions them must run exactly as committed: in the rendered Workflow
no user ``{{`` survives as a tag, Argo's substitution (the local runner's, which follows it)
changes nothing, and the validate step reads the original circuit.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from qiskit_argo import workflows
from qiskit_argo.cli import app
from qiskit_argo.manifests import load_job

TAGS = "{{workflow.name}} {{inputs.parameters.job}} {{=sprig.env('HOME')}} {{{{tasks.x.outputs}}}} {{"
CIRCUIT = f"""OPENQASM 2.0;
include "qelib1.inc";
// {TAGS}
qreg q[1];
creg c[1];
x q[0];
measure q -> c;
"""
_ARGO_TAG = re.compile(r"\{\{")


def _job_file(tmp_path: Path) -> Path:
    document = {
        "apiVersion": "qiskit-argo.io/v1alpha1",
        "kind": "QiskitJob",
        "metadata": {"name": "tags", "annotations": {"note": TAGS}},
        "spec": {"circuit": {"openqasm": CIRCUIT}, "shots": 10, "backend": {"aer": {"seed": 1}}},
    }
    path = tmp_path / "tags.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _raw_job(workflow: dict[str, Any]) -> str:
    for task in workflow["spec"]["templates"][0]["dag"]["tasks"]:
        for artifact in task.get("arguments", {}).get("artifacts", []):
            if "raw" in artifact:
                return str(artifact["raw"]["data"])
    raise AssertionError("no raw job artifact in the Workflow")


def test_the_rendered_workflow_holds_no_user_tag_and_the_same_circuit(tmp_path: Path) -> None:
    job, _ = load_job(_job_file(tmp_path))
    workflow = workflows.build(job)
    raw = _raw_job(workflow)
    assert not _ARGO_TAG.search(raw)
    assert json.loads(raw)["spec"]["circuit"]["openqasm"] == CIRCUIT
    job_parameter = workflows.job_json(job)
    assert not _ARGO_TAG.search(job_parameter)
    assert json.loads(job_parameter) == json.loads(raw)
    # What Argo substitutes is the Workflow as JSON: no tag anywhere comes from the user.
    text = json.dumps(workflow)
    assert "{{=sprig" not in text and "{{workflow.name}} {{inputs" not in text


def test_a_local_run_validates_the_circuit_as_committed(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(_job_file(tmp_path)), "--out", str(out)])
    assert result.exit_code == 0, result.output
    received = (out / "steps" / "validate").rglob("job.json")
    documents = [json.loads(path.read_text()) for path in received]
    assert documents, "the validate step's job artifact was not kept"
    assert all(document["spec"]["circuit"]["openqasm"] == CIRCUIT for document in documents)
    counts = json.loads((out / "result.json").read_text())["pub_results"][0]["data"]["c"]["counts"][0]
    assert counts == {"1": 10}
