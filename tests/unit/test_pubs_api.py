"""Several PUBs, values from storage, sharding, the cache and GPUs in the QiskitJob API: the models
and the CRD's CEL rules say the same thing, in the same words."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from qiskit_argo import api, crd
from qiskit_argo.api import (
    MAX_PUBS,
    MAX_SUMMARY_PUBS,
    SOURCE_ARTIFACTS,
    AerOptions,
    CacheStatus,
    CircuitMetrics,
    ExecutionSpec,
    PubSpec,
    PubSummary,
    QiskitJob,
    QiskitJobSpec,
    QiskitJobStatus,
    ResultSummary,
    StepProgress,
    artifact_keys,
)
from qiskit_argo.api.job import pub_message
from qiskit_argo.crd._structural import at
from qiskit_argo.errors import InvalidJobError
from qiskit_argo.manifests import parse_job
from qiskit_argo.request import Limits
from tests.support.apiserver import create_errors
from tests.support.schemas import cel_available, crd_errors, crd_schema

BELL = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0], q[1];\nmeasure q -> c;\n'
QASM = {"openqasm": BELL}


def job(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "qiskit-argo.io/v1alpha1", "kind": "QiskitJob", "metadata": {"name": "pubs"}, "spec": spec}


def single(**spec: Any) -> dict[str, Any]:
    return job(circuit=QASM, **spec)


def pubs(*entries: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return job(pubs=[{"circuit": QASM, **entry} for entry in entries], **spec)


def product_error(document: dict[str, Any]) -> str | None:
    try:
        parse_job(copy.deepcopy(document), "job.yaml")
    except InvalidJobError as error:
        return str(error).removeprefix("job.yaml: ")
    return None


def server_errors(document: dict[str, Any]) -> list[str]:
    return create_errors(copy.deepcopy(document), crd.qiskitjob_crd())


def estimator_pub(**entry: Any) -> dict[str, Any]:
    return {"observables": [{"ZZ": 1}], **entry}


ARTIFACT = {"artifact": {"key": "sweeps/theta.npy"}}
CONFIG_MAP = {"configMapKeyRef": {"name": "sweeps", "key": "theta.json"}}

VALID: list[tuple[str, dict[str, Any]]] = [
    ("single-circuit", single(shots=100)),
    ("single-values-from-artifact", single(parameterValuesFrom=ARTIFACT)),
    ("single-values-from-configmap", single(parameterValuesFrom=CONFIG_MAP)),
    ("single-circuit-artifact", job(circuit={"artifact": {"key": "circuits/big.qpy"}})),
    ("one-pub", pubs({})),
    ("sampler-pubs", pubs({"shots": 10}, {"parameterValues": [[0.1], [0.2]]}, {"parameterValuesFrom": ARTIFACT})),
    ("sampler-pubs-default-shots", pubs({}, {}, shots=2000)),
    (
        "estimator-pubs",
        pubs(estimator_pub(precision=0.1), estimator_pub(), primitive="estimator", precision=0.01),
    ),
    ("pubs-64", pubs(*[{}] * MAX_PUBS)),
    ("inline-rows-256", pubs({"parameterValues": [[0.5]] * api.MAX_INLINE_BINDINGS_PER_PUB})),
    ("shards-1", single(execution={"shards": 1})),
    ("shards-64", single(execution={"shards": 64})),
    ("shards-auto", single(execution={"shards": "auto", "cache": False})),
    ("gpu", single(backend={"aer": {"device": "GPU"}})),
    ("tensor-network-gpu", single(backend={"aer": {"device": "GPU", "method": "tensor_network"}})),
    ("same-key-everywhere", pubs(*[{"circuit": {"artifact": {"key": "c.qpy"}}, "parameterValuesFrom": ARTIFACT}] * 20)),
    (
        "eight-keys",
        pubs(*[{"circuit": {"artifact": {"key": f"c{i}.qpy"}}, "parameterValuesFrom": ARTIFACT} for i in range(7)]),
    ),
    (
        "keys-shared-across-slots",
        pubs(
            *[
                {
                    "circuit": {"artifact": {"key": f"k{i}"}},
                    "parameterValuesFrom": {"artifact": {"key": f"k{(i + 1) % 8}"}},
                }
                for i in range(8)
            ]
        ),
    ),
    ("dotted-keys", single(parameterValuesFrom={"artifact": {"key": "a/.b/..c/c..d/..."}})),
]

#: (case, document, the product's message, the API server's message).
INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "circuit-and-pubs",
        pubs({}, circuit=QASM),
        "set spec.circuit (one circuit) or spec.pubs (several), not both",
        "set spec.circuit (one circuit) or spec.pubs (several), not both",
    ),
    ("neither", job(shots=10), "set spec.circuit or spec.pubs", "set spec.circuit or spec.pubs"),
    (
        "values-both",
        single(parameterValues=[[0.1]], parameterValuesFrom=ARTIFACT),
        "set spec.parameterValues or spec.parameterValuesFrom, not both",
        "set spec.parameterValues or spec.parameterValuesFrom, not both",
    ),
    (
        "pub-values-both",
        pubs({}, {"parameterValues": [[0.1]], "parameterValuesFrom": ARTIFACT}),
        "spec.pubs[1]: set parameterValues or parameterValuesFrom, not both",
        "set parameterValues or parameterValuesFrom, not both",
    ),
    *[
        (
            f"pubs-with-{alias}",
            pubs(estimator_pub(), primitive="estimator", **{alias: value}),
            f"spec.{alias} is for the single-circuit form; with spec.pubs, set it in each PUB (spec.pubs[i].{alias})",
            f"spec.{alias} is for the single-circuit form",
        )
        for alias, value in (
            ("parameterValues", [[0.1]]),
            ("parameterValuesFrom", ARTIFACT),
            ("observables", [{"ZZ": 1}]),
        )
    ],
    (
        "estimator-pub-without-observables",
        pubs(estimator_pub(), {}, primitive="estimator"),
        "primitive estimator needs spec.pubs[1].observables in every PUB",
        "primitive estimator needs spec.pubs[i].observables in every PUB",
    ),
    (
        "estimator-pub-shots",
        pubs(estimator_pub(shots=10), primitive="estimator"),
        "spec.pubs[0].shots is for the sampler; the estimator takes spec.pubs[0].precision",
        "spec.pubs[i].shots is for the sampler; the estimator takes spec.pubs[i].precision",
    ),
    (
        "sampler-pub-observables",
        pubs({}, {}, {"observables": [{"ZZ": 1}]}),
        "spec.pubs[2].observables is only for primitive estimator",
        "spec.pubs[i].observables is only for primitive estimator",
    ),
    (
        "sampler-pub-precision",
        pubs({"precision": 0.1}),
        "spec.pubs[0].precision is only for primitive estimator; the sampler takes spec.pubs[0].shots",
        "spec.pubs[i].precision is only for primitive estimator; the sampler takes spec.pubs[i].shots",
    ),
    (
        "estimator-pubs-default-shots",
        pubs(estimator_pub(), primitive="estimator", shots=10),
        "spec.shots is for the sampler; the estimator takes spec.precision",
        "spec.shots is for the sampler; the estimator takes spec.precision",
    ),
    ("no-pubs", job(pubs=[]), "spec.pubs:", "pubs"),
    ("65-pubs", pubs(*[{}] * (MAX_PUBS + 1)), "spec.pubs:", "pubs"),
    ("257-rows", pubs({"parameterValues": [[0.5]] * 257}), "spec.pubs[0].parameterValues:", "parameterValues"),
    ("pub-without-circuit", job(pubs=[{"shots": 5}]), "spec.pubs[0].circuit: required", "circuit"),
    (
        "pub-two-circuit-sources",
        job(pubs=[{"circuit": {"openqasm": BELL, "artifact": {"key": "c.qpy"}}}]),
        "set exactly one of circuit.openqasm, circuit.qpy, circuit.configMapKeyRef or circuit.artifact",
        "set exactly one of circuit.openqasm, circuit.qpy, circuit.configMapKeyRef or circuit.artifact",
    ),
    (
        "values-from-nothing",
        single(parameterValuesFrom={}),
        "set exactly one of parameterValuesFrom.configMapKeyRef or parameterValuesFrom.artifact",
        "set exactly one of parameterValuesFrom.configMapKeyRef or parameterValuesFrom.artifact",
    ),
    (
        "values-from-both",
        pubs({"parameterValuesFrom": {**ARTIFACT, **CONFIG_MAP}}),
        "set exactly one of parameterValuesFrom.configMapKeyRef or parameterValuesFrom.artifact",
        "set exactly one of parameterValuesFrom.configMapKeyRef or parameterValuesFrom.artifact",
    ),
    *[
        (f"artifact-key-{key!r}", single(parameterValuesFrom={"artifact": {"key": key}}), "artifact.key", "key")
        for key in ("", "/a", "a/", "a//b", "a b", "a\\b", "a" * 513, "s3://bucket/a")
    ],
    *[
        (
            f"artifact-key-{key!r}",
            pubs({"circuit": {"artifact": {"key": key}}}),
            "spec.pubs[0].circuit.artifact.key: a '..' segment is not allowed",
            "a '..' segment is not allowed",
        )
        for key in ("..", "../a", "a/..", "a/../b")
    ],
    (
        "nine-keys",
        pubs(*[{"circuit": {"artifact": {"key": f"c{i}.qpy"}}, "parameterValuesFrom": ARTIFACT} for i in range(8)]),
        f"spec.pubs reads more than {SOURCE_ARTIFACTS} distinct artifact keys",
        f"spec.pubs reads more than {SOURCE_ARTIFACTS} distinct artifact keys",
    ),
    (
        "nine-value-keys",
        pubs(*[{"parameterValuesFrom": {"artifact": {"key": f"v{i}.npy"}}} for i in range(9)]),
        f"spec.pubs reads more than {SOURCE_ARTIFACTS} distinct artifact keys",
        f"spec.pubs reads more than {SOURCE_ARTIFACTS} distinct artifact keys",
    ),
    *[
        (
            f"shards-{value!r}",
            single(execution={"shards": value}),
            "spec.execution.shards: must be a number of shards from 1 to 64, or auto",
            "must be a number of shards from 1 to 64, or auto",
        )
        for value in (0, 65, -1, "x", "Auto", "4", "")
    ],
    ("shards-bool", single(execution={"shards": True}), "spec.execution.shards", "shards"),
    ("shards-float", single(execution={"shards": 2.5}), "spec.execution.shards", "shards"),
    ("cache-string", single(execution={"cache": "yes"}), "spec.execution.cache", "cache"),
    ("execution-unknown", single(execution={"parallel": 2}), "spec.execution.parallel", "parallel"),
    (
        "tensor-network-cpu",
        single(backend={"aer": {"method": "tensor_network"}}),
        "spec.backend.aer.method=tensor_network runs only on a GPU; set spec.backend.aer.device: GPU",
        "spec.backend.aer.method=tensor_network runs only on a GPU; set spec.backend.aer.device: GPU",
    ),
    ("device-lowercase", single(backend={"aer": {"device": "gpu"}}), "spec.backend.aer.device", "device"),
]


@pytest.mark.parametrize(("case", "document"), VALID, ids=[c for c, _ in VALID])
def test_both_accept(case: str, document: dict[str, Any]) -> None:
    assert product_error(document) is None
    if cel_available():
        assert server_errors(document) == []


@pytest.mark.parametrize(("case", "document", "ours", "theirs"), INVALID, ids=[c[0] for c in INVALID])
def test_both_refuse_in_the_same_words(case: str, document: dict[str, Any], ours: str, theirs: str) -> None:
    error = product_error(document)
    assert error is not None and ours in error, error
    assert "\n" not in error
    if cel_available():
        refusals = server_errors(document)
        assert any(theirs in refusal for refusal in refusals), refusals


def test_a_pub_rule_names_its_index_where_cel_says_i() -> None:
    template = "spec.pubs[i].shots is for the sampler; the estimator takes spec.pubs[i].precision"
    assert pub_message(template, None) == template
    assert (
        pub_message(template, 3) == "spec.pubs[3].shots is for the sampler; the estimator takes spec.pubs[3].precision"
    )


# --------------------------------------------------------------------------- derived helpers


def spec_of(document: dict[str, Any]) -> QiskitJobSpec:
    return parse_job(document, "job.yaml").spec


def test_the_single_circuit_form_is_one_pub() -> None:
    spec = spec_of(single(shots=300, parameterValues=[[0.1], [0.2]]))
    (pub,) = spec.pub_specs()
    assert isinstance(pub, PubSpec)
    assert pub.circuit == spec.circuit and pub.parameter_values == [[0.1], [0.2]]
    assert pub.shots == 300 and pub.effective_shots == 300 and pub.precision is None
    assert spec.num_pubs == 1 and spec.execution == ExecutionSpec(shards=1, cache=True)


def test_the_single_circuit_form_keeps_its_bigger_inline_sweep() -> None:
    spec = spec_of(single(parameterValues=[[0.5]] * 1000))
    assert len(spec.pub_specs()[0].parameter_values or []) == 1000


def test_job_shots_and_precision_are_each_pubs_default() -> None:
    sampler = spec_of(pubs({"shots": 10}, {}, shots=2000))
    assert [pub.shots for pub in sampler.pub_specs()] == [10, 2000]
    unset = spec_of(pubs({}))
    assert unset.pub_specs()[0].shots is None and unset.pub_specs()[0].effective_shots == 1024
    estimator = spec_of(pubs(estimator_pub(precision=0.1), estimator_pub(), primitive="estimator", precision=0.02))
    assert [(pub.precision, pub.shots) for pub in estimator.pub_specs()] == [(0.1, None), (0.02, None)]
    # pub_specs copies; the spec keeps what was written
    assert estimator.pubs is not None and estimator.pubs[1].precision is None


def test_estimator_single_form_precision_applies() -> None:
    spec = spec_of(single(primitive="estimator", observables=[{"ZZ": 1}], precision=0.05))
    (pub,) = spec.pub_specs()
    assert pub.precision == 0.05 and pub.shots is None and pub.observables == [{"ZZ": 1}]


def test_artifact_keys_in_order_of_first_appearance() -> None:
    spec = spec_of(
        pubs(
            {"circuit": {"artifact": {"key": "c.qpy"}}, "parameterValuesFrom": {"artifact": {"key": "v0.npy"}}},
            {"parameterValuesFrom": CONFIG_MAP},
            {"circuit": {"artifact": {"key": "v0.npy"}}, "parameterValuesFrom": {"artifact": {"key": "v2.npy"}}},
            {"circuit": {"artifact": {"key": "c.qpy"}}},
        )
    )
    assert artifact_keys(spec) == ["c.qpy", "v0.npy", "v2.npy"]
    assert artifact_keys(spec_of(single())) == []
    assert artifact_keys(spec_of(job(circuit={"artifact": {"key": "a"}}, parameterValuesFrom=ARTIFACT))) == [
        "a",
        "sweeps/theta.npy",
    ]


def test_circuit_is_optional_and_none_with_pubs() -> None:
    spec = spec_of(pubs({}, {}))
    assert spec.circuit is None and spec.num_pubs == 2


# --------------------------------------------------------------------------- the CRD


def test_pub_rules_sit_on_the_pubs_items() -> None:
    schema = crd_schema(crd.qiskitjob_crd())
    items = at(schema, "spec.pubs[]")
    assert items is schema["properties"]["spec"]["properties"]["pubs"]["items"]
    assert items["properties"]["parameterValues"]["maxItems"] == api.MAX_INLINE_BINDINGS_PER_PUB
    assert at(schema, "spec.pubs[].circuit")["x-kubernetes-validations"]
    assert at(schema, "spec.pubs[].parameterValuesFrom.artifact")["x-kubernetes-validations"]
    shards = at(schema, "spec.execution.shards")
    assert shards["x-kubernetes-int-or-string"] is True and shards["default"] == 1
    assert "type(self) == string" in shards["x-kubernetes-validations"][0]["rule"]
    key = at(schema, "spec.circuit.artifact.key")
    assert key["maxLength"] == api.MAX_ARTIFACT_KEY and key["pattern"] == api.ARTIFACT_KEY_PATTERN


def test_the_defaults_the_api_server_writes() -> None:
    spec = crd_schema(crd.qiskitjob_crd())["properties"]["spec"]["properties"]
    assert spec["execution"]["default"] == {"shards": 1, "cache": True}
    assert spec["backend"]["properties"]["aer"]["properties"]["device"]["default"] == "CPU"
    assert "circuit" not in crd_schema(crd.qiskitjob_crd())["properties"]["spec"].get("required", [])


def test_the_backend_kind_restates_the_gpu_rule() -> None:
    backend: dict[str, Any] = {
        "apiVersion": "qiskit-argo.io/v1alpha1",
        "kind": "QiskitBackend",
        "metadata": {"name": "aer-gpu"},
        "spec": {"type": "aer", "aer": {"method": "tensor_network"}},
    }
    with pytest.raises(ValidationError, match="tensor_network runs only on a GPU"):
        api.QiskitBackend.model_validate(backend)
    definition = crd.definition(api.QISKIT_BACKEND)
    if cel_available():
        assert any("tensor_network runs only on a GPU" in error for error in crd_errors(backend, definition))
        backend["spec"]["aer"]["device"] = "GPU"
        assert crd_errors(backend, definition) == []
    api.QiskitBackend.model_validate(backend)


def test_aer_options_default_to_the_cpu() -> None:
    assert AerOptions().device == "CPU"
    assert AerOptions(method="tensor_network", device="GPU").method == "tensor_network"
    with pytest.raises(ValidationError, match="set spec.backend.aer.device: GPU"):
        AerOptions(method="tensor_network")


# --------------------------------------------------------------------------- status


def test_status_fields_fit_the_crd() -> None:
    summary = ResultSummary(
        primitive="sampler",
        num_pubs=2,
        num_bindings=5,
        shots=100,
        top_counts={"00": 60, "11": 40},
        pubs=[
            PubSummary(index=0, num_bindings=1, shots=100, top_counts={"00": 60, "11": 40}),
            PubSummary(index=1, num_bindings=4, shots=100, top_counts={"1": 100}, truncated=True),
        ],
    )
    status = QiskitJobStatus(
        phase="Succeeded",
        progress="5/5",
        cache=CacheStatus(hit=False, key="ab" * 32, shards=4, shards_hit=1),
        steps=[StepProgress(name="execute-aer", phase="Succeeded", progress="5/5")],
        circuit=CircuitMetrics(num_qubits=2, depth=3, size=4, num_bindings=5, num_pubs=2),
        result=summary,
    )
    document = single()
    document["status"] = status.dump()
    assert document["status"]["cache"] == {"hit": False, "key": "ab" * 32, "shards": 4, "shardsHit": 1}
    assert document["status"]["result"]["pubs"][1]["numBindings"] == 4
    assert document["status"]["circuit"]["numPubs"] == 2
    assert crd_errors(document, crd.qiskitjob_crd(), cel=False) == []
    assert QiskitJob.model_validate(document).status == status


def test_a_summary_describes_at_most_16_pubs() -> None:
    entries = [PubSummary(index=i) for i in range(MAX_SUMMARY_PUBS + 1)]
    with pytest.raises(ValidationError):
        ResultSummary(primitive="sampler", num_pubs=17, pubs=entries)
    assert len(ResultSummary(primitive="sampler", num_pubs=17, pubs=entries[:16], truncated=True).pubs) == 16


def test_limits() -> None:
    limits = Limits()
    assert limits.max_bindings == 1_000_000 and limits.max_pubs == MAX_PUBS
    with pytest.raises(ValidationError):
        Limits(max_pubs=0)
