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
        ([{"name": "a", "template": "t", "depends": "b.AnySucceeded"}, _task("b")], "the result must be one of"),
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


# --------------------------------------------------------------------------- branches: when, depends


def _branching(go: str) -> dict[str, Any]:
    """``a`` always; ``b`` when the workflow parameter ``go`` is ``yes``; ``c`` after ``b`` (bare:
    Succeeded or Skipped); ``d`` only after ``b`` succeeded; ``e`` when ``b`` failed (it never fails)."""
    ok = _step_template("ok", ["schedule", "--help"])
    tasks = [
        {"name": "a", "template": "ok"},
        {"name": "b", "template": "ok", "depends": "a", "when": "{{workflow.parameters.go}} == yes"},
        {"name": "c", "template": "ok", "depends": "b"},
        {"name": "d", "template": "ok", "depends": "b.Succeeded"},
        {"name": "e", "template": "ok", "depends": "a && b.Failed"},
    ]
    return _workflow(tasks, [ok], arguments={"parameters": [{"name": "go", "value": go}]})


@pytest.mark.parametrize(
    ("go", "phases"),
    [
        ("yes", {"a": "Succeeded", "b": "Succeeded", "c": "Succeeded", "d": "Succeeded", "e": "Omitted"}),
        ("no", {"a": "Succeeded", "b": "Skipped", "c": "Succeeded", "d": "Omitted", "e": "Omitted"}),
    ],
)
def test_when_skips_and_depends_omits_as_in_argo(tmp_path: Path, go: str, phases: dict[str, str]) -> None:
    run = run_workflow(_branching(go), {}, tmp_path)
    assert {name: task.phase for name, task in run.tasks.items()} == phases
    assert run.phase == "Succeeded", "nothing failed: left-out tasks fail nothing"
    if go == "no":
        assert run.tasks["b"].message == "when 'no == yes' evaluated false"
    assert run.tasks["e"].message == "omitted: depends condition not met"


def test_a_failure_handled_by_depends_does_not_fail_the_dag(tmp_path: Path) -> None:
    """Argo assesses a DAG by its leaves: a failed task whose dependent ran on ``.Failed`` is handled."""
    ok = _step_template("ok", ["schedule", "--help"])
    bad = _step_template("bad", ["schedule", "--request", "/tmp/missing.json", "--metrics", "{}", "--out", "/tmp/o"])
    tasks = [{"name": "a", "template": "bad"}, {"name": "cleanup", "template": "ok", "depends": "a.Failed"}]
    run = run_workflow(_workflow(tasks, [ok, bad]), {}, tmp_path)
    assert (run.tasks["a"].phase, run.tasks["cleanup"].phase, run.phase) == ("Failed", "Succeeded", "Succeeded")
    tasks = [{"name": "a", "template": "bad"}, {"name": "after", "template": "ok", "depends": "a"}]
    run = run_workflow(_workflow(tasks, [ok, bad]), {}, tmp_path / "2")
    assert (run.tasks["after"].phase, run.phase) == ("Omitted", "Failed"), "an omitted leaf takes its parent's failure"


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ({"when": "{{workflow.parameters.nope}} == yes"}, "unresolved reference {{workflow.parameters.nope}}"),
        ({"when": "a-b == yes"}, "is not a word, a number or a quoted string"),
        ({"depends": "a.Finished"}, "the result must be one of"),
    ],
)
def test_a_when_or_depends_that_cannot_be_evaluated_is_an_error(
    tmp_path: Path, task: dict[str, Any], message: str
) -> None:
    ok = _step_template("ok", ["schedule", "--help"])
    tasks = [{"name": "a", "template": "ok"}, {"name": "b", "template": "ok", **task}]
    if "depends" in task:
        with pytest.raises(LocalRunError, match=message):
            run_workflow(_workflow(tasks, [ok]), {}, tmp_path)
        return
    run = run_workflow(_workflow(tasks, [ok]), {}, tmp_path)
    assert run.tasks["b"].phase == "Error" and message in run.tasks["b"].message
    assert run.phase == "Failed"
