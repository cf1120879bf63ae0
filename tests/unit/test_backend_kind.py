"""The QiskitBackend kind: its CRD's CEL rules say what the model's validator says, on fixtures and on a corpus."""

from __future__ import annotations

import copy
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from qiskit_argo import api, crd
from qiskit_argo.api import QISKIT_BACKEND, CostModel, QiskitBackend
from qiskit_argo.api.backend import BACKEND_RULES, IBM_FIELDS, REAL_IBM_FIELDS
from qiskit_argo.generate import crd_file
from tests.support.schemas import cel_available, cel_errors, crd_errors, crd_schema, validate_against_crd

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = sorted(
    path
    for path in (REPO / "examples" / "catalogue").glob("*.yaml")
    if any(doc and doc.get("kind") == "QiskitBackend" for doc in yaml.safe_load_all(path.read_text()))
)
SECRET = {"name": "ibm-quantum", "key": "api-key"}
#: What each field only a real IBM backend has is set to in the fixtures.
REAL_IBM_VALUES: dict[str, Any] = {"credentialsSecretRef": SECRET, "channel": "ibm_cloud", "instance": "i"}


def backend(name: str = "torino", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "qiskit-argo.io/v1alpha1", "kind": "QiskitBackend", "metadata": {"name": name}, "spec": spec}


def definition() -> dict[str, Any]:
    return crd.definition(QISKIT_BACKEND)


def pydantic_error(document: dict[str, Any]) -> str | None:
    try:
        QiskitBackend.model_validate(crd.prune_nulls(copy.deepcopy(document)))
    except ValidationError as error:
        return str(error)
    return None


IBM: dict[str, Any] = {"type": "ibm", "backend": "ibm_torino", "credentialsSecretRef": SECRET}
FAKE: dict[str, Any] = {"type": "ibm", "fakeBackend": "fake_sherbrooke"}
AER: dict[str, Any] = {"type": "aer", "aer": {"method": "statevector", "seed": 7}}
COST: dict[str, Any] = {"currency": "USD", "perQuantumSecond": "1.60", "perShot": "0", "perJob": "0.10"}

# Each case: a QiskitBackend, and the message both the CRD (CEL) and the model must give (None = valid).
CASES: list[tuple[str, dict[str, Any], str | None]] = [
    ("ibm", backend(**IBM), None),
    (
        "ibm-full",
        backend(
            **IBM,
            channel="ibm_cloud",
            instance="crn:v1:bluemix:public:quantum-computing:us-east:a/1::",
            cost=COST,
            maxConcurrentJobs=3,
            enabled=False,
        ),
        None,
    ),  # fmt: skip
    ("fake", backend(**FAKE, maxConcurrentJobs=1), None),
    ("aer", backend(**AER, cost={"perShot": "0.000001"}), None),
    ("aer-bare", backend(type="aer"), None),
    ("name-63", backend("b" * 63, **FAKE), None),
    *[
        (f"aer-with-{f}", backend(**AER, **{f: IBM.get(f, "x")}), f"spec.{f} is only for type ibm")
        for f in IBM_FIELDS
        if f in IBM
    ],  # fmt: skip
    ("aer-with-fakeBackend", backend(**AER, fakeBackend="fake_fez"), "spec.fakeBackend is only for type ibm"),
    ("aer-with-channel", backend(**AER, channel="ibm_cloud"), "spec.channel is only for type ibm"),
    ("aer-with-instance", backend(**AER, instance="my-instance"), "spec.instance is only for type ibm"),
    ("ibm-with-aer", backend(**IBM, aer={"seed": 1}), "spec.aer is only for type aer"),
    ("ibm-with-neither", backend(type="ibm"), "type ibm needs exactly one of spec.backend"),
    ("ibm-with-both", backend(**IBM, fakeBackend="fake_fez"), "type ibm needs exactly one of spec.backend"),
    ("ibm-without-credentials", backend(type="ibm", backend="ibm_fez"), "spec.backend needs spec.credentialsSecretRef"),
    *[
        (
            f"fake-with-{f}",
            backend(**FAKE, **{f: REAL_IBM_VALUES[f]}),
            f"spec.{f} is for an IBM Quantum backend (spec.backend)",
        )
        for f in REAL_IBM_FIELDS
    ],  # fmt: skip
    ("name-64", backend("b" * 64, **FAKE), "metadata.name must be a DNS label of at most 63 characters"),
]


