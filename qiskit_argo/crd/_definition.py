"""One kind's CustomResourceDefinition: its schema, its CEL rules, its names and columns."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from qiskit_argo.api import KINDS, MAX_NAME_LENGTH, NAME_PATTERN, QISKIT_JOB, Kind, Rule, kind_named
from qiskit_argo.crd._structural import at, cel_typed, convert, prune, resolve

__all__ = [
    "LABELS",
    "openapi_schema",
    "cel_invisible_fields",
    "name_rule",
    "immutability_rule",
    "cel_rules",
    "prune_nulls",
    "definition",
    "all_crds",
]

#: Labels on every CRD of ours.
LABELS = {"app.kubernetes.io/part-of": "qiskit-argo", "app.kubernetes.io/managed-by": "qiskit-argo"}


@cache
def _schema(kind: Kind, with_rules: bool) -> dict[str, Any]:
    source = kind.model.model_json_schema(by_alias=True, mode="validation")
    defs = source.get("$defs", {})
    properties = resolve(source, defs)["properties"]
    schema: dict[str, Any] = {
        "type": "object",
        "description": kind.description,
        "properties": {
            "apiVersion": {"type": "string", "description": kind.api_version},
            "kind": {"type": "string", "description": kind.kind},
            "metadata": {"type": "object"},
            # Defaults belong to the spec; the status is written whole by the controller.
            "spec": convert(properties["spec"], defs, "spec", defaults=True),
            "status": convert(properties["status"], defs, "status", defaults=False),
        },
        "required": ["spec"],
    }
    for path, keys in kind.list_map_keys:
        node = at(schema, path)
        node["x-kubernetes-list-type"] = "map"
        node["x-kubernetes-list-map-keys"] = list(keys)
    if with_rules:
        for rule in cel_rules(kind):
            at(schema, rule.path).setdefault("x-kubernetes-validations", []).append(rule.entry())
    return schema


def openapi_schema(*, with_rules: bool = True, kind: Kind = QISKIT_JOB) -> dict[str, Any]:
    """The CRD's structural ``openAPIV3Schema`` (a fresh copy)."""
    return copy.deepcopy(_schema(kind, with_rules))


@cache
def cel_invisible_fields(kind: Kind = QISKIT_JOB) -> frozenset[str]:
    """Spec fields whose schema CEL cannot type (untyped unions), so no rule may mention them."""
    spec = _schema(kind, False)["properties"]["spec"]["properties"]
    return frozenset(name for name, node in spec.items() if not cel_typed(node))


def name_rule(kind: Kind = QISKIT_JOB) -> Rule:
    """The name is a DNS label (``_Resource``'s validator, with its words)."""
    return Rule(
        path="",
        rule=f"size(self.metadata.name) <= {MAX_NAME_LENGTH} && self.metadata.name.matches('{NAME_PATTERN}')",
        message=(
            f"metadata.name must be a DNS label of at most {MAX_NAME_LENGTH} characters "
            f"(lowercase letters, digits, '-'): {kind.model.name_reason}"
        ),
        # No fieldPath: the API server resolves it against the schema, where metadata has no fields.
    )


def immutability_rule(kind: Kind = QISKIT_JOB) -> Rule:
    """Once ``status.<started_by>`` is set, every spec field but the mutable ones keeps its value."""
    if kind.mutable_spec_fields is None:
        raise ValueError(f"{kind.kind}'s spec stays editable: it has no immutability rule")
    mutable = kind.mutable_spec_fields
    clauses = []
    for alias in _schema(kind, False)["properties"]["spec"]["properties"]:
        if alias in mutable or alias in cel_invisible_fields(kind):
            continue
        new, old = f"self.spec.{alias}", f"oldSelf.spec.{alias}"
        clauses.append(f"(has({new}) ? has({old}) && {new} == {old} : !has({old}))")
    started = f"has(oldSelf.status) && has(oldSelf.status.{kind.started_by})"
    allowed = f"; only {' and '.join(f'spec.{name}' for name in sorted(mutable))} may change" if mutable else ""
    return Rule(
        path="",
        rule=f"!({started}) || (" + (" && ".join(clauses) or "true") + ")",
        message=f"spec is immutable once the {kind.noun} has started (status.{kind.started_by} is set){allowed}",
        reason="FieldValueForbidden",
    )


def cel_rules(kind: Kind = QISKIT_JOB) -> list[Rule]:
    """Every CEL rule of the kind's CRD, in order: the name, the frozen spec, then the kind's own."""
    frozen = [immutability_rule(kind)] if kind.mutable_spec_fields is not None else []
    return [name_rule(kind), *frozen, *kind.rules]


def prune_nulls(document: Any, node: dict[str, Any] | None = None) -> Any:
    """``document`` without the ``null`` values the API server removes before defaulting: a null
    field whose schema is neither nullable nor defaulted is dropped, a defaulted one takes its
    default (``PruneNonNullableNullsWithoutDefaults`` and ``Default`` in apiextensions-apiserver's
    ``pkg/apiserver/schema/defaulting``). Nulls where the schema says nothing (``metadata``'s
    fields, unknown fields) stay, for the checks that follow. Works on a copy of the containers.

    Without ``node``, the schema is that of the registered kind the document names (QiskitJob's
    when it names none)."""
    if node is None:
        named = kind_named(document.get("kind")) if isinstance(document, dict) else None
        node = _schema(named or QISKIT_JOB, False)
    return prune(document, node)


def definition(kind: Kind = QISKIT_JOB) -> dict[str, Any]:
    """The ``apiextensions.k8s.io/v1`` CustomResourceDefinition of ``kind``."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": kind.crd_name, "labels": dict(LABELS)},
        "spec": {
            "group": kind.group,
            "scope": kind.scope,
            "names": {
                "kind": kind.kind,
                "listKind": kind.list_kind,
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": list(kind.categories),
            },
            "versions": [
                {
                    "name": kind.version,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": openapi_schema(kind=kind)},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [column.entry() for column in kind.printer_columns],
                }
            ],
        },
    }


def all_crds() -> list[dict[str, Any]]:
    """The CustomResourceDefinition of every registered kind, in ``KINDS`` order."""
    return [definition(kind) for kind in KINDS]
