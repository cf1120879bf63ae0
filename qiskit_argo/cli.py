"""The ``qiskit-argo`` command line: validate, render, run locally, print CRDs, run the controller;
and against a cluster (``qiskit_argo.cluster``): submit, get, describe, logs, cancel, results.

Exit codes: 0 success, 1 the job failed while running, 2 bad input (the manifest, the circuit, a
limit, a results directory that is not ours). Bad input is reported as one line naming the
file/field/line and what to do; never a traceback. Everything printed that came from a user goes
through ``qiskit_argo.terminal`` (never rich markup, control characters escaped, bounded).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from qiskit_argo.errors import EXIT_PERMANENT, EXIT_TRANSIENT, QiskitArgoError
from qiskit_argo.terminal import clean, error_line, plain

if TYPE_CHECKING:
    from qiskit_argo.api import QiskitJob
    from qiskit_argo.cluster.kube import ClusterClient
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


#: How much of a job file ``_spare_executors`` reads, and how many YAML events it looks at.
_PEEK_BYTES = 256 * 1024
_PEEK_EVENTS = 20_000


def _peek_shards(path: Path) -> str | None:
    """``spec.execution.shards`` of the first document of ``path`` that has one, as written (a
    plain scalar), from a bounded look at the file; None when it has none or cannot say cheaply.
    Only a hint for planning workers: the job itself is read (and checked) by ``_load``."""
    try:
        with open(path, "rb") as stream:
            data = stream.read(_PEEK_BYTES)
        if b"shards" not in data:  # most jobs (Bell): decided without YAML
            return None
        import yaml
        from yaml.events import (
            AliasEvent,
            CollectionEndEvent,
            CollectionStartEvent,
            DocumentStartEvent,
            MappingStartEvent,
            ScalarEvent,
        )

        loader: Any = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
        want = ["spec", "execution", "shards"]
        # Per open collection: is it a mapping, the key whose value comes (None: a key comes next,
        # or a list).
        stack: list[tuple[bool, list[str | None]]] = []
        for count, event in enumerate(yaml.parse(data, Loader=loader)):
            if count >= _PEEK_EVENTS:
                return None
            if isinstance(event, DocumentStartEvent):
                stack = []
            elif isinstance(event, ScalarEvent | AliasEvent):
                if not stack or not stack[-1][0]:
                    continue  # the document itself, or an item of a list
                key = stack[-1][1]
                if key[0] is None:
                    if not isinstance(event, ScalarEvent):
                        return None  # an alias as a key: not a job's
                    key[0] = event.value
                    continue
                where = [frame[1][0] for frame in stack]
                if where == want and isinstance(event, ScalarEvent) and event.implicit[0]:
                    return str(event.value)
                key[0] = None
            elif isinstance(event, CollectionStartEvent):
                if stack and stack[-1][0] and stack[-1][1][0] is None:
                    return None  # a collection as a key: not a job's
                stack.append((isinstance(event, MappingStartEvent), [None]))
            elif isinstance(event, CollectionEndEvent):
                stack.pop()
                if stack:
                    stack[-1][1][0] = None
    except Exception:  # noqa: BLE001 - a hint only: any doubt is "none"
        return None
    return None


def _spare_executors(path: Path, parallel: int | None) -> int:
    """The executor workers a run of ``path`` will want beside the first, to plan from the start
    (forked with the others, not started later as fresh interpreters): for the shards that run at
    once (at most ``parallel``, by default the CPU count). 0 for a job that is not sharded, and
    whenever the file cannot say cheaply."""
    shards = _peek_shards(path)
    if shards is None:
        return 0
    from qiskit_argo.sharding import AUTO_MAX_SHARDS, MAX_SHARDS

    at_once = max(1, parallel or os.cpu_count() or 1)
    if shards == "auto":  # one shard per 1000 bindings (not known yet), at most AUTO_MAX_SHARDS
        return min(at_once, AUTO_MAX_SHARDS) - 1
    try:
        count = int(shards)
    except ValueError:
        return 0
    return max(0, min(at_once, count, MAX_SHARDS) - 1)


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


ArtifactsOption = Annotated[
    Path | None,
    typer.Option(
        "--artifacts",
        help="Where the files the job names by artifact key (spec...artifact.key: circuits, parameter "
        "values) are, as in the cluster's artifact repository: DIR/<key> (default: the job file's directory).",
    ),
]


def _copy_sources(job: QiskitJob, root: Path, sources_dir: Path) -> None:
    """The job's artifact keys (``api.job.artifact_keys``) from ``root`` to ``sources_dir/<index>``,
    as the validate step receives them; a key with no file is left out (the step says so)."""
    from qiskit_argo.api.job import artifact_keys
    from qiskit_argo.local import LocalRunError, key_path

    for index, key in enumerate(artifact_keys(job.spec)):
        try:
            source = key_path(root, key, f"artifact key {key!r}")
        except LocalRunError as error:
            raise _fail(f"--artifacts {root}: {error}", EXIT_PERMANENT) from None
        if source.is_file():
            shutil.copyfile(source, sources_dir / str(index))


@app.command()
def validate(job_file: JobFile, artifacts: ArtifactsOption = None) -> None:
    """Check a QiskitJob and its circuit without running it; print the circuit's metrics.

    Example: qiskit-argo validate examples/bell.yaml
    """
    job, config_maps = _load(job_file)
    from qiskit_argo import validation
    from qiskit_argo.safeio import join_key

    with tempfile.TemporaryDirectory(prefix="qiskit-argo-validate-") as tmp:
        work = Path(tmp)
        (work / "job.json").write_text(json.dumps(job.dump()))
        # As the validate step's pod sees them: each ConfigMap's keys at <name>/<key> (the projected
        # volume), each artifact key the job names at sources/<index>.
        circuit_dir, sources_dir = work / "circuit", work / "sources"
        circuit_dir.mkdir()
        sources_dir.mkdir()
        try:
            for name, files in config_maps.items():
                folder = join_key(circuit_dir, name, "ConfigMap name")
                folder.mkdir(exist_ok=True)
                for key, content in files.items():
                    join_key(folder, key, f"ConfigMap {name!r} key").write_bytes(content)
            _copy_sources(job, artifacts or job_file.parent, sources_dir)
        except QiskitArgoError as error:
            raise _fail(f"{job_file}: {error}", EXIT_PERMANENT) from None
        try:
            validation.run_step(
                job_file=work / "job.json",
                limits_json="{}",
                circuit_dir=circuit_dir,
                out_dir=work / "out",
                sources_dir=sources_dir,
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
    artifacts: ArtifactsOption = None,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            help="The local artifact repository and simulator cache (default: $XDG_CACHE_HOME/qiskit-argo, "
            "else ~/.cache/qiskit-argo). A seeded Aer job run again unchanged reuses its result from here.",
        ),
    ] = None,
    parallel: Annotated[
        int | None,
        typer.Option("--parallel", min=1, help="Shards run at once, each in its own process (default: the CPU count)."),
    ] = None,
) -> None:
    """Run a QiskitJob on this machine, no cluster: the same Workflow DAG and steps as in Argo.

    Writes result.json, metrics.json, histogram.png and workflow.yaml to the results directory;
    each step's files stay under steps/ (also when a step fails). A directory that is not empty
    and was not made by `qiskit-argo run` (it has no .qiskit-argo-results) is refused, never emptied.

    With --catalogue, the QiskitBackends the job may use are probed first (a fake IBM backend runs
    in qiskit-ibm-runtime's local testing mode; a real one needs QISKIT_IBM_TOKEN in your
    environment, which only the steps that talk to IBM receive), and the QiskitSession the job names is
    opened before the run and closed after it, each by its own service Workflow (under steps/services/).

    The shards of a sharded job (spec.execution.shards) run in parallel processes (--parallel). A
    seeded Aer job with spec.execution.cache (the default) is remembered in --cache-dir: the same
    job run again (same circuits, bindings, shots, seed, method, noise model and library versions)
    reuses that result instead of simulating again, as Argo's memoize does in a cluster.

    Example: qiskit-argo run examples/bell.yaml --out results/bell

    Example: qiskit-argo run examples/ibm-by-ref.yaml --catalogue examples/catalogue
    """
    from qiskit_argo.local import (
        LocalRunError,
        LocalServices,
        LocalStore,
        Renderer,
        RenderError,
        StepWorkers,
        default_cache_dir,
        run_workflow,
    )

    # Helper processes start first, so that the heavy imports overlap with reading the job: the
    # step workers import Qiskit, Aer and matplotlib (the longest chain, so they start first), one
    # process renders the Workflows (Hera). They all end with this block, also on bad input, an
    # error or Ctrl-C. The runner enforces spec.activeDeadlineSeconds: a step still running then
    # is killed and fails. A sharded job's shards that run at once get their executor workers
    # planned now (forked with the others) rather than started as fresh interpreters later.
    with StepWorkers.for_steps(spares=_spare_executors(job_file, parallel)) as workers, Renderer() as renderer:
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
                        store=LocalStore(cache_dir or default_cache_dir()),
                        sources=artifacts or job_file.parent,
                        parallel=parallel,
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


# --------------------------------------------------------------------------- on a cluster

NamespaceOption = Annotated[
    str | None,
    typer.Option("--namespace", "-n", help="The namespace (default: the job file's, else your context's)."),
]
ContextOption = Annotated[
    str | None, typer.Option("--context", help="The kubeconfig context to use (default: the current one).")
]
KubeconfigOption = Annotated[
    str | None,
    typer.Option("--kubeconfig", help="The kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)."),
]
ArgoServerOption = Annotated[
    str | None,
    typer.Option(
        "--argo-server",
        envvar="ARGO_SERVER",
        help="The Argo Server (https://host:2746, or host:port as ARGO_SERVER holds it); its token in ARGO_TOKEN.",
    ),
]
JobName = Annotated[str, typer.Argument(help="The QiskitJob's name (qiskit-argo get lists them).")]


@contextlib.contextmanager
def _cluster(namespace: str | None, context: str | None, kubeconfig: str | None) -> Iterator[ClusterClient]:
    """A client for the kubeconfig's cluster; every cluster error ends the command as one line."""
    from qiskit_argo.cluster.kube import connect

    try:
        with connect(namespace=namespace, context=context, kubeconfig=kubeconfig) as client:
            yield client
    except QiskitArgoError as error:
        raise _fail(str(error), error.exit_code) from None


