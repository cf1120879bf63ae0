"""The kind registry: every registered kind gets a consistent CRD, and adding one takes one module and one line."""

from __future__ import annotations

import re
from typing import Annotated, ClassVar, Literal

import pytest
from pydantic import Field, ValidationError

from qiskit_argo import api, crd
from qiskit_argo.api import KINDS, Kind, PrinterColumn, Rule
from qiskit_argo.crd._structural import at
from qiskit_argo.wire import Bool, Int, Str

# Every name other modules imported from qiskit_argo.api and qiskit_argo.crd before they were packages.
API_NAMES = """
GROUP VERSION API_VERSION KIND PLURAL SINGULAR SHORT_NAMES Phase Primitive ConditionType ConfigMapKeyRef CircuitSource
Observable PauliSum AerOptions BackendSpec Backoff RetryPolicy ResourceRequirements QiskitJobSpec ObjectMeta Condition
StepProgress CircuitMetrics BackendStatus ResultSummary ResultLocation QiskitJobStatus QiskitJob TERMINAL_PHASES
QUANTITY_PATTERN MAX_INLINE_CIRCUIT MAX_NAME_LENGTH NAME_PATTERN MAX_PAULI_TERMS MAX_OBSERVABLES MAX_INLINE_BINDINGS
MAX_PARAMETERS QuantityValue _Model
""".split()
CRD_NAMES = """
CRD_NAME CATEGORIES MUTABLE_SPEC_FIELDS PRINTER_COLUMNS Rule CEL_RULES cel_invisible_fields immutability_rule
openapi_schema prune_nulls qiskitjob_crd
""".split()


@pytest.mark.parametrize("name", API_NAMES)
def test_api_names_are_still_importable(name: str) -> None:
    assert hasattr(api, name)
    assert name.startswith("_") or name in api.__all__


@pytest.mark.parametrize("name", CRD_NAMES)
def test_crd_names_are_still_importable(name: str) -> None:
    assert hasattr(crd, name) and name in crd.__all__


def test_qiskitjob_keeps_its_names() -> None:
    assert crd.CRD_NAME == "qiskitjobs.qiskit-argo.io" and crd.CATEGORIES == ["qiskit", "qiskit-argo"]
    assert crd.MUTABLE_SPEC_FIELDS == frozenset({"suspend"})
    assert crd.qiskitjob_crd() == crd.definition(api.QISKIT_JOB)
    assert crd.CEL_RULES == crd.cel_rules(api.QISKIT_JOB)
    assert [rule.path for rule in crd.CEL_RULES[:2]] == ["", ""], "the name rule, then the immutability rule"


def test_all_crds_is_one_per_registered_kind_in_order() -> None:
    assert crd.all_crds() == [crd.definition(kind) for kind in KINDS]
    assert [definition["spec"]["names"]["kind"] for definition in crd.all_crds()] == [kind.kind for kind in KINDS]


def test_registered_kinds_do_not_collide() -> None:
    for attribute in ("kind", "plural", "singular", "crd_name"):
        values = [getattr(kind, attribute) for kind in KINDS]
        assert len(values) == len(set(values)), attribute
    short_names = [name for kind in KINDS for name in kind.short_names]
    assert len(short_names) == len(set(short_names))
    assert all(api.kind_named(kind.kind) is kind for kind in KINDS)
    assert api.kind_named("Nope") is None and api.kind_named(None) is None


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
def test_kind_agrees_with_its_model(kind: Kind) -> None:
    fields = kind.model.model_fields
    assert fields["kind"].default == kind.kind
    assert fields["api_version"].default == kind.api_version
    assert list(fields)[:3] == ["api_version", "kind", "metadata"] and {"spec", "status"} <= set(fields)
    assert kind.singular == kind.kind.lower() and kind.plural.startswith(kind.singular)
    assert re.fullmatch(r"[a-z][a-z0-9]*", kind.plural) and kind.noun


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.kind)
def test_rules_and_columns_point_into_the_schema(kind: Kind) -> None:
    schema = crd.openapi_schema(kind=kind, with_rules=False)
    spec = schema["properties"]["spec"]["properties"]
    for rule in crd.cel_rules(kind):
        at(schema, rule.path)  # raises KeyError if the path is not in the schema
        assert rule.message and rule.reason.startswith("Field")
    assert (kind.mutable_spec_fields or frozenset()) <= set(spec)
    assert kind.started_by in schema["properties"]["status"]["properties"]
    for column in kind.printer_columns:
        parts = column.json_path.lstrip(".").split(".")
        if parts[0] == "metadata":
            continue
        node = schema
        for part in parts:
            node = node["properties"][part]
        assert node["type"] == column.type or (column.type == "date" and node.get("format") == "date-time")


