"""Parameter sweeps as files: reading a sweep's source, and the ``bindings`` artifact.

A sweep too big for the Workflow (``spec.parameterValuesFrom``, ``spec.pubs[i].parameterValuesFrom``)
is a ConfigMap key or an artifact whose bytes say their format:

* ``.npy`` (starts with ``\\x93NUMPY``): a numeric array of shape ``(bindings, parameters)``, or
  ``(bindings,)`` when the circuit has one parameter. The header is read first, so the shape, the
  dtype and the file's length are checked before any value is; object arrays are never unpickled.
* otherwise UTF-8 JSON: a list of rows (``[[0.1, 0.2], ...]``), or ``{"parameterValues": rows}``;
  a flat list of numbers when the circuit has one parameter. At most ``MAX_JSON_SOURCE`` bytes
  (a bigger sweep is smaller and faster as ``.npy``).

``read_source`` returns the rows as a C-ordered float64 array and refuses, in one line naming the
row, a value that is not finite or a row of the wrong width (naming the parameters).

The validate step writes the ``bindings`` artifact (``write_bindings``): a directory holding
``pub-<i>.npy`` (float64, shape ``(rows, parameters)``, C order, ``np.save``) for each parameterized
PUB and ``index.json`` (``{"pubs": ["pub-0.npy", null, ...]}``, so the directory is never empty).
A step reads rows ``start..stop-1`` of one PUB with ``load_values``, which maps the file and copies
only those rows.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from qiskit_argo.errors import InvalidCircuitError, InvalidJobError, LimitExceededError, TransientError, one_line, quote
from qiskit_argo.reasons import Reason
from qiskit_argo.wire import json_type_name

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "NPY_MAGIC",
    "MAX_JSON_SOURCE",
    "INDEX_FILE",
    "values_file",
    "read_source",
    "as_values",
    "values_sha256",
    "write_bindings",
    "load_values",
]

#: The first bytes of every ``.npy`` file.
NPY_MAGIC = b"\x93NUMPY"
#: Largest JSON sweep source in bytes.
MAX_JSON_SOURCE = 64 * 1024 * 1024
#: The file of the ``bindings`` directory that lists each PUB's values file (or null).
INDEX_FILE = "index.json"
_MAX_NPY_HEADER = 10_000
_FLOAT_LIMIT = int(sys.float_info.max)
#: ``max_rows`` and the bindings already counted against it.
_Limit = tuple[int | None, int]


def values_file(pub: int) -> str:
    """The name of PUB ``pub``'s values in the ``bindings`` directory: ``pub-0.npy``."""
    return f"pub-{pub}.npy"


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(one_line(name, 24) for name in names[:10])
    return shown + (f", ... ({len(names)} in all)" if len(names) > 10 else "")


def _parameters(names: Sequence[str]) -> str:
    return f"{len(names)} {'parameter' if len(names) == 1 else 'parameters'} ({_names(names)})"


def _error(where: str, problem: str) -> InvalidCircuitError:
    return InvalidCircuitError(one_line(f"{where}: {problem}"))


# --------------------------------------------------------------------------- reading a source


def read_source(
    source: bytes | Path,
    where: str,
    *,
    parameter_names: Sequence[str],
    max_rows: int | None = None,
    already: int = 0,
) -> np.ndarray:
    """The rows of a sweep source (``.npy`` or JSON bytes, or a file holding them) as a float64
    array of shape ``(bindings, len(parameter_names))``.

    ``where`` names the source in errors (``spec.parameterValuesFrom (artifact 'a.npy')``); more
    than ``max_rows`` bindings, counting ``already`` bindings of the PUBs before it, is a
    ``LimitExceededError``, raised before the values are read.
    """
    limit = (max_rows, already)
    names = list(parameter_names)
    if isinstance(source, Path):
        with source.open("rb") as handle:
            if handle.read(len(NPY_MAGIC)) == NPY_MAGIC:
                handle.seek(0)
                return _read_npy(handle, source.stat().st_size, where, names, limit)
            size = source.stat().st_size
            if size > MAX_JSON_SOURCE:
                raise _json_too_big(where, size)
            handle.seek(0)
            data = handle.read()
    else:
        data = source
        if data.startswith(NPY_MAGIC):
            return _read_npy(io.BytesIO(data), len(data), where, names, limit)
    return _read_json(data, where, names, limit)


def _json_too_big(where: str, size: int) -> InvalidCircuitError:
    return _error(
        where,
        f"{size} bytes of JSON, over the limit of {MAX_JSON_SOURCE} bytes; "
        "save the sweep as .npy instead (numpy.save(path, values))",
    )


