"""A ConfigMap beside a QiskitJob in a file, checked as the API server checks it.

``ValidateConfigMap`` (``kubernetes/pkg/apis/core/validation/validation.go``): every key of
``data`` and ``binaryData`` is a ConfigMap key (``[-._a-zA-Z0-9]+``, at most 253 bytes, not ``.``
or ``..`` nor starting with ``..``), no key is in both, and the values hold at most 1 MiB in all.
Keys become file names when the ConfigMap is mounted, so these rules also keep a key from naming
a path outside the mount.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from qiskit_argo.objectmeta import ObjectMeta, config_map_key_problem
from qiskit_argo.wire import Bool, Str

__all__ = ["MAX_CONFIG_MAP_BYTES", "ConfigMap"]

#: ``MaxSecretSize``, which also bounds a ConfigMap's data.
MAX_CONFIG_MAP_BYTES = 1024 * 1024


def _keys(value: dict[str, str]) -> dict[str, str]:
    from qiskit_argo.errors import quote

    for key in value:
        problem = config_map_key_problem(key)
        if problem:
            raise ValueError(f"key {quote(key)} {problem}")
    return value


def _base64_values(value: dict[str, str]) -> dict[str, str]:
    for key, text in value.items():
        try:
            base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{key!r} is not base64; encode the file with `base64 -w0`") from None
    return value


class ConfigMap(BaseModel):
    """A ``v1`` ConfigMap: its name and its files."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    api_version: Annotated[Literal["v1"], Field(alias="apiVersion")] = "v1"
    kind: Literal["ConfigMap"] = "ConfigMap"
    metadata: ObjectMeta
    data: Annotated[dict[str, Str], AfterValidator(_keys)] = {}
    binary_data: Annotated[
        dict[str, Str], Field(alias="binaryData"), AfterValidator(_keys), AfterValidator(_base64_values)
    ] = {}
    immutable: Bool | None = None

    @model_validator(mode="after")
    def _whole(self) -> ConfigMap:
        both = sorted(set(self.data) & set(self.binary_data))
        if both:
            raise ValueError(f"key {both[0]!r} is in both data and binaryData; keep it in one")
        size = sum(len(value.encode("utf-8", "surrogatepass")) for value in self.data.values())
        size += sum(len(content) for content in self.files_from_binary().values())
        if size > MAX_CONFIG_MAP_BYTES:
            raise ValueError(f"data and binaryData hold {size} bytes; a ConfigMap holds at most {MAX_CONFIG_MAP_BYTES}")
        return self

    def files_from_binary(self) -> dict[str, bytes]:
        return {key: base64.b64decode(text) for key, text in self.binary_data.items()}

    def files(self) -> dict[str, bytes]:
        """Key to file content, as the kubelet mounts it (``binaryData`` decoded)."""
        files = {key: value.encode("utf-8", "surrogatepass") for key, value in self.data.items()}
        return files | self.files_from_binary()
