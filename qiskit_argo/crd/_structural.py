"""Pydantic JSON schema → Kubernetes *structural* schema, and the API server's null pruning.

Every ``$ref`` inlined, a type on every node, ``null`` branches dropped (an optional field is
simply not required), ``str | int`` as ``x-kubernetes-int-or-string``, maps as
``additionalProperties``, descriptions kept, titles and ``additionalProperties: false`` dropped
(the API server prunes and, with strict field validation, rejects unknown fields), JSON Schema
2020-12's numeric exclusive bounds as OpenAPI 3.0's booleans, and a field's ``crd_keywords``
(checks pydantic makes in validators) added. A union of different types that Kubernetes cannot
express becomes an untyped node with ``x-kubernetes-preserve-unknown-fields``, which CEL cannot
see (``cel_typed``); the API avoids them. Nothing here knows any kind.
"""

from __future__ import annotations

import copy
from typing import Any

from qiskit_argo.api import CRD_KEYWORDS

__all__ = ["KEYWORDS", "resolve", "convert", "at", "cel_typed", "prune"]

#: The validation keywords kept, in the order they are written.
KEYWORDS = (
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
)


def resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
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


def _crd_keywords(node: dict[str, Any], path: str) -> dict[str, Any]:
    extra: dict[str, Any] = node.get(CRD_KEYWORDS) or {}
    unknown = sorted(set(extra) - set(KEYWORDS))
    if unknown:
        raise ValueError(f"{path}: crd_keywords {', '.join(unknown)} are not among {', '.join(KEYWORDS)}")
    return {key: extra[key] for key in KEYWORDS if key in extra}


def convert(node: dict[str, Any], defs: dict[str, Any], path: str, *, defaults: bool) -> dict[str, Any]:
    """The structural schema of one pydantic JSON-schema node at dotted ``path`` (``[]`` = items,
    ``*`` = map values); ``defaults``: keep defaults (spec), or drop them (status)."""
    node = resolve(node, defs)
    out: dict[str, Any] = {}
    if "description" in node:
        out["description"] = " ".join(str(node["description"]).replace("``", "`").split())

    if "anyOf" in node:
        branches = [resolve(b, defs) for b in node["anyOf"] if b.get("type") != "null"]
        types = {b.get("type") for b in branches}
        if len(branches) == 1:
            merged = {**branches[0], **{k: v for k, v in node.items() if k not in ("anyOf", "default")}}
            if "default" in node and node["default"] is not None:
                merged["default"] = node["default"]
            return {**convert(merged, defs, path, defaults=defaults), **out}
        if types == {"string", "integer"}:
            out.update({"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]})
            out.update(_crd_keywords(node, path))
            if defaults and node.get("default") is not None:
                out["default"] = node["default"]
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
    for key in KEYWORDS:
        if key in node:
            out[key] = node[key]
    for key in ("exclusiveMinimum", "exclusiveMaximum"):
        if key in node:  # JSON Schema 2020-12 number -> OpenAPI 3.0 boolean
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = node[key]
            out[key] = True
    out.update(_crd_keywords(node, path))

    if kind == "object":
        properties = node.get("properties")
        extra = node.get("additionalProperties")
        if properties:
            out["properties"] = {
                name: convert(child, defs, f"{path}.{name}" if path else name, defaults=defaults)
                for name, child in properties.items()
            }
            if node.get("required"):
                out["required"] = list(node["required"])
        elif isinstance(extra, dict):
            out["additionalProperties"] = convert(extra, defs, f"{path}.*", defaults=defaults)
        elif extra is True:
            out["x-kubernetes-preserve-unknown-fields"] = True
    elif kind == "array" and "items" in node:
        out["items"] = convert(node["items"], defs, f"{path}[]", defaults=defaults)

    if defaults and "default" in node and node["default"] is not None:
        value = _strip_none(node["default"])
        if value not in ({}, []):
            out["default"] = value
    return out


def at(schema: dict[str, Any], path: str) -> dict[str, Any]:
    """The node at a dotted ``path`` of properties (``""`` = the root; ``name[]``: the items of
    the list ``name``, e.g. ``spec.pubs[].circuit``)."""
    node = schema
    for part in filter(None, path.split(".")):
        name, items = (part[:-2], True) if part.endswith("[]") else (part, False)
        node = node["properties"][name]
        if items:
            node = node["items"]
    return node


def cel_typed(node: dict[str, Any]) -> bool:
    """Whether CEL knows the type of values at ``node`` (an untyped node is opaque to it)."""
    if node.get("x-kubernetes-int-or-string"):
        return True
    if "type" not in node:
        return False
    if node["type"] == "array":
        return cel_typed(node.get("items", {}))
    if node["type"] == "object" and isinstance(node.get("additionalProperties"), dict):
        return cel_typed(node["additionalProperties"])
    return True


def _schema_for_field(key: str, node: dict[str, Any] | None) -> dict[str, Any] | None:
    if node is None:
        return None
    properties = node.get("properties", {})
    if key in properties:
        child: dict[str, Any] = properties[key]
        return child
    extra = node.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def prune(document: Any, node: dict[str, Any]) -> Any:
    """``document`` without the ``null`` values the API server removes before defaulting, against
    the structural schema ``node`` (see ``qiskit_argo.crd.prune_nulls``)."""
    if isinstance(document, dict):
        pruned = {}
        for key, value in document.items():
            child = _schema_for_field(key, node)
            if value is None and child is not None and not child.get("nullable"):
                if "default" in child:
                    pruned[key] = copy.deepcopy(child["default"])
                continue
            pruned[key] = prune(value, child) if child is not None else value
        return pruned
    if isinstance(document, list) and isinstance(node.get("items"), dict):
        return [prune(item, node["items"]) for item in document]
    return document