# --------------------------------------------------------------------------- a new kind, as a later issue adds one


class WidgetSpec(api._Model):
    """What the widget does."""

    size: Annotated[Int, Field(ge=1, description="How big.")] = 1
    color: Annotated[Str | None, Field(description="Which color.")] = None
    paused: Annotated[Bool, Field(description="Stop it.")] = False


class WidgetStatus(api._Model):
    """What the widget did."""

    probe_name: Annotated[str | None, Field(description="The Workflow that probed it.")] = None
    conditions: Annotated[list[api.Condition], Field(description="Conditions.")] = []


class QiskitWidget(api._Resource):
    """A test kind."""

    name_reason: ClassVar[str] = "it names the widget's probe"

    api_version: Annotated[Literal["qiskit-argo.io/v1alpha1"], Field(alias="apiVersion")] = api.API_VERSION  # type: ignore[assignment]
    kind: Literal["QiskitWidget"] = "QiskitWidget"
    spec: WidgetSpec
    status: WidgetStatus | None = None


WIDGET = Kind(
    kind="QiskitWidget",
    plural="qiskitwidgets",
    singular="qiskitwidget",
    short_names=("qw",),
    model=QiskitWidget,
    description="A widget.",
    noun="widget",
    printer_columns=(PrinterColumn(name="Size", type="integer", json_path=".spec.size"),),
    rules=(Rule(path="spec", rule="!has(self.color) || self.color != ''", message="spec.color is empty"),),
    mutable_spec_fields=frozenset({"paused"}),
    started_by="probeName",
)


def test_a_new_kind_needs_only_its_module() -> None:
    definition = crd.definition(WIDGET)
    assert definition["metadata"]["name"] == "qiskitwidgets.qiskit-argo.io"
    assert definition["spec"]["names"]["shortNames"] == ["qw"]
    (version,) = definition["spec"]["versions"]
    schema = version["schema"]["openAPIV3Schema"]
    assert schema["properties"]["spec"]["properties"]["size"] == {
        "description": "How big.",
        "type": "integer",
        "minimum": 1,
        "default": 1,
    }
    assert schema["properties"]["status"]["properties"]["conditions"]["x-kubernetes-list-map-keys"] == ["type"]
    root, spec = schema["x-kubernetes-validations"], schema["properties"]["spec"]["x-kubernetes-validations"]
    assert root[0]["message"].endswith("it names the widget's probe")
    assert root[1]["message"] == "spec is immutable once the widget has started (status.probeName is set); " + (
        "only spec.paused may change"
    )
    assert "self.spec.size == oldSelf.spec.size" in root[1]["rule"] and "paused" not in root[1]["rule"]
    assert spec == [{"rule": "!has(self.color) || self.color != ''", "message": "spec.color is empty",
                     "reason": "FieldValueInvalid"}]  # fmt: skip
    assert version["additionalPrinterColumns"] == [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}]
    with pytest.raises(ValidationError, match="it names the widget's probe"):
        QiskitWidget.model_validate({"metadata": {"name": "my.widget"}, "spec": {}})


def test_a_kind_whose_spec_stays_editable_has_no_immutability_rule() -> None:
    editable = Kind(
        kind="QiskitWidget", plural="qiskitwidgets", singular="qiskitwidget", short_names=(),
        model=QiskitWidget, description="A widget.", noun="widget",
    )  # fmt: skip
    assert [rule.path for rule in crd.cel_rules(editable)] == [""]
    with pytest.raises(ValueError, match="stays editable"):
        crd.immutability_rule(editable)


def test_crd_keywords_reach_the_crd_schema_only() -> None:
    spec = crd.openapi_schema(with_rules=False)["properties"]["spec"]["properties"]
    assert spec["circuit"]["properties"]["qpy"]["pattern"].startswith("^([A-Za-z0-9+/]{4})*")
    quantity = spec["resources"]["properties"]["limits"]["additionalProperties"]
    assert quantity["pattern"] == api.QUANTITY_PATTERN and quantity["minimum"] == 0
    assert api.CRD_KEYWORDS not in str(crd.openapi_schema())
    with pytest.raises(ValueError, match="crd_keywords bogus"):
        crd._structural.convert({"type": "string", **api.crd_keywords(bogus=1)}, {}, "spec.x", defaults=True)