@pytest.mark.parametrize(("case", "document", "message"), CASES, ids=[c[0] for c in CASES])
def test_the_model_says_it(case: str, document: dict[str, Any], message: str | None) -> None:
    error = pydantic_error(document)
    if message is None:
        assert error is None, error
    elif message.startswith("metadata.name"):  # the model quotes the name too
        assert error is not None and "must be a DNS label of at most 63 characters" in error, error
    else:
        assert error is not None and message in error, error


@pytest.mark.parametrize(("case", "document", "message"), CASES, ids=[c[0] for c in CASES])
def test_the_crd_says_the_same(case: str, document: dict[str, Any], message: str | None) -> None:
    if not cel_available():
        pytest.skip("cel-python is not installed; test_rules_mirror_the_validator covers the rules' text")
    errors = crd_errors(document, definition())
    if message is None:
        assert errors == []
    else:
        assert any(message in error for error in errors), errors


def test_rules_mirror_the_validator() -> None:
    """Every rule's message is one the validator can give, and every rule is on the spec or the root."""
    spec = QiskitBackend.model_fields["spec"].annotation
    assert spec is api.QiskitBackendSpec
    messages = {rule.message for rule in BACKEND_RULES}
    produced = {message for _, _, message in CASES if message and not message.startswith("metadata")}
    assert all(any(message in rule_message for rule_message in messages) for message in produced)
    assert len(messages) == len(BACKEND_RULES), "each rule says something of its own"
    assert [rule.path for rule in crd.cel_rules(QISKIT_BACKEND)][:1] == [""], "the name rule, and no freeze rule"
    assert QISKIT_BACKEND.mutable_spec_fields is None and len(crd.cel_rules(QISKIT_BACKEND)) == 1 + len(BACKEND_RULES)


def test_the_kind_is_registered_with_its_names() -> None:
    assert api.kind_named("QiskitBackend") is QISKIT_BACKEND and QISKIT_BACKEND in api.KINDS
    names = definition()["spec"]["names"]
    assert (names["plural"], names["singular"], names["shortNames"]) == ("qiskitbackends", "qiskitbackend", ["qb"])
    assert definition()["spec"]["scope"] == "Namespaced"
    (version,) = definition()["spec"]["versions"]
    assert version["subresources"] == {"status": {}}
    columns = [(c["name"], c.get("priority", 0)) for c in version["additionalPrinterColumns"]]
    shown = [name for name, priority in columns if not priority]
    assert shown == ["Type", "Device", "Qubits", "Status", "Queue", "Age"]
    checked_in = yaml.safe_load((REPO / crd_file(QISKIT_BACKEND)).read_text())
    assert checked_in == definition()


def test_defaults_leave_ibm_only_fields_unset() -> None:
    """A default on an ibm-only field would make every aer backend break its own rule."""
    spec = crd_schema(definition())["properties"]["spec"]["properties"]
    for field in (*IBM_FIELDS, "aer", "cost", "maxConcurrentJobs"):
        assert "default" not in spec[field], field
    assert spec["enabled"]["default"] is True and spec["type"]["enum"] == ["aer", "ibm"]
    assert "default" not in crd_schema(definition())["properties"]["status"]["properties"]["phase"]


def test_a_token_cannot_be_put_in_the_spec() -> None:
    assert "token" not in str(crd_schema(definition())["properties"]["spec"]).lower().replace("never", "")
    error = pydantic_error(backend(**IBM, token="s3cr3t"))
    assert error is not None and "token" in error
    assert any("token" in e for e in crd_errors(backend(**IBM, token="s3cr3t"), definition(), cel=False))


@pytest.mark.parametrize(
    ("price", "valid"),
    [("0", True), ("1.60", True), ("0.000000001", True), ("12", True), ("-1", False), ("1e3", False), ("1.", False),
     ("01", False), (".5", False), ("0.0000000001", False), (1.6, False), ("1,60", False)],
)  # fmt: skip
def test_prices_are_decimal_strings(price: Any, valid: bool) -> None:
    document = backend(type="aer", cost={"perQuantumSecond": price})
    assert (pydantic_error(document) is None) is valid
    assert (crd_errors(document, definition(), cel=False) == []) is valid


def test_the_cost_model_adds_up_exactly() -> None:
    cost = CostModel.model_validate(COST)
    assert cost.cost(quantum_seconds=2.5, shots=4000, jobs=1) == Decimal("4.10")
    assert CostModel().cost(quantum_seconds=100, shots=10**6) == 0


