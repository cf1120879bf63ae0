"""Preloaded by a step worker: its ``qiskit-argo-step`` runs the steps of ``fake_executor.REGISTRY``.

(What registering a step means in a process that runs steps; never imported by a test itself.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qiskit_argo import steps
from tests.support.fake_executor import REGISTRY

_real_main = steps.main


def main(argv: Sequence[str] | None = None, **options: Any) -> int:
    return _real_main(argv, **{"steps": REGISTRY, **options})


steps.main = main
