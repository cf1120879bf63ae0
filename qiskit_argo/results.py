"""The store-results step: merge the execute steps' parts into ``results/`` and the status summary.

Every execute task writes one part (``part.json``; ``qiskit_argo.execution``): the rows of its
shard of the job's PUBs. Argo stores each under the run's parts prefix (or, for a cached run, the
cache prefix) and hands store-results both prefixes as the directories ``parts`` and
``cached-parts`` (``<shard id>.json`` each). The parts come from ``cached-parts`` when that holds
every shard of the ``shards`` parameter, else from ``parts``; ``merge_parts`` refuses (permanent,
``CorruptResult``, one line) a missing or extra part, overlapping or missing rows, or a part whose
``version`` is not 3.

``results/`` holds

* ``result.json`` — the merged result (``metadata.version`` 3)::

    {
      "primitive": "sampler" | "estimator",
      "job": {"name": str, "namespace": str},
      "backend": {"name": str, "method": str, "noise_model": str | null, "seed": int | null,
                  "device": "CPU" | "GPU"},
      "pubs": [{                       # one per PUB, in PUB order, parallel to pub_results
        "parameter_names": [str],      # the circuit's parameter order
        "parameter_values": [[float]], # one row per binding ([] when unparameterized): only when
                                       # the values were inline in the spec (from bindings/); otherwise
        "parameter_values_from": {...},# where they came from (ConfigMap key / artifact) and sha256
        "num_bindings": int,           # rows, or 1 when unparameterized
        "shots": int,                  # sampler
        "precision": float,            # estimator
        "observables": [{pauli: coeff}]  # estimator
      }],
      "pub_results": [{                # each PUB's rows concatenated from its slices in order
        "data": {"<creg>": {"num_bits": int, "num_shots": int, "counts": [{"<bits>": int}, ...]}}
              | {"evs": [[float]], "stds": [[float]]},   # [binding][observable]
        "metadata": {...}              # the primitive's PUB metadata (of the PUB's first slice)
      }],
      "shards": [{"id": "0-of-4", "seed": int | null, "slices": [[pub, start, stop], ...]}],
      "metadata": {"version": 3, "transpiled": bool, "optimization_level": int | null,
                   "transpiled_pubs": [int], "qiskit_version": str, "qiskit_aer_version": str,
                   "joined_counts": {"<pub>": {"<bits>": int}}   # several registers only
      },
      "ibm": {...}                     # a run on IBM Quantum: ibm-wait's job facts
    }

  A job of one PUB run in one shard has exactly the ``pubs[0]`` / ``pub_results[0]`` of a bare
  Qiskit Aer run; a sharded run's shard ``i`` equals bare Aer's run of that shard's PUBs with
  seed ``shards[i].seed``.
* ``metrics.json`` — circuit metrics, the chosen backend and why, the result summary, and facts
  about the run (bindings, per-PUB facts, shards and their seeds, cache key, transpilation,
  versions, result size and sha256; for a run on IBM Quantum also ``run.ibm``);
* ``histogram.png`` — one panel per PUB (the first ``HISTOGRAM_PUBS``; a note says how many
  more): sampler: ``qiskit.visualization.plot_histogram`` of the counts of the first few bindings;
  estimator: expectation values with standard-error bars (per binding for a sweep).

``summary.json`` beside it is the bounded ``ResultSummary`` the controller copies into the status
(``summarize_document``: PUB 0 at the top, one ``PubSummary`` per PUB); ``checksum.json``
(``CHECKSUM_FILE``) is ``{"sha256": <hex>, "size": <bytes>}`` of ``result.json`` as written, which
the controller copies into ``status.resultLocation`` and a download verifies. Pure functions build
the documents and figures; ``run_step`` does the file I/O. Only matplotlib (Agg) and, for the
sampler histogram, ``qiskit.visualization`` are imported, on first use.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qiskit_argo.api import MAX_SUMMARY_PUBS, BackendStatus, CircuitMetrics, Primitive, PubSummary, ResultSummary
from qiskit_argo.errors import InvalidJobError, PermanentError, one_line
from qiskit_argo.reasons import Reason
from qiskit_argo.request import ExecutionRequest
from qiskit_argo.stepio import load_request, parse_parameter

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "RESULTS_DIR",
    "CHECKSUM_FILE",
    "RESULT_VERSION",
    "TOP_COUNTS",
    "MAX_SUMMARY_VALUES",
    "checksum_document",
    "HISTOGRAM_BINDINGS",
    "HISTOGRAM_KEYS",
    "HISTOGRAM_PUBS",
    "binding_label",
    "histogram_series",
    "estimator_series",
    "read_parts",
    "merge_parts",
    "summarize_document",
    "metrics_document",
    "histogram_figure",
    "estimator_figure",
    "render_figure",
    "run_step",
]

RESULTS_DIR = "results"
#: The store-results step's ``checksum`` output parameter: sha256 and size of ``results/result.json``.
CHECKSUM_FILE = "checksum.json"
#: ``result.json``'s ``metadata.version`` (and every part's ``version``).
RESULT_VERSION = 3
#: The summary keeps this many of the most frequent bitstrings of a PUB's first binding.
TOP_COUNTS = 8
#: The summary keeps at most this many expectation values (and standard errors) per PUB.
MAX_SUMMARY_VALUES = 16
#: A sweep's histogram shows this many bindings, the first ones.
HISTOGRAM_BINDINGS = 4
#: Above this many distinct bitstrings the histogram keeps the most frequent ones (and "rest").
HISTOGRAM_KEYS = 32
#: The figure has one panel per PUB, for the first this many PUBs.
HISTOGRAM_PUBS = 8
_MAX_LINES = 8
_DPI = 100
_SHARD_ID = re.compile(r"^(0|[1-9][0-9]*)-of-([1-9][0-9]*)$")


def _corrupt(message: str) -> PermanentError:
    return PermanentError(one_line(message), reason=Reason.CORRUPT_RESULT)


# --------------------------------------------------------------------------- pure: series


def binding_label(names: list[str], values: list[list[float]], index: int) -> str:
    """``theta=0.449`` for a few parameters, ``binding 3`` otherwise."""
    if not names or index >= len(values):
        return f"binding {index}"
    if len(names) <= 2:
        return ", ".join(f"{name}={value:.4g}" for name, value in zip(names, values[index], strict=True))
    return f"binding {index}"


def histogram_series(document: dict[str, Any], pub: int = 0) -> tuple[str, list[dict[str, int]], list[str]]:
    """The register plotted, the counts of the first few bindings of PUB ``pub``, and their legend labels."""
    spec = document["pubs"][pub]
    data = document["pub_results"][pub]["data"]
    if not data:
        return "", [], []
    register = next(iter(data))
    counts = data[register]["counts"][:HISTOGRAM_BINDINGS]
    rows = spec.get("parameter_values") or []
    labels = [binding_label(spec["parameter_names"], rows, i) for i in range(len(counts))]
    return register, counts, labels


def _observable_label(paulis: dict[str, float]) -> str:
    terms = [label if coeff == 1 else f"{coeff:g}·{label}" for label, coeff in paulis.items()]
    text = " + ".join(terms)
    return text if len(text) <= 24 else text[:21] + "..."


def estimator_series(document: dict[str, Any], pub: int = 0) -> tuple[list[str], list[list[float]], list[list[float]]]:
    """Observable labels and ``evs[binding][observable]``, ``stds[binding][observable]`` of PUB ``pub``."""
    spec = document["pubs"][pub]
    data = document["pub_results"][pub]["data"]
    labels = [_observable_label(o) for o in spec.get("observables", [])]
    if len(set(labels)) < len(labels):
        labels = [f"[{i}] {label}" for i, label in enumerate(labels)]
    return labels, data["evs"], data["stds"]


# --------------------------------------------------------------------------- pure: merging parts


def _shard_index(shard: Any, where: str) -> tuple[int, int]:
    found = _SHARD_ID.fullmatch(shard) if isinstance(shard, str) else None
    if found is None or int(found.group(1)) >= int(found.group(2)):
        raise _corrupt(f"{where}: shard {str(shard)[:40]!r} is not a shard id like 0-of-4; rerun the job")
    return int(found.group(1)), int(found.group(2))


def _check_part(part: Any, where: str) -> None:
    if not isinstance(part, Mapping):
        raise _corrupt(f"{where}: not a JSON object; the execute task wrote a broken part, rerun the job")
    version = part.get("version")
    if version != RESULT_VERSION:
        raise _corrupt(
            f"{where}: part version {str(version)[:20]}, not {RESULT_VERSION}; the execute and store-results "
            "steps come from different releases: use one executor image and rerun the job"
        )
    if not isinstance(part.get("pub_results"), list):
        raise _corrupt(f"{where}: no pub_results list; the execute task wrote a broken part, rerun the job")


def _rows(entry: Mapping[str, Any], primitive: str, where: str) -> int:
    """How many binding rows a slice's data holds (every register/array must agree)."""
    data = entry.get("data")
    if not isinstance(data, Mapping):
        raise _corrupt(f"{where}: no data; the execute task wrote a broken part, rerun the job")
    if primitive == Primitive.ESTIMATOR.value:
        sizes = {len(data.get("evs") or []), len(data.get("stds") or [])}
    else:
        sizes = {len(register.get("counts") or []) for register in data.values()} or {entry["stop"] - entry["start"]}
    if len(sizes) != 1:
        raise _corrupt(f"{where}: its registers or arrays hold different numbers of rows; rerun the job")
    return sizes.pop()


