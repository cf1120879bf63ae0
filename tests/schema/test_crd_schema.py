"""The generated CRD is a valid, structural apiextensions.k8s.io/v1 object, and the examples fit it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from qiskit_argo import api
from qiskit_argo.generate import CRD_FILE, crd_file
from tests.support.schemas import (
    SchemaError,
    apply_defaults,
    cel_available,
    crd_errors,
    crd_schema,
    k8s_errors,
    validate_against_crd,
    validate_k8s,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))


@pytest.fixture(scope="module")
def crd() -> dict[str, Any]:
    """The CRD as checked in (the golden test keeps it equal to its source)."""
    document: dict[str, Any] = yaml.safe_load((REPO / CRD_FILE).read_text())
    return document


@pytest.fixture(params=api.KINDS, ids=lambda kind: kind.kind)
def kind_crd(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Each registered kind's CRD as checked in."""
    document: dict[str, Any] = yaml.safe_load((REPO / crd_file(request.param)).read_text())
    return document


def example_jobs() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{path.stem}/{doc['metadata']['name']}", doc)
        for path in EXAMPLES
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("kind") == "QiskitJob"
    ]


def bell() -> dict[str, Any]:
    return copy.deepcopy(dict(example_jobs())["bell/bell"])


# --------------------------------------------------------------------------- the CRD itself


@pytest.mark.parametrize("use_kubernetes_validate", [True, False], ids=["kubernetes-validate", "swagger-1.36"])
def test_crd_is_a_valid_apiextensions_v1_object(kind_crd: dict[str, Any], use_kubernetes_validate: bool) -> None:
    validate_k8s(kind_crd, use_kubernetes_validate=use_kubernetes_validate)


@pytest.mark.parametrize("use_kubernetes_validate", [True, False], ids=["kubernetes-validate", "swagger-1.36"])
def test_a_misspelled_crd_field_fails(crd: dict[str, Any], use_kubernetes_validate: bool) -> None:
    broken = copy.deepcopy(crd)
    broken["spec"]["versions"][0]["subresource"] = {"status": {}}
    errors = k8s_errors(broken, use_kubernetes_validate=use_kubernetes_validate)
    assert any("subresource" in error for error in errors), errors


