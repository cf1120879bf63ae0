"""`qiskit-argo run` end to end: the results directory a user gets, and the summary they read."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from qiskit_argo.cli import app
from qiskit_argo.steps import STEPS

PNG = b"\x89PNG\r\n\x1a\n"


def test_run_bell_writes_the_results_directory(examples: Path, tmp_path: Path) -> None:
    out = tmp_path / "bell"
    result = CliRunner().invoke(app, ["run", str(examples / "bell.yaml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    for needle in ("Succeeded", "aer", "1024", "top counts", "step execute-aer-cached", "device", str(out)):
        assert needle in result.stdout, needle
    document = json.loads((out / "result.json").read_text())
    counts = document["pub_results"][0]["data"]["c"]["counts"][0]
    assert set(counts) == {"00", "11"} and sum(counts.values()) == 1024
    assert (out / "histogram.png").read_bytes().startswith(PNG)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["circuit"]["numQubits"] == 2
    workflow = yaml.safe_load((out / "workflow.yaml").read_text())
    assert workflow["kind"] == "Workflow" and workflow["metadata"]["labels"]["qiskit-argo.io/job"] == "bell"
    # A step left out (the IBM branch, the other executors: Skipped, Omitted) never ran, so it has
    # no directory; the seeded job's executor is the cached one, its one shard in a folder of its own.
    ran = {"validate", "schedule", "execute-aer-cached", "store-results"}
    assert sorted(p.name for p in (out / "steps").iterdir()) == sorted(ran)
    assert ran < set(STEPS)
    assert (out / "steps" / "execute-aer-cached" / "0-of-1" / "stderr.log").is_file()


def test_run_config_map_example(examples: Path, tmp_path: Path) -> None:
    """The ConfigMap in the same file is mounted where the validate step reads it, as in a pod."""
    out = tmp_path / "cm"
    result = CliRunner().invoke(app, ["run", str(examples / "configmap.yaml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "steps" / "validate" / "volumes" / "circuit-source" / "circuits" / "bell.qasm").is_file()


def test_render_prints_the_workflow(examples: Path) -> None:
    result = CliRunner().invoke(app, ["render", str(examples / "sweep.yaml")])
    assert result.exit_code == 0, result.output
    workflow = yaml.safe_load(result.stdout)
    assert workflow["kind"] == "Workflow"
    assert [t["name"] for t in workflow["spec"]["templates"][0]["dag"]["tasks"]] == list(STEPS)


def test_crds_prints_every_generated_crd(repo: Path) -> None:
    result = CliRunner().invoke(app, ["crds"])
    assert result.exit_code == 0, result.output
    generated = [yaml.safe_load(path.read_text()) for path in sorted((repo / "crds").glob("*_*.yaml"))]
    printed = list(yaml.safe_load_all(result.stdout))
    assert generated and sorted(printed, key=str) == sorted(generated, key=str)


def test_validate_prints_metrics(examples: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(examples / "ghz.yaml")])
    assert result.exit_code == 0, result.output
    assert "is valid" in result.stdout and "numQubits" in result.stdout and "5" in result.stdout


def test_every_command_has_help_with_an_example() -> None:
    for command in ("validate", "render", "run", "crds", "controller"):
        result = CliRunner().invoke(app, [command, "--help"])
        assert result.exit_code == 0
        assert "Example: qiskit-argo" in result.stdout, command