def _slices_of(parts: Sequence[Mapping[str, Any]], request: ExecutionRequest) -> dict[int, list[Mapping[str, Any]]]:
    """Every slice, grouped by PUB and ordered by first row, checked to cover each PUB exactly."""
    by_pub: dict[int, list[Mapping[str, Any]]] = {i: [] for i in range(len(request.pubs))}
    for part in parts:
        for entry in part["pub_results"]:
            where = f"part {part['shard']}"
            if not isinstance(entry, Mapping):
                raise _corrupt(f"{where}: a pub_results entry is not an object; rerun the job")
            pub, start, stop = entry.get("pub"), entry.get("start"), entry.get("stop")
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (pub, start, stop)):
                raise _corrupt(f"{where}: a slice without integer pub/start/stop; rerun the job")
            assert isinstance(pub, int) and isinstance(start, int) and isinstance(stop, int)
            if pub not in by_pub:
                raise _corrupt(f"{where}: rows of PUB {pub}, but the job has {len(request.pubs)} PUBs; rerun the job")
            if not 0 <= start < stop:
                raise _corrupt(f"{where}: PUB {pub} rows {start}..{stop - 1} are not a range; rerun the job")
            if _rows(entry, request.primitive, where) != stop - start:
                raise _corrupt(f"{where}: PUB {pub} rows {start}..{stop - 1} hold a different number of rows")
            by_pub[pub].append(entry)
    for pub, entries in by_pub.items():
        entries.sort(key=lambda entry: entry["start"])
        expected = 0
        for entry in entries:
            if entry["start"] < expected:
                raise _corrupt(
                    f"parts: PUB {pub} rows {entry['start']}..{expected - 1} come from two parts (overlapping "
                    "slices); rerun the job"
                )
            if entry["start"] > expected:
                raise _corrupt(f"parts: PUB {pub} rows {expected}..{entry['start'] - 1} are in no part; rerun the job")
            expected = entry["stop"]
        total = request.pubs[pub].num_bindings
        if expected != total:
            if expected < total:
                raise _corrupt(f"parts: PUB {pub} rows {expected}..{total - 1} are in no part; rerun the job")
            raise _corrupt(f"parts: PUB {pub} has {total} bindings but the parts hold {expected} rows; rerun the job")
    return by_pub


