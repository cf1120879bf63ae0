"""``Options``: how one controller process runs (the CLI's flags), shared by every kind's reconciler."""

from __future__ import annotations

from dataclasses import dataclass

from qiskit_argo.cache_pruning import DEFAULT_MAX_BYTES
from qiskit_argo.request import Limits

__all__ = ["Options", "DEFAULT_PEERING"]

DEFAULT_PEERING = "qiskit-argo"


@dataclass(frozen=True)
class Options:
    """How one controller process runs."""

    #: Namespaces to serve; empty means all of them (cluster-wide).
    namespaces: tuple[str, ...] = ()
    #: How long a Workflow event keeps retrying transient API failures before it gives up (the
    #: next event of that Workflow or its owner, or a restart, catches up). Owner events never give up.
    event_retry_seconds: float = 300.0
    #: Platform limits passed to every job's validate step (None: the step's built-in limits).
    limits: Limits | None = None
    #: Run without peering (a single replica, tests); otherwise replicas elect one active peer.
    standalone: bool = False
    peering: str = DEFAULT_PEERING
    #: Peering priority; the highest live peer acts, the others stand by. Random by default.
    priority: int | None = None
    #: ``http://0.0.0.0:8080/healthz`` style URL for kopf's liveness probe, or None.
    liveness: str | None = None
    #: kopf's per-object event batching window (seconds); kopf's default when None.
    batch_window: float | None = None
    #: First retry delay after a transient API failure (seconds); doubles up to a minute.
    backoff: float = 1.0
    #: How often a job waiting for its QiskitSession (SessionNotReady) checks it again, in seconds
    #: (a change of the session wakes it at once as well).
    session_recheck_seconds: float = 30.0
    #: How long a deleted job's IBM-cancel finalizer waits for the cancel Workflow before it lets
    #: go with an IbmCancelFailed Event, counted from the job's deletionTimestamp (seconds).
    cancel_timeout_seconds: float = 120.0
    #: How often a QiskitBackend is probed again (a new probe Workflow), in seconds.
    probe_interval_seconds: float = 300.0
    #: How long a deleted QiskitSession's finalizer waits for its close Workflow (seconds).
    session_close_timeout_seconds: float = 120.0
    #: How often the simulator cache ConfigMap of a namespace where jobs ran is pruned again
    #: (seconds); a job that finishes prunes it sooner, at most once per ``cache_prune_gap_seconds``.
    cache_prune_interval_seconds: float = 3600.0
    cache_prune_gap_seconds: float = 60.0
    #: The size (keys plus values, bytes) a prune brings the simulator cache ConfigMap under.
    cache_max_bytes: int = DEFAULT_MAX_BYTES