def _apply_documents(path: Path) -> list[dict[str, Any]]:
    """The file's ConfigMaps and its QiskitJob as the user wrote them (``status`` and nulls dropped),
    ConfigMaps first: what server-side apply sends (the file was validated by ``_load``)."""
    from qiskit_argo import yamldoc
    from qiskit_argo.crd import prune_nulls

    source = str(path)
    documents = [d for d in yamldoc.load_documents(yamldoc.decode(path.read_bytes(), source), source) if d]
    kept = [prune_nulls({k: v for k, v in d.items() if k != "status"}) for d in documents if isinstance(d, dict)]
    return sorted(kept, key=lambda d: d.get("kind") != "ConfigMap")


@app.command()
def submit(
    job_file: JobFile,
    wait: Annotated[
        bool, typer.Option("--wait", "-w", help="Follow the job until it ends; the exit code says how.")
    ] = False,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="With --wait: give up following after this many seconds.")
    ] = None,
    namespace: NamespaceOption = None,
    context: ContextOption = None,
    kubeconfig: KubeconfigOption = None,
    interval: Annotated[float, typer.Option("--interval", hidden=True, help="Seconds between reads.")] = 1.0,
) -> None:
    """Create the QiskitJob (and the ConfigMaps in its file) on the cluster, by server-side apply.

    Submitting an unchanged file again changes nothing; a changed spec of a job that has started
    is refused by the API server (only spec.suspend may change: give the job a new name instead).
    With --wait, the job's steps show as in a local run and its summary ends it; exit 0 when it
    succeeded, 2 when the job itself is wrong, 1 when it failed otherwise.

    Example: qiskit-argo submit examples/bell.yaml --wait
    """
    from qiskit_argo.cluster.kube import JOBS

    job, _ = _load(job_file)
    documents = _apply_documents(job_file)
    declared = {str((d.get("metadata") or {}).get("namespace") or "") for d in documents} - {""}
    if namespace and declared - {namespace}:
        raise _fail(
            f"{job_file}: its objects are in namespace {', '.join(sorted(declared))}, not {namespace}; "
            "drop -n or the file's metadata.namespace",
            EXIT_PERMANENT,
        )
    with _cluster(namespace or next(iter(sorted(declared)), None), context, kubeconfig) as kube:
        for document in documents:
            document.setdefault("metadata", {})["namespace"] = kube.namespace
        try:
            for document in documents:
                if document.get("kind") == "ConfigMap":
                    kube.apply_config_map(document)
            body = next(d for d in documents if d.get("kind") == "QiskitJob")
            before = kube.find(JOBS, job.name)
            after = kube.apply(JOBS, body)
        except QiskitArgoError as error:
            raise _fail(f"{job_file}: {error}", error.exit_code) from None
        what = f"qiskitjob.qiskit-argo.io/{job.name}"
        if before is None:
            out.print(plain(f"{what} created in namespace {kube.namespace}"), soft_wrap=True)
        elif before["metadata"].get("resourceVersion") == after["metadata"].get("resourceVersion"):
            out.print(plain(f"{what} unchanged (the same spec is already submitted)"), soft_wrap=True)
        else:
            out.print(plain(f"{what} configured"), soft_wrap=True)
        if wait:
            _follow(kube, job.name, int(after["metadata"].get("generation") or 1), timeout, interval)


