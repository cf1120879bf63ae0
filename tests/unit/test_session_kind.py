"""The QiskitSession kind: its CRD and its model accept and refuse the same sessions, and its spec freezes once open."""

from __future__ import annotations

import copy
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from qiskit_argo import api, crd
from qiskit_argo.api import QISKIT_SESSION, QiskitSession
from qiskit_argo.errors import InvalidJobError
from qiskit_argo.generate import crd_file
from qiskit_argo.manifests import parse_wire
from tests.support.schemas import cel_available, cel_errors, crd_errors, validate_against_crd

REPO = Path(__file__).resolve().parents[2]


def session(name: str = "sherbrooke", **spec: Any) -> dict[str, Any]:
    spec.setdefault("backendRef", "fake-sherbrooke")
    return {"apiVersion": "qiskit-argo.io/v1alpha1", "kind": "QiskitSession", "metadata": {"name": name}, "spec": spec}


def definition() -> dict[str, Any]:
    return crd.definition(QISKIT_SESSION)


def model_error(document: dict[str, Any]) -> str | None:
    """What the models say, read as the CLI reads a manifest (wire names only), or ``None``."""
    try:
        parse_wire(QiskitSession, crd.prune_nulls(copy.deepcopy(document)), "session.yaml")
    except InvalidJobError as error:
        assert "\n" not in str(error) and len(str(error)) <= 300, str(error)
        return str(error)
    return None


CASES: list[tuple[str, dict[str, Any], bool]] = [
    ("minimal", session(), True),
    ("batch", session(mode="batch", maxTime="2h", cancelOnDelete=True), True),
    ("max-time-compound", session(maxTime="1h30m"), True),
    ("mode-unknown", session(mode="dedicated"), False),
    ("mode-case", session(mode="Session"), False),
    ("max-time-days", session(maxTime="1d"), False),
    ("max-time-number", session(maxTime=3600), False),
    ("backend-ref-upper", session(backendRef="Torino"), False),
    ("backend-ref-empty", session(backendRef=""), False),
    ("no-backend-ref", {**session(), "spec": {"mode": "batch"}}, False),
    ("cancel-string", session(cancelOnDelete="yes"), False),
    ("snake-case", session(cancel_on_delete=True), False),
    ("token", session(token="s3cr3t"), False),
    ("name-64", session("s" * 64), False),
]


@pytest.mark.parametrize(("case", "document", "valid"), CASES, ids=[c[0] for c in CASES])
def test_the_model_and_the_crd_agree(case: str, document: dict[str, Any], valid: bool) -> None:
    assert (model_error(document) is None) is valid, model_error(document)
    errors = crd_errors(crd.prune_nulls(copy.deepcopy(document)), definition(), cel=cel_available())
    assert (errors == []) is valid, errors


def test_the_kind_is_registered_with_its_names() -> None:
    assert api.kind_named("QiskitSession") is QISKIT_SESSION and QISKIT_SESSION in api.KINDS
    names = definition()["spec"]["names"]
    assert (names["plural"], names["singular"], names["shortNames"]) == ("qiskitsessions", "qiskitsession", ["qs"])
    (version,) = definition()["spec"]["versions"]
    assert version["subresources"] == {"status": {}}
    shown = [c["name"] for c in version["additionalPrinterColumns"] if not c.get("priority")]
    assert shown == ["Backend", "Mode", "Phase", "Session", "Age"]
    assert yaml.safe_load((REPO / crd_file(QISKIT_SESSION)).read_text()) == definition()


def test_the_spec_is_frozen_once_the_session_is_open() -> None:
    if not cel_available():
        pytest.skip("cel-python is not installed: the CRD's CEL rules cannot be evaluated")
    old = session()
    old["status"] = {"phase": "Ready", "sessionId": "local-session-1"}
    new = copy.deepcopy(old)
    new["spec"]["mode"] = "batch"
    assert any("spec" in error for error in cel_errors(new, definition(), old=old))
    unopened = copy.deepcopy(old)
    del unopened["status"]
    edited = copy.deepcopy(unopened)
    edited["spec"]["mode"] = "batch"
    assert cel_errors(edited, definition(), old=unopened) == []


def test_status_validates() -> None:
    document = session()
    document["status"] = {
        "phase": "Ready",
        "sessionId": "cr1abc",
        "device": "fake_sherbrooke",
        "state": "open",
        "quantumSeconds": 1.5,
        "openWorkflowName": "sherbrooke-open-1a2b3c",
        "openedAt": "2026-01-01T00:00:00Z",
        "conditions": [
            {"type": "Ready", "status": "True", "reason": "Open", "lastTransitionTime": "2026-01-01T00:00:00Z"}
        ],
    }
    validate_against_crd(document, definition())
    assert QiskitSession.model_validate(document).status is not None
    document["status"]["phase"] = "Open"
    assert any("Open" in error for error in crd_errors(document, definition()))


def test_a_small_corpus_agrees() -> None:
    values: dict[str, list[Any]] = {
        "backendRef": ["a", "A", "", "a" * 254, None, 1],
        "mode": ["session", "batch", "", None, 1],
        "maxTime": ["10s", "1.5h", "1x", "", None, 60],
        "cancelOnDelete": [True, False, "true", None],
        "other": [1],
    }
    rng = random.Random(20261128)
    mutations = [(key, value) for key, options in values.items() for value in options]
    verdicts, disagreements = [], []
    for index in range(200):
        document = session()
        for key, value in rng.sample(mutations, rng.choice((1, 2))):
            document["spec"][key] = value
        by_model = model_error(document) is None
        by_crd = not crd_errors(crd.prune_nulls(copy.deepcopy(document)), definition(), cel=cel_available())
        verdicts.append(by_crd)
        if by_model != by_crd:
            disagreements.append(f"{index}: {document['spec']}: model {'accepts' if by_model else 'refuses'}")
    assert 20 < sum(verdicts) < 180
    assert not disagreements, "\n".join(disagreements[:20])
