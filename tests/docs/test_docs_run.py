"""The README and docs never lie: every YAML block is a valid manifest, every `qiskit-argo` command
runs (or, where it needs a cluster, parses), and the alternatives shown in comments are valid too."""

from __future__ import annotations

import copy
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
from pydantic import TypeAdapter
from typer.testing import CliRunner

from qiskit_argo import api, crd, yamldoc
from qiskit_argo.api import CircuitSource, QiskitJobSpec
from qiskit_argo.catalogue import CATALOGUE_KINDS, load_catalogue
from qiskit_argo.cli import app
from qiskit_argo.manifests import parse_wire
from tests.conftest import REPO
from tests.support.schemas import crd_errors

DOCS = [
    REPO / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
    *sorted(REPO.glob("*/README.md")),
]
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_SUBSTITUTION = re.compile(r"\$\(([^()]*)\)")
_INVOKES = re.compile(r"(^|[|;&]\s*)(\S*/)?qiskit-argo\s")
#: Commands that work without a cluster; the others are only parsed.
_RUNNABLE = {"validate", "render", "run", "crds"}


def _blocks(language: str) -> Iterator[tuple[str, str]]:
    for doc in DOCS:
        text = doc.read_text()
        for match in _FENCE.finditer(text):
            if match.group(1) == language:
                line = text.count("\n", 0, match.start()) + 1
                yield f"{doc.relative_to(REPO)}:{line}", match.group(2)


def _command_lines(script: str) -> Iterator[str]:
    joined = re.sub(r"\\\n\s*", " ", script)
    for line in joined.splitlines():
        yield from _SUBSTITUTION.findall(line)
        yield _SUBSTITUTION.sub("X", line)


def _qiskit_argo_commands() -> list[tuple[str, list[str]]]:
    found = []
    for where, script in _blocks("sh"):
        for line in _command_lines(script):
            if not _INVOKES.search(line):
                continue
            words = shlex.split(line, comments=True)
            segment: list[str] = []
            for word in [*words, "|"]:
                if word in ("|", "&&", ";", "||"):
                    if segment and Path(segment[0]).name == "qiskit-argo":
                        found.append((where, segment[1:]))
                    segment = []
                else:
                    segment.append(word)
    return found


COMMANDS = _qiskit_argo_commands()
YAML_BLOCKS = list(_blocks("yaml"))


def test_the_docs_have_commands_and_manifests() -> None:
    assert len(COMMANDS) >= 5 and YAML_BLOCKS


@pytest.mark.parametrize(("where", "args"), COMMANDS, ids=[f"{w}:{' '.join(a)}" for w, a in COMMANDS])
def test_every_command_runs_or_parses(where: str, args: list[str], tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv("QISKIT_IBM_TOKEN", raising=False)  # a doc's command never reaches IBM from a test
    command = typer.main.get_command(app)
    assert args, f"{where}: qiskit-argo without a command"
    name = args[0]
    commands = getattr(command, "commands", {})
    assert name in commands, f"{where}: no command {name!r}"
    sub = commands[name]
    sub.make_context(name, list(args[1:]))  # options and arguments parse
    if name not in _RUNNABLE:
        return
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(REPO / "examples")
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, f"{where}: qiskit-argo {' '.join(args)}\n{result.output}"


def _documents(body: str, where: str) -> list[Any]:
    return yamldoc.load_documents(body, where)


@pytest.mark.parametrize(("where", "body"), YAML_BLOCKS, ids=[w for w, _ in YAML_BLOCKS])
def test_every_yaml_block_is_valid(where: str, body: str, tmp_path: Path) -> None:
    documents = _documents(body, where)
    assert documents, f"{where}: empty YAML block"
    for document in documents:
        if isinstance(document, dict) and document.get("kind") == "QiskitJob":
            path = tmp_path / "job.yaml"
            path.write_text(body)
            result = CliRunner().invoke(app, ["validate", str(path)])
            assert result.exit_code == 0, f"{where}\n{result.output}"
    for document in documents:
        kind = api.kind_named(document.get("kind")) if isinstance(document, dict) else None
        if kind is None:
            continue
        # Every kind of ours, as the CLI reads it and as the API server with our CRD would.
        parse_wire(kind.model, crd.prune_nulls({k: v for k, v in document.items() if k != "status"}), where)
        assert crd_errors(copy.deepcopy(document), crd.definition(kind)) == [], where
    kinds = {document.get("kind") for document in documents if isinstance(document, dict)}
    if kinds & set(CATALOGUE_KINDS):
        path = tmp_path / "catalogue.yaml"
        path.write_text(body)
        backends, sessions = load_catalogue([path])  # what `kubectl apply` and `run --catalogue` accept
        assert len(backends) + len(sessions) == sum(1 for d in documents if d.get("kind") in CATALOGUE_KINDS)


def test_the_docs_show_every_kind() -> None:
    kinds = {
        document.get("kind")
        for where, body in YAML_BLOCKS
        for document in _documents(body, where)
        if isinstance(document, dict)
    }
    assert {"QiskitJob", *CATALOGUE_KINDS, *(kind.kind for kind in api.KINDS)} <= kinds


def test_the_docs_run_every_ibm_example_with_its_catalogue() -> None:
    runs = {tuple(args[1:]) for _, args in COMMANDS if args and args[0] == "run"}
    for example in ("ibm-by-ref", "ibm-session", "selector-fallback"):
        assert (f"examples/{example}.yaml", "--catalogue", "examples/catalogue") in runs, example


_COMMENTED = re.compile(r"^\s*#\s*([A-Za-z]+):\s*(.+?)\s*(?:#.*)?$")


def _field_adapter(alias: str) -> TypeAdapter[Any] | None:
    for model in (QiskitJobSpec, CircuitSource):
        for field in model.model_fields.values():
            if field.alias == alias:
                if not field.metadata:
                    return TypeAdapter(field.annotation)
                return TypeAdapter(Annotated[field.annotation, *field.metadata])  # type: ignore[name-defined]
    return None


def _commented_alternatives() -> list[tuple[str, str, str]]:
    found = []
    for where, body in YAML_BLOCKS:
        if "kind: QiskitJob" not in body:
            continue
        for line in body.splitlines():
            match = _COMMENTED.match(line)
            if match and _field_adapter(match.group(1)) and "<" not in match.group(2):
                found.append((where, match.group(1), match.group(2)))
    return found


ALTERNATIVES = _commented_alternatives()


def test_the_readme_shows_alternatives_in_comments() -> None:
    assert {"observables", "parameterValues", "configMapKeyRef"} <= {alias for _, alias, _ in ALTERNATIVES}


@pytest.mark.parametrize(("where", "alias", "value"), ALTERNATIVES, ids=[f"{w}:{a}" for w, a, _ in ALTERNATIVES])
def test_commented_alternatives_are_valid_values(where: str, alias: str, value: str) -> None:
    (document,) = yamldoc.load_documents(f"{alias}: {value}\n", where)
    adapter = _field_adapter(alias)
    assert adapter is not None
    adapter.validate_python(document[alias], by_alias=True, by_name=False)
