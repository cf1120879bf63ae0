"""Steps run in worker processes and end as containers end: crashes, deadlines, dead workers, and
no process outlives the run (normally, on an error, on Ctrl-C)."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qiskit_argo import local
from qiskit_argo.cli import app
from qiskit_argo.local import (
    STEPS_SHARE,
    LocalRunError,
    StepCall,
    StepEnd,
    StepWorkers,
    run_workflow,
    step_component,
    step_preloads,
)
from qiskit_argo.steps import STEPS
from tests.local import faults

IMAGE = "test/step:1"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds processes through /proc")


# --------------------------------------------------------------------------- helpers


def _template(name: str = "s", args: list[str] | None = None, env: dict[str, str] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {
        "image": IMAGE,
        "command": ["qiskit-argo-step"],
        "args": args if args is not None else ["schedule", "--help"],
        "volumeMounts": [{"name": "scratch", "mountPath": "/tmp"}],
    }
    if env:
        container["env"] = [{"name": key, "value": value} for key, value in env.items()]
    return {"name": name, "container": container, "volumes": [{"name": "scratch", "emptyDir": {}}]}


def _workflow(*templates: dict[str, Any], tasks: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    tasks = tasks or [{"name": t["name"], "template": t["name"]} for t in templates]
    return {
        "metadata": {"name": "wf"},
        "spec": {"entrypoint": "main", "templates": [{"name": "main", "dag": {"tasks": tasks}}, *templates], **spec},
    }


@pytest.fixture
def faulty(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., StepWorkers]]:
    """Pools whose workers preload ``tests.local.faults`` (faults from ``QISKIT_ARGO_TEST_FAULTS``)."""
    monkeypatch.setenv("PYTHONPATH", faults.pythonpath_with_tests())
    made: list[StepWorkers] = []

    def make(faults_spec: str = "", keys: tuple[str, ...] = (IMAGE,), **options: Any) -> StepWorkers:
        monkeypatch.setenv("QISKIT_ARGO_TEST_FAULTS", faults_spec)
        pool = StepWorkers({key: (faults.MODULE,) for key in keys}, **options)
        made.append(pool)
        return pool

    yield make
    for pool in made:
        pool.close()


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state) of a process, None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), fields[0]


def descendants(root: int) -> set[int]:
    """Every process below ``root`` (zombies too: a child nobody reaped is left behind as well)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (found := _stat(int(entry.name))) is not None:
            children.setdefault(found[0], []).append(int(entry.name))
    below, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in below:
                below.add(child)
                todo.append(child)
    return below


def _running(pid: int) -> bool:
    found = _stat(pid)
    return found is not None and found[1] != "Z"


@contextmanager
def no_process_left_behind() -> Iterator[None]:
    """Processes, threads and file descriptors: the block leaves none of its own behind."""
    gc.collect()
    before, threads, fds = descendants(os.getpid()), threading.active_count(), len(os.listdir("/proc/self/fd"))
    yield
    assert descendants(os.getpid()) - before == set(), "processes of the block outlived it"
    gc.collect()
    assert threading.active_count() <= threads, "threads of the block outlived it"
    assert len(os.listdir("/proc/self/fd")) <= fds, "file descriptors of the block stayed open"


