"""The QiskitJob CRD: its CEL rules say what the pydantic validators say, and hold on fixtures."""

from __future__ import annotations

import base64
import copy
import re
from typing import Any

import pytest
from pydantic import ValidationError

from qiskit_argo import api, crd
from qiskit_argo.api import CircuitSource, QiskitJob, QiskitJobSpec
from tests.support.schemas import cel_available, cel_errors, crd_schema

BELL = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0], q[1];\nmeasure q -> c;\n'


def job(name: str = "bell", **spec: Any) -> dict[str, Any]:
    spec.setdefault("circuit", {"openqasm": BELL})
    return {"apiVersion": "qiskit-argo.io/v1alpha1", "kind": "QiskitJob", "metadata": {"name": name}, "spec": spec}


def without(document: dict[str, Any], *keys: str) -> dict[str, Any]:
    document = copy.deepcopy(document)
    for key in keys:
        document["spec"].pop(key, None)
    return document


def pydantic_error(document: dict[str, Any]) -> str | None:
    try:
        QiskitJob.model_validate(document)
    except ValidationError as error:
        return str(error)
    return None


def rules() -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}

    def visit(node: dict[str, Any], path: str) -> None:
        if "x-kubernetes-validations" in node:
            found[path] = node["x-kubernetes-validations"]
        for name, child in node.get("properties", {}).items():
            visit(child, f"{path}.{name}" if path else name)
        if isinstance(node.get("additionalProperties"), dict):
            visit(node["additionalProperties"], f"{path}.*")
        if isinstance(node.get("items"), dict):
            visit(node["items"], f"{path}[]")

    visit(crd_schema(crd.qiskitjob_crd()), "")
    return found


# Each case: a QiskitJob, and the CEL message it must produce (None = valid). Pydantic must agree.
CASES: list[tuple[str, dict[str, Any], str | None]] = [
    ("sampler", job(shots=100), None),
    ("estimator", job(primitive="estimator", observables=[{"ZZ": 1}, {"XX": 0.5}], precision=0.1), None),
    ("qpy", job(circuit={"qpy": base64.b64encode(b"QISKIT").decode()}), None),
    ("configmap", job(circuit={"configMapKeyRef": {"name": "c", "key": "k"}}), None),
    ("resources", job(resources={"requests": {"cpu": "500m"}, "limits": {"memory": "2Gi"}}), None),
    ("name-63", job("a" * 63), None),
    (
        "two-sources",
        job(circuit={"openqasm": BELL, "qpy": "UVBZ"}),
        "set exactly one of circuit.openqasm, circuit.qpy, circuit.configMapKeyRef or circuit.artifact",
    ),
    (
        "no-source",
        job(circuit={}),
        "set exactly one of circuit.openqasm, circuit.qpy, circuit.configMapKeyRef or circuit.artifact",
    ),
    (
        "estimator-shots",
        job(primitive="estimator", observables=[{"ZZ": 1}], shots=10),
        "spec.shots is for the sampler; the estimator takes spec.precision",
    ),
    (
        "sampler-precision",
        job(precision=0.1),
        "spec.precision is only for primitive estimator; the sampler takes spec.shots",
    ),
    ("resource-name", job(resources={"limits": {"gpu": "1"}}), "resource names are cpu, memory or ephemeral-storage"),
    ("name-64", job("a" * 64), "metadata.name must be a DNS label of at most 63 characters"),
    ("name-dots", job("my.job"), "metadata.name must be a DNS label"),
]


@pytest.mark.parametrize(("case", "document", "message"), CASES, ids=[c[0] for c in CASES])
def test_pydantic_says_the_same_thing(case: str, document: dict[str, Any], message: str | None) -> None:
    error = pydantic_error(document)
    if message is None:
        assert error is None, error
    elif message.startswith("metadata.name"):
        assert error is not None and "metadata.name" in error
    elif message.startswith("resource names"):
        assert error is not None and "is not one of cpu, memory, ephemeral-storage" in error
    else:
        assert error is not None and message in error


@pytest.mark.parametrize(("case", "document", "message"), CASES, ids=[c[0] for c in CASES])
def test_cel_rules_hold_on_fixtures(case: str, document: dict[str, Any], message: str | None) -> None:
    if not cel_available():
        pytest.skip("cel-python is not installed; test_rule_text covers the rules' text")
    errors = cel_errors(document, crd.qiskitjob_crd())
    if message is None:
        assert errors == []
    else:
        assert any(message in error for error in errors), errors


@pytest.mark.parametrize(
    ("change", "allowed"),
    [
        ({"suspend": True}, True),
        ({"shots": 2048}, False),
        ({"circuit": {"qpy": "UVBZ"}}, False),
        ({"backend": {"aer": {"seed": 1}}}, False),
        ({"retry": {"limit": 7}}, False),
        ({"activeDeadlineSeconds": 60}, False),
        ({"resources": {"limits": {"cpu": "4"}}}, False),
    ],
)
@pytest.mark.parametrize("started", [False, True])
def test_spec_is_immutable_once_started_except_suspend(change: dict[str, Any], allowed: bool, started: bool) -> None:
    if not cel_available():
        pytest.skip("cel-python is not installed; test_immutability_rule_text covers the rule's text")
    old = job(shots=1024)
    if started:
        old["status"] = {"phase": "Running", "workflowName": "bell-1a2b3c"}
    new = copy.deepcopy(old)
    new["spec"].update(change)
    errors = cel_errors(new, crd.qiskitjob_crd(), old=old)
    if allowed or not started:
        assert errors == []
    else:
        assert any("spec is immutable once the job has started" in error for error in errors), errors


def test_removing_a_field_after_start_is_a_change() -> None:
    if not cel_available():
        pytest.skip("cel-python is not installed")
    old = job(shots=1024)
    old["status"] = {"workflowName": "bell-1a2b3c"}
    errors = cel_errors(without(old, "shots"), crd.qiskitjob_crd(), old=old)
    assert any("immutable" in error for error in errors)


# --------------------------------------------------------------------------- the rules' text


def test_rule_text() -> None:
    found = rules()
    circuit = found["spec.circuit"][0]["rule"]
    for name in CircuitSource.model_fields:
        alias = CircuitSource.model_fields[name].alias or name
        assert f"has(self.{alias})" in circuit
    assert circuit.endswith("== 1")
    spec_rules = " ".join(r["rule"] for r in found["spec"])
    assert "!has(self.shots)" in spec_rules and "!has(self.precision)" in spec_rules
    assert "size(self.metadata.name) <= 63" in found[""][0]["rule"]
    for path in ("spec.resources.requests", "spec.resources.limits"):
        assert "'cpu', 'memory', 'ephemeral-storage'" in found[path][0]["rule"]
    every = [entry for entries in found.values() for entry in entries]
    assert len(every) == len(crd.CEL_RULES)
    for entry in every:
        assert entry["message"] and entry["reason"].startswith("Field")


def test_immutability_rule_text() -> None:
    rule = crd.immutability_rule().rule
    assert rule.startswith("!(has(oldSelf.status) && has(oldSelf.status.workflowName))")
    fields = {QiskitJobSpec.model_fields[n].alias or n for n in QiskitJobSpec.model_fields}
    compared = set(re.findall(r"self\.spec\.([A-Za-z]+) == oldSelf\.spec\.\1", rule))
    assert compared == fields - crd.MUTABLE_SPEC_FIELDS - crd.cel_invisible_fields()
    assert "suspend" not in rule
    assert crd.cel_invisible_fields() == frozenset()


def test_rules_only_mention_fields_cel_can_see() -> None:
    schema = crd_schema(crd.qiskitjob_crd())
    spec = schema["properties"]["spec"]
    for path, entries in rules().items():
        for entry in entries:
            for name in re.findall(r"self\.spec\.([A-Za-z]+)", entry["rule"]):
                assert name not in crd.cel_invisible_fields(), entry["rule"]
                assert name in spec["properties"]
            if path == "spec":
                for name in re.findall(r"self\.([A-Za-z]+)", entry["rule"]):
                    assert name in spec["properties"] and name not in crd.cel_invisible_fields()


