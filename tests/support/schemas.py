"""Strict schema validation of manifests, offline: Argo kinds, built-in kinds, and our CRD's kinds.

Argo's JSON schema and the Kubernetes 1.36 OpenAPI spec are read from ``../shared/schemas``
beside the repository (never copied into it); a check that needs one skips with a one-line reason
when it is absent.

Strict means what ``kubeconform -strict`` means: every object definition that lists properties
rejects any other property (Argo's schema and the API server's pruning would silently drop a
misspelled field), while numbers are accepted for IntOrString and Quantity, as the API server does.

    validate_argo(obj)                 Workflow, WorkflowTemplate, ClusterWorkflowTemplate, CronWorkflow
    validate_k8s(obj)                  built-in kinds: kubernetes-validate --strict, else the 1.36 spec
    validate_against_crd(obj, crd)     a custom resource against its CRD: schema, defaults, CEL rules
    run_kubeconform(objs) / run_argo_lint(objs)   the real tools, or None when not installed

Each ``validate_*`` raises ``SchemaError`` (an ``AssertionError`` listing every problem); the
``*_errors`` functions return the list instead.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

__all__ = [
    "SHARED_SCHEMAS",
    "ARGO_SCHEMA",
    "ARGO_KINDS",
    "K8S_SWAGGER",
    "SchemaError",
    "require_schema",
    "strict_definitions",
    "argo_errors",
    "validate_argo",
    "k8s_errors",
    "validate_k8s",
    "crd_schema",
    "apply_defaults",
    "cel_available",
    "cel_errors",
    "crd_errors",
    "validate_against_crd",
    "run_kubeconform",
    "run_argo_lint",
]

#: ``../shared/schemas`` relative to the repository root.
SHARED_SCHEMAS = Path(__file__).resolve().parents[2].parent / "shared" / "schemas"
ARGO_SCHEMA = SHARED_SCHEMAS / "argo-workflows.schema.json"
K8S_SWAGGER = SHARED_SCHEMAS / "kubernetes-1.36.swagger.json"
ARGO_KINDS = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow")

_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


class SchemaError(AssertionError):
    """A manifest does not validate; ``errors`` holds one line per problem."""

    def __init__(self, what: str, errors: list[str]) -> None:
        super().__init__(f"{what}:\n  " + "\n  ".join(errors))
        self.errors = errors


def require_schema(path: Path) -> Path:
    """``path``, or skip the calling test when the shared schema is not beside the repository."""
    if not path.exists():
        pytest.skip(f"{path.name} not found in {path.parent} (shared schemas are not checked out beside the repo)")
    return path


def strict_definitions(definitions: dict[str, Any]) -> dict[str, Any]:
    """A copy in which every object definition listing properties forbids any other property.

    IntOrString accepts a string or an integer and Quantity a string or a number, as the API server
    does (both schemas say only "string").
    """
    strict = copy.deepcopy(definitions)

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(strict)
    if _INT_OR_STRING in strict:
        strict[_INT_OR_STRING] = {"type": ["string", "integer"], "description": "IntOrString"}
    if _QUANTITY in strict:
        strict[_QUANTITY] = {"type": ["string", "number"], "description": "Quantity"}
    return strict


def _location(error: jsonschema.ValidationError) -> str:
    return "/".join(str(part) for part in error.absolute_path) or "(root)"


def _messages(errors: Iterable[jsonschema.ValidationError]) -> list[str]:
    lines = []
    for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        # For oneOf/anyOf failures the useful part is the deepest cause.
        leaf = error
        while leaf.context:
            leaf = min(leaf.context, key=lambda e: len(list(e.absolute_path)) * -1)
        lines.append(f"{_location(leaf)}: {leaf.message[:300]}")
    return lines


# --------------------------------------------------------------------------- Argo


@cache
def _argo_definitions() -> dict[str, Any]:
    schema = json.loads(require_schema(ARGO_SCHEMA).read_text())
    return strict_definitions(schema["definitions"])


@cache
def _argo_validator(kind: str) -> jsonschema.protocols.Validator:
    root = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": f"#/definitions/io.argoproj.workflow.v1alpha1.{kind}",
        "definitions": _argo_definitions(),
    }
    return jsonschema.Draft202012Validator(root)


def argo_errors(obj: dict[str, Any]) -> list[str]:
    """Problems of an Argo object against Argo's own schema, made strict."""
    kind = obj.get("kind")
    if kind not in ARGO_KINDS:
        return [f"kind {kind!r} is not one of {', '.join(ARGO_KINDS)}"]
    if obj.get("apiVersion") != "argoproj.io/v1alpha1":
        return [f"apiVersion {obj.get('apiVersion')!r} is not argoproj.io/v1alpha1"]
    return _messages(_argo_validator(kind).iter_errors(obj))


def validate_argo(obj: dict[str, Any]) -> None:
    errors = argo_errors(obj)
    if errors:
        raise SchemaError(f"{obj.get('kind')} {obj.get('metadata', {}).get('name')} is not valid", errors)


# --------------------------------------------------------------------------- built-in Kubernetes kinds