def _merge_data(entries: Sequence[Mapping[str, Any]], primitive: str, pub: int) -> dict[str, Any]:
    if len(entries) == 1:
        return dict(entries[0]["data"])
    if primitive == Primitive.ESTIMATOR.value:
        evs: list[Any] = []
        stds: list[Any] = []
        for entry in entries:
            evs.extend(entry["data"]["evs"])
            stds.extend(entry["data"]["stds"])
        return {"evs": evs, "stds": stds}
    first = entries[0]["data"]
    merged: dict[str, Any] = {}
    for name, register in first.items():
        counts: list[Any] = []
        for entry in entries:
            other = entry["data"].get(name)
            if (
                not isinstance(other, Mapping)
                or other.get("num_bits") != register.get("num_bits")
                or set(entry["data"]) != set(first)
            ):
                raise _corrupt(f"parts: the slices of PUB {pub} have different classical registers; rerun the job")
            counts.extend(other["counts"])
        merged[name] = {"num_bits": register["num_bits"], "num_shots": register["num_shots"], "counts": counts}
    return merged


def _inline_rows(
    request: ExecutionRequest, pub: int, entries: Sequence[Mapping[str, Any]], bindings_dir: Path | None
) -> list[Any]:
    """The rows of a PUB whose values were inline in the spec: from the ``bindings`` directory
    (all of them: inline values are small), else as the parts carry them (``parameter_values``)."""
    if bindings_dir is not None:
        from qiskit_argo import sweeps

        values = sweeps.load_values(bindings_dir, pub, 0, request.pubs[pub].num_bindings)
        return [] if values is None else values.tolist()
    rows: list[Any] = []
    for entry in entries:
        rows.extend(entry.get("parameter_values") or [])
    return rows


