"""``metadata`` as the API server checks it: names, namespace, labels, annotations, finalizers.

A CRD's schema says nothing about ``metadata``; the API server validates it with its own code.
These are the same rules, from ``k8s.io/apimachinery``: ``pkg/util/validation/validation.go``
(``IsDNS1123Label``, ``IsDNS1123Subdomain``, ``IsQualifiedName``, ``IsValidLabelValue``,
``IsConfigMapKey``), ``pkg/api/validation/objectmeta.go`` (``ValidateObjectMetaAccessor``,
annotations at most 256 KiB in all, owner references, finalizers) and
``pkg/apis/meta/v1/validation/validation.go`` (``ValidateLabels``). Custom resources are named by
``NameIsDNSSubdomain`` (apiextensions-apiserver); ``generateName`` gets five random characters
appended, its prefix cut to 58 (``k8s.io/apiserver/pkg/storage/names``). Unknown fields in
``metadata`` are refused, as strict field validation (kubectl's default) refuses them.

Lengths are in bytes, as Go's ``len`` counts them; patterns are ASCII, so no other character passes.
"""

from __future__ import annotations

import random
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from qiskit_argo.wire import Bool, Int, Str

__all__ = [
    "DNS1123_LABEL",
    "DNS1123_SUBDOMAIN",
    "QUALIFIED_NAME",
    "LABEL_VALUE",
    "CONFIG_MAP_KEY",
    "RFC3339",
    "MAX_ANNOTATIONS_BYTES",
    "dns1123_label_problem",
    "dns1123_subdomain_problem",
    "qualified_name_problem",
    "label_value_problem",
    "config_map_key_problem",
    "generate_name",
    "OwnerReference",
    "ObjectMeta",
]

DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN = DNS1123_LABEL + r"(\." + DNS1123_LABEL + r")*"
QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
CONFIG_MAP_KEY = r"[-._a-zA-Z0-9]+"
#: ``metav1.Time`` parses ``time.RFC3339``.
RFC3339 = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})"
#: ``TotalAnnotationSizeLimitB``: keys and values together.
MAX_ANNOTATIONS_BYTES = 256 * 1024
_GENERATED_SUFFIX = 5
_GENERATED_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def _size(value: str) -> int:
    return len(value.encode("utf-8", "surrogatepass"))


def dns1123_label_problem(value: str) -> str | None:
    """Why ``value`` is not an RFC 1123 label (namespaces), or ``None``."""
    if _size(value) > 63:
        return "must be no more than 63 characters"
    if not re.fullmatch(DNS1123_LABEL, value):
        return "must be lowercase letters, digits and '-', starting and ending with a letter or digit (e.g. my-name)"
    return None


def dns1123_subdomain_problem(value: str) -> str | None:
    """Why ``value`` is not an RFC 1123 subdomain (object names), or ``None``."""
    if _size(value) > 253:
        return "must be no more than 253 characters"
    if not re.fullmatch(DNS1123_SUBDOMAIN, value):
        return "must be lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
    return None


def qualified_name_problem(value: str) -> str | None:
    """Why ``value`` is not a qualified name (label and annotation keys: ``[prefix/]name``), or ``None``."""
    parts = value.split("/")
    if len(parts) > 2:
        return "must be a name with an optional DNS subdomain prefix and one '/' (e.g. example.com/my-name)"
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            return "prefix part must be non-empty"
        problem = dns1123_subdomain_problem(prefix)
        if problem:
            return f"prefix part {problem}"
    name = parts[-1]
    if not name:
        return "name part must be non-empty"
    if _size(name) > 63:
        return "name part must be no more than 63 characters"
    if not re.fullmatch(QUALIFIED_NAME, name):
        return "name part must be letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
    return None


def label_value_problem(value: str) -> str | None:
    """Why ``value`` is not a label value, or ``None``."""
    if _size(value) > 63:
        return "must be no more than 63 characters"
    if not re.fullmatch(LABEL_VALUE, value):
        return "must be empty or letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
    return None


def config_map_key_problem(value: str) -> str | None:
    """Why ``value`` is not a ConfigMap key (``IsConfigMapKey``), or ``None``."""
    if _size(value) > 253:
        return "must be no more than 253 characters"
    if not re.fullmatch(CONFIG_MAP_KEY, value):
        return "must be letters, digits, '-', '_' or '.' (Kubernetes' ConfigMap key rule [-._a-zA-Z0-9]+)"
    if value in (".", ".."):
        return f"must not be {value!r}"
    if value.startswith(".."):
        return "must not start with '..'"
    return None


def generate_name(prefix: str, rng: random.Random | None = None) -> str:
    """The name the API server makes from ``generateName`` (prefix cut to 58, five random characters)."""
    rng = rng or random.Random()
    suffix = "".join(rng.choice(_GENERATED_ALPHABET) for _ in range(_GENERATED_SUFFIX))
    return prefix[: 63 - _GENERATED_SUFFIX] + suffix


def _check(problem: str | None, value: str) -> None:
    if problem:
        raise ValueError(f"{_quote(value)} {problem}")


