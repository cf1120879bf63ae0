"""What a Kubernetes API server with our CRD answers to ``kubectl apply`` of a QiskitJob, offline.

An edge we cannot reach here (no kube-apiserver on this machine), so this follows the real code
step by step, each step citing it:

1. ``apiVersion``/``kind`` route the request (a CR of another kind is another resource).
2. Decoding ``metadata`` into ``metav1.ObjectMeta`` with strict field validation
   (kubectl's default ``--validate=strict``): unknown fields and wrong JSON types are errors;
   ``null`` is Go's zero value.
3. ``BeforeCreate`` (k8s.io/apiserver/pkg/registry/rest/create.go): ``generateName`` gets five
   random characters; ``PrepareForCreate`` (apiextensions-apiserver
   pkg/registry/customresource/strategy.go) deletes ``status``.
4. ``PruneNonNullableNullsWithoutDefaults`` then ``Default`` (apiextensions-apiserver
   pkg/apiserver/schema/defaulting/{prunenulls,algorithm}.go).
5. The structural schema, unknown fields refused (``tests.support.schemas.crd_errors``), then the
   ``x-kubernetes-validations`` CEL rules (cel-python).
6. ``ValidateObjectMetaAccessor`` with ``NameIsDNSSubdomain`` (k8s.io/apimachinery
   pkg/api/validation/objectmeta.go, pkg/util/validation/validation.go,
   pkg/apis/meta/v1/validation/validation.go).

Written apart from ``qiskit_argo.objectmeta``/``qiskit_argo.wire`` on purpose: the differential
test compares the two.
"""

from __future__ import annotations

import copy
import math
import re
from typing import Any

from tests.support.schemas import cel_available, cel_errors, crd_errors, crd_schema

__all__ = ["create_errors"]

_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = f"{_LABEL}(\\.{_LABEL})*"
_QNAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = f"({_QNAME})?"
_RFC3339 = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})"

_STRING_FIELDS = {"name", "generateName", "namespace", "selfLink", "uid", "resourceVersion"}
_TIME_FIELDS = {"creationTimestamp", "deletionTimestamp"}
_INT_FIELDS = {"generation", "deletionGracePeriodSeconds"}
_MAP_FIELDS = {"labels", "annotations"}
_LIST_FIELDS = {"ownerReferences", "finalizers", "managedFields"}
_OWNER_STRINGS = {"apiVersion", "kind", "name", "uid"}
_OWNER_BOOLS = {"controller", "blockOwnerDeletion"}