def _pub_document(
    request: ExecutionRequest, pub: int, entries: Sequence[Mapping[str, Any]], bindings_dir: Path | None
) -> dict[str, Any]:
    spec = request.pubs[pub]
    document: dict[str, Any] = {"parameter_names": list(spec.parameter_names)}
    if spec.values is None:  # unparameterized: no rows, as in a bare run's PUB
        document["parameter_values"] = []
    elif (spec.values_from or {}).get("inline"):
        document["parameter_values"] = _inline_rows(request, pub, entries, bindings_dir)
    else:
        document["parameter_values_from"] = dict(spec.values_from or {})
    document["num_bindings"] = spec.num_bindings
    if request.primitive == Primitive.ESTIMATOR.value:
        ran = entries[0].get("precision") if entries else None  # IBM says what it ran a PUB at
        document["precision"] = spec.precision or (ran if isinstance(ran, int | float) else 0.0)
        document["observables"] = [dict(o.paulis) for o in spec.observables or []]
    else:
        document["shots"] = spec.shots if spec.shots is not None else 1024
    return document


def _transpiled_pubs(part: Mapping[str, Any]) -> list[int]:
    """The PUBs a part transpiled: as it says, or, for a part that says only ``transpiled`` (IBM's
    ISA circuits), every PUB it holds rows of."""
    meta = part.get("metadata") or {}
    listed = meta.get("transpiled_pubs")
    if isinstance(listed, list):
        return [int(pub) for pub in listed]
    return [int(entry["pub"]) for entry in part["pub_results"]] if meta.get("transpiled") else []


def merge_parts(
    parts: Sequence[Mapping[str, Any]],
    request: ExecutionRequest,
    *,
    backend: BackendStatus | None = None,
    bindings_dir: Path | None = None,
) -> dict[str, Any]:
    """The ``result.json`` document (module docstring) of every shard's part.

    Refuses (``CorruptResult``) a part whose ``version`` is not 3, a missing or extra shard
    (the parts' ids must be ``0-of-n`` .. ``n-1-of-n``, each once), a primitive that is not the
    request's, and rows of a PUB that overlap or are missing. ``backend`` (the schedule step's
    choice) names the backend; a cached part may come from another job with the same cache key.
    ``bindings_dir`` (the ``bindings`` artifact) gives the rows of PUBs whose values were inline.
    """
    if not parts:
        raise _corrupt("parts: none found; no execute task wrote its part, rerun the job")
    indexed: dict[int, Mapping[str, Any]] = {}
    counts: set[int] = set()
    for position, part in enumerate(parts):
        where = f"part {position}"
        _check_part(part, where)
        index, count = _shard_index(part.get("shard"), where)
        counts.add(count)
        if index in indexed:
            raise _corrupt(f"parts: shard {part['shard']} appears twice (an extra part); rerun the job")
        indexed[index] = part
        if part.get("primitive") != request.primitive:
            raise _corrupt(
                f"part {part['shard']}: primitive {str(part.get('primitive'))[:20]}, but the job runs the "
                f"{request.primitive}; rerun the job"
            )
    if len(counts) != 1:
        raise _corrupt(
            f"parts: shards of different runs ({', '.join(f'of {n}' for n in sorted(counts))}); rerun the job"
        )
    count = counts.pop()
    missing = [f"{i}-of-{count}" for i in range(count) if i not in indexed]
    if missing:
        raise _corrupt(
            f"parts: shard {', '.join(missing[:5])} missing (found {len(indexed)} of {count}); rerun the job"
        )
    ordered = [indexed[i] for i in range(count)]
    by_pub = _slices_of(ordered, request)
    first = ordered[0]
    ran_on = dict(first.get("backend") or {})
    backend_block = {
        **ran_on,
        "name": backend.name if backend is not None else ran_on.get("name"),
        "method": ran_on.get("method", (backend.method if backend is not None else None) or request.aer.method),
        "noise_model": ran_on.get("noise_model", request.aer.noise_model),
        "seed": ran_on.get("seed", request.aer.seed),
        "device": ran_on.get("device", "CPU"),
    }
    pubs = [_pub_document(request, i, by_pub[i], bindings_dir) for i in range(len(request.pubs))]
    pub_results = [
        {"data": _merge_data(by_pub[i], request.primitive, i), "metadata": dict(by_pub[i][0].get("metadata") or {})}
        for i in range(len(request.pubs))
    ]
    shards = [
        {
            "id": part["shard"],
            "seed": part.get("seed"),
            "slices": [[entry["pub"], entry["start"], entry["stop"]] for entry in part["pub_results"]],
        }
        for part in ordered
    ]
    metadata: dict[str, Any] = {key: value for key, value in (first.get("metadata") or {}).items()}
    transpiled_pubs = sorted({pub for part in ordered for pub in _transpiled_pubs(part)})
    levels = [
        (part.get("metadata") or {}).get("optimization_level")
        for part in ordered
        if (part.get("metadata") or {}).get("transpiled")
    ]
    metadata.update(
        {
            "version": RESULT_VERSION,
            "transpiled": any(bool((part.get("metadata") or {}).get("transpiled")) for part in ordered),
            "optimization_level": levels[0] if levels else None,
            "transpiled_pubs": transpiled_pubs,
        }
    )
    joined = {
        str(pub): entries[0]["joined_counts"]
        for pub, entries in by_pub.items()
        if entries and isinstance(entries[0].get("joined_counts"), Mapping)
    }
    if joined:
        metadata["joined_counts"] = joined
    else:
        metadata.pop("joined_counts", None)
    document: dict[str, Any] = {
        "primitive": request.primitive,
        "job": {"name": request.job_name, "namespace": request.namespace},
        "backend": backend_block,
        "pubs": pubs,
        "pub_results": pub_results,
        "shards": shards,
        "metadata": metadata,
    }
    ibm = [part["ibm"] for part in ordered if isinstance(part.get("ibm"), Mapping)]
    if ibm:
        document["ibm"] = dict(ibm[0])
    return document


