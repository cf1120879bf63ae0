"""Golden Workflows: for every example job, the Workflow checked in under tests/golden/workflows/
is exactly what ``qiskit_argo.workflows.build`` renders now with the example catalogue, and the
service Workflows under tests/golden/service-workflows/ are what the service helpers render (Hera's
golden-file style: a change to the rendering is a reviewed diff of these files; ``make generate``
rewrites them)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from qiskit_argo import generate, workflows
from qiskit_argo.manifests import load_job
from qiskit_argo.naming import LABEL_JOB

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
GOLDEN = REPO / generate.GOLDEN_WORKFLOWS_DIR


def test_every_example_has_a_golden_workflow_and_nothing_else_does() -> None:
    assert EXAMPLES, "no examples/*.yaml"
    assert sorted(path.name for path in GOLDEN.glob("*.yaml")) == [path.name for path in EXAMPLES]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_golden_workflow_is_what_build_renders(example: Path) -> None:
    job, _ = load_job(example)
    rendered = generate.HEADER + workflows.to_yaml(workflows.build(job, catalogue=generate.example_catalogue(job)))
    golden = GOLDEN / example.name
    stale = f"{golden.relative_to(REPO)} is stale; run `make generate` and review the diff"
    assert golden.read_text() == rendered, stale


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_golden_workflow_is_the_examples_own(example: Path) -> None:
    job, _ = load_job(example)
    workflow = yaml.safe_load((GOLDEN / example.name).read_text())
    assert workflow["apiVersion"] == "argoproj.io/v1alpha1" and workflow["kind"] == "Workflow"
    assert workflow["metadata"]["namespace"] == job.namespace
    assert workflow["metadata"]["labels"][LABEL_JOB] == job.name


SERVICE = generate.golden_service_workflows()


def test_there_is_a_golden_service_workflow_of_each_service_step() -> None:
    from qiskit_argo.steps import SERVICE_STEPS

    steps = {workflow["metadata"]["labels"][workflows.LABEL_SERVICE] for workflow in SERVICE.values()}
    assert steps == set(SERVICE_STEPS)
    assert sorted(path.name for path in (REPO / generate.GOLDEN_SERVICE_DIR).glob("*.yaml")) == sorted(
        path.name for path in SERVICE
    )


@pytest.mark.parametrize("relative", sorted(SERVICE), ids=lambda path: path.stem)
def test_golden_service_workflow_is_what_the_helpers_render(relative: Path) -> None:
    rendered = generate.HEADER + workflows.to_yaml(SERVICE[relative])
    stale = f"{relative} is stale; run `make generate` and review the diff"
    assert (REPO / relative).read_text() == rendered, stale
