"""The store-results step: the final ``results/`` directory and the summary for the job's status.

``results/`` holds

* ``result.json`` — the execute step's full result, copied byte for byte (shape documented in
  ``qiskit_argo.execution``);
* ``metrics.json`` — circuit metrics, the chosen backend and why, the result summary, and facts
  about the run (bindings, shots/precision, transpilation, versions, result size and sha256; for a
  run on IBM Quantum also ``run.ibm``: the job id, device, quantum seconds and IBM's estimate);
* ``histogram.png`` — sampler: ``qiskit.visualization.plot_histogram`` of the counts of the first
  few bindings; estimator: expectation values with standard-error bars (per binding for a sweep).

``summary.json`` beside it is the bounded ``ResultSummary`` the controller copies into the status;
``checksum.json`` (``CHECKSUM_FILE``) is ``{"sha256": <hex>, "size": <bytes>}`` of ``result.json``
as written, which the controller copies into ``status.resultLocation`` and a download verifies.
Pure functions build the documents and figures; ``run_step`` does the file I/O. Only matplotlib
(Agg) and, for the sampler histogram, ``qiskit.visualization`` are imported, on first use.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qiskit_argo.api import BackendStatus, CircuitMetrics, Primitive, ResultSummary
from qiskit_argo.errors import PermanentError
from qiskit_argo.reasons import Reason
from qiskit_argo.request import ExecutionRequest
from qiskit_argo.stepio import load_request, parse_parameter, read_artifact

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "RESULTS_DIR",
    "CHECKSUM_FILE",
    "checksum_document",
    "HISTOGRAM_BINDINGS",
    "HISTOGRAM_KEYS",
    "binding_label",
    "histogram_series",
    "estimator_series",
    "metrics_document",
    "histogram_figure",
    "estimator_figure",
    "render_figure",
    "run_step",
]

RESULTS_DIR = "results"
#: The store-results step's ``checksum`` output parameter: sha256 and size of ``results/result.json``.
CHECKSUM_FILE = "checksum.json"
#: A sweep's histogram shows this many bindings, the first ones.
HISTOGRAM_BINDINGS = 4
#: Above this many distinct bitstrings the histogram keeps the most frequent ones (and "rest").
HISTOGRAM_KEYS = 32
_MAX_LINES = 8
_DPI = 100


# --------------------------------------------------------------------------- pure: series


def binding_label(names: list[str], values: list[list[float]], index: int) -> str:
    """``theta=0.449`` for a few parameters, ``binding 3`` otherwise."""
    if not names or index >= len(values):
        return f"binding {index}"
    if len(names) <= 2:
        return ", ".join(f"{name}={value:.4g}" for name, value in zip(names, values[index], strict=True))
    return f"binding {index}"


def histogram_series(document: dict[str, Any]) -> tuple[str, list[dict[str, int]], list[str]]:
    """The register plotted, the counts of the first few bindings, and their legend labels."""
    pub = document["pubs"][0]
    data = document["pub_results"][0]["data"]
    if not data:
        return "", [], []
    register = next(iter(data))
    counts = data[register]["counts"][:HISTOGRAM_BINDINGS]
    labels = [binding_label(pub["parameter_names"], pub["parameter_values"], i) for i in range(len(counts))]
    return register, counts, labels


def _observable_label(paulis: dict[str, float]) -> str:
    terms = [label if coeff == 1 else f"{coeff:g}·{label}" for label, coeff in paulis.items()]
    text = " + ".join(terms)
    return text if len(text) <= 24 else text[:21] + "..."


def estimator_series(document: dict[str, Any]) -> tuple[list[str], list[list[float]], list[list[float]]]:
    """Observable labels and ``evs[binding][observable]``, ``stds[binding][observable]``."""
    pub = document["pubs"][0]
    data = document["pub_results"][0]["data"]
    labels = [_observable_label(o) for o in pub.get("observables", [])]
    if len(set(labels)) < len(labels):
        labels = [f"[{i}] {label}" for i, label in enumerate(labels)]
    return labels, data["evs"], data["stds"]


# --------------------------------------------------------------------------- pure: documents


def metrics_document(
    *,
    request: ExecutionRequest,
    metrics: CircuitMetrics,
    backend: BackendStatus,
    summary: ResultSummary,
    result: dict[str, Any],
    result_bytes: int,
    result_sha256: str,
    stored_at: datetime,
) -> dict[str, Any]:
    """``results/metrics.json``: what ran, where, what came out, and the facts of the run."""
    meta = result.get("metadata", {})
    run: dict[str, Any] = {
        "numBindings": max(len(request.parameter_values), 1),
        "parameterNames": list(request.parameter_names),
        "optimizationLevel": request.optimization_level,
        "transpiled": meta.get("transpiled"),
        "transpiledOptimizationLevel": meta.get("optimization_level"),
        "seed": request.aer.seed,
        "noiseModel": request.aer.noise_model,
        "qiskitVersion": meta.get("qiskit_version"),
        "qiskitAerVersion": meta.get("qiskit_aer_version"),
    }
    if request.primitive == Primitive.ESTIMATOR.value:
        run["precision"] = request.precision or 0.0
        run["numObservables"] = len(request.observables or [])
    else:
        run["shots"] = request.shots
    ibm = result.get("ibm")
    if isinstance(ibm, dict):  # ran on IBM Quantum (or its local testing mode): ibm-wait's result
        ran_on = result.get("backend") or {}
        run["seed"], run["noiseModel"] = ran_on.get("seed"), ran_on.get("noise_model")
        run["qiskitIbmRuntimeVersion"] = meta.get("qiskit_ibm_runtime_version")
        run["ibm"] = {
            key: value
            for key, value in {
                "jobId": ibm.get("job_id"),
                "device": ibm.get("device"),
                "localTesting": ibm.get("local_testing"),
                "sessionId": ibm.get("session_id"),
                "quantumSeconds": ibm.get("quantum_seconds"),
                "estimatedQuantumSeconds": ibm.get("estimated_quantum_seconds"),
                "timestamps": ibm.get("timestamps"),
            }.items()
            if value is not None
        }
    return {
        "job": {"name": request.job_name, "namespace": request.namespace},
        "primitive": request.primitive,
        "circuit": metrics.dump(),
        "backend": backend.dump(),
        "summary": summary.dump(),
        "run": {key: value for key, value in run.items() if value is not None},
        "files": {
            "result": {"path": "result.json", "bytes": result_bytes, "sha256": result_sha256},
            "histogram": {"path": "histogram.png"},
        },
        "storedAt": stored_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def checksum_document(data: bytes) -> dict[str, Any]:
    """``checksum.json``: ``{"sha256": <hex digest>, "size": <bytes>}`` of ``data``."""
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


# --------------------------------------------------------------------------- figures


def _pyplot() -> Any:
    if "MPLCONFIGDIR" not in os.environ and not os.access(Path.home(), os.W_OK):
        # Read-only root filesystem in the pod: keep matplotlib's cache on the scratch volume.
        os.environ["MPLCONFIGDIR"] = str(Path(tempfile.gettempdir()) / "matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def histogram_figure(document: dict[str, Any]) -> Figure:
    """The sampler histogram: ``plot_histogram`` of the first bindings' counts."""
    plt = _pyplot()
    register, counts, labels = histogram_series(document)
    total = document["pubs"][0]["num_bindings"]
    name = document["job"]["name"]
    if not counts:
        figure, axis = plt.subplots(figsize=(6, 3))
        axis.text(0.5, 0.5, "no classical registers, no counts", ha="center", va="center")
        axis.set_axis_off()
        return figure
    from qiskit.visualization import plot_histogram

    distinct = len(set().union(*counts))
    keep = HISTOGRAM_KEYS if distinct > HISTOGRAM_KEYS else None
    shown = f"bindings 1-{len(counts)} of {total}" if total > 1 else "counts"
    registers = len(document["pub_results"][0]["data"])
    where = f", register {register}" + (f" (1 of {registers})" if registers > 1 else "")
    figure = plot_histogram(
        counts if len(counts) > 1 else counts[0],
        legend=labels if len(counts) > 1 else None,
        number_to_keep=keep,
        sort="value_desc" if keep else "asc",
        bar_labels=len(counts) == 1 and distinct <= 16,
        title=f"{name}: {shown}{where}",
        figsize=(max(6.0, min(14.0, 0.45 * min(distinct, HISTOGRAM_KEYS) * len(counts) + 3)), 4.5),
    )
    return figure


