"""The catalogue snapshot, the semaphore ConfigMap's data, and reading catalogue manifests."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from qiskit_argo.api import QiskitBackend, QiskitSession
from qiskit_argo.catalogue import (
    BUILTIN_SEMAPHORE_KEY,
    UNLIMITED,
    Catalogue,
    entry_of,
    load_catalogue,
    semaphore_data,
    snapshot,
)
from qiskit_argo.errors import MAX_MESSAGE, InvalidJobError
from qiskit_argo.objectmeta import CONFIG_MAP_KEY, config_map_key_problem

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "catalogue"


def _backend(name: str, spec: dict[str, Any], status: dict[str, Any] | None = None) -> QiskitBackend:
    document: dict[str, Any] = {
        "apiVersion": "qiskit-argo.io/v1alpha1",
        "kind": "QiskitBackend",
        "metadata": {"name": name, "namespace": "team"},
        "spec": spec,
    }
    if status is not None:
        document["status"] = status
    return QiskitBackend.model_validate(document)


TORINO = _backend(
    "torino",
    {
        "type": "ibm",
        "backend": "ibm_torino",
        "instance": "crn:v1:bluemix:public:quantum-computing:us-east:a/1::",
        "credentialsSecretRef": {"name": "ibm-quantum", "key": "api-key"},
        "cost": {"perQuantumSecond": "1.60"},
        "maxConcurrentJobs": 3,
    },
    {
        "phase": "Ready",
        "device": "ibm_torino",
        "capabilities": {
            "numQubits": 133,
            "basisGates": ["cz", "rz", "sx", "x"],
            "operational": True,
            "pendingJobs": 7,
        },
    },
)
FAKE = _backend("sherbrooke", {"type": "ibm", "fakeBackend": "fake_sherbrooke", "enabled": False})
SIM = _backend("sim", {"type": "aer", "aer": {"method": "stabilizer"}, "maxConcurrentJobs": 1})
SESSION = QiskitSession.model_validate(
    {
        "apiVersion": "qiskit-argo.io/v1alpha1",
        "kind": "QiskitSession",
        "metadata": {"name": "night", "namespace": "team"},
        "spec": {"backendRef": "torino", "mode": "batch"},
        "status": {"phase": "Ready", "sessionId": "sess-1"},
    }
)


def test_entry_of_an_ibm_backend() -> None:
    entry = entry_of(TORINO)
    assert (entry.name, entry.type, entry.device, entry.fake) == ("torino", "ibm", "ibm_torino", False)
    assert (entry.phase, entry.num_qubits, entry.pending_jobs, entry.operational) == ("Ready", 133, 7, True)
    assert entry.basis_gates == ["cz", "rz", "sx", "x"] and entry.max_concurrent_jobs == 3
    assert entry.credentials is not None and entry.credentials.key == "api-key"
    assert entry.cost is not None and entry.cost.per_quantum_second == "1.60"
    assert entry.instance and entry.instance.startswith("crn:")


def test_entry_of_unprobed_fake_and_aer() -> None:
    fake, sim = entry_of(FAKE), entry_of(SIM)
    assert (fake.device, fake.fake, fake.enabled, fake.phase, fake.num_qubits) == (
        "fake_sherbrooke",
        True,
        False,
        None,
        None,
    )
    assert fake.credentials is None and fake.channel is None
    assert (sim.type, sim.device, sim.aer and sim.aer.method) == ("aer", "aer_simulator", "stabilizer")


def test_snapshot_sorted_with_session_and_round_trips() -> None:
    catalogue = snapshot([TORINO, SIM, FAKE], SESSION)
    assert [entry.name for entry in catalogue.entries] == ["sherbrooke", "sim", "torino"]
    assert catalogue.session is not None
    assert catalogue.session.dump() == {"name": "night", "backendRef": "torino", "mode": "batch", "sessionId": "sess-1"}
    assert Catalogue.model_validate_json(catalogue.model_dump_json(by_alias=True)) == catalogue
    assert snapshot([]).dump() == {"entries": []}


def test_snapshot_holds_no_secret_value() -> None:
    text = snapshot([TORINO]).model_dump_json(by_alias=True)
    assert '"credentials":{"name":"ibm-quantum","key":"api-key"}' in text
    assert "token" not in text.lower()


def test_semaphore_data() -> None:
    data = semaphore_data([TORINO, FAKE, SIM])
    assert data == {BUILTIN_SEMAPHORE_KEY: str(UNLIMITED), "sherbrooke": str(UNLIMITED), "sim": "1", "torino": "3"}
    for key, value in data.items():
        assert re.fullmatch(CONFIG_MAP_KEY, key) and config_map_key_problem(key) is None
        assert int(value) >= 1
    assert semaphore_data([]) == {BUILTIN_SEMAPHORE_KEY: str(UNLIMITED)}


def test_semaphore_never_zero_even_if_the_model_was_bypassed() -> None:
    odd = TORINO.model_copy(deep=True)
    odd.spec.max_concurrent_jobs = 0  # not valid input, but the ConfigMap must never say 0
    assert semaphore_data([odd])["torino"] == "1"


def test_load_the_examples() -> None:
    backends, sessions = load_catalogue([EXAMPLES])
    assert [backend.name for backend in backends] == sorted(backend.name for backend in backends)
    assert {backend.spec.type for backend in backends} == {"aer", "ibm"}
    assert all(backend.status is None for backend in backends)
    assert all(session.spec.backend_ref for session in sessions)


_BACKEND = """apiVersion: qiskit-argo.io/v1alpha1
kind: QiskitBackend
metadata: {name: NAME}
spec: {type: ibm, fakeBackend: fake_sherbrooke}
"""


def _yaml(name: str = "b", old: str = "", new: str = "") -> str:
    """One QiskitBackend manifest called ``name``, with ``old`` replaced by ``new``."""
    return _BACKEND.replace("NAME", name).replace(old, new) if old else _BACKEND.replace("NAME", name)


_SECRET = "apiVersion: v1\nkind: Secret\nmetadata: {name: ibm}\nstringData: {api-key: x}\n"


def test_load_mixed_files_and_skip_other_kinds(tmp_path: Path) -> None:
    (tmp_path / "b.yml").write_text(_SECRET + "---\n" + _yaml("two"))
    (tmp_path / "a.yaml").write_text(
        _yaml("one")
        + "status: {phase: NotReady}\n---\n"
        + "apiVersion: qiskit-argo.io/v1alpha1\nkind: QiskitSession\nmetadata: {name: s}\nspec: {backendRef: one}\n"
    )
    (tmp_path / "notes.txt").write_text("not a manifest")
    backends, sessions = load_catalogue([tmp_path])
    assert [backend.name for backend in backends] == ["one", "two"]
    assert backends[0].status is None  # as kubectl apply: status is the controller's
    assert [session.name for session in sessions] == ["s"] and sessions[0].spec.mode == "session"


@pytest.mark.parametrize(
    ("files", "needles"),
    [
        ({"c.yaml": "# c\n\n---\n" + _yaml(old="fake_sherbrooke", new="sherbrooke")}, ["c.yaml:4:", "fakeBackend"]),
        ({"c.yaml": _yaml(old="type: ibm", new="type: quantum")}, ["c.yaml:1:", "spec.type", "'quantum'"]),
        ({"c.yaml": _yaml("Bad_Name")}, ["c.yaml:1:", "metadata.name"]),
        ({"c.yaml": _yaml(old="v1alpha1", new="v9")}, ["c.yaml:1:", "apiVersion", "'qiskit-argo.io/v9'"]),
        ({"c.yaml": "spec: [\n"}, ["c.yaml", "line"]),
        ({"c.yaml": "- just\n- a list\n"}, ["c.yaml:1:", "expected a manifest mapping"]),
        ({"c.yaml": _SECRET}, ["test_load_errors", "no QiskitBackend or QiskitSession"]),
        (
            {"a.yaml": _yaml("x"), "b.yaml": "\n\n" + _yaml("x")},
            ["b.yaml:3:", "QiskitBackend 'x' is also defined at", "a.yaml:1", "keep one"],
        ),
        ({"c.yaml": "apiVersion: qiskit-argo.io/v1alpha1\nkind: QiskitSession\nmetadata: {name: s}\nspec: {}\n"},
         ["c.yaml:1:", "spec.backendRef"]),
    ],
)  # fmt: skip
def test_load_errors_are_one_line_naming_the_file(tmp_path: Path, files: dict[str, str], needles: list[str]) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(InvalidJobError) as caught:
        load_catalogue([tmp_path])
    message = str(caught.value)
    assert "\n" not in message and len(message) <= MAX_MESSAGE
    assert all(needle in message for needle in needles), message
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("path", ["missing.yaml", "empty-dir"])
def test_load_missing_paths(tmp_path: Path, path: str) -> None:
    (tmp_path / "empty-dir").mkdir()
    with pytest.raises(InvalidJobError, match=re.escape(path)):
        load_catalogue([tmp_path / path])