def read_parts(
    parts_dir: Path | None,
    cached_parts_dir: Path | None,
    shard_ids: Sequence[str],
    *,
    cached: bool = False,
) -> tuple[list[dict[str, Any]], str]:
    """The parts of ``shard_ids`` (``<id>.json``), in order, and where they came from
    (``"cached-parts"`` or ``"parts"``): the cached directory when ``cached`` and it holds exactly
    those shards, else ``parts``. A missing part, an extra one or one that is not JSON: ``CorruptResult``."""

    def listing(folder: Path | None) -> dict[str, Path]:
        if folder is None or not folder.is_dir():
            return {}
        return {path.name[: -len(".json")]: path for path in folder.iterdir() if path.name.endswith(".json")}

    expected = list(shard_ids)
    found, source = listing(parts_dir), "parts"
    if cached:
        in_cache = listing(cached_parts_dir)
        if in_cache and set(in_cache) == set(expected):
            found, source = in_cache, "cached-parts"
    missing = [shard for shard in expected if shard not in found]
    if missing:
        raise _corrupt(
            f"{source}: the part of shard {', '.join(missing[:5])} is missing (found {len(found)} of "
            f"{len(expected)}); an execute task did not write it, rerun the job"
        )
    extra = sorted(set(found) - set(expected))
    if extra:
        raise _corrupt(
            f"{source}: an extra part {', '.join(one_line(name, 40) for name in extra[:5])}.json that no shard of "
            f"this run ({len(expected)}) wrote; rerun the job"
        )
    parts: list[dict[str, Any]] = []
    for shard in expected:
        path = found[shard]
        try:
            part = json.loads(path.read_bytes())
        except (OSError, ValueError, UnicodeDecodeError):
            raise _corrupt(
                f"{source}/{shard}.json: not JSON; the execute task wrote a broken part, rerun the job"
            ) from None
        _check_part(part, f"{source}/{shard}.json")
        if part.get("shard") != shard:
            raise _corrupt(f"{source}/{shard}.json holds shard {str(part.get('shard'))[:20]}; rerun the job")
        parts.append(part)
    return parts, source


# --------------------------------------------------------------------------- pure: summary


def _top(counts: Mapping[str, int], keep: int) -> dict[str, int]:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return dict(ranked[:keep])


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else math.nan