def _follow(kube: ClusterClient, name: str, generation: int, timeout: float | None, interval: float) -> None:
    """Show the job's steps live (from its status) until it ends; print the summary; exit by phase."""
    from types import SimpleNamespace

    from qiskit_argo.cluster.commands import FINAL_PHASES, exit_code

    started = time.monotonic()
    try:
        with _Progress([]) as progress:
            while True:
                job = kube.get_job(name)
                status = job.get("status") or {}
                for step in status.get("steps") or []:
                    if isinstance(step, dict) and step.get("name"):
                        progress.update(
                            SimpleNamespace(
                                name=str(step["name"]), phase=str(step.get("phase")), progress=step.get("progress")
                            )
                        )
                current = int(status.get("observedGeneration") or 0) >= generation
                if current and status.get("phase") in FINAL_PHASES:
                    break
                if timeout is not None and time.monotonic() - started > timeout:
                    raise _fail(
                        f"job {name} is still {status.get('phase') or 'Pending'} after {timeout:g} s; it goes on "
                        f"(qiskit-argo get {name} -n {kube.namespace})",
                        EXIT_TRANSIENT,
                    )
                time.sleep(interval)
    except QiskitArgoError as error:
        raise _fail(str(error), error.exit_code) from None
    except KeyboardInterrupt:
        raise _fail(
            f"stopped following; job {name} goes on (qiskit-argo get {name} -n {kube.namespace})", 130
        ) from None
    _print_job_summary(job, time.monotonic() - started)
    code = exit_code(job)
    if code:
        raise _fail(f"job {name} failed: {status.get('reason') or 'Failed'}: {status.get('message') or ''}", code)