def _quote(value: str, limit: int = 40) -> str:
    from qiskit_argo.errors import quote

    return quote(value, limit)


def _namespace(value: str) -> str:
    if value:
        _check(dns1123_label_problem(value), value)
    return value or "default"


def _subdomain_name(value: str) -> str:
    if value:  # empty: generated from generateName, or refused by ObjectMeta._named
        _check(dns1123_subdomain_problem(value), value)
    return value


def _labels(value: dict[str, str]) -> dict[str, str]:
    for key, label in value.items():
        problem = qualified_name_problem(key)
        if problem:
            raise ValueError(f"key {_quote(key)}: {problem}")
        problem = label_value_problem(label)
        if problem:
            raise ValueError(f"value of {_quote(key)}: {problem}")
    return value


def _annotations(value: dict[str, str]) -> dict[str, str]:
    total = 0
    for key, annotation in value.items():
        problem = qualified_name_problem(key.lower())
        if problem:
            raise ValueError(f"key {_quote(key)}: {problem}")
        total += _size(key) + _size(annotation)
    if total > MAX_ANNOTATIONS_BYTES:
        raise ValueError(f"annotations hold {total} bytes; the limit is {MAX_ANNOTATIONS_BYTES} bytes in all")
    return value


def _finalizers(value: list[str]) -> list[str]:
    for finalizer in value:
        problem = qualified_name_problem(finalizer)
        if problem:
            raise ValueError(f"finalizer {_quote(finalizer)}: {problem}")
    if {"orphan", "foregroundDeletion"} <= set(value):
        raise ValueError("finalizers orphan and foregroundDeletion cannot be both set")
    return value


class _Meta(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True)


class OwnerReference(_Meta):
    """A ``metav1.OwnerReference``."""

    api_version: Annotated[Str, Field(alias="apiVersion", min_length=1)]
    kind: Annotated[Str, Field(min_length=1)]
    name: Annotated[Str, Field(min_length=1)]
    uid: Annotated[Str, Field(min_length=1)]
    controller: Bool | None = None
    block_owner_deletion: Annotated[Bool | None, Field(alias="blockOwnerDeletion")] = None


class ObjectMeta(_Meta):
    """A ``metav1.ObjectMeta`` of a namespaced custom resource; ``namespace`` defaults to ``default``."""

    name: Annotated[Str, AfterValidator(_subdomain_name)] = ""
    generate_name: Annotated[Str | None, Field(alias="generateName")] = None
    namespace: Annotated[Str, AfterValidator(_namespace)] = "default"
    uid: Str | None = None
    resource_version: Annotated[Str | None, Field(alias="resourceVersion")] = None
    generation: Annotated[Int | None, Field(ge=0)] = None
    self_link: Annotated[Str | None, Field(alias="selfLink")] = None
    creation_timestamp: Annotated[Str | None, Field(alias="creationTimestamp", pattern=f"^{RFC3339}$")] = None
    deletion_timestamp: Annotated[Str | None, Field(alias="deletionTimestamp", pattern=f"^{RFC3339}$")] = None
    deletion_grace_period_seconds: Annotated[Int | None, Field(alias="deletionGracePeriodSeconds")] = None
    labels: Annotated[dict[str, Str], AfterValidator(_labels)] = {}
    annotations: Annotated[dict[str, Str], AfterValidator(_annotations)] = {}
    owner_references: Annotated[list[OwnerReference], Field(alias="ownerReferences")] = []
    finalizers: Annotated[list[Str], AfterValidator(_finalizers)] = []
    managed_fields: Annotated[list[dict[str, Any]], Field(alias="managedFields")] = []

    @model_validator(mode="before")
    @classmethod
    def _null_is_zero(cls, data: Any) -> Any:
        """Go's JSON decoder reads ``null`` as the zero value: an absent field, an empty map value."""
        if not isinstance(data, dict):
            return data
        data = {key: value for key, value in data.items() if value is not None}
        for key in ("labels", "annotations"):
            if isinstance(data.get(key), dict):
                data[key] = {name: "" if value is None else value for name, value in data[key].items()}
        return data

    @model_validator(mode="after")
    def _named(self) -> ObjectMeta:
        if self.generate_name:
            prefix = self.generate_name
            masked = prefix[:-1] + "a" if len(prefix) > 1 and prefix.endswith("-") else prefix
            problem = dns1123_subdomain_problem(masked)
            if problem:
                raise ValueError(f"generateName {_quote(prefix)} {problem}")
            if not self.name:
                self.name = generate_name(prefix)
        if not self.name:
            raise ValueError("name or generateName is required")
        controllers = [ref for ref in self.owner_references if ref.controller]
        if len(controllers) > 1:
            raise ValueError("ownerReferences: only one reference can have controller set to true")
        return self

    def dump(self) -> dict[str, Any]:
        """The wire form, without empty fields."""
        return self.model_dump(by_alias=True, exclude_none=True, exclude_defaults=True, mode="json") | {
            "name": self.name,
            "namespace": self.namespace,
        }
