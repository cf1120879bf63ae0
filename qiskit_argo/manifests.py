"""Read QiskitJob manifests (and the ConfigMaps beside them) from YAML, with one-line errors.

A bad manifest never produces a traceback: every problem becomes an ``InvalidJobError`` whose
message names the file, the line or the field, and what to do.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from qiskit_argo.api import API_VERSION, KIND, QiskitJob
from qiskit_argo.errors import InvalidJobError

__all__ = ["Manifests", "load_manifests", "load_job", "parse_job", "describe_validation_error"]


@dataclass
class Manifests:
    """The objects of one YAML file that qiskit-argo cares about."""

    jobs: list[QiskitJob] = field(default_factory=list)
    #: ConfigMap name -> key -> file content, as the kubelet would mount it (binaryData decoded).
    config_maps: dict[str, dict[str, bytes]] = field(default_factory=dict)


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def describe_validation_error(error: ValidationError, prefix: str = "") -> str:
    """One line for a pydantic error: ``spec.shots: Input should be greater than or equal to 1 (got 0)``."""
    problems = error.errors(include_url=False)
    first = problems[0]
    loc = tuple(part for part in first["loc"] if not (isinstance(part, str) and part.startswith("function-")))
    # Union members show up in the location ("list[float]", "str"); they say nothing to a person.
    loc = tuple(part for part in loc if not (isinstance(part, str) and ("[" in part or part in {"str", "int"})))
    where = _field_path(loc) or "manifest"
    if prefix:
        where = f"{prefix}.{where}" if loc else prefix
    kind = first["type"]
    if kind == "extra_forbidden":
        what = "unknown field; check its spelling against `kubectl explain qiskitjob.spec` or the README"
    elif kind == "missing":
        what = "required field is missing"
    else:
        what = first["msg"].removeprefix("Value error, ")
        if "input" in first and not isinstance(first["input"], dict | list) and kind != "value_error":
            what += f" (got {first['input']!r})"
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}: {what}{more}"


def parse_job(document: Any, source: str = "manifest") -> QiskitJob:
    """Validate one decoded YAML/JSON document as a QiskitJob."""
    if not isinstance(document, dict):
        raise InvalidJobError(f"{source}: expected a QiskitJob mapping, got {type(document).__name__}")
    api_version, kind = document.get("apiVersion"), document.get("kind")
    if kind != KIND:
        raise InvalidJobError(f"{source}: kind is {kind!r}; expected {KIND!r}")
    if api_version != API_VERSION:
        raise InvalidJobError(f"{source}: apiVersion is {api_version!r}; expected {API_VERSION!r}")
    try:
        return QiskitJob.model_validate(document)
    except ValidationError as error:
        raise InvalidJobError(f"{source}: {describe_validation_error(error)}") from None


#: libyaml's loader where PyYAML was built with it (ten times faster on a 1000-binding sweep).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _yaml_documents(text: str, source: str) -> list[Any]:
    try:
        return [doc for doc in yaml.load_all(text, Loader=_LOADER) if doc is not None]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        where = f"{source} line {mark.line + 1}, column {mark.column + 1}" if mark else source
        raise InvalidJobError(f"{where}: malformed YAML: {problem}; fix the indentation or quoting there") from None


def load_manifests(path: Path) -> Manifests:
    """Read every QiskitJob and ConfigMap in a (multi-document) YAML file."""
    try:
        text = path.read_text()
    except OSError as error:
        raise InvalidJobError(f"{path}: cannot read the file ({error.strerror})") from None
    found = Manifests()
    for index, document in enumerate(_yaml_documents(text, str(path))):
        source = f"{path}" if index == 0 else f"{path} (document {index + 1})"
        kind = document.get("kind") if isinstance(document, dict) else None
        if kind == "ConfigMap":
            name = (document.get("metadata") or {}).get("name")
            if not name:
                raise InvalidJobError(f"{source}: ConfigMap has no metadata.name")
            files = {str(k): str(v).encode() for k, v in (document.get("data") or {}).items()}
            for key, value in (document.get("binaryData") or {}).items():
                try:
                    files[str(key)] = base64.b64decode(str(value), validate=True)
                except (binascii.Error, ValueError):
                    raise InvalidJobError(f"{source}: ConfigMap {name} binaryData.{key} is not base64") from None
            found.config_maps[name] = files
        else:
            found.jobs.append(parse_job(document, source))
    if not found.jobs:
        raise InvalidJobError(f"{path}: no QiskitJob found; the file needs a document with kind: {KIND}")
    return found


def load_job(path: Path) -> tuple[QiskitJob, dict[str, dict[str, bytes]]]:
    """The single QiskitJob of a file, and the ConfigMaps beside it."""
    manifests = load_manifests(path)
    if len(manifests.jobs) > 1:
        names = ", ".join(job.name for job in manifests.jobs)
        raise InvalidJobError(f"{path}: holds {len(manifests.jobs)} QiskitJobs ({names}); put one job per file")
    return manifests.jobs[0], manifests.config_maps