def _pub_summary(document: Mapping[str, Any], index: int) -> PubSummary:
    spec = document["pubs"][index]
    data = document["pub_results"][index]["data"]
    num_bindings = int(spec["num_bindings"])
    if document["primitive"] == Primitive.ESTIMATOR.value:
        evs = [_number(v) for row in data.get("evs") or [] for v in row]
        stds = [_number(v) for row in data.get("stds") or [] for v in row]
        return PubSummary(
            index=index,
            num_bindings=num_bindings,
            expectation_values=evs[:MAX_SUMMARY_VALUES],
            standard_errors=stds[:MAX_SUMMARY_VALUES],
            truncated=len(evs) > MAX_SUMMARY_VALUES,
        )
    joined = (document.get("metadata") or {}).get("joined_counts") or {}
    if str(index) in joined:
        first = joined[str(index)]
    elif data:
        counts = next(iter(data.values()))["counts"]
        first = counts[0] if counts else {}
    else:
        first = {}
    return PubSummary(
        index=index,
        num_bindings=num_bindings,
        shots=spec.get("shots"),
        top_counts=_top(first, TOP_COUNTS),
        truncated=len(first) > TOP_COUNTS or num_bindings > 1,
    )


def summarize_document(document: Mapping[str, Any]) -> ResultSummary:
    """The bounded digest for the job's status: PUB 0 at the top (top counts of its first binding,
    or its first expectation values), ``numBindings`` over all PUBs, one ``PubSummary`` per PUB
    (the first ``MAX_SUMMARY_PUBS``); ``truncated`` when anything was left out."""
    count = len(document["pubs"])
    pubs = [_pub_summary(document, i) for i in range(min(count, MAX_SUMMARY_PUBS))]
    first = pubs[0]
    total = sum(int(pub["num_bindings"]) for pub in document["pubs"])
    truncated = any(pub.truncated for pub in pubs) or count > MAX_SUMMARY_PUBS
    return ResultSummary(
        primitive=document["primitive"],
        num_pubs=count,
        num_bindings=total,
        shots=first.shots,
        top_counts=first.top_counts,
        expectation_values=first.expectation_values,
        standard_errors=first.standard_errors,
        truncated=truncated,
        pubs=pubs,
    )


# --------------------------------------------------------------------------- pure: documents


def _pub_facts(document: Mapping[str, Any], index: int) -> dict[str, Any]:
    spec = document["pubs"][index]
    facts: dict[str, Any] = {
        "index": index,
        "numBindings": spec["num_bindings"],
        "parameterNames": list(spec.get("parameter_names", [])),
    }
    source = spec.get("parameter_values_from")
    if isinstance(source, Mapping):
        facts["parameterValuesFrom"] = dict(source)
    if document["primitive"] == Primitive.ESTIMATOR.value:
        facts["precision"] = spec.get("precision")
        facts["numObservables"] = len(spec.get("observables") or [])
    else:
        facts["shots"] = spec.get("shots")
    transpiled = (document.get("metadata") or {}).get("transpiled_pubs")
    if isinstance(transpiled, list):
        facts["transpiled"] = index in transpiled
    return facts


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
    cache_key: str | None = None,
    parts_from: str | None = None,
) -> dict[str, Any]:
    """``results/metrics.json``: what ran, where, what came out, and the facts of the run (per
    PUB, per shard with its seed)."""
    meta = result.get("metadata", {})
    pubs = result.get("pubs") or []
    ran_on = result.get("backend") or {}
    first = pubs[0] if pubs else {}
    run: dict[str, Any] = {
        "numPubs": len(pubs),
        "numBindings": sum(int(pub.get("num_bindings", 1)) for pub in pubs) or 1,
        "parameterNames": list(first.get("parameter_names", [])),
        "optimizationLevel": request.optimization_level,
        "transpiled": meta.get("transpiled"),
        "transpiledOptimizationLevel": meta.get("optimization_level"),
        "seed": request.aer.seed,
        "noiseModel": request.aer.noise_model,
        "device": "GPU" if ran_on.get("device") == "GPU" else None,
        "qiskitVersion": meta.get("qiskit_version"),
        "qiskitAerVersion": meta.get("qiskit_aer_version"),
    }
    if result["primitive"] == Primitive.ESTIMATOR.value:
        run["precision"] = first.get("precision", 0.0)
        run["numObservables"] = len(first.get("observables") or [])
    else:
        run["shots"] = first.get("shots")
    if len(pubs) > 1 or any(isinstance(pub.get("parameter_values_from"), Mapping) for pub in pubs):
        run["pubs"] = [_pub_facts(result, i) for i in range(len(pubs))]
    shards = result.get("shards") or []
    if shards:
        run["shards"] = [{"id": s["id"], "seed": s.get("seed"), "slices": s.get("slices", [])} for s in shards]
    if cache_key:
        run["cache"] = {"key": cache_key, "partsFrom": parts_from}
    ibm = result.get("ibm")
    if isinstance(ibm, dict):  # ran on IBM Quantum (or its local testing mode): ibm-wait's part
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
        "primitive": result["primitive"],
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