def _read_npy(handle: BinaryIO, size: int, where: str, names: list[str], limit: _Limit) -> np.ndarray:
    import numpy as np
    from numpy.lib import format as npy

    todo = "save the sweep with numpy.save(path, values.astype(float))"
    try:
        version = npy.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = npy.read_array_header_1_0(handle, max_header_size=_MAX_NPY_HEADER)
        elif version == (2, 0):
            shape, fortran, dtype = npy.read_array_header_2_0(handle, max_header_size=_MAX_NPY_HEADER)
        else:
            raise _error(where, f".npy format version {version[0]}.{version[1]} is not supported; {todo}")
    except (ValueError, EOFError, OSError) as error:
        raise _error(where, f"not a readable .npy file ({one_line(error, 100)}); {todo}") from None
    if dtype.hasobject:
        raise _error(where, f"the .npy array holds Python objects (dtype {dtype}), which are never unpickled; {todo}")
    if dtype.fields is not None or dtype.kind not in "fiu" or dtype.itemsize > 8:
        raise _error(where, f"the .npy array has dtype {one_line(dtype, 60)}, not real numbers; {todo}")
    count = len(names)
    if len(shape) == 1 and count == 1:
        rows, columns = shape[0], 1
    elif len(shape) == 2:
        rows, columns = shape
    else:
        raise _error(
            where,
            f"the .npy array has shape {shape}; expected (bindings, {count}): one row per binding, "
            f"one column per parameter ({_names(names)})",
        )
    if columns != count:
        raise _error(
            where,
            f"the .npy array has {columns} columns but the circuit has {_parameters(names)}; "
            "give one column per parameter, in that order",
        )
    _check_rows(where, rows, limit)
    start = handle.tell()
    expected = rows * columns * dtype.itemsize
    if size - start < expected:
        raise _error(
            where,
            f"the .npy file is truncated: its header promises {rows} x {columns} values ({expected} bytes) "
            f"but {size - start} bytes follow it; {todo}",
        )
    if isinstance(handle, io.BytesIO):
        flat = np.frombuffer(handle.getbuffer(), dtype=dtype, count=rows * columns, offset=start)
    else:
        flat = np.fromfile(handle, dtype=dtype, count=rows * columns)
    values = flat.reshape((rows, columns), order="F" if fortran else "C")
    return _finite(as_values(values), where, names)


def _check_rows(where: str, rows: int, limit: _Limit) -> None:
    if rows == 0:
        raise _error(where, "the sweep has no bindings; give at least one row")
    max_rows, already = limit
    if max_rows is not None and already + rows > max_rows:
        before = f", with the {already} of the PUBs before it," if already else ""
        raise LimitExceededError(
            f"{where}: {rows} bindings{before} exceeds the limit of {max_rows}; split the sweep into several QiskitJobs"
        )


def _read_json(data: bytes, where: str, names: list[str], limit: _Limit) -> np.ndarray:
    import numpy as np

    todo = 'write a JSON list of rows, e.g. [[0.1, 0.2], [0.3, 0.4]], or {"parameterValues": rows}, or .npy'
    if len(data) > MAX_JSON_SOURCE:
        raise _json_too_big(where, len(data))
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise _error(where, f"neither .npy nor UTF-8 JSON; {todo}") from None
    except json.JSONDecodeError as error:
        raise _error(where, f"not JSON ({error.msg} at line {error.lineno} column {error.colno}); {todo}") from None
    if isinstance(document, dict):
        if set(document) != {"parameterValues"}:
            keys = ", ".join(quote(key, 24) for key in list(document)[:5])
            raise _error(where, f"a JSON object must hold only parameterValues (it has {keys or 'nothing'}); {todo}")
        document = document["parameterValues"]
    if not isinstance(document, list):
        raise _error(where, f"JSON {json_type_name(document)}, not a list of rows; {todo}")
    count = len(names)
    rows: list[Any] = document
    if count == 1 and rows and all(type(value) in (int, float) for value in rows):
        rows = [[value] for value in rows]
    _check_rows(where, len(rows), limit)
    for i, row in enumerate(rows):
        if type(row) is not list:
            raise _error(where, f"row {i} is a JSON {json_type_name(row)}, not a list of numbers; {todo}")
        if len(row) != count:
            raise _error(
                where,
                f"row {i}: {len(row)} values given but the circuit has {_parameters(names)}; "
                "give one value per parameter, in that order",
            )
    if not {type(value) for value in itertools.chain.from_iterable(rows)} <= {int, float}:
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                if type(value) not in (int, float):
                    raise _error(
                        where,
                        f"row {i}: the value for {quote(names[j])} is the JSON {json_type_name(value)} "
                        f"{quote(value)}; use a number",
                    )
    try:
        values = np.array(rows, dtype=np.float64)
    except OverflowError:  # an integer beyond float64
        row, column = next((i, j) for i, r in enumerate(rows) for j, v in enumerate(r) if abs(v) >= _FLOAT_LIMIT)
        raise _error(
            where, f"row {row}: the value for {quote(names[column])} is too large for a float; use a finite number"
        ) from None
    return _finite(values.reshape(len(rows), count), where, names)


