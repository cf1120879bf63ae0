"""The ``qiskit-argo`` command line: validate, render, run locally, print CRDs, run the controller.

Exit codes: 0 success, 1 the job failed while running, 2 bad input (the manifest, the circuit, a
limit). Bad input is reported as one line naming the file/field/line and what to do; never a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from qiskit_argo.errors import EXIT_PERMANENT, EXIT_TRANSIENT, QiskitArgoError

if TYPE_CHECKING:
    from qiskit_argo.api import QiskitJob
    from qiskit_argo.local import WorkflowRun

__all__ = ["app"]

app = typer.Typer(
    name="qiskit-argo",
    help="Run Qiskit jobs as Argo Workflows on Kubernetes, or locally with the same steps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

JobFile = Annotated[Path, typer.Argument(help="A QiskitJob YAML file (it may also hold the ConfigMap it uses).")]


def _fail(message: str, code: int) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _load(path: Path) -> tuple[QiskitJob, dict[str, dict[str, bytes]]]:
    from qiskit_argo.manifests import load_job

    try:
        return load_job(path)
    except QiskitArgoError as error:
        raise _fail(str(error), EXIT_PERMANENT) from None


@app.command()
def validate(job_file: JobFile) -> None:
    """Check a QiskitJob and its circuit without running it; print the circuit's metrics.

    Example: qiskit-argo validate examples/bell.yaml
    """
    job, config_maps = _load(job_file)
    from qiskit_argo import validation

    with tempfile.TemporaryDirectory(prefix="qiskit-argo-validate-") as tmp:
        work = Path(tmp)
        (work / "job.json").write_text(json.dumps(job.dump()))
        circuit_dir = work / "circuit"
        ref = job.spec.circuit.config_map_key_ref
        if ref is not None:
            circuit_dir.mkdir()
            for key, content in config_maps.get(ref.name, {}).items():
                (circuit_dir / key).write_bytes(content)
        try:
            validation.run_step(
                job_file=work / "job.json",
                limits_json="{}",
                circuit_dir=circuit_dir if ref is not None else None,
                out_dir=work / "out",
            )
        except QiskitArgoError as error:
            raise _fail(f"{job_file}: {error}", EXIT_PERMANENT) from None
        metrics = json.loads((work / "out" / "metrics.json").read_text())

    from rich.table import Table

    table = Table(title=f"QiskitJob {job.namespace}/{job.name} is valid", show_header=False)
    table.add_row("primitive", str(job.spec.primitive))
    for key, value in metrics.items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict) else str(value))
    out.print(table)


@app.command()
def render(
    job_file: JobFile,
    job_json: Annotated[
        bool,
        typer.Option(
            "--job-json",
            help="Print only the job as compact JSON, the value of the ClusterWorkflowTemplate's `job` parameter.",
        ),
    ] = False,
) -> None:
    """Print the Argo Workflow for a QiskitJob, ready for `kubectl create -f -` or `argo submit -`.

    Example: qiskit-argo render examples/bell.yaml | kubectl create -f -

    Example: argo submit --from clusterworkflowtemplate/qiskit-job-v1
    -p job="$(qiskit-argo render --job-json examples/bell.yaml)"
    """
    job, _ = _load(job_file)
    from qiskit_argo import workflows

    if job_json:
        sys.stdout.write(workflows.job_json(job) + "\n")
        return
    sys.stdout.write(workflows.to_yaml(workflows.build(job)))


@app.command()
def crds() -> None:
    """Print the CustomResourceDefinitions qiskit-argo installs.

    Example: qiskit-argo crds | kubectl apply --server-side -f -
    """
    from qiskit_argo import crd, workflows

    sys.stdout.write(workflows.to_yaml(crd.qiskitjob_crd()))


@app.command()
def run(
    job_file: JobFile,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Results directory (default: results/<job name>)."),
    ] = None,
) -> None:
    """Run a QiskitJob on this machine, no cluster: the same Workflow DAG and steps as in Argo.

    Writes result.json, metrics.json, histogram.png and workflow.yaml to the results directory;
    each step's files stay under steps/ (also when a step fails).

    Example: qiskit-argo run examples/bell.yaml --out results/bell
    """
    job, config_maps = _load(job_file)
    from qiskit_argo.local import LocalRunError, render_and_preload, run_workflow

    target = out_dir or Path("results") / job.name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    rendered = render_and_preload(job)
    workflow = rendered.workflow
    (target / "workflow.yaml").write_text(rendered.workflow_yaml)

    started = time.perf_counter()
    with _Progress(workflow) as progress:
        try:
            result = run_workflow(
                workflow,
                rendered.cluster_templates,
                target,
                config_maps=config_maps,
                listener=progress.update,
            )
        except LocalRunError as error:
            raise _fail(f"{job_file}: {error}", EXIT_PERMANENT) from None
    wall = time.perf_counter() - started

    _publish_results(result, target)
    _print_summary(job, result, target, wall)
    failed = result.failed_task
    if failed is not None:
        code = EXIT_PERMANENT if failed.exit_code == EXIT_PERMANENT else EXIT_TRANSIENT
        raise _fail(f"step {failed.name} failed: {failed.message}", code)


@app.command()
def controller(
    namespace: Annotated[
        list[str] | None,
        typer.Option("--namespace", "-n", help="Watch only these namespaces (repeatable); default: all."),
    ] = None,
) -> None:
    """Run the controller against the current kubeconfig (the same code as the controller image).

    Example: qiskit-argo controller --namespace quantum
    """
    command = shutil.which("qiskit-argo-controller")
    if command is None:
        raise _fail("the controller is not installed; pip install 'qiskit-argo[controller]'", EXIT_PERMANENT)
    args = [command]
    for name in namespace or []:
        args += ["--namespace", name]
    os.execv(command, args)


# --------------------------------------------------------------------------- presentation


class _Progress:
    """A live table of the DAG's steps, updated by the local runner's listener."""

    def __init__(self, workflow: dict[str, Any]) -> None:
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
        from rich.text import Text

        class _StateColumn(SpinnerColumn):
            """A spinner while a step runs, then a mark that says how it ended."""

            def render(self, task: Any) -> Any:
                mark = task.fields.get("mark")
                return Text.from_markup(mark) if mark else super().render(task)

        entry = next(t for t in workflow["spec"]["templates"] if t["name"] == workflow["spec"]["entrypoint"])
        self.names = [task["name"] for task in entry["dag"]["tasks"]]
        self.progress = Progress(
            _StateColumn(),
            TextColumn("{task.description:<14}"),
            BarColumn(bar_width=20),
            TextColumn("{task.fields[state]}"),
            TimeElapsedColumn(),
            console=err,
            transient=False,
        )
        self.rows = {
            name: self.progress.add_task(name, total=1, start=False, state="[dim]pending", mark="[dim]·")
            for name in self.names
        }

    def __enter__(self) -> _Progress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, task: Any) -> None:
        row = self.rows.get(task.name)
        if row is None:
            return
        styles = {
            "Running": "[yellow]running",
            "Succeeded": "[green]succeeded",
            "Failed": "[red]failed",
            "Error": "[red]error",
            "Omitted": "[dim]skipped",
        }
        marks = {"Running": "", "Succeeded": "[green]✓", "Failed": "[red]✗", "Error": "[red]✗", "Omitted": "[dim]–"}
        if task.phase == "Running":
            self.progress.start_task(row)
        done = task.phase in ("Succeeded", "Failed", "Error", "Omitted")
        self.progress.update(
            row,
            state=styles.get(task.phase, task.phase),
            mark=marks.get(task.phase, ""),
            completed=1 if task.phase == "Succeeded" else 0,
        )
        if done:
            self.progress.stop_task(row)


def _publish_results(result: WorkflowRun, target: Path) -> None:
    """Copy the store-results artifact's files to the top of the results directory."""
    for task in result.tasks.values():
        folder = task.artifacts.get("results")
        if folder is not None and folder.is_dir():
            for item in folder.iterdir():
                if item.is_file():
                    shutil.copyfile(item, target / item.name)