def estimator_figure(document: dict[str, Any]) -> Figure:
    """Expectation values with standard-error bars: bars for one binding, lines for a sweep."""
    plt = _pyplot()
    labels, evs, stds = estimator_series(document)
    name = document["job"]["name"]
    if len(evs) <= 1:
        values = [v if v is not None else float("nan") for v in (evs[0] if evs else [])]
        errors = [s if s is not None else 0.0 for s in (stds[0] if stds else [])]
        figure, axis = plt.subplots(figsize=(max(5.0, 0.9 * len(values) + 2), 4))
        positions = list(range(len(values)))
        axis.bar(positions, values, yerr=errors, capsize=4, color="#6929c4")
        axis.set_xticks(
            positions, labels, rotation=30 if len(values) > 4 else 0, ha="right" if len(values) > 4 else "center"
        )
        axis.axhline(0.0, color="black", linewidth=0.8)
        axis.set_ylabel("expectation value")
    else:
        figure, axis = plt.subplots(figsize=(8, 4.5))
        pub = document["pubs"][0]
        names, rows = pub["parameter_names"], pub["parameter_values"]
        if len(names) == 1 and rows:
            xs, xlabel = [row[0] for row in rows], names[0]
        else:
            xs, xlabel = list(range(len(evs))), "binding"
        for j, label in enumerate(labels[:_MAX_LINES]):
            ys = [row[j] if row[j] is not None else float("nan") for row in evs]
            es = [row[j] if row[j] is not None else 0.0 for row in stds]
            axis.errorbar(xs, ys, yerr=es, marker="o", markersize=3, capsize=3, label=label)
        axis.set_xlabel(xlabel)
        axis.set_ylabel("expectation value")
        axis.legend(fontsize="small")
        if len(labels) > _MAX_LINES:
            axis.set_title(f"{name}: first {_MAX_LINES} of {len(labels)} observables")
    if not axis.get_title():
        axis.set_title(f"{name}: expectation values ± standard error")
    figure.tight_layout()
    return figure


