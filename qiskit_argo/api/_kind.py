"""``Kind``: what the CRD of one resource kind is made of, declared beside the kind's models."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from qiskit_argo.api._resource import GROUP, VERSION, _Resource

__all__ = ["CATEGORIES", "Kind", "PrinterColumn", "Rule"]

#: ``kubectl get qiskit`` lists every kind of ours.
CATEGORIES = ("qiskit", "qiskit-argo")


@dataclass(frozen=True, kw_only=True)
class Rule:
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


@dataclass(frozen=True, kw_only=True)
class PrinterColumn:
    """One of ``kubectl get``'s columns (``additionalPrinterColumns``)."""

    name: str
    type: Literal["string", "integer", "number", "boolean", "date"]
    json_path: str
    description: str | None = None
    #: 0 is shown by ``kubectl get``; 1 only by ``kubectl get -o wide``.
    priority: int | None = None

    def entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.description is not None:
            entry["description"] = self.description
        if self.priority is not None:
            entry["priority"] = self.priority
        return entry


@dataclass(frozen=True, kw_only=True)
class Kind:
    """A resource kind of ours: its names, its model, and what its CRD adds to the model's schema.

    ``qiskit_argo.crd`` makes the CustomResourceDefinition from this alone. Besides the ``rules``
    given here, every kind's CRD gets the name rule (``model.name_reason``) and, when
    ``mutable_spec_fields`` is set, the rule that freezes the spec once ``status.<started_by>`` is set.
    """

    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    #: The resource model (a ``_Resource`` with ``spec`` and ``status``).
    model: type[_Resource]
    #: The schema's top description: what one resource is.
    description: str
    #: The word messages use for one resource ("job").
    noun: str
    group: str = GROUP
    version: str = VERSION
    scope: Literal["Namespaced", "Cluster"] = "Namespaced"
    categories: tuple[str, ...] = CATEGORIES
    printer_columns: tuple[PrinterColumn, ...] = ()
    #: CEL rules restating the model's cross-field validators, with the same messages.
    rules: tuple[Rule, ...] = ()
    #: The spec fields (wire names) that may change once started; ``None``: the spec is always editable.
    mutable_spec_fields: frozenset[str] | None = None
    #: The status field whose being set means "started".
    started_by: str = "workflowName"
    #: Status fields that are lists keyed by a field (``x-kubernetes-list-type: map``).
    list_map_keys: tuple[tuple[str, tuple[str, ...]], ...] = (("status.conditions", ("type",)),)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def crd_name(self) -> str:
        """The CustomResourceDefinition's name, ``<plural>.<group>``."""
        return f"{self.plural}.{self.group}"