def _sampler_title(document: dict[str, Any], pub: int, register: str, shown: int) -> str:
    total = document["pubs"][pub]["num_bindings"]
    what = f"bindings 1-{shown} of {total}" if total > 1 else "counts"
    registers = len(document["pub_results"][pub]["data"])
    where = f", register {register}" + (f" (1 of {registers})" if registers > 1 else "")
    head = document["job"]["name"] if len(document["pubs"]) == 1 else f"PUB {pub}"
    return f"{head}: {what}{where}"


def _histogram_options(counts: list[dict[str, int]], labels: list[str]) -> dict[str, Any]:
    distinct = len(set().union(*counts))
    keep = HISTOGRAM_KEYS if distinct > HISTOGRAM_KEYS else None
    return {
        "legend": labels if len(counts) > 1 else None,
        "number_to_keep": keep,
        "sort": "value_desc" if keep else "asc",
        "bar_labels": len(counts) == 1 and distinct <= 16,
    }


def _width(counts: list[dict[str, int]]) -> float:
    distinct = len(set().union(*counts)) if counts else 1
    return max(6.0, min(14.0, 0.45 * min(distinct, HISTOGRAM_KEYS) * len(counts) + 3))


def _empty_panel(axis: Axes, text: str) -> None:
    axis.text(0.5, 0.5, text, ha="center", va="center")
    axis.set_axis_off()


def _more_pubs_note(figure: Figure, document: dict[str, Any]) -> None:
    count = len(document["pubs"])
    name = document["job"]["name"]
    if count > HISTOGRAM_PUBS:
        figure.suptitle(f"{name}: the first {HISTOGRAM_PUBS} of {count} PUBs (all are in result.json)")
    else:
        figure.suptitle(f"{name}: {count} PUBs")


def _panels(document: dict[str, Any], height: float, width: float) -> tuple[Figure, list[Axes]]:
    plt = _pyplot()
    shown = min(len(document["pubs"]), HISTOGRAM_PUBS)
    figure, axes = plt.subplots(shown, 1, figsize=(width, height * shown + 0.6), squeeze=False)
    return figure, [row[0] for row in axes]


def histogram_figure(document: dict[str, Any]) -> Figure:
    """The sampler histogram: ``plot_histogram`` of the first bindings' counts, one panel per PUB."""
    plt = _pyplot()
    from qiskit.visualization import plot_histogram

    if len(document["pubs"]) == 1:
        register, counts, labels = histogram_series(document)
        if not counts:
            figure, axis = plt.subplots(figsize=(6, 3))
            _empty_panel(axis, "no classical registers, no counts")
            return figure
        figure = plot_histogram(
            counts if len(counts) > 1 else counts[0],
            title=_sampler_title(document, 0, register, len(counts)),
            figsize=(_width(counts), 4.5),
            **_histogram_options(counts, labels),
        )
        return figure
    series = [histogram_series(document, i) for i in range(min(len(document["pubs"]), HISTOGRAM_PUBS))]
    figure, axes = _panels(
        document,
        4.0,
        max(_width(counts) for _, counts, _ in series if counts) if any(counts for _, counts, _ in series) else 6.0,
    )
    for pub, (axis, (register, counts, labels)) in enumerate(zip(axes, series, strict=True)):
        if not counts:
            _empty_panel(axis, f"PUB {pub}: no classical registers, no counts")
            continue
        plot_histogram(counts if len(counts) > 1 else counts[0], ax=axis, **_histogram_options(counts, labels))
        axis.set_title(_sampler_title(document, pub, register, len(counts)))
    _more_pubs_note(figure, document)
    figure.tight_layout()
    return figure


