"""The simulator cache key: the same seeded Aer run, asked for again, reuses the earlier result.

A run is cacheable only when it is reproducible: it runs on Qiskit Aer (never on IBM Quantum,
whose results differ run to run and cost money each time), a seed is set (an unseeded run is a
new sample every time) and the job did not turn the cache off (``spec.execution.cache: false``).
Its key is the SHA-256 (hex) of the canonical JSON (sorted keys, no spaces) of everything that
decides the result::

    {"fingerprint": <the request's: circuits, bindings, PUBs, primitive, optimization level>,
     "seed": int, "method": str, "noise_model": str | null, "device": "CPU" | "GPU",
     "shards": int, "versions": {"qiskit", "qiskit-aer", "qiskit-ibm-runtime", "qiskit-argo"}}

``shards`` is part of the key because each shard runs with a seed of its own
(``qiskit_argo.sharding.shard_seed``); ``versions`` because another Qiskit, Aer or qiskit-argo
may give other counts for the same seed (a library not installed is ``"absent"``). The key is 64
lowercase hex digits, which Argo's memoization key pattern accepts
(``^[a-zA-Z0-9][-a-zA-Z0-9]*$``, workflow/controller/cache/cache.go).

Pure: imports no Qiskit (versions come from the installed distributions' metadata).
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import metadata

from qiskit_argo.api import AerOptions
from qiskit_argo.request import ExecutionRequest

__all__ = ["VERSIONED_DISTRIBUTIONS", "ABSENT", "versions", "cache_key"]

#: The distributions whose versions are part of every key.
VERSIONED_DISTRIBUTIONS = ("qiskit", "qiskit-aer", "qiskit-ibm-runtime", "qiskit-argo")
#: The version recorded for a distribution that is not installed.
ABSENT = "absent"


@cache
def versions() -> dict[str, str]:
    """The installed version of each of ``VERSIONED_DISTRIBUTIONS`` (``ABSENT`` when not installed)."""
    found: dict[str, str] = {}
    for name in VERSIONED_DISTRIBUTIONS:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = ABSENT
    return found


def cache_key(
    request: ExecutionRequest,
    aer: AerOptions | None,
    method: str,
    shards: int,
    *,
    installed: dict[str, str] | None = None,
) -> str | None:
    """The cache key of the run (see the module), or ``None`` when it is not cacheable: ``aer`` is
    ``None`` (it runs on IBM Quantum), the request's ``cache`` is off, or no seed is set.

    ``aer`` is the target's Aer options (an aer QiskitBackend's defaults under the job's own);
    ``method`` the one the schedule step chose; ``installed`` replaces ``versions()`` (tests)."""
    if aer is None or not request.cache or aer.seed is None:
        return None
    document = {
        "fingerprint": request.fingerprint,
        "seed": aer.seed,
        "method": method,
        "noise_model": aer.noise_model,
        "device": aer.device,
        "shards": shards,
        "versions": dict(versions() if installed is None else installed),
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()
