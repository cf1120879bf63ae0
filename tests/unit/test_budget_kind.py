"""The QiskitBudget kind: its CRD and its model accept and refuse the same budgets, with the same words."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from qiskit_argo import api, crd
from qiskit_argo.api import QISKIT_BUDGET, QiskitBudget, QiskitJobStatus
from qiskit_argo.api.budget import BUDGET_RULES
from qiskit_argo.catalogue import load_catalogue
from qiskit_argo.errors import InvalidJobError
from qiskit_argo.generate import crd_file
from qiskit_argo.manifests import parse_wire
from qiskit_argo.wire import integral_floats_to_int
from tests.support.schemas import cel_available, cel_errors, crd_errors, crd_schema, validate_against_crd

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "catalogue" / "budget-team.yaml"
EXACTLY_ONE = "a limit needs exactly one of quantumSeconds"
UNIQUE = "spec.backends names each backend at most once"


def budget(name: str = "team", **spec: Any) -> dict[str, Any]:
    spec.setdefault("limit", {"amount": "1600.00"})
    return {"apiVersion": "qiskit-argo.io/v1alpha1", "kind": "QiskitBudget", "metadata": {"name": name}, "spec": spec}


def definition() -> dict[str, Any]:
    return crd.definition(QISKIT_BUDGET)


def model_error(document: dict[str, Any]) -> str | None:
    """What the models say, read as the CLI reads a manifest (wire names only), or ``None``."""
    try:
        parse_wire(QiskitBudget, crd.prune_nulls(copy.deepcopy(document)), "budget.yaml")
    except InvalidJobError as error:
        assert "\n" not in str(error) and len(str(error)) <= 400, str(error)
        return str(error)
    return None


# Each case: a QiskitBudget and the words both the model and the CRD give (None = valid, "" = the
# schema refuses it: the words are the API server's own).
CASES: list[tuple[str, dict[str, Any], str | None]] = [
    ("minimal", budget(), None),
    ("quantum-seconds", budget(limit={"quantumSeconds": "600"}, period="total"), None),
    ("example-like", budget(currency="EUR", timeZone="Europe/Paris", nearlyExhaustedPercent=80,
                            backends=[{"backend": "ibm-torino", "amount": "800"},
                                      {"backend": "fake-sherbrooke", "quantumSeconds": "60.5"}]), None),
    ("tz-deep", budget(timeZone="America/Argentina/Buenos_Aires"), None),
    ("tz-etc", budget(timeZone="Etc/GMT+5"), None),
    ("zero-limit", budget(limit={"amount": "0"}), None),
    ("both", budget(limit={"amount": "1", "quantumSeconds": "1"}), EXACTLY_ONE),
    ("neither", budget(limit={}), EXACTLY_ONE),
    ("backend-both", budget(backends=[{"backend": "a", "amount": "1", "quantumSeconds": "2"}]), EXACTLY_ONE),
    ("backend-neither", budget(backends=[{"backend": "a"}]), EXACTLY_ONE),
    ("backend-twice", budget(backends=[{"backend": "a", "amount": "1"}, {"backend": "a", "amount": "2"}]), UNIQUE),
    ("backend-unnamed", budget(backends=[{"amount": "1"}]), ""),
    ("amount-float", budget(limit={"amount": 1600.0}), ""),
    ("amount-negative", budget(limit={"amount": "-1"}), ""),
    ("amount-exponent", budget(limit={"amount": "1e3"}), ""),
    ("currency-lower", budget(currency="usd"), ""),
    ("period-weekly", budget(period="weekly"), ""),
    ("tz-space", budget(timeZone="Europe/Paris "), ""),
    ("tz-dotdot", budget(timeZone="../etc/passwd"), ""),
    ("percent-0", budget(nearlyExhaustedPercent=0), ""),
    ("percent-101", budget(nearlyExhaustedPercent=101), ""),
    ("percent-string", budget(nearlyExhaustedPercent="90"), ""),
    ("too-many-backends", budget(backends=[{"backend": f"b{i}", "amount": "1"} for i in range(51)]), ""),
    ("unknown-field", budget(waitForFunds=True), ""),
    ("no-limit", {**budget(), "spec": {"currency": "USD"}}, ""),
    ("name-64", budget("b" * 64), "must be a DNS label of at most 63 characters"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "document", "words"), CASES, ids=[c[0] for c in CASES])
def test_the_model_and_the_crd_agree(case: str, document: dict[str, Any], words: str | None) -> None:
    error = model_error(document)
    assert (error is None) is (words is None), error
    if words:
        assert words in (error or ""), error
    errors = crd_errors(crd.prune_nulls(copy.deepcopy(document)), definition(), cel=cel_available())
    assert (errors == []) is (words is None), errors
    if words and cel_available():
        assert any(words in each for each in errors), errors


def test_rules_say_what_the_validators_say() -> None:
    messages = {rule.message for rule in BUDGET_RULES}
    assert any(EXACTLY_ONE in message for message in messages) and UNIQUE in messages
    assert {rule.reason for rule in BUDGET_RULES} <= {"FieldValueInvalid", "FieldValueDuplicate"}
    assert QISKIT_BUDGET.mutable_spec_fields is None, "a budget is configuration: its spec stays editable"
    assert len(crd.cel_rules(QISKIT_BUDGET)) == 1 + len(BUDGET_RULES), "the name rule, and no freeze rule"


def test_cel_errors_name_the_field() -> None:
    if not cel_available():
        pytest.skip("cel-python is not installed")
    errors = cel_errors(budget(backends=[{"backend": "a", "amount": "1"}, {"backend": "a", "amount": "1"}]),
                        definition())  # fmt: skip
    assert errors == [f".spec: {UNIQUE}"]


def test_the_spec_stays_editable_with_a_status() -> None:
    if not cel_available():
        pytest.skip("cel-python is not installed")
    old = budget()
    old["status"] = {"periodStart": "2026-11-01T00:00:00Z", "spent": {"quantumSeconds": "1", "amount": "1.6"}}
    new = copy.deepcopy(old)
    new["spec"]["limit"] = {"amount": "3200.00"}
    assert cel_errors(new, definition(), old=old) == []


def test_the_kind_is_registered_with_its_names_and_columns() -> None:
    assert api.kind_named("QiskitBudget") is QISKIT_BUDGET and QISKIT_BUDGET in api.KINDS
    names = definition()["spec"]["names"]
    assert (names["plural"], names["singular"], names["shortNames"]) == ("qiskitbudgets", "qiskitbudget", ["qbg"])
    assert definition()["spec"]["scope"] == "Namespaced"
    (version,) = definition()["spec"]["versions"]
    assert version["subresources"] == {"status": {}}
    shown = [c["name"] for c in version["additionalPrinterColumns"] if not c.get("priority")]
    assert shown == ["Limit", "Spent", "Reserved", "Remaining", "Period", "Age"]
    assert yaml.safe_load((REPO / crd_file(QISKIT_BUDGET)).read_text()) == definition()


def test_reservations_are_a_map_keyed_by_job_uid() -> None:
    status = crd_schema(definition())["properties"]["status"]["properties"]
    assert status["reservations"]["x-kubernetes-list-type"] == "map"
    assert status["reservations"]["x-kubernetes-list-map-keys"] == ["uid"]
    assert status["conditions"]["x-kubernetes-list-map-keys"] == ["type"]
    assert "default" not in str(status), "the status is written whole by the controller"
    spec = crd_schema(definition())["properties"]["spec"]["properties"]
    assert spec["period"]["default"] == "monthly" and spec["timeZone"]["default"] == "UTC"
    assert spec["currency"]["default"] == "USD" and spec["nearlyExhaustedPercent"]["default"] == 90
    assert "default" not in spec["limit"] and "default" not in spec["backends"]


def test_status_validates() -> None:
    document = budget()
    document["status"] = {
        "periodStart": "2026-10-31T23:00:00Z",
        "spent": {"quantumSeconds": "12.5", "amount": "20"},
        "reserved": {"quantumSeconds": "30", "amount": "48"},
        "remaining": {"amount": "1532"},
        "reservations": [{"uid": "u-1", "job": "bell", "backend": "ibm-torino", "quantumSeconds": "30",
                          "amount": "48", "since": "2026-11-28T10:00:00Z"}],
        "backends": [{"backend": "ibm-torino", "spent": {"quantumSeconds": "12.5", "amount": "20"},
                      "reserved": {"quantumSeconds": "30", "amount": "48"}, "remaining": {"amount": "732"}}],
        "summary": {"limit": "1600.00 USD", "spent": "20 USD", "reserved": "48 USD", "remaining": "1532 USD"},
        "conditions": [{"type": "Exhausted", "status": "False", "reason": "WithinLimit",
                        "lastTransitionTime": "2026-11-01T00:00:00Z"}],
        "observedGeneration": 1,
        "message": "1532 USD of 1600 USD left",
    }  # fmt: skip
    validate_against_crd(document, definition())
    assert QiskitBudget.model_validate(document).status is not None
    document["status"]["reservations"][0]["amount"] = 48.0
    assert any("48.0" in error for error in crd_errors(document, definition()))


def test_the_job_status_carries_its_cost_as_decimal_strings() -> None:
    cost = {
        "estimate": {"quantumSeconds": "2.3", "amount": "3.68", "currency": "USD", "how": "IBM's model"},
        "reserved": {"quantumSeconds": "4", "amount": "6.40", "currency": "USD"},
        "charged": {"quantumSeconds": "2.1", "amount": "3.36", "currency": "USD"},
        "budgets": ["team"],
    }
    status = QiskitJobStatus.model_validate({"phase": "Succeeded", "cost": cost})
    assert status.dump()["cost"] == cost
    job = yaml.safe_load((REPO / "examples" / "bell.yaml").read_text())
    job["status"] = {"phase": "Succeeded", "cost": cost}
    validate_against_crd(job, crd.definition(api.QISKIT_JOB))
    schema = crd_schema(crd.definition(api.QISKIT_JOB))["properties"]["status"]["properties"]["cost"]
    assert schema["properties"]["charged"]["properties"]["amount"]["type"] == "string"


def test_the_example_fits_and_the_catalogue_loader_skips_it(tmp_path: Path) -> None:
    (document,) = [doc for doc in yaml.safe_load_all(EXAMPLE.read_text()) if doc]
    validate_against_crd(document, definition())
    parsed = QiskitBudget.model_validate(document)
    assert parsed.spec.time_zone == "Europe/Paris" and parsed.spec.limit.amount == "1600.00"
    assert [(each.backend, each.amount) for each in parsed.spec.backends] == [("ibm-torino", "800.00")]
    backends, _ = load_catalogue([EXAMPLE.parent])
    assert "ibm-torino" in {backend.name for backend in backends}
    alone = tmp_path / "budget.yaml"
    alone.write_text(EXAMPLE.read_text())
    with pytest.raises(InvalidJobError, match="no QiskitBackend or QiskitSession found"):
        load_catalogue([alone])  # a budget is not a catalogue entry


# --------------------------------------------------------------------------- differential, small


_VALUES: dict[str, list[Any]] = {
    "limit": [{"amount": "1"}, {"quantumSeconds": "600"}, {}, {"amount": "1", "quantumSeconds": "1"},
              {"amount": 1}, {"amount": "01"}, None],
    "currency": ["EUR", "eur", "EURO", None],
    "period": ["monthly", "total", "yearly", None],
    "timeZone": ["Asia/Kolkata", "Pacific/Chatham", "UTC+1", "utc", "", "a" * 65, None],
    "backends": [[], [{"backend": "a", "amount": "1"}], [{"backend": "a"}], [{"backend": "A", "amount": "1"}],
                 [{"backend": "a", "amount": "1"}, {"backend": "b", "quantumSeconds": "2"}],
                 [{"backend": "a", "amount": "1"}, {"backend": "a", "quantumSeconds": "2"}], None],
    "nearlyExhaustedPercent": [1, 100, 0, 50.0, "50", None],
    "other": [1],
}  # fmt: skip


def test_a_small_corpus_agrees() -> None:
    rng = random.Random(20261128)
    mutations = [(key, value) for key, options in _VALUES.items() for value in options]
    verdicts, disagreements = [], []
    for index in range(300):
        document = budget()
        for key, value in rng.sample(mutations, rng.choice((1, 2, 3))):
            document["spec"][key] = copy.deepcopy(value)
        by_model = model_error(document) is None
        sent = integral_floats_to_int(crd.prune_nulls(copy.deepcopy(document)))  # as kubectl sends 50.0
        by_crd = not crd_errors(sent, definition(), cel=cel_available())
        verdicts.append(by_crd)
        if by_model != by_crd:
            disagreements.append(f"{index}: {document['spec']}: model {'accepts' if by_model else 'refuses'}")
    assert 30 < sum(verdicts) < 270, sum(verdicts)
    assert not disagreements, "\n".join(disagreements[:20])
