"""The ``qiskit-argo`` command line: validate, render, run locally, print CRDs, run the controller.

Exit codes: 0 success, 1 the job failed while running, 2 bad input (the manifest, the circuit, a
limit, a results directory that is not ours). Bad input is reported as one line naming the
file/field/line and what to do; never a traceback. Everything printed that came from a user goes
through ``qiskit_argo.terminal`` (never rich markup, control characters escaped, bounded).
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
from qiskit_argo.terminal import clean, error_line, plain

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
    """Print ``error: <message>`` as one bounded line (user text, never markup); the exit to raise."""
    err.print(error_line(message), soft_wrap=True)
    return typer.Exit(code)


def _load(path: Path) -> tuple[QiskitJob, dict[str, dict[str, bytes]]]:
    from qiskit_argo.manifests import load_job

    try:
        return load_job(path)
    except QiskitArgoError as error:
        raise _fail(str(error), EXIT_PERMANENT) from None
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # noqa: BLE001 - a loader bug on odd input: one line, never a traceback
        raise _fail(_crashed(f"{path}: the file could not be read", error), EXIT_PERMANENT) from None


def _crashed(what: str, error: BaseException) -> str:
    """The line for an error qiskit-argo did not expect (a bug, or a library's panic on odd input)."""
    return f"{what} ({type(error).__name__}: {error}); check the file, and please report this to qiskit-argo"


CatalogueOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--catalogue",
        "-c",
        help="QiskitBackend and QiskitSession manifests the job may use: a file or a directory of them "
        "(repeatable), e.g. examples/catalogue. A job with spec.backend.ref or spec.sessionRef needs it.",
    ),
]


def _load_catalogue(paths: list[Path] | None) -> tuple[list[Any], list[Any]]:
    if not paths:
        return [], []
    from qiskit_argo.catalogue import load_catalogue

    try:
        return load_catalogue(paths)
    except QiskitArgoError as error:
        raise _fail(str(error), EXIT_PERMANENT) from None
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # noqa: BLE001 - a loader bug on odd input: one line, never a traceback
        raise _fail(_crashed("--catalogue: the catalogue could not be read", error), EXIT_PERMANENT) from None


@app.command()
def validate(job_file: JobFile) -> None:
    """Check a QiskitJob and its circuit without running it; print the circuit's metrics.

    Example: qiskit-argo validate examples/bell.yaml
    """
    job, config_maps = _load(job_file)
    from qiskit_argo import validation
    from qiskit_argo.safeio import join_key

    with tempfile.TemporaryDirectory(prefix="qiskit-argo-validate-") as tmp:
        work = Path(tmp)
        (work / "job.json").write_text(json.dumps(job.dump()))
        circuit_dir = work / "circuit"
        ref = job.spec.circuit.config_map_key_ref
        if ref is not None:
            circuit_dir.mkdir()
            for key, content in config_maps.get(ref.name, {}).items():
                try:
                    join_key(circuit_dir, key, f"ConfigMap {ref.name!r} key").write_bytes(content)
                except QiskitArgoError as error:
                    raise _fail(f"{job_file}: {error}", EXIT_PERMANENT) from None
        try:
            validation.run_step(
                job_file=work / "job.json",
                limits_json="{}",
                circuit_dir=circuit_dir if ref is not None else None,
                out_dir=work / "out",
            )
        except QiskitArgoError as error:
            raise _fail(f"{job_file}: {error}", EXIT_PERMANENT) from None
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:  # noqa: BLE001 - a crash (even a Rust panic): one line, never a traceback
            raise _fail(_crashed(f"{job_file}: the job could not be validated", error), EXIT_PERMANENT) from None
        metrics = json.loads((work / "out" / "metrics.json").read_text())

    from rich.table import Table

    title = plain("QiskitJob ") + plain(job.namespace) + plain("/") + plain(job.name) + plain(" is valid")
    table = Table(title=title, show_header=False)
    table.add_row("primitive", plain(job.spec.primitive))
    for key, value in metrics.items():
        table.add_row(plain(key), plain(json.dumps(value) if isinstance(value, dict) else value))
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
    catalogue: CatalogueOption = None,
) -> None:
    """Print the Argo Workflow for a QiskitJob, ready for `kubectl create -f -` or `argo submit -`.

    With --catalogue, the schedule step gets those QiskitBackends (and the QiskitSession the job
    names) as the controller would pass them, unprobed; without, an empty catalogue (Aer only).

    Example: qiskit-argo render examples/bell.yaml | kubectl create -f -

    Example: qiskit-argo render examples/ibm-by-ref.yaml --catalogue examples/catalogue

    Example: argo submit --from clusterworkflowtemplate/qiskit-job-v1
    -p job="$(qiskit-argo render --job-json examples/bell.yaml)"
    """
    job, _ = _load(job_file)
    backends, sessions = _load_catalogue(catalogue)
    from qiskit_argo import workflows

    if job_json:
        sys.stdout.write(workflows.job_json(job) + "\n")
        return
    snapshot = None
    if catalogue:
        from qiskit_argo.catalogue import snapshot as make_snapshot

        session = next((item for item in sessions if item.name == job.spec.session_ref), None)
        snapshot = make_snapshot(backends, session)
    sys.stdout.write(workflows.to_yaml(workflows.build(job, catalogue=snapshot)))


