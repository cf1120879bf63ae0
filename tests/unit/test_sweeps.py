"""Sweeps as files: reading .npy and JSON sources, and the bindings artifact."""

from __future__ import annotations

import hashlib
import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qiskit_argo import sweeps
from qiskit_argo.errors import InvalidCircuitError, InvalidJobError, LimitExceededError, QiskitArgoError, TransientError

WHERE = "spec.parameterValuesFrom (artifact 'sweep.npy')"


def _npy(array: Any, **kwargs: Any) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, **kwargs)
    return buffer.getvalue()


def _json(document: Any) -> bytes:
    return json.dumps(document).encode()


def _assert_one_line(error: QiskitArgoError, *needles: str) -> None:
    message = str(error)
    assert "\n" not in message and len(message) <= 300 and message.isprintable(), message
    assert message.startswith(WHERE), message
    for needle in needles:
        assert needle in message, message


# --------------------------------------------------------------------------- reading a source


@pytest.mark.parametrize(
    ("data", "names", "expected"),
    [
        (_npy(np.array([[0.1, 0.2], [0.3, 0.4]])), ["a", "b"], [[0.1, 0.2], [0.3, 0.4]]),
        (_npy(np.array([[1, 2]], dtype=np.int32)), ["a", "b"], [[1.0, 2.0]]),
        (_npy(np.array([0.5, 1.5], dtype=np.float32)), ["a"], [[0.5], [1.5]]),
        (_npy(np.asfortranarray([[1.0, 2.0], [3.0, 4.0]])), ["a", "b"], [[1.0, 2.0], [3.0, 4.0]]),
        (_npy(np.array([[1.0, 2.0]], dtype=">f8")), ["a", "b"], [[1.0, 2.0]]),
        (_json([[0.1, 2], [3, 0.4]]), ["a", "b"], [[0.1, 2.0], [3.0, 0.4]]),
        (_json({"parameterValues": [[1]]}), ["a"], [[1.0]]),
        (_json([0.25, 0.5]), ["a"], [[0.25], [0.5]]),
    ],
    ids=["npy", "npy-int", "npy-1d", "npy-fortran", "npy-big-endian", "json", "json-object", "json-flat"],
)
def test_read_source(data: bytes, names: list[str], expected: list[list[float]], tmp_path: Path) -> None:
    for source in (data, tmp_path / "source"):
        if isinstance(source, Path):
            source.write_bytes(data)
        values = sweeps.read_source(source, WHERE, parameter_names=names)
        assert values.dtype == np.float64 and values.flags.c_contiguous
        assert values.tolist() == expected


@pytest.mark.parametrize(
    ("data", "names", "needles"),
    [
        (_npy(np.array([[0.1], [np.nan]])), ["theta"], ["row 1: the value for 'theta' is nan", "finite"]),
        (_npy(np.array([[0.1, np.inf]])), ["a", "b"], ["row 0: the value for 'b' is inf"]),
        (_npy(np.zeros((3, 2))), ["a", "b", "c"], ["2 columns", "3 parameters (a, b, c)", "in that order"]),
        (_npy(np.zeros(4)), ["a", "b"], ["shape (4,)", "expected (bindings, 2)"]),
        (_npy(np.zeros((2, 2, 2))), ["a", "b"], ["shape (2, 2, 2)"]),
        (_npy(np.zeros((0, 2))), ["a", "b"], ["no bindings"]),
        (_npy(np.array([[1 + 2j]])), ["a"], ["dtype complex128", "numpy.save"]),
        (_npy(np.array([[True]])), ["a"], ["dtype bool"]),
        (_npy(np.array([["x"]])), ["a"], ["dtype <U1"]),
        (_npy(np.array([[1.0]], dtype=object), allow_pickle=True), ["a"], ["Python objects", "never unpickled"]),
        (_npy(np.zeros((100, 2)))[:-8], ["a", "b"], ["truncated", "1600 bytes", "1592 bytes"]),
        (b"\x93NUMPY\x01\x00\x06\x00garbag", ["a"], ["not a readable .npy file"]),
        (b"\x93NUMPY\x09\x00garbage", ["a"], ["version 9.0"]),
        (b"\x93NUMPY\x03\x00" + b"\x00" * 20, ["a"], ["version 3.0"]),
        (_json([[0.1], [0.2, 0.3]]), ["theta"], ["row 1: 2 values given", "1 parameter (theta)"]),
        (_json([[0.1, "x"]]), ["a", "b"], ["row 0: the value for 'b' is the JSON string 'x'"]),
        (_json([[0.1, True]]), ["a", "b"], ["row 0: the value for 'b' is the JSON boolean True"]),
        (_json([[0.1, None]]), ["a", "b"], ["JSON null"]),
        (_json([[0.1], 3]), ["a"], ["row 1 is a JSON integer"]),
        (b"[[NaN]]", ["a"], ["row 0: the value for 'a' is nan"]),
        (b"[[1e999]]", ["a"], ["row 0: the value for 'a' is inf"]),
        (b"[[" + b"9" * 400 + b"]]", ["a"], ["row 0: the value for 'a' is too large"]),
        (b"[]", ["a"], ["no bindings"]),
        (b'{"rows": []}', ["a"], ["only parameterValues", "'rows'"]),
        (b'"sweep"', ["a"], ["JSON string, not a list of rows"]),
        (b"[[0.1,", ["a"], ["not JSON", "line 1"]),
        (b"\xff\xfe", ["a"], ["neither .npy nor UTF-8 JSON"]),
    ],
)
def test_bad_source(data: bytes, names: list[str], needles: list[str]) -> None:
    with pytest.raises(InvalidCircuitError) as caught:
        sweeps.read_source(data, WHERE, parameter_names=names)
    _assert_one_line(caught.value, *needles)