def _seconds(step: dict[str, Any]) -> float | None:
    from datetime import datetime

    try:
        begin = datetime.fromisoformat(str(step["startedAt"]).replace("Z", "+00:00"))
        end = datetime.fromisoformat(str(step["finishedAt"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    return (end - begin).total_seconds()


def _print_job_summary(job: dict[str, Any], wall: float) -> None:
    status = job.get("status") or {}
    name = str(job["metadata"]["name"])
    failed = None
    if status.get("phase") == "Failed":
        failed = f"{status.get('reason') or 'Failed'}: {status.get('message') or ''}"
    out.print(
        _summary_table(
            name,
            str(status.get("phase") or ""),
            backend=status.get("backend") or {},
            summary=status.get("result") or {},
            metrics=status.get("circuit") or {},
            estimate=(status.get("cost") or {}).get("estimate") or {},
            ibm=status.get("ibm") or {},
            steps=[
                (str(s.get("name")), str(s.get("phase")), _seconds(s))
                for s in status.get("steps") or []
                if isinstance(s, dict)
            ],
            failed=failed,
            wall=wall,
            execution=status.get("cache") or {},
        )
    )
    if status.get("resultLocation"):
        namespace = job["metadata"].get("namespace", "")
        out.print(plain(f"results: qiskit-argo results {name} -n {namespace}", limit=None), soft_wrap=True)


def _print_columns(header: list[str], rows: list[list[str]], indent: str = "") -> None:
    """Columns as kubectl prints them: left-aligned, three spaces apart, never wrapped (a line
    longer than the terminal runs on, as `kubectl get` does); every cell cleaned."""
    cells = [[clean(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for index, row in enumerate(cells):
        line = indent + "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        out.print(Text(line, style="bold" if index == 0 else ""), soft_wrap=True, highlight=False)


@app.command("get")
def get_jobs(
    job: Annotated[str | None, typer.Argument(help="One QiskitJob (default: every one in the namespace).")] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", help="wide: more columns.")] = None,
    namespace: NamespaceOption = None,
    context: ContextOption = None,
    kubeconfig: KubeconfigOption = None,
) -> None:
    """List QiskitJobs like `kubectl get qj`: name, phase, backend, shots, age, message.

    Example: qiskit-argo get -o wide
    """
    from qiskit_argo.cluster.commands import COLUMNS, WIDE_COLUMNS, job_row

    if output not in (None, "wide"):
        raise _fail(f"--output {output!r} is not known; use -o wide (or kubectl get qj -o yaml)", EXIT_PERMANENT)
    wide = output == "wide"
    with _cluster(namespace, context, kubeconfig) as kube:
        try:
            jobs = [kube.get_job(job)] if job else kube.list_jobs()
        except QiskitArgoError as error:
            raise _fail(str(error), error.exit_code) from None
        if not jobs:
            err.print(plain(f"No QiskitJobs found in namespace {kube.namespace}."), soft_wrap=True)
            return
    jobs.sort(key=lambda j: str(j["metadata"]["name"]))
    _print_columns(WIDE_COLUMNS if wide else COLUMNS, [job_row(j, wide=wide) for j in jobs])


@app.command()
def describe(
    job: JobName, namespace: NamespaceOption = None, context: ContextOption = None, kubeconfig: KubeconfigOption = None
) -> None:
    """Show one QiskitJob: conditions, steps, backend and why, result, cost, IBM job, Events.

    Example: qiskit-argo describe bell
    """
    from rich.table import Table

    from qiskit_argo.cluster.commands import describe_sections

    with _cluster(namespace, context, kubeconfig) as kube:
        try:
            found = kube.get_job(job)
            events = kube.events_for(str(found["metadata"].get("uid")))
        except QiskitArgoError as error:
            raise _fail(str(error), error.exit_code) from None
    for title, rows in describe_sections(found, events):
        out.print(plain(f"{title}:", "bold"))
        if title in ("Conditions", "Steps", "Events"):
            if len(rows) == 1:
                out.print("  <none>")
                continue
            _print_columns(list(rows[0]), [list(r) for r in rows[1:]], indent="  ")  # type: ignore[arg-type]
            continue
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(overflow="fold")
        for label, value in rows:
            grid.add_row(plain(f"  {label}:"), plain(value))
        out.print(grid)


@app.command()
def logs(
    job: JobName,
    step: Annotated[
        str | None, typer.Option("--step", "-s", help="Only this step, e.g. execute-aer (the steps: describe).")
    ] = None,
    argo_server: ArgoServerOption = None,
    namespace: NamespaceOption = None,
    context: ContextOption = None,
    kubeconfig: KubeconfigOption = None,
) -> None:
    """Print the step pods' logs (container main), oldest step first.

    Once Argo has deleted the pods (podGC), --argo-server reads the logs Argo archived.

    Example: qiskit-argo logs bell --step execute-aer
    """
    from qiskit_argo.cluster.commands import MAIN_CONTAINER, pod_step, step_selector
    from qiskit_argo.cluster.kube import WORKFLOWS, ClusterError

    with _cluster(namespace, context, kubeconfig) as kube:
        try:
            found = kube.get_job(job)
            status = found.get("status") or {}
            workflow = status.get("workflowName")
            if not workflow:
                raise _fail(
                    f"job {job} has no Workflow yet ({status.get('phase') or 'Pending'}): no step has run; "
                    f"try again later (qiskit-argo describe {job})",
                    EXIT_TRANSIENT,
                )
            pods = kube.pods(step_selector(workflow, step))
            pods.sort(key=lambda p: (str(p["metadata"].get("creationTimestamp") or ""), str(p["metadata"]["name"])))
            for pod in pods:
                pod_name = str(pod["metadata"]["name"])
                out.print(plain(f"==> {pod_step(pod)} (pod {pod_name}) <==", "bold"), soft_wrap=True)
                try:
                    text = kube.pod_log(pod_name, MAIN_CONTAINER)
                except ClusterError as error:
                    if not error.permanent:
                        raise
                    err.print(plain(f"  no log: {error}"), soft_wrap=True)
                    continue
                _print_log(text)
            if pods:
                return
            which = f"step {step} of " if step else ""
            if not argo_server:
                raise _fail(
                    f"the pods of {which}Workflow {workflow} are gone (Argo deletes them after the steps end); "
                    f"read Argo's archived logs: qiskit-argo logs {job} --argo-server https://<argo-server> "
                    f"(or argo logs {workflow} -n {kube.namespace})",
                    EXIT_PERMANENT,
                )
            _archived_logs(kube, job, workflow, step, argo_server, WORKFLOWS)
        except QiskitArgoError as error:
            raise _fail(str(error), error.exit_code) from None


def _print_log(text: str) -> None:
    for line in text.splitlines():
        out.print(plain(line, limit=None), soft_wrap=True, highlight=False)


def _archived_logs(kube: ClusterClient, job: str, workflow: str, step: str | None, server: str, kind: Any) -> None:
    from qiskit_argo.cluster.argo_server import archived_log, step_nodes

    found = kube.find(kind, workflow)
    nodes = step_nodes(found or {}, step)
    token = os.environ.get("ARGO_TOKEN")
    shown = 0
    for node_name, node_id in nodes:
        text = archived_log(server, token, kube.namespace, workflow, node_id)
        if text is None:
            continue
        shown += 1
        out.print(plain(f"==> {node_name} (archived by Argo) <==", "bold"), soft_wrap=True)
        _print_log(text)
    if not shown:
        raise _fail(
            f"neither pods nor archived logs for {'step ' + step + ' of ' if step else ''}Workflow {workflow}; "
            "turn on archiveLogs in the artifact repository to keep logs after the pods are gone",
            EXIT_PERMANENT,
        )


@app.command()
def cancel(
    job: JobName, namespace: NamespaceOption = None, context: ContextOption = None, kubeconfig: KubeconfigOption = None
) -> None:
    """Stop a job and keep its record: suspend it, stop its Workflow, cancel its IBM job at IBM.

    Sets the job's spec.suspend (the controller then cancels a live IBM job through its cancel
    Workflow) and stops the Workflow as `argo stop` does (spec.shutdown: Stop). The QiskitJob
    stays, with its status; `kubectl delete qj` removes it.

    Example: qiskit-argo cancel bell
    """
    from qiskit_argo.cluster.commands import FINAL_PHASES
    from qiskit_argo.cluster.kube import JOBS, WORKFLOWS

    with _cluster(namespace, context, kubeconfig) as kube:
        try:
            found = kube.get_job(job)
            status = found.get("status") or {}
            if status.get("phase") in FINAL_PHASES:
                out.print(plain(f"qiskitjob.qiskit-argo.io/{job} already ended ({status['phase']}); nothing to cancel"))
                return
            kube.patch(JOBS, job, {"spec": {"suspend": True}})
            workflow = status.get("workflowName")
            stopped = False
            if workflow:
                # As `argo stop` does: a merge patch of spec.shutdown (argo-workflows v4.1.2
                # workflow/util/util.go, StopWorkflow).
                stopped = kube.find(WORKFLOWS, workflow) is not None
                if stopped:
                    kube.patch(WORKFLOWS, workflow, {"spec": {"shutdown": "Stop"}})
        except QiskitArgoError as error:
            raise _fail(str(error), error.exit_code) from None
    line = f"qiskitjob.qiskit-argo.io/{job} cancelled: suspended (spec.suspend: true)"
    line += f", Workflow {workflow} stopped (spec.shutdown: Stop)" if stopped else ", no Workflow to stop"
    out.print(plain(line + f"; the record stays (qiskit-argo describe {job})", limit=None), soft_wrap=True)
    ibm = (status.get("ibm") or {}).get("jobId")
    if ibm:
        out.print(plain(f"IBM job {ibm}: the controller cancels it at IBM (Event IbmCancelRequested)"), soft_wrap=True)


@app.command()
def results(
    job: JobName,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Results directory (default: results/<job name>), as for qiskit-argo run.",
        ),
    ] = None,
    argo_server: ArgoServerOption = None,
    namespace: NamespaceOption = None,
    context: ContextOption = None,
    kubeconfig: KubeconfigOption = None,
) -> None:
    """Download a finished job's results: result.json, metrics.json, histogram.png, as a local run writes them.

    From the Argo Server's artifact endpoint with --argo-server (token in ARGO_TOKEN), else straight
    from the S3-compatible store of the job's artifact repository (credentials from AWS_ACCESS_KEY_ID
    and AWS_SECRET_ACCESS_KEY, else from the Secret the repository names). result.json is checked
    against the SHA-256 recorded in the job's status.

    Example: qiskit-argo results bell --out results/bell
    """
    with _cluster(namespace, context, kubeconfig) as kube:
        try:
            found = kube.get_job(job)
            status = found.get("status") or {}
            location = status.get("resultLocation")
            if not location:
                phase = status.get("phase") or "Pending"
                raise _fail(
                    f"job {job} has no result ({phase}"
                    + (f": {status.get('message')}" if status.get("message") else "")
                    + f"); a job that succeeded has one (kubectl wait --for=condition=Succeeded qj/{job})",
                    EXIT_PERMANENT if phase == "Failed" else EXIT_TRANSIENT,
                )
            files = _fetch_results(kube, location, argo_server)
        except QiskitArgoError as error:
            raise _fail(str(error), error.exit_code) from None
    from qiskit_argo.artifacts import write_results_dir

    target = out_dir or Path("results") / job
    try:
        write_results_dir(files, target)
    except QiskitArgoError as error:
        raise _fail(str(error), error.exit_code) from None
    except OSError as error:
        raise _fail(f"results directory {target}: cannot write ({error.strerror or error})", EXIT_TRANSIENT) from None
    for name in sorted(files):
        out.print(plain(f"{name}  {len(files[name])} bytes"), soft_wrap=True)
    out.print(plain("results: ") + plain(target, limit=None), soft_wrap=True)


def _fetch_results(kube: ClusterClient, location: dict[str, Any], argo_server: str | None) -> dict[str, bytes]:
    """The job's result files, from the Argo Server or from its artifact repository's store (the
    ConfigMap ``status.resultLocation.repository`` names; its Secret for the keys)."""
    from qiskit_argo import artifacts
    from qiskit_argo.api.job import ResultLocation

    parsed = ResultLocation.model_validate(location, by_alias=True, by_name=False)
    reference = parsed.repository
    repository = credentials = None
    try:
        config_map = kube.config_map(
            reference.config_map if reference else artifacts.CONFIG_MAP, reference.namespace if reference else None
        )
        repository = artifacts.ArtifactRepository.from_config_map(config_map, reference.key if reference else None)
        credentials = _s3_credentials(kube, repository)
    except QiskitArgoError:
        if not argo_server:
            raise
        # The Argo Server serves the artifact itself; the store is only its fallback.
    files: dict[str, bytes] = artifacts.fetch_results(
        parsed,
        namespace=kube.namespace,
        repository=repository,
        argo_server=argo_server,
        token=os.environ.get("ARGO_TOKEN"),
        s3_credentials=credentials,
    )
    return files


def _s3_credentials(kube: ClusterClient, repository: Any) -> Any:
    """AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY when both are set, else the keys in the Secrets the
    repository names (read with your kubeconfig); None when it names none (anonymous or IAM)."""
    import base64

    from qiskit_argo import artifacts
    from qiskit_argo.cluster.kube import Forbidden

    access, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if access and secret:
        return artifacts.S3Credentials(
            access_key=access, secret_key=secret, session_token=os.environ.get("AWS_SESSION_TOKEN") or None
        )

    def read(ref: Any) -> bytes | None:
        try:
            data = kube.secret(ref.name).get("data") or {}
        except Forbidden:
            raise _fail(
                f"you may not read Secret {ref.name} (the artifact store's keys) in namespace {kube.namespace}; "
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use --argo-server",
                EXIT_PERMANENT,
            ) from None
        return base64.b64decode(data[ref.key]) if ref.key in data else None

    return artifacts.S3Credentials.from_secrets(repository, read)


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

    def __init__(self, steps: dict[str, Any] | list[str]) -> None:
        """``steps``: a Workflow (one row per task of its entrypoint DAG) or the steps' names
        (none: a row appears for each step when first seen)."""
        from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
        from rich.table import Column

        class _StateColumn(SpinnerColumn):
            """A spinner while a step runs, then a mark that says how it ended."""

            def render(self, task: Any) -> Any:
                mark = task.fields.get("mark")
                return mark if mark is not None else super().render(task)

        class _FieldColumn(ProgressColumn):
            """A task field that already is a ``Text`` (so never read as markup), on one line."""

            def __init__(self) -> None:
                super().__init__(table_column=Column(no_wrap=True, overflow="ellipsis"))

            def render(self, task: Any) -> Any:
                return task.fields["state"]

        if isinstance(steps, dict):
            entry = next(t for t in steps["spec"]["templates"] if t["name"] == steps["spec"]["entrypoint"])
            steps = [task["name"] for task in entry["dag"]["tasks"]]
        self.names = list(steps)
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
        #: Steps not known up front get a row when first seen (a cluster job's status.steps).
        self.grow = not self.names

    def _fields(self, phase: str, detail: str = "") -> dict[str, Any]:
        label, style, mark = self.PHASES.get(phase, (phase, "", ""))
        state = f"{label}  {detail}" if detail else label
        return {"state": plain(state, style, 60), "mark": plain(mark, style) if mark else None}

    def __enter__(self) -> _Progress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, task: Any) -> None:
        """Show a step's phase (``task.name``, ``task.phase``); ``grow`` adds a row for a new step."""
        row = self.rows.get(task.name)
        if row is None:
            if not self.grow:
                return
            self.names.append(task.name)
            row = self.rows[task.name] = self.progress.add_task(
                clean(task.name, 60), total=1, start=False, **self._fields("Pending")
            )
        phase, detail, fraction = _step_display(task)
        if phase == "Running":
            self.progress.start_task(row)
        done = phase in ("Succeeded", "Failed", "Error", "Skipped", "Omitted")
        completed = 1.0 if phase == "Succeeded" else fraction
        self.progress.update(row, completed=completed, **self._fields(phase, detail))
        if done:
            self.progress.stop_task(row)


def _step_display(task: Any) -> tuple[str, str, float]:
    """How a step's row reads: its phase, a detail and how far it is (0..1). A fanned-out step
    (``children``: its shards) says ``N/M shards · n/m bindings`` (bindings from the steps'
    progress, Argo's ``N/M``) and ``cached`` when its result came from the cache; one whose every
    shard was skipped (the branch not taken) is skipped."""
    phase = str(task.phase)
    children = list(getattr(task, "children", None) or [])
    progress = _fraction(getattr(task, "progress", None))
    memo = getattr(task, "memoization", None) or {}
    if children and all(child.phase == "Skipped" for child in children):
        return "Skipped", "", 0.0
    words: list[str] = []
    fraction = 0.0
    if children:
        ran = [child for child in children if child.phase != "Skipped"]
        done = sum(1 for child in ran if child.phase == "Succeeded")
        words.append(f"{done}/{len(ran)} shards")
        fraction = done / len(ran) if ran else 0.0
        hits = sum(1 for child in ran if (getattr(child, "memoization", None) or {}).get("hit"))
        if hits and hits == len(ran):
            return phase, "cached", 1.0
        if hits:
            words.append(f"{hits} cached")
    elif memo.get("hit"):
        return phase, "cached", 1.0
    if progress is not None:
        words.append(f"{progress[0]}/{progress[1]} bindings")
        fraction = progress[0] / progress[1] if progress[1] else fraction
    return phase, " · ".join(words), fraction


def _fraction(text: Any) -> tuple[int, int] | None:
    """Argo's progress ``"N/M"`` as two numbers, or None."""
    done, slash, total = str(text or "").partition("/")
    return (int(done), int(total)) if slash and done.isdigit() and total.isdigit() else None


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
    parameters: dict[str, str] = {}
    for task in result.tasks.values():
        parameters.update(task.parameters)

    def parsed(name: str) -> dict[str, Any]:
        try:
            value = json.loads(parameters.get(name, "{}"))
        except json.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}

    failed = result.failed_task
    out.print(
        _summary_table(
            job.name,
            result.phase,
            backend=parsed("backend"),
            summary=parsed("summary"),
            metrics=parsed("metrics"),
            estimate=parsed("estimate"),
            ibm=parsed("ibm") or parsed("submission"),
            steps=[_step_row(task) for task in result.tasks.values()],
            failed=None if failed is None else f"{failed.name}: {failed.message}",
            wall=wall,
            execution=_local_execution(result, parameters.get("executor", "")),
        )
    )
    # On its own line, never cut by the table's width nor shortened: people copy this path.
    out.print(plain("results: ") + plain(target, limit=None), soft_wrap=True)


def _step_row(task: Any) -> tuple[str, str, float | None]:
    """A local step's summary row: its name, phase as shown (a fan-out of skipped shards: Skipped)
    and seconds (none for a step that did not run)."""
    phase = _step_display(task)[0]
    return task.name, phase, None if phase in ("Skipped", "Omitted") else task.seconds


def _local_execution(result: WorkflowRun, executor: str) -> dict[str, Any]:
    """What ran the job locally, for the summary: the shards that ran, how many came from the
    cache (Argo's memoization status), and the device an Aer run used."""
    shards = hits = 0
    for task in result.tasks.values():
        ran = [child for child in task.children if child.phase != "Skipped"]
        shards += len(ran)
        hits += sum(1 for child in ran if (child.memoization or {}).get("hit"))
    facts: dict[str, Any] = {}
    if shards:
        facts.update(
            shards=shards, shardsHit=hits, hit=hits == shards, cached=any(t.memoization for t in result.tasks.values())
        )
    if executor.startswith("aer"):
        facts["device"] = "GPU" if "_gpu" in executor else "CPU"
    return facts


def _execution_rows(execution: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    if execution.get("device"):
        rows.append(("device", "GPU (Qiskit Aer on this machine's GPU)" if execution["device"] == "GPU" else "CPU"))
    shards, hits = execution.get("shards"), execution.get("shardsHit") or 0
    if shards:
        rows.append(("shards", f"{shards}" + (" (in parallel processes)" if shards > 1 else "")))
    if execution.get("hit"):
        rows.append(("cache", "hit: the result of an identical earlier run, not simulated again"))
    elif hits:
        rows.append(("cache", f"{hits} of {shards} shards from the cache"))
    elif execution.get("cached"):
        rows.append(("cache", "miss: simulated, and kept for an identical run"))
    return rows


def _pub_line(pub: dict[str, Any]) -> str:
    """One PUB of the result summary as one line: bindings, shots, top counts or values."""
    words = [f"{pub.get('numBindings', 1)} binding(s)"]
    if pub.get("shots"):
        words.append(f"{pub['shots']} shots")
    top = pub.get("topCounts")
    if top and isinstance(top, dict):
        words.append("  ".join(f"{k}: {v}" for k, v in top.items()))
    values = pub.get("expectationValues")
    if values and isinstance(values, list):
        stds = pub.get("standardErrors") or []
        words.append("  ".join(_value_with_error(v, stds, i) for i, v in enumerate(values)))
    return " · ".join(words)


def _summary_table(
    name: str,
    phase: str,
    *,
    backend: dict[str, Any],
    summary: dict[str, Any],
    metrics: dict[str, Any],
    estimate: dict[str, Any],
    ibm: dict[str, Any],
    steps: list[tuple[str, str, float | None]],
    failed: str | None,
    wall: float,
    execution: dict[str, Any] | None = None,
) -> Any:
    """The table that ends a run, local (from the steps' outputs) or on a cluster (from the
    job's status): phase, backend and why, estimate, IBM job, circuit, shots, counts or values
    (one line per PUB of a job of several), device, shards and the cache, each step's phase and
    time, what failed, wall time."""
    from rich.table import Table

    colour = "green" if phase == "Succeeded" else "red"
    table = Table(title=plain(f"QiskitJob {name}"), show_header=False, title_justify="left")
    row = table.add_row
    row("phase", plain(phase, colour))
    if backend:
        device = backend.get("device")
        detail = backend.get("method") or (device if device != backend.get("name") else None)
        row("backend", plain(f"{backend.get('name', '?')}" + (f" ({detail})" if detail else "")))
        if backend.get("reason"):
            row("why", plain(backend["reason"]))
    estimate_line = _estimate_line(estimate, str(backend.get("device") or ""))
    if estimate_line:
        row("estimate", plain(estimate_line))
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
    pubs = [pub for pub in summary.get("pubs") or [] if isinstance(pub, dict)]
    if len(pubs) > 1:
        for index, pub in enumerate(pubs):
            row(plain(f"pub {pub.get('index', index)}"), plain(_pub_line(pub)))
        if (summary.get("numPubs") or 0) > len(pubs):  # the summary keeps the first 16
            row("", plain(f"… {summary['numPubs']} PUBs in all: see result.json"))
    else:
        if summary.get("shots"):
            row("shots", plain(summary["shots"]))
        top = summary.get("topCounts")
        if top and isinstance(top, dict):
            row("top counts", plain("  ".join(f"{k}: {v}" for k, v in top.items())))
        values = summary.get("expectationValues")
        if values and isinstance(values, list):
            stds = summary.get("standardErrors") or []
            row("expectation values", plain("  ".join(_value_with_error(v, stds, i) for i, v in enumerate(values))))
    for label, value in _execution_rows(execution or {}):
        row(label, plain(value))
    for step, step_phase, seconds in steps:
        took = f"{seconds:.2f} s" if seconds is not None else "-"
        row(plain(f"step {step}"), plain(f"{step_phase}  {took}"))
    if failed is not None:
        row(plain("failed", "red"), plain(failed))
    row("wall time", f"{wall:.2f} s")
    return table


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
