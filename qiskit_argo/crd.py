"""The QiskitJob CustomResourceDefinition, generated from the pydantic models in ``qiskit_argo.api``.

The pydantic JSON schema becomes a *structural* ``openAPIV3Schema``: every ``$ref`` inlined, a
type on every node, ``null`` branches dropped (an optional field is simply not required),
``str | int`` as ``x-kubernetes-int-or-string`` (with the quantity pattern for resources), maps as
``additionalProperties``, descriptions kept, titles and ``additionalProperties: false`` dropped
(the API server prunes and, with strict field validation, rejects unknown fields). A union of
different types that Kubernetes cannot express would become an untyped node with
``x-kubernetes-preserve-unknown-fields``, which CEL cannot see; the API avoids them, and
``cel_invisible_fields`` keeps the rules honest if one appears.

The cross-field rules of the pydantic validators are repeated as CEL ``x-kubernetes-validations``
with the same messages (``CEL_RULES``); the spec-immutability rule is generated from the fields of
``QiskitJobSpec``.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from pydantic import BaseModel

from qiskit_argo import api
from qiskit_argo.api import (
    GROUP,
    KIND,
    PLURAL,
    SHORT_NAMES,
    SINGULAR,
    VERSION,
    CircuitSource,
    QiskitJob,
    QiskitJobSpec,
)

__all__ = [
    "CRD_NAME",
    "CATEGORIES",
    "MUTABLE_SPEC_FIELDS",
    "PRINTER_COLUMNS",
    "Rule",
    "CEL_RULES",
    "cel_invisible_fields",
    "immutability_rule",
    "openapi_schema",
    "prune_nulls",
    "qiskitjob_crd",
]

CRD_NAME = f"{PLURAL}.{GROUP}"
CATEGORIES = ["qiskit", "qiskit-argo"]
#: The only spec fields a running job accepts changes to.
MUTABLE_SPEC_FIELDS = frozenset({"suspend"})
_QUANTITY_MAPS = ("spec.resources.requests", "spec.resources.limits")
_RESOURCE_NAMES = ("cpu", "memory", "ephemeral-storage")
# base64.b64decode(validate=True) accepts exactly this: the alphabet in groups of four, padded.
_BASE64 = r"^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
#: Extra schema keywords, by path, for checks pydantic makes in validators rather than in its schema.
_EXTRA: dict[str, dict[str, Any]] = {"spec.circuit.qpy": {"pattern": _BASE64}}
PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase", "description": "Where the job is."},
    {"name": "Backend", "type": "string", "jsonPath": ".status.backend.name", "description": "Chosen backend."},
    {"name": "Shots", "type": "integer", "jsonPath": ".spec.shots", "description": "Shots per binding (sampler)."},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {"name": "Message", "type": "string", "jsonPath": ".status.message", "description": "What happened."},
    {"name": "Primitive", "type": "string", "jsonPath": ".spec.primitive", "priority": 1},
    {"name": "Qubits", "type": "integer", "jsonPath": ".status.circuit.numQubits", "priority": 1},
    {"name": "Workflow", "type": "string", "jsonPath": ".status.workflowName", "priority": 1},
]


# --------------------------------------------------------------------------- CEL rules


class Rule(BaseModel):
    """One ``x-kubernetes-validations`` entry and where it lives (a dotted path, ``""`` = root)."""

    path: str
    rule: str
    message: str
    reason: str = "FieldValueInvalid"
    field_path: str | None = None

    def entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"rule": self.rule, "message": self.message, "reason": self.reason}
        if self.field_path:
            entry["fieldPath"] = self.field_path
        return entry


def _alias(model: type[BaseModel], name: str) -> str:
    alias = model.model_fields[name].alias
    return alias or name


def _exactly_one_circuit() -> Rule:
    fields = [_alias(CircuitSource, name) for name in CircuitSource.model_fields]
    count = " + ".join(f"(has(self.{name}) ? 1 : 0)" for name in fields)
    # Same words as CircuitSource._exactly_one.
    names = [f"circuit.{name}" for name in fields]
    message = f"set exactly one of {', '.join(names[:-1])} or {names[-1]}"
    return Rule(path="spec.circuit", rule=f"{count} == 1", message=message)


def _primitive_rules() -> list[Rule]:
    # Same words as QiskitJobSpec._primitive_fields (the parts CEL can see).
    estimator = "has(self.primitive) && self.primitive == 'estimator'"
    return [
        Rule(
            path="spec",
            rule=f"!({estimator}) || (has(self.observables) && size(self.observables) > 0)",
            message="primitive estimator needs spec.observables (e.g. [{ZZ: 1}, {XX: 1}])",
            field_path=".observables",
        ),
        Rule(
            path="spec",
            rule=f"{estimator} || !has(self.observables)",
            message="spec.observables is only for primitive estimator",
            field_path=".observables",
        ),
        Rule(
            path="spec",
            rule=f"!({estimator}) || !has(self.shots)",
            message="spec.shots is for the sampler; the estimator takes spec.precision",
            field_path=".shots",
        ),
        Rule(
            path="spec",
            rule=f"{estimator} || !has(self.precision)",
            message="spec.precision is only for primitive estimator; the sampler takes spec.shots",
            field_path=".precision",
        ),
    ]


def _circuit_bytes_rule() -> Rule:
    # maxLength counts characters; etcd and the Workflow that carries the job count bytes.
    limit = api.MAX_INLINE_CIRCUIT
    return Rule(
        path="spec.circuit",
        rule=f"!has(self.openqasm) || size(bytes(self.openqasm)) <= {limit}",
        message=(
            f"circuit.openqasm holds more than {limit} bytes of UTF-8; "
            "put a bigger circuit in a ConfigMap (circuit.configMapKeyRef)"
        ),
        field_path=".openqasm",
    )


def _resource_name_rules() -> list[Rule]:
    allowed = ", ".join(f"'{name}'" for name in _RESOURCE_NAMES)
    return [
        Rule(
            path=path,
            rule=f"self.all(name, name in [{allowed}])",
            message=f"resource names are {', '.join(_RESOURCE_NAMES[:-1])} or {_RESOURCE_NAMES[-1]}",
        )
        for path in _QUANTITY_MAPS
    ]


def _name_rule() -> Rule:
    regex, limit = api.NAME_PATTERN, api.MAX_NAME_LENGTH
    return Rule(
        path="",
        rule=f"size(self.metadata.name) <= {limit} && self.metadata.name.matches('{regex}')",
        message=(
            f"metadata.name must be a DNS label of at most {limit} characters (lowercase letters, digits, '-'): "
            "it becomes a label value and the stem of the Workflow name"
        ),
        # No fieldPath: the API server resolves it against the schema, where metadata has no fields.
    )


@cache
def cel_invisible_fields() -> frozenset[str]:
    """Spec fields whose schema CEL cannot type (untyped unions), so no rule may mention them."""
    spec = openapi_schema(with_rules=False)["properties"]["spec"]["properties"]
    return frozenset(name for name, node in spec.items() if not _cel_typed(node))


def _cel_typed(node: dict[str, Any]) -> bool:
    if node.get("x-kubernetes-int-or-string"):
        return True
    if "type" not in node:
        return False
    if node["type"] == "array":
        return _cel_typed(node.get("items", {}))
    if node["type"] == "object" and isinstance(node.get("additionalProperties"), dict):
        return _cel_typed(node["additionalProperties"])
    return True


def immutability_rule() -> Rule:
    """Once ``status.workflowName`` is set, every spec field but ``suspend`` keeps its value."""
    clauses = []
    for name in QiskitJobSpec.model_fields:
        alias = _alias(QiskitJobSpec, name)
        if alias in MUTABLE_SPEC_FIELDS or alias in cel_invisible_fields():
            continue
        new, old = f"self.spec.{alias}", f"oldSelf.spec.{alias}"
        clauses.append(f"(has({new}) ? has({old}) && {new} == {old} : !has({old}))")
    started = "has(oldSelf.status) && has(oldSelf.status.workflowName)"
    return Rule(
        path="",
        rule=f"!({started}) || (" + " && ".join(clauses) + ")",
        message="spec is immutable once the job has started (status.workflowName is set); only spec.suspend may change",
        reason="FieldValueForbidden",
    )


def _rules() -> list[Rule]:
    return [
        _name_rule(),
        immutability_rule(),
        *_primitive_rules(),
        _exactly_one_circuit(),
        _circuit_bytes_rule(),
        *_resource_name_rules(),
    ]


#: Every CEL rule of the CRD; ``tests/unit/test_crd.py`` evaluates them against fixtures.
CEL_RULES: list[Rule] = []


# --------------------------------------------------------------------------- schema conversion


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Inline ``$ref`` (keeping the referring node's description and default)."""
    if "$ref" not in node:
        return node
    target = copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[-1]])
    rest = {key: value for key, value in node.items() if key != "$ref"}
    return {**target, **rest}


