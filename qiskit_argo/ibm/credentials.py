"""The IBM Quantum API key: read from the environment of the one pod that talks to IBM, and never shown.

The key lives in a Secret (a QiskitBackend's ``credentialsSecretRef``); only a step that talks to
IBM gets it, as the environment variable ``TOKEN_ENV`` (``valueFrom.secretKeyRef``). ``Token``
holds it: its ``repr`` and ``str`` are ``***``, and only ``reveal()`` (called where it is handed
to qiskit-ibm-runtime) gives the value. Every error here names the variable, never the value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from qiskit_argo.errors import PermanentError
from qiskit_argo.ibm.errors import REDACTED

__all__ = ["TOKEN_ENV", "CHANNEL_ENV", "INSTANCE_ENV", "CHANNELS", "Token", "Credentials", "credentials_from_env"]

#: Where a step finds the API key, the channel and the instance.
TOKEN_ENV = "QISKIT_IBM_TOKEN"
CHANNEL_ENV = "QISKIT_IBM_CHANNEL"
INSTANCE_ENV = "QISKIT_IBM_INSTANCE"
#: qiskit-ibm-runtime 0.51's channels (``accounts/management.py``: ``ChannelType``).
CHANNELS = ("ibm_quantum_platform", "ibm_cloud")


class Token:
    """A secret string that does not show itself: ``repr``/``str``/``format`` give ``***``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value, for the one call that needs it (``QiskitRuntimeService(token=...)``)."""
        return self._value

    def __repr__(self) -> str:
        return f"Token({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, spec: str) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Token) and other._value == self._value

    def __hash__(self) -> int:
        return hash((Token, self._value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Token is not pickled: pass the Secret's reference, not its value")


@dataclass(frozen=True)
class Credentials:
    """What ``QiskitRuntimeService`` needs to reach an IBM Quantum account (the ``repr`` hides the key)."""

    token: Token
    channel: str = "ibm_quantum_platform"
    instance: str | None = None

    def service_arguments(self) -> dict[str, Any]:
        """The keyword arguments of ``QiskitRuntimeService`` (the one place the key is revealed)."""
        return {"channel": self.channel, "token": self.token.reveal(), "instance": self.instance}


def _refuse(message: str) -> NoReturn:
    raise PermanentError(message)


def credentials_from_env(env: Mapping[str, str] | None = None) -> Credentials:
    """The credentials a step was given: ``TOKEN_ENV`` (required), ``CHANNEL_ENV``, ``INSTANCE_ENV``.

    Surrounding whitespace is dropped (a Secret made ``--from-file`` often ends with a newline);
    a key that is empty or holds whitespace or control characters inside is refused.
    """
    env = os.environ if env is None else env
    raw = env.get(TOKEN_ENV)
    if raw is None or not raw.strip():
        _refuse(
            f"{TOKEN_ENV} is not set or empty: the step has no IBM Quantum API key; check the QiskitBackend's "
            "credentialsSecretRef names a Secret key that exists in this namespace"
        )
    value = raw.strip()
    if any(char.isspace() or not char.isprintable() for char in value):
        _refuse(
            f"{TOKEN_ENV} holds whitespace or control characters inside the key; store only the API key in the Secret"
        )
    channel = (env.get(CHANNEL_ENV) or "ibm_quantum_platform").strip()
    if channel not in CHANNELS:
        _refuse(f"{CHANNEL_ENV} is not a qiskit-ibm-runtime channel; use one of {', '.join(CHANNELS)}")
    instance = (env.get(INSTANCE_ENV) or "").strip() or None
    return Credentials(Token(value), channel, instance)
