"""The store-results step: merging the parts, results/ (result, metrics, histogram) and the status summary."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from qiskit_argo import results, sweeps
from qiskit_argo.api import AerOptions, BackendStatus, CircuitMetrics, Observable, ResultSummary
from qiskit_argo.errors import InvalidJobError, PermanentError
from qiskit_argo.request import ExecutionRequest, PubRequest

PNG = b"\x89PNG\r\n\x1a\n"
BACKEND = BackendStatus(name="aer", method="automatic", reason="spec.backend.aer.method=automatic: test")
METRICS = CircuitMetrics(num_qubits=2, num_clbits=2, depth=3, size=4, count_ops={"h": 1, "cx": 1, "measure": 2})


def _sampler_document(bindings: int, names: list[str], registers: int = 1, outcomes: int = 2) -> dict[str, Any]:
    rows = [[0.1 * b] * len(names) for b in range(bindings)] if names else []
    keys = [format(i, "06b") for i in range(outcomes)]
    counts = [{key: 10 + b + i for i, key in enumerate(keys)} for b in range(max(bindings, 1))]
    data = {f"c{r}": {"num_bits": 6, "num_shots": sum(counts[0].values()), "counts": counts} for r in range(registers)}
    return {
        "primitive": "sampler",
        "job": {"name": "demo", "namespace": "default"},
        "backend": {"name": "aer", "method": "automatic", "noise_model": None, "seed": 1, "device": "CPU"},
        "pubs": [{"parameter_names": names, "parameter_values": rows, "num_bindings": max(bindings, 1), "shots": 100}],
        "pub_results": [{"data": data, "metadata": {"shots": 100}}],
        "shards": [{"id": "0-of-1", "seed": 1, "slices": [[0, 0, max(bindings, 1)]]}],
        "metadata": {"version": 3, "transpiled": False, "optimization_level": None, "qiskit_version": "2"},
    }


def _estimator_document(bindings: int, observables: int) -> dict[str, Any]:
    names = ["theta"] if bindings > 1 else []
    rows = [[0.1 * b] for b in range(bindings)] if bindings > 1 else []
    evs = [[(b - o) / 10 for o in range(observables)] for b in range(bindings)]
    return {
        "primitive": "estimator",
        "job": {"name": "est", "namespace": "default"},
        "backend": {"name": "aer", "method": "automatic", "noise_model": None, "seed": 1, "device": "CPU"},
        "pubs": [
            {
                "parameter_names": names,
                "parameter_values": rows,
                "num_bindings": bindings,
                "precision": 0.01,
                "observables": [{"Z" * 2: 1.0, "XX": 0.5} if o % 2 else {"ZI": 1.0} for o in range(observables)],
            }
        ],
        "pub_results": [{"data": {"evs": evs, "stds": [[0.01] * observables] * bindings}, "metadata": {}}],
        "shards": [{"id": "0-of-1", "seed": 1, "slices": [[0, 0, bindings]]}],
        "metadata": {"version": 3, "transpiled": True, "optimization_level": 1},
    }


def _multi_document(pubs: int) -> dict[str, Any]:
    one = _sampler_document(3, ["theta"])
    document = copy.deepcopy(one)
    document["pubs"] = [copy.deepcopy(one["pubs"][0]) for _ in range(pubs)]
    document["pub_results"] = [copy.deepcopy(one["pub_results"][0]) for _ in range(pubs)]
    return document


# --------------------------------------------------------------------------- series


@pytest.mark.parametrize(
    ("names", "values", "index", "label"),
    [
        (["theta"], [[0.5], [1.25]], 1, "theta=1.25"),
        (["a", "b"], [[0.5, 2.0]], 0, "a=0.5, b=2"),
        (["a", "b", "c"], [[1, 2, 3]], 0, "binding 0"),
        ([], [], 0, "binding 0"),
    ],
)
def test_binding_label(names: list[str], values: list[list[float]], index: int, label: str) -> None:
    assert results.binding_label(names, values, index) == label


@pytest.mark.parametrize(("bindings", "shown"), [(0, 1), (1, 1), (3, 3), (50, results.HISTOGRAM_BINDINGS)])
def test_histogram_series_shows_the_first_bindings(bindings: int, shown: int) -> None:
    register, counts, labels = results.histogram_series(_sampler_document(bindings, ["theta"] if bindings else []))
    assert register == "c0" and len(counts) == len(labels) == shown
    if bindings > 1:
        assert labels[1] == "theta=0.1"


def test_histogram_series_of_values_from_a_file_labels_by_index() -> None:
    document = _sampler_document(3, ["theta"])
    pub = document["pubs"][0]
    del pub["parameter_values"]
    pub["parameter_values_from"] = {"artifact": {"key": "sweeps/a.npy"}, "sha256": "ab"}
    _, _, labels = results.histogram_series(document)
    assert labels == ["binding 0", "binding 1", "binding 2"]


def test_estimator_series() -> None:
    labels, evs, stds = results.estimator_series(_estimator_document(3, 2))
    assert labels == ["ZI", "ZZ + 0.5·XX"] and len(evs) == len(stds) == 3


# --------------------------------------------------------------------------- merging parts


def _request(sizes: list[int], primitive: str = "sampler", *, inline: bool = True) -> ExecutionRequest:
    pubs = []
    for i, size in enumerate(sizes):
        pub: dict[str, Any] = {"circuit": i, "num_bindings": size}
        if size > 1:
            source = {"inline": True} if inline else {"artifact": {"key": f"sweep-{i}.npy"}, "sha256": f"{i:064x}"}
            pub.update(parameter_names=["theta"], values=f"pub-{i}.npy", values_from=source)
        if primitive == "sampler":
            pub["shots"] = 10
        else:
            pub.update(precision=0.1, observables=[Observable(paulis={"Z": 1.0})])
        pubs.append(PubRequest(**pub))
    return ExecutionRequest(job_name="demo", primitive=primitive, pubs=pubs, aer=AerOptions(seed=3))


def _entry(pub: int, start: int, stop: int, primitive: str = "sampler") -> dict[str, Any]:
    rows = list(range(start, stop))
    if primitive == "sampler":
        data: dict[str, Any] = {
            "c": {
                "num_bits": 1,
                "num_shots": 10,
                "counts": [{k: v for k, v in {"0": 10 - r, "1": r}.items() if v} for r in rows],
            }
        }
    else:
        data = {"evs": [[r / 10] for r in rows], "stds": [[0.1] for _ in rows]}
    return {
        "pub": pub,
        "start": start,
        "stop": stop,
        "data": data,
        "metadata": {"shots": 10, "slice": [start, stop]},
        "parameter_values": [[float(r)] for r in rows],
    }


def _part(shard: str, slices: list[tuple[int, int, int]], primitive: str = "sampler") -> dict[str, Any]:
    return {
        "version": 3,
        "shard": shard,
        "seed": int(shard.split("-")[0]) + 100,
        "primitive": primitive,
        "job": {"name": "an-earlier-job", "namespace": "default"},
        "backend": {"name": "aer", "method": "statevector", "noise_model": None, "seed": 3, "device": "CPU"},
        "pub_results": [_entry(*piece, primitive=primitive) for piece in slices],
        "metadata": {"version": 2, "transpiled": False, "optimization_level": None, "transpiled_pubs": [], "q": 1},
    }


#: Three PUBs of 5, 1 and 4 bindings in three shards (sizes 4, 3, 3), as sharding.plan cuts them.
PLAN = [[(0, 0, 4)], [(0, 4, 5), (1, 0, 1), (2, 0, 1)], [(2, 1, 4)]]


def _parts(plan: list[list[tuple[int, int, int]]] = PLAN, primitive: str = "sampler") -> list[dict[str, Any]]:
    return [_part(f"{i}-of-{len(plan)}", slices, primitive) for i, slices in enumerate(plan)]


@pytest.mark.parametrize("primitive", ["sampler", "estimator"])
def test_merge_concatenates_each_pubs_rows_in_order(primitive: str) -> None:
    request = _request([5, 1, 4], primitive)
    document = results.merge_parts(list(reversed(_parts(primitive=primitive))), request, backend=BACKEND)
    assert document["job"] == {"name": "demo", "namespace": "default"}  # the request's, not the part's
    assert document["backend"] == {
        "name": "aer",
        "method": "statevector",
        "noise_model": None,
        "seed": 3,
        "device": "CPU",
    }
    assert document["metadata"]["version"] == 3 and document["metadata"]["q"] == 1
    assert [s["id"] for s in document["shards"]] == ["0-of-3", "1-of-3", "2-of-3"]
    assert document["shards"][1] == {"id": "1-of-3", "seed": 101, "slices": [[0, 4, 5], [1, 0, 1], [2, 0, 1]]}
    for pub, size in enumerate([5, 1, 4]):
        data = document["pub_results"][pub]["data"]
        if primitive == "sampler":
            assert [c.get("1", 0) for c in data["c"]["counts"]] == list(range(size))
            assert document["pubs"][pub]["shots"] == 10
        else:
            assert data["evs"] == [[r / 10] for r in range(size)] and len(data["stds"]) == size
            assert document["pubs"][pub]["observables"] == [{"Z": 1.0}]
        assert document["pub_results"][pub]["metadata"]["slice"][0] == 0  # the first slice's metadata
        assert document["pubs"][pub]["num_bindings"] == size
    assert document["pubs"][0]["parameter_values"] == [[float(r)] for r in range(5)]
    assert document["pubs"][1]["parameter_values"] == []


def test_merge_names_where_values_from_a_file_came_from() -> None:
    request = _request([5, 1, 4], inline=False)
    document = results.merge_parts(_parts(), request)
    assert "parameter_values" not in document["pubs"][0]
    assert document["pubs"][0]["parameter_values_from"] == {"artifact": {"key": "sweep-0.npy"}, "sha256": f"{0:064x}"}
    assert document["pubs"][1]["parameter_values"] == []  # unparameterized: as today


def _drop_part(parts: list[dict[str, Any]]) -> None:
    del parts[1]


def _twice(parts: list[dict[str, Any]]) -> None:
    parts.append(copy.deepcopy(parts[0]))


def _overlap(parts: list[dict[str, Any]]) -> None:
    parts[2]["pub_results"][0] = _entry(2, 0, 4)


def _gap(parts: list[dict[str, Any]]) -> None:
    parts[2]["pub_results"][0] = _entry(2, 2, 4)


def _short(parts: list[dict[str, Any]]) -> None:
    parts[2]["pub_results"][0] = _entry(2, 1, 3)


def _extra_rows(parts: list[dict[str, Any]]) -> None:
    parts[2]["pub_results"][0] = _entry(2, 1, 6)


def _old(parts: list[dict[str, Any]]) -> None:
    parts[0]["version"] = 2


def _other_count(parts: list[dict[str, Any]]) -> None:
    parts[2]["shard"] = "2-of-4"


def _wrong_rows(parts: list[dict[str, Any]]) -> None:
    parts[0]["pub_results"][0]["data"]["c"]["counts"].pop()


def _unknown_pub(parts: list[dict[str, Any]]) -> None:
    parts[0]["pub_results"].append(_entry(7, 0, 1))


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (_drop_part, "shard 1-of-3 missing"),
        (_twice, "shard 0-of-3 appears twice"),
        (_overlap, "PUB 2 rows 0..0 come from two parts"),
        (_gap, "PUB 2 rows 1..1 are in no part"),
        (_short, "PUB 2 rows 3..3 are in no part"),
        (_extra_rows, "PUB 2 has 4 bindings but the parts hold 6 rows"),
        (_old, "part version 2, not 3"),
        (_other_count, "shards of different runs"),
        (_wrong_rows, "hold a different number of rows"),
        (_unknown_pub, "rows of PUB 7, but the job has 3 PUBs"),
    ],
    ids=lambda value: value.__name__.strip("_") if callable(value) else None,
)
def test_merge_refuses_parts_that_do_not_add_up(change: Callable[[list[dict[str, Any]]], None], needle: str) -> None:
    parts = _parts()
    change(parts)
    with pytest.raises(PermanentError) as caught:
        results.merge_parts(parts, _request([5, 1, 4]))
    message = str(caught.value)
    assert caught.value.reason == "CorruptResult" and needle in message and "\n" not in message, message


def _write_parts(folder: Path, parts: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for part in parts:
        (folder / f"{part['shard']}.json").write_text(json.dumps(part))
    return folder


def test_read_parts_prefers_a_full_cache_and_falls_back_to_the_run(tmp_path: Path) -> None:
    ids = ["0-of-3", "1-of-3", "2-of-3"]
    run = _write_parts(tmp_path / "parts", _parts())
    cached = _write_parts(tmp_path / "cached", _parts())
    assert results.read_parts(run, cached, ids, cached=True)[1] == "cached-parts"
    assert results.read_parts(run, cached, ids, cached=False)[1] == "parts"
    (cached / "2-of-3.json").unlink()
    parts, source = results.read_parts(run, cached, ids, cached=True)
    assert source == "parts" and [p["shard"] for p in parts] == ids
    assert results.read_parts(run, tmp_path / "absent", ids, cached=True)[1] == "parts"


@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        (lambda d: (d / "1-of-3.json").unlink(), "parts: the part of shard 1-of-3 is missing (found 2 of 3)"),
        (lambda d: (d / "3-of-4.json").write_text("{}"), "parts: an extra part 3-of-4.json"),
        (lambda d: (d / "2-of-3.json").write_text("{not json"), "parts/2-of-3.json: not JSON"),
        (lambda d: (d / "2-of-3.json").write_text(json.dumps(_part("1-of-3", []))), "holds shard 1-of-3"),
    ],
    ids=["missing", "extra", "not-json", "renamed"],
)
def test_read_parts_refuses_in_one_line(tmp_path: Path, setup: Callable[[Path], Any], needle: str) -> None:
    folder = _write_parts(tmp_path / "parts", _parts())
    setup(folder)
    with pytest.raises(PermanentError) as caught:
        results.read_parts(folder, None, ["0-of-3", "1-of-3", "2-of-3"])
    assert caught.value.reason == "CorruptResult" and needle in str(caught.value) and "\n" not in str(caught.value)


# --------------------------------------------------------------------------- summary


def test_summary_has_pub_0_on_top_and_every_pub() -> None:
    document = results.merge_parts(_parts(), _request([5, 1, 4]))
    summary = results.summarize_document(document)
    assert summary.num_pubs == 3 and summary.num_bindings == 10 and summary.shots == 10
    assert summary.top_counts == {"0": 10} and summary.truncated  # PUB 0 is a sweep
    assert [(p.index, p.num_bindings, p.top_counts) for p in summary.pubs] == [
        (0, 5, {"0": 10}),
        (1, 1, {"0": 10}),
        (2, 4, {"0": 10}),
    ]
    assert [p.truncated for p in summary.pubs] == [True, False, True]


def test_summary_of_many_pubs_keeps_the_first_sixteen() -> None:
    summary = results.summarize_document(_multi_document(20))
    assert summary.num_pubs == 20 and len(summary.pubs) == 16 and summary.truncated
    assert summary.num_bindings == 60


def test_estimator_summary_per_pub() -> None:
    document = results.merge_parts(_parts(primitive="estimator"), _request([5, 1, 4], "estimator"))
    summary = results.summarize_document(document)
    assert summary.expectation_values == [0.0, 0.1, 0.2, 0.3, 0.4] and summary.shots is None
    assert summary.pubs[2].expectation_values == [0.0, 0.1, 0.2, 0.3] and not summary.truncated


# --------------------------------------------------------------------------- documents


def test_metrics_document() -> None:
    document = _sampler_document(1, [])
    request = _request([1])
    summary = ResultSummary(primitive="sampler", num_pubs=1, shots=100, top_counts={"000000": 10})
    facts = results.metrics_document(
        request=request,
        metrics=METRICS,
        backend=BACKEND,
        summary=summary,
        result=document,
        result_bytes=123,
        result_sha256="ab",
        stored_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    assert facts["circuit"]["numQubits"] == 2 and facts["backend"]["reason"].startswith("spec.backend")
    assert facts["summary"]["topCounts"] == {"000000": 10}
    assert facts["run"] == {
        "numPubs": 1,
        "numBindings": 1,
        "parameterNames": [],
        "optimizationLevel": 1,
        "transpiled": False,
        "seed": 3,
        "qiskitVersion": "2",
        "shots": 100,
        "shards": [{"id": "0-of-1", "seed": 1, "slices": [[0, 0, 1]]}],
    }
    assert facts["files"]["result"] == {"path": "result.json", "bytes": 123, "sha256": "ab"}
    assert facts["storedAt"] == "2026-01-02T03:04:05Z"


def test_metrics_document_of_pubs_and_shards() -> None:
    request = _request([5, 1, 4], inline=False)
    document = results.merge_parts(_parts(), request)
    facts = results.metrics_document(
        request=request,
        metrics=METRICS,
        backend=BACKEND,
        summary=results.summarize_document(document),
        result=document,
        result_bytes=1,
        result_sha256="ab",
        stored_at=datetime(2026, 1, 2, tzinfo=UTC),
        cache_key="f" * 64,
        parts_from="cached-parts",
    )
    run = facts["run"]
    assert run["numPubs"] == 3 and run["numBindings"] == 10
    assert [p["numBindings"] for p in run["pubs"]] == [5, 1, 4]
    assert run["pubs"][0]["parameterValuesFrom"]["artifact"] == {"key": "sweep-0.npy"}
    assert [(s["id"], s["seed"]) for s in run["shards"]] == [("0-of-3", 100), ("1-of-3", 101), ("2-of-3", 102)]
    assert run["cache"] == {"key": "f" * 64, "partsFrom": "cached-parts"}


# --------------------------------------------------------------------------- the step


def _step(tmp_path: Path, parts: list[dict[str, Any]], request: ExecutionRequest, **options: Any) -> Path:
    request_file = tmp_path / "request.json"
    request_file.write_text(json.dumps(request.dump()))
    out = tmp_path / "out"
    results.run_step(
        request_file,
        options.get("bindings"),
        json.dumps(METRICS.dump()),
        json.dumps(BACKEND.dump()),
        json.dumps(options.get("shards") or [part["shard"] for part in parts]),
        options.get("cache_key", "none"),
        _write_parts(tmp_path / "parts", parts),
        options.get("cached_parts"),
        out,
    )
    return out


def _single(document: dict[str, Any], bindings: Path) -> tuple[list[dict[str, Any]], ExecutionRequest]:
    """The one part of a single-PUB run that gives ``document``, and its request (its inline
    values in ``bindings``, as validate writes them)."""
    primitive = document["primitive"]
    pub = document["pubs"][0]
    entry = {"pub": 0, "start": 0, "stop": pub["num_bindings"], **document["pub_results"][0]}
    sweeps.write_bindings(bindings, [pub["parameter_values"] or None])
    part = {
        "version": 3,
        "shard": "0-of-1",
        "seed": 1,
        "primitive": primitive,
        "job": document["job"],
        "backend": document["backend"],
        "pub_results": [entry],
        "metadata": document["metadata"],
    }
    fields: dict[str, Any] = {
        "circuit": 0,
        "num_bindings": pub["num_bindings"],
        "parameter_names": pub["parameter_names"],
    }
    if pub["parameter_values"]:
        fields.update(values="pub-0.npy", values_from={"inline": True})
    if primitive == "sampler":
        fields["shots"] = pub["shots"]
    else:
        fields.update(precision=pub["precision"], observables=[Observable(paulis=o) for o in pub["observables"]])
    request = ExecutionRequest(
        job_name=document["job"]["name"], primitive=primitive, pubs=[PubRequest(**fields)], aer=AerOptions(seed=1)
    )
    return [part], request


@pytest.mark.parametrize(
    "document",
    [
        _sampler_document(1, []),
        _sampler_document(8, ["theta"]),
        _sampler_document(1, [], registers=2, outcomes=40),  # many outcomes: top ones and "rest"
        _estimator_document(1, 3),
        _estimator_document(12, 10),  # a sweep of many observables: lines, first 8
    ],
    ids=["sampler", "sampler-sweep", "sampler-wide", "estimator", "estimator-sweep"],
)
def test_run_step_writes_the_results_directory(tmp_path: Path, document: dict[str, Any]) -> None:
    parts, request = _single(document, tmp_path / "bindings")
    out = _step(tmp_path, parts, request, bindings=tmp_path / "bindings")
    folder = out / results.RESULTS_DIR
    assert sorted(p.name for p in folder.iterdir()) == ["histogram.png", "metrics.json", "result.json"]
    assert (folder / "histogram.png").read_bytes().startswith(PNG)
    raw = (folder / "result.json").read_bytes()
    merged = json.loads(raw)
    assert merged["pubs"] == document["pubs"] and merged["pub_results"] == document["pub_results"]
    facts = json.loads((folder / "metrics.json").read_text())
    assert facts["files"]["result"]["sha256"] == hashlib.sha256(raw).hexdigest()
    assert json.loads((out / results.CHECKSUM_FILE).read_text()) == {
        "sha256": facts["files"]["result"]["sha256"],
        "size": len(raw),
    }
    assert facts["primitive"] == document["primitive"] and facts["backend"]["name"] == "aer"
    summary = ResultSummary.model_validate_json((out / "summary.json").read_text())
    assert summary == results.summarize_document(merged) and facts["summary"] == summary.dump()


@pytest.mark.parametrize(("pubs", "note"), [(3, False), (11, True)])
def test_the_histogram_has_a_panel_per_pub(tmp_path: Path, pubs: int, note: bool) -> None:
    document = _multi_document(pubs)
    figure = results.histogram_figure(document)
    try:
        assert len(figure.axes) == min(pubs, results.HISTOGRAM_PUBS)
        assert figure.axes[1].get_title().startswith("PUB 1: bindings 1-3 of 3")
        title = figure.get_suptitle()
        assert (f"the first 8 of {pubs} PUBs" in title) is note
    finally:
        import matplotlib.pyplot as plt

        plt.close(figure)
    results.render_figure(document, tmp_path / "h.png")
    assert (tmp_path / "h.png").read_bytes().startswith(PNG)


def test_the_estimator_figure_has_a_panel_per_pub(tmp_path: Path) -> None:
    document = results.merge_parts(_parts(primitive="estimator"), _request([5, 1, 4], "estimator"))
    figure = results.estimator_figure(document)
    try:
        assert [axis.get_title() for axis in figure.axes] == [
            f"PUB {i}: expectation values ± standard error" for i in range(3)
        ]
    finally:
        import matplotlib.pyplot as plt

        plt.close(figure)


SHARD_IDS = ["0-of-3", "1-of-3", "2-of-3"]


def test_run_step_reads_a_cached_run(tmp_path: Path) -> None:
    cached = _write_parts(tmp_path / "cached", _parts())
    # The run's own parts directory is empty: a cached run's parts all lie under the cache prefix.
    out = _step(tmp_path, [], _request([5, 1, 4]), cache_key="abc", cached_parts=cached, shards=SHARD_IDS)
    facts = json.loads((out / results.RESULTS_DIR / "metrics.json").read_text())
    assert facts["run"]["cache"] == {"key": "abc", "partsFrom": "cached-parts"}


def test_run_step_with_a_corrupt_part(tmp_path: Path) -> None:
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "0-of-1.json").write_text("{not json")
    (tmp_path / "request.json").write_text(json.dumps(_request([1]).dump()))
    with pytest.raises(PermanentError) as caught:
        results.run_step(
            tmp_path / "request.json",
            None,
            json.dumps(METRICS.dump()),
            json.dumps(BACKEND.dump()),
            '["0-of-1"]',
            "none",
            tmp_path / "parts",
            None,
            tmp_path / "out",
        )
    assert caught.value.reason == "CorruptResult" and "\n" not in str(caught.value)


@pytest.mark.parametrize("shards", ["{", "[]", '"0-of-1"', "[1]"])
def test_run_step_with_a_bad_shards_parameter(tmp_path: Path, shards: str) -> None:
    (tmp_path / "request.json").write_text(json.dumps(_request([1]).dump()))
    with pytest.raises(InvalidJobError) as caught:
        results.run_step(
            tmp_path / "request.json",
            None,
            json.dumps(METRICS.dump()),
            json.dumps(BACKEND.dump()),
            shards,
            "none",
            None,
            None,
            tmp_path / "out",
        )
    assert "shards parameter" in str(caught.value)