def _strip_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_none(v) for v in value]
    return value


def _convert(node: dict[str, Any], defs: dict[str, Any], path: str, defaults: bool) -> dict[str, Any]:
    node = _resolve(node, defs)
    out: dict[str, Any] = {}
    if "description" in node:
        out["description"] = " ".join(str(node["description"]).replace("``", "`").split())

    if "anyOf" in node:
        branches = [_resolve(b, defs) for b in node["anyOf"] if b.get("type") != "null"]
        types = {b.get("type") for b in branches}
        if len(branches) == 1:
            merged = {**branches[0], **{k: v for k, v in node.items() if k not in ("anyOf", "default")}}
            if "default" in node and node["default"] is not None:
                merged["default"] = node["default"]
            return {**_convert(merged, defs, path, defaults), **out}
        if types == {"string", "integer"}:
            out.update({"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]})
            if path.rsplit(".", 1)[0] in _QUANTITY_MAPS:
                # pattern checks the string form, minimum the integer form: neither may be negative.
                out["pattern"] = api.QUANTITY_PATTERN
                out["minimum"] = 0
            return out
        forms = " or ".join(sorted(str(t) for t in types))
        out["description"] = (out.get("description", "") + f" (accepts {forms})").strip()
        out["x-kubernetes-preserve-unknown-fields"] = True
        return out

    if "const" in node:
        out.update({"type": node.get("type", "string"), "enum": [node["const"]]})
        return out

    kind = node.get("type")
    if kind is None and "enum" in node:
        kind = "string"
    if kind is not None:
        out["type"] = kind
    for key in (
        "format",
        "pattern",
        "enum",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "minProperties",
        "maxProperties",
    ):
        if key in node:
            out[key] = node[key]
    for key in ("exclusiveMinimum", "exclusiveMaximum"):
        if key in node:  # JSON Schema 2020-12 number -> OpenAPI 3.0 boolean
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = node[key]
            out[key] = True
    out.update(_EXTRA.get(path, {}))

    if kind == "object":
        properties = node.get("properties")
        extra = node.get("additionalProperties")
        if properties:
            out["properties"] = {
                name: _convert(child, defs, f"{path}.{name}" if path else name, defaults)
                for name, child in properties.items()
            }
            if node.get("required"):
                out["required"] = list(node["required"])
        elif isinstance(extra, dict):
            out["additionalProperties"] = _convert(extra, defs, f"{path}.*", defaults)
        elif extra is True:
            out["x-kubernetes-preserve-unknown-fields"] = True
    elif kind == "array" and "items" in node:
        out["items"] = _convert(node["items"], defs, f"{path}[]", defaults)

    if defaults and "default" in node and node["default"] is not None:
        value = _strip_none(node["default"])
        if value not in ({}, []):
            out["default"] = value
    return out


def _at(schema: dict[str, Any], path: str) -> dict[str, Any]:
    node = schema
    for part in filter(None, path.split(".")):
        node = node["properties"][part]
    return node


@cache
def _schema(with_rules: bool) -> dict[str, Any]:
    source = QiskitJob.model_json_schema(by_alias=True, mode="validation")
    defs = source.get("$defs", {})
    root = _resolve(source, defs)
    properties = root["properties"]
    schema: dict[str, Any] = {
        "type": "object",
        "description": "A quantum job: one circuit, run by one primitive on one backend, as an Argo Workflow.",
        "properties": {
            "apiVersion": {"type": "string", "description": "qiskit-argo.io/v1alpha1"},
            "kind": {"type": "string", "description": "QiskitJob"},
            "metadata": {"type": "object"},
            "spec": _convert(properties["spec"], defs, "spec", defaults=True),
            "status": _convert(properties["status"], defs, "status", defaults=False),
        },
        "required": ["spec"],
    }
    conditions = _at(schema, "status.conditions")
    conditions["x-kubernetes-list-type"] = "map"
    conditions["x-kubernetes-list-map-keys"] = ["type"]
    if with_rules:
        for rule in _rules():
            _at(schema, rule.path).setdefault("x-kubernetes-validations", []).append(rule.entry())
    return schema


def _schema_for_field(key: str, node: dict[str, Any] | None) -> dict[str, Any] | None:
    if node is None:
        return None
    properties = node.get("properties", {})
    if key in properties:
        child: dict[str, Any] = properties[key]
        return child
    extra = node.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def prune_nulls(document: Any, node: dict[str, Any] | None = None) -> Any:
    """``document`` without the ``null`` values the API server removes before defaulting: a null
    field whose schema is neither nullable nor defaulted is dropped, a defaulted one takes its
    default (``PruneNonNullableNullsWithoutDefaults`` and ``Default`` in apiextensions-apiserver's
    ``pkg/apiserver/schema/defaulting``). Nulls where the schema says nothing (``metadata``'s
    fields, unknown fields) stay, for the checks that follow. Works on a copy of the containers."""
    node = _schema(False) if node is None else node
    if isinstance(document, dict):
        pruned = {}
        for key, value in document.items():
            child = _schema_for_field(key, node)
            if value is None and child is not None and not child.get("nullable"):
                if "default" in child:
                    pruned[key] = copy.deepcopy(child["default"])
                continue
            pruned[key] = prune_nulls(value, child) if child is not None else value
        return pruned
    if isinstance(document, list) and isinstance(node.get("items"), dict):
        return [prune_nulls(item, node["items"]) for item in document]
    return document


def openapi_schema(*, with_rules: bool = True) -> dict[str, Any]:
    """The CRD's structural ``openAPIV3Schema`` (a fresh copy)."""
    return copy.deepcopy(_schema(with_rules))


def qiskitjob_crd() -> dict[str, Any]:
    """The ``apiextensions.k8s.io/v1`` CustomResourceDefinition of QiskitJob."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": CRD_NAME,
            "labels": {"app.kubernetes.io/part-of": "qiskit-argo", "app.kubernetes.io/managed-by": "qiskit-argo"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": list(SHORT_NAMES),
                "categories": list(CATEGORIES),
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": openapi_schema()},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": copy.deepcopy(PRINTER_COLUMNS),
                }
            ],
        },
    }


CEL_RULES.extend(_rules())
