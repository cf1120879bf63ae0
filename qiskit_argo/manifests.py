"""Read QiskitJob manifests (and the ConfigMaps beside them) exactly as a cluster reads them.

``kubectl apply`` turns YAML into JSON (``qiskit_argo.yamldoc`` does the same), the API server
checks the JSON against the CRD's schema without converting types (``qiskit_argo.wire``) and
checks ``metadata`` with its own rules (``qiskit_argo.objectmeta``). A bad manifest never
produces a traceback: every problem becomes an ``InvalidJobError`` whose one line names the file,
the line or the field, and what to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from qiskit_argo import yamldoc
from qiskit_argo.api import API_VERSION, KIND, QiskitJob
from qiskit_argo.configmap import ConfigMap
from qiskit_argo.errors import InvalidJobError, quote
from qiskit_argo.wire import integral_floats_to_int, json_type_name

__all__ = [
    "MAX_FILE_BYTES",
    "Manifests",
    "load_manifests",
    "load_job",
    "parse_job",
    "parse_wire",
    "describe_validation_error",
]

#: Largest job file read: a few objects of at most the API server's 3 MiB request size.
MAX_FILE_BYTES = 16 * 1024 * 1024
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


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
        elif _IDENTIFIER.fullmatch(part):
            path += f".{part}" if path else part
        else:
            path += f"[{quote(part)}]"
    return path


_TYPE_ERRORS = {
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "bool_type": "a boolean",
    "string_type": "a string",
    "dict_type": "an object (a mapping)",
    "model_type": "an object (a mapping)",
    "model_attributes_type": "an object (a mapping)",
    "list_type": "an array (a list)",
}


def _type_hint(expected: str, given: Any) -> str:
    if isinstance(given, str) and expected != "string_type":
        return "; write it without quotes"
    if isinstance(given, bool) and expected == "string_type":
        return "; quote it (YAML reads unquoted y, n, yes, no, on and off as booleans)"
    if isinstance(given, int | float) and expected == "string_type":
        return "; quote it"
    return ""


def _json_value(value: Any) -> str:
    kind = json_type_name(value)
    if isinstance(value, dict | list):
        return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} ({quote(value)})"


def _is_union_tag(part: int | str) -> bool:
    """Location parts pydantic adds for union members and validators; they say nothing to a person."""
    return isinstance(part, str) and (
        part.startswith(("function-", "constrained-", "lax-", "strict-", "json-or-python"))
        or part in {"str", "int", "float", "bool", "list[float]", "dict[str,float]"}
        or bool(re.fullmatch(r"(list|dict|tuple|set)\[.*\]", part))
    )


def _unknown_field_hint(loc: tuple[int | str, ...]) -> str:
    name = str(loc[-1]) if loc else ""
    camel = to_camel(name)
    parent = ".".join(str(part) for part in loc[:-1] if isinstance(part, str))
    if camel != name and "_" in name:
        return f"unknown field; the API takes camelCase: did you mean {camel}?"
    where = f"qiskitjob.{parent}" if parent else "qiskitjob"
    return f"unknown field; check its spelling against `kubectl explain {where}` or the README"


def describe_validation_error(error: ValidationError, prefix: str = "") -> str:
    """One line for a pydantic error, e.g. ``spec.shots: must be an integer, not a string ('7'); ...``."""
    problems = error.errors(include_url=False)
    first = problems[0]
    loc = tuple(part for part in first["loc"] if not _is_union_tag(part))
    where = _field_path(loc)
    kind = first["type"]
    message = str(first["msg"]).removeprefix("Value error, ")
    given = first.get("input")
    if kind == "extra_forbidden":
        what = _unknown_field_hint(loc)
    elif kind == "missing":
        what = "required field is missing"
    elif kind in _TYPE_ERRORS:
        what = f"must be {_TYPE_ERRORS[kind]}, not {_json_value(given)}{_type_hint(kind, given)}"
    elif kind == "finite_number":
        what = f"must be a finite number, not {given}; JSON has no infinities or NaN"
    elif kind == "string_pattern_mismatch":
        pattern = (first.get("ctx") or {}).get("pattern", "")
        what = f"{quote(given)} does not match {pattern}; see `kubectl explain qiskitjob.{where}`"
    elif kind in ("literal_error", "enum"):
        what = f"{message} (got {quote(given)})"
    else:
        what = message
        scalar = isinstance(given, str | int | float | bool) or given is None
        if kind != "value_error" and scalar and "got" not in what:
            what += f" (got {quote(given)})"
    if prefix:
        where = f"{prefix}.{where}" if where else prefix
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    path = re.match(r"[a-zA-Z]+(?:\.[a-zA-Z]+)+", what)
    if path and (not where or path.group(0).startswith(where)):
        return f"{what}{more}"  # the message names its field itself
    return f"{where or 'manifest'}: {what}{more}"


def parse_wire(model: type[Any], document: Any, source: str, *, prefix: str = "") -> Any:
    """``document`` (decoded JSON) as ``model``, wire names only (no snake_case), one-line errors."""
    try:
        return model.model_validate(integral_floats_to_int(document), by_alias=True, by_name=False)
    except ValidationError as error:
        problem = describe_validation_error(error, prefix)
        raise InvalidJobError(f"{source}: {problem}" if source else problem) from None


def parse_job(document: Any, source: str = "manifest") -> QiskitJob:
    """Validate one decoded YAML/JSON document as a QiskitJob.

    ``status`` is ignored: it belongs to the controller, and the API server drops it from an
    object being created.
    """
    if not isinstance(document, dict):
        raise InvalidJobError(f"{source}: expected a QiskitJob mapping, got {json_type_name(document)}")
    api_version, kind = document.get("apiVersion"), document.get("kind")
    if kind != KIND:
        raise InvalidJobError(f"{source}: kind is {quote(kind)}; expected {KIND!r}")
    if api_version != API_VERSION:
        raise InvalidJobError(f"{source}: apiVersion is {quote(api_version)}; expected {API_VERSION!r}")
    from qiskit_argo.crd import prune_nulls

    document = prune_nulls({key: value for key, value in document.items() if key != "status"})
    job: QiskitJob = parse_wire(QiskitJob, document, source)
    return job


def _config_map(document: dict[str, Any], source: str) -> ConfigMap:
    if document.get("apiVersion") != "v1":
        raise InvalidJobError(f"{source}: ConfigMap apiVersion is {quote(document.get('apiVersion'))}; expected 'v1'")
    config_map: ConfigMap = parse_wire(ConfigMap, document, source, prefix="ConfigMap")
    return config_map


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise InvalidJobError(f"{path}: cannot read the file ({error.strerror or error}); check the path") from None
    if len(data) > MAX_FILE_BYTES:
        raise InvalidJobError(
            f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; a QiskitJob and its ConfigMaps are far "
            "smaller (put big sweeps or circuits in ConfigMaps of their own)"
        )
    return data


def load_manifests(path: Path) -> Manifests:
    """Read every QiskitJob and ConfigMap in a (multi-document) YAML file."""
    source = str(path)
    text = yamldoc.decode(_read(path), source)
    found = Manifests()
    for index, document in enumerate(yamldoc.load_documents(text, source)):
        where = source if index == 0 else f"{source} (document {index + 1})"
        kind = document.get("kind") if isinstance(document, dict) else None
        if kind == "ConfigMap":
            config_map = _config_map(document, where)
            name = config_map.metadata.name
            if name in found.config_maps:
                raise InvalidJobError(f"{where}: ConfigMap {name!r} appears twice in the file; keep one")
            found.config_maps[name] = config_map.files()
        else:
            found.jobs.append(parse_job(document, where))
    if not found.jobs:
        raise InvalidJobError(f"{path}: no QiskitJob found; the file needs a document with kind: {KIND}")
    return found


def load_job(path: Path) -> tuple[QiskitJob, dict[str, dict[str, bytes]]]:
    """The single QiskitJob of a file, and the ConfigMaps beside it."""
    manifests = load_manifests(path)
    if len(manifests.jobs) > 1:
        names = ", ".join(job.name for job in manifests.jobs[:5])
        raise InvalidJobError(f"{path}: holds {len(manifests.jobs)} QiskitJobs ({names}); put one job per file")
    return manifests.jobs[0], manifests.config_maps
