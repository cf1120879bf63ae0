"""Keeping Argo's simulator cache ConfigMap small: API calls around ``qiskit_argo.cache_pruning``.

Argo memoizes the cached Aer execute steps in ConfigMap ``qiskit-argo-result-cache``
(``CACHE_CONFIGMAP``) of each job namespace and never deletes an entry; once it would pass
1 MiB, every save fails and marks its node Error. ``CachePruner`` prunes it per namespace:

* when a job of the namespace finishes (``wake``; at once, but at most once per
  ``Options.cache_prune_gap_seconds``), and then again every
  ``Options.cache_prune_interval_seconds`` for as long as the ConfigMap exists (one timer per
  namespace in this process; a restart re-lists the jobs, and the finished ones wake it again);
* a prune reads the ConfigMap, asks ``cache_pruning.prune`` what stays (entries older than
  ``CACHE_MAX_AGE``, unreadable ones, then the least recently hit until it is under
  ``Options.cache_max_bytes``), and merge-patches the removed keys to null **guarded by the
  ConfigMap's resourceVersion**: never a blind write over Argo's own saves. A 409 reads it again
  a little later; a ConfigMap that needs no change is not written;
* what it removed is logged and recorded as an Event ``CachePruned`` on the ConfigMap
  (entries, bytes before and after).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from qiskit_argo.cache_pruning import data_size, parse_max_age, prune
from qiskit_argo.steps import CACHE_CONFIGMAP, CACHE_MAX_AGE
from qiskit_argo_controller.kube import CONFIGMAP, Conflict, Forbidden, Kube, KubeError, NotFound
from qiskit_argo_controller.options import Options
from qiskit_argo_controller.reconcile import meta, resource_version, utc_now

__all__ = ["CachePruner", "Pruned", "EVENT_REASON"]

EVENT_REASON = "CachePruned"
_MAX_AGE = parse_max_age(CACHE_MAX_AGE)
#: Not a resource's logger: what a prune says is about the namespace, not about the job that woke it.
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pruned:
    """What one prune of a namespace's cache ConfigMap did (``entries`` 0: it wrote nothing)."""

    entries: int
    bytes_before: int
    bytes_after: int


class CachePruner:
    """Prunes the simulator cache ConfigMap of every namespace where jobs finish."""

    def __init__(self, kube: Kube, options: Options, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.kube = kube
        self.options = options
        self.clock = clock
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._last: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._conflicts: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # -- when ----------------------------------------------------------------------------------

    def wake(self, namespace: str, delay: float = 0.0) -> None:
        """Prune ``namespace``'s cache in ``delay`` seconds, but not sooner than the gap after the
        last prune there (the earliest request wins)."""
        loop = asyncio.get_running_loop()
        at = loop.time() + max(delay, 0.0)
        last = self._last.get(namespace)
        if last is not None:
            at = max(at, last + self.options.cache_prune_gap_seconds)
        old = self._timers.get(namespace)
        if old is not None and not old.cancelled() and old.when() <= at:
            return
        if old is not None:
            old.cancel()

        def fire() -> None:
            task = loop.create_task(self._fire(namespace))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        self._timers[namespace] = loop.call_at(at, fire)

    def due(self, namespace: str) -> float | None:
        """Seconds until the namespace's next prune, or None (for tests and logs)."""
        timer = self._timers.get(namespace)
        if timer is None or timer.cancelled():
            return None
        return max(timer.when() - asyncio.get_running_loop().time(), 0.0)

    async def _fire(self, namespace: str) -> None:
        self._timers.pop(namespace, None)
        lock = self._locks.setdefault(namespace, asyncio.Lock())
        async with lock:
            self._last[namespace] = asyncio.get_running_loop().time()
            interval = self.options.cache_prune_interval_seconds
            try:
                done = await self.prune(namespace)
            except Conflict:
                tries = self._conflicts[namespace] = self._conflicts.get(namespace, 0) + 1
                wait = min(self.options.backoff * 2 ** (tries - 1), 60.0)
                logger.info(f"ConfigMap {CACHE_CONFIGMAP} changed while pruning it; reading it again in {wait:g}s")
                self._last.pop(namespace, None)  # a conflict retry is not held back by the gap
                self.wake(namespace, wait)
                return
            except Forbidden as error:
                logger.error(
                    f"Not allowed to prune ConfigMap {CACHE_CONFIGMAP} in {namespace} ({error.message}); "
                    "check the controller's RBAC"
                )
                self.wake(namespace, interval)
                return
            except KubeError as error:
                wait = min(30.0, interval)
                logger.info(
                    f"Could not prune ConfigMap {CACHE_CONFIGMAP} in {namespace} ({error}); retrying in {wait:g}s"
                )
                self.wake(namespace, wait)
                return
            self._conflicts.pop(namespace, None)
            if done is not None:
                self.wake(namespace, interval)  # the slow timer, while the cache exists

    # -- what ----------------------------------------------------------------------------------

    async def prune(self, namespace: str) -> Pruned | None:
        """One prune of ``namespace``'s cache ConfigMap: None when there is none. Raises
        ``Conflict`` when it changed between the read and the write (nothing was written)."""
        current = await self.kube.get(CONFIGMAP, namespace, CACHE_CONFIGMAP)
        if current is None:
            return None
        data = current.get("data")
        data = {str(key): value for key, value in data.items()} if isinstance(data, dict) else {}
        before = data_size({key: value for key, value in data.items() if isinstance(value, str)})
        kept = prune(data, self.clock(), max_age=_MAX_AGE, max_bytes=self.options.cache_max_bytes)
        rv = resource_version(current)
        if kept is None or rv is None:
            return Pruned(0, before, before)
        removed = [key for key in data if key not in kept]
        patch = {"metadata": {"resourceVersion": rv}, "data": dict.fromkeys(removed)}
        try:
            await self.kube.patch(CONFIGMAP, namespace, CACHE_CONFIGMAP, patch)
        except NotFound:
            return None
        done = Pruned(len(removed), before, data_size(kept))
        message = (
            f"Pruned {done.entries} of {len(data)} simulator cache entries: "
            f"{done.bytes_before} → {done.bytes_after} bytes (at most {self.options.cache_max_bytes}; "
            f"entries older than {CACHE_MAX_AGE} and the least recently hit go first)"
        )
        logger.info(f"ConfigMap {namespace}/{CACHE_CONFIGMAP}: {message}")
        involved = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": dict(meta(current))}
        self.kube.event(involved, type="Normal", reason=EVENT_REASON, message=message)
        return done
