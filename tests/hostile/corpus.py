"""A deterministic corpus of hostile QiskitJob files (bytes), each with the outcome the CLI owes it.

``generate()`` builds every case in memory from a seeded ``random.Random`` and a few hand-written
templates; nothing is checked in. A case is ``reject`` (the CLI must answer with exit code 2 and
one safe line) or ``accept`` (a valid control, exit code 0: every file in ``examples/`` and small
valid variants, so the harness also proves that valid input still passes).

Classes (``Case.cls``):

* ``yaml`` — malformed YAML, odd bytes and encodings, empty or comment-only files, a list or a
  scalar at the top, 20 documents.
* ``bombs`` — nesting 1,000 / 10,000 / 100,000 levels deep (flow and block style), alias bombs,
  very long strings.
* ``types`` — a wrong type for every field, YAML tags, duplicate keys, YAML 1.1 surprises.
* ``fields`` — snake_case spellings, misspelled and unknown fields.
* ``metadata`` — names, namespaces, labels, annotations and generateName that Kubernetes refuses.
* ``strings`` — rich markup, ANSI escapes, Argo template syntax, shell metacharacters, long lines
  and odd unicode in every place a string goes.
* ``circuits`` — OpenQASM and QPY that break parsers (panics, huge registers, gate bombs, ...).
* ``estimator`` — observables and parameter bindings that do not fit.
* ``configmaps`` — ConfigMaps in the same file with hostile keys, data and binaryData.
* ``resources`` — negative, unknown and malformed resource quantities.
* ``controls`` — valid jobs (``accept``).

Tags: ``nasty`` marks the cases the real console script runs in fresh processes; ``run`` marks the
cases ``qiskit-argo run`` is tried on (ConfigMap key escapes, Argo syntax, markup, a few controls).
"""

from __future__ import annotations

import base64
import copy
import functools
import io
import json
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Case", "CLASSES", "SEED", "ESCAPE_DIR", "generate", "by_id"]

SEED = 0x5EED_4A60
REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"

#: Where ConfigMap keys built to escape their directory would land (``/tmp/...``, absolute or via
#: enough ``../``). The harness creates it before a run and fails the case whose file shows up.
ESCAPE_DIR = "/tmp/qiskit-argo-hostile-escape"

CLASSES = (
    "yaml",
    "bombs",
    "types",
    "fields",
    "metadata",
    "strings",
    "circuits",
    "estimator",
    "configmaps",
    "resources",
    "controls",
)


@dataclass(frozen=True)
class Case:
    """One file of the corpus and what the CLI must do with it."""

    id: str
    cls: str
    data: bytes
    expect: str  # "reject" | "accept"
    note: str = ""
    tags: frozenset[str] = field(default_factory=frozenset)

    @property
    def filename(self) -> str:
        return f"{self.id}.yaml"


# --------------------------------------------------------------------------- YAML writing


class Raw(str):
    """A YAML fragment written verbatim: a flow value, a tag, a deliberately odd key."""


class Block(str):
    """A block-style YAML fragment written on the lines after its key, indented under it."""


class Pairs(list[tuple[Any, Any]]):
    """A mapping written in this order, duplicate keys allowed."""


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/]*\Z")
_YAML11_WORDS = {
    *"y Y yes Yes YES n N no No NO true True TRUE false False FALSE".split(),
    *"on On ON off Off OFF null Null NULL ~".split(),
}


#: What YAML cannot hold raw (outside its printable set), and the characters YAML 1.1 reads as
#: line breaks or a byte-order mark.
_UNPRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029\ufeff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def quote(text: str) -> str:
    """``text`` as a YAML double-quoted scalar; what YAML cannot hold raw is escaped."""
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    text = text.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return '"' + _UNPRINTABLE.sub(_escape, text) + '"'


def _key(key: Any) -> str:
    if isinstance(key, Raw):
        return str(key)
    if isinstance(key, str) and _PLAIN_KEY.match(key) and key not in _YAML11_WORDS:
        return key
    return quote(str(key))


def _scalar(value: Any) -> str:
    if isinstance(value, Raw):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        assert "e" not in text and text not in ("inf", "-inf", "nan"), text
        return text
    if isinstance(value, str):
        return quote(value)
    raise TypeError(type(value))


def _items(mapping: Any) -> Iterable[tuple[Any, Any]]:
    return mapping if isinstance(mapping, Pairs) else mapping.items()


def flow(value: Any) -> str:
    if isinstance(value, Raw | Block):
        return str(value)
    if isinstance(value, dict | Pairs):
        return "{" + ", ".join(f"{_key(k)}: {flow(v)}" for k, v in _items(value)) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    return _scalar(value)


def _literal_ok(text: str) -> bool:
    return (
        text.endswith("\n")
        and not text.endswith("\n\n")
        and not text.startswith((" ", "\n"))
        and "\r" not in text
        and _UNPRINTABLE.search(text) is None
    )


def _block(mapping: Any, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for key, value in _items(mapping):
        if isinstance(value, Block):
            lines.append(f"{pad}{_key(key)}:")
            lines.extend(pad + "  " + line for line in value.split("\n"))
        elif isinstance(value, dict | Pairs) and not isinstance(value, Raw) and len(value) > 0:
            lines.append(f"{pad}{_key(key)}:")
            lines.extend(_block(value, indent + 2))
        elif isinstance(value, str) and not isinstance(value, Raw) and "\n" in value and _literal_ok(value):
            lines.append(f"{pad}{_key(key)}: |")
            lines.extend(pad + "  " + line if line else "" for line in value[:-1].split("\n"))
        else:
            lines.append(f"{pad}{_key(key)}: {flow(value)}")
    return lines


def dump(*documents: Any) -> str:
    """Documents (mappings) as one multi-document YAML text, block style at the top."""
    return "---\n".join("\n".join(_block(doc, 0)) + "\n" for doc in documents)


# --------------------------------------------------------------------------- base jobs

API = "qiskit-argo.io/v1alpha1"

BELL2 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0], q[1];\nmeasure q -> c;\n'
BELL3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nbit[2] c;\nh q[0];\ncx q[0], q[1];\nc = measure q;\n'
EST3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nh q[0];\ncx q[0], q[1];\n'
ONE3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[1] q;\nh q[0];\n'
SWEEP3 = (
    'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] theta;\nqubit[1] q;\nbit[1] c;\n'
    "ry(theta) q[0];\nc[0] = measure q[0];\n"
)


def sampler(circuit: str = BELL2) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "QiskitJob",
        "metadata": {"name": "hostile"},
        "spec": {"circuit": {"openqasm": circuit}, "shots": 100, "backend": {"aer": {"seed": 1}}},
    }


def full() -> dict[str, Any]:
    """A sampler job with every field set to a valid value."""
    return {
        "apiVersion": API,
        "kind": "QiskitJob",
        "metadata": {
            "name": "hostile-full",
            "namespace": "quantum",
            "labels": {"app": "bell", "app.kubernetes.io/name": "bell"},
            "annotations": {"note": "hello", "example.com/owner": "team-q"},
        },
        "spec": {
            "circuit": {"openqasm": BELL2},
            "primitive": "sampler",
            "shots": 100,
            "backend": {"aer": {"method": "automatic", "seed": 1, "noiseModel": "FakeManilaV2"}},
            "optimizationLevel": 1,
            "retry": {"limit": 2, "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"}},
            "activeDeadlineSeconds": 600,
            "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
            "suspend": False,
        },
    }


def estimator(circuit: str = EST3) -> dict[str, Any]:
    job = sampler(circuit)
    spec = job["spec"]
    del spec["shots"]
    spec["primitive"] = "estimator"
    spec["precision"] = 0.05
    spec["observables"] = [{"ZZ": 1.0}, {"XX": 0.5, "ZI": 0.5}]
    return job


def sweep() -> dict[str, Any]:
    job = sampler(SWEEP3)
    job["spec"]["parameterValues"] = [[0.1], [0.2]]
    return job


def with_config_map(data: Any = None, *, key: str = "bell.qasm", extra: dict[str, Any] | None = None) -> str:
    """A ConfigMap ``circuits`` (first document) and a job reading ``key`` from it."""
    config_map: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "circuits"}}
    config_map["data"] = {"bell.qasm": BELL2} if data is None else data
    config_map.update(extra or {})
    job = sampler()
    job["spec"]["circuit"] = {"configMapKeyRef": {"name": "circuits", "key": key}}
    return dump(config_map, job)


def _sub(text: Any, old: Any, new: Any, count: int = -1) -> Any:
    """``text.replace(old, new, count)`` that insists ``old`` is there (str or bytes)."""
    assert old in text, (old, text[:200])
    return text.replace(old, new, count)