# --------------------------------------------------------------------------- shorthands and patterns


def test_observables_and_bindings_are_typed_for_cel() -> None:
    """Kubernetes checks the shape of observables and bindings at apply time, as pydantic does."""
    spec = crd_schema(crd.qiskitjob_crd())["properties"]["spec"]["properties"]
    observable = {
        "type": "object",
        "minProperties": 1,
        "maxProperties": api.MAX_PAULI_TERMS,
        "additionalProperties": {"type": "number"},
    }
    assert spec["observables"]["items"] == observable
    row = {"type": "array", "maxItems": api.MAX_PARAMETERS, "items": {"type": "number"}}
    assert spec["parameterValues"]["items"] == row
    with pytest.raises(ValidationError):
        QiskitJobSpec.model_validate({"circuit": {"openqasm": BELL}, "primitive": "estimator", "observables": ["ZZ"]})
    with pytest.raises(ValidationError):
        QiskitJobSpec.model_validate({"circuit": {"openqasm": BELL}, "parameterValues": [{"theta": 0.2}]})


def _qpy_accepted(text: str) -> tuple[bool, bool]:
    node = crd_schema(crd.qiskitjob_crd())["properties"]["spec"]["properties"]["circuit"]["properties"]["qpy"]
    # The API server's regexps are Go's RE2: "$" is the end of the text (Python's "\\Z").
    by_crd = re.search(node["pattern"].replace("$", r"\Z"), text) is not None
    try:
        CircuitSource.model_validate({"qpy": text})
        by_pydantic = True
    except ValidationError:
        by_pydantic = False
    return by_crd, by_pydantic


@pytest.mark.parametrize(
    "text", ["", "UVBZ", "UVBZIQ==", "UVBZIDE=", "a+/b", base64.b64encode(bytes(range(256))).decode()]
)
def test_canonical_base64_is_accepted_by_both(text: str) -> None:
    assert _qpy_accepted(text) == (True, True)


@pytest.mark.parametrize(
    "text", ["UVBZ\n", "UVB", "UV=Z", "====", "Q@BZ", "UVBZIQ=", "UVBZIQ===", "UVBZ IQ==", "UVBZ-_"]
)
def test_broken_base64_is_rejected_by_both(text: str) -> None:
    assert _qpy_accepted(text) == (False, False)


def test_the_crd_never_accepts_qpy_the_validate_step_rejects() -> None:
    # Python also tolerates odd padding ("UVBZ=", "UVBZ===="); the CRD asks for canonical base64.
    for text in ["UVBZ=", "UVBZ====", "UVBZIDE==", "A", "AB", "ABC", "ABCD", "AB==", "ABC=", "A===", "AB=C"]:
        by_crd, by_pydantic = _qpy_accepted(text)
        assert by_pydantic or not by_crd, text


def test_printer_columns_point_into_the_schema() -> None:
    schema = crd_schema(crd.qiskitjob_crd())
    names = [column["name"] for column in crd.PRINTER_COLUMNS]
    assert names[:5] == ["Phase", "Backend", "Shots", "Age", "Message"]
    for column in crd.PRINTER_COLUMNS:
        node = schema
        parts = column["jsonPath"].lstrip(".").split(".")
        if parts[0] == "metadata":
            continue
        for part in parts:
            node = node["properties"][part]
        assert node["type"] == column["type"] or (column["type"] == "date" and node.get("format") == "date-time")


def test_crd_identity() -> None:
    resource = crd.qiskitjob_crd()
    names = resource["spec"]["names"]
    assert resource["metadata"]["name"] == "qiskitjobs.qiskit-argo.io"
    assert names["shortNames"] == ["qj"] and names["kind"] == "QiskitJob" and names["categories"]
    (version,) = resource["spec"]["versions"]
    assert version["subresources"] == {"status": {}}
    assert version["served"] and version["storage"]