def test_status_validates_and_describes_a_probe() -> None:
    document = backend(**IBM)
    document["status"] = {
        "phase": "Ready",
        "device": "ibm_torino",
        "capabilities": {"numQubits": 133, "basisGates": ["cz", "rz", "sx", "x"], "operational": True,
                         "pendingJobs": 12, "statusMessage": "active"},
        "lastProbeTime": "2026-01-01T00:00:00Z",
        "probeWorkflowName": "torino-probe-1a2b3c",
        "conditions": [
            {"type": "Ready", "status": "True", "reason": "Operational", "lastTransitionTime": "2026-01-01T00:00:00Z"},
            {"type": "CredentialsValid", "status": "True", "reason": "Accepted",
             "lastTransitionTime": "2026-01-01T00:00:00Z"},
        ],
    }  # fmt: skip
    validate_against_crd(document, definition())
    assert QiskitBackend.model_validate(document).status is not None
    document["status"]["phase"] = "Online"
    assert any("Online" in error for error in crd_errors(document, definition()))


@pytest.mark.parametrize("path", CATALOGUE, ids=lambda p: p.name)
def test_the_catalogue_examples_fit_the_crd_and_the_model(path: Path) -> None:
    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    assert documents
    for document in documents:
        validate_against_crd(document, definition())
        assert pydantic_error(document) is None


def test_there_is_a_catalogue_example_of_each_type() -> None:
    types = {
        (doc["spec"]["type"], "fakeBackend" in doc["spec"])
        for path in CATALOGUE
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    }
    assert types == {("aer", False), ("ibm", False), ("ibm", True)}


# --------------------------------------------------------------------------- differential, small


_BASES = [backend(**IBM), backend(**FAKE), backend(**AER), backend(type="aer")]
_VALUES: dict[tuple[str, ...], list[Any]] = {
    ("spec", "type"): ["aer", "ibm", "IBM", "", None, 1],
    ("spec", "backend"): ["ibm_fez", "", "ibm fez", "b" * 101, None, 7],
    ("spec", "fakeBackend"): ["fake_fez", "FakeFez", "fake-", None],
    ("spec", "channel"): ["ibm_cloud", "ibm_quantum", None],
    ("spec", "instance"): ["crn:v1:x", "", "a b", None],
    ("spec", "credentialsSecretRef"): [SECRET, {"name": "s"}, {"name": "S", "key": "k"}, {"name": "s", "key": "a/b"},
                                        None],
    ("spec", "aer"): [{}, {"method": "gpu"}, {"seed": -1}, None],
    ("spec", "cost"): [{}, {"currency": "usd"}, {"perJob": 1}, {"perShot": "0.5"}, None],
    ("spec", "maxConcurrentJobs"): [1, 0, 10_000, 10_001, "2", 2.0, None],
    ("spec", "enabled"): [True, "false", 0, None],
    ("spec", "extra"): [1],
}  # fmt: skip


def _set(document: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    document = copy.deepcopy(document)
    document[path[0]][path[1]] = value
    return document


def _corpus() -> list[tuple[str, dict[str, Any]]]:
    single = [
        (f"{index}:{'.'.join(path)}={value!r}", _set(base, path, value))
        for index, base in enumerate(_BASES)
        for path, values in _VALUES.items()
        for value in values
    ]
    rng = random.Random(20261128)
    mutations = [(path, value) for path, values in _VALUES.items() for value in values]
    combos = []
    for index in range(120):
        document = rng.choice(_BASES)
        for path, value in rng.sample(mutations, 2):
            document = _set(document, path, value)
        combos.append((f"combo{index}", document))
    return single + combos


def test_the_model_and_the_crd_agree_on_a_corpus() -> None:
    if not cel_available():
        pytest.skip("cel-python is not installed: the CRD's CEL rules cannot be evaluated")
    corpus = _corpus()
    verdicts = []
    disagreements = []
    for case, document in corpus:
        by_model = pydantic_error(document) is None
        by_crd = not crd_errors(crd.prune_nulls(copy.deepcopy(document)), definition())
        verdicts.append(by_crd)
        if by_model != by_crd:
            disagreements.append(f"{case}: model {'accepts' if by_model else 'refuses'}")
    assert 30 < sum(verdicts) < len(corpus) - 30, "the corpus needs valid and invalid backends"
    assert not disagreements, "\n".join(disagreements[:30])


def test_cel_errors_name_the_field() -> None:
    if not cel_available():
        pytest.skip("cel-python is not installed")
    errors = cel_errors(backend(**AER, channel="ibm_cloud"), definition())
    assert errors == [".spec: spec.channel is only for type ibm"]
