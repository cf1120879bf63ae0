"""Differential: the CLI's models accept exactly the QiskitJobs the API server with our CRD accepts.

One generated corpus (no files checked in) of valid jobs and of mutations of them — wrong JSON
types, bounds, nulls, unknown and snake_case fields, hostile metadata, byte-counted circuits,
negative quantities — is judged twice: by ``qiskit_argo.manifests.parse_job`` (what
``qiskit-argo validate`` and the controller use) and by ``tests.support.apiserver.create_errors``
(the generated CRD's structural schema with defaults, null pruning and unknown fields, its CEL
rules, and the API server's ObjectMeta rules). Every verdict must agree.
"""

from __future__ import annotations

import base64
import copy
import random
import re
from collections.abc import Iterator
from typing import Any

import pytest

from qiskit_argo import crd
from qiskit_argo.errors import InvalidJobError
from qiskit_argo.manifests import parse_job
from tests.support.apiserver import create_errors
from tests.support.schemas import cel_available

BELL = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0], q[1];\nmeasure q -> c;\n'
_MISSING = object()


def _job(**spec: Any) -> dict[str, Any]:
    spec.setdefault("circuit", {"openqasm": BELL})
    return {"apiVersion": "qiskit-argo.io/v1alpha1", "kind": "QiskitJob", "metadata": {"name": "bell"}, "spec": spec}


def _pubs_job(*pubs: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "qiskit-argo.io/v1alpha1",
        "kind": "QiskitJob",
        "metadata": {"name": "pubs"},
        "spec": {"pubs": list(pubs), **spec},
    }


QASM = {"openqasm": BELL}
CONFIG_MAP = {"configMapKeyRef": {"name": "sweeps", "key": "theta.json"}}
ARTIFACT = {"artifact": {"key": "sweeps/theta.npy"}}

BASES: dict[str, dict[str, Any]] = {
    "sampler": _job(shots=100),
    "estimator": _job(primitive="estimator", observables=[{"ZZ": 1}, {"XX": 0.5, "ZI": 0.5}], precision=0.05),
    "sweep": _job(parameterValues=[[0.1, 0.2], [0.3, 0.4]], backend={"aer": {"seed": 7, "method": "statevector"}}),
    "configmap": _job(circuit={"configMapKeyRef": {"name": "circuits", "key": "bell.qasm"}}),
    "qpy": _job(circuit={"qpy": base64.b64encode(b"QISKIT-not-really").decode()}),
    "full": _job(
        shots=1024,
        backend={"aer": {"method": "automatic", "seed": 1234, "noiseModel": "FakeManilaV2"}},
        optimizationLevel=1,
        retry={"limit": 2, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}},
        activeDeadlineSeconds=3600,
        resources={"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": 2}},
        suspend=False,
    ),
    "ibm": _job(
        primitive="estimator",
        observables=[{"ZZ": 1}],
        sessionRef="sherbrooke-session",
        backend={"ref": "fake-sherbrooke", "ibm": {"resilienceLevel": 2, "maxExecutionTime": 300}},
    ),
    "selector": _job(
        shots=100,
        backend={
            "selector": {
                "type": "ibm",
                "minQubits": 5,
                "maxPrice": "12.50",
                "preference": ["torino", "fake-sherbrooke"],
                "allowSimulatorFallback": True,
            }
        },
    ),
    "pubs": _pubs_job(
        {"circuit": QASM},
        {
            "circuit": {"configMapKeyRef": {"name": "circuits", "key": "bell.qasm"}},
            "parameterValues": [[0.1]],
            "shots": 10,
        },
        {"circuit": {"artifact": {"key": "circuits/c.qpy"}}, "parameterValuesFrom": ARTIFACT},
        shots=100,
        execution={"shards": 4, "cache": True},
    ),
    "pubs-estimator": _pubs_job(
        {"circuit": QASM, "observables": [{"ZZ": 1}], "precision": 0.1},
        {"circuit": QASM, "observables": [{"XX": 0.5, "ZI": 0.5}], "parameterValuesFrom": CONFIG_MAP},
        primitive="estimator",
        precision=0.05,
    ),
    "values-from": _job(
        parameterValuesFrom=CONFIG_MAP,
        execution={"shards": "auto"},
        backend={"aer": {"seed": 3, "device": "GPU", "method": "tensor_network"}},
    ),
}