def render_figure(document: dict[str, Any], path: Path) -> None:
    """Write the PNG that fits the primitive."""
    plt = _pyplot()
    if document["primitive"] == Primitive.ESTIMATOR.value:
        figure = estimator_figure(document)
    else:
        figure = histogram_figure(document)
    try:
        figure.savefig(path, format="png", dpi=_DPI, bbox_inches="tight")
    finally:
        plt.close(figure)


# --------------------------------------------------------------------------- the step


def run_step(
    result_file: Path,
    request_file: Path,
    metrics_json: str,
    backend_json: str,
    summary_json: str,
    out_dir: Path,
) -> None:
    """The store-results step: write ``out_dir/results/`` and ``out_dir/summary.json``."""
    raw = read_artifact(result_file, "result")
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise PermanentError(
            f"result artifact {result_file} is not JSON; the execute step wrote a broken file",
            reason=Reason.CORRUPT_RESULT,
        ) from None
    request = load_request(request_file)
    metrics = parse_parameter(CircuitMetrics, metrics_json, "metrics")
    backend = parse_parameter(BackendStatus, backend_json, "backend")
    summary = parse_parameter(ResultSummary, summary_json, "summary")

    results = out_dir / RESULTS_DIR
    results.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(result_file, results / "result.json")
    # The checksum of the copy as it lies in results/ (what Argo uploads), not of what was read.
    checksum = checksum_document((results / "result.json").read_bytes())
    if checksum["size"] != len(raw):
        raise PermanentError(
            f"results/result.json has {checksum['size']} bytes, the execute step's result {len(raw)}; "
            "the copy was cut short (disk full?)",
            reason=Reason.CORRUPT_RESULT,
        )
    render_figure(document, results / "histogram.png")
    facts = metrics_document(
        request=request,
        metrics=metrics,
        backend=backend,
        summary=summary,
        result=document,
        result_bytes=checksum["size"],
        result_sha256=checksum["sha256"],
        stored_at=datetime.now(UTC),
    )
    (results / "metrics.json").write_text(json.dumps(facts, indent=2))
    (out_dir / "summary.json").write_text(json.dumps(summary.dump()))
    (out_dir / CHECKSUM_FILE).write_text(json.dumps(checksum, sort_keys=True))
