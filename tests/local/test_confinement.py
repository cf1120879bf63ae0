"""The local runner writes only under its work directory, whatever a Workflow says, and always ends."""

from __future__ import annotations

import time
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from typer.testing import CliRunner

from qiskit_argo import manifests
from qiskit_argo.cli import app
from qiskit_argo.local import (
    LocalRunError,
    _Mount,
    _reroot,
    _reroot_args,
    run_workflow,
    substitute,
    substitute_known,
    topological_order,
)
from qiskit_argo.safeio import UnsafePathError, join_key

CONFIGMAP = Path(__file__).resolve().parents[2] / "examples" / "configmap.yaml"


def _workflow(template: dict[str, Any], task: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    task = task or {"name": "only", "template": template["name"]}
    return {
        "metadata": {"name": "wf"},
        "spec": {"entrypoint": "main", "templates": [{"name": "main", "dag": {"tasks": [task]}}, template], **spec},
    }


def _template(
    args: list[str] | None = None, mounts: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "name": "s",
        "container": {
            "image": "x",
            "command": ["qiskit-argo-step"],
            "args": args if args is not None else ["--help"],
            "volumeMounts": mounts if mounts is not None else [{"name": "scratch", "mountPath": "/tmp"}],
        },
        "volumes": [{"name": "scratch", "emptyDir": {}}],
        **extra,
    }


def _error(workflow: dict[str, Any], workdir: Path, **kwargs: Any) -> str:
    run = run_workflow(workflow, {}, workdir, **kwargs)
    task = run.tasks["only"]
    assert task.phase in ("Error", "Failed"), task
    return task.message


@pytest.fixture
def sandbox(tmp_path: Path) -> tuple[Path, Path]:
    """(work directory, the folder around it that must stay empty but for it)."""
    work = tmp_path / "a" / "b" / "work"
    work.mkdir(parents=True)
    return work, tmp_path


def _outside(sandbox: tuple[Path, Path]) -> list[Path]:
    work, root = sandbox
    return [p for p in root.rglob("*") if p not in work.parents and p != work and work not in p.parents]


@pytest.mark.parametrize("key", ["../../../escape.txt", "../x", "/abs/escape.txt", "..", ".", "a/b", "", "x\x00y"])
def test_config_map_keys_never_leave_the_volume(sandbox: tuple[Path, Path], key: str) -> None:
    work, root = sandbox
    if key.startswith("/abs"):
        key = str(root / "abs-escape.txt")
    template = _template(mounts=[{"name": "source", "mountPath": "/etc/c"}])
    workflow = _workflow(template, volumes=[{"name": "source", "configMap": {"name": "circuits"}}])
    message = _error(workflow, work, config_maps={"circuits": {"ok.qasm": b"x", key: b"pwned"}})
    assert "is not a single file name" in message
    assert _outside(sandbox) == []


def test_a_hostile_key_past_the_loader_fails_run_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The projected volume mounts only the keys the job names (``items``): a hostile key the job
    names (past the model's checks) fails the step; one it does not name is never written."""
    job, maps = manifests.load_job(CONFIGMAP)
    climbing = f"../../../../qiskit-argo-escape-{uuid.uuid4().hex}"
    hostile = {name: {**files, climbing: b"pwned", f"{climbing}-unnamed": b"pwned"} for name, files in maps.items()}
    ref = job.spec.circuit.config_map_key_ref.model_copy(update={"key": climbing})
    circuit = job.spec.circuit.model_copy(update={"config_map_key_ref": ref})
    job = job.model_copy(update={"spec": job.spec.model_copy(update={"circuit": circuit})})
    monkeypatch.setattr(manifests, "load_job", lambda path: (job, hostile))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", "job.yaml", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "step validate failed" in result.stderr and "is not a single file name" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    escaped = climbing.rsplit("/", 1)[1]
    assert not list(Path("/").glob(escaped)) and not list(Path("/").glob(f"*/{escaped}"))


@pytest.mark.parametrize(
    ("where", "path"),
    [
        ("input", "/tmp/../../../outside.txt"),
        ("input", "/tmp/../outside.txt"),
        ("input", "relative/outside.txt"),
        ("output-parameter", "/tmp/../../outside.txt"),
        ("output-artifact", "/tmp/../../outside"),
    ],
)
def test_container_paths_cannot_climb_out_of_their_volume(sandbox: tuple[Path, Path], where: str, path: str) -> None:
    work, _ = sandbox
    extra: dict[str, Any]
    if where == "input":
        extra = {"inputs": {"artifacts": [{"name": "a", "path": path, "raw": {"data": "pwned"}}]}}
    elif where == "output-parameter":
        extra = {"outputs": {"parameters": [{"name": "p", "valueFrom": {"path": path}}]}}
    else:
        extra = {"outputs": {"artifacts": [{"name": "a", "path": path}]}}
    message = _error(_workflow(_template(**extra)), work)
    assert "is on no writable volume" in message or "is not an absolute path" in message
    assert _outside(sandbox) == []


def test_step_and_volume_names_are_single_file_names(sandbox: tuple[Path, Path]) -> None:
    work, _ = sandbox
    template = _template()
    bad_task = _workflow(template, {"name": "../../../evil", "template": "s"})
    run = run_workflow(bad_task, {}, work)
    assert "is not a single file name" in run.tasks["../../../evil"].message
    bad_volume = _template(mounts=[{"name": "../../../vol", "mountPath": "/tmp"}])
    bad_volume["volumes"] = [{"name": "../../../vol", "emptyDir": {}}]
    assert "is not a single file name" in _error(_workflow(bad_volume), work)
    assert "is not an absolute path" in _error(
        _workflow(_template(mounts=[{"name": "scratch", "mountPath": "x"}])), work
    )
    assert _outside(sandbox) == []


def test_absolute_arguments_must_be_on_a_volume(sandbox: tuple[Path, Path]) -> None:
    work, root = sandbox
    for args in (["schedule", "--out", str(root / "escape")], ["schedule", f"--out={root / 'escape'}"]):
        template = _template(args, mounts=[{"name": "scratch", "mountPath": "/scratch"}])
        message = _error(_workflow(template), work)
        assert "is on no writable volume" in message, message
    assert _outside(sandbox) == []

    volume = work / "vol"
    volume.mkdir()
    mounts = [_Mount(PurePosixPath("/tmp"), volume)]
    assert _reroot_args(["-x", "/tmp/a/../b", "--out=/tmp/o", "{}", "--flag"], mounts, "w") == [
        "-x",
        str(volume / "b"),
        f"--out={volume / 'o'}",
        "{}",
        "--flag",
    ]


def test_reroot_refuses_a_symbolic_link_out_of_the_volume(tmp_path: Path) -> None:
    volume = tmp_path / "vol"
    volume.mkdir()
    (tmp_path / "outside").mkdir()
    (volume / "link").symlink_to(tmp_path / "outside", target_is_directory=True)
    mounts = [_Mount(PurePosixPath("/tmp"), volume)]
    with pytest.raises(LocalRunError, match="symbolic link"):
        _reroot("/tmp/link/file", mounts, "w")
    assert _reroot("/tmp//x/./y", mounts, "w") == volume / "x" / "y"


def test_join_key(tmp_path: Path) -> None:
    assert join_key(tmp_path, "bell.qasm") == tmp_path / "bell.qasm"
    (tmp_path / "link").symlink_to("/etc")
    for key in ("link", "../x", "/etc/passwd", "..", "a/b", "a\\b", "x" * 254, None, 3):
        with pytest.raises(UnsafePathError, match="not a single file name|symbolic link"):
            join_key(tmp_path, key)


def test_only_qiskit_argo_steps_run(sandbox: tuple[Path, Path]) -> None:
    work, _ = sandbox
    for command in ("pip", "pytest", "qiskit-argo"):
        template = _template(["--version"])
        template["container"]["command"] = [command]
        assert "is not a qiskit-argo step" in _error(_workflow(template), work)


def test_deadline_is_enforced_between_steps(tmp_path: Path) -> None:
    workflow = _workflow(_template(), activeDeadlineSeconds=1e-9)
    run = run_workflow(workflow, {}, tmp_path)
    assert run.phase == "Failed"
    assert run.tasks["only"].phase == "Failed" and "exceeded its deadline" in run.tasks["only"].message


def test_substitution_is_linear_on_hostile_text() -> None:
    """`{{` and a long run of spaces (a circuit comment can hold 256 KiB of them) ends at once."""
    for text in ("{{a" + " " * 300_000, "{{" * 100_000, "{{ x" + "\t" * 300_000 + "}", "{" * 300_000):
        started = time.perf_counter()
        assert substitute_known(text, {"a": "A"}) == text
        assert time.perf_counter() - started < 1.0
    assert substitute_known("{{ a }}{{b}}{{ }}", {"a": "A"}) == "A{{b}}{{ }}"
    assert substitute("--x {{\n a\t}}", {"a": "1"}, "w") == "--x 1"


def test_a_long_chain_of_tasks_orders_without_recursion() -> None:
    tasks = [{"name": f"t{i}", "template": "t", "dependencies": [f"t{i - 1}"] if i else []} for i in range(5000)]
    assert [t["name"] for t in topological_order(list(reversed(tasks)))] == [f"t{i}" for i in range(5000)]
    cycle = [
        {"name": "a", "template": "t", "dependencies": ["c"]},
        {"name": "b", "template": "t", "dependencies": ["a"]},
        {"name": "c", "template": "t", "dependencies": ["b"]},
        {"name": "d", "template": "t", "dependencies": ["a"]},
    ]
    with pytest.raises(LocalRunError, match="DAG cycle: a -> c -> b -> a"):
        topological_order(cycle)