# Values of every JSON type (and the edges YAML produces), tried everywhere.
ANY_VALUES: list[Any] = ["7", "", "true", True, False, 0, 1, -1, 7.0, 7.5, 1e17, 1e30, None, [], {}, [1], {"a": 1}]

# (path, values): a path is a tuple of keys into the document.
FIELD_VALUES: list[tuple[tuple[str, ...], list[Any]]] = [
    (("spec", "shots"), [1, 0, 10_000_000, 10_000_001, 2**63, "1e3", 1e3]),
    (("spec", "precision"), [0.1, 1, 1.0, 0, 1.5, 1e-9, "0.1"]),
    (("spec", "primitive"), ["sampler", "estimator", "Sampler", "SAMPLER"]),
    (("spec", "optimizationLevel"), [0, 3, 4, 2.0, "2"]),
    (("spec", "activeDeadlineSeconds"), [1, 604800, 604801, "60"]),
    (("spec", "suspend"), ["yes", "on"]),
    (("spec", "retry", "limit"), [0, 20, 21, 2.0]),
    (("spec", "retry", "backoff", "duration"), ["10s", "1m30s", "1.5h", "10", "-1s", "1d", " 10s", "10s\n"]),
    (("spec", "retry", "backoff", "factor"), [1, 10, 11, 0]),
    (("spec", "retry", "backoff", "maxDuration"), ["5m", "5x"]),
    (("spec", "backend", "aer", "method"), ["statevector", "matrix_product_state", "tensor_network", "bogus", ""]),
    (("spec", "backend", "aer", "seed"), [0, -1, 2**63 - 1, 2**63, 9.5e18, 1e15]),
    (("spec", "backend", "aer", "noiseModel"), ["FakeManilaV2", "Fake", "fake", "Fake-x", "FakeX\n"]),
    (
        ("spec", "backend", "aer"),
        [
            {},
            {"method": "statevector", "seed": 1},
            {"method": "tensor_network", "device": "GPU"},
            {"method": "tensor_network", "device": "CPU"},
            {"method": "statevector", "device": "GPU"},
        ],
    ),
    (("spec", "backend", "aer", "device"), ["CPU", "GPU", "gpu", "TPU", ""]),
    (
        ("spec", "execution"),
        [
            {},
            {"shards": 1},
            {"shards": 64},
            {"shards": 65},
            {"shards": 0},
            {"shards": -3},
            {"shards": "auto"},
            {"shards": "Auto"},
            {"shards": "4"},
            {"shards": ""},
            {"shards": 4.0},
            {"shards": 2.5},
            {"shards": True},
            {"shards": None},
            {"cache": False},
            {"cache": "false"},
            {"cache": None},
            {"parallel": 1},
        ],
    ),
    (("spec", "execution", "shards"), [1, "auto", 65, 1e3]),
    (
        ("spec", "parameterValuesFrom"),
        [
            CONFIG_MAP,
            ARTIFACT,
            {},
            {**CONFIG_MAP, **ARTIFACT},
            {"artifact": {"key": "a/../b"}},
            {"artifact": {"key": ".."}},
            {"artifact": {"key": "a/.b/..c/c..d"}},
            {"artifact": {"key": ""}},
            {"artifact": {"key": "/a"}},
            {"artifact": {"key": "a" * 512}},
            {"artifact": {"key": "a" * 513}},
            {"artifact": {"key": "s3://bucket/x"}},
            {"artifact": {}},
            {"artifact": "sweeps/theta.npy"},
            {"artifact": {"key": "k", "bucket": "b"}},
            {"configMapKeyRef": {"name": "c"}},
            {"config_map_key_ref": {"name": "c", "key": "k"}},
        ],
    ),
    (("spec", "pubs"), [[{"circuit": QASM}], []]),
    (
        ("spec", "backend"),
        [
            {"aer": None},
            {"ibm": {}},
            {"ref": "torino", "selector": {}},
            {"ref": "torino", "aer": {"seed": 1}},
            {"selector": {"type": "aer"}},
            {"ref": None, "selector": None},
        ],
    ),
    (("spec", "backend", "ref"), ["torino", "Torino", "", "a" * 254, "fake-sherbrooke", "my.backend", "-x", 1]),
    (
        ("spec", "backend", "selector"),
        [
            {},
            {"type": "ibm"},
            {"type": "IBM"},
            {"type": "gpu"},
            {"minQubits": 0},
            {"minQubits": 127},
            {"minQubits": 100001},
            {"minQubits": "5"},
            {"maxPrice": "5.00"},
            {"maxPrice": "-1"},
            {"maxPrice": "1e3"},
            {"maxPrice": 5},
            {"maxPrice": "5.0000000001"},
            {"preference": ["a", "b"]},
            {"preference": ["B"]},
            {"preference": ["a"] * 51},
            {"preference": "a"},
            {"allowSimulatorFallback": "yes"},
            {"allow_simulator_fallback": True},
            {"type": "aer", "allowSimulatorFallback": True},
        ],
    ),
    (
        ("spec", "backend", "ibm"),
        [
            {"resilienceLevel": 0},
            {"resilienceLevel": 2},
            {"resilienceLevel": 3},
            {"resilienceLevel": 1.0},
            {"maxExecutionTime": 0},
            {"maxExecutionTime": 10800},
            {"maxExecutionTime": 10801},
            {"resilience_level": 1},
            {"token": "secret"},
        ],
    ),
    (("spec", "sessionRef"), ["s", "S", "", "a" * 254, "my.session", None, 3]),
    (("spec", "session_ref"), ["s"]),
    (
        ("spec", "circuit"),
        [
            {},
            {"openqasm": BELL, "qpy": "UUlTS0lU"},
            {"openqasm": ""},
            {"openqasm": "a" * 262144},
            {"openqasm": "a" * 262145},
            {"openqasm": "\u20ac" * 87381},
            {"openqasm": "\u20ac" * 87382},
            {"openqasm": "\u20ac" * 100101},
            {"openqasm": "{{workflow.name}} [/x] \x1b[31m"},
            {"qpy": "not base64!"},
            {"qpy": "UUlTS0lU"},
            {"qpy": "UUlTS0l"},
            {"qpy": "UUlTS0lU\n"},
            {"configMapKeyRef": {"name": "c", "key": "k"}},
            {"configMapKeyRef": {"name": "", "key": "k"}},
            {"configMapKeyRef": {"name": "Circuits", "key": "k"}},
            {"configMapKeyRef": {"name": "c", "key": "../x"}},
            {"configMapKeyRef": {"name": "c", "key": "a/b"}},
            {"configMapKeyRef": {"name": "c", "key": "k" * 254}},
            {"configMapKeyRef": {"name": "c"}},
            {"config_map_key_ref": {"name": "c", "key": "k"}},
            {"artifact": {"key": "circuits/c.qpy"}},
            {"artifact": {"key": "../c.qpy"}},
            {"artifact": {"key": "c.qpy"}, "openqasm": BELL},
            {"artifact": {"key": "c.qpy"}, "configMapKeyRef": {"name": "c", "key": "k"}},
        ],
    ),
    (
        ("spec", "observables"),
        [
            [{"ZZ": 1}],
            [],
            [{}],
            [{"ZZ": "1"}],
            [{"ZZ": None}],
            [{"ZZ": None, "XX": 1}],
            ["ZZ"],
            {"ZZ": 1},
            [{"zz": 1}],
            [{"true": 1}],
            [{"ZZ": 1}] * 1001,
        ],
    ),
    (
        ("spec", "parameterValues"),
        [
            [[0.1]],
            [],
            [[]],
            [["a"]],
            [[None]],
            [[True]],
            {"theta": [1]},
            [0.1],
            [[1, 2], [3]],
            [[0.1] * 1001],
        ],
    ),
    (
        ("spec", "resources"),
        [
            {},
            {"requests": {"cpu": "500m"}},
            {"requests": {"cpu": -1}},
            {"requests": {"cpu": "-1"}},
            {"requests": {"cpu": "+1"}},
            {"requests": {"cpu": 1.5}},
            {"requests": {"cpu": 2.0}},
            {"requests": {"gpu": 1}},
            {"requests": {"cpu": "1x"}},
            {"requests": {"cpu": True}},
            {"requests": {"cpu": None}},
            {"requests": None},
            {"limits": {"memory": "1e3"}},
            {"limits": {"memory": "4Gi", "cpu": "2", "ephemeral-storage": "1G"}},
            {"requests": {"cpu": "1", "memory": "1", "ephemeral-storage": "1", "x": "1"}},
            {"claims": []},
        ],
    ),
    (("spec", "shotz"), [1]),
    (("spec", "optimization_level"), [1]),
    (("spec", "active_deadline_seconds"), [60]),
    (("spec", "parameter_values"), [[[0.1]]]),
    (("spec", "backend", "aer", "noise_model"), ["FakeManilaV2"]),
    (("foo",), [1]),
    (("status",), [{"phase": "Bogus"}, "garbage", None]),
    (("metadata", "name"), ["b", "b" * 63, "b" * 64, "Bell", "my.job", "-x", "x-", "", "\u00fc", 1, None, "a_b"]),
    (
        ("metadata", "namespace"),
        ["default", "quantum", "Quantum", "q_q", "../../etc", "$(id)", "[/x]", "a" * 63, "a" * 64, "", None, 5, "q.q"],
    ),
    (("metadata", "generateName"), ["bell-", "Bell-", "x" * 70, "-", "b.", None]),
    (
        ("metadata", "labels"),
        [
            {"app": "x"},
            {"example.com/app": "x"},
            {"a/b/c": "x"},
            {"/a": "x"},
            {"a" * 64: "x"},
            {"app": "x" * 64},
            {"app": ""},
            {"app": "-x"},
            {"app": None},
            {"app": 1},
            {"app": True},
            {"Example.com/app": "x"},
            {"ex_ample.com/app": "x"},
            None,
            [],
        ],
    ),
    (
        ("metadata", "annotations"),
        [
            {"note": "anything \x1b[31m {{x}}"},
            {"Note": "x"},
            {"bad key": "x"},
            {"a": "x" * (256 * 1024)},
            {"a": "x" * (256 * 1024 - 1)},
            {"note": 1},
        ],
    ),
    (("metadata", "finalizers"), [["example.com/f"], ["bad finalizer"], ["orphan", "foregroundDeletion"], "x"]),
    (
        ("metadata", "ownerReferences"),
        [
            [{"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "u"}],
            [{"apiVersion": "v1", "kind": "ConfigMap", "name": "c"}],
            [{"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "u", "bogus": 1}],
        ],
    ),
    (("metadata", "creationTimestamp"), ["2026-01-01T00:00:00Z", "yesterday", None]),
    (("metadata", "generation"), [1, -1, "1"]),
    (("metadata", "uid"), ["abc", 1]),
    (("metadata", "nmae"), ["x"]),
    (("metadata",), [None, "bell", {}]),
    (("spec",), [None, {}, "x"]),
]


def _pub(index: int, **fields: Any) -> dict[str, Any]:
    return {"circuit": {"artifact": {"key": f"c{index}.qpy"}}, **fields}


# (base, path, values): mutations of one base, where a path may index a list (the PUBs).
BASED_VALUES: list[tuple[str, tuple[str | int, ...], list[Any]]] = [
    (
        "pubs",
        ("spec", "pubs"),
        [
            [],
            [{}],
            [{"circuit": {}}],
            [None],
            "x",
            {"circuit": QASM},
            [{"circuit": QASM}] * 64,
            [{"circuit": QASM}] * 65,
            [{"circuit": QASM, "observables": [{"ZZ": 1}]}],
            [{"circuit": QASM, "precision": 0.1}],
            [{"circuit": QASM, "shots": 0}],
            [{"circuit": QASM, "parameterValues": [[0.1]] * 256}],
            [{"circuit": QASM, "parameterValues": [[0.1]] * 257}],
            [{"circuit": QASM, "parameterValues": [[0.1]], "parameterValuesFrom": CONFIG_MAP}],
            [{"circuit": QASM, "parameter_values": [[0.1]]}],
            [{"circuit": QASM, "shotz": 1}],
            [_pub(i, parameterValuesFrom={"artifact": {"key": f"v{i}.npy"}}) for i in range(4)],
            [_pub(i, parameterValuesFrom={"artifact": {"key": f"v{i}.npy"}}) for i in range(5)],
            [_pub(i, parameterValuesFrom={"artifact": {"key": f"c{(i + 1) % 8}.qpy"}}) for i in range(8)],
            [_pub(i, parameterValuesFrom={"artifact": {"key": f"c{(i + 1) % 9}.qpy"}}) for i in range(9)],
            [_pub(0, parameterValuesFrom=ARTIFACT)] * 30,
            [{"circuit": QASM, "parameterValuesFrom": {"artifact": {"key": f"v{i}.npy"}}} for i in range(9)],
        ],
    ),
    ("pubs", ("spec", "pubs", 0, "shots"), [1, 0, "5", 10_000_001, 5.0, None]),
    ("pubs", ("spec", "pubs", 1, "parameterValues"), [[[0.1]], [], [[]], [["a"]], [[0.1] * 1001], [[0.1], [0.2, 0.3]]]),
    (
        "pubs",
        ("spec", "pubs", 2, "parameterValuesFrom"),
        [
            {},
            CONFIG_MAP,
            {"artifact": {"key": "../x"}},
            {"artifact": {"key": "a/../b"}},
            {"artifact": {"key": "a/.."}},
            {"artifact": {"key": "a" * 513}},
            {"artifact": {"key": "a//b"}},
            {**CONFIG_MAP, **ARTIFACT},
            None,
        ],
    ),
    (
        "pubs",
        ("spec", "pubs", 0, "circuit"),
        [
            {},
            None,
            {"artifact": {"key": "c.qpy"}},
            {"artifact": {"key": "c.qpy"}, "openqasm": BELL},
            {"qpy": "UUlTS0lU"},
            {"qpy": "not base64!"},
            {"openqasm": "\u20ac" * 87382},
        ],
    ),
    *[
        ("pubs", ("spec", field), [value])
        for field, value in (
            ("observables", [{"ZZ": 1}]),
            ("parameterValues", [[0.1]]),
            ("parameterValuesFrom", CONFIG_MAP),
            ("circuit", QASM),
            ("precision", 0.1),
            ("primitive", "estimator"),
            ("shots", 0),
        )
    ],
    ("pubs-estimator", ("spec", "pubs", 0, "observables"), [None, [], [{"ZZ": 1}], "ZZ", [{}], [{"zz": 1}]]),
    ("pubs-estimator", ("spec", "pubs", 1, "shots"), [10]),
    ("pubs-estimator", ("spec", "pubs", 0, "precision"), [0, 0.5, 1.5, None]),
    ("pubs-estimator", ("spec", "shots"), [10]),
    ("pubs-estimator", ("spec", "primitive"), ["sampler"]),
    ("pubs-estimator", ("spec", "observables"), [[{"ZZ": 1}]]),
    ("values-from", ("spec", "parameterValues"), [[[0.1]]]),
    ("values-from", ("spec", "backend", "aer", "device"), ["CPU", "GPU", None]),
    ("values-from", ("spec", "backend", "aer", "method"), ["automatic", None]),
]


def _set(document: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    document = copy.deepcopy(document)
    node: Any = document
    for key, after in zip(path[:-1], path[1:], strict=True):
        if isinstance(key, int):
            node = node[key]  # an index into a list the base has
            continue
        if not isinstance(node.get(key), list if isinstance(after, int) else dict):
            node[key] = {}
        node = node[key]
    if value is _MISSING:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = copy.deepcopy(value)
    return document


def _all_paths() -> list[tuple[str, ...]]:
    return sorted({path for path, _ in FIELD_VALUES})


def corpus() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every base, every field × its own values and every JSON type (also removed), then random
    combinations of two or three of those mutations."""
    mutations: list[tuple[tuple[str, ...], Any]] = []
    for path, values in FIELD_VALUES:
        mutations += [(path, value) for value in values]
    for path in _all_paths():
        mutations += [(path, value) for value in ANY_VALUES]
        mutations.append((path, _MISSING))
    for name, base in BASES.items():
        yield f"{name}", base
    for index, (path, value) in enumerate(mutations):
        base_name = ("sampler", "estimator", "sweep", "full")[index % 4]
        yield f"{base_name}:{'.'.join(path)}={_label(value)}", _set(BASES[base_name], path, value)
    for base_name, based_path, values in BASED_VALUES:
        for value in [*values, *ANY_VALUES[:8], _MISSING]:
            label = ".".join(str(part) for part in based_path)
            yield f"{base_name}:{label}={_label(value)}", _set(BASES[base_name], based_path, value)
    rng = random.Random(20261128)
    for index in range(600):
        base_name = rng.choice(sorted(BASES))
        document = BASES[base_name]
        chosen = rng.sample(mutations, rng.choice((2, 3)))
        for path, value in chosen:
            document = _set(document, path, value)
        yield f"combo{index}:{base_name}:" + "+".join(f"{'.'.join(p)}={_label(v)}" for p, v in chosen), document


def _label(value: Any) -> str:
    if value is _MISSING:
        return "<absent>"
    text = repr(value)
    return text if len(text) <= 30 else text[:27] + "..."


CASES = list(corpus())


def _product_accepts(document: dict[str, Any]) -> tuple[bool, str]:
    try:
        parse_job(copy.deepcopy(document), "job.yaml")
    except InvalidJobError as error:
        return False, str(error)
    return True, ""


def test_the_corpus_is_big_and_mixed() -> None:
    assert len(CASES) >= 1000
    verdicts = [not create_errors(document, crd.qiskitjob_crd()) for _, document in CASES[:300]]
    assert 20 < sum(verdicts) < 280, "the corpus needs both valid and invalid jobs"


def test_models_and_crd_agree_on_every_case() -> None:
    if not cel_available():
        pytest.skip("cel-python is not installed: the CRD's CEL rules cannot be evaluated")
    definition = crd.qiskitjob_crd()
    disagreements = []
    for case, document in CASES:
        accepted, why = _product_accepts(document)
        refusals = create_errors(document, definition)
        if accepted != (not refusals):
            said = f"CLI refused: {why}" if not accepted else f"API server refused: {refusals[:2]}"
            disagreements.append(f"{case}: {said}")
    assert not disagreements, f"{len(disagreements)} of {len(CASES)} disagree:\n" + "\n".join(disagreements[:40])


def test_every_refusal_is_one_bounded_line_naming_a_field() -> None:
    long_lines, unnamed = [], []
    for case, document in CASES:
        accepted, why = _product_accepts(document)
        if accepted:
            continue
        if "\n" in why or len(why) > 300:
            long_lines.append(f"{case}: {len(why)} chars")
        message = why.removeprefix("job.yaml: ")
        if not re.match(r"[A-Za-z][\w.\[\]'-]*(=\w+)?:? ", message):
            unnamed.append(f"{case}: {why}")
    assert not long_lines, "\n".join(long_lines[:20])
    assert not unnamed, "\n".join(unnamed[:20])
