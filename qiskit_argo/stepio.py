"""Reading a step's inputs: artifact files and JSON parameters, with one-line errors.

A missing artifact is transient (the previous step or the artifact store failed; a retry may
help); a parameter or request that does not parse is permanent (the Workflow is wrong).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from qiskit_argo.errors import InvalidJobError, TransientError, one_line
from qiskit_argo.reasons import Reason
from qiskit_argo.request import ExecutionRequest

__all__ = ["read_artifact", "parse_parameter", "load_request"]

Model = TypeVar("Model", bound=BaseModel)


def read_artifact(path: Path, what: str) -> bytes:
    """The bytes of an input artifact; ``what`` names it in the error (``request``, ``circuit``)."""
    try:
        return path.read_bytes()
    except OSError as error:
        raise TransientError(
            f"cannot read the {what} artifact {path} ({error.strerror}); the previous step did not pass it",
            reason=Reason.MISSING_ARTIFACT,
        ) from None


def parse_parameter(model: type[Model], text: str, what: str) -> Model:
    """A JSON output parameter of an earlier step, as ``model``."""
    try:
        return model.model_validate(json.loads(text))
    except (json.JSONDecodeError, ValidationError, TypeError) as error:
        raise InvalidJobError(f"{what} parameter: not {model.__name__} JSON ({one_line(error, 200)})") from None


def load_request(path: Path) -> ExecutionRequest:
    """The ``request`` artifact the validate step wrote."""
    try:
        return ExecutionRequest.model_validate_json(read_artifact(path, "request"))
    except ValidationError as error:
        problem = one_line(error.errors()[0]["msg"], 200)
        raise InvalidJobError(f"request artifact {path}: not an ExecutionRequest ({problem})") from None
