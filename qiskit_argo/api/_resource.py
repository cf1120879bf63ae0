"""The envelope every kind shares: ``apiVersion``, ``kind``, ``metadata``; a kind adds spec and status."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Self

from pydantic import Field, model_validator

from qiskit_argo.api._base import _Model
from qiskit_argo.objectmeta import DNS1123_LABEL, ObjectMeta

__all__ = ["GROUP", "VERSION", "API_VERSION", "MAX_NAME_LENGTH", "NAME_PATTERN", "_Resource"]

GROUP = "qiskit-argo.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

#: Every kind's name is a DNS label: it becomes a label value on the objects made for it.
MAX_NAME_LENGTH = 63
NAME_PATTERN = f"^{DNS1123_LABEL}$"


class _Resource(_Model):
    """A resource of ours as stored in the API server or read from a file.

    A kind subclasses it, narrowing ``api_version`` and ``kind`` to literals and adding ``spec``
    and ``status`` (they come after ``metadata`` on the wire, as Kubernetes writes them).
    """

    #: Why the name must be a DNS label, the end of the error message (the CRD's rule says it too).
    name_reason: ClassVar[str] = "it becomes a label value"

    api_version: Annotated[str, Field(alias="apiVersion")]
    kind: str
    metadata: ObjectMeta

    @model_validator(mode="after")
    def _dns_label_name(self) -> Self:
        name = self.metadata.name
        if len(name) > MAX_NAME_LENGTH or not re.fullmatch(DNS1123_LABEL, name):
            raise ValueError(
                f"metadata.name {name[:70]!r} must be a DNS label of at most {MAX_NAME_LENGTH} characters "
                f"(lowercase letters, digits, '-'): {self.name_reason}"
            )
        return self

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace
