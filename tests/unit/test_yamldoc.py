"""yamldoc: manifest bytes become the JSON kubectl would send, or one line saying where and why.

The VALUES and KEYS tables were checked against sigs.k8s.io/yaml ``YAMLToJSON`` (gopkg.in/yaml.v2
2.4.0, the code of go.yaml.in/yaml/v2 v2.4.2) when they were written.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from qiskit_argo import yamldoc
from qiskit_argo.errors import MAX_MESSAGE, InvalidJobError
from qiskit_argo.yamldoc import MAX_DEPTH, decode, load_bytes, load_documents

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
SOURCE = "job.yaml"


def typed(value: Any) -> Any:
    """The value with every scalar's type made visible, so that 1, 1.0 and True differ."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, value)


def error_of(data: str | bytes, source: str = SOURCE) -> str:
    """The one-line message the input is refused with."""
    with pytest.raises(InvalidJobError) as caught:
        if isinstance(data, bytes):
            load_bytes(data, source)
        else:
            load_documents(data, source)
    message = str(caught.value)
    assert "\n" not in message and "\r" not in message, message
    assert len(message) <= MAX_MESSAGE, message
    return message


# --------------------------------------------------------------------------- values as kubectl reads them

VALUES: list[tuple[str, Any]] = [
    # YAML 1.1 booleans and nulls (resolve.go resolveMap)
    ("a: y\nb: Y\nc: yes\nd: Yes\ne: YES\nf: on\ng: On\nh: ON\ni: true\nj: True", dict.fromkeys("abcdefghij", True)),
    ("a: n\nb: N\nc: no\nd: No\ne: NO\nf: off\ng: Off\nh: OFF\ni: false\nj: FALSE", dict.fromkeys("abcdefghij", False)),
    ("a: yEs\nb: oN\nc: tRue\nd: nUll", {"a": "yEs", "b": "oN", "c": "tRue", "d": "nUll"}),
    ("a: ~\nb: null\nc: Null\nd: NULL\ne:\nf: ''", {"a": None, "b": None, "c": None, "d": None, "e": None, "f": ""}),
    # ints: strconv.ParseInt(s without "_", 0, 64), then ParseUint, then yamlStyleFloat
    (
        "a: 0x10\nb: 0X1f\nc: 0o17\nd: 0b101\ne: -0b101\nf: +0x1_0",
        {"a": 16, "b": 31, "c": 15, "d": 5, "e": -5, "f": 16},
    ),
    ("a: 010\nb: 08\nc: 09.5\nd: 0\ne: -0\nf: 00", {"a": 8, "b": 8.0, "c": 9.5, "d": 0, "e": 0, "f": 0}),
    ("a: 1_000\nb: 1__0\nc: 1_\nd: _1\ne: -_1", {"a": 1000, "b": 10, "c": 1, "d": "_1", "e": -1}),
    ("a: 9223372036854775807\nb: -9223372036854775808", {"a": 2**63 - 1, "b": -(2**63)}),
    ("a: 9223372036854775808\nb: 18446744073709551615", {"a": 2**63, "b": 2**64 - 1}),
    ("a: 18446744073709551616\nb: -9223372036854775809", {"a": 2.0**64, "b": -(2.0**63)}),
    ("a: +18446744073709551615\nb: 0x10000000000000000", {"a": 2.0**64, "b": "0x10000000000000000"}),
    ("a: 0777777777777777777777777", {"a": 7.777777777777778e23}),  # octal overflow: read as decimal
    (
        "a: 0x\nb: 0b2\nc: 0o8\nd: 0x1p3\ne: '12'\nf: \"0x10\"",
        dict(zip("abcdef", ["0x", "0b2", "0o8", "0x1p3", "12", "0x10"], strict=True)),
    ),
    # floats: yamlStyleFloat + ParseFloat (1e3 is a float here, a string for PyYAML)
    ("shots: 1e3", {"shots": 1000.0}),
    (
        "a: 1E3\nb: 1e+3\nc: 1e-3\nd: 1.e3\ne: 1.5\nf: -0.0",
        {"a": 1e3, "b": 1e3, "c": 1e-3, "d": 1e3, "e": 1.5, "f": -0.0},
    ),
    (
        "a: .5\nb: -.5\nc: +.5\nd: .5e3\ne: .5_5\nf: ._5",
        {"a": 0.5, "b": -0.5, "c": 0.5, "d": 500.0, "e": 0.55, "f": "._5"},
    ),
    (
        "a: 1e999\nb: .5e999\nc: 1e-999\nd: nan\ne: inf\nf: .iNf",
        dict(zip("abcdef", ["1e999", ".5e999", 0.0, "nan", "inf", ".iNf"], strict=True)),
    ),
    # no sexagesimals, timestamps stay strings
    ("a: 1:30\nb: 190:20:30\nc: -1:30", {"a": "1:30", "b": "190:20:30", "c": "-1:30"}),
    (
        "a: 2001-12-14\nb: 2001-12-14t21:59:43.10-05:00\nc: 2001-12-14 21:59:43.10",
        {"a": "2001-12-14", "b": "2001-12-14t21:59:43.10-05:00", "c": "2001-12-14 21:59:43.10"},
    ),
    # quoted and block scalars are strings; core tags are honoured
    ("a: 'yes'\nb: \"1e3\"\nc: |\n  12\nd: >-\n  on", {"a": "yes", "b": "1e3", "c": "12\n", "d": "on"}),
    (
        "a: !!str 12\nb: !!int '12'\nc: !!float 1\nd: !!bool 'yes'\ne: !!null ''\nf: ! 12",
        {"a": "12", "b": 12, "c": 1.0, "d": True, "e": None, "f": "12"},
    ),
    ("a: !!map {b: 1}\nc: !!seq [1]\nd: !<tag:yaml.org,2002:int> 7", {"a": {"b": 1}, "c": [1], "d": 7}),
    ("%TAG !e! tag:yaml.org,2002:\n---\na: !e!int 12", {"a": 12}),
    # merge keys: applied where they stand, later entries win, list items in reverse
    ("b: &b {x: 1, z: 2}\nc:\n  <<: *b\n  z: 3", {"b": {"x": 1, "z": 2}, "c": {"x": 1, "z": 3}}),
    ("b: &b {x: 1, z: 2}\nc:\n  z: 3\n  <<: *b", {"b": {"x": 1, "z": 2}, "c": {"x": 1, "z": 2}}),
    ("c: {<<: [{a: 1}, {a: 2, b: 2}]}", {"c": {"a": 1, "b": 2}}),
    ("x: &x {a: 1}\nc: {<<: [*x, {a: 2, b: 2}], b: 3}", {"x": {"a": 1}, "c": {"a": 1, "b": 3}}),
    ("c: {<<: {a: 1}, <<: {b: 2}}", {"c": {"a": 1, "b": 2}}),
    ("c: {<<: []}\nd: {'<<': 1}\ne: <<\nf: {!!merge <<: {a: 1}}", {"c": {}, "d": {"<<": 1}, "e": "<<", "f": {"a": 1}}),
    ("a: &a {x: 1, <<: {w: 2}}\nb: {<<: *a, z: 3}", {"a": {"x": 1, "w": 2}, "b": {"x": 1, "w": 2, "z": 3}}),
    # anchors: an alias shares its anchor's value; a later anchor of the same name wins
    ("a: &x 1\nb: &x 2\nc: *x", {"a": 1, "b": 2, "c": 2}),
    ("a: &x [1, &x 2, *x]\nb: *x", {"a": [1, 2, 2], "b": 2}),
    # a non-finite number that a later merge replaces never reaches json.Marshal
    ("m: &m {a: 1}\nc: {a: .inf, <<: *m}", {"m": {"a": 1}, "c": {"a": 1}}),
]


