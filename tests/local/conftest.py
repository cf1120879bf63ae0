"""Every test here gets a cache directory of its own (``qiskit-argo run --cache-dir``'s default,
``$XDG_CACHE_HOME/qiskit-argo``): no run reuses another test's results, none touches the user's."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _own_cache_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
