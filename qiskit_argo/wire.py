"""JSON value types exactly as a Kubernetes structural schema checks them.

The API server decodes a request body as JSON and checks every value against the CRD's
``openAPIV3Schema`` without converting anything: ``"7"`` is not an integer, ``true`` is not a
number, ``1`` is not a boolean. Pydantic's lax mode would convert all three, so the models use
these strict types instead, and what the CLI accepts is what ``kubectl apply`` accepts.

One conversion is kept because the cluster makes it too (``integral_floats_to_int``): a float with
an integral value is an integer. kubectl's YAML → JSON step (sigs.k8s.io/yaml, Go's
encoding/json) writes a float64 below 1e21 in plain digits, so ``7.0`` and ``1e3`` arrive as
``7`` and ``1000``, which the API server reads as integers when they fit in 64 bits. JSON has no
``NaN`` or infinities, so ``Number`` refuses them.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AllowInfNan, Strict

__all__ = ["Int", "Number", "Str", "Bool", "MAX_JSON_INTEGER", "json_type_name", "integral_floats_to_int"]

#: Integral floats below this magnitude reach the API server as (64-bit) integers.
MAX_JSON_INTEGER = 2**63

#: A JSON integer.
Int = Annotated[int, Strict()]
#: A finite JSON number (an integer is a number too).
Number = Annotated[float, Strict(), AllowInfNan(False)]
#: A JSON string.
Str = Annotated[str, Strict()]
#: A JSON boolean.
Bool = Annotated[bool, Strict()]


def json_type_name(value: Any) -> str:
    """What JSON calls a Python value: string, integer, number, boolean, null, object, array."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def _integral(value: float) -> bool:
    return value.is_integer() and abs(value) < MAX_JSON_INTEGER


def integral_floats_to_int(document: Any) -> Any:
    """``document`` with every integral float (``7.0``) an int, as kubectl's JSON has it (in place
    for containers; iterative, so depth cannot exhaust the stack)."""
    if isinstance(document, float):
        return int(document) if _integral(document) else document
    stack, seen = [document], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            items: Any = node.items()
        elif isinstance(node, list):
            items = enumerate(node)
        else:
            continue
        for key, value in list(items):
            if isinstance(value, float) and _integral(value):
                node[key] = int(value)
            elif isinstance(value, dict | list):
                stack.append(value)
    return document