@pytest.mark.parametrize(("text", "expected"), VALUES, ids=[text.split("\n")[0][:30] for text, _ in VALUES])
def test_values_are_what_kubectl_reads(text: str, expected: Any) -> None:
    assert typed(load_documents(text, SOURCE)) == typed([expected])


KEYS: list[tuple[str, str]] = [
    # convertToJSONableObject: bools, ints and float keys become strings; floats as float32 %g
    ("Y", "true"),
    ("on", "true"),
    ("no", "false"),
    ("0x10", "16"),
    ("-7", "-7"),
    ("9223372036854775807", "9223372036854775807"),
    ("1.5", "1.5"),
    ("0.1", "0.1"),
    ("3.141592653589793", "3.1415927"),
    ("1e6", "1e+06"),
    ("100000.0", "100000"),
    ("1234567.0", "1.234567e+06"),
    ("16777217.0", "1.6777216e+07"),
    ("1e-5", "1e-05"),
    ("0.0001", "0.0001"),
    ("-0.0", "-0"),
    ("1e39", ".inf"),
    (".inf", ".inf"),
    ("-.inf", "-.inf"),
    (".NaN", ".nan"),
    ("2001-12-14", "2001-12-14"),
    ("1:30", "1:30"),
]


@pytest.mark.parametrize(("key", "expected"), KEYS)
def test_keys_become_strings_as_kubectl_writes_them(key: str, expected: str) -> None:
    assert load_documents(f"{key}: v\n", SOURCE) == [{expected: "v"}]


