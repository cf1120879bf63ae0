"""Generated manifests: what is checked in is exactly what the sources generate."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from qiskit_argo import api, generate

REPO = Path(__file__).resolve().parents[2]
GENERATED = generate.generated_files()


@pytest.mark.parametrize("relative", sorted(GENERATED), ids=str)
def test_checked_in_file_is_up_to_date(relative: Path) -> None:
    path = REPO / relative
    assert path.exists(), f"{relative} is missing; run `make generate`"
    assert path.read_text() == GENERATED[relative], f"{relative} differs from its source; run `make generate`"


@pytest.mark.parametrize("relative", sorted(GENERATED), ids=str)
def test_generated_file_says_so_and_parses(relative: Path) -> None:
    text = GENERATED[relative]
    assert text.startswith(generate.HEADER) and "do not edit" in generate.HEADER
    document = yaml.safe_load(text)
    assert document["apiVersion"] and document["kind"]


def test_check_names_each_drifting_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert generate.main(["--check", "--root", str(tmp_path)]) == 1
    missing = capsys.readouterr().err
    for relative in GENERATED:
        assert f"{relative}: missing" in missing

    assert generate.main(["--root", str(tmp_path)]) == 0
    assert generate.main(["--check", "--root", str(tmp_path)]) == 0

    edited = tmp_path / generate.TEMPLATE_FILE
    edited.write_text(edited.read_text().replace("qiskit-argo-step", "qiskit-argo-stepp", 1))
    capsys.readouterr()
    assert generate.main(["--check", "--root", str(tmp_path)]) == 1
    report = capsys.readouterr().err
    assert str(generate.TEMPLATE_FILE) in report and str(generate.CRD_FILE) not in report


def test_generation_is_deterministic() -> None:
    assert generate.generated_files() == GENERATED


def test_a_file_no_source_makes_is_stale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert generate.main(["--root", str(tmp_path)]) == 0
    gone = tmp_path / generate.GOLDEN_WORKFLOWS_DIR / "removed-example.yaml"
    gone.write_text(generate.HEADER + "kind: Workflow\n")
    handwritten = tmp_path / generate.CRD_DIR / "handwritten.yaml"
    handwritten.write_text("kind: Namespace\n")
    capsys.readouterr()
    assert generate.main(["--check", "--root", str(tmp_path)]) == 1
    report = capsys.readouterr().err
    assert "removed-example.yaml: no source generates it" in report and "handwritten" not in report

    assert generate.main(["--root", str(tmp_path)]) == 0
    assert not gone.exists() and handwritten.exists()
    assert generate.main(["--check", "--root", str(tmp_path)]) == 0


def test_checked_in_generated_directories_hold_nothing_stale() -> None:
    assert generate.stale_files(REPO, list(GENERATED)) == []


def test_one_crd_file_per_kind_listed_in_the_kustomization() -> None:
    crds = sorted(path for path in GENERATED if path.parent == generate.CRD_DIR and path.name != "kustomization.yaml")
    assert crds == sorted(generate.crd_file(kind) for kind in api.KINDS)
    assert generate.CRD_FILE == Path("crds/qiskit-argo.io_qiskitjobs.yaml") and generate.CRD_FILE in crds
    kustomization = yaml.safe_load(GENERATED[generate.CRD_DIR / "kustomization.yaml"])
    assert kustomization["resources"] == [path.name for path in crds]


_KUSTOMIZED = sorted({relative.parent for relative in GENERATED if relative.name == "kustomization.yaml"})


@pytest.mark.parametrize("directory", _KUSTOMIZED, ids=str)
def test_kustomize_builds_generated_directories(directory: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    built = subprocess.run([kubectl, "kustomize", str(REPO / directory)], capture_output=True, text=True, timeout=60)
    assert built.returncode == 0, built.stderr
    kinds = [doc["kind"] for doc in yaml.safe_load_all(built.stdout) if doc]
    assert kinds and "Kustomization" not in kinds
