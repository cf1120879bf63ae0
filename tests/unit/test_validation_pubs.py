"""The validate step with several PUBs, sweeps from ConfigMaps and artifacts, shards and the fingerprint."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qiskit_argo import circuits, sharding, validation
from qiskit_argo.errors import InvalidCircuitError, InvalidJobError, LimitExceededError, QiskitArgoError
from qiskit_argo.request import ExecutionRequest, Limits

BELL2 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0], q[1];\nmeasure q -> c;\n'
GHZ3 = (
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg c[3];\nh q[0];\ncx q[0], q[1];\ncx q[1], q[2];\n'
    "measure q -> c;\n"
)
NO_MEASURE = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nh q[0];\ncx q[0], q[1];\n'


def _sweep(parameters: int) -> str:
    inputs = "".join(f"input float[64] t{i:02d};\n" for i in range(parameters))
    gates = "".join(f"ry(t{i:02d}) q[0];\n" for i in range(parameters))
    return f'OPENQASM 3.0;\ninclude "stdgates.inc";\n{inputs}qubit[1] q;\nbit[1] c;\n{gates}c[0] = measure q[0];\n'


SWEEP2 = _sweep(2)  # parameters t00, t01


def _job(**spec: Any) -> dict[str, Any]:
    if "pubs" not in spec:
        spec.setdefault("circuit", {"openqasm": BELL2})
    return {"apiVersion": "qiskit-argo.io/v1alpha1", "kind": "QiskitJob", "metadata": {"name": "t"}, "spec": spec}


def _model(**spec: Any) -> Any:
    return validation.parse_job_document(_job(**spec))


def _validate(*, limits: Limits | None = None, sources: validation.Sources | None = None, **spec: Any) -> Any:
    return validation.validate_job(_model(**spec), limits or Limits(), sources)


def _assert_error(error: QiskitArgoError, cls: type[QiskitArgoError], *needles: str) -> None:
    assert type(error) is cls, repr(error)
    assert error.permanent and error.exit_code == 2
    message = str(error)
    assert "\n" not in message and message.strip() == message and len(message) <= 300, message
    for needle in needles:
        assert needle in message, message


def _mount(root: Path, config_maps: dict[str, dict[str, bytes]]) -> Path:
    """The projected circuit-source volume: <root>/<ConfigMap>/<key>."""
    for name, keys in config_maps.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for key, content in keys.items():
            (root / name / key).write_bytes(content)
    return root


def _npy(path: Path, array: Any) -> bytes:
    np.save(path, array)
    return path.read_bytes()


# --------------------------------------------------------------------------- several PUBs


def test_several_sampler_pubs() -> None:
    validated = _validate(
        shots=100,
        pubs=[
            {"circuit": {"openqasm": BELL2}},
            {"circuit": {"openqasm": SWEEP2}, "parameterValues": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], "shots": 7},
            {"circuit": {"openqasm": GHZ3}},
        ],
    )
    request = validated.request
    assert [pub.circuit for pub in request.pubs] == [0, 1, 2]
    assert [pub.num_bindings for pub in request.pubs] == [1, 3, 1] and request.total_bindings == 5
    assert request.bindings_per_pub == [1, 3, 1]
    assert [pub.shots for pub in request.pubs] == [100, 7, 100]
    assert [pub.values for pub in request.pubs] == [None, "pub-1.npy", None]
    assert [pub.parameter_names for pub in request.pubs] == [[], ["t00", "t01"], []]
    assert [c.num_qubits for c in validated.circuits] == [2, 1, 3]
    assert validated.values[0] is None and validated.values[2] is None
    assert validated.values[1].tolist() == [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]
    metrics = validated.metrics
    # Over every PUB: the widest circuit decides which backend fits, every gate which method runs.
    assert metrics.num_qubits == 3 and metrics.num_bindings == 5 and metrics.num_pubs == 3
    assert metrics.num_parameters == 2 and metrics.count_ops["cx"] == 1 + 2 and metrics.count_ops["ry"] == 2


def test_pubs_take_the_default_shots() -> None:
    request = _validate(pubs=[{"circuit": {"openqasm": BELL2}}, {"circuit": {"openqasm": BELL2}, "shots": 5}]).request
    assert [pub.shots for pub in request.pubs] == [1024, 5]


def test_several_estimator_pubs() -> None:
    validated = _validate(
        primitive="estimator",
        precision=0.05,
        pubs=[
            {"circuit": {"openqasm": BELL2}, "observables": [{"ZZ": 1}, {"XX": 1}]},
            {"circuit": {"openqasm": GHZ3}, "observables": [{"ZZZ": 0.5}], "precision": 0.01},
        ],
    )
    pubs = validated.request.pubs
    assert [pub.precision for pub in pubs] == [0.05, 0.01] and [pub.shots for pub in pubs] == [None, None]
    assert [[o.paulis for o in pub.observables or []] for pub in pubs] == [[{"ZZ": 1}, {"XX": 1}], [{"ZZZ": 0.5}]]
    assert not any(
        circuits_has_measure for circuits_has_measure in map(validation.has_measurements, validated.circuits)
    )


@pytest.mark.parametrize(
    ("spec", "cls", "needles"),
    [
        (
            {"pubs": [{"circuit": {"openqasm": BELL2}}, {"circuit": {"openqasm": SWEEP2}}]},
            InvalidCircuitError,
            ["spec.pubs[1].parameterValues:", "2 parameters (t00, t01)", "add spec.pubs[1].parameterValues"],
        ),
        (
            {"pubs": [{"circuit": {"openqasm": SWEEP2}, "parameterValues": [[0.1, 0.2], [0.1]]}]},
            InvalidCircuitError,
            ["spec.pubs[0].parameterValues[1]:", "1 values given"],
        ),
        (
            {"pubs": [{"circuit": {"openqasm": BELL2}, "parameterValues": [[0.1]]}]},
            InvalidCircuitError,
            ["spec.pubs[0].parameterValues:", "no parameters"],
        ),
        (
            {"pubs": [{"circuit": {"openqasm": BELL2}}, {"circuit": {"openqasm": NO_MEASURE}}]},
            InvalidCircuitError,
            ["spec.pubs[1].circuit:", "no measurements"],
        ),
        (
            {"pubs": [{"circuit": {"openqasm": BELL2.replace("cx q[0], q[1]", "cx q[0] q[1]")}}]},
            InvalidCircuitError,
            ["spec.pubs[0].circuit.openqasm", "line 6:"],
        ),
        (
            {
                "primitive": "estimator",
                "pubs": [
                    {"circuit": {"openqasm": BELL2}, "observables": [{"ZZ": 1}]},
                    {"circuit": {"openqasm": BELL2}, "observables": [{"ZZ": 1}, {"ZZZ": 1}]},
                ],
            },
            InvalidCircuitError,
            ["spec.pubs[1].observables[1]:", "'ZZZ'", "3 qubits"],
        ),
        (
            {"primitive": "estimator", "pubs": [{"circuit": {"openqasm": BELL2}, "observables": [{"ZQ": 1}]}]},
            InvalidJobError,
            ["spec.pubs[0].observables[0]:", "not a Pauli string"],
        ),
        (
            {"pubs": [{"circuit": {"openqasm": BELL2}}, {"circuit": {"openqasm": BELL2}, "shots": 2_000_000}]},
            LimitExceededError,
            ["spec.pubs[1].shots:", "2000000 shots", "limit of 1000000"],
        ),
        (
            {"shots": 2_000_000, "pubs": [{"circuit": {"openqasm": BELL2}}]},
            LimitExceededError,
            ["spec.shots:", "2000000 shots"],
        ),
    ],
)
def test_pub_errors_name_the_pub(spec: dict[str, Any], cls: type[QiskitArgoError], needles: list[str]) -> None:
    with pytest.raises(cls) as caught:
        _validate(**spec)
    _assert_error(caught.value, cls, *needles)


def test_pub_limits() -> None:
    pubs = [{"circuit": {"openqasm": SWEEP2}, "parameterValues": [[0.0, 0.0]] * 4} for _ in range(3)]
    with pytest.raises(LimitExceededError) as caught:
        _validate(limits=Limits(max_pubs=2), pubs=pubs)
    _assert_error(caught.value, LimitExceededError, "spec.pubs:", "3 PUBs", "limit of 2")
    with pytest.raises(LimitExceededError) as caught:
        _validate(limits=Limits(max_bindings=10), pubs=pubs)
    _assert_error(caught.value, LimitExceededError, "spec.pubs:", "12 inline bindings", "limit of 10")
    assert _validate(limits=Limits(max_bindings=12), pubs=pubs).request.total_bindings == 12


def test_one_circuit_parsed_once_per_source(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = validation.load_circuit

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["field"])
        return original(*args, **kwargs)

    monkeypatch.setattr(validation, "load_circuit", counting)
    validated = _validate(pubs=[{"circuit": {"openqasm": BELL2}}] * 3 + [{"circuit": {"openqasm": GHZ3}}])
    assert calls == ["spec.pubs[0].circuit", "spec.pubs[3].circuit"]
    assert [pub.circuit for pub in validated.request.pubs] == [0, 1, 2, 3]


# --------------------------------------------------------------------------- sweeps from ConfigMaps and artifacts


def test_values_from_a_config_map(tmp_path: Path) -> None:
    mount = _mount(tmp_path, {"sweeps": {"rows.json": json.dumps([[0.1, 0.2], [0.3, 0.4]]).encode()}})
    validated = _validate(
        sources=validation.Sources(circuit_dir=mount),
        circuit={"openqasm": SWEEP2},
        parameterValuesFrom={"configMapKeyRef": {"name": "sweeps", "key": "rows.json"}},
    )
    [pub] = validated.request.pubs
    assert validated.values[0].tolist() == [[0.1, 0.2], [0.3, 0.4]] and pub.num_bindings == 2
    assert pub.values_from is not None
    assert pub.values_from["configMapKeyRef"] == {"name": "sweeps", "key": "rows.json"}
    assert len(pub.values_from["sha256"]) == 64


def test_values_and_circuits_from_artifacts(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "0").write_text(SWEEP2)  # the circuit: artifact_keys puts a PUB's circuit first
    _npy(tmp_path / "a.npy", np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    (tmp_path / "a.npy").rename(sources / "1")
    spec: dict[str, Any] = {
        "pubs": [
            {
                "circuit": {"artifact": {"key": "circuits/sweep.qasm"}},
                "parameterValuesFrom": {"artifact": {"key": "v.npy"}},
            },
            {"circuit": {"artifact": {"key": "circuits/sweep.qasm"}}, "parameterValues": [[0.0, 0.0]]},
        ]
    }
    validated = _validate(sources=validation.Sources(sources_dir=sources), **spec)
    assert [pub.num_bindings for pub in validated.request.pubs] == [3, 1]
    assert validated.values[0].tolist() == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    assert validated.request.pubs[0].values_from is not None
    assert validated.request.pubs[0].values_from["artifact"] == {"key": "v.npy"}
    assert validated.request.pubs[1].values_from == {
        "inline": True,
        "sha256": validated.request.pubs[1].values_from["sha256"],
    }


@pytest.mark.parametrize(
    ("spec", "needles"),
    [
        (
            {"circuit": {"openqasm": SWEEP2}, "parameterValuesFrom": {"artifact": {"key": "sweeps/missing.npy"}}},
            [
                "spec.parameterValuesFrom.artifact:",
                "'sweeps/missing.npy'",
                "not in the namespace's artifact repository",
            ],
        ),
        (
            {"pubs": [{"circuit": {"artifact": {"key": "c.qasm"}}}]},
            ["spec.pubs[0].circuit.artifact:", "'c.qasm'", "upload"],
        ),
        (
            {
                "circuit": {"openqasm": SWEEP2},
                "parameterValuesFrom": {"configMapKeyRef": {"name": "s", "key": "r.json"}},
            },
            ["spec.parameterValuesFrom.configMapKeyRef:", "ConfigMap 's' is not mounted", "'r.json'"],
        ),
        (
            {"circuit": {"openqasm": BELL2}, "parameterValuesFrom": {"artifact": {"key": "v.npy"}}},
            ["spec.parameterValuesFrom:", "no parameters", "remove spec.parameterValuesFrom"],
        ),
    ],
)
def test_missing_sources(spec: dict[str, Any], needles: list[str], tmp_path: Path) -> None:
    with pytest.raises(InvalidCircuitError) as caught:
        _validate(sources=validation.Sources(circuit_dir=tmp_path, sources_dir=tmp_path / "sources"), **spec)
    _assert_error(caught.value, InvalidCircuitError, *needles)


def test_a_huge_circuit_artifact_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validation, "MAX_CIRCUIT_ARTIFACT", 96)
    (tmp_path / "0").write_text(BELL2)  # 97 bytes
    with pytest.raises(LimitExceededError) as caught:
        _validate(sources=validation.Sources(sources_dir=tmp_path), circuit={"artifact": {"key": "big.qasm"}})
    _assert_error(
        caught.value, LimitExceededError, "spec.circuit.artifact (key 'big.qasm'):", "97 bytes", "limit of 96"
    )
    monkeypatch.setattr(validation, "MAX_CIRCUIT_ARTIFACT", 97)
    assert _validate(sources=validation.Sources(sources_dir=tmp_path), circuit={"artifact": {"key": "b"}}).metrics.size


def test_an_artifact_that_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "0").mkdir()
    with pytest.raises(InvalidCircuitError) as caught:
        _validate(
            sources=validation.Sources(sources_dir=tmp_path),
            circuit={"openqasm": SWEEP2},
            parameterValuesFrom={"artifact": {"key": "sweeps"}},
        )
    _assert_error(caught.value, InvalidCircuitError, "spec.parameterValuesFrom.artifact:", "a folder")


@pytest.mark.parametrize(
    ("content", "limits", "cls", "needles"),
    [
        (
            np.array([[0.1, np.nan]]),
            Limits(),
            InvalidCircuitError,
            ["spec.pubs[1].parameterValuesFrom (artifact 'v.npy'): row 0: the value for 't01' is nan"],
        ),
        (
            np.zeros((2, 3)),
            Limits(),
            InvalidCircuitError,
            ["spec.pubs[1].parameterValuesFrom (artifact 'v.npy'):", "3 columns", "2 parameters (t00, t01)"],
        ),
        (
            np.zeros((10, 2)),
            Limits(max_bindings=10),
            LimitExceededError,
            ["spec.pubs[1].parameterValuesFrom (artifact 'v.npy'): 10 bindings, with the 1 of the PUBs before it,"],
        ),
        (
            np.array([[1, 2]], dtype=object),
            Limits(),
            InvalidCircuitError,
            ["Python objects"],
        ),
    ],
)
def test_bad_values_files_name_the_pub_and_row(
    content: Any, limits: Limits, cls: type[QiskitArgoError], needles: list[str], tmp_path: Path
) -> None:
    np.save(tmp_path / "0.npy", content, allow_pickle=True)
    (tmp_path / "0.npy").rename(tmp_path / "0")
    with pytest.raises(cls) as caught:
        _validate(
            limits=limits,
            sources=validation.Sources(sources_dir=tmp_path),
            pubs=[
                {"circuit": {"openqasm": BELL2}},
                {"circuit": {"openqasm": SWEEP2}, "parameterValuesFrom": {"artifact": {"key": "v.npy"}}},
            ],
        )
    _assert_error(caught.value, cls, *needles)


# --------------------------------------------------------------------------- shards


@pytest.mark.parametrize(
    ("execution", "rows", "shards"),
    [
        ({}, 5, 1),
        ({"shards": 4}, 5, 4),
        ({"shards": 8}, 5, 5),
        ({"shards": "auto"}, 5, 1),
        ({"shards": "auto"}, 2500, 3),
    ],
)
def test_shards_are_resolved(execution: dict[str, Any], rows: int, shards: int, tmp_path: Path) -> None:
    _npy(tmp_path / "0.npy", np.zeros((rows, 2)))
    (tmp_path / "0.npy").rename(tmp_path / "0")
    request = _validate(
        sources=validation.Sources(sources_dir=tmp_path),
        circuit={"openqasm": SWEEP2},
        parameterValuesFrom={"artifact": {"key": "v.npy"}},
        execution=execution,
    ).request
    assert request.shards == shards
    assert len(sharding.plan(request.bindings_per_pub, request.shards)) == shards


def test_cache_flag_travels() -> None:
    assert _validate(execution={"cache": False}).request.cache is False


# --------------------------------------------------------------------------- fingerprint


def test_fingerprint_is_stable_and_depends_on_what_runs() -> None:
    spec: dict[str, Any] = {"circuit": {"openqasm": SWEEP2}, "parameterValues": [[0.1, 0.2]], "shots": 10}
    first = _validate(**spec).request.fingerprint
    assert len(first) == 64 and first == _validate(**spec).request.fingerprint  # a fresh parse each time
    assert _validate(**{**spec, "backend": {"aer": {"seed": 3}}}).request.fingerprint == first  # the cache key's part
    changed: list[dict[str, Any]] = [
        {**spec, "parameterValues": [[0.1, 0.25]]},
        {**spec, "shots": 11},
        {**spec, "circuit": {"openqasm": SWEEP2.replace("ry(t01)", "rx(t01)")}},
        {**spec, "optimizationLevel": 2},
        {
            "pubs": [spec_pub := {"circuit": spec["circuit"], "parameterValues": spec["parameterValues"]}, spec_pub],
            "shots": 10,
        },
    ]
    prints = {_validate(**other).request.fingerprint for other in changed}
    assert first not in prints and len(prints) == len(changed)


@pytest.mark.parametrize("source", [BELL2, GHZ3])
def test_fingerprint_of_a_circuit_parsed_twice(source: str) -> None:
    spec: dict[str, Any] = {"circuit": {"openqasm": source}}
    assert _validate(**spec).request.fingerprint == _validate(**spec).request.fingerprint


def test_fingerprint_ignores_where_the_values_came_from(tmp_path: Path) -> None:
    rows = [[0.1, 0.2], [0.3, 0.4]]
    inline = _validate(circuit={"openqasm": SWEEP2}, parameterValues=rows).request
    mount = _mount(tmp_path, {"sweeps": {"rows.json": json.dumps(rows).encode()}})
    stored = _validate(
        sources=validation.Sources(circuit_dir=mount),
        circuit={"openqasm": SWEEP2},
        parameterValuesFrom={"configMapKeyRef": {"name": "sweeps", "key": "rows.json"}},
    ).request
    assert inline.fingerprint == stored.fingerprint
    assert inline.pubs[0].values_from != stored.pubs[0].values_from


# --------------------------------------------------------------------------- the step


def _run_step(tmp_path: Path, job: dict[str, Any], **dirs: Path) -> Path:
    (tmp_path / "job.json").write_text(json.dumps(job))
    out = tmp_path / "out"
    validation.run_step(tmp_path / "job.json", "{}", dirs.get("circuit_dir"), out, dirs.get("sources_dir"))
    return out


def test_run_step_writes_every_pub(tmp_path: Path) -> None:
    job = _job(
        pubs=[
            {"circuit": {"openqasm": BELL2}},
            {"circuit": {"openqasm": SWEEP2}, "parameterValues": [[0.5, 1.5], [2.5, 3.5]]},
        ]
    )
    out = _run_step(tmp_path, job)
    written = circuits.circuits_from_qpy((out / "circuit.qpy").read_bytes(), count=2)
    assert [c.num_qubits for c in written] == [2, 1] and written[1].num_parameters == 2
    request = ExecutionRequest.model_validate_json((out / "request.json").read_text())
    assert [pub.values for pub in request.pubs] == [None, "pub-1.npy"]
    assert json.loads((out / "bindings" / "index.json").read_text()) == {"pubs": [None, "pub-1.npy"]}
    data = (out / "bindings" / "pub-1.npy").read_bytes()
    assert request.pubs[1].values_from == {"inline": True, "sha256": hashlib.sha256(data).hexdigest()}
    assert np.load(out / "bindings" / "pub-1.npy").tolist() == [[0.5, 1.5], [2.5, 3.5]]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["numBindings"] == 3 and metrics["numPubs"] == 2 and metrics["numQubits"] == 2


def test_a_100k_by_16_sweep_validates_quickly(tmp_path: Path) -> None:
    values = np.random.default_rng(1).uniform(-3, 3, size=(100_000, 16))
    sources = tmp_path / "sources"
    sources.mkdir()
    np.save(sources / "sweep.npy", values)
    (sources / "sweep.npy").rename(sources / "0")
    job = _job(
        circuit={"openqasm": _sweep(16)},
        parameterValuesFrom={"artifact": {"key": "sweeps/ansatz.npy"}},
        execution={"shards": "auto"},
    )
    started = time.perf_counter()
    out = _run_step(tmp_path, job, sources_dir=sources)
    assert time.perf_counter() - started < 3
    request = ExecutionRequest.model_validate_json((out / "request.json").read_text())
    assert request.total_bindings == 100_000 and request.shards == 16
    assert np.array_equal(np.load(out / "bindings" / "pub-0.npy", mmap_mode="r")[99_990:], values[99_990:])
    assert len((out / "request.json").read_bytes()) < 4096  # the rows travel as a file, not in the request


def test_shard_pubs_read_only_their_rows(tmp_path: Path) -> None:
    """What an execute step does with the validate step's outputs: one PUB per slice of its shard."""
    job = _job(
        primitive="estimator",
        pubs=[
            {"circuit": {"openqasm": BELL2}, "observables": [{"ZZ": 1}]},
            {
                "circuit": {"openqasm": SWEEP2},
                "parameterValues": [[i, -i] for i in range(5)],
                "observables": [{"Z": 1}],
            },
        ],
        execution={"shards": 2},
    )
    out = _run_step(tmp_path, job)
    request = ExecutionRequest.model_validate_json((out / "request.json").read_text())
    run = circuits.circuits_from_qpy((out / "circuit.qpy").read_bytes(), count=len(request.pubs))
    shards = sharding.plan(request.bindings_per_pub, request.shards)
    assert shards == [[(0, 0, 1), (1, 0, 2)], [(1, 2, 5)]]
    first, second = (circuits.shard_pubs(run, request, out / "bindings", shard) for shard in shards)
    assert [pub.shape for pub in first] == [(1,), (2, 1)] and [pub.shape for pub in second] == [(3, 1)]
    assert second[0].parameter_values.as_array().reshape(3, 2).tolist() == [[2, -2], [3, -3], [4, -4]]


def test_order_values_follows_the_circuit() -> None:
    circuit = circuits.parse_openqasm(SWEEP2)
    values = np.array([[1.0, 2.0]])
    assert circuits.order_values(values, ["t00", "t01"], circuit) is values
    reordered = circuits.order_values(values, ["t01", "t00"], circuit)
    assert reordered is not None and reordered.tolist() == [[2.0, 1.0]]
    assert circuits.order_values(None, [], circuit) is None
    with pytest.raises(InvalidCircuitError, match="t01"):
        circuits.order_values(values, ["t00", "x"], circuit)