def test_the_pure_python_parser_reads_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where PyYAML lacks libyaml the same events come from its Python parser."""
    monkeypatch.setattr(yamldoc, "_LOADER", yaml.BaseLoader)
    for text, expected in VALUES:
        assert typed(load_documents(text, SOURCE)) == typed([expected]), text
    assert "nested deeper than" in error_of("- " * DEEP + "x")
    assert error_of("a: 'x\x01'").startswith("job.yaml line 1, column 6: malformed YAML: character U+0001")


def test_documents_aliases_and_anchors() -> None:
    assert load_documents("a: 1\n---\n---\n# nothing\n...\n--- ~\n---\nb: 2\n", SOURCE) == [{"a": 1}, {"b": 2}]
    assert load_documents("", SOURCE) == []
    (doc,) = load_documents("a: &x [1, {b: 2}]\nb: *x\n", SOURCE)
    assert doc["a"] is doc["b"]  # aliases share the built object, never expand it
    assert load_documents("- 12\n- <<\n", SOURCE) == [[12, "<<"]]


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_examples_load_as_before(path: Path) -> None:
    before = [doc for doc in yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader) if doc is not None]
    assert typed(load_bytes(path.read_bytes(), str(path))) == typed(before)


# --------------------------------------------------------------------------- refusals, one line each

ERRORS: list[tuple[str | bytes, list[str]]] = [
    # JSON cannot carry them
    ("a: 1\nb: .inf", ["job.yaml line 2, column 4:", ".inf is not a JSON number; write a finite number"]),
    ("a: [1, -.Inf]", ["line 1, column 8:", "-.Inf is not a JSON number"]),
    ("a: !!float .nan", ["line 1, column 4:", ".nan is not a JSON number"]),
    ("--- .inf", ["line 1, column 5:", ".inf is not a JSON number"]),
    ("a: &x .inf\nb: [*x]", ["line 1, column 4:", ".inf is not a JSON number"]),
    # keys
    ("shots: 1\nname: x\nshots: 2", ["line 3, column 1:", "key 'shots' appears twice (lines 1 and 3); keep one"]),
    ("a: {b: 1, b: 2}", ["line 1, column 11:", "key 'b' appears twice (line 1, columns 5 and 11)"]),
    ("y: 1\ntrue: 2", ["line 2, column 1:", "key 'true' appears twice (lines 1 and 2)"]),
    ("1: a\n'1': b", ["line 2, column 1:", "key '1' appears twice"]),
    ("a: &k x\n*k : 1\nx: 2", ["line 3, column 1:", "key 'x' appears twice (lines 2 and 3)"]),
    ("~: 1", ["line 1, column 1:", "a null key cannot become a JSON key"]),
    ("18446744073709551615: a", ["line 1, column 1:", "unsigned 64-bit integer", "quote it"]),
    ("[1]: 2", ["line 1, column 1:", "a sequence cannot be a mapping key"]),
    ("? {a: 1}\n: 2", ["line 1, column 3:", "a mapping cannot be a mapping key"]),
    ("a: &m {b: 1}\n*m : 2", ["line 2, column 1:", "a mapping cannot be a mapping key"]),
    # tags
    (
        "a: !!binary aGVsbG8=",
        ["line 1, column 4:", "tag '!!binary' is not allowed", "plain JSON data", "remove the tag"],
    ),
    ("a: !!set {x}", ["line 1, column 4:", "tag '!!set' is not allowed"]),
    ("a: !!omap [{x: 1}]", ["tag '!!omap' is not allowed"]),
    ("a: !!pairs [{x: 1}]", ["tag '!!pairs' is not allowed"]),
    ("a: !!timestamp 2001-01-01", ["tag '!!timestamp' is not allowed"]),
    ("a:\n  - !custom x", ["line 2, column 5:", "tag '!custom' is not allowed"]),
    ("a: !!python/object:os.system x", ["tag '!!python/object:os.system' is not allowed"]),
    ("a: !!str {b: 1}", ["tag '!!str' is not allowed"]),
    ("a: !!int x", ["line 1, column 4:", "'x' is not a valid !!int; remove the tag or fix the value"]),
    ("a: !!float 18446744073709551615", ["is not a valid !!float"]),
    ("a: !!bool 1", ["is not a valid !!bool"]),
    ("a: !!null x", ["is not a valid !!null"]),
    # merges and aliases
    ("c: {<<: 1}", ["line 1, column 5:", "merge key '<<' needs a mapping"]),
    ("b: &b [{a: 1}]\nc: {<<: *b}", ["line 2, column 5:", "merge key '<<'"]),
    ("c: {<<: [[{a: 1}]]}", ["merge key '<<'"]),
    ("a: *nowhere", ["line 1, column 4:", "alias *nowhere has no anchor before it"]),
    ("a: &x 1\n---\nb: *x", ["line 3, column 4:", "alias *x has no anchor"]),
    ("a: &x [1, *x]", ["line 1, column 11:", "alias *x is inside its own anchor"]),
    # syntax, today's shape
    ("a: [1, 2\nb: 3", ["job.yaml line", "malformed YAML:", "; fix the indentation or quoting there"]),
    ("a: b: c", ["line 1, column 5: malformed YAML: mapping values are not allowed"]),
    ("a: 'x\x01'", ["line 1, column 6: malformed YAML: character U+0001 is not allowed"]),
    ("é: x\nb: 'é\x7f'", ["line 2, column 6:", "character U+007F"]),
    # bytes
    (b"\xff\xfea\x00:\x00", ["job.yaml: the file is UTF-16 (it starts with a byte-order mark); save it as UTF-8"]),
    (b"\xfe\xff\x00a", ["the file is UTF-16 (it starts with a byte-order mark)"]),
    (b"\xff\xfe\x00\x00a\x00\x00\x00", ["the file is UTF-32 (it starts with a byte-order mark)"]),
    ("a: 1\n".encode("utf-16-le"), ["the file is UTF-16 (it has NUL bytes between its characters); save it as UTF-8"]),
    ("a: 1\n".encode("utf-16-be"), ["the file is UTF-16"]),
    ("a: 1\n".encode("utf-32-le"), ["the file is UTF-32"]),
    (
        "a: 1\nname: café\n".encode("latin-1"),
        ["job.yaml line 2, byte offset 14: byte 0xE9 is not UTF-8; the file must be"],
    ),
    (b"\xef\xbb\xbfa: 1\n\xc3", ["line 2, byte offset 8: byte 0xC3 is not UTF-8"]),
    (b"a: '\xed\xa0\x80'", ["line 1, byte offset 4: byte 0xED is not UTF-8"]),
]


@pytest.mark.parametrize("data, expected", ERRORS, ids=[str(data[:24]) for data, _ in ERRORS])
def test_refusals_are_one_line_saying_where_and_what_to_do(data: str | bytes, expected: list[str]) -> None:
    message = error_of(data)
    assert message.startswith(SOURCE), message
    for part in expected:
        assert part in message, message


def test_a_utf8_byte_order_mark_is_dropped() -> None:
    assert load_bytes(b"\xef\xbb\xbfa: 1\n", SOURCE) == [{"a": 1}]
    assert decode(b"\xef\xbb\xbfa", SOURCE) == "a"


def test_messages_quote_little_and_escape_it() -> None:
    huge = "k" * 1_000_000
    message = error_of(f"? {huge}\n: 1\n? {huge}\n: 2\n")
    assert len(message) <= MAX_MESSAGE and "key 'kkkkkkkkk" in message and "appears twice (lines 1 and 3)" in message
    assert len(error_of(f"a: !{huge} x")) <= MAX_MESSAGE
    assert len(error_of(f"a: *{huge}")) <= MAX_MESSAGE
    assert len(error_of(f"a: !!int '{huge}'")) <= MAX_MESSAGE
    assert r"key 'a\tb\x1b[31m' appears twice" in error_of('"a\\tb\\x1b[31m": 1\n"a\\tb\\x1b[31m": 2\n')
    assert r"evil\nname" in error_of("a: .inf", source="evil\nname")
    assert len(error_of("a: .inf", source="d/" * 5000)) <= MAX_MESSAGE


# --------------------------------------------------------------------------- hostile input

DEEP = 100_000
DEEP_CASES = {
    "flow sequences": "[" * DEEP + "]" * DEEP,
    "flow mappings": "{a: " * DEEP + "1" + "}" * DEEP,
    "block sequences": "- " * DEEP + "x\n",
}


@pytest.mark.parametrize("text", DEEP_CASES.values(), ids=DEEP_CASES.keys())
def test_deep_nesting_is_refused_at_once(text: str) -> None:
    started = time.perf_counter()
    message = error_of(text)
    assert time.perf_counter() - started < 1.0
    assert message.startswith("job.yaml line 1, column ") and f"nested deeper than {MAX_DEPTH} levels" in message


def test_block_mapping_depth_names_the_line() -> None:
    text = "".join(" " * level + "a:\n" for level in range(MAX_DEPTH + 5))
    assert error_of(text).startswith(f"job.yaml line {MAX_DEPTH + 1}, column {MAX_DEPTH + 1}:")
    assert load_documents("".join(" " * level + "a:\n" for level in range(MAX_DEPTH)), SOURCE)


def test_aliases_count_towards_depth() -> None:
    inner = "[" * 60 + "]" * 60
    assert load_documents(f"a: &a {inner}\nb: &b {'[' * 30}*a{']' * 30}\n", SOURCE)
    message = error_of(f"a: &a {inner}\nb: &b {'[' * 40}*a{']' * 40}\n")
    assert message.startswith("job.yaml line 2, column 47:") and "with its aliases expanded" in message


def test_deep_nesting_cannot_crash_the_process() -> None:
    """Run the deepest inputs in a child, so that a segfault would be seen as a failure."""
    code = textwrap.dedent(
        f"""
        from qiskit_argo.errors import InvalidJobError
        from qiskit_argo.yamldoc import load_bytes
        for text in ("[" * {DEEP * 10}, "- " * {DEEP * 10} + "x", "{{a: " * {DEEP * 10}):
            try:
                load_bytes(text.encode(), "deep.yaml")
            except InvalidJobError as error:
                print(error)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env, cwd=REPO)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert len(lines) == 3 and all("nested deeper than" in line for line in lines), done.stdout