@app.command()
def crds() -> None:
    """Print the CustomResourceDefinitions qiskit-argo installs.

    Example: qiskit-argo crds | kubectl apply --server-side -f -
    """
    from qiskit_argo import crd, workflows

    sys.stdout.write(workflows.to_yaml(crd.all_crds()))


@app.command()
def run(
    job_file: JobFile,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Results directory (default: results/<job name>): a new path, an empty directory, or one an "
            "earlier run made (only the files a run writes are replaced there).",
        ),
    ] = None,
    catalogue: CatalogueOption = None,
) -> None:
    """Run a QiskitJob on this machine, no cluster: the same Workflow DAG and steps as in Argo.

    Writes result.json, metrics.json, histogram.png and workflow.yaml to the results directory;
    each step's files stay under steps/ (also when a step fails). A directory that is not empty
    and was not made by `qiskit-argo run` (it has no .qiskit-argo-results) is refused, never emptied.

    With --catalogue, the QiskitBackends the job may use are probed first (a fake IBM backend runs
    in qiskit-ibm-runtime's local testing mode; a real one needs QISKIT_IBM_TOKEN in your
    environment, which only the steps that talk to IBM receive), and the QiskitSession the job names is
    opened before the run and closed after it, each by its own service Workflow (under steps/services/).

    Example: qiskit-argo run examples/bell.yaml --out results/bell

    Example: qiskit-argo run examples/ibm-by-ref.yaml --catalogue examples/catalogue
    """
    from qiskit_argo.local import LocalRunError, LocalServices, Renderer, RenderError, StepWorkers, run_workflow

    # Helper processes start first, so that the heavy imports overlap with reading the job: the
    # step workers import Qiskit, Aer and matplotlib (the longest chain, so they start first), one
    # process renders the Workflows (Hera). They all end with this block, also on bad input, an
    # error or Ctrl-C. The runner enforces spec.activeDeadlineSeconds: a step still running then
    # is killed and fails.
    with StepWorkers.for_steps() as workers, Renderer() as renderer:
        job, config_maps = _load(job_file)
        backends, sessions = _load_catalogue(catalogue)
        from qiskit_argo.safeio import prepare_results_dir

        target = out_dir or Path("results") / job.name
        try:
            # Before anything else is done: a directory that is not ours is refused, never emptied.
            prepare_results_dir(target, protect=[job_file, *(catalogue or [])])
        except QiskitArgoError as error:
            raise _fail(str(error), EXIT_PERMANENT) from None

        def note(line: str) -> None:
            err.print(plain(line), soft_wrap=True)

        started = time.perf_counter()
        services = LocalServices(renderer, workers, target / "steps" / "services", note=note)
        try:
            try:
                snapshot = services.catalogue_for(job, backends, sessions, given=bool(catalogue))
            except QiskitArgoError as error:
                raise _fail(f"{job_file}: {error}", EXIT_PERMANENT) from None
            except LocalRunError as error:
                raise _fail(f"{job_file}: {error}", EXIT_TRANSIENT) from None
            except RenderError as error:
                what = f"{job_file}: a service Workflow could not be rendered"
                raise _fail(_crashed(what, error), EXIT_PERMANENT) from None
            try:
                rendered = renderer.render(job, snapshot)
            except RenderError as error:
                what = f"{job_file}: the Workflow could not be rendered"
                raise _fail(_crashed(what, error), EXIT_PERMANENT) from None
            workflow = rendered.workflow
            try:
                with open(target / "workflow.yaml", "x") as stream:  # "x": never through a link a person left there
                    stream.write(rendered.workflow_yaml)
            except OSError as error:
                raise _fail(
                    f"results directory {target}: cannot write workflow.yaml ({error.strerror})", EXIT_PERMANENT
                ) from None

            with _Progress(workflow) as progress:
                try:
                    result = run_workflow(
                        workflow,
                        rendered.cluster_templates,
                        target,
                        config_maps=config_maps,
                        listener=progress.update,
                        workers=workers,
                    )
                except LocalRunError as error:
                    raise _fail(f"{job_file}: {error}", EXIT_PERMANENT) from None
        finally:
            try:
                services.close()
            except (LocalRunError, RenderError) as error:
                err.print(error_line(f"{job_file}: the session could not be closed: {error}"), soft_wrap=True)
        wall = time.perf_counter() - started

    try:
        _publish_results(result, target)
    except (OSError, QiskitArgoError) as error:
        raise _fail(f"results directory {target}: cannot publish the results ({error})", EXIT_TRANSIENT) from None
    _print_summary(job, result, target, wall)
    failed = result.failed_task
    if failed is not None:
        # "Error": the runner could not run the step as the Workflow says (a missing ConfigMap, an
        # unsafe key or path); like a step's own permanent failure, trying again cannot help.
        permanent = failed.exit_code == EXIT_PERMANENT or failed.phase == "Error"
        code = EXIT_PERMANENT if permanent else EXIT_TRANSIENT
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

    #: phase -> (what the state column says, its style, the mark that says how the step ended)
    PHASES = {
        "Pending": ("pending", "dim", "·"),
        "Running": ("running", "yellow", ""),
        "Succeeded": ("succeeded", "green", "✓"),
        "Failed": ("failed", "red", "✗"),
        "Error": ("error", "red", "✗"),
        "Skipped": ("skipped", "dim", "–"),
        "Omitted": ("skipped", "dim", "–"),
    }

    def __init__(self, workflow: dict[str, Any]) -> None:
        from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, TextColumn, TimeElapsedColumn

        class _StateColumn(SpinnerColumn):
            """A spinner while a step runs, then a mark that says how it ended."""

            def render(self, task: Any) -> Any:
                mark = task.fields.get("mark")
                return mark if mark is not None else super().render(task)

        class _FieldColumn(ProgressColumn):
            """A task field that already is a ``Text`` (so never read as markup)."""

            def render(self, task: Any) -> Any:
                return task.fields["state"]

        entry = next(t for t in workflow["spec"]["templates"] if t["name"] == workflow["spec"]["entrypoint"])
        self.names = [task["name"] for task in entry["dag"]["tasks"]]
        self.progress = Progress(
            _StateColumn(),
            TextColumn("{task.description:<14}", markup=False),
            BarColumn(bar_width=20),
            _FieldColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=False,
        )
        self.rows = {
            name: self.progress.add_task(clean(name, 60), total=1, start=False, **self._fields("Pending"))
            for name in self.names
        }

    def _fields(self, phase: str) -> dict[str, Any]:
        label, style, mark = self.PHASES.get(phase, (phase, "", ""))
        return {"state": plain(label, style, 40), "mark": plain(mark, style) if mark else None}

    def __enter__(self) -> _Progress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, task: Any) -> None:
        row = self.rows.get(task.name)
        if row is None:
            return
        if task.phase == "Running":
            self.progress.start_task(row)
        done = task.phase in ("Succeeded", "Failed", "Error", "Skipped", "Omitted")
        self.progress.update(row, completed=1 if task.phase == "Succeeded" else 0, **self._fields(task.phase))
        if done:
            self.progress.stop_task(row)