def put(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A deep copy of ``doc`` with ``path`` set to ``value`` (missing mappings are created)."""
    doc = copy.deepcopy(doc)
    node: Any = doc
    for part in path[:-1]:
        if isinstance(node, dict) and part not in node:
            node[part] = {}
        node = node[part]
    node[path[-1]] = value
    return doc


def drop(doc: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    node: Any = doc
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    return doc


def rename(doc: dict[str, Any], path: tuple[Any, ...], new: str) -> dict[str, Any]:
    """``doc`` with the key at ``path`` renamed (keeping its place)."""
    doc = copy.deepcopy(doc)
    node: Any = doc
    for part in path[:-1]:
        node = node[part]
    items = list(node.items())
    node.clear()
    for key, value in items:
        node[new if key == path[-1] else key] = value
    return doc


def _qpy(circuits: Any) -> bytes:
    from qiskit import qpy

    buffer = io.BytesIO()
    qpy.dump(circuits, buffer)
    return buffer.getvalue()


@functools.cache
def _bell_qpy() -> bytes:
    from qiskit import QuantumCircuit

    circuit = QuantumCircuit(2, 2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    return _qpy(circuit)


# --------------------------------------------------------------------------- the builder


_SLUG = re.compile(r"[^a-z0-9]+")


class _Corpus:
    def __init__(self) -> None:
        self.cases: list[Case] = []
        self.ids: set[str] = set()
        self.rng = random.Random(SEED)

    def add(
        self,
        cls: str,
        slug: str,
        data: bytes | str | dict[str, Any],
        *,
        expect: str = "reject",
        note: str = "",
        tags: Iterable[str] = (),
    ) -> str:
        assert cls in CLASSES and expect in ("reject", "accept")
        case_id = f"{cls}-{_SLUG.sub('-', slug.lower()).strip('-')}"[:72].rstrip("-")
        assert case_id not in self.ids, case_id
        self.ids.add(case_id)
        if isinstance(data, dict):
            data = dump(data)
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.cases.append(Case(case_id, cls, data, expect, note or slug, frozenset(tags)))
        return case_id


# --------------------------------------------------------------------------- yaml


_HEAD = "apiVersion: qiskit-argo.io/v1alpha1\nkind: QiskitJob\n"
_MALFORMED = {
    "bad-indentation": _HEAD + "metadata:\n  name: bell\n spec:\n  shots: 1\n",
    "bad-indentation-nested": (_HEAD + "metadata:\n  name: bell\nspec:\n  circuit:\n    openqasm: x\n   shots: 1\n"),
    "unclosed-bracket": _HEAD + "metadata: {name: bell\nspec: {}\n",
    "unclosed-square": _HEAD + "spec:\n  parameterValues: [[0.1, 0.2]\n",
    "unclosed-double-quote": 'apiVersion: "qiskit-argo.io/v1alpha1\nkind: QiskitJob\nmetadata:\n  name: bell\n',
    "unclosed-single-quote": "apiVersion: qiskit-argo.io/v1alpha1\nkind: 'QiskitJob\nmetadata:\n  name: bell\n",
    "tab-indentation": _HEAD + "metadata:\n\tname: bell\n",
    "tab-in-nested": _HEAD + "metadata:\n  name: bell\nspec:\n\t shots: 1\n",
    "stray-colon": "apiVersion: qiskit-argo.io/v1alpha1\nkind: QiskitJob: x\nmetadata:\n  name: bell\n",
    "stray-colon-alone": "apiVersion: qiskit-argo.io/v1alpha1\n:\nkind: QiskitJob\n",
    "double-colon-value": _HEAD + "metadata:\n  name: a: b\n",
    "seq-in-map": _HEAD + "- name: bell\n",
    "undefined-alias": _HEAD + "metadata: *nope\n",
    "unhashable-key": _HEAD + "? [a, b]\n: c\n",
    "unhashable-flow-key": _HEAD + "spec: {[a]: 1}\n",
    "map-key-is-map": _HEAD + "spec: {{a: 1}: 1}\n",
    "bad-directive": "%YAML 9.9\n---\napiVersion: qiskit-argo.io/v1alpha1\n",
    "unknown-tag-handle": "apiVersion: !x!y qiskit-argo.io/v1alpha1\nkind: QiskitJob\n",
    "bad-int-tag": _HEAD + "spec:\n  shots: !!int seven\n",
    "bad-float-tag": _HEAD + "spec:\n  precision: !!float x\n",
    "bad-timestamp-tag": _HEAD + "spec:\n  x: !!timestamp 2024-13-45\n",
    "block-scalar-bad-indent": _HEAD + "spec:\n  circuit:\n    openqasm: |\n  OPENQASM 2.0;\n   x\n",
    "flow-then-block": "metadata: {name: bell}\n  spec: 1\n",
    "dash-without-space": _HEAD + "spec:\n  parameterValues:\n    -[0.1]\n  - [1]\n",
    "anchor-without-node": "apiVersion: &\nkind: QiskitJob\n",
    "document-end-garbage": "apiVersion: qiskit-argo.io/v1alpha1\n... garbage\n",
    "python-object": _HEAD + "spec: !!python/object/apply:os.system [id]\n",
    "python-name": "apiVersion: !!python/name:os.system qiskit-argo.io/v1alpha1\nkind: QiskitJob\n",
    "only-colon": ":\n",
    "only-brackets": "]]]]\n",
    "only-quote": '"\n',
}


def _bell_text() -> str:
    """The Bell job with some flow collections and quoted strings, the base for random mutations."""
    return (
        "apiVersion: qiskit-argo.io/v1alpha1\n"
        "kind: QiskitJob\n"
        'metadata: {name: "bell", labels: {app: "bell"}}\n'
        "spec:\n"
        "  circuit:\n"
        '    openqasm: "OPENQASM 2.0;\\ninclude \\"qelib1.inc\\";\\nqreg q[2];\\ncreg c[2];\\n'
        'h q[0];\\ncx q[0], q[1];\\nmeasure q -> c;\\n"\n'
        "  shots: 100\n"
        "  backend:\n"
        "    aer: {seed: 1, method: 'automatic'}\n"
        "  retry: {limit: 2, backoff: {duration: 10s}}\n"
    )


def _parses(text: str) -> bool:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        list(yaml.load_all(text, Loader=loader))
    except Exception:  # noqa: BLE001 - PyYAML also raises ValueError, RecursionError, ...
        return False
    return True


def _mutate(rng: random.Random, text: str) -> tuple[str, str]:
    lines = text.split("\n")
    op = rng.choice(["colon", "tab", "delete", "open", "indent", "dedent", "truncate", "quote"])
    if op == "colon":
        at = rng.randrange(len(text))
        return text[:at] + ": :" + text[at:], f"': :' inserted at {at}"
    if op == "tab":
        row = rng.randrange(len(lines))
        lines[row] = "\t" + lines[row]
        return "\n".join(lines), f"tab before line {row + 1}"
    if op == "delete":
        spots = [i for i, char in enumerate(text) if char in "]}\"'"]
        at = rng.choice(spots)
        return text[:at] + text[at + 1 :], f"{text[at]!r} deleted at {at}"
    if op == "open":
        at = rng.randrange(len(text))
        char = rng.choice("[{\"'")
        return text[:at] + char + text[at:], f"{char!r} inserted at {at}"
    if op == "indent":
        row = rng.randrange(1, len(lines) - 1)
        lines[row] = " " * rng.choice((1, 3, 5)) + lines[row]
        return "\n".join(lines), f"line {row + 1} indented"
    if op == "dedent":
        rows = [i for i, line in enumerate(lines) if line.startswith("  ")]
        row = rng.choice(rows)
        lines[row] = lines[row][1:]
        return "\n".join(lines), f"line {row + 1} dedented by one"
    if op == "quote":
        at = rng.randrange(len(text))
        return text[:at] + "\"'" + text[at:], f"quotes inserted at {at}"
    at = rng.randrange(len(text))
    return text[:at], f"truncated at {at}"


def _yaml(c: _Corpus) -> None:
    for slug, text in _MALFORMED.items():
        c.add("yaml", f"malformed-{slug}", text)
    base = _bell_text()
    made = 0
    while made < 90:
        text, how = _mutate(c.rng, base)
        if not _parses(text):
            c.add("yaml", f"mutant-{made:03d}", text, note=f"Bell job, {how}")
            made += 1

    # Odd bytes.
    bell = dump(sampler()).encode()
    for i in range(40):
        size = c.rng.choice((1, 2, 7, 64, 300, 4096))
        garbage = bytes(c.rng.getrandbits(8) for _ in range(size))
        c.add("yaml", f"binary-{i:02d}", garbage, note=f"{size} random bytes", tags={"nasty"} if i == 5 else ())
    c.add("yaml", "binary-qpy-header", b"QISKIT\x0c\x02\x00" + bytes(range(256)), note="QPY bytes as the job file")
    c.add("yaml", "binary-png-header", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", note="a PNG header")
    c.add("yaml", "binary-gzip", b"\x1f\x8b\x08\x00" + bytes(64), note="gzip magic")
    c.add("yaml", "latin1-e-in-name", _sub(bell, b'name: "hostile"', b"name: caf\xe9"), note="Latin-1 é")
    c.add("yaml", "latin1-e-in-comment", b"# caf\xe9\n" + bell, note="Latin-1 é in a comment")
    c.add(
        "yaml",
        "latin1-e-in-circuit",
        _sub(bell, b"h q[0];", b"h q[0]; // caf\xe9"),
        note="Latin-1 é in the circuit",
    )
    c.add(
        "yaml",
        "utf16-le-bom",
        b"\xff\xfe" + bell.decode().encode("utf-16-le"),
        note="UTF-16 LE with BOM",
        tags={"nasty"},
    )
    c.add("yaml", "utf16-be-bom", b"\xfe\xff" + bell.decode().encode("utf-16-be"), note="UTF-16 BE with BOM")
    c.add("yaml", "utf16-no-bom", bell.decode().encode("utf-16-le"), note="UTF-16 LE without BOM")
    c.add("yaml", "utf32-bom", bell.decode().encode("utf-32"), note="UTF-32 with BOM")
    c.add(
        "yaml",
        "nul-in-value",
        _sub(bell, b'name: "hostile"', b"name: host\x00ile"),
        note="NUL in a value",
        tags={"nasty"},
    )
    c.add("yaml", "nul-at-end", bell + b"\x00", note="NUL at the end")
    c.add("yaml", "nul-in-comment", b"# \x00\x00\n" + bell, note="NUL in a comment")
    c.add("yaml", "nul-only", b"\x00" * 64, note="only NUL bytes")
    c.add(
        "yaml",
        "lone-surrogate-utf8",
        _sub(bell, b'name: "hostile"', b"name: a\xed\xa0\x80b"),
        note="a surrogate encoded as UTF-8",
        tags={"nasty"},
    )
    c.add("yaml", "lone-surrogate-comment", b"# \xed\xb0\x80\n" + bell, note="a surrogate in a comment")
    c.add("yaml", "overlong-utf8", _sub(bell, b'name: "hostile"', b"name: \xc0\xaf"), note="overlong UTF-8")
    c.add("yaml", "truncated-utf8", bell + b"# \xe2\x82", note="truncated UTF-8 at the end")
    c.add("yaml", "invalid-start-byte", _sub(bell, b"kind", b"\xffkind", 1), note="0xff byte")
    c.add(
        "yaml", "esc-raw-in-plain", _sub(bell, b'name: "hostile"', b"name: \x1b[31mred"), note="raw ESC", tags={"nasty"}
    )
    c.add("yaml", "esc-raw-in-quoted", _sub(bell, b'name: "hostile"', b'name: "\x1b]0;pwned\x07"'), note="raw OSC")
    c.add(
        "yaml",
        "esc-raw-in-circuit",
        _sub(bell, b"h q[0];", b"h q[0]; // \x1b[2J"),
        note="raw ESC in the block-literal circuit",
    )
    c.add("yaml", "c1-csi-raw", _sub(bell, b'name: "hostile"', b"name: a\xc2\x9b31mb"), note="raw C1 CSI (UTF-8)")
    c.add("yaml", "c1-nel-raw", _sub(bell, b'name: "hostile"', b"name: a\xc2\x85b"), note="raw NEL (UTF-8)")
    c.add("yaml", "bel-raw-in-key", _sub(bell, b"shots: 100", b"sho\x07ts: 100"), note="raw BEL in a key")
    c.add("yaml", "del-raw", _sub(bell, b'name: "hostile"', b"name: a\x7fb"), note="raw DEL")
    c.add("yaml", "cr-only-in-value", _sub(bell, b'name: "hostile"', b'name: "a\rb"'), note="raw CR in a quoted value")

    # Empty and shapeless files.
    c.add("yaml", "empty", b"", note="an empty file", tags={"nasty"})
    c.add("yaml", "whitespace-only", b"   \n\n\t\n", note="whitespace only")
    c.add("yaml", "comments-only", b"# a job\n# nothing else\n", note="comments only")
    c.add("yaml", "separators-only", b"---\n---\n---\n", note="document separators only")
    c.add("yaml", "null-document", b"~\n", note="a null document")
    c.add("yaml", "top-list", b"- apiVersion: qiskit-argo.io/v1alpha1\n  kind: QiskitJob\n", note="a list at the top")
    c.add("yaml", "top-empty-list", b"[]\n", note="[] at the top")
    c.add("yaml", "top-empty-map", b"{}\n", note="{} at the top")
    c.add("yaml", "top-scalar", b"hello\n", note="a scalar at the top")
    c.add("yaml", "top-int", b"42\n", note="an int at the top")
    c.add("yaml", "top-bool", b"true\n", note="a bool at the top")
    c.add("yaml", "top-binary", b"!!binary aGVsbG8=\n", note="!!binary at the top")
    c.add("yaml", "top-list-of-jobs", ("- " + json.dumps(sampler()) + "\n").encode(), note="a list holding a job")
    c.add("yaml", "job-then-scalar", bell + b"---\nhello\n", note="a job then a scalar document")
    c.add("yaml", "job-then-list", bell + b"---\n[1, 2]\n", note="a job then a list document")
    twenty = [put(sampler(), ("metadata", "name"), f"job-{i}") for i in range(20)]
    c.add("yaml", "twenty-jobs", dump(*twenty), note="20 QiskitJob documents")
    maps = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i}"}, "data": {"k": "v"}}
        for i in range(20)
    ]
    c.add("yaml", "twenty-configmaps", dump(*maps), note="20 ConfigMaps, no job")
    c.add("yaml", "twenty-same-job", dump(*[sampler()] * 20), note="the same job 20 times")
    c.add("yaml", "twenty-docs-one-bad", dump(*maps[:19], {"kind": "Nope"}), note="19 ConfigMaps and a bad kind")


# --------------------------------------------------------------------------- bombs


def _flow_seq(depth: int, leaf: str = "0.1") -> str:
    return "[" * depth + leaf + "]" * depth


def _flow_map(depth: int, leaf: str = "1") -> str:
    return "{a: " * depth + leaf + "}" * depth


def _block_seq(depth: int, leaf: str = "0.1") -> str:
    return "- " * depth + leaf


def _block_map(depth: int, leaf: str = "1") -> str:
    lines = [" " * i + "a:" for i in range(depth - 1)]
    lines.append(" " * (depth - 1) + f"a: {leaf}")
    return "\n".join(lines)


def _laughs(prefix: str, leaf: str, levels: int = 9, width: int = 10) -> list[str]:
    """The lines of a billion-laughs chain: ``&p0 [leaf x width]``, ``&pN [*pN-1 x width]``."""
    rows = [f"&{prefix}0 [" + ", ".join([leaf] * width) + "]"]
    for level in range(1, levels):
        rows.append(f"&{prefix}{level} [" + ", ".join([f"*{prefix}{level - 1}"] * width) + "]")
    return rows


def _bombs(c: _Corpus) -> None:
    locations: dict[str, tuple[dict[str, Any], tuple[Any, ...], str]] = {
        "parameter-values": (sweep(), ("spec", "parameterValues"), "0.1"),
        "observables": (estimator(), ("spec", "observables"), "1"),
        "backend": (sampler(), ("spec", "backend"), "1"),
        "unknown-field": (sampler(), ("spec", "extra"), "1"),
        "labels": (sampler(), ("metadata", "labels", "app"), "x"),
        "annotations": (sampler(), ("metadata", "annotations", "note"), "x"),
        "metadata-extra": (sampler(), ("metadata", "finalizers"), "x"),
    }
    nasty = {
        ("parameter-values", "flow-seq", 100_000),
        ("labels", "flow-map", 100_000),
        ("parameter-values", "block-seq", 100_000),
        ("metadata-extra", "flow-seq", 100_000),
    }
    for where, (base, path, leaf) in locations.items():
        for depth in (1_000, 10_000, 100_000):
            for style, make in (("flow-seq", _flow_seq), ("flow-map", _flow_map)):
                tags = {"nasty"} if (where, style, depth) in nasty else set()
                c.add(
                    "bombs",
                    f"nest-{where}-{style}-{depth}",
                    put(base, path, Raw(make(depth, leaf))),
                    note=f"{depth} levels of {style} in {'.'.join(map(str, path))}",
                    tags=tags,
                )
            tags = {"nasty"} if (where, "block-seq", depth) in nasty else set()
            c.add(
                "bombs",
                f"nest-{where}-block-seq-{depth}",
                put(base, path, Block(_block_seq(depth, leaf))),
                note=f"{depth} levels of block sequences in {'.'.join(map(str, path))}",
                tags=tags,
            )
        c.add(
            "bombs",
            f"nest-{where}-block-map-1000",
            put(base, path, Block(_block_map(1_000, leaf))),
            note=f"1000 levels of block mappings in {'.'.join(map(str, path))}",
        )
    for depth in (1_000, 10_000, 100_000):
        c.add(
            "bombs",
            f"nest-document-flow-seq-{depth}",
            _flow_seq(depth) + "\n",
            note=f"{depth}-deep document",
            tags={"nasty"} if depth == 100_000 else (),
        )
        c.add("bombs", f"nest-document-block-seq-{depth}", _block_seq(depth) + "\n", note=f"{depth}-deep document")

    # Alias bombs (billion laughs: nine levels of ten references).
    head = _sub(dump(sampler()), "  shots: 100\n", "")
    rows = _laughs("r", "0.1")
    text = _sub(head, "spec:\n", "spec:\n  parameterValues:\n" + "".join(f"    - {row}\n" for row in rows), 1)
    c.add(
        "bombs",
        "laughs-parameter-values",
        text,
        note="billion laughs as the rows of spec.parameterValues",
        tags={"nasty"},
    )
    text = dump(sampler()) + "  extra:\n" + "".join(f"    - {row}\n" for row in rows)
    c.add("bombs", "laughs-unknown-spec-field", text, note="billion laughs in an unknown spec field")
    text = _sub(
        dump(sampler()),
        "metadata:\n",
        "metadata:\n  finalizers:\n" + "".join(f"    - {row}\n" for row in _laughs("m", '"lol"')),
        1,
    )
    c.add("bombs", "laughs-metadata-extra", text, note="billion laughs in metadata.finalizers", tags={"nasty"})
    text = "bomb:\n" + "".join(f"  - {row}\n" for row in _laughs("t", '"lol"')) + dump(sampler())
    c.add("bombs", "laughs-top-level-field", text, note="billion laughs in an unknown top-level field")
    text = _sub(
        dump(sampler()),
        'metadata:\n  name: "hostile"\n',
        'metadata:\n  name: "hostile"\n  labels:\n'
        + "".join(f"    l{i}: {row}\n" for i, row in enumerate(_laughs("l", '"lol"'))),
        1,
    )
    c.add("bombs", "laughs-labels", text, note="billion laughs as label values")
    cm = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: circuits}\ndata:\n"
        + "".join(f"  k{i}: {row}\n" for i, row in enumerate(_laughs("c", '"lol"')))
        + "  bell.qasm: "
        + quote(BELL2)
        + "\n"
    )
    job = put(sampler(), ("spec", "circuit"), {"configMapKeyRef": {"name": "circuits", "key": "bell.qasm"}})
    c.add(
        "bombs",
        "laughs-configmap-data",
        cm + "---\n" + dump(job),
        note="billion laughs as ConfigMap data values",
        tags={"nasty"},
    )
    text = (
        dump(drop(estimator(), ("spec", "observables")))
        + "  observables:\n"
        + "".join(f"    - {{ZZ: {row}}}\n" for row in _laughs("o", "1"))
    )
    c.add("bombs", "laughs-observables", text, note="billion laughs as coefficients")
    long = "x" * 1000
    text = (
        dump(sampler())
        + f"  extra: &s0 {quote(long)}\n"
        + "".join(f"  e{i}: &s{i} [" + ", ".join([f"*s{i - 1}"] * 10) + "]\n" for i in range(1, 8))
    )
    c.add("bombs", "laughs-strings", text, note="a 1 kB string referenced 10^7 times")
    # 100,001 bindings from one anchored row: short file, too many rows.
    rows_text = "  parameterValues:\n    - &row [0.1]\n" + "    - *row\n" * 100_000
    c.add(
        "bombs",
        "alias-100001-bindings",
        _sub(dump(sweep()), "  parameterValues: [[0.1], [0.2]]\n", rows_text),
        note="100,001 bindings built from one alias",
    )

    # Very long strings.
    c.add(
        "bombs",
        "circuit-5mb",
        put(sampler(), ("spec", "circuit", "openqasm"), BELL2 + "// " + "x" * 5_000_000 + "\n"),
        note="a 5 MB circuit (one 5 MB comment line)",
        tags={"nasty"},
    )
    c.add(
        "bombs",
        "circuit-5mb-lines",
        put(sampler(), ("spec", "circuit", "openqasm"), BELL2 + "barrier q;\n" * 500_000),
        note="a 5 MB circuit, many lines",
    )
    c.add(
        "bombs",
        "circuit-300101-three-byte-chars",
        put(sampler(), ("spec", "circuit", "openqasm"), BELL2 + "// " + "€" * 300_101 + "\n"),
        note="300,101 three-byte characters in a comment",
    )
    c.add(
        "bombs",
        "circuit-over-256kib-bytes-under-chars",
        put(sampler(), ("spec", "circuit", "openqasm"), BELL2 + "// " + "€" * 87_400 + "\n"),
        note="87,400 three-byte characters: 262,200 bytes of UTF-8, over 256 KiB in bytes but far under "
        "262,144 characters",
        tags={"nasty"},
    )
    c.add(
        "bombs",
        "qpy-300k",
        put(sampler(), ("spec", "circuit"), {"qpy": "UUlTS0lU" + "A" * 300_000}),
        note="300 kB of base64 QPY",
    )
    c.add("bombs", "name-100k", put(sampler(), ("metadata", "name"), "a" * 100_000), note="a 100,000-char name")
    c.add(
        "bombs",
        "label-value-1mb",
        put(sampler(), ("metadata", "labels"), {"app": "v" * 1_000_000}),
        note="a 1 MB label value",
    )
    c.add(
        "bombs",
        "annotations-over-256kib",
        put(sampler(), ("metadata", "annotations"), {f"a{i}": "v" * 100_000 for i in range(3)}),
        note="annotations totalling 300 kB (Kubernetes allows 256 KiB)",
    )
    c.add("bombs", "unknown-key-long", put(sampler(), ("spec", "k" * 100_000), 1), note="a 100,000-char unknown key")
    c.add("bombs", "long-line-yaml-error", "apiVersion: " + "x" * 200_000 + ": [\n", note="a malformed 200 kB line")


# --------------------------------------------------------------------------- types

_INT_BAD = [
    '"7"',
    "true",
    "false",
    "7.5",
    "1e30",
    "1.0e+30",
    "1" + "0" * 30,
    "-1",
    ".inf",
    "-.inf",
    ".nan",
    "[7]",
    "{n: 7}",
    '"seven"',
    "!!binary /w==",
    "!!str 7",
    "!!set {7}",
    "!!python/object:builtins.int {}",
    '""',
]
_BOOL_BAD = [
    '"true"',
    '"false"',
    "1",
    "0",
    '"yes"',
    '"on"',
    "2",
    "[true]",
    "{b: true}",
    ".nan",
    "!!binary /w==",
    '"True"',
    '""',
    '!!python/object/apply:os.system ["id"]',
]
_STR_BAD = ["7", "7.5", "true", "[a]", "{a: b}", ".inf", "!!binary /w==", "!!set {a}", "!!python/name:os.system"]
_FLOAT_BAD = ['"0.1"', "true", "[0.1]", "{x: 0.1}", ".inf", "-.inf", ".nan", '"x"', "!!binary /w==", "1.0e+400"]
_LIST_BAD = ["{a: 1}", '"x"', "7", "true", "!!set {a}", "[]"]
_MAP_BAD = ["[a]", "[]", '"x"', "7", "true", "[{a: 1}]", "!!set {a}", ".nan"]
_ENUM_BAD = ['"sampler "', "7", "true", "yes", "on", "[sampler]", "{a: b}", '""']
_QUANTITY_BAD = [
    '"-1"',
    "-2Gi",
    "-1",
    '"lots"',
    '"1 Gi"',
    '"1gb"',
    "true",
    "[1]",
    "{a: 1}",
    ".inf",
    '""',
    '"1.2.3"',
    '"+-1"',
    '"1Ki "',
    '"Gi"',
]
_DURATION_BAD = ["10", '"10"', '"ten seconds"', '"-1s"', '"1d"', "true", "[10s]", '""', '"10 s"', '"1h-1m"']


def _types(c: _Corpus) -> None:
    qpy_job = put(sampler(), ("spec", "circuit"), {"qpy": base64.b64encode(_bell_qpy()).decode()})
    cm_job = put(sampler(), ("spec", "circuit"), {"configMapKeyRef": {"name": "circuits", "key": "bell.qasm"}})
    table: list[tuple[dict[str, Any], tuple[Any, ...], list[str]]] = [
        # ints
        (full(), ("spec", "shots"), _INT_BAD),
        (full(), ("spec", "backend", "aer", "seed"), _INT_BAD),
        (full(), ("spec", "optimizationLevel"), _INT_BAD),
        (full(), ("spec", "retry", "limit"), _INT_BAD),
        (full(), ("spec", "retry", "backoff", "factor"), _INT_BAD),
        (full(), ("spec", "activeDeadlineSeconds"), _INT_BAD),
        # bool
        (full(), ("spec", "suspend"), _BOOL_BAD),
        # strings
        (full(), ("spec", "circuit", "openqasm"), _STR_BAD),
        (qpy_job, ("spec", "circuit", "qpy"), _STR_BAD),
        (cm_job, ("spec", "circuit", "configMapKeyRef", "name"), [*_STR_BAD, "null"]),
        (cm_job, ("spec", "circuit", "configMapKeyRef", "key"), [*_STR_BAD, "null"]),
        (full(), ("spec", "backend", "aer", "noiseModel"), _STR_BAD),
        (full(), ("metadata", "name"), [*_STR_BAD, "null"]),
        (full(), ("metadata", "namespace"), _STR_BAD),
        (full(), ("metadata", "labels", "app"), _STR_BAD),
        (full(), ("metadata", "annotations", "note"), _STR_BAD),
        (full(), ("spec", "retry", "backoff", "duration"), _DURATION_BAD),
        (full(), ("spec", "retry", "backoff", "maxDuration"), _DURATION_BAD),
        # floats
        (estimator(), ("spec", "precision"), _FLOAT_BAD),
        (estimator(), ("spec", "observables", 0, "ZZ"), [*_FLOAT_BAD, "null"]),
        (sweep(), ("spec", "parameterValues", 0, 0), [*_FLOAT_BAD, "null"]),
        # lists
        (estimator(), ("spec", "observables"), [*_LIST_BAD, "null"]),
        (sweep(), ("spec", "parameterValues"), [*_LIST_BAD, "null"]),
        (sweep(), ("spec", "parameterValues", 0), ['"x"', "7", "true", "!!set {a}", "[]", "null", "{x: 1}"]),
        # maps
        (full(), ("spec",), [*_MAP_BAD, "null"]),
        (full(), ("spec", "circuit"), [*_MAP_BAD, "null", "{}"]),
        (cm_job, ("spec", "circuit", "configMapKeyRef"), [*_MAP_BAD, "null", "{}"]),
        (full(), ("spec", "backend"), _MAP_BAD),
        (full(), ("spec", "backend", "aer"), _MAP_BAD),
        (full(), ("spec", "retry"), _MAP_BAD),
        (full(), ("spec", "retry", "backoff"), _MAP_BAD),
        (full(), ("spec", "resources"), _MAP_BAD),
        (full(), ("spec", "resources", "requests"), _MAP_BAD),
        (full(), ("spec", "resources", "limits"), _MAP_BAD),
        (estimator(), ("spec", "observables", 0), [*_MAP_BAD, "null"]),
        (full(), ("metadata",), [*_MAP_BAD, "null"]),
        (full(), ("metadata", "labels"), _MAP_BAD),
        (full(), ("metadata", "annotations"), _MAP_BAD),
        # enums
        (full(), ("spec", "primitive"), [*_ENUM_BAD, "Sampler", "SAMPLER", "estimatorr"]),
        (full(), ("spec", "backend", "aer", "method"), [*_ENUM_BAD, "Automatic", "gpu", "statevector_gpu"]),
        # quantities
        (full(), ("spec", "resources", "requests", "cpu"), _QUANTITY_BAD),
        (full(), ("spec", "resources", "limits", "memory"), _QUANTITY_BAD),
        # apiVersion, kind
        (
            full(),
            ("apiVersion",),
            ['"qiskit-argo.io/v1"', "v1", "7", "true", "[a]", "null", '""', '"QISKIT-ARGO.IO/V1ALPHA1"'],
        ),
        (full(), ("kind",), ['"qiskitjob"', "Job", "7", "true", "null", '""', "[QiskitJob]", '"QiskitJob "']),
    ]
    for base, path, values in table:
        where = ".".join(f"[{p}]" if isinstance(p, int) else p for p in path).replace(".[", "[")
        extra = (
            "---\n"
            + dump(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "circuits"},
                    "data": {"bell.qasm": BELL2},
                }
            )
            if base is cm_job
            else ""
        )
        for i, value in enumerate(values):
            text = dump(put(base, path, Raw(value))) + extra
            c.add("types", f"{where}-{i:02d}", text, note=f"{where}: {value}")

    # Duplicate keys: Kubernetes refuses them ("duplicate field"), PyYAML keeps the last silently.
    job = full()
    spec = Pairs(job["spec"].items())
    dup = put(job, ("spec",), Pairs([*spec, ("shots", 200)]))
    c.add("types", "duplicate-spec-shots", dump(dup), note="spec.shots twice")
    dup = put(job, ("metadata",), Pairs([*job["metadata"].items(), ("name", "other")]))
    c.add("types", "duplicate-metadata-name", dump(dup), note="metadata.name twice")
    c.add(
        "types",
        "duplicate-kind",
        _sub(dump(job), 'kind: "QiskitJob"\n', 'kind: "QiskitJob"\nkind: "QiskitJob"\n'),
        note="kind twice",
    )
    dup = put(job, ("spec", "circuit"), Pairs([("openqasm", BELL2), ("openqasm", BELL3)]))
    c.add("types", "duplicate-openqasm", dump(dup), note="spec.circuit.openqasm twice")
    dup = put(job, ("spec", "backend", "aer"), Raw("{seed: 1, seed: 2}"))
    c.add("types", "duplicate-flow-key", dump(dup), note="a flow mapping with a key twice")
    dup = put(estimator(), ("spec", "observables"), Raw("[{ZZ: 1, ZZ: 2}]"))
    c.add("types", "duplicate-observable-term", dump(dup), note="an observable with the term ZZ twice")
    dup = put(job, ("metadata", "labels"), Raw("{app: a, app: b}"))
    c.add("types", "duplicate-label", dump(dup), note="a label key twice")

    # YAML 1.1 surprises: unquoted words that PyYAML or Kubernetes' YAML reader turn into booleans.
    one = estimator(ONE3)
    one["spec"]["observables"] = [{Raw("Y"): 1.0}]
    c.add(
        "types",
        "yaml11-capital-y-observable-key",
        dump(one),
        note="{Y: 1} on a 1-qubit circuit: Kubernetes' YAML 1.1 reader makes the key the boolean true",
    )
    two = put(estimator(), ("spec", "observables"), [{Raw("Y"): 1.0}])
    c.add("types", "yaml11-capital-y-observable-key-2q", dump(two), note="{Y: 1} on a 2-qubit circuit")
    for word in ("on", "yes", "No", "off", "y", "n"):
        c.add(
            "types",
            f"yaml11-{word}-observable-key",
            dump(put(estimator(), ("spec", "observables"), [{Raw(word): 1.0}])),
            note=f"{{{word}: 1}} as an observable",
        )
        c.add(
            "types",
            f"yaml11-{word}-spec-key",
            dump(put(full(), ("spec", Raw(word)), 1)),
            note=f"{word}: 1 as a spec key",
        )
        c.add(
            "types",
            f"yaml11-{word}-label-value",
            dump(put(full(), ("metadata", "labels", "app"), Raw(word))),
            note=f"label value {word} (a boolean)",
        )
        c.add(
            "types",
            f"yaml11-{word}-noise-model",
            dump(put(full(), ("spec", "backend", "aer", "noiseModel"), Raw(word))),
            note=f"noiseModel: {word}",
        )
    c.add(
        "types",
        "yaml11-octal-label",
        dump(put(full(), ("metadata", "labels", "app"), Raw("0755"))),
        note="label value 0755 (an int in YAML 1.1)",
    )
    c.add(
        "types",
        "yaml11-sexagesimal-label",
        dump(put(full(), ("metadata", "labels", "app"), Raw("1:30"))),
        note="label value 1:30 (sexagesimal 90 in YAML 1.1)",
    )
    c.add(
        "types",
        "binary-openqasm-valid-utf8",
        dump(put(full(), ("spec", "circuit", "openqasm"), Raw("!!binary " + base64.b64encode(b"\xff\xfe").decode()))),
        note="!!binary circuit that is not UTF-8",
    )
    c.add(
        "types",
        "set-parameter-values",
        dump(put(sweep(), ("spec", "parameterValues"), Raw("!!set {0.1, 0.2}"))),
        note="!!set as parameterValues",
    )
    c.add(
        "types",
        "omap-observables",
        dump(put(estimator(), ("spec", "observables"), Raw("!!omap [ZZ: 1]"))),
        note="!!omap as observables",
    )
    c.add(
        "types",
        "python-tuple",
        dump(put(sweep(), ("spec", "parameterValues"), Raw("!!python/tuple [[0.1]]"))),
        note="!!python/tuple",
    )


# --------------------------------------------------------------------------- fields


def _fields(c: _Corpus) -> None:
    sweep_job = sweep()
    snake = [
        (full(), ("spec", "optimizationLevel"), "optimization_level"),
        (full(), ("spec", "activeDeadlineSeconds"), "active_deadline_seconds"),
        (full(), ("spec", "retry", "backoff", "maxDuration"), "max_duration"),
        (full(), ("spec", "backend", "aer", "noiseModel"), "noise_model"),
        (sweep_job, ("spec", "parameterValues"), "parameter_values"),
        (full(), ("apiVersion",), "api_version"),
    ]
    for base, path, new in snake:
        c.add("fields", f"snake-{new}", dump(rename(base, path, new)), note=f"{new} instead of the camelCase name")
    cm = "---\n" + dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "circuits"}, "data": {"bell.qasm": BELL2}}
    )
    c.add(
        "fields",
        "snake-config_map_key_ref",
        dump(put(sampler(), ("spec", "circuit"), {"config_map_key_ref": {"name": "circuits", "key": "bell.qasm"}}))
        + cm,
        note="config_map_key_ref",
    )
    c.add(
        "fields",
        "snake-resource_version",
        dump(put(full(), ("metadata", "resource_version"), "1")),
        note="metadata.resource_version",
    )
    c.add(
        "fields",
        "snake-generate_name",
        dump(put(full(), ("metadata", "generate_name"), "bell-")),
        note="metadata.generate_name",
    )
    c.add(
        "fields",
        "snake-owner_references",
        dump(put(full(), ("metadata", "owner_references"), [])),
        note="metadata.owner_references",
    )
    misspelled = [
        (("metadata", "name"), "nmae"),
        (("metadata", "labels"), "lables"),
        (("metadata", "namespace"), "namspace"),
        (("metadata", "annotations"), "annotation"),
        (("spec", "shots"), "shotz"),
        (("spec", "shots"), "Shots"),
        (("spec", "primitive"), "primitve"),
        (("spec", "optimizationLevel"), "optimizationlevel"),
        (("spec", "circuit", "openqasm"), "openqsam"),
        (("spec", "circuit", "openqasm"), "openQasm"),
        (("spec", "backend", "aer", "seed"), "sed"),
        (("spec", "backend", "aer"), "Aer"),
        (("spec", "retry", "limit"), "limt"),
        (("spec", "resources", "requests"), "request"),
        (("spec", "suspend"), "suspended"),
        (("kind",), "Kind"),
        (("apiVersion",), "apiversion"),
        (("spec",), "Spec"),
        (("spec",), "specs"),
        (("metadata",), "meta"),
    ]
    for path, new in misspelled:
        where = ".".join(path[:-1] + (new,))
        c.add("fields", f"misspelled-{where}", dump(rename(full(), path, new)), note=f"{where}")
    c.add(
        "fields",
        "misspelled-configMapKeyref",
        dump(put(sampler(), ("spec", "circuit"), {"configMapKeyref": {"name": "circuits", "key": "bell.qasm"}})) + cm,
        note="configMapKeyref",
    )
    c.add(
        "fields",
        "misspelled-precison",
        dump(rename(estimator(), ("spec", "precision"), "precison")),
        note="spec.precison",
    )
    c.add(
        "fields",
        "misspelled-parametervalues",
        dump(rename(sweep(), ("spec", "parameterValues"), "parametervalues")),
        note="spec.parametervalues",
    )
    for key, value in (
        ("foo", 1),
        ("data", {"a": "b"}),
        ("items", []),
        ("spec ", 1),
        ("", 1),
        ("status2", {}),
        ("metadata_", {}),
        ("x-kubernetes-preserve-unknown-fields", True),
    ):
        c.add("fields", f"unknown-top-{key or 'empty'}", dump(put(full(), (key,), value)), note=f"top-level {key!r}")
    for key in ("foo", "x", "shots_", "workflow", "template", "podSpecPatch", "serviceAccountName"):
        c.add("fields", f"unknown-spec-{key}", dump(put(full(), ("spec", key), "x")), note=f"spec.{key}")
    c.add(
        "fields",
        "unknown-nested-aer",
        dump(put(full(), ("spec", "backend", "ibm"), {"name": "x"})),
        note="spec.backend.ibm",
    )
    c.add(
        "fields",
        "unknown-circuit-field",
        dump(put(full(), ("spec", "circuit", "url"), "http://x")),
        note="spec.circuit.url",
    )
    c.add(
        "fields",
        "unknown-backoff-field",
        dump(put(full(), ("spec", "retry", "backoff", "jitter"), 1)),
        note="spec.retry.backoff.jitter",
    )
    c.add(
        "fields",
        "unknown-resources-field",
        dump(put(full(), ("spec", "resources", "claims"), [])),
        note="spec.resources.claims",
    )


# --------------------------------------------------------------------------- metadata


def _metadata(c: _Corpus) -> None:
    namespaces = [
        "Quantum",
        "q_q",
        "../../etc",
        "$(id)",
        "[/x]",
        "n" * 64,
        "",
        "-ns",
        "ns-",
        "a.b",
        "default ",
        " default",
        "kube system",
        "ns/x",
        "ÿ",
        "0" * 64,
    ]
    for i, ns in enumerate(namespaces):
        # An empty namespace is an unset one: kubectl fills in the context's (locally: default).
        expect = "accept" if ns == "" else "reject"
        c.add(
            "metadata",
            f"namespace-{i:02d}",
            put(sampler(), ("metadata", "namespace"), ns),
            expect=expect,
            note=f"namespace {ns!r}",
        )
    names = [
        "bell.v1",
        "Bell",
        "n" * 64,
        "n" * 300,
        "-x",
        "x-",
        "bélla",
        "bell🧪",
        "",
        ".",
        "..",
        "a..b",
        " bell",
        "bell ",
        "a_b",
        "a/b",
        "../../x",
        "$(id)",
        "[/x]",
        "bell\u200b",
    ]
    for i, name in enumerate(names):
        c.add("metadata", f"name-{i:02d}", put(sampler(), ("metadata", "name"), name), note=f"name {name!r}")
    label_keys = [
        "k" * 64,
        "p" * 254 + "/k",
        "a b",
        "a@b",
        "a/b/c",
        "/b",
        "a/",
        "-a",
        "a-",
        "ÄB",
        "example.com/",
        "",
        "Example.com/x",
        "a..b/c",
        "_a",
    ]
    for i, key in enumerate(label_keys):
        c.add(
            "metadata",
            f"label-key-{i:02d}",
            put(sampler(), ("metadata", "labels"), {key: "x"}),
            note=f"label key {key!r}",
        )
    label_values = ["v" * 64, "-a", "a-", "a b", "a/b", "ä", "a:b", "$(id)", "[/x]", ".a", "a.", "a\nb"]
    for i, value in enumerate(label_values):
        c.add(
            "metadata",
            f"label-value-{i:02d}",
            put(sampler(), ("metadata", "labels"), {"app": value}),
            note=f"label value {value!r}",
        )
    c.add("metadata", "label-value-int", put(sampler(), ("metadata", "labels"), {"app": 7}), note="label value 7")
    annotation_keys = ["a b", "a/b/c", "-x", "ü", "k" * 64, "", "/x", "x/", "a@b", "a..b/c", "p" * 254 + "/k"]
    for i, key in enumerate(annotation_keys):
        c.add(
            "metadata",
            f"annotation-key-{i:02d}",
            put(sampler(), ("metadata", "annotations"), {key: "x"}),
            note=f"annotation key {key!r}",
        )
    c.add(
        "metadata",
        "annotation-value-int",
        put(sampler(), ("metadata", "annotations"), {"a": 7}),
        note="annotation value 7",
    )
    c.add(
        "metadata",
        "annotation-value-list",
        put(sampler(), ("metadata", "annotations"), {"a": ["x"]}),
        note="annotation value a list",
    )
    for i, generate in enumerate(["Bell-", "-", "b" * 300, "[/x]-", "$(id)", "bell.-"]):
        c.add(
            "metadata",
            f"generate-name-{i:02d}",
            put(drop(sampler(), ("metadata", "name")), ("metadata", "generateName"), generate),
            note=f"generateName {generate!r} and no name",
        )
    c.add("metadata", "no-name", drop(sampler(), ("metadata", "name")), note="no metadata.name")
    c.add("metadata", "no-metadata", drop(sampler(), ("metadata",)), note="no metadata")
    c.add("metadata", "uid-int", put(sampler(), ("metadata", "uid"), 7), note="metadata.uid 7")
    c.add(
        "metadata", "generation-string", put(sampler(), ("metadata", "generation"), "x"), note="metadata.generation 'x'"
    )
    c.add(
        "metadata",
        "owner-references-string",
        put(sampler(), ("metadata", "ownerReferences"), "x"),
        note="metadata.ownerReferences 'x'",
    )
    c.add(
        "metadata",
        "finalizers-map",
        put(sampler(), ("metadata", "finalizers"), {"a": 1}),
        note="metadata.finalizers a map",
    )
    c.add(
        "metadata",
        "creation-timestamp-garbage",
        put(sampler(), ("metadata", "creationTimestamp"), "yesterday"),
        note="metadata.creationTimestamp 'yesterday'",
    )


# --------------------------------------------------------------------------- strings

_HOSTILE_STRINGS: dict[str, str] = {
    "markup-close": "[/x]",
    "markup-bold": "[bold red]boom[/bold red]",
    "markup-link": "[link=file:///etc/passwd]x[/link]",
    "markup-bare-close": "[/]",
    "markup-blink": "[blink]x",
    "markup-stray-close": "x[/bold]",
    "markup-color": "[#ff0000 on white]x",
    "ansi-red": "\x1b[31mred\x1b[0m",
    "ansi-osc8": "\x1b]8;;file:///etc/passwd\x1b\\x\x1b]8;;\x1b\\",
    "ansi-clear": "\x1b[2J\x1b[H",
    "c1-csi": "\x9b31m",
    "bel": "\x07bell",
    "cr": "a\rb",
    "nul": "a\x00b",
    "del": "a\x7fb",
    "bidi-override": "a\u202eb",
    "line-separator": "a\u2028b",
    "nel": "a\x85b",
    "lone-surrogate": "a\ud800b",
    "argo-workflow-name": "{{workflow.name}}",
    "argo-expression": '{{=sprig.env("HOME")}}',
    "argo-inputs": "{{inputs.parameters.job}}",
    "argo-workflow-param": "{{workflow.parameters.job}}",
    "argo-spaced": "{{ workflow.uid }}",
    "shell-subst": "$(id)",
    "shell-backtick": "`id`",
    "shell-semicolon": "; rm -rf /",
    "shell-pipe": "| cat /etc/passwd",
    "shell-and": "&& curl http://x",
    "quotes": "'\"\\",
    "format": "%s%s%n{0}{1}",
    "long-ascii": "x" * 5000,
    "long-three-byte": "€" * 3000,
    "long-words": "a b " * 1500,
    "combining": "bell\u0301",
    "emoji": "🧪",
    "bom": "\ufeffname",
    "fullwidth": "ＡＢＣ",
}


def _strings(c: _Corpus) -> None:
    cm_doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "circuits"}, "data": {"bell.qasm": BELL2}}
    cm_job = put(sampler(), ("spec", "circuit"), {"configMapKeyRef": {"name": "circuits", "key": "bell.qasm"}})
    run_tagged = {"markup-close", "markup-link", "ansi-red"}
    for slug, text in _HOSTILE_STRINGS.items():
        places: dict[str, str] = {
            "name": dump(put(sampler(), ("metadata", "name"), text)),
            "namespace": dump(put(sampler(), ("metadata", "namespace"), text)),
            "label-key": dump(put(sampler(), ("metadata", "labels"), {text: "x"})),
            "label-value": dump(put(sampler(), ("metadata", "labels"), {"app": text})),
            "annotation-key": dump(put(sampler(), ("metadata", "annotations"), {text: "x"})),
            "generate-name": dump(put(drop(sampler(), ("metadata", "name")), ("metadata", "generateName"), text)),
            "primitive": dump(put(sampler(), ("spec", "primitive"), text)),
            "method": dump(put(sampler(), ("spec", "backend", "aer", "method"), text)),
            "noise-model": dump(put(sampler(), ("spec", "backend", "aer", "noiseModel"), text)),
            "duration": dump(put(sampler(), ("spec", "retry"), {"backoff": {"duration": text}})),
            "cm-ref-name": dump(cm_doc, put(cm_job, ("spec", "circuit", "configMapKeyRef", "name"), text)),
            "cm-ref-key": dump(cm_doc, put(cm_job, ("spec", "circuit", "configMapKeyRef", "key"), text)),
            "cm-data-key": dump(put(cm_doc, ("data", text), BELL2), cm_job),
            "unknown-key": dump(put(sampler(), ("spec", text), 1)),
            "observable-key": dump(put(estimator(), ("spec", "observables"), [{text: 1.0}])),
            "api-version": dump(put(sampler(), ("apiVersion",), text)),
            "kind": dump(put(sampler(), ("kind",), text)),
            "cpu": dump(put(sampler(), ("spec", "resources"), {"requests": {"cpu": text}})),
            "circuit-statement": dump(
                put(sampler(), ("spec", "circuit", "openqasm"), _sub(BELL2, "h q[0];", "h q[0];\n" + text))
            ),
            "circuit3-statement": dump(
                put(sampler(), ("spec", "circuit", "openqasm"), _sub(BELL3, "h q[0];", "h q[0];\n" + text))
            ),
        }
        if slug.startswith("argo-"):
            places["circuit-comment"] = dump(
                put(sampler(), ("spec", "circuit", "openqasm"), _sub(BELL2, "h q[0];", "// " + text + "\nh q[0];"))
            )
            places["circuit3-comment"] = dump(
                put(sampler(), ("spec", "circuit", "openqasm"), _sub(BELL3, "h q[0];", "/* " + text + " */ h q[0];"))
            )
        for place, document in places.items():
            tags = set()
            if slug in run_tagged and place in ("name", "cm-ref-key", "circuit-statement"):
                tags.add("run")
            if (slug.startswith("argo-") and place == "circuit-comment") or (
                slug == "argo-expression" and place == "circuit3-comment"
            ):
                tags.add("run")
            # Argo syntax in a circuit comment is a valid circuit: it must run byte for byte.
            expect = "accept" if slug.startswith("argo-") and "comment" in place else "reject"
            c.add("strings", f"{slug}-{place}", document, expect=expect, note=f"{text[:40]!r} as {place}", tags=tags)


# --------------------------------------------------------------------------- circuits


def _gate_bomb(levels: int, version: int) -> str:
    gates = ["gate g0 a { h a; }"] + [f"gate g{i} a {{ g{i - 1} a; g{i - 1} a; }}" for i in range(1, levels + 1)]
    if version == 2:
        return (
            'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
            + "\n".join(gates)
            + f"\nqreg q[1];\ncreg c[1];\ng{levels} q[0];\nmeasure q -> c;\n"
        )
    return (
        'OPENQASM 3.0;\ninclude "stdgates.inc";\n'
        + "\n".join(gates)
        + f"\nqubit[1] q;\nbit[1] c;\ng{levels} q[0];\nc = measure q;\n"
    )


_Q2 = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
_Q3 = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'


def _circuits(c: _Corpus) -> None:
    bad: dict[str, tuple[str, set[str]]] = {
        "qreg-20-digits": (_Q2 + "qreg q[99999999999999999999];\ncreg c[1];\nmeasure q[0] -> c[0];\n", {"nasty"}),
        "qreg-2e9": (_Q2 + "qreg q[2000000000];\ncreg c[1];\nmeasure q[0] -> c[0];\n", {"nasty"}),
        "creg-2e9": (_Q2 + "qreg q[1];\ncreg c[2000000000];\nmeasure q[0] -> c[0];\n", set()),
        "qreg-negative": (_Q2 + "qreg q[-1];\n", set()),
        "qreg-zero": (_Q2 + "qreg q[0];\ncreg c[0];\n", set()),
        "qubit-4e9": (_Q3 + "qubit[4000000000] q;\nbit[1] c;\nc[0] = measure q[0];\n", {"nasty"}),
        "qubit-2e9-measure-all": (_Q3 + "qubit[2000000000] q;\nbit[2000000000] c;\nc = measure q;\n", set()),
        "qubit-20-digits": (_Q3 + "qubit[99999999999999999999] q;\n", {"nasty"}),
        "bit-4e9": (_Q3 + "qubit[1] q;\nbit[4000000000] c;\nc[0] = measure q[0];\n", set()),
        "qubit-negative": (_Q3 + "qubit[-1] q;\n", set()),
        "qubit-float-size": (_Q3 + "qubit[1.5] q;\n", set()),
        "gate2-param-undefined": (
            _Q2 + "gate g(a) x { U(a,b,0) x; }\nqreg q[1];\ncreg c[1];\ng(1) q[0];\nmeasure q -> c;\n",
            set(),
        ),
        "gate2-missing-args": (
            _Q2 + "gate g(a) x { rx(a) x; }\nqreg q[1];\ncreg c[1];\ng q[0];\nmeasure q -> c;\n",
            {"nasty"},
        ),
        "gate2-extra-args": (
            _Q2 + "gate g(a) x { rx(a) x; }\nqreg q[1];\ncreg c[1];\ng(1,2) q[0];\nmeasure q -> c;\n",
            set(),
        ),
        "gate2-builtin-arity": (_Q2 + "qreg q[1];\ncreg c[1];\nU(0,0) q[0];\nmeasure q -> c;\n", set()),
        "gate2-param-index-in-body": (
            _Q2 + "gate g(a,b) x { rx(a) x; ry(b) x; }\nqreg q[1];\ncreg c[1];\ng(1) q[0];\nmeasure q -> c;\n",
            {"nasty"},
        ),
        "gate2-qubit-arity": (
            _Q2 + "gate g a, b { cx a, b; }\nqreg q[2];\ncreg c[2];\ng q[0];\nmeasure q -> c;\n",
            set(),
        ),
        "gate3-missing-args": (
            _Q3 + "gate g(a) x { rx(a) x; }\nqubit[1] q;\nbit[1] c;\ng q[0];\nc = measure q;\n",
            set(),
        ),
        "gate3-param-index": (
            _Q3 + "gate g(a, b) x { rx(b) x; }\nqubit[1] q;\nbit[1] c;\ng(0.1) q[0];\nc = measure q;\n",
            {"nasty"},
        ),
        "gate3-undefined-param": (
            _Q3 + "gate g x { rx(a) x; }\nqubit[1] q;\nbit[1] c;\ng q[0];\nc = measure q;\n",
            set(),
        ),
        "index2-out-of-range": (_Q2 + "qreg q[2];\ncreg c[2];\nh q[5];\nmeasure q -> c;\n", set()),
        "index2-duplicate-qubit": (_Q2 + "qreg q[2];\ncreg c[2];\ncx q[0], q[0];\nmeasure q -> c;\n", set()),
        "index3-out-of-range": (_Q3 + "qubit[2] q;\nbit[2] c;\nh q[5];\nc = measure q;\n", set()),
        "index3-negative": (_Q3 + "qubit[2] q;\nbit[2] c;\nh q[-3];\nc = measure q;\n", set()),
        "index3-20-digits": (_Q3 + "qubit[2] q;\nbit[2] c;\nh q[99999999999999999999];\nc = measure q;\n", set()),
        "index3-measure-out-of-range": (_Q3 + "qubit[2] q;\nbit[2] c;\nc[7] = measure q[0];\n", set()),
        "gate-bomb2-20": (_gate_bomb(20, 2), set()),
        "gate-bomb2-39": (_gate_bomb(39, 2), {"nasty"}),
        "gate-bomb3-20": (_gate_bomb(20, 3), set()),
        "gate-bomb3-39": (_gate_bomb(39, 3), {"nasty"}),
        "gates-100000": (_Q2 + "qreg q[1];\ncreg c[1];\n" + "h q[0];\n" * 100_000 + "measure q -> c;\n", set()),
        "gates3-100000": (_Q3 + "qubit[1] q;\nbit[1] c;\n" + "h q[0];\n" * 100_000 + "c = measure q;\n", set()),
        "markup2": (_Q2 + "qreg q[2];\ncreg c[2];\nh q[/x];\nmeasure q -> c;\n", {"run"}),
        "markup3": (_Q3 + "qubit[2] q;\nbit[2] c;\nh q[/x];\nc = measure q;\n", {"run"}),
        "markup2-gate-name": (_Q2 + "qreg q[2];\ncreg c[2];\n[bold red]x q[0];\nmeasure q -> c;\n", set()),
        "openqasm-4": ("OPENQASM 4.0;\nqubit[1] q;\n", set()),
        "openqasm-20-digits": ("OPENQASM 99999999999999999999.0;\nqubit[1] q;\n", set()),
        "openqasm-no-semicolon": ('OPENQASM 2.0\ninclude "qelib1.inc";\nqreg q[1];\n', set()),
        "openqasm-two-headers": ("OPENQASM 2.0;\nOPENQASM 3.0;\nqubit[1] q;\n", set()),
        "unterminated-comment2": (_Q2 + "qreg q[1];\ncreg c[1];\n/* never closed\nmeasure q -> c;\n", set()),
        "unterminated-comment3": (_Q3 + "qubit[1] q;\nbit[1] c;\n/* never closed\nc = measure q;\n", set()),
        "unterminated-comment-before-header": ("/* never closed\nOPENQASM 2.0;\nqreg q[1];\n", set()),
        "unterminated-string3": (_Q3 + 'include "stdgates.inc\nqubit[1] q;\n', set()),
        "include2-etc-passwd": ('OPENQASM 2.0;\ninclude "/etc/passwd";\nqreg q[1];\n', set()),
        "include3-etc-passwd": ('OPENQASM 3.0;\ninclude "/etc/passwd";\nqubit[1] q;\n', set()),
        "include2-relative": ('OPENQASM 2.0;\ninclude "../../x";\nqreg q[1];\n', set()),
        "include3-relative": ('OPENQASM 3.0;\ninclude "../../x";\nqubit[1] q;\n', set()),
        "include2-dev-zero": ('OPENQASM 2.0;\ninclude "/dev/zero";\nqreg q[1];\n', set()),
        "include2-dev-stdin": ('OPENQASM 2.0;\ninclude "/dev/stdin";\nqreg q[1];\n', set()),
        "empty": ("", set()),
        "whitespace": ("   \n\t\n", set()),
        "comment-only": ("// nothing\n", set()),
        "header-only2": ("OPENQASM 2.0;\n", set()),
        "no-measure3": (EST3, set()),
        "recursive-gate3": (_Q3 + "gate g a { g a; }\nqubit[1] q;\nbit[1] c;\ng q[0];\nc = measure q;\n", set()),
        "recursive-gate2": (_Q2 + "gate g a { g a; }\nqreg q[1];\ncreg c[1];\ng q[0];\nmeasure q -> c;\n", set()),
        "huge-angle2": (_Q2 + "qreg q[1];\ncreg c[1];\nrx(1e999999) q[0];\nmeasure q -> c;\n", set()),
        "nan-angle2": (_Q2 + "qreg q[1];\ncreg c[1];\nrx(0/0) q[0];\nmeasure q -> c;\n", set()),
        # Deep expressions, then a statement that is wrong: the parser must survive the first.
        "deep-expression2": (
            _Q2
            + "qreg q[1];\ncreg c[1];\nrx("
            + "(" * 50_000
            + "1"
            + ")" * 50_000
            + ") q[0];\nmeasure q -> c;\nbogus q[0];\n",
            {"nasty"},
        ),
        "deep-expression3": (
            _Q3
            + "qubit[1] q;\nbit[1] c;\nrx("
            + "(" * 1_000
            + "1"
            + ")" * 1_000
            + ") q[0];\nc = measure q;\nbogus q[0];\n",
            set(),
        ),
        "too-many-qubits3": (_Q3 + "qubit[33] q;\nbit[33] c;\nc = measure q;\n", set()),
    }
    for i in range(3):
        junk = bytes(c.rng.getrandbits(8) for _ in range(200)).decode("latin-1")
        bad[f"binary-garbage-{i}"] = (_Q2 + "qreg q[1];\n" + junk + "\n", set())
    bad["binary-garbage-whole"] = (bytes(c.rng.getrandbits(8) for _ in range(300)).decode("latin-1"), set())
    for slug, (source, tags) in bad.items():
        c.add(
            "circuits",
            slug,
            put(sampler(), ("spec", "circuit", "openqasm"), source),
            note=f"openqasm {slug}",
            tags=tags,
        )

    # OpenQASM 2 without its header line: valid, read as OpenQASM 3's legacy syntax or as OpenQASM 2.
    headless = _sub(BELL2, "OPENQASM 2.0;\n", "")
    c.add(
        "controls",
        "openqasm2-without-header",
        put(sampler(), ("spec", "circuit", "openqasm"), headless),
        expect="accept",
        note="OpenQASM 2 program without the OPENQASM 2.0; line",
    )
    c.add(
        "controls",
        "openqasm2-without-header-comment",
        put(sampler(), ("spec", "circuit", "openqasm"), "// a Bell pair\n" + headless),
        expect="accept",
        note="OpenQASM 2 program without the header, a comment first",
    )

    # QPY.
    good = _bell_qpy()
    qpys: dict[str, str] = {
        "not-base64": "!!!notbase64!!!",
        "raw-magic": "QISKIT",
        "latin-text": "é" * 8,
        "empty": "",
        "whitespace-inside": "UUlT S0lU",
        "bad-padding": "UUlTS0lU=",
        "truncated-10": base64.b64encode(good[:10]).decode(),
        "truncated-half": base64.b64encode(good[: len(good) // 2]).decode(),
        "truncated-minus-one": base64.b64encode(good[:-1]).decode(),
        "magic-then-garbage": base64.b64encode(b"QISKIT" + bytes(c.rng.getrandbits(8) for _ in range(200))).decode(),
        "version-255": base64.b64encode(good[:6] + b"\xff" + good[7:]).decode(),
        "random-base64": base64.b64encode(bytes(c.rng.getrandbits(8) for _ in range(300))).decode(),
        "two-circuits": base64.b64encode(_qpy([_bell_from_qpy(good), _bell_from_qpy(good)])).decode(),
        "bit-flips": base64.b64encode(_flip(c.rng, good, 12)).decode(),
        "bit-flips-2": base64.b64encode(_flip(c.rng, good, 40)).decode(),
        "bit-flips-3": base64.b64encode(_flip(c.rng, good, 3)).decode(),
        "huge-count": base64.b64encode(good[:14] + b"\xff\xff\xff\xff\xff\xff\xff\xff" + good[22:]).decode(),
    }
    for slug, text in qpys.items():
        c.add(
            "circuits",
            f"qpy-{slug}",
            put(sampler(), ("spec", "circuit"), {"qpy": text}),
            note=f"qpy {slug}",
            tags={"nasty"} if slug == "huge-count" else (),
        )
    c.add(
        "controls",
        "qpy-bell",
        put(sampler(), ("spec", "circuit"), {"qpy": base64.b64encode(good).decode()}),
        expect="accept",
        note="a valid base64 QPY Bell circuit",
    )


def _bell_from_qpy(data: bytes) -> Any:
    from qiskit import qpy

    return qpy.load(io.BytesIO(data))[0]


def _flip(rng: random.Random, data: bytes, count: int) -> bytes:
    """``data`` with ``count`` random bits flipped, drawn again until Qiskit cannot load it."""
    from qiskit import qpy

    while True:
        out = bytearray(data)
        for _ in range(count):
            at = rng.randrange(7, len(out))
            out[at] ^= 1 << rng.randrange(8)
        try:
            qpy.load(io.BytesIO(bytes(out)))
        except Exception:  # noqa: BLE001 - any failure to load is what this case needs
            return bytes(out)


# --------------------------------------------------------------------------- estimator


def _estimator(c: _Corpus) -> None:
    labels = ["AB", "zz", "Z Z", "", "ZZ0", "+ZZ", "-ZZ", "iZZ", "Z\u0301Z", "ZZ\n", "ＺＺ", "Z_Z", "0", "ZZ*"]
    for i, label in enumerate(labels):
        c.add(
            "estimator",
            f"label-{i:02d}",
            put(estimator(), ("spec", "observables"), [{label: 1.0}]),
            note=f"observable label {label!r}",
        )
    for label in ("Z", "ZZZ", "Z" * 40, "I" * 1000):
        c.add(
            "estimator",
            f"width-{len(label)}",
            put(estimator(), ("spec", "observables"), [{label: 1.0}]),
            note=f"a {len(label)}-letter label on 2 qubits",
        )
    c.add(
        "estimator",
        "width-mixed",
        put(estimator(), ("spec", "observables"), [{"ZZ": 1.0, "Z": 1.0}]),
        note="ZZ and Z in one observable",
    )
    for slug, value in (
        ("inf", ".inf"),
        ("minus-inf", "-.inf"),
        ("nan", ".nan"),
        ("string", '"1"'),
        ("bool", "true"),
        ("list", "[1]"),
        ("overflow", "1.0e+400"),
        ("complex", '"1+2j"'),
        ("null", "null"),
        ("huge-int", "1" + "0" * 400),
    ):
        c.add(
            "estimator",
            f"coefficient-{slug}",
            put(estimator(), ("spec", "observables"), [{"ZZ": Raw(value)}]),
            note=f"coefficient {value}",
        )
    for slug, value in (
        ("empty-map", "[{}]"),
        ("empty-list", "[]"),
        ("map", "{}"),
        ("null-item", "[null]"),
        ("nested", "[[{ZZ: 1}]]"),
    ):
        c.add(
            "estimator",
            f"observables-{slug}",
            put(estimator(), ("spec", "observables"), Raw(value)),
            note=f"observables: {value}",
        )
    c.add("estimator", "estimator-with-shots", put(estimator(), ("spec", "shots"), 100), note="estimator with shots")
    c.add(
        "estimator",
        "sampler-with-observables",
        put(sampler(), ("spec", "observables"), [{"ZZ": 1.0}]),
        note="sampler with observables",
    )
    c.add(
        "estimator", "sampler-with-precision", put(sampler(), ("spec", "precision"), 0.1), note="sampler with precision"
    )
    c.add(
        "estimator",
        "estimator-no-observables",
        drop(estimator(), ("spec", "observables")),
        note="estimator without observables",
    )
    rows: dict[str, str] = {
        "empty-row": "[[]]",
        "row-too-long": "[[0.1, 0.2]]",
        "rows-ragged": "[[0.1], [0.1, 0.2]]",
        "string": '[["x"]]',
        "numeric-string": '[["0.1"]]',
        "bool": "[[true]]",
        "nan": "[[.nan]]",
        "inf": "[[.inf]]",
        "null": "[[null]]",
        "nested": "[[[0.1]]]",
        "by-wrong-name": "[{nottheta: 0.1}]",
        "by-name-string": '[{theta: "x"}]',
        "by-name-extra": "[{theta: 0.1, phi: 0.2}]",
        "overflow": "[[1.0e+400]]",
        "huge-int": "[[" + "9" * 400 + "]]",
    }
    for slug, value in rows.items():
        c.add(
            "estimator",
            f"bindings-{slug}",
            put(sweep(), ("spec", "parameterValues"), Raw(value)),
            note=f"parameterValues: {value}",
        )
    c.add(
        "estimator",
        "bindings-for-unparameterized",
        put(sampler(), ("spec", "parameterValues"), [[0.1]]),
        note="parameterValues on a circuit without parameters",
    )
    c.add(
        "estimator",
        "bindings-missing",
        drop(sweep(), ("spec", "parameterValues")),
        note="a parameterized circuit without parameterValues",
    )
    c.add(
        "estimator",
        "bindings-100001",
        put(sweep(), ("spec", "parameterValues"), Block("\n".join(["- [0.1]"] * 100_001))),
        note="100,001 bindings",
        tags={"nasty"},
    )
    c.add(
        "estimator",
        "bindings-one-row-100001-values",
        put(sweep(), ("spec", "parameterValues"), [[0.1] * 100_001]),
        note="one row of 100,001 values",
    )
    est_sweep = estimator(_sub(_sub(SWEEP3, "bit[1] c;\n", ""), "c[0] = measure q[0];\n", ""))
    est_sweep["spec"]["observables"] = [{"Z": 1.0}]
    c.add(
        "estimator",
        "estimator-bindings-ragged",
        put(est_sweep, ("spec", "parameterValues"), Raw("[[0.1], []]")),
        note="estimator with a ragged sweep",
    )


# --------------------------------------------------------------------------- configmaps


def _configmaps(c: _Corpus) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "circuits"}}
    for slug, data in (
        ("data-string", Raw('"bell.qasm"')),
        ("data-list", Raw("[a, b]")),
        ("data-int", Raw("7")),
        ("data-bool", Raw("true")),
        ("data-nested-map", {"bell.qasm": {"a": "b"}}),
        ("data-value-int", {"bell.qasm": 7}),
        ("data-value-list", {"bell.qasm": ["x"]}),
        ("data-value-bool", {"bell.qasm": True}),
    ):
        c.add("configmaps", slug, with_config_map(data), note=f"ConfigMap data: {slug}")
    escape_keys: dict[str, str] = {
        "dotdot": "..",
        "dot": ".",
        "empty": "",
        "slash": "a/b",
        "abs": "/abs/x.txt",
        "rel-tmp": "../../../tmp/x/rel-key.txt",
        "long-254": "k" * 254,
        "markup": "[/x]",
        "newline": "a\nb",
        "nul": "a\x00b",
        "backslash": "a\\b",
        "dotdot-prefix": "..data",
    }
    for slug, key in escape_keys.items():
        c.add(
            "configmaps",
            f"key-{slug}-referenced",
            with_config_map({key: BELL2}, key=key),
            note=f"ConfigMap key {key!r}, referenced by the job",
            tags={"run"} if slug in ("dotdot", "dot", "slash", "abs", "rel-tmp", "markup") else (),
        )
        c.add(
            "configmaps",
            f"key-{slug}-beside",
            with_config_map({"bell.qasm": BELL2, key: BELL2}),
            note=f"ConfigMap key {key!r} beside a good one",
            tags={"run"} if slug in ("abs", "rel-tmp") else (),
        )
    # Keys aimed at ESCAPE_DIR: a file there proves a write outside the work directory.
    for how in ("deep-relative", "absolute"):
        for where in ("referenced", "beside", "binary"):
            slug = f"escape-{how}-{where}"
            case_id = f"configmaps-{slug}"
            target = f"{ESCAPE_DIR}/{case_id}.txt"
            # Enough ../ to reach / from any work directory, then down into ESCAPE_DIR.
            key = "../" * 40 + target.lstrip("/") if how == "deep-relative" else target
            if where == "referenced":
                text = with_config_map({key: BELL2}, key=key)
            elif where == "beside":
                text = with_config_map({"bell.qasm": BELL2, key: BELL2})
            else:
                text = with_config_map(None, extra={"binaryData": {key: base64.b64encode(b"x").decode()}})
            c.add(
                "configmaps",
                slug,
                text,
                note=f"ConfigMap key {key!r}",
                tags={"run", "nasty"} if where == "beside" else {"run"},
            )
    for depth in range(1, 9):
        c.add(
            "configmaps",
            f"escape-up-{depth}",
            with_config_map({"bell.qasm": BELL2, "../" * depth + f"esc-{depth}.txt": BELL2}),
            note=f"ConfigMap key {'../' * depth}esc-{depth}.txt",
            tags={"run"},
        )
    c.add(
        "configmaps",
        "binary-not-base64",
        with_config_map(None, extra={"binaryData": {"b.qpy": "!!!"}}),
        note="binaryData not base64",
    )
    c.add(
        "configmaps",
        "binary-value-list",
        with_config_map(None, extra={"binaryData": {"b.qpy": ["x"]}}),
        note="binaryData value a list",
    )
    c.add(
        "configmaps",
        "binary-string",
        with_config_map(None, extra={"binaryData": Raw('"x"')}),
        note="binaryData a string",
    )
    c.add(
        "configmaps",
        "binary-key-dotdot",
        with_config_map(None, extra={"binaryData": {"..": "eA=="}}),
        note="binaryData key ..",
    )
    c.add(
        "configmaps",
        "key-in-data-and-binary",
        with_config_map(None, extra={"binaryData": {"bell.qasm": "eA=="}}),
        note="bell.qasm in both data and binaryData",
        tags={"run"},
    )
    c.add(
        "configmaps",
        "data-over-1mib",
        with_config_map({"bell.qasm": BELL2, "big.txt": "x" * (1024 * 1024 + 10)}),
        note="a 1 MiB value beside the circuit",
    )
    c.add(
        "configmaps",
        "data-over-1mib-total",
        with_config_map({"bell.qasm": BELL2, **{f"p{i}": "x" * 400_000 for i in range(3)}}),
        note="1.2 MB over three keys",
    )
    c.add(
        "configmaps",
        "binary-over-1mib",
        with_config_map(None, extra={"binaryData": {"big.bin": base64.b64encode(b"\0" * (1024 * 1024 + 10)).decode()}}),
        note="1 MiB of binaryData",
    )
    for slug, meta in (
        ("no-name", {}),
        ("name-dotdot", {"name": "../x"}),
        ("name-markup", {"name": "[/x]"}),
        ("name-int", {"name": 7}),
        ("name-upper", {"name": "Circuits"}),
    ):
        doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"bell.qasm": BELL2}}
        job = put(
            sampler(),
            ("spec", "circuit"),
            {"configMapKeyRef": {"name": meta.get("name", "circuits"), "key": "bell.qasm"}},
        )
        c.add("configmaps", f"metadata-{slug}", dump(doc, job), note=f"ConfigMap metadata {meta}")
    c.add(
        "configmaps",
        "metadata-list",
        dump(
            {**cm, "metadata": Raw("[a]"), "data": {"bell.qasm": BELL2}},
            put(sampler(), ("spec", "circuit"), {"configMapKeyRef": {"name": "circuits", "key": "bell.qasm"}}),
        ),
        note="ConfigMap metadata a list",
    )
    c.add("configmaps", "unknown-field", with_config_map(None, extra={"dta": {"x": "y"}}), note="ConfigMap field dta")
    c.add(
        "configmaps",
        "wrong-api-version",
        with_config_map(None, extra={"apiVersion": "v2"}),
        note="ConfigMap apiVersion v2",
    )
    c.add(
        "configmaps",
        "key-not-found-markup",
        with_config_map(None, key="[bold]nope"),
        note="configMapKeyRef.key [bold]nope",
    )
    c.add(
        "configmaps",
        "qpy-garbage-binary",
        with_config_map(
            None, key="b.qpy", extra={"binaryData": {"b.qpy": base64.b64encode(b"QISKIT" + bytes(range(40))).decode()}}
        ),
        note="binaryData with garbage QPY",
    )
    c.add(
        "configmaps",
        "non-utf8-binary",
        with_config_map(
            None, key="b.qasm", extra={"binaryData": {"b.qasm": base64.b64encode(b"\xff\xfe garbage").decode()}}
        ),
        note="binaryData neither UTF-8 nor QPY",
    )


# --------------------------------------------------------------------------- resources


def _resources(c: _Corpus) -> None:
    cases: dict[str, dict[str, Any]] = {
        "cpu-minus-1-string": {"requests": {"cpu": "-1"}},
        "cpu-minus-1-int": {"requests": {"cpu": -1}},
        "cpu-minus-half": {"requests": {"cpu": "-0.5"}},
        "memory-minus-2gi": {"requests": {"memory": Raw("-2Gi")}},
        "memory-minus-2gi-quoted": {"requests": {"memory": "-2Gi"}},
        "limit-memory-minus-1ki": {"limits": {"memory": "-1Ki"}},
        "limit-cpu-minus-100m": {"limits": {"cpu": "-100m"}},
        "unknown-gpu": {"requests": {"gpu": "1"}},
        "unknown-nvidia": {"limits": {"nvidia.com/gpu": 1}},
        "unknown-upper-cpu": {"requests": {"CPU": "1"}},
        "unknown-cpus": {"requests": {"cpus": "2"}},
        "unknown-empty": {"requests": {"": "1"}},
        "unknown-memory-space": {"requests": {"memory ": "1Gi"}},
        "unknown-pods": {"requests": {"pods": "1"}},
        "non-quantity-lots": {"requests": {"cpu": "lots"}},
        "non-quantity-space": {"requests": {"memory": "1 Gi"}},
        "non-quantity-gb": {"requests": {"memory": "1gb"}},
        "non-quantity-dots": {"requests": {"memory": "1.2.3"}},
        "non-quantity-unit-only": {"requests": {"memory": "Gi"}},
        "non-quantity-double-sign": {"requests": {"cpu": "--1"}},
        "non-quantity-hex": {"requests": {"cpu": "0x10"}},
        "non-quantity-exponent": {"requests": {"cpu": "1e"}},
        "non-quantity-infinity": {"requests": {"cpu": "∞"}},
        "non-quantity-markup": {"requests": {"cpu": "[/x]"}},
        "unknown-section": {"requests": {"cpu": "1"}, "claims": [{"name": "x"}]},
    }
    for slug, resources in cases.items():
        c.add("resources", slug, put(sampler(), ("spec", "resources"), resources), note=f"resources {resources}")
    c.add("resources", "list", put(sampler(), ("spec", "resources"), Raw("[cpu]")), note="resources a list")
    c.add(
        "resources",
        "requests-list",
        put(sampler(), ("spec", "resources"), {"requests": Raw('["1"]')}),
        note="requests a list",
    )


# --------------------------------------------------------------------------- controls


def _controls(c: _Corpus) -> None:
    for path in sorted(EXAMPLES.glob("*.yaml")):
        c.add(
            "controls",
            f"example-{path.stem}",
            path.read_bytes(),
            expect="accept",
            note=f"examples/{path.name}",
            tags={"run"} if path.stem in ("bell", "configmap") else (),
        )
    c.add("controls", "full-sampler", full(), expect="accept", note="every field set")
    c.add("controls", "estimator", estimator(), expect="accept", note="a small estimator job")
    c.add("controls", "sweep", sweep(), expect="accept", note="a small sweep")
    c.add("controls", "bell-qasm3", sampler(BELL3), expect="accept", note="Bell in OpenQASM 3")
    c.add("controls", "configmap-data", with_config_map(), expect="accept", note="the circuit in ConfigMap data")
    c.add(
        "controls",
        "configmap-binary-qpy",
        with_config_map(
            {"other": "x"}, key="bell.qpy", extra={"binaryData": {"bell.qpy": base64.b64encode(_bell_qpy()).decode()}}
        ),
        expect="accept",
        note="QPY in ConfigMap binaryData",
        tags={"run"},
    )
    bell = dump(sampler())
    c.add("controls", "crlf", _sub(bell, "\n", "\r\n"), expect="accept", note="CRLF line endings")
    c.add("controls", "json", json.dumps(sampler(), indent=2), expect="accept", note="the job as JSON")
    c.add("controls", "one-line-flow", flow(sampler()) + "\n", expect="accept", note="the job as one flow mapping")
    c.add(
        "controls",
        "empty-documents-then-job",
        "---\n" * 19 + bell,
        expect="accept",
        note="19 empty documents, then the job",
    )
    c.add("controls", "document-end-marker", "---\n" + bell + "...\n", expect="accept", note="--- and ... markers")
    c.add(
        "controls",
        "name-63",
        put(sampler(), ("metadata", "name"), "n" * 63),
        expect="accept",
        note="a 63-character name",
    )
    c.add(
        "controls",
        "namespace-63",
        put(sampler(), ("metadata", "namespace"), "n" * 63),
        expect="accept",
        note="a 63-character namespace",
    )
    c.add(
        "controls",
        "labels-and-annotations",
        put(
            put(sampler(), ("metadata", "labels"), {"app.kubernetes.io/name": "bell", "tier": "q-1.x_y"}),
            ("metadata", "annotations"),
            {"example.com/note": "[/x] é", "plain": "text"},
        ),
        expect="accept",
        note="valid labels; annotation values are free text",
    )
    one = estimator(ONE3)
    one["spec"]["observables"] = [{"Y": 1.0}]
    c.add("controls", "quoted-Y-observable", one, expect="accept", note='{"Y": 1} on a 1-qubit circuit')
    c.add(
        "controls",
        "comments-everywhere",
        "# head\n"
        + _sub(
            _sub(bell, "spec:\n", "# the spec\nspec:  # here\n"), 'kind: "QiskitJob"\n', 'kind: "QiskitJob"  # kind\n'
        ),
        expect="accept",
        note="comments around",
    )
    c.add(
        "controls",
        "unicode-comment-in-circuit",
        put(sampler(), ("spec", "circuit", "openqasm"), _sub(BELL2, "h q[0];", "// Bell état 🧪\nh q[0];")),
        expect="accept",
        note="non-ASCII comment in the circuit",
    )
    c.add(
        "controls",
        "generate-name",
        put(drop(sampler(), ("metadata", "name")), ("metadata", "generateName"), "bell-"),
        expect="accept",
        note="generateName instead of a name",
    )
    c.add("controls", "suspend-true", put(full(), ("spec", "suspend"), True), expect="accept", note="suspend: true")


# --------------------------------------------------------------------------- entry points


@functools.cache
def _generate() -> tuple[Case, ...]:
    corpus = _Corpus()
    for part in (
        _yaml,
        _bombs,
        _types,
        _fields,
        _metadata,
        _strings,
        _circuits,
        _estimator,
        _configmaps,
        _resources,
        _controls,
    ):
        part(corpus)
    return tuple(corpus.cases)


def generate() -> list[Case]:
    """Every case, in a fixed order; the same bytes on every call and every machine."""
    return list(_generate())


def by_id() -> dict[str, Case]:
    return {case.id: case for case in _generate()}


if __name__ == "__main__":  # a summary: python -m tests.hostile.corpus
    from collections import Counter

    cases = generate()
    counts = Counter(case.cls for case in cases)
    for name in CLASSES:
        print(f"{name:12} {counts[name]}")
    print(f"{'total':12} {len(cases)}  ({sum(len(case.data) for case in cases) / 1e6:.1f} MB)")