def billion_laughs(levels: int = 9) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        name, previous = chr(ord("a") + level), chr(ord("a") + level - 1)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_refused_at_once() -> None:
    started = time.perf_counter()
    message = error_of(billion_laughs())
    assert time.perf_counter() - started < 0.5
    assert message.startswith("job.yaml line 4, column ") and "alias expansion" in message, message


def test_goyaml_alias_ratio_is_mirrored() -> None:
    """decode.go allowedAliasRatio: up to 99% of a small document may come from aliases."""
    anchor = "a: &a [" + ",".join(["1"] * 300) + "]\n"
    assert load_documents(
        anchor + "b: [" + ",".join(["*a"] * 60) + "]\n", SOURCE
    )  # 18,060 of 18,426 nodes from aliases
    assert "excessive aliasing" in error_of(
        anchor + "b: [" + ",".join(["*a"] * 200) + "]\n"
    )  # 60,200 of 60,706: more than 99%


def test_node_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamldoc, "MAX_NODES", 50)
    assert load_documents("a: [" + ",".join(["1"] * 40) + "]", SOURCE)
    assert "the document has more than 50 nodes" in error_of("a: [" + ",".join(["1"] * 60) + "]")
    message = error_of("a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nb: [*a, *a, *a, *a]\n")
    assert (
        message.startswith("job.yaml line 2, column ")
        and "alias expansion makes the document larger than 50" in message
    )


