"""The local runner interprets Argo's DAG semantics: order, references, volumes, failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qiskit_argo.local import LocalRunError, run_workflow, substitute, topological_order


def _task(name: str, *deps: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "template": "t", "dependencies": list(deps), **extra}


@pytest.mark.parametrize(
    ("tasks", "order"),
    [
        ([_task("a"), _task("b", "a"), _task("c", "b")], ["a", "b", "c"]),
        ([_task("c", "b"), _task("b", "a"), _task("a")], ["a", "b", "c"]),
        ([_task("b", "a"), _task("a"), {"name": "d", "template": "t", "depends": "a && b"}], ["a", "b", "d"]),
    ],
)
def test_topological_order(tasks: list[dict[str, Any]], order: list[str]) -> None:
    assert [t["name"] for t in topological_order(tasks)] == order


@pytest.mark.parametrize(
    ("tasks", "message"),
    [
        ([_task("a", "b"), _task("b", "a")], "DAG cycle"),
        ([_task("a", "missing")], "unknown task 'missing'"),
        ([{"name": "a", "template": "t", "depends": "b || c"}, _task("b"), _task("c")], "only '&&'"),
    ],
)
def test_topological_order_rejects(tasks: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(LocalRunError, match=message):
        topological_order(tasks)


def test_substitute_resolves_and_rejects_unknown_references() -> None:
    scope = {"inputs.parameters.x": "1", "tasks.a.outputs.parameters.y": "{}"}
    assert substitute("--x {{inputs.parameters.x}} {{ tasks.a.outputs.parameters.y }}", scope, "w") == "--x 1 {}"
    with pytest.raises(LocalRunError, match=r"unresolved reference \{\{inputs.parameters.z\}\}"):
        substitute("{{inputs.parameters.z}}", scope, "w")


def _workflow(tasks: list[dict[str, Any]], templates: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "wf"},
        "spec": {"entrypoint": "main", "templates": [{"name": "main", "dag": {"tasks": tasks}}, *templates], **spec},
    }


def _step_template(name: str, args: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "container": {
            "image": "x",
            "command": ["qiskit-argo-step"],
            "args": args,
            "volumeMounts": [{"name": "scratch", "mountPath": "/tmp"}],
        },
        "volumes": [{"name": "scratch", "emptyDir": {}}],
        **extra,
    }


def test_dangling_artifact_reference_fails_like_argo(tmp_path: Path) -> None:
    template = _step_template(
        "s",
        ["schedule", "--request", "/tmp/in/request.json", "--metrics", "{}", "--out", "/tmp/out"],
        inputs={"artifacts": [{"name": "request", "path": "/tmp/in/request.json"}]},
    )
    tasks = [
        {
            "name": "only",
            "template": "s",
            "arguments": {"artifacts": [{"name": "request", "from": "{{tasks.nope.outputs.artifacts.request}}"}]},
        }
    ]
    run = run_workflow(_workflow(tasks, [template]), {}, tmp_path)
    assert run.phase == "Failed"
    assert run.tasks["only"].phase == "Error"
    assert "does not exist" in run.tasks["only"].message


def test_missing_config_map_is_a_clear_error(tmp_path: Path) -> None:
    template = _step_template("s", ["--help"])
    template["container"]["volumeMounts"].append({"name": "circuit-source", "mountPath": "/etc/c"})
    workflow = _workflow(
        [{"name": "only", "template": "s"}],
        [template],
        volumes=[{"name": "circuit-source", "configMap": {"name": "circuits"}}],
    )
    run = run_workflow(workflow, {}, tmp_path)
    assert run.tasks["only"].phase == "Error"
    assert "ConfigMap 'circuits' not found" in run.tasks["only"].message


def test_failed_step_skips_its_dependents_and_keeps_its_log(tmp_path: Path) -> None:
    """A step that exits non-zero fails; what depends on it is omitted; its stderr is kept."""
    bad = _step_template("bad", ["schedule", "--request", "/tmp/missing.json", "--metrics", "{}", "--out", "/tmp/o"])
    tasks = [{"name": "first", "template": "bad"}, {"name": "second", "template": "bad", "dependencies": ["first"]}]
    run = run_workflow(_workflow(tasks, [bad]), {}, tmp_path)
    assert run.phase == "Failed"
    assert run.tasks["first"].phase == "Failed"
    assert run.tasks["first"].exit_code not in (None, 0)
    assert run.tasks["first"].message
    assert run.tasks["second"].phase == "Omitted"
    assert (tmp_path / "steps" / "first" / "stderr.log").is_file()


def test_unknown_command_is_reported(tmp_path: Path) -> None:
    template = _step_template("s", [])
    template["container"]["command"] = ["no-such-console-script"]
    run = run_workflow(_workflow([{"name": "only", "template": "s"}], [template]), {}, tmp_path)
    assert "is not a console script" in run.tasks["only"].message
