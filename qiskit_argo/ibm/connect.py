"""Which ``IbmService`` a step talks to, from the schedule step's ``target`` and the pod's environment.

``service_for(target, store=..., env=...)``: a target whose ``fake`` is true (a QiskitBackend with
``fakeBackend``) gets ``LocalTestingService`` (qiskit-ibm-runtime's local testing mode; ``store``
is the job-store file shared by the submit and wait steps); any other gets ``RuntimeService``
with the API key of the pod's environment (``credentials.TOKEN_ENV``) and the target's channel and
instance. A missing or empty key is the permanent ``CredentialsMissing``, naming the Secret key
the QiskitBackend's ``spec.credentialsSecretRef`` points at; the key itself never appears in any
message.

For tests, ``using(service, sleep=..., clock=...)`` makes every step in this process talk to
``service`` (e.g. a ``FakeIbmService`` with its faults armed) and wait on its clock; nothing
else sets it. The steps read their timing from ``timing()``.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qiskit_argo.errors import InvalidJobError, PermanentError, one_line, quote
from qiskit_argo.ibm.credentials import CHANNELS, TOKEN_ENV, Credentials, credentials_from_env
from qiskit_argo.ibm.service import IbmService
from qiskit_argo.reasons import Reason
from qiskit_argo.steps import NO_CREDENTIALS_SECRET

__all__ = [
    "Target",
    "parse_target",
    "service_for",
    "Timing",
    "timing",
    "using",
]


@dataclass(frozen=True)
class Target:
    """The IBM backend a job (or a service step) talks to: the schedule step's ``target.json``."""

    #: The QiskitBackend's name.
    name: str
    #: IBM's backend name (``ibm_torino``) or the fake one (``fake_sherbrooke``).
    device: str
    fake: bool = False
    channel: str | None = None
    instance: str | None = None
    session_id: str | None = None
    mode: str | None = None


def parse_target(text: str, *, what: str = "target") -> Target:
    """The ``target`` parameter (JSON ``{"name","device","fake","channel","instance","sessionId","mode"}``)."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError:
        raise InvalidJobError(f"{what} parameter: not JSON; the schedule step writes target.json") from None
    if not isinstance(raw, dict) or not raw:
        raise InvalidJobError(
            f"{what} parameter: empty; this step runs only for an IBM backend (executor ibm), and the schedule "
            "step chose none"
        )
    device = raw.get("device")
    if not isinstance(device, str) or not device:
        raise InvalidJobError(f"{what} parameter: no device; the QiskitBackend needs spec.backend or spec.fakeBackend")

    def text_of(key: str) -> str | None:
        value = raw.get(key)
        return value if isinstance(value, str) and value else None

    return Target(
        name=text_of("name") or device,
        device=device,
        fake=raw.get("fake") is True,
        channel=text_of("channel"),
        instance=text_of("instance"),
        session_id=text_of("sessionId"),
        mode=text_of("mode"),
    )


@dataclass(frozen=True)
class Timing:
    """How a step waits: its sleep and clock (real ones, unless a test set others with ``using``)."""

    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


@dataclass(frozen=True)
class _Override:
    service: IbmService
    timing: Timing


_override: _Override | None = None


@contextlib.contextmanager
def using(
    service: IbmService,
    *,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
) -> Iterator[IbmService]:
    """Tests only: within the block, ``service_for`` returns ``service`` (whatever the target) and
    ``timing()`` gives ``sleep``/``clock`` (e.g. ``FakeIbmService.sleep``/``.clock``)."""
    global _override
    previous = _override
    _override = _Override(service, Timing(sleep or time.sleep, clock or time.monotonic))
    try:
        yield service
    finally:
        _override = previous


def timing() -> Timing:
    """The sleep and clock the steps wait with."""
    return _override.timing if _override is not None else Timing()


def _missing_key(secret_ref: tuple[str, str] | None, target: Target) -> PermanentError:
    if secret_ref is None or secret_ref[0] == NO_CREDENTIALS_SECRET:
        where = "it names none"
        todo = "set spec.credentialsSecretRef to the Secret key holding the IBM Quantum API key"
    else:
        name, key = (quote(part) for part in secret_ref)
        where = f"it names key {key} of Secret {name}"
        todo = f"create that Secret in this namespace with the API key under {key} (non-empty)"
    return PermanentError(
        one_line(
            f"QiskitBackend {quote(target.name)} spec.credentialsSecretRef: the step got no IBM Quantum API key "
            f"({TOKEN_ENV} is unset or empty; {where}); {todo}"
        ),
        reason=Reason.CREDENTIALS_MISSING,
    )


def service_for(
    target: Mapping[str, Any] | Target,
    *,
    store: Path | None,
    env: Mapping[str, str] | None = None,
    secret_ref: tuple[str, str] | None = None,
) -> IbmService:
    """The service for ``target`` (see the module docstring). ``secret_ref`` (the step's
    ``credentials-secret``/``credentials-key``) only words a missing key."""
    if isinstance(target, Mapping):
        target = parse_target(json.dumps(dict(target)))
    if _override is not None:
        return _override.service
    if target.fake:
        from qiskit_argo.ibm.local_mode import LocalTestingService

        return LocalTestingService(store=store)
    env = os.environ if env is None else env
    raw = env.get(TOKEN_ENV)
    if raw is None or not raw.strip():
        raise _missing_key(secret_ref, target)
    base = credentials_from_env(env)
    channel = target.channel or base.channel
    if channel not in CHANNELS:
        raise InvalidJobError(
            f"QiskitBackend {quote(target.name)} spec.channel: {quote(channel)} is not a qiskit-ibm-runtime channel; "
            f"use one of {', '.join(CHANNELS)}"
        )
    from qiskit_argo.ibm import runtime

    # The factory is looked up now (not bound at import): tests replace ``runtime.runtime_service_factory``.
    credentials = Credentials(base.token, channel, target.instance or base.instance)
    return runtime.RuntimeService(credentials, factory=runtime.runtime_service_factory)