def _publish_results(result: WorkflowRun, target: Path) -> None:
    """Copy the store-results artifact's files to the top of the results directory.

    Only into names that are free: the run's own were removed before it started, and a file a
    person keeps beside them (or a link they left) is never overwritten or followed.
    """
    from qiskit_argo.safeio import join_key

    for task in result.tasks.values():
        folder = task.artifacts.get("results")
        if folder is not None and folder.is_dir():
            for item in sorted(folder.iterdir()):
                if item.is_file() and not item.is_symlink():
                    destination = join_key(target, item.name, "result file")
                    if not os.path.lexists(destination):
                        shutil.copyfile(item, destination)


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
    table = Table(title=plain(f"QiskitJob {job.name}"), show_header=False, title_justify="left")
    row = table.add_row
    row("phase", plain(result.phase, colour))
    if backend:
        device = backend.get("device")
        detail = backend.get("method") or (device if device != backend.get("name") else None)
        row("backend", plain(f"{backend.get('name', '?')}" + (f" ({detail})" if detail else "")))
        if backend.get("reason"):
            row("why", plain(backend["reason"]))
    estimate = _estimate_line(parsed("estimate"), str(backend.get("device") or ""))
    if estimate:
        row("estimate", plain(estimate))
    ibm = parsed("ibm") or parsed("submission")
    if ibm.get("jobId"):
        words = [str(ibm["jobId"]), str(ibm.get("state") or ibm.get("action") or "")]
        if ibm.get("sessionId"):
            words.append(f"session {ibm['sessionId']}")
        if ibm.get("quantumSeconds") is not None:
            words.append(f"{ibm['quantumSeconds']} quantum s")
        row("ibm job", plain("  ".join(word for word in words if word)))
    if metrics:
        row(
            "circuit",
            plain(
                f"{metrics.get('numQubits')} qubits, depth {metrics.get('depth')}, "
                f"{metrics.get('numBindings', 1)} binding(s)"
            ),
        )
    if summary.get("shots"):
        row("shots", plain(summary["shots"]))
    top = summary.get("topCounts")
    if top and isinstance(top, dict):
        row("top counts", plain("  ".join(f"{k}: {v}" for k, v in top.items())))
    values = summary.get("expectationValues")
    if values and isinstance(values, list):
        stds = summary.get("standardErrors") or []
        row("expectation values", plain("  ".join(_value_with_error(v, stds, i) for i, v in enumerate(values))))
    for task in result.tasks.values():
        seconds = f"{task.seconds:.2f} s" if task.seconds is not None else "-"
        row(plain(f"step {task.name}"), plain(f"{task.phase}  {seconds}"))
    failed = result.failed_task
    if failed is not None:
        row(plain("failed", "red"), plain(f"{failed.name}: {failed.message}"))
    row("wall time", f"{wall:.2f} s")
    out.print(table)
    # On its own line, never cut by the table's width nor shortened: people copy this path.
    out.print(plain("results: ") + plain(target, limit=None), soft_wrap=True)


def _estimate_line(estimate: dict[str, Any], device: str) -> str | None:
    """The schedule step's estimate as one line: quantum seconds and money (what a real device
    would bill, for a local-testing fake backend); None for a free run (the built-in Aer)."""
    from decimal import Decimal, InvalidOperation

    try:
        seconds = Decimal(str(estimate.get("quantumSeconds") or "0"))
        amount = Decimal(str(estimate.get("amount") or "0"))
    except InvalidOperation:
        return None
    if not seconds and not amount:
        return None
    words = [f"{seconds} quantum s"] if seconds else []
    if amount:
        words.append(f"{amount} {estimate.get('currency') or ''}".strip())
    line = "≈ " + ", ".join(words)
    if device.startswith("fake_"):
        line += " on the real device (local testing mode bills nothing)"
    return line


def _value_with_error(value: Any, stds: list[Any], index: int) -> str:
    try:
        return f"{value:.4f} ± {stds[index]:.4f}" if index < len(stds) else f"{value:.4f}"
    except (TypeError, ValueError, LookupError):  # not numbers: shown as they are (cleaned by the caller)
        return str(value)
