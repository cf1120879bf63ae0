"""``write_results_dir``: the same directory a local run writes, with the same guards."""

from __future__ import annotations

from pathlib import Path

import pytest

from qiskit_argo.artifacts import RESULT_FILES, write_results_dir
from qiskit_argo.safeio import MARKER, RUN_ENTRIES, ResultsDirError

FILES = {"result.json": b"{}", "metrics.json": b'{"a": 1}', "histogram.png": b"\x89PNG\r\n", "evil/../x": b"no"}


def test_the_layout_of_a_local_run(tmp_path: Path) -> None:
    out = tmp_path / "new" / "results"
    write_results_dir(FILES, out)
    assert sorted(p.name for p in out.iterdir()) == sorted([*RESULT_FILES, MARKER])
    assert set(RESULT_FILES) <= set(RUN_ENTRIES)
    assert (out / "metrics.json").read_bytes() == b'{"a": 1}'


def test_a_second_fetch_replaces_only_ours(tmp_path: Path) -> None:
    out = tmp_path / "results"
    write_results_dir(FILES, out)
    (out / "notes.txt").write_text("mine")
    write_results_dir({**FILES, "result.json": b"[]"}, out)
    assert (out / "result.json").read_bytes() == b"[]" and (out / "notes.txt").read_text() == "mine"


def test_a_foreign_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("x")
    with pytest.raises(ResultsDirError, match="not empty and was not made by qiskit-argo run"):
        write_results_dir(FILES, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis.tex"]