def _finite(values: np.ndarray, where: str, names: Sequence[str]) -> np.ndarray:
    import numpy as np

    finite = np.isfinite(values)
    if not finite.all():
        row, column = (int(i) for i in np.argwhere(~finite)[0])
        raise _error(
            where, f"row {row}: the value for {quote(names[column])} is {values[row, column]}; use a finite number"
        )
    return values


# --------------------------------------------------------------------------- the bindings artifact


def as_values(rows: Any) -> np.ndarray:
    """``rows`` as what a values file holds: a C-ordered, native float64 array of two dimensions."""
    import numpy as np

    array = np.ascontiguousarray(rows, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"values have shape {array.shape}; expected (bindings, parameters)")
    return array


class _Hasher:
    """A write-only file that only hashes what is written to it."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        return len(data)


def values_sha256(rows: Any) -> str:
    """The sha256 (hex) of the values file ``write_bindings`` writes for ``rows``, without writing it."""
    import numpy as np

    hasher = _Hasher()
    np.save(hasher, as_values(rows), allow_pickle=False)  # type: ignore[call-overload]
    return hasher.hash.hexdigest()


def write_bindings(directory: Path, rows_per_pub: Sequence[Any | None]) -> list[str | None]:
    """Write the ``bindings`` directory: ``pub-<i>.npy`` for each PUB whose rows are not None, and
    ``index.json``; return each PUB's file name (None for an unparameterized PUB)."""
    import numpy as np

    directory.mkdir(parents=True, exist_ok=True)
    names: list[str | None] = []
    for pub, rows in enumerate(rows_per_pub):
        if rows is None:
            names.append(None)
            continue
        name = values_file(pub)
        with (directory / name).open("wb") as handle:
            np.save(handle, as_values(rows), allow_pickle=False)
        names.append(name)
    (directory / INDEX_FILE).write_text(json.dumps({"pubs": names}))
    return names


def _index(directory: Path) -> list[str | None]:
    path = directory / INDEX_FILE
    try:
        document = json.loads(path.read_text())
    except OSError as error:
        raise TransientError(
            f"cannot read the bindings artifact {path} ({error.strerror}); the validate step did not pass it",
            reason=Reason.MISSING_ARTIFACT,
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        document = None
    pubs = document.get("pubs") if isinstance(document, dict) else None
    if not isinstance(pubs, list) or not all(name is None or name == values_file(i) for i, name in enumerate(pubs)):
        raise InvalidJobError(f"bindings artifact {path}: not an index of values files; rerun the job")
    return pubs


def load_values(directory: Path, pub: int, start: int, stop: int) -> np.ndarray | None:
    """Rows ``start..stop-1`` of PUB ``pub``'s values (a float64 array of shape ``(stop - start,
    parameters)``), or None for an unparameterized PUB. Only those rows are read (the file is mapped)."""
    import numpy as np

    names = _index(directory)
    if not 0 <= pub < len(names):
        raise InvalidJobError(f"bindings artifact {directory}: no PUB {pub} (it has {len(names)}); rerun the job")
    name = names[pub]
    if name is None:
        return None
    path = directory / name
    try:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    except OSError as error:
        raise TransientError(
            f"cannot read the bindings artifact {path} ({one_line(error, 100)}); the validate step did not pass it",
            reason=Reason.MISSING_ARTIFACT,
        ) from None
    except ValueError as error:
        raise InvalidJobError(
            f"bindings artifact {path}: not a values file ({one_line(error, 100)}); rerun the job"
        ) from None
    if mapped.ndim != 2 or mapped.dtype != np.float64 or not 0 <= start < stop <= mapped.shape[0]:
        raise InvalidJobError(
            f"bindings artifact {path}: rows {start}..{stop - 1} asked of {mapped.dtype} values of shape "
            f"{mapped.shape}; rerun the job"
        )
    return np.array(mapped[start:stop], dtype=np.float64, order="C")