def _nodes(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = [(path or "(root)", node)]
    for name, child in node.get("properties", {}).items():
        found += _nodes(child, f"{path}.{name}")
    if isinstance(node.get("additionalProperties"), dict):
        found += _nodes(node["additionalProperties"], f"{path}.*")
    if isinstance(node.get("items"), dict):
        found += _nodes(node["items"], f"{path}[]")
    return found


def test_schema_is_structural(kind_crd: dict[str, Any]) -> None:
    schema = crd_schema(kind_crd)
    assert schema["properties"]["metadata"] == {"type": "object"}
    for path, node in _nodes(schema):
        assert not {"$ref", "$defs", "definitions", "const", "title"} & set(node), path
        if node.get("x-kubernetes-int-or-string"):
            assert "type" not in node and node["anyOf"] == [{"type": "integer"}, {"type": "string"}], path
            continue
        assert "anyOf" not in node and "oneOf" not in node and "allOf" not in node, path
        if "type" not in node:
            assert node.get("x-kubernetes-preserve-unknown-fields") is True, f"{path} has no type"
            continue
        assert not ("properties" in node and "additionalProperties" in node), path
        assert node.get("additionalProperties") is not False, path
        for key in ("exclusiveMinimum", "exclusiveMaximum"):
            assert isinstance(node.get(key, True), bool), f"{path}: {key} must be a boolean in OpenAPI v3.0"
        if node["type"] == "array":
            assert "items" in node, path
        assert "nullable" not in node, path


def test_defaults_are_valid_values(kind_crd: dict[str, Any]) -> None:
    for path, node in _nodes(crd_schema(kind_crd)):
        if "default" not in node:
            continue
        bare = {k: v for k, v in node.items() if k not in ("default", "x-kubernetes-validations")}
        plain = {k: v for k, v in bare.items() if not k.startswith("x-kubernetes-")}
        jsonschema.Draft4Validator(plain).validate(node["default"])
        assert path.startswith(".spec"), f"{path}: status is written whole by the controller; no defaults there"


def _fields(node: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    """Every field under ``node``: its properties, recursively, also inside list items and map values."""
    found = []
    for name, child in node.get("properties", {}).items():
        found.append((f"{path}.{name}", child))
        found += _fields(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        found += _fields(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        found += _fields(node["additionalProperties"], f"{path}.*")
    return found


def test_every_field_has_a_description(kind_crd: dict[str, Any]) -> None:
    """``kubectl explain <kind>.spec`` and ``<kind>.status`` explain every field, however deep."""
    schema = crd_schema(kind_crd)
    assert schema.get("description"), "the kind has no description"
    undescribed = []
    for part in ("spec", "status"):
        node = schema["properties"][part]
        for path, child in [(part, node), *_fields(node, part)]:
            if not str(child.get("description", "")).strip():
                undescribed.append(path)
    assert not undescribed, f"{len(undescribed)} fields have no description: {', '.join(undescribed)}"


def test_a_field_without_a_description_is_found() -> None:
    schema = {"properties": {"spec": {"properties": {"a": {"description": "A.", "items": {"properties": {"b": {}}}}}}}}
    undescribed = [path for path, node in _fields(schema["properties"]["spec"], "spec") if not node.get("description")]
    assert undescribed == ["spec.a[].b"]


# --------------------------------------------------------------------------- custom resources against it


@pytest.mark.parametrize(("name", "document"), example_jobs(), ids=[n for n, _ in example_jobs()])
def test_every_example_fits_the_crd(crd: dict[str, Any], name: str, document: dict[str, Any]) -> None:
    validate_against_crd(document, crd)


def _edit(change: Any) -> dict[str, Any]:
    document = bell()
    change(document)
    return document


BAD: list[tuple[str, Any, str, bool]] = [
    ("unknown-field", lambda d: d["spec"].update(shotz=5), "shotz", False),
    ("unknown-nested-field", lambda d: d["spec"]["backend"]["aer"].update(sed=1), "sed", False),
    ("shots-zero", lambda d: d["spec"].update(shots=0), "minimum", False),
    ("shots-string", lambda d: d["spec"].update(shots="many"), "integer", False),
    ("bad-primitive", lambda d: d["spec"].update(primitive="sampler2"), "sampler2", False),
    ("bad-method", lambda d: d["spec"]["backend"]["aer"].update(method="gpu"), "gpu", False),
    ("bad-noise-model", lambda d: d["spec"]["backend"]["aer"].update(noiseModel="Manila"), "Manila", False),
    ("bad-duration", lambda d: d["spec"].update(retry={"backoff": {"duration": "soon"}}), "soon", False),
    ("bad-quantity", lambda d: d["spec"].update(resources={"limits": {"memory": "lots"}}), "lots", False),
    ("float-quantity", lambda d: d["spec"].update(resources={"limits": {"cpu": 0.5}}), "0.5", False),
    ("precision-zero", lambda d: d["spec"].update(precision=0), "minimum", False),
    ("wrong-api-version", lambda d: d.update(apiVersion="qiskit-argo.io/v1"), "not served", False),
    ("wrong-kind", lambda d: d.update(kind="QuantumJob"), "QuantumJob", False),
    ("no-spec", lambda d: d.pop("spec"), "spec", False),
    (
        "two-circuit-sources",
        lambda d: d["spec"]["circuit"].update(qpy="UVBZ"),
        "set exactly one of circuit.openqasm, circuit.qpy, circuit.configMapKeyRef or circuit.artifact",
        True,
    ),
    (
        "sampler-with-precision",
        lambda d: d["spec"].update(precision=0.1),
        "spec.precision is only for primitive estimator",
        True,
    ),
    ("long-name", lambda d: d["metadata"].update(name="q" * 64), "metadata.name must be a DNS label", True),
]


@pytest.mark.parametrize(("case", "change", "expected", "needs_cel"), BAD, ids=[b[0] for b in BAD])
def test_bad_jobs_fail(crd: dict[str, Any], case: str, change: Any, expected: str, needs_cel: bool) -> None:
    if needs_cel and not cel_available():
        pytest.skip("cel-python is not installed; the rule's text is tested in tests/unit/test_crd.py")
    with pytest.raises(SchemaError) as raised:
        validate_against_crd(_edit(change), crd)
    assert any(expected in error for error in raised.value.errors), raised.value.errors


def test_int_or_string_quantities(crd: dict[str, Any]) -> None:
    for value in (2, "2", "500m", "4Gi", "1e3"):
        document = _edit(lambda d, v=value: d["spec"].update(resources={"requests": {"cpu": v}}))
        assert crd_errors(document, crd, cel=False) == [], value


def test_defaults_are_applied_as_the_api_server_would(crd: dict[str, Any]) -> None:
    defaulted = apply_defaults(bell(), crd_schema(crd))
    spec = defaulted["spec"]
    assert spec["primitive"] == "sampler" and spec["optimizationLevel"] == 1 and spec["suspend"] is False
    assert spec["retry"] == {"limit": 2, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}}
    assert spec["backend"]["aer"] == {"method": "automatic", "seed": 1234, "device": "CPU"}
    assert spec["execution"] == {"shards": 1, "cache": True}


def test_status_validates(crd: dict[str, Any]) -> None:
    document = bell()
    document["status"] = {
        "phase": "Succeeded",
        "workflowName": "bell-1a2b3c",
        "observedGeneration": 1,
        "conditions": [
            {"type": "Succeeded", "status": "True", "reason": "Completed", "lastTransitionTime": "2026-01-01T00:00:00Z"}
        ],
        "circuit": {"numQubits": 2, "depth": 3, "size": 4, "countOps": {"h": 1, "cx": 1}},
        "backend": {"name": "aer", "method": "stabilizer"},
        "result": {"primitive": "sampler", "numPubs": 1, "shots": 1024, "topCounts": {"00": 510, "11": 514}},
    }
    validate_against_crd(document, crd)
    document["status"]["phase"] = "Done"
    assert any("Done" in error for error in crd_errors(document, crd))


def test_update_after_start_is_checked(crd: dict[str, Any]) -> None:
    if not cel_available():
        pytest.skip("cel-python is not installed")
    old = bell()
    old["status"] = {"workflowName": "bell-1a2b3c"}
    resumed = copy.deepcopy(old)
    resumed["spec"]["suspend"] = True
    validate_against_crd(resumed, crd, old=old)
    changed = copy.deepcopy(old)
    changed["spec"]["shots"] = 1
    with pytest.raises(SchemaError, match="immutable"):
        validate_against_crd(changed, crd, old=old)
