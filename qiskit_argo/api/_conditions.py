"""``metav1.Condition``: the conditions every kind reports, so ``kubectl wait --for=condition=X`` works."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from qiskit_argo.api._base import _Model

__all__ = ["Condition", "REASON_PATTERN"]

#: ``metav1.Condition.reason``: CamelCase, as the API server checks it.
REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"


class Condition(_Model):
    """A metav1.Condition."""

    type: Annotated[
        str,
        Field(
            description=(
                "What the condition is about, e.g. Succeeded; `kubectl wait --for=condition=<type>` waits for it."
            )
        ),
    ]
    status: Annotated[
        Literal["True", "False", "Unknown"],
        Field(description="True, False, or Unknown while it is not decided yet (e.g. a step that has not finished)."),
    ]
    reason: Annotated[
        str,
        Field(
            pattern=REASON_PATTERN,
            max_length=1024,
            description="One CamelCase word for why status is what it is, e.g. CircuitValid or InvalidCircuit.",
        ),
    ]
    message: Annotated[
        str,
        Field(
            max_length=32768,
            description="What happened, in one line for a person; empty when there is nothing to add.",
        ),
    ] = ""
    last_transition_time: Annotated[
        datetime,
        Field(description="When status last changed (RFC 3339), not when the condition was last checked."),
    ]
    observed_generation: Annotated[
        int | None,
        Field(
            ge=0,
            description=(
                "The metadata.generation this condition describes; lower than the resource's generation means "
                "the controller has not caught up with the latest edit yet."
            ),
        ),
    ] = None
