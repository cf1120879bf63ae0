"""``write_results_dir``: fetched results written as the same directory a local run makes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from qiskit_argo.artifacts._archive import RESULT_FILES
from qiskit_argo.safeio import ResultsDirError, join_key, prepare_results_dir

__all__ = ["write_results_dir"]


def write_results_dir(files: Mapping[str, bytes], out: Path) -> list[Path]:
    """Write ``files`` (``fetch_results``) into ``out`` as ``qiskit-argo run`` lays out its results
    directory: ``safeio.prepare_results_dir`` decides whether ``out`` may be used (new, empty, or
    an earlier results directory of ours: ``ResultsDirError`` otherwise, nothing changed), each
    file is written under a temporary name and renamed into place. Returns the paths written, in
    ``RESULT_FILES`` order; names outside ``RESULT_FILES`` are ignored."""
    prepare_results_dir(out)
    written: list[Path] = []
    for name in RESULT_FILES:
        data = files.get(name)
        if data is None:
            continue
        path = join_key(out, name, "results file")
        partial = out / f".{name}.partial"
        try:
            partial.write_bytes(data)
            os.replace(partial, path)
        except OSError as error:
            partial.unlink(missing_ok=True)
            raise ResultsDirError(
                f"results directory {out}: cannot write {name} ({error.strerror or type(error).__name__}); "
                "choose a new or empty directory with --out"
            ) from None
        written.append(path)
    return written