def _print_summary(job: QiskitJob, result: WorkflowRun, target: Path, wall: float) -> None:
    from rich.table import Table

    parameters: dict[str, str] = {}
    for task in result.tasks.values():
        parameters.update(task.parameters)

    def parsed(name: str) -> dict[str, Any]:
        try:
            value = json.loads(parameters.get(name, "{}"))
        except json.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}

    backend, summary, metrics = parsed("backend"), parsed("summary"), parsed("metrics")
    colour = "green" if result.phase == "Succeeded" else "red"
    table = Table(title=f"QiskitJob {job.name}", show_header=False, title_justify="left")
    table.add_row("phase", f"[{colour}]{result.phase}")
    if backend:
        method = f" ({backend['method']})" if backend.get("method") else ""
        table.add_row("backend", f"{backend.get('name', '?')}{method}")
        if backend.get("reason"):
            table.add_row("why", str(backend["reason"]))
    if metrics:
        table.add_row(
            "circuit",
            f"{metrics.get('numQubits')} qubits, depth {metrics.get('depth')}, "
            f"{metrics.get('numBindings', 1)} binding(s)",
        )
    if summary.get("shots"):
        table.add_row("shots", str(summary["shots"]))
    if summary.get("topCounts"):
        table.add_row("top counts", "  ".join(f"{k}: {v}" for k, v in summary["topCounts"].items()))
    if summary.get("expectationValues"):
        stds = summary.get("standardErrors") or []
        values = [
            f"{v:.4f} ± {stds[i]:.4f}" if i < len(stds) else f"{v:.4f}"
            for i, v in enumerate(summary["expectationValues"])
        ]
        table.add_row("expectation values", "  ".join(values))
    for task in result.tasks.values():
        seconds = f"{task.seconds:.2f} s" if task.seconds is not None else "-"
        table.add_row(f"step {task.name}", f"{task.phase}  {seconds}")
    failed = result.failed_task
    if failed is not None:
        table.add_row("[red]failed", f"{failed.name}: {failed.message}")
    table.add_row("wall time", f"{wall:.2f} s")
    out.print(table)
    # On its own line, never cut by the table's width: people copy this path.
    out.print(f"results: {target}", soft_wrap=True, highlight=False)