def test_garbage_never_escapes_as_anything_but_one_line() -> None:
    rng = random.Random(20260101)
    example = (REPO / "examples" / "sweep.yaml").read_bytes()
    inputs = [rng.randbytes(rng.randint(1, 300)) for _ in range(150)]
    inputs += [
        bytes(rng.choice(b" \t\n-:[]{},&*!|>'\"#%@`?abc0129.") for _ in range(rng.randint(1, 200))) for _ in range(300)
    ]
    for _ in range(150):
        mutated = bytearray(example)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.choice(b"[]{}:-&*!|>\"'\t\n\x00\xff")
        inputs.append(bytes(mutated))
    for data in inputs:
        try:
            documents = load_bytes(data, SOURCE)
        except InvalidJobError as error:
            assert "\n" not in str(error) and len(str(error)) <= MAX_MESSAGE and str(error).startswith(SOURCE)
        else:
            json.dumps(documents, allow_nan=False)  # what it returns is JSON


# --------------------------------------------------------------------------- speed


def sweep_manifest(bindings: int = 1000, parameters: int = 16) -> str:
    rng = random.Random(7)
    head = (REPO / "examples" / "sweep.yaml").read_text().split("  parameterValues:")[0]
    rows = [
        "    - [" + ", ".join(repr(rng.uniform(-3.2, 3.2)) for _ in range(parameters)) + "]" for _ in range(bindings)
    ]
    return head + "  parameterValues:\n" + "\n".join(rows) + "\n  backend:\n    aer:\n      seed: 42\n"


def test_a_large_sweep_loads_no_slower_than_pyyaml() -> None:
    text = sweep_manifest()

    def best(load: Any) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            load()
            times.append(time.perf_counter() - started)
        return min(times)

    before = [doc for doc in yaml.load_all(text, Loader=yaml.CSafeLoader) if doc is not None]
    assert load_documents(text, SOURCE) == before
    old = best(lambda: list(yaml.load_all(text, Loader=yaml.CSafeLoader)))
    new = best(lambda: load_documents(text, SOURCE))
    assert new < 1.5 * old, f"yamldoc {new * 1e3:.1f} ms, PyYAML {old * 1e3:.1f} ms"
