"""The base every model of the API shares, and the field types more than one kind uses."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from qiskit_argo.wire import Int, Str

__all__ = [
    "CRD_KEYWORDS",
    "DURATION_PATTERN",
    "QUANTITY_PATTERN",
    "QuantityValue",
    "crd_keywords",
]

#: The JSON-schema key under which a field carries keywords for its CRD schema only (see
#: ``crd_keywords``); ``qiskit_argo.crd`` moves them into the structural schema.
CRD_KEYWORDS = "x-qiskit-argo-crd"

#: A Go ``time.ParseDuration`` string of non-negative parts, e.g. ``10s``, ``1m30s``, ``1.5h``.
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$"

#: A non-negative Kubernetes quantity (``resource.ParseQuantity``'s grammar without the minus sign:
#: a pod cannot request less than nothing).
QUANTITY_PATTERN = (
    r"^(\+)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)


def crd_keywords(**keywords: Any) -> dict[str, Any]:
    """``json_schema_extra`` for a check a validator makes that the CRD must make too.

    Pydantic checks such a field in a validator (with a message of ours), so its own schema says
    nothing; the API server needs the rule in the schema: ``Field(json_schema_extra=crd_keywords(
    pattern=...))``. Only ``qiskit_argo.crd`` reads these keywords.
    """
    return {CRD_KEYWORDS: keywords}


class _Model(BaseModel):
    """Base: camelCase aliases, unknown fields rejected, populate by either name."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=False,
        use_enum_values=True,
    )

    def dump(self) -> dict[str, Any]:
        """The wire form: camelCase keys, unset optional fields omitted."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


#: A Kubernetes quantity: an integer, or a string such as ``500m`` or ``4Gi`` (IntOrString). The
#: pattern is checked by the models that use it (with a message naming the resource).
QuantityValue = Annotated[
    Str | Int,
    Field(
        description="A Kubernetes quantity such as 500m, 2 or 4Gi.",
        json_schema_extra=crd_keywords(pattern=QUANTITY_PATTERN, minimum=0),
    ),
]