def test_many_parameters_are_named_briefly() -> None:
    names = [f"p{i}" for i in range(40)]
    with pytest.raises(InvalidCircuitError) as caught:
        sweeps.read_source(_npy(np.zeros((1, 3))), WHERE, parameter_names=names)
    _assert_one_line(caught.value, "40 parameters (p0, p1", "... (40 in all)")


@pytest.mark.parametrize("fmt", ["npy", "json"])
def test_too_many_rows_is_refused_before_reading_values(fmt: str) -> None:
    data = _npy(np.zeros((11, 1))) if fmt == "npy" else _json([[0.0]] * 11)
    with pytest.raises(LimitExceededError) as caught:
        sweeps.read_source(data, WHERE, parameter_names=["a"], max_rows=10)
    _assert_one_line(caught.value, "11 bindings", "limit of 10", "split")


def test_a_json_source_too_big_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sweeps, "MAX_JSON_SOURCE", 10)
    path = tmp_path / "big.json"
    path.write_bytes(_json([[0.0]] * 10))
    for source in (path, path.read_bytes()):
        with pytest.raises(InvalidCircuitError) as caught:
            sweeps.read_source(source, WHERE, parameter_names=["a"])
        _assert_one_line(caught.value, "over the limit of 10 bytes", ".npy")


def test_a_big_sweep_reads_fast(tmp_path: Path) -> None:
    values = np.random.default_rng(7).uniform(0, 6.28, size=(100_000, 16))
    path = tmp_path / "sweep.npy"
    np.save(path, values)
    names = [f"t{i}" for i in range(16)]
    started = time.perf_counter()
    read = sweeps.read_source(path, WHERE, parameter_names=names, max_rows=1_000_000)
    assert time.perf_counter() - started < 1
    assert np.array_equal(read, values)
    text = json.dumps(values.tolist()).encode()
    started = time.perf_counter()
    assert np.array_equal(sweeps.read_source(text, WHERE, parameter_names=names), values)
    assert time.perf_counter() - started < 3


# --------------------------------------------------------------------------- the bindings artifact


def test_write_and_load_bindings(tmp_path: Path) -> None:
    first = np.arange(20, dtype=float).reshape(10, 2)
    third = np.array([[0.5]])
    names = sweeps.write_bindings(tmp_path / "bindings", [first, None, third])
    assert names == ["pub-0.npy", None, "pub-2.npy"]
    assert json.loads((tmp_path / "bindings" / "index.json").read_text()) == {"pubs": names}
    assert sorted(p.name for p in (tmp_path / "bindings").iterdir()) == ["index.json", "pub-0.npy", "pub-2.npy"]
    loaded = sweeps.load_values(tmp_path / "bindings", 0, 3, 7)
    assert loaded is not None and loaded.flags.c_contiguous and loaded.dtype == np.float64
    assert loaded.tolist() == first[3:7].tolist()
    assert sweeps.load_values(tmp_path / "bindings", 1, 0, 1) is None
    last = sweeps.load_values(tmp_path / "bindings", 2, 0, 1)
    assert last is not None and last.tolist() == [[0.5]]
    for pub, rows in ((0, first), (2, third)):
        written = (tmp_path / "bindings" / f"pub-{pub}.npy").read_bytes()
        assert sweeps.values_sha256(rows) == hashlib.sha256(written).hexdigest()


def test_bindings_of_an_unparameterized_job_are_not_empty(tmp_path: Path) -> None:
    assert sweeps.write_bindings(tmp_path / "b", [None]) == [None]
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["index.json"]


@pytest.mark.parametrize(
    ("pub", "start", "stop", "cls"),
    [(0, 0, 11, InvalidJobError), (0, 5, 5, InvalidJobError), (0, -1, 2, InvalidJobError), (3, 0, 1, InvalidJobError)],
)
def test_load_values_refuses_rows_it_does_not_have(
    tmp_path: Path, pub: int, start: int, stop: int, cls: type[Exception]
) -> None:
    sweeps.write_bindings(tmp_path, [np.zeros((10, 1))])
    with pytest.raises(cls):
        sweeps.load_values(tmp_path, pub, start, stop)


def test_load_values_without_the_artifact(tmp_path: Path) -> None:
    with pytest.raises(TransientError, match="bindings artifact"):
        sweeps.load_values(tmp_path / "absent", 0, 0, 1)
    (tmp_path / "index.json").write_text('{"pubs": ["../../etc/passwd"]}')
    with pytest.raises(InvalidJobError, match="not an index"):
        sweeps.load_values(tmp_path, 0, 0, 1)
