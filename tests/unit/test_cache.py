"""The simulator cache key: the same seeded Aer run has the same key; anything that changes the
result changes it; what cannot be cached has none."""

from __future__ import annotations

import re
from typing import Any

import pytest

from qiskit_argo import cache
from qiskit_argo.api import AerOptions
from qiskit_argo.request import ExecutionRequest, PubRequest

VERSIONS = {"qiskit": "2.1.0", "qiskit-aer": "0.17.1", "qiskit-ibm-runtime": "0.41.0", "qiskit-argo": "0.12.0"}


def _request(**fields: Any) -> ExecutionRequest:
    base: dict[str, Any] = {
        "job_name": "sweep",
        "primitive": "sampler",
        "pubs": [PubRequest(circuit=0, shots=1000)],
        "fingerprint": "a" * 64,
    }
    return ExecutionRequest(**{**base, **fields})


def _key(request: ExecutionRequest | None = None, aer: AerOptions | None = None, **changes: Any) -> str | None:
    arguments: dict[str, Any] = {
        "method": "automatic",
        "shards": 4,
        "installed": dict(VERSIONS),
        **changes,
    }
    return cache.cache_key(
        request if request is not None else _request(),
        aer if aer is not None else AerOptions(seed=42),
        arguments["method"],
        arguments["shards"],
        installed=arguments["installed"],
    )


def test_the_same_run_has_the_same_key() -> None:
    first, second = _key(), _key()
    assert first is not None and first == second
    assert re.fullmatch(r"[0-9a-f]{64}", first), "sha256 hex: Argo's memoization key pattern accepts it"


def test_the_key_does_not_depend_on_the_job_beyond_what_decides_the_result() -> None:
    renamed = _request(job_name="other", namespace="lab", uid="u-1", generation=3)
    assert _key(renamed) == _key()


@pytest.mark.parametrize(
    ("case", "changed"),
    [
        ("seed", {"aer": AerOptions(seed=43)}),
        ("method", {"method": "statevector"}),
        ("noise model", {"aer": AerOptions(seed=42, noise_model="FakeManilaV2")}),
        ("device", {"aer": AerOptions(seed=42, device="GPU")}),
        ("shards", {"shards": 5}),
        ("fingerprint", {"request": _request(fingerprint="b" * 64)}),
        ("qiskit", {"installed": {**VERSIONS, "qiskit": "2.2.0"}}),
        ("qiskit-aer", {"installed": {**VERSIONS, "qiskit-aer": "0.18.0"}}),
        ("qiskit-ibm-runtime", {"installed": {**VERSIONS, "qiskit-ibm-runtime": cache.ABSENT}}),
        ("qiskit-argo", {"installed": {**VERSIONS, "qiskit-argo": "0.13.0"}}),
    ],
)
def test_anything_that_decides_the_result_changes_the_key(case: str, changed: dict[str, Any]) -> None:
    assert _key(**changed) != _key(), case


@pytest.mark.parametrize(
    ("case", "request_", "aer"),
    [
        ("no seed", _request(), AerOptions()),
        ("cache disabled", _request(cache=False), AerOptions(seed=42)),
    ],
)
def test_what_cannot_be_cached_has_no_key(case: str, request_: ExecutionRequest, aer: AerOptions) -> None:
    assert _key(request_, aer) is None, case


def test_ibm_has_no_key() -> None:
    """``aer`` is None when the run is on IBM Quantum: never cached, whatever the seed."""
    assert cache.cache_key(_request(aer=AerOptions(seed=42)), None, "automatic", 1) is None


def test_installed_versions_name_every_library() -> None:
    found = cache.versions()
    assert set(found) == set(cache.VERSIONED_DISTRIBUTIONS)
    assert all(isinstance(value, str) and value for value in found.values())
    assert found["qiskit"] != cache.ABSENT
