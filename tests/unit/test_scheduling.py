"""The schedule step: the built-in Aer and its method, and choosing from the catalogue (ref,
selector, session), each with a reason a person can read."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from qiskit_argo import estimates, scheduling
from qiskit_argo.api import AerOptions, BackendSelector, BackendStatus, CircuitMetrics, CostModel, SecretKeyRef
from qiskit_argo.cache import cache_key
from qiskit_argo.catalogue import Catalogue, CatalogueEntry, SessionEntry
from qiskit_argo.errors import MAX_MESSAGE, InvalidJobError, PermanentError, TransientError
from qiskit_argo.request import ExecutionRequest, PubRequest

BELL_OPS = {"h": 1, "cx": 1, "measure": 2}
T_OPS = {"h": 1, "t": 1, "cx": 1, "measure": 2}


def _request(primitive: str = "sampler", shots: int | None = 1024, **aer: Any) -> ExecutionRequest:
    return ExecutionRequest(
        job_name="j",
        primitive=primitive,
        pubs=[PubRequest(circuit=0, shots=shots if primitive == "sampler" else None)],
        aer=AerOptions(**aer),
    )


def _metrics(count_ops: dict[str, int], num_qubits: int = 2) -> CircuitMetrics:
    return CircuitMetrics(num_qubits=num_qubits, depth=3, size=sum(count_ops.values()), count_ops=count_ops)


@pytest.mark.parametrize(
    ("request_", "metrics", "method", "needles"),
    [
        (_request(), _metrics(BELL_OPS), "automatic", ["method=automatic", "Clifford-only", "stabilizer"]),
        (
            _request(),
            _metrics({"h": 1, "s": 1, "sdg": 1, "cz": 2, "swap": 1, "barrier": 1}),
            "automatic",
            ["stabilizer"],
        ),
        (_request(), _metrics(T_OPS), "automatic", ["statevector", "t", "64 B"]),
        (_request(), _metrics({"ry": 20, "cx": 19}, num_qubits=20), "automatic", ["20-qubit", "statevector", "16 MiB"]),
        (_request(), _metrics({"ry": 30}, num_qubits=30), "automatic", ["16 GiB", "matrix_product_state"]),
        (
            _request(shots=2000, noise_model="FakeManilaV2"),
            _metrics(BELL_OPS, num_qubits=3),
            "automatic",
            ["FakeManilaV2", "2000 shots > 2^3", "density_matrix"],
        ),
        (
            _request(shots=4, noise_model="FakeManilaV2"),
            _metrics(BELL_OPS, num_qubits=3),
            "automatic",
            ["FakeManilaV2", "statevector", "trajectory"],
        ),
        (
            _request("estimator", noise_model="FakeManilaV2"),
            _metrics({"h": 1, "cx": 1}),
            "automatic",
            ["FakeManilaV2", "1024 estimator shots > 2^2", "density_matrix"],
        ),
        (
            _request("estimator", noise_model="FakeSherbrooke"),
            _metrics({"h": 1, "cx": 11}, num_qubits=12),
            "automatic",
            ["FakeSherbrooke", "statevector"],
        ),
        (_request(method="statevector"), _metrics(BELL_OPS), "statevector", ["method=statevector", "set in the job"]),
        (
            _request(method="stabilizer"),
            _metrics(T_OPS),
            "stabilizer",
            ["method=stabilizer", "set in the job", "non-Clifford instructions t"],
        ),
        (
            _request(method="density_matrix", noise_model="FakeManilaV2"),
            _metrics(BELL_OPS),
            "density_matrix",
            ["method=density_matrix", "FakeManilaV2"],
        ),
    ],
)
def test_choose_backend(request_: ExecutionRequest, metrics: CircuitMetrics, method: str, needles: list[str]) -> None:
    status = scheduling.choose_backend(request_, metrics)
    assert status.name == "aer" and status.method == method
    assert status.reason is not None and status.reason.startswith("spec.backend.aer.method=")
    assert "\n" not in status.reason
    for needle in needles:
        assert needle in status.reason, status.reason


@pytest.mark.parametrize(
    ("count_ops", "clifford"),
    [(BELL_OPS, True), ({"rz": 1}, False), ({"x": 1, "reset": 1, "delay": 1}, True), ({}, True), (T_OPS, False)],
)
def test_is_clifford(count_ops: dict[str, int], clifford: bool) -> None:
    assert scheduling.is_clifford(count_ops) is clifford


def test_run_step_writes_backend_json(tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps(_request().dump()))
    scheduling.run_step(request, json.dumps(_metrics(BELL_OPS).dump()), tmp_path / "out")
    status = BackendStatus.model_validate_json((tmp_path / "out" / "backend.json").read_text())
    assert status.name == "aer" and status.method == "automatic" and "stabilizer" in (status.reason or "")


def test_run_step_without_the_request(tmp_path: Path) -> None:
    with pytest.raises(TransientError) as caught:
        scheduling.run_step(tmp_path / "missing.json", "{}", tmp_path / "out")
    assert caught.value.reason == "MissingArtifact" and "missing.json" in str(caught.value)


@pytest.mark.parametrize("metrics", ["", "[]", '{"numQubits": "many"}'])
def test_run_step_with_bad_metrics(tmp_path: Path, metrics: str) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps(_request().dump()))
    with pytest.raises(InvalidJobError) as caught:
        scheduling.run_step(request, metrics, tmp_path / "out")
    assert "metrics parameter" in str(caught.value) and "\n" not in str(caught.value)


# --------------------------------------------------------------------------- the catalogue

WIDE_OPS = {"h": 1, "cx": 4, "t": 2, "measure": 5}


def _entry(name: str, type_: str = "ibm", **fields: Any) -> CatalogueEntry:
    device = {"aer": "aer_simulator", "ibm": f"fake_{name}"}[type_]
    defaults: dict[str, Any] = {"device": device, "fake": type_ == "ibm", "phase": "Ready", "num_qubits": 127}
    return CatalogueEntry(name=name, type=type_, **(defaults | fields))


TORINO = _entry(
    "torino",
    device="ibm_torino",
    fake=False,
    num_qubits=133,
    pending_jobs=40,
    credentials=SecretKeyRef(name="ibm-key", key="token"),
    cost=CostModel(per_quantum_second="1.60"),
)
CATALOGUE = Catalogue(
    entries=[
        _entry("sim", "aer", num_qubits=30, aer=AerOptions(method="statevector", seed=7, noise_model="FakeManilaV2")),
        TORINO,
        _entry("sherbrooke", pending_jobs=3),
        _entry("brisbane", pending_jobs=1),
        _entry("manila", num_qubits=4),
        _entry("fez", enabled=False),
        _entry("kyiv", phase="NotReady", message="credentials rejected: fix the Secret"),
        _entry("new", phase="Pending", num_qubits=None),
    ],
    session=SessionEntry(name="night", backend_ref="torino", mode="batch", session_id="sess-1"),
)


def _job(**fields: Any) -> ExecutionRequest:
    fields.setdefault("pubs", [PubRequest(circuit=0, shots=1000)])
    fields.setdefault("primitive", "sampler")
    return ExecutionRequest(job_name="j", namespace="team", **fields)


def _wide(num_qubits: int = 5) -> CircuitMetrics:
    return CircuitMetrics(num_qubits=num_qubits, depth=10, size=12, count_ops=WIDE_OPS)


def _rejected(choice: scheduling.Choice) -> dict[str, str]:
    return {item.name: item.reason for item in choice.backend.rejected}


# (case, request fields, circuit width, executor, chosen name, needles in the reason)
CHOSEN = [
    ("ref aer", {"backend_ref": "sim"}, 5, "aer", "sim", ["spec.backend.ref=sim", "statevector", "default"]),
    ("ref ibm", {"backend_ref": "torino"}, 5, "ibm", "torino", ["ibm_torino", "quantum seconds", "USD"]),
    ("ref fake", {"backend_ref": "sherbrooke"}, 5, "ibm", "sherbrooke", ["local testing mode"]),
    ("ref unprobed", {"backend_ref": "new"}, 5, "ibm", "new", ["fake_new"]),
    ("selector cheapest, then queue", {"selector": BackendSelector(type="ibm")}, 5, "ibm", "brisbane", ["best fit"]),
    (
        "selector preference",
        {"selector": BackendSelector(type="ibm", preference=["torino", "brisbane"])},
        5,
        "ibm",
        "torino",
        ["first in spec.backend.selector.preference"],
    ),
    (
        "selector preference over price",
        {"selector": BackendSelector(type="ibm", max_price="100", preference=["zzz", "torino"])},
        5,
        "ibm",
        "torino",
        [],
    ),
    (
        "selector maxPrice",
        {"selector": BackendSelector(type="ibm", max_price="1.00", preference=["torino"])},
        5,
        "ibm",
        "brisbane",
        [],
    ),
    ("selector minQubits", {"selector": BackendSelector(type="ibm", min_qubits=130)}, 5, "ibm", "torino", []),
    ("selector aer", {"selector": BackendSelector(type="aer")}, 5, "aer", "sim", ["statevector"]),
    ("selector any type: shortest known queue", {"selector": BackendSelector()}, 5, "ibm", "brisbane", []),
    ("selector aer first", {"selector": BackendSelector(preference=["sim"])}, 5, "aer", "sim", []),
    ("selector width", {"selector": BackendSelector(type="ibm")}, 130, "ibm", "torino", []),
    ("session", {"session_ref": "night"}, 5, "ibm", "torino", ["spec.sessionRef=night", "(batch)"]),
    ("session and the same ref", {"session_ref": "night", "backend_ref": "torino"}, 5, "ibm", "torino", []),
]


@pytest.mark.parametrize(
    ("fields", "width", "executor", "name", "needles"), [case[1:] for case in CHOSEN], ids=[c[0] for c in CHOSEN]
)
def test_choose_from_the_catalogue(
    fields: dict[str, Any], width: int, executor: str, name: str, needles: list[str]
) -> None:
    choice = scheduling.choose(_job(**fields), _wide(width), CATALOGUE)
    assert (choice.executor, choice.backend.name, choice.backend.type) == (executor, name, executor)
    assert scheduling.executor(choice.backend) == executor
    assert choice.semaphore == name
    reason = choice.backend.reason or ""
    assert "\n" not in reason and all(needle in reason for needle in needles), reason
    assert name not in _rejected(choice)


# (case, request fields, circuit width, error reason, needles)
REFUSED = [
    ("ref missing", {"backend_ref": "nope"}, 5, "BackendNotFound", ["spec.backend.ref", "'nope'", "sim, torino"]),
    ("ref disabled", {"backend_ref": "fez"}, 5, "BackendUnavailable", ["spec.backend.ref", "fez", "disabled"]),
    ("ref not ready", {"backend_ref": "kyiv"}, 5, "BackendUnavailable", ["kyiv", "credentials rejected"]),
    ("ref too narrow", {"backend_ref": "manila"}, 5, "NoSuitableBackend", ["has 4 qubits, the circuit needs 5"]),
    (
        "selector matches nothing",
        {"selector": BackendSelector(type="ibm", min_qubits=500)},
        5,
        "NoSuitableBackend",
        ["spec.backend.selector", "minQubits is 500", "allowSimulatorFallback"],
    ),
    (
        "circuit wider than every candidate",
        {"selector": BackendSelector()},
        200,
        "NoSuitableBackend",
        ["the circuit needs 200", "allowSimulatorFallback"],
    ),
    (
        "session with another ref",
        {"session_ref": "night", "backend_ref": "sherbrooke"},
        5,
        "InvalidSpec",
        ["spec.backend.ref", "'sherbrooke'", "torino"],
    ),
    ("session not in the catalogue", {"session_ref": "day"}, 5, "InvalidSpec", ["spec.sessionRef", "'day'"]),
]


@pytest.mark.parametrize(
    ("fields", "width", "reason", "needles"), [case[1:] for case in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_choose_refuses(fields: dict[str, Any], width: int, reason: str, needles: list[str]) -> None:
    with pytest.raises(PermanentError) as caught:
        scheduling.choose(_job(**fields), _wide(width), CATALOGUE)
    message = str(caught.value)
    assert caught.value.reason == reason and caught.value.exit_code == 2
    assert "\n" not in message and len(message) <= MAX_MESSAGE
    assert all(needle in message for needle in needles), message


def test_selector_records_every_rejection() -> None:
    choice = scheduling.choose(
        _job(selector=BackendSelector(type="ibm", max_price="1", min_qubits=5)), _wide(), CATALOGUE
    )
    assert choice.backend.name == "brisbane"
    rejected = _rejected(choice)
    assert set(rejected) == {entry.name for entry in CATALOGUE.entries} - {"brisbane"}
    assert "spec.backend.selector.type asks for ibm" in rejected["sim"]
    assert "over spec.backend.selector.maxPrice 1" in rejected["torino"]
    assert rejected["manila"] == "has 4 qubits, the circuit needs 5"
    assert "disabled" in rejected["fez"] and "not ready" in rejected["kyiv"]
    assert rejected["new"].startswith("not probed yet")
    assert rejected["sherbrooke"] == "fits, but brisbane ranks first (a shorter queue)"


def test_session_target_and_credentials() -> None:
    choice = scheduling.choose(_job(session_ref="night"), _wide(), CATALOGUE)
    assert choice.target == {
        "name": "torino",
        "device": "ibm_torino",
        "fake": False,
        "channel": "ibm_quantum_platform",
        "instance": None,
        "sessionId": "sess-1",
        "mode": "batch",
    }
    assert (choice.credentials_secret, choice.credentials_key) == ("ibm-key", "token")


def test_a_fake_backend_needs_no_credentials() -> None:
    choice = scheduling.choose(_job(backend_ref="sherbrooke"), _wide(), CATALOGUE)
    assert (choice.credentials_secret, choice.credentials_key) == ("qiskit-argo-no-credentials", "token")
    assert choice.target["fake"] is True and choice.target["device"] == "fake_sherbrooke"


def test_aer_entry_options_are_defaults_under_the_jobs() -> None:
    own = scheduling.choose(_job(backend_ref="sim", aer=AerOptions(method="stabilizer", seed=1)), _wide(), CATALOGUE)
    assert own.target == {"aer": {"method": "stabilizer", "seed": 1, "noiseModel": "FakeManilaV2", "device": "CPU"}}
    assert own.backend.method == "stabilizer" and "set in the job" in (own.backend.reason or "")
    inherited = scheduling.choose(_job(backend_ref="sim"), _wide(), CATALOGUE)
    assert inherited.target == {
        "aer": {"method": "statevector", "seed": 7, "noiseModel": "FakeManilaV2", "device": "CPU"}
    }


def test_the_device_merges_like_the_method() -> None:
    gpu = _entry("gpu", "aer", num_qubits=40, aer=AerOptions(method="tensor_network", device="GPU"))
    catalogue = Catalogue(entries=[gpu, CATALOGUE.entries[0]])
    inherited = scheduling.choose(_job(backend_ref="gpu"), _wide(), catalogue)
    assert inherited.target["aer"]["device"] == "GPU" and inherited.backend.method == "tensor_network"
    assert "on the GPU" in (inherited.backend.reason or "")
    asked = scheduling.choose(_job(backend_ref="sim", aer=AerOptions(device="GPU")), _wide(), catalogue)
    assert asked.target["aer"]["device"] == "GPU"
    own = scheduling.choose(
        _job(backend_ref="sim", aer=AerOptions(method="tensor_network", device="GPU")), _wide(), catalogue
    )
    assert own.target["aer"]["method"] == "tensor_network" and own.target["aer"]["device"] == "GPU"


def test_no_catalogue_keeps_the_built_in_aer() -> None:
    request, metrics = _request(), _metrics(BELL_OPS)
    for catalogue in (None, Catalogue(), CATALOGUE):
        choice = scheduling.choose(request, metrics, catalogue)
        assert choice.backend == scheduling.choose_backend(request, metrics)
        assert (choice.executor, choice.target, choice.semaphore) == ("aer", {}, "_builtin")
        assert choice.credentials_secret == "qiskit-argo-no-credentials"


def test_fallback_to_an_aer_entry() -> None:
    catalogue = Catalogue(entries=[CATALOGUE.entries[0], TORINO])
    selector = BackendSelector(type="ibm", max_price="1", allow_simulator_fallback=True)
    choice = scheduling.choose(_job(selector=selector), _wide(), catalogue)
    assert (choice.executor, choice.backend.name, choice.semaphore) == ("aer", "sim", "sim")
    reason = choice.backend.reason or ""
    assert "no QiskitBackend fits (1 rejected" in reason and "allowSimulatorFallback" in reason, reason
    assert list(_rejected(choice)) == ["torino"] and "maxPrice" in _rejected(choice)["torino"]
    assert choice.target["aer"]["method"] == "statevector"


_SIM, _MANY = CATALOGUE.entries[0], [_entry(f"b{index:03}", num_qubits=2) for index in range(120)]

# (case, catalogue entries, selector, chosen name, candidates not chosen): the count in the reason
# is of the candidates not chosen, and status.backend.rejected lists exactly those (up to its cap).
FALLBACKS = [
    ("aer entry chosen, not counted", [_SIM, TORINO], BackendSelector(type="ibm", max_price="1"), "sim", 1),
    ("aer entry, every other entry", [_SIM, _entry("sim2", "aer"), *CATALOGUE.entries[4:]], BackendSelector(type="ibm"),
     "sim", 5),
    ("missing preference counted", [_SIM, TORINO], BackendSelector(type="ibm", preference=["zzz"], max_price="1"),
     "sim", 2),
    ("built-in: every entry", CATALOGUE.entries, BackendSelector(type="aer", min_qubits=500), "aer", 8),
    ("built-in: over the cap", _MANY, BackendSelector(), "aer", 120),
]  # fmt: skip


_COUNTED = re.compile(r"fits \((\d+) rejected, see status\.backend\.rejected(?: \((\d+) more not listed\))?\)")


@pytest.mark.parametrize(
    ("entries", "selector", "name", "not_chosen"), [case[1:] for case in FALLBACKS], ids=[c[0] for c in FALLBACKS]
)
def test_fallback_count_agrees_with_the_list(
    entries: list[CatalogueEntry], selector: BackendSelector, name: str, not_chosen: int
) -> None:
    selector = selector.model_copy(update={"allow_simulator_fallback": True})
    choice = scheduling.choose(_job(selector=selector), _wide(), Catalogue(entries=entries))
    reason, listed = choice.backend.reason or "", _rejected(choice)
    assert choice.backend.name == name and name not in listed
    counted = _COUNTED.search(reason)
    assert counted is not None, reason
    assert int(counted[1]) == not_chosen == len(choice.backend.rejected) + int(counted[2] or 0), reason


@pytest.mark.parametrize("catalogue", [Catalogue(), CATALOGUE])
def test_fallback_to_the_built_in_aer(catalogue: Catalogue) -> None:
    selector = BackendSelector(type="aer", min_qubits=500, allow_simulator_fallback=True)
    choice = scheduling.choose(_job(selector=selector), _wide(), catalogue)
    assert (choice.executor, choice.backend.name, choice.backend.device, choice.semaphore) == (
        "aer",
        "aer",
        "aer_simulator",
        "_builtin",
    )
    reason = choice.backend.reason or ""
    assert "allowSimulatorFallback" in reason and "built-in Aer simulator" in reason and "statevector" in reason
    assert len(choice.backend.rejected) == len(catalogue.entries)


def test_an_unprobed_simulator_fits_an_unprobed_device_does_not() -> None:
    catalogue = Catalogue(entries=[_entry("sim", "aer", num_qubits=None), _entry("dev", num_qubits=None)])
    choice = scheduling.choose(_job(selector=BackendSelector(min_qubits=20)), _wide(), catalogue)
    assert choice.backend.name == "sim"
    assert _rejected(choice)["dev"] == "not probed yet: its qubit count is unknown (see kubectl get qb)"


def test_empty_catalogue_without_fallback() -> None:
    with pytest.raises(scheduling.NoSuitableBackendError, match="has no QiskitBackend to choose from"):
        scheduling.choose(_job(selector=BackendSelector()), _wide(), Catalogue())


def test_rejections_are_capped_and_counted() -> None:
    entries = [_entry(f"b{index:03}", num_qubits=2) for index in range(120)]
    with pytest.raises(scheduling.NoSuitableBackendError) as caught:
        scheduling.choose(_job(selector=BackendSelector()), _wide(), Catalogue(entries=entries))
    assert len(str(caught.value)) <= MAX_MESSAGE and "none of the 120" in str(caught.value)
    choice = scheduling.choose(
        _job(selector=BackendSelector(allow_simulator_fallback=True)), _wide(), Catalogue(entries=entries)
    )
    assert len(choice.backend.rejected) == 50 and "(70 more not listed)" in (choice.backend.reason or "")


def test_the_estimate_sums_over_pubs() -> None:
    """Every PUB runs in the one IBM job: one overhead, Σ bindings x shots executions."""
    pubs = [PubRequest(circuit=0, shots=1000), PubRequest(circuit=1, shots=1000, num_bindings=2, values="pub-1.npy")]
    request, metrics = _job(pubs=pubs, backend_ref="torino"), _wide()
    assert estimates.total_shots(request) == 1000 + 2 * 1000
    seconds = estimates.quantum_seconds_of(TORINO, request, metrics)
    assert seconds == pytest.approx(2 + (250e-6 + 10 * 1e-6 + 4e-6) * 3000)
    assert estimates.estimated_cost(TORINO, request, metrics) == Decimal("1.60") * Decimal(str(seconds))
    estimate = scheduling.estimate_of(
        scheduling.choose(request, metrics, CATALOGUE), request, metrics, CATALOGUE, scheduling.Reserved()
    )
    assert estimate["quantumSeconds"] == "2.792" and "3000 shots" in estimate["how"] and "2 PUBs" in estimate["how"]
    estimator = _job(
        primitive="estimator",
        pubs=[PubRequest(circuit=0, precision=0.05), PubRequest(circuit=0, precision=0.1, num_bindings=2)],
    )
    assert estimates.total_shots(estimator) == 400 + 2 * 100
    assert estimates.executions_of(estimator) == 2 * 600, "x the resilience factor of IBM's default level 1"


def test_the_automatic_reason_uses_the_most_shots_of_any_pub() -> None:
    pubs = [PubRequest(circuit=0, shots=4), PubRequest(circuit=1, shots=2000)]
    request = _request(noise_model="FakeManilaV2").model_copy(update={"pubs": pubs})
    status = scheduling.choose_backend(request, _metrics(BELL_OPS, num_qubits=3))
    assert "2000 shots > 2^3" in (status.reason or ""), status.reason


def test_price_uses_the_estimate() -> None:
    request, metrics = _job(), _wide()
    seconds = estimates.quantum_seconds_of(TORINO, request, metrics)
    assert seconds == pytest.approx(2 + (250e-6 + 10 * 1e-6 + 4e-6) * 1000)
    assert estimates.estimated_cost(TORINO, request, metrics) == Decimal("1.60") * Decimal(str(seconds))
    assert estimates.quantum_seconds_of(CATALOGUE.entries[0], request, metrics) == 0
    assert estimates.estimated_cost(CATALOGUE.entries[0], request, metrics) == 0
    cheap = scheduling.choose(_job(selector=BackendSelector(type="ibm", max_price="3.63")), _wide(), CATALOGUE)
    dear = scheduling.choose(_job(selector=BackendSelector(type="ibm", max_price="3.62")), _wide(), CATALOGUE)
    assert "maxPrice" not in _rejected(cheap)["torino"] and "maxPrice" in _rejected(dear)["torino"]


# --------------------------------------------------------------------------- the step, end to end


def _step(
    tmp_path: Path, request: ExecutionRequest, catalogue: str | None, width: int = 5, reserved: str = "{}"
) -> tuple[int, Path]:
    from qiskit_argo.steps import main

    (tmp_path / "request.json").write_text(json.dumps(request.dump()))
    if catalogue is not None:
        (tmp_path / "catalogue.json").write_text(catalogue)
    out = tmp_path / "out"
    argv = ["schedule", "--request", str(tmp_path / "request.json"), "--catalogue", str(tmp_path / "catalogue.json")]
    argv += ["--metrics", json.dumps(_wide(width).dump()), "--reserved", reserved, "--out", str(out)]
    return main(argv), out


def _outputs(out: Path) -> dict[str, str]:
    from qiskit_argo.steps import STEPS

    return {name: (out / file).read_text() for name, file in STEPS["schedule"].output_parameters.items()}


def test_step_declares_every_output() -> None:
    from qiskit_argo.steps import STEPS

    spec = STEPS["schedule"]
    assert dict(spec.output_parameters) == scheduling.OUTPUT_FILES
    assert spec.input_artifacts == {"request": "request.json", "catalogue": "catalogue.json"}


def test_step_end_to_end_on_ibm(tmp_path: Path) -> None:
    catalogue = json.dumps(CATALOGUE.dump())
    code, out = _step(tmp_path, _job(session_ref="night"), catalogue)
    assert code == 0
    outputs = _outputs(out)
    backend = BackendStatus.model_validate_json(outputs["backend"])
    assert (backend.name, backend.type, backend.device) == ("torino", "ibm", "ibm_torino")
    assert outputs["executor"] == "ibm" and outputs["semaphore"] == "torino"
    assert json.loads(outputs["target"])["sessionId"] == "sess-1"
    assert (outputs["credentials-secret"], outputs["credentials-key"]) == ("ibm-key", "token")


@pytest.mark.parametrize("catalogue", [None, "", "{}", json.dumps(Catalogue().dump())])
def test_step_end_to_end_empty_catalogue(tmp_path: Path, catalogue: str | None) -> None:
    code, out = _step(tmp_path, _request(), catalogue)
    assert code == 0
    outputs = _outputs(out)
    assert BackendStatus.model_validate_json(outputs["backend"]) == scheduling.choose_backend(_request(), _wide())
    assert (outputs["executor"], outputs["target"], outputs["semaphore"]) == ("aer", "{}", "_builtin")
    assert outputs["credentials-secret"] == "qiskit-argo-no-credentials"


SEEDED = {"aer": AerOptions(seed=5), "fingerprint": "f" * 64}
# (case, request fields, backend ref, executor, shards, cached)
PLANS = [
    ("unseeded", {}, None, "aer", ["0-of-1"], False),
    ("seeded", SEEDED, None, "aer_cached", ["0-of-1"], True),
    ("sharded", {**SEEDED, "shards": 3}, None, "aer_cached", ["0-of-3", "1-of-3", "2-of-3"], True),
    ("cache off", {**SEEDED, "cache": False, "shards": 2}, None, "aer", ["0-of-2", "1-of-2"], False),
    ("gpu", {"aer": AerOptions(device="GPU"), "shards": 2}, None, "aer_gpu", ["0-of-2", "1-of-2"], False),
    ("gpu seeded", {**SEEDED, "aer": AerOptions(seed=5, device="GPU")}, None, "aer_gpu_cached", ["0-of-1"], True),
    ("backend's seed", {"shards": 2}, "sim", "aer_cached", ["0-of-2", "1-of-2"], True),
    ("ibm", {**SEEDED, "shards": 4}, "torino", "ibm", ["0-of-1"], False),
    ("fake ibm", SEEDED, "sherbrooke", "ibm", ["0-of-1"], False),
]


@pytest.mark.parametrize(
    ("fields", "ref", "executor", "shards", "cached"), [case[1:] for case in PLANS], ids=[c[0] for c in PLANS]
)
def test_plan_run(fields: dict[str, Any], ref: str | None, executor: str, shards: list[str], cached: bool) -> None:
    request = _job(backend_ref=ref, **fields)
    choice = scheduling.choose(request, _wide(), CATALOGUE)
    run = scheduling.plan_run(choice, request)
    assert (run.executor, list(run.shards), run.cache_key is not None) == (executor, shards, cached)
    if cached:
        aer = scheduling.aer_options(choice, request)
        assert aer is not None and aer.seed is not None
        assert run.cache_key == cache_key(request, aer, choice.backend.method or aer.method, len(shards))


def test_the_step_writes_shards_and_the_cache_key(tmp_path: Path) -> None:
    code, out = _step(tmp_path, _job(shards=2, **SEEDED), None)
    assert code == 0
    outputs = _outputs(out)
    assert outputs["executor"] == "aer_cached" and json.loads(outputs["shards"]) == ["0-of-2", "1-of-2"]
    assert re.fullmatch(r"[0-9a-f]{64}", outputs["cache-key"])
    code, out = _step(tmp_path, _job(), None)
    assert code == 0 and _outputs(out)["cache-key"] == "none" and _outputs(out)["shards"] == '["0-of-1"]'


@pytest.mark.parametrize(
    ("request_", "catalogue", "line"),
    [
        (_job(backend_ref="nope"), json.dumps(CATALOGUE.dump()), "BackendNotFound: spec.backend.ref: no QiskitBackend"),
        (
            _job(selector=BackendSelector(min_qubits=999)),
            json.dumps(CATALOGUE.dump()),
            "NoSuitableBackend: spec.backend",
        ),
        (
            _job(backend_ref="fez"),
            json.dumps(CATALOGUE.dump()),
            "BackendUnavailable: spec.backend.ref: QiskitBackend fez",
        ),
        (_job(), "{not json", "InvalidSpec: catalogue artifact"),
        (_job(), '{"entries": [{"name": "x"}]}', "InvalidSpec: catalogue artifact"),
    ],
)
def test_step_end_to_end_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], request_: ExecutionRequest, catalogue: str, line: str
) -> None:
    code, out = _step(tmp_path, request_, catalogue)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith(line), err
    assert len(err[0]) <= MAX_MESSAGE + 30
    assert not (out / "backend.json").exists()


# --------------------------------------------------------------------------- the request the step reads


def test_validation_fills_the_scheduling_fields(tmp_path: Path) -> None:
    from qiskit_argo import validation

    bell = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n'
    job = {
        "apiVersion": "qiskit-argo.io/v1alpha1",
        "kind": "QiskitJob",
        "metadata": {"name": "bell", "namespace": "team", "uid": "0d5e-uid", "generation": 3},
        "spec": {
            "circuit": {"openqasm": bell},
            "primitive": "estimator",
            "observables": [{"ZZ": 1}],
            "backend": {"ref": "torino", "ibm": {"resilienceLevel": 2, "maxExecutionTime": 60}},
            "sessionRef": "night",
        },
    }
    (tmp_path / "job.json").write_text(json.dumps(job))
    validation.run_step(tmp_path / "job.json", "{}", None, tmp_path / "out")
    request = ExecutionRequest.model_validate_json((tmp_path / "out" / "request.json").read_text())
    assert (request.uid, request.generation, request.backend_ref, request.session_ref) == (
        "0d5e-uid",
        3,
        "torino",
        "night",
    )
    assert (request.ibm.resilience_level, request.ibm.max_execution_time, request.selector) == (2, 60, None)
    selected = {**job, "metadata": {"name": "bell"}}
    selected["spec"] = {"circuit": {"openqasm": bell}, "backend": {"selector": {"type": "ibm", "maxPrice": "2.50"}}}
    (tmp_path / "job.json").write_text(json.dumps(selected))
    validation.run_step(tmp_path / "job.json", "{}", None, tmp_path / "out")
    request = ExecutionRequest.model_validate_json((tmp_path / "out" / "request.json").read_text())
    assert (request.uid, request.generation, request.backend_ref) == (None, 0, None)
    assert request.selector == BackendSelector(type="ibm", max_price="2.50")


def test_a_session_on_a_missing_or_simulator_backend() -> None:
    session = SessionEntry(name="night", backend_ref="torino", mode="session")
    missing = Catalogue(entries=[CATALOGUE.entries[0]], session=session)
    with pytest.raises(scheduling.BackendNotFoundError) as caught:
        scheduling.choose(_job(session_ref="night"), _wide(), missing)
    assert "spec.sessionRef (night's spec.backendRef): no QiskitBackend 'torino'" in str(caught.value)
    on_aer = Catalogue(entries=[CATALOGUE.entries[0]], session=session.model_copy(update={"backend_ref": "sim"}))
    with pytest.raises(InvalidJobError, match="needs a type ibm backend"):
        scheduling.choose(_job(session_ref="night"), _wide(), on_aer)
    unopened = scheduling.choose(_job(session_ref="night"), _wide(), Catalogue(entries=[TORINO], session=session))
    assert unopened.target["sessionId"] is None and unopened.target["mode"] == "session"


# --------------------------------------------------------------------------- the estimate and the reservation

#: torino, 1000 shots, depth 10: 2 s + (250 + 10 + 4) µs x 1000 = 2.264 s; at 1.60 USD/s: 3.6224 USD.
TORINO_SECONDS, TORINO_AMOUNT = "2.264", "3.6224"


def test_the_estimate_is_an_output(tmp_path: Path) -> None:
    code, out = _step(tmp_path, _job(backend_ref="torino"), json.dumps(CATALOGUE.dump()))
    assert code == 0
    estimate = json.loads(_outputs(out)["estimate"])
    assert (estimate["quantumSeconds"], estimate["amount"], estimate["currency"]) == (
        TORINO_SECONDS, TORINO_AMOUNT, "USD"
    )  # fmt: skip
    assert "ibm_torino" in estimate["how"] and "1000 shots" in estimate["how"]


def test_the_built_in_aer_estimate_is_free(tmp_path: Path) -> None:
    code, out = _step(tmp_path, _request(), None)
    assert code == 0
    estimate = json.loads(_outputs(out)["estimate"])
    assert (estimate["quantumSeconds"], estimate["amount"]) == ("0", "0")


@pytest.mark.parametrize(
    "reserved",
    [
        "{}",
        json.dumps({"quantumSeconds": TORINO_SECONDS, "amount": TORINO_AMOUNT, "currency": "USD"}),
        json.dumps({"quantumSeconds": "3", "amount": "100", "currency": "USD"}),
        json.dumps({"quantumSeconds": "3"}),
    ],
)
def test_an_estimate_within_the_reservation_runs(tmp_path: Path, reserved: str) -> None:
    code, _ = _step(tmp_path, _job(backend_ref="torino"), json.dumps(CATALOGUE.dump()), reserved=reserved)
    assert code == 0


@pytest.mark.parametrize(
    ("reserved", "needles"),
    [
        ({"quantumSeconds": "2.263", "amount": "100", "currency": "USD"}, ["2.264 quantum seconds", "2.263 reserved"]),
        ({"quantumSeconds": "10", "amount": "3.62", "currency": "USD"}, ["3.62 USD", "3.62 reserved"]),
        ({"quantumSeconds": "10", "amount": "100", "currency": "EUR"}, ["charges in USD", "in EUR"]),
    ],
)
def test_an_estimate_above_the_reservation_fails_budget_exceeded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], reserved: dict[str, str], needles: list[str]
) -> None:
    catalogue = json.dumps(CATALOGUE.dump())
    code, out = _step(tmp_path, _job(backend_ref="torino"), catalogue, reserved=json.dumps(reserved))
    assert code == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("BudgetExceeded: "), line
    assert all(needle in line for needle in needles), line
    # The estimate is written before the step fails: the status shows what it would have needed.
    assert json.loads((out / scheduling.ESTIMATE_FILE).read_text())["quantumSeconds"] == TORINO_SECONDS


@pytest.mark.parametrize(
    ("reserved", "field"),
    [
        ("[1]", "not a JSON object"),
        ("{", "not JSON"),
        ('{"quantumSeconds": "-1"}', "quantumSeconds"),
        ('{"amount": "ten"}', "amount"),
        ('{"currency": "usd"}', "currency"),
        ('{"seconds": 1}', "unknown field"),
    ],
)
def test_a_bad_reservation_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], reserved: str,
                                       field: str) -> None:  # fmt: skip
    code, _ = _step(tmp_path, _job(backend_ref="torino"), json.dumps(CATALOGUE.dump()), reserved=reserved)
    assert code == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("InvalidSpec: reserved parameter: ") and field in line, line


@pytest.mark.parametrize(
    ("primitive", "pubs", "needle"),
    [
        ("sampler", [PubRequest(circuit=0, shots=100), PubRequest(circuit=1, shots=200)],
         "spec.pubs[1].shots: 200, but spec.pubs[0].shots is 100"),
        ("estimator", [PubRequest(circuit=0, precision=0.1), PubRequest(circuit=0)],
         "spec.pubs[1].precision: unset, but spec.pubs[0].precision is 0.1"),
    ],
)  # fmt: skip
def test_ibm_runs_pubs_only_with_the_same_shots_or_precision(
    primitive: str, pubs: list[PubRequest], needle: str
) -> None:
    """qiskit-ibm-runtime's Sampler/Estimator run every PUB of a job at the same shots/precision."""
    request = _job(primitive=primitive, pubs=pubs, backend_ref="torino")
    with pytest.raises(InvalidJobError) as caught:
        scheduling.choose(request, _wide(), CATALOGUE)
    assert needle in str(caught.value) and "run them on Aer" in str(caught.value)
    on_aer = scheduling.choose(request.model_copy(update={"backend_ref": "sim"}), _wide(), CATALOGUE)
    assert on_aer.executor == "aer"