def _estimator_panel(axis: Axes, document: dict[str, Any], pub: int) -> None:
    """Expectation values of PUB ``pub`` on ``axis``: bars for one binding, lines for a sweep."""
    labels, evs, stds = estimator_series(document, pub)
    head = document["job"]["name"] if len(document["pubs"]) == 1 else f"PUB {pub}"
    if len(evs) <= 1:
        values = [v if v is not None else float("nan") for v in (evs[0] if evs else [])]
        errors = [s if s is not None else 0.0 for s in (stds[0] if stds else [])]
        positions = list(range(len(values)))
        axis.bar(positions, values, yerr=errors, capsize=4, color="#6929c4")
        axis.set_xticks(
            positions, labels, rotation=30 if len(values) > 4 else 0, ha="right" if len(values) > 4 else "center"
        )
        axis.axhline(0.0, color="black", linewidth=0.8)
        axis.set_ylabel("expectation value")
    else:
        spec = document["pubs"][pub]
        names, rows = spec["parameter_names"], spec.get("parameter_values") or []
        if len(names) == 1 and len(rows) == len(evs):
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
            axis.set_title(f"{head}: first {_MAX_LINES} of {len(labels)} observables")
    if not axis.get_title():
        axis.set_title(f"{head}: expectation values ± standard error")


def estimator_figure(document: dict[str, Any]) -> Figure:
    """Expectation values with standard-error bars: bars for one binding, lines for a sweep; one
    panel per PUB."""
    plt = _pyplot()
    if len(document["pubs"]) == 1:
        _, evs, _ = estimator_series(document)
        if len(evs) <= 1:
            size = (max(5.0, 0.9 * len(evs[0] if evs else []) + 2), 4.0)
        else:
            size = (8.0, 4.5)
        figure, axis = plt.subplots(figsize=size)
        _estimator_panel(axis, document, 0)
        figure.tight_layout()
        return figure
    figure, axes = _panels(document, 3.5, 8.0)
    for pub, axis in enumerate(axes):
        _estimator_panel(axis, document, pub)
    _more_pubs_note(figure, document)
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


def _shard_ids(shards_json: str) -> list[str]:
    try:
        shards = json.loads(shards_json)
    except json.JSONDecodeError:
        shards = None
    if not isinstance(shards, list) or not shards or not all(isinstance(s, str) for s in shards):
        raise InvalidJobError(
            'shards parameter: not a JSON list of shard ids; the schedule step writes shards.json (e.g. ["0-of-1"])'
        )
    return shards


def run_step(
    request_file: Path,
    bindings_dir: Path | None,
    metrics_json: str,
    backend_json: str,
    shards_json: str,
    cache_key: str | None,
    parts_dir: Path | None,
    cached_parts_dir: Path | None,
    out_dir: Path,
) -> dict[str, Any]:
    """The store-results step: merge the parts, write ``out_dir/results/`` (result, metrics,
    histogram), ``out_dir/summary.json`` and ``out_dir/checksum.json``; returns the document."""
    from qiskit_argo.steps._contract import NO_CACHE_KEY

    request = load_request(request_file)
    metrics = parse_parameter(CircuitMetrics, metrics_json, "metrics")
    backend = parse_parameter(BackendStatus, backend_json, "backend")
    shard_ids = _shard_ids(shards_json)
    key = cache_key if cache_key and cache_key != NO_CACHE_KEY else None
    parts, source = read_parts(parts_dir, cached_parts_dir, shard_ids, cached=key is not None)
    document = merge_parts(parts, request, backend=backend, bindings_dir=bindings_dir)
    summary = summarize_document(document)

    results = out_dir / RESULTS_DIR
    results.mkdir(parents=True, exist_ok=True)
    # json.dumps (not json.dump) so the C encoder does the work: 10x faster on big sweeps.
    try:
        raw = json.dumps(document, separators=(",", ":"), allow_nan=False).encode()
    except ValueError:
        raise _corrupt("parts: a value is not a finite number; the execute task wrote a broken part") from None
    (results / "result.json").write_bytes(raw)
    # The checksum of the file as it lies in results/ (what Argo uploads), not of what was meant.
    checksum = checksum_document((results / "result.json").read_bytes())
    if checksum["size"] != len(raw):
        raise PermanentError(
            f"results/result.json has {checksum['size']} bytes, the merged result {len(raw)}; "
            "the write was cut short (disk full?)",
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
        cache_key=key,
        parts_from=source,
    )
    (results / "metrics.json").write_text(json.dumps(facts, indent=2))
    (out_dir / "summary.json").write_text(json.dumps(summary.dump()))
    (out_dir / CHECKSUM_FILE).write_text(json.dumps(checksum, sort_keys=True))
    return document