def _wait_for(predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


# --------------------------------------------------------------------------- how a step ends


def test_a_step_that_raises_fails_like_a_pod(tmp_path: Path, faulty: Callable[..., StepWorkers]) -> None:
    """Exit code 1, the traceback in the step's log and its last line as the message; never out of the runner."""
    run = run_workflow(_workflow(_template()), {}, tmp_path, workers=faulty("*=raise"))
    task = run.tasks["s"]
    assert (task.phase, task.exit_code) == ("Failed", 1)
    assert task.message == "tests.local.faults.Panic: lexer panicked"
    assert task.log is not None and "Traceback" in task.log.read_text()


@pytest.mark.parametrize(("fault", "code"), [("segfault", 128 + signal.SIGSEGV), ("exit3", 3)])
def test_a_step_that_kills_its_process_fails_and_the_next_step_gets_a_new_worker(
    tmp_path: Path, faulty: Callable[..., StepWorkers], fault: str, code: int
) -> None:
    """The exit code a container runtime reports (128 + signal), Argo's message; later steps still run."""
    crash, fine = _template("crash", ["validate", "--help"]), _template("fine", ["schedule", "--help"])
    pool = faulty(f"validate={fault}")
    with no_process_left_behind():
        run = run_workflow(_workflow(crash, fine), {}, tmp_path, workers=pool)
        pool.close()
    assert (run.tasks["crash"].phase, run.tasks["crash"].exit_code) == ("Failed", code)
    assert run.tasks["crash"].message == f"Error (exit code {code})"
    assert run.tasks["fine"].phase == "Succeeded"
    if fault == "segfault":  # the worker's faulthandler leaves the Python stack in the step's log
        assert "Segmentation fault" in (tmp_path / "steps" / "crash" / "stderr.log").read_text()


def test_a_step_past_the_deadline_is_killed_and_fails(tmp_path: Path, faulty: Callable[..., StepWorkers]) -> None:
    pool = faulty("*=hang")
    started = time.monotonic()
    run = run_workflow(_workflow(_template(), activeDeadlineSeconds=1), {}, tmp_path, workers=pool)
    assert time.monotonic() - started < 20
    task = run.tasks["s"]
    assert (run.phase, task.phase, task.exit_code) == ("Failed", "Failed", None)
    assert task.message == "Step exceeded its deadline (spec.activeDeadlineSeconds: 1 s)"
    assert pool.pids() == {}, "the worker was ended"


def test_the_deadline_also_covers_a_worker_not_ready_yet(tmp_path: Path) -> None:
    """A worker still starting (importing) when the deadline comes is stopped with the step."""
    with StepWorkers({IMAGE: ("qiskit",)}) as pool:
        ended = pool.run(IMAGE, _call(tmp_path), deadline=time.monotonic())
        assert ended.how is StepEnd.DEADLINE
        assert pool.pids() == {}


def test_a_preload_module_that_cannot_be_imported_is_left_to_the_step(tmp_path: Path) -> None:
    with StepWorkers({IMAGE: ("qiskit_argo_no_such_module", "json")}) as pool:
        ended = pool.run(IMAGE, _call(tmp_path))
    assert (ended.how, ended.code) == (StepEnd.EXITED, 0)


def _call(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> StepCall:
    tmp_path.mkdir(parents=True, exist_ok=True)
    return StepCall(
        entry="qiskit_argo.steps:main",
        argv=("qiskit-argo-step", *(args or ("schedule", "--help"))),
        env=env or {},
        cwd=tmp_path,
        stdout=tmp_path / "stdout.log",
        stderr=tmp_path / "stderr.log",
    )


def test_a_step_sees_its_argv_environment_and_working_directory(
    tmp_path: Path, faulty: Callable[..., StepWorkers]
) -> None:
    """HOME=/tmp is the step's scratch volume here; what C code writes to fd 2 lands in stderr.log."""
    template = _template(env={"HOME": "/tmp", "QISKIT_ARGO_TEST_FAULTS": "schedule=report"})
    template["container"]["workingDir"] = "/tmp/work"
    run = run_workflow(_workflow(template), {}, tmp_path, workers=faulty())
    assert run.phase == "Succeeded", run.tasks["s"].message
    step = tmp_path / "steps" / "s"
    report = json.loads((step / "stdout.log").read_text().splitlines()[0])
    scratch = step / "volumes" / "scratch"
    assert report == {
        "argv": ["qiskit-argo-step", "schedule", "--help"],
        "cwd": str(scratch / "work"),
        "home": str(scratch),
    }
    assert "usage: qiskit-argo-step schedule" in (step / "stdout.log").read_text()
    assert "written to file descriptor 2" in (step / "stderr.log").read_text()
    assert os.environ.get("HOME") != str(scratch), "the step's environment stays in its worker"


def test_environment_values_obey_the_volumes(tmp_path: Path) -> None:
    for env, message in (
        ({"HOME": "/etc"}, "is on no writable volume"),
        ({"A": "{{inputs.parameters.nope}}"}, "unresolved reference"),
    ):
        run = run_workflow(_workflow(_template(env=env)), {}, tmp_path)
        assert run.tasks["s"].phase == "Error" and message in run.tasks["s"].message
    template = _template()
    template["container"]["env"] = [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]
    run = run_workflow(_workflow(template), {}, tmp_path)
    assert "valueFrom is not supported locally" in run.tasks["s"].message


def test_a_step_that_prints_nothing_leaves_no_stdout_log(tmp_path: Path) -> None:
    run = run_workflow(_workflow(_template(args=["schedule", "--metrics", "{}", "--out", "/tmp/o"])), {}, tmp_path)
    assert run.tasks["s"].phase == "Failed"  # --request is missing: argparse says so on stderr
    assert "required: --request" in run.tasks["s"].message
    assert not (tmp_path / "steps" / "s" / "stdout.log").exists()


# --------------------------------------------------------------------------- workers that die


@linux_only
def test_a_worker_that_died_while_idle_is_replaced(tmp_path: Path, faulty: Callable[..., StepWorkers]) -> None:
    pool = faulty()
    assert pool.run(IMAGE, _call(tmp_path / "1")).code == 0
    first = pool.pids()[IMAGE]
    os.kill(first, signal.SIGKILL)
    _wait_for(lambda: not _running(first))
    ended = pool.run(IMAGE, _call(tmp_path / "2"))
    assert (ended.how, ended.code) == (StepEnd.EXITED, 0)
    assert pool.pids()[IMAGE] != first


@linux_only
def test_a_worker_killed_during_a_step_fails_it_like_an_oom_kill(
    tmp_path: Path, faulty: Callable[..., StepWorkers]
) -> None:
    pool = faulty("validate=hang")
    assert pool.run(IMAGE, _call(tmp_path / "warm")).code == 0  # the worker is up; its next step hangs
    worker = pool.pids()[IMAGE]
    killer = threading.Timer(0.5, os.kill, (worker, signal.SIGKILL))
    killer.start()
    ended = pool.run(IMAGE, _call(tmp_path / "hang", "validate", "--help"))
    killer.join()
    assert (ended.how, ended.code) == (StepEnd.CRASHED, 128 + signal.SIGKILL)
    assert IMAGE not in pool.pids()


@linux_only
def test_when_the_zygote_dies_its_workers_die_and_steps_still_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", faults.pythonpath_with_tests())
    with no_process_left_behind(), StepWorkers({IMAGE: (faults.MODULE,), "other": (faults.MODULE,)}) as pool:
        forked = _wait_for(lambda: (pids := pool.pids()) and len(pids) == 2 and pids)
        zygote = {_stat(pid)[0] for pid in forked.values()}  # type: ignore[index]
        assert len(zygote) == 1 and zygote != {os.getpid()}, "forked by one zygote"
        os.kill(zygote.pop(), signal.SIGKILL)
        _wait_for(lambda: not any(_running(pid) for pid in forked.values()))
        assert pool.run(IMAGE, _call(tmp_path)).code == 0


@pytest.mark.parametrize("fork", [True, False], ids=["zygote", "spawned"])
def test_planned_spares_start_with_the_others_and_are_taken_before_a_new_worker(
    tmp_path: Path, faulty: Callable[..., StepWorkers], monkeypatch: pytest.MonkeyPatch, fork: bool
) -> None:
    """``spares``: more workers for a key, named as the pool names extra ones, forked by the zygote
    where the others are; a second step at once takes the idle spare, no fresh interpreter."""
    monkeypatch.setattr(local, "_can_fork_workers", lambda: fork and local.sys.platform.startswith("linux"))
    how = "forked" if local._can_fork_workers() else "spawned"
    pool = faulty(keys=(IMAGE, "other"), spares={IMAGE: 2, "unknown": 3})
    planned = [IMAGE, "other", f"{IMAGE}#1", f"{IMAGE}#2"]
    assert pool.starts() == [(name, how) for name in planned], "a key without a plan gets no spare"
    _wait_for(lambda: set(pool.pids()) == set(planned))
    claimed = [pool._claim(IMAGE) for _ in range(3)]
    assert [name for name, _ in claimed] == [IMAGE, f"{IMAGE}#1", f"{IMAGE}#2"]
    assert all(worker is not None for _, worker in claimed), "each an idle planned worker"
    for name, _ in claimed:
        pool._release(name)
    steps = [threading.Thread(target=pool.run, args=(IMAGE, _call(tmp_path / str(n)))) for n in range(3)]
    for step in steps:
        step.start()
    for step in steps:
        step.join()
    assert pool.starts() == [(name, how) for name in planned], "no worker was started for the steps"


def test_a_worker_that_cannot_start_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "_WORKER_MAIN", "import os; os._exit(7)")
    with StepWorkers() as pool, pytest.raises(LocalRunError, match=r"ended before it began the step \(exit code 7\)"):
        pool.run("lazy", _call(tmp_path))


# --------------------------------------------------------------------------- nothing outlives the run


@linux_only
def test_no_process_outlives_a_run_or_an_error(tmp_path: Path) -> None:
    with no_process_left_behind():
        run = run_workflow(_workflow(_template()), {}, tmp_path / "plain")
        assert run.phase == "Succeeded"
    with no_process_left_behind(), pytest.raises(RuntimeError, match="boom"), StepWorkers.for_steps() as pool:
        _wait_for(lambda: len(pool.pids()) == len(step_preloads()))
        raise RuntimeError("boom")
    with no_process_left_behind():
        cycle = [
            {"name": "a", "template": "s", "dependencies": ["b"]},
            {"name": "b", "template": "s", "dependencies": ["a"]},
        ]
        with pytest.raises(LocalRunError, match="DAG cycle"), StepWorkers.for_steps() as pool:
            run_workflow(_workflow(_template(), tasks=cycle), {}, tmp_path / "cycle", workers=pool)
        pool.close()  # twice: harmless


@linux_only
def test_bad_input_ends_the_helper_processes_at_once(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: qiskit-argo.io/v1alpha1\nkind: QiskitJob\nmetadata: {name: x}\nspec: {shots: 0}\n")
    with no_process_left_behind():
        started = time.monotonic()
        result = CliRunner().invoke(app, ["run", str(bad), "--out", str(tmp_path / "out")])
        assert result.exit_code == 2, result.output
        assert time.monotonic() - started < 5


@linux_only
def test_the_cli_stops_a_step_at_the_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, faulty: Callable[..., StepWorkers]
) -> None:
    """`qiskit-argo run`: a step past spec.activeDeadlineSeconds is killed, the job fails (exit 1), nothing stays."""
    job = tmp_path / "bell.yaml"
    deadline = "  shots: 1024\n  activeDeadlineSeconds: 6"
    job.write_text((EXAMPLES / "bell.yaml").read_text().replace("  shots: 1024", deadline))
    monkeypatch.setattr(
        StepWorkers,
        "for_steps",
        classmethod(
            lambda cls, spares=0: faulty("execute-aer-cached=hang", keys=tuple(step_preloads()), key=step_component)
        ),
    )
    with no_process_left_behind():
        started = time.monotonic()
        result = CliRunner().invoke(app, ["run", str(job), "--out", str(tmp_path / "out")])
        assert time.monotonic() - started < 30
    assert result.exit_code == 1, result.output
    assert "step execute-aer-cached failed: execute-aer-cached(0:0-of-1): Step exceeded its deadline" in result.stderr
    assert "(spec.activeDeadlineSeconds: 6 s)" in result.stderr
    assert "Traceback" not in result.output


@linux_only
def test_ctrl_c_ends_every_process_of_the_run(tmp_path: Path) -> None:
    """SIGINT to `qiskit-argo run` while its helpers work: it stops, and every process it started is gone."""
    command = [str(Path(sys.executable).with_name("qiskit-argo")), "run", str(EXAMPLES / "bell.yaml")]
    cli = subprocess.Popen([*command, "--out", str(tmp_path / "out")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # The render process, the zygote and the workers it forked (grandchildren of the command).
        seen = _wait_for(lambda: (below := descendants(cli.pid)) and len(below) >= 3 and below)
        cli.send_signal(signal.SIGINT)
        cli.communicate(timeout=30)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.communicate()
    assert cli.returncode != 0
    _wait_for(lambda: not any(_running(pid) for pid in seen), timeout=10)


# --------------------------------------------------------------------------- the preload stays true


def test_preload_lists_what_the_steps_really_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`StepSpec.preload` (the step's own qiskit_argo module included) and `STEPS_SHARE` stay true:
    with no preload, each step still imports every module they list for it."""
    from qiskit_argo import workflows
    from qiskit_argo.catalogue import load_catalogue
    from qiskit_argo.manifests import load_job

    monkeypatch.setenv("PYTHONPATH", faults.pythonpath_with_tests())
    monkeypatch.setenv("QISKIT_ARGO_TEST_MODULES", str(tmp_path))
    from qiskit_argo.generate import example_catalogue
    from qiskit_argo.steps import SERVICE_STEPS

    template = workflows.cluster_workflow_template()
    templates = {template["metadata"]["name"]: template}
    backends = {entry.name: entry for entry in load_catalogue([EXAMPLES / "catalogue"])[0]}
    with StepWorkers({component: (faults.MODULE,) for component in step_preloads()}, key=step_component) as pool:
        unseeded = tmp_path / "unseeded.yaml"
        unseeded.write_text((EXAMPLES / "bell.yaml").read_text().replace("      seed: 1234\n", "      {}\n"))
        # The Aer branch, seeded (cached) and not, then the IBM one.
        for example in (EXAMPLES / "bell.yaml", unseeded, EXAMPLES / "ibm-by-ref.yaml"):
            job, _ = load_job(example)
            workflow = workflows.build(job, catalogue=example_catalogue(job))
            run = run_workflow(workflow, templates, tmp_path / f"run-{example.name}", workers=pool)
            assert run.phase == "Succeeded", run.tasks
        probe = workflows.probe_workflow(backends["fake-sherbrooke"])
        run = run_workflow(probe, {}, tmp_path / "probe", workers=pool)
        assert run.phase == "Succeeded", run.tasks
    # Every step but those on a GPU (none here; they are the same function as their CPU twins,
    # and never warmed ahead: a local run would pay for a worker that a GPU job alone uses).
    for spec in (*STEPS.values(), SERVICE_STEPS["ibm-probe"]):
        if spec.component == "executor-gpu":
            twin = STEPS[spec.name.replace("-gpu", "")]
            assert spec.preload == twin.preload and twin.warm and not spec.warm, spec.name
            continue
        imported = set(json.loads((tmp_path / f"{spec.name}.json").read_text()))
        listed = {*spec.preload, *STEPS_SHARE}
        assert any(module.startswith("qiskit_argo.") for module in spec.preload), spec.name
        assert listed <= imported, (spec.name, listed - imported)


def test_workers_follow_the_components_of_the_steps() -> None:
    from qiskit_argo.naming import image

    plan = step_preloads()
    assert set(plan) == {spec.component for spec in STEPS.values()}
    for spec in STEPS.values():
        # A warm step's imports are made ahead; a cold one's (the IBM branch) on first use only.
        assert (set(spec.preload) <= set(plan[spec.component])) is spec.warm or not spec.preload
        assert step_component(image(spec.component)) == spec.component
    assert not any("qiskit_ibm_runtime" in module for modules in plan.values() for module in modules), (
        "an Aer run never waits for qiskit-ibm-runtime's import"
    )
    assert step_component("test/step:1") == "test/step:1"


def test_a_relative_work_directory_is_the_one_the_runner_was_started_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Steps run in their own working directories: the runner hands them absolute paths."""
    monkeypatch.chdir(tmp_path)
    args = ["schedule", "--request", "/tmp/r.json", "--catalogue", "/tmp/c.json", "--metrics", "{}"]
    template = _template(args=[*args, "--reserved", "{}", "--out", "/tmp/o"])
    template["inputs"] = {
        "artifacts": [
            {"name": "r", "path": "/tmp/r.json", "raw": {"data": '{"x": 1}'}},
            {"name": "c", "path": "/tmp/c.json", "raw": {"data": "{}"}},
        ]
    }
    run = run_workflow(_workflow(template), {}, Path("relative/work"))
    assert run.workdir == tmp_path / "relative" / "work"
    assert "not an ExecutionRequest" in run.tasks["s"].message, "it found and read its input"


@pytest.mark.parametrize("fork", [True, False], ids=["zygote", "spawned"])
def test_the_bell_job_runs_in_warm_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fork: bool) -> None:
    """Where fork is not available (macOS, Windows) every warm worker is a fresh interpreter."""
    from qiskit_argo import workflows
    from qiskit_argo.manifests import load_job

    monkeypatch.setattr(local, "_can_fork_workers", lambda: fork and local.sys.platform.startswith("linux"))
    job, _ = load_job(EXAMPLES / "bell.yaml")
    template = workflows.cluster_workflow_template()
    with StepWorkers.for_steps() as pool:
        run = run_workflow(workflows.build(job), {template["metadata"]["name"]: template}, tmp_path, workers=pool)
        assert set(pool.pids()) == set(step_preloads()), "one worker per component, no other"
    assert run.phase == "Succeeded", run.tasks
    assert (run.tasks["store-results"].artifacts["results"] / "histogram.png").is_file()