@cache
def _swagger_definitions() -> dict[str, Any]:
    swagger = json.loads(require_schema(K8S_SWAGGER).read_text())
    return strict_definitions(swagger["definitions"])


def _swagger_definition(api_version: str, kind: str) -> str | None:
    group, _, version = api_version.rpartition("/")
    for name, definition in _swagger_definitions().items():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            if gvk.get("group", "") == group and gvk.get("version") == version and gvk.get("kind") == kind:
                return name
    return None


def k8s_errors(obj: dict[str, Any], *, use_kubernetes_validate: bool = True) -> list[str]:
    """Problems of a built-in object: kubernetes-validate strict (newest version it ships), else
    the Kubernetes 1.36 OpenAPI spec from ``../shared/schemas``, made strict."""
    if use_kubernetes_validate:
        try:
            import kubernetes_validate
        except ImportError:
            pass
        else:
            try:
                kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)
                return []
            except kubernetes_validate.ValidationError as error:
                return [f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message[:300]}"]
            except kubernetes_validate.SchemaNotFoundError:
                pass
    name = _swagger_definition(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
    if name is None:
        return [f"no schema for {obj.get('apiVersion')} {obj.get('kind')} (not a built-in kind?)"]
    root = {"$ref": f"#/definitions/{name}", "definitions": _swagger_definitions()}
    return _messages(jsonschema.Draft4Validator(root).iter_errors(obj))


def validate_k8s(obj: dict[str, Any], *, use_kubernetes_validate: bool = True) -> None:
    errors = k8s_errors(obj, use_kubernetes_validate=use_kubernetes_validate)
    if errors:
        raise SchemaError(f"{obj.get('kind')} {obj.get('metadata', {}).get('name')} is not valid", errors)


# --------------------------------------------------------------------------- custom resources


def _served_version(obj: dict[str, Any], crd: dict[str, Any]) -> dict[str, Any] | str:
    spec = crd["spec"]
    group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
    if group != spec["group"]:
        return f"apiVersion {obj.get('apiVersion')!r} is not in group {spec['group']}"
    if obj.get("kind") != spec["names"]["kind"]:
        return f"kind {obj.get('kind')!r} is not {spec['names']['kind']}"
    for candidate in spec["versions"]:
        if candidate["name"] == version and candidate.get("served", True):
            return candidate
    return f"version {version!r} is not served"


def crd_schema(crd: dict[str, Any], version: str | None = None) -> dict[str, Any]:
    """The ``openAPIV3Schema`` of one version (the storage version by default)."""
    versions = crd["spec"]["versions"]
    chosen = next(
        (v for v in versions if (v["name"] == version if version else v.get("storage"))),
        versions[0],
    )
    schema: dict[str, Any] = chosen["schema"]["openAPIV3Schema"]
    return schema


def _json_schema(node: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI v3 structural schema as a JSON Schema draft 4 (same exclusiveMinimum semantics)
    that, like the API server with strict field validation, rejects unknown fields."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _json_schema(child) for name, child in value.items()}
        elif key == "items" or (key == "additionalProperties" and isinstance(value, dict)):
            out[key] = _json_schema(value)
        elif key in ("anyOf", "allOf", "oneOf"):
            out[key] = [_json_schema(child) for child in value]
        elif key == "not":
            out[key] = _json_schema(value)
        elif key == "pattern":
            # The API server matches with Go's RE2, whose '$' is the end of the text; Python's also
            # matches before a final newline.
            out[key] = value[:-1] + r"\Z" if value.endswith("$") else value
        elif not key.startswith("x-kubernetes-") and key not in ("nullable", "default", "example"):
            out[key] = value
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if node.get("type") == "object" and "additionalProperties" not in node and "properties" in node:
        if not node.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
    return out


def apply_defaults(obj: Any, schema: dict[str, Any]) -> Any:
    """A copy of ``obj`` with the schema's defaults filled in, as the API server does before validating."""
    obj = copy.deepcopy(obj)

    def visit(value: Any, node: dict[str, Any]) -> None:
        if isinstance(value, dict):
            for name, child in node.get("properties", {}).items():
                if name not in value and "default" in child:
                    value[name] = copy.deepcopy(child["default"])
                if name in value:
                    visit(value[name], child)
            extra = node.get("additionalProperties")
            if isinstance(extra, dict):
                for key in value:
                    if key not in node.get("properties", {}):
                        visit(value[key], extra)
        elif isinstance(value, list) and isinstance(node.get("items"), dict):
            for item in value:
                visit(item, node["items"])

    visit(obj, schema)
    return obj


def cel_available() -> bool:
    """Whether the ``cel-python`` package (``celpy``) is installed to evaluate CEL rules."""
    try:
        import celpy  # noqa: F401
    except ImportError:
        return False
    return True


@cache
def _cel_program(rule: str) -> Any:
    import celpy

    environment = celpy.Environment()
    return environment.program(environment.compile(rule))


def _walk(value: Any, old: Any, node: dict[str, Any], path: str) -> Iterator[tuple[Any, Any, dict[str, Any], str]]:
    yield value, old, node, path
    if isinstance(value, dict):
        for name, child in node.get("properties", {}).items():
            if name in value:
                old_child = old.get(name) if isinstance(old, dict) else None
                yield from _walk(value[name], old_child, child, f"{path}.{name}")
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            for key, child_value in value.items():
                old_child = old.get(key) if isinstance(old, dict) else None
                yield from _walk(child_value, old_child, extra, f"{path}[{key!r}]")
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for index, item in enumerate(value):
            # Like the API server, list items are not correlated with the old list (no listType map).
            yield from _walk(item, None, node["items"], f"{path}[{index}]")


def cel_errors(obj: dict[str, Any], crd: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    """Evaluate every ``x-kubernetes-validations`` rule of the CRD on ``obj`` (defaults applied).

    Rules that use ``oldSelf`` (transition rules) run only when ``old`` is given (an update) and
    the node exists in it, as in the API server.
    """
    import celpy

    schema = crd_schema(crd)
    obj = apply_defaults(obj, schema)
    old = apply_defaults(old, schema) if old is not None else None
    errors = []
    for value, old_value, node, path in _walk(obj, old, schema, ""):
        for validation in node.get("x-kubernetes-validations", []):
            rule = validation["rule"]
            activation = {"self": celpy.json_to_cel(value)}
            if re.search(r"\boldSelf\b", rule):
                if old_value is None:
                    continue
                activation["oldSelf"] = celpy.json_to_cel(old_value)
            try:
                result = _cel_program(rule).evaluate(activation)
            except celpy.CELEvalError as error:
                errors.append(f"{path or '(root)'}: rule {rule!r} failed to evaluate: {error}")
                continue
            if isinstance(result, celpy.CELEvalError):
                errors.append(f"{path or '(root)'}: rule {rule!r} failed to evaluate: {result}")
            elif not bool(result):
                errors.append(f"{path or '(root)'}: {validation.get('message', rule)}")
    return errors


def crd_errors(
    obj: dict[str, Any], crd: dict[str, Any], old: dict[str, Any] | None = None, *, cel: bool = True
) -> list[str]:
    """Problems of a custom resource against its CRD: the structural schema (defaults applied,
    unknown fields rejected, int-or-string honoured) and, when ``cel`` and cel-python is
    installed, the CEL rules."""
    version = _served_version(obj, crd)
    if isinstance(version, str):
        return [version]
    schema = version["schema"]["openAPIV3Schema"]
    defaulted = apply_defaults(obj, schema)
    validator = jsonschema.Draft4Validator(_json_schema(schema), format_checker=jsonschema.FormatChecker())
    errors = _messages(validator.iter_errors(defaulted))
    if cel and not errors and cel_available():
        errors += cel_errors(obj, crd, old)
    return errors


def validate_against_crd(
    obj: dict[str, Any], crd: dict[str, Any], old: dict[str, Any] | None = None, *, cel: bool = True
) -> None:
    errors = crd_errors(obj, crd, old, cel=cel)
    if errors:
        raise SchemaError(f"{obj.get('kind')} {obj.get('metadata', {}).get('name')} is not valid", errors)


# --------------------------------------------------------------------------- the real tools, when installed


def _documents(objs: Iterable[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(list(objs), sort_keys=False)


def run_kubeconform(objs: Iterable[dict[str, Any]], *, schema_locations: Iterable[str] = ()) -> list[str] | None:
    """``kubeconform -strict`` over the objects; ``None`` when kubeconform is not installed or has no
    schemas offline. Kinds without a schema (CRDs' kinds) are skipped by kubeconform itself."""
    binary = shutil.which("kubeconform")
    if binary is None:
        return None
    command = [binary, "-strict", "-summary", "-output", "json", "-ignore-missing-schemas"]
    for location in schema_locations:
        command += ["-schema-location", location]
    done = subprocess.run(command + ["-"], input=_documents(objs), capture_output=True, text=True, timeout=120)
    offline = re.search(r"could not (download|find)|no such host|dial tcp", done.stdout + done.stderr)
    if done.returncode != 0 and offline:
        return None
    if done.returncode == 0:
        return []
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        return [(done.stdout + done.stderr).strip()]
    return [
        f"{r.get('kind')} {r.get('name')}: {r.get('msg')}"
        for r in report.get("resources", [])
        if r.get("status") in ("statusInvalid", "statusError")
    ]


def run_argo_lint(objs: Iterable[dict[str, Any]]) -> list[str] | None:
    """``argo lint --offline`` over the objects together (so templateRefs resolve); ``None`` when the
    argo CLI is not installed."""
    binary = shutil.which("argo")
    if binary is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for index, obj in enumerate(objs):
            path = Path(tmp) / f"{index:02d}-{obj.get('kind', 'object').lower()}.yaml"
            path.write_text(yaml.safe_dump(obj, sort_keys=False))
            files.append(str(path))
        done = subprocess.run(
            [binary, "lint", "--offline", "--output", "simple", *files], capture_output=True, text=True, timeout=120
        )
    if done.returncode == 0:
        return []
    return [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
