"""docs/deploy.md: every file, directory and make target it tells a person to use exists."""

from __future__ import annotations

import re

import pytest

from tests.deploy.builds import FOREIGN_INPUTS, REPO

DOC = REPO / "docs" / "deploy.md"


def _text() -> str:
    return DOC.read_text()


def test_every_path_the_page_names_exists() -> None:
    paths = set(re.findall(r"\b((?:kustomize|examples|crds|workflowtemplates|controller)/[\w./-]*[\w])", _text()))
    assert paths
    missing = sorted(p for p in paths if not (REPO / p).exists() and not p.endswith("bell-again.yaml"))
    not_landed = [p for p in missing if p in FOREIGN_INPUTS]
    assert [p for p in missing if p not in FOREIGN_INPUTS] == [], "docs/deploy.md names files that do not exist"
    if not_landed:
        pytest.skip(f"docs/deploy.md names what has not landed yet: {', '.join(not_landed)}")


def test_every_make_target_the_page_uses_exists() -> None:
    targets = set(re.findall(r"\bmake ([\w-]+)", _text()))
    assert targets
    makefiles = (REPO / "Makefile").read_text() + (REPO / "Makefile.images").read_text()
    for target in sorted(targets):
        assert re.search(rf"^{re.escape(target)}:|\b{re.escape(target)}\b.*:", makefiles, re.MULTILINE), target


def test_uninstall_removes_every_argocd_cm_key_the_bootstrap_adds() -> None:
    from tests.deploy.builds import build, find

    data = find(build("argocd"), "ConfigMap", "argocd-cm")["data"]
    assert data
    missing = [key for key in data if f'"/data/{key}"' not in _text()]
    assert not missing, f"docs/deploy.md's uninstall section does not remove {missing}"