def _nbytes(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --------------------------------------------------------------------------- kubectl's JSON


def _kubectl_json(value: Any) -> Any:
    """YAML → JSON as sigs.k8s.io/yaml writes it: a float64 with an integral value prints as an
    integer (Go's ``strconv.FormatFloat(f, 'g'...)`` in encoding/json for |f| < 1e21)."""
    if isinstance(value, dict):
        return {key: _kubectl_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_kubectl_json(item) for item in value]
    if isinstance(value, float) and math.isfinite(value) and value == int(value) and abs(value) < 1e21:
        # Plain digits; the API server's JSON decoder makes an int64 of them when they fit.
        return int(value) if -(2**63) <= int(value) < 2**63 else value
    return value


# --------------------------------------------------------------------------- ObjectMeta


def _decode_metadata(meta: Any) -> tuple[dict[str, Any], list[str]]:
    """``json.Unmarshal`` into ``metav1.ObjectMeta``, strictly."""
    if meta is None:
        return {}, []
    if not isinstance(meta, dict):
        return {}, ["metadata: cannot unmarshal into ObjectMeta"]
    decoded: dict[str, Any] = {}
    errors = []
    for key, value in meta.items():
        if value is None:
            continue
        if key in _STRING_FIELDS:
            ok = isinstance(value, str)
        elif key in _TIME_FIELDS:
            ok = isinstance(value, str) and bool(re.fullmatch(_RFC3339, value))
        elif key in _INT_FIELDS:
            ok = _is_int(value) and -(2**63) <= value < 2**63
        elif key in _MAP_FIELDS:
            ok = isinstance(value, dict) and all(v is None or isinstance(v, str) for v in value.values())
            if ok:
                value = {k: "" if v is None else v for k, v in value.items()}
        elif key == "finalizers":
            ok = isinstance(value, list) and all(v is None or isinstance(v, str) for v in value)
            if ok:
                value = ["" if v is None else v for v in value]
        elif key == "ownerReferences":
            ok = isinstance(value, list) and all(_owner_reference_ok(v) for v in value)
        elif key == "managedFields":
            ok = isinstance(value, list) and all(isinstance(v, dict) for v in value)
        else:
            errors.append(f'unknown field "metadata.{key}"')
            continue
        if not ok:
            errors.append(f"metadata.{key}: cannot unmarshal")
        else:
            decoded[key] = value
    return decoded, errors


def _owner_reference_ok(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    for key, item in value.items():
        if item is None:
            continue
        if key in _OWNER_STRINGS:
            if not isinstance(item, str):
                return False
        elif key in _OWNER_BOOLS:
            if not isinstance(item, bool):
                return False
        else:
            return False
    return True


def _subdomain(value: str) -> bool:
    return _nbytes(value) <= 253 and re.fullmatch(_SUBDOMAIN, value) is not None


def _qualified_name(value: str) -> bool:
    parts = value.split("/")
    if len(parts) > 2:
        return False
    if len(parts) == 2 and not (parts[0] and _subdomain(parts[0])):
        return False
    name = parts[-1]
    return bool(name) and _nbytes(name) <= 63 and re.fullmatch(_QNAME, name) is not None


def _validate_metadata(meta: dict[str, Any]) -> list[str]:
    errors = []
    prefix = meta.get("generateName", "")
    if prefix:
        masked = prefix[:-1] + "a" if len(prefix) > 1 and prefix.endswith("-") else prefix
        if not _subdomain(masked):
            errors.append("metadata.generateName: invalid")
    name = meta.get("name", "")
    if not name:
        errors.append("metadata.name: name or generateName is required")
    elif not _subdomain(name):
        errors.append("metadata.name: invalid")
    namespace = meta.get("namespace", "")
    if namespace and not (_nbytes(namespace) <= 63 and re.fullmatch(_LABEL, namespace)):
        errors.append("metadata.namespace: invalid")
    if meta.get("generation", 0) < 0:
        errors.append("metadata.generation: must be greater than or equal to 0")
    for key, value in meta.get("labels", {}).items():
        if not _qualified_name(key):
            errors.append(f"metadata.labels: invalid key {key!r}")
        if not (_nbytes(value) <= 63 and re.fullmatch(_LABEL_VALUE, value)):
            errors.append(f"metadata.labels: invalid value {value!r}")
    annotations = meta.get("annotations", {})
    for key in annotations:
        if not _qualified_name(key.lower()):
            errors.append(f"metadata.annotations: invalid key {key!r}")
    if sum(_nbytes(k) + _nbytes(v) for k, v in annotations.items()) > 256 * 1024:
        errors.append("metadata.annotations: Too long")
    controllers = 0
    for index, reference in enumerate(meta.get("ownerReferences", [])):
        for field in ("apiVersion", "kind", "name", "uid"):
            if not reference.get(field):
                errors.append(f"metadata.ownerReferences[{index}].{field}: Required value")
        controllers += bool(reference.get("controller"))
    if controllers > 1:
        errors.append("metadata.ownerReferences: Only one reference can have Controller set to true")
    finalizers = meta.get("finalizers", [])
    errors += [f"metadata.finalizers: invalid {f!r}" for f in finalizers if not _qualified_name(f)]
    if {"orphan", "foregroundDeletion"} <= set(finalizers):
        errors.append("metadata.finalizers: orphan and foregroundDeletion cannot be both set")
    return errors


# --------------------------------------------------------------------------- the CR


def _field_schema(key: str, node: dict[str, Any] | None) -> dict[str, Any] | None:
    if node is None:
        return None
    if key in node.get("properties", {}):
        child: dict[str, Any] = node["properties"][key]
        return child
    extra = node.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def _prune_nulls(value: Any, node: dict[str, Any] | None) -> None:
    """``PruneNonNullableNullsWithoutDefaults``; defaulted nulls are left for ``Default``, which
    ``schemas.apply_defaults`` does for absent fields, so here they go too."""
    if isinstance(value, dict):
        for key in list(value):
            child = _field_schema(key, node)
            if value[key] is None and child is not None and not child.get("nullable"):
                del value[key]
            else:
                _prune_nulls(value[key], child)
    elif isinstance(value, list):
        items = node.get("items") if node else None
        for item in value:
            _prune_nulls(item, items)


def create_errors(document: Any, crd: dict[str, Any]) -> list[str]:
    """Why the API server refuses to create ``document`` (empty when it accepts it)."""
    if not isinstance(document, dict):
        return ["the request body is not a JSON object"]
    obj = _kubectl_json(copy.deepcopy(document))
    if obj.get("apiVersion") != "qiskit-argo.io/v1alpha1" or obj.get("kind") != "QiskitJob":
        return ["not a QiskitJob"]
    meta, errors = _decode_metadata(obj.get("metadata"))
    if errors:
        return errors
    if meta.get("generateName") and not meta.get("name"):
        meta["name"] = meta["generateName"][:58] + "bcdfg"
    obj.pop("status", None)
    schema = crd_schema(crd)
    _prune_nulls(obj, schema)
    obj["metadata"] = meta
    errors = _validate_metadata(meta)
    if errors:
        return errors
    if "spec" not in obj:
        return ["spec: Required value"]
    errors = crd_errors(obj, crd, cel=False)
    if errors:
        return errors
    if cel_available():
        return cel_errors(obj, crd)
    return []
