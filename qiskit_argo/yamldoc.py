"""Read manifest bytes into JSON-compatible documents exactly as ``kubectl apply`` sees them.

kubectl reads YAML with sigs.k8s.io/yaml: go.yaml.in/yaml/v2 (a port of libyaml, formerly
gopkg.in/yaml.v2, vendored as sigs.k8s.io/yaml ``goyaml.v2``) decodes each document into
``interface{}``, ``convertToJSONableObject`` turns the keys into strings and ``json.Marshal``
writes the JSON the API server receives. This module gives the same values, as Python
``dict`` (str keys), ``list``, ``str``, ``int``, ``float``, ``bool`` and ``None``, and turns
every input that would crash, hang or be read differently into one ``InvalidJobError`` line.

Sources (read for the semantics, not copied):

- go.yaml.in/yaml/v2 v2.4.2 (github.com/yaml/go-yaml tag v2.4.2, the same code as
  gopkg.in/yaml.v2 v2.4.0), which sigs.k8s.io/yaml v1.5+ uses: ``resolve.go`` ``resolve()`` for
  plain scalars (YAML 1.1 booleans y/yes/on/off..., ``strconv.ParseInt(strings.Replace(s, "_",
  "", -1), 0, 64)``, then ``ParseUint``, then ``yamlStyleFloat`` + ``ParseFloat``, else a string;
  no sexagesimals);
  ``decode.go`` ``scalar()`` (timestamps stay strings in ``interface{}``), ``merge()``/``mapping()``
  (``<<`` is applied where it stands: later entries overwrite earlier ones, list items in
  reverse), ``alias()`` (an anchor may not contain itself) and ``allowedAliasRatio()``
  ("document contains excessive aliasing", mirrored here); ``scannerc.go`` ``max_flow_level``.
- sigs.k8s.io/yaml ``yaml.go``: ``YAMLToJSON``, ``convertToJSONableObject`` (bool, int and
  float keys become strings, floats with ``FormatFloat(f, 'g', -1, 32)``; null and uint64 keys
  are refused), then ``json.Marshal`` (``.inf``/``.nan`` cannot be written).

Deliberate differences: duplicate keys, tags other than the core ones (``!!binary``, ``!!set``,
``!custom``...; kubectl decodes or ignores them) and nesting deeper than ``MAX_DEPTH`` (goyaml
allows 10,000) are errors here. PyYAML's libyaml (0.2.5) refuses a few flow-context plain
scalars that goyaml's older port accepts (``[a:]``).

The document is built iteratively from libyaml's event stream (``yaml.CBaseLoader``; the
pure-Python parser when PyYAML lacks libyaml): no recursion, so depth cannot crash it, and
aliases are counted, never expanded (an alias shares the Python object of its anchor).
"""

from __future__ import annotations

import math
import re
import struct
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from qiskit_argo.errors import MAX_QUOTE, InvalidJobError, one_line, quote

__all__ = ["MAX_DEPTH", "MAX_NODES", "decode", "load_documents", "load_bytes"]

#: Nested collections allowed in one document, aliases included. A QiskitJob is under 10
#: deep; 100 keeps every consumer's recursion (pydantic, json) far from its limits.
MAX_DEPTH: Final = 100
#: YAML nodes (keys, values, collections) one document may expand to, aliases counted at full
#: size. Every node costs at least one byte of JSON, so a larger document cannot fit the API
#: server's 3 MiB request limit.
MAX_NODES: Final = 3 * 1024 * 1024

#: The most characters of a file name in a message (its end is kept).
_MAX_SOURCE = 100
_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1
_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG + name for name in ("str", "int", "float", "bool", "null"))
_MAP, _SEQ, _MERGE_TAG = _TAG + "map", _TAG + "seq", _TAG + "merge"

_MISSING: Any = object()  # no value yet (an empty stream, a mapping waiting for its key)
_MERGE: Any = object()  # the merge key ``<<`` (a plain, untagged ``<<`` in key position)


class _Unwritable:
    """A float goyaml resolves but ``json.Marshal`` cannot write (±inf, nan), and where it is."""

    __slots__ = ("number", "text", "mark")

    def __init__(self, number: float, text: str, mark: Any = None) -> None:
        self.number = number
        self.text = text
        self.mark = mark


#: resolve.go ``resolveMap``: the plain scalars resolved by table.
_WORDS: dict[str, Any] = {"<<": _MERGE}
for _words, _value in (
    ("y Y yes Yes YES true True TRUE on On ON", True),
    ("n N no No NO false False FALSE off Off OFF", False),
    ("~ null Null NULL", None),
    (".nan .NaN .NAN", math.nan),
    (".inf .Inf .INF +.inf +.Inf +.INF", math.inf),
    ("-.inf -.Inf -.INF", -math.inf),
):
    for _word in _words.split():
        _WORDS[_word] = _Unwritable(_value, _word) if isinstance(_value, float) else _value
_WORDS[""] = None
#: resolve.go ``resolveTable``: only these first characters can start a number.
_NUMERIC_START = frozenset("+-0123456789.")
#: strconv.ParseInt/ParseUint with base 0 (after resolve.go removed every ``_``).
_GO_INT = re.compile(
    r"(?P<sign>[-+]?)(?:(?P<dec>[1-9][0-9]*)|0[xX](?P<hex>[0-9a-fA-F]+)|0[bB](?P<bin>[01]+)"
    r"|0[oO](?P<oct>[0-7]+)|0(?P<oct0>[0-7]*))"
)
#: libyaml's event parser where PyYAML was built with it (only its events are used, no constructor).
_LOADER: Any = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
_BASES = (("dec", 10), ("hex", 16), ("bin", 2), ("oct", 8), ("oct0", 8))
#: resolve.go ``yamlStyleFloat``.
_YAML_FLOAT = re.compile(r"[-+]?(?:(\.[0-9]+)|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
#: strconv.ParseFloat on a scalar that starts with ``.`` (Go literal syntax: ``_`` between digits).
_GO_DOT_FLOAT = re.compile(r"\.[0-9](?:_?[0-9])*(?:[eE][-+]?[0-9](?:_?[0-9])*)?")


def _fail(message: str) -> InvalidJobError:
    """The error, its message one line (``qiskit_argo.errors.one_line``)."""
    return InvalidJobError(one_line(message))


def _source(source: str) -> str:
    """The file name as a message shows it: escaped, its end kept."""
    return one_line(source, _MAX_SOURCE, prose=False, keep="end")


def _where(source: str, mark: Any) -> str:
    return f"{source} line {mark.line + 1}, column {mark.column + 1}"


# --------------------------------------------------------------------------- bytes to text


_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


def decode(data: bytes, source: str) -> str:
    """The text of a manifest file: strict UTF-8, a UTF-8 byte-order mark dropped."""
    src = _source(source)
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise _fail(f"{src}: the file is {name} (it starts with a byte-order mark); save it as UTF-8")
    head = data[:4]
    if len(head) >= 2 and 0 in head[:2] and any(head):
        name = "UTF-32" if head[1:3] == b"\x00\x00" or head[:3] == b"\x00\x00\x00" else "UTF-16"
        raise _fail(f"{src}: the file is {name} (it has NUL bytes between its characters); save it as UTF-8")
    skip = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = skip + error.start
        line = data.count(b"\n", 0, offset) + 1
        raise _fail(
            f"{src} line {line}, byte offset {offset}: byte 0x{data[offset]:02X} is not UTF-8; "
            "the file must be UTF-8 text"
        ) from None


# --------------------------------------------------------------------------- scalars


def _number(text: str) -> Any:
    """resolve.go for a plain scalar that starts with ``+-.0-9``: int, float or the text."""
    if text[0] == ".":
        if _GO_DOT_FLOAT.fullmatch(text):
            value = float(text.replace("_", ""))
            if math.isfinite(value):  # ParseFloat's ErrRange leaves a string
                return value
        return text
    plain = text.replace("_", "") if "_" in text else text
    shaped = _YAML_FLOAT.fullmatch(plain)
    if shaped is not None:
        if shaped.lastindex:  # a fraction or an exponent: never an int
            value = float(plain)
            return value if math.isfinite(value) else text
        if len(plain) < 19 and plain[0] != "0" and plain[:2] not in ("-0", "+0"):
            return int(plain)  # decimal, no leading zero, within int64
    return _integer(plain, text, shaped is not None)


def _integer(plain: str, text: str, float_shaped: bool) -> Any:
    """The rest of resolve.go's int path: base prefixes, leading-zero octal, 64-bit overflow."""
    match = _GO_INT.fullmatch(plain)
    if match is not None:
        digits, base = next((match[name], base) for name, base in _BASES if match[name] is not None)
        if base != 10 or len(digits) <= 20:  # longer decimals overflow (and int() refuses > 4300 digits)
            number = int(digits, base) if digits else 0
            if match["sign"] == "-":
                number = -number
            if _INT64_MIN <= number <= _INT64_MAX or (not match["sign"] and number <= _UINT64_MAX):
                return number
    if float_shaped:  # ParseInt and ParseUint failed: yamlStyleFloat, then ParseFloat
        value = float(plain)
        if math.isfinite(value):
            return value
    return text


def _resolve(text: str) -> Any:
    """The value of a plain, untagged scalar (resolve.go for an ``interface{}`` target)."""
    value = _WORDS.get(text, _MISSING)
    if value is not _MISSING:
        return value
    if text[0] in _NUMERIC_START:
        return _number(text)
    return text


def _tagged(tag: str, event: Any, source: str) -> Any:
    """A scalar with an explicit core tag, checked as resolve.go checks it."""
    text = event.value
    if tag == _STR or tag == "!":
        return text
    if tag == _MERGE_TAG and text == "<<":
        return _MERGE
    if tag not in (_INT, _FLOAT, _BOOL, _NULL):
        raise _tag_error(tag, event, source)
    value = _resolve(text)
    kind: type = type(value)
    if kind is _Unwritable:
        kind = float
    if tag == _FLOAT and type(value) is int and _INT64_MIN <= value <= _INT64_MAX:
        return float(value)
    if {_INT: int, _FLOAT: float, _BOOL: bool, _NULL: type(None)}[tag] is kind and value is not _MERGE:
        return value
    short = "!!" + tag[len(_TAG) :]
    raise _fail(
        f"{_where(source, event.start_mark)}: {quote(text)} is not a valid {short}; remove the tag or fix the value"
    )


def _tag_error(tag: str, event: Any, source: str) -> InvalidJobError:
    shown = "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag
    return _fail(
        f"{_where(source, event.start_mark)}: tag {quote(shown)} is not allowed; "
        "a manifest is plain JSON data, so remove the tag"
    )


def _first_unwritable(root: Any) -> _Unwritable | None:
    """The first non-finite number left in a document (a later key or merge may have replaced one)."""
    pending, seen = [root], set()
    while pending:
        node = pending.pop()
        if isinstance(node, _Unwritable):
            return node
        if isinstance(node, dict | list) and id(node) not in seen:
            seen.add(id(node))
            pending.extend(reversed(list(node.values() if isinstance(node, dict) else node)))
    return None


def _unwritable(value: _Unwritable, mark: Any, source: str) -> InvalidJobError:
    return _fail(f"{_where(source, mark)}: {value.text} is not a JSON number; write a finite number")


def _float32_shortest(value: float) -> tuple[str, int]:
    """Go's shortest digits of ``float32(value)`` (positive, finite): digits and decimal point."""
    (bits,) = struct.unpack("<I", struct.pack("<f", value))
    exact = Decimal(value)
    below = Decimal(struct.unpack("<f", struct.pack("<I", bits - 1))[0]) if bits else -exact
    above_f = struct.unpack("<f", struct.pack("<I", bits + 1))[0]
    above = Decimal(above_f) if math.isfinite(above_f) else 2 * exact - below
    low, high, inclusive = (below + exact) / 2, (exact + above) / 2, bits % 2 == 0
    for precision in range(1, 10):
        step = Decimal(1).scaleb(exact.adjusted() - precision + 1)
        nearest = exact.quantize(step, rounding=ROUND_HALF_EVEN)
        for candidate in (nearest, nearest + step, nearest - step):
            if low < candidate < high or (inclusive and candidate in (low, high)):
                _, cdigits, cexp = candidate.normalize().as_tuple()
                text = "".join(map(str, cdigits))
                assert isinstance(cexp, int)
                return text, len(text) + cexp
    raise AssertionError("float32 needs at most 9 digits")  # pragma: no cover


def _float_key(value: float) -> str:
    """``strconv.FormatFloat(value, 'g', -1, 32)`` as sigs.k8s.io/yaml writes a float key."""
    try:
        (single,) = struct.unpack("<f", struct.pack("<f", value))
    except OverflowError:
        single = math.copysign(math.inf, value)
    if math.isnan(single):
        return ".nan"
    if math.isinf(single):
        return ".inf" if single > 0 else "-.inf"
    sign = "-" if math.copysign(1.0, single) < 0 else ""
    if single == 0:
        return sign + "0"
    digits, point = _float32_shortest(abs(single))
    exponent = point - 1
    if exponent < -4 or exponent >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _key(value: Any, mark: Any, source: str) -> str:
    """A mapping key as ``convertToJSONableObject`` turns it into a JSON object key."""
    if isinstance(value, str):
        return value
    where = _where(source, mark)
    if isinstance(value, _Unwritable):
        return _float_key(value.number)
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return str(value)
        raise _fail(f"{where}: the key {value} is an unsigned 64-bit integer, which cannot be a JSON key; quote it")
    if isinstance(value, float):
        return _float_key(value)
    if value is None:
        raise _fail(f"{where}: a null key cannot become a JSON key; quote it or give the key a name")
    raise _not_a_key("mapping" if isinstance(value, dict) else "sequence", mark, source)


def _not_a_key(kind: str, mark: Any, source: str) -> InvalidJobError:
    return _fail(f"{_where(source, mark)}: a {kind} cannot be a mapping key; keys must be strings")


# --------------------------------------------------------------------------- documents


def _allowed_alias_ratio(nodes: int) -> float:
    """decode.go ``allowedAliasRatio``: the share of decodes that may come from aliases."""
    if nodes <= 400_000:
        return 0.99
    if nodes >= 4_000_000:
        return 0.10
    return 0.99 - 0.89 * ((nodes - 400_000) / 3_600_000)


def _count_error(nodes: int, aliased: int, mark: Any, source: str) -> InvalidJobError | None:
    """None while the document is within ``MAX_NODES`` and goyaml's alias ratio."""
    if nodes > MAX_NODES:
        if aliased:
            what = f"alias expansion makes the document larger than {MAX_NODES} nodes"
        else:
            what = f"the document has more than {MAX_NODES} nodes"
        return _fail(f"{_where(source, mark)}: {what}, beyond the API server's 3 MiB limit; write less or split it")
    if aliased > 100 and nodes > 1000 and aliased / nodes > _allowed_alias_ratio(nodes):
        return _fail(
            f"{_where(source, mark)}: alias expansion: {aliased} of the document's {nodes} nodes come from "
            "aliases, which kubectl refuses as excessive aliasing; write the values out"
        )
    return None


# A frame is a list, one per open collection: the dict or list being filled; whether it is a
# mapping; the key waiting for its value; its depth; the deepest level below it (aliases
# expanded); its anchor; the marks of its keys; the node count before it; the mark of the
# waiting key.
_OBJ, _IS_MAP, _KEY, _DEPTH, _DEEPEST, _ANCHOR, _KEYS, _START, _KEY_MARK = range(9)


def _build(get_event: Any, source: str) -> list[Any]:
    """Every non-empty document of an event stream, as JSON-compatible values."""
    documents: list[Any] = []
    stack: list[list[Any]] = []
    anchors: dict[str, Any] = {}
    nodes = aliased = 0
    root: Any = _MISSING
    tainted = False  # a non-finite number was placed: json.Marshal fails unless it was replaced
    words, missing, merge, numeric, unwritable = _WORDS, _MISSING, _MERGE, _NUMERIC_START, _Unwritable
    scalar_event = ScalarEvent
    start_events = (MappingStartEvent, SequenceStartEvent)
    end_events = (MappingEndEvent, SequenceEndEvent)
    while True:
        event = get_event()
        kind = event.__class__
        if kind is scalar_event:
            nodes += 1
            if nodes > MAX_NODES or aliased > 100:
                error = _count_error(nodes, aliased, event.start_mark, source)
                if error:
                    raise error
            tag = event.tag
            value = event.value
            if tag is None:
                if event.implicit[0]:  # plain: resolve.go; quoted and block scalars are strings
                    value = words.get(value, missing)
                    if value is missing:
                        value = event.value
                        if value[0] in numeric:
                            value = _number(value)
            else:
                value = _tagged(tag, event, source)
            if value.__class__ is unwritable:
                value = unwritable(value.number, value.text, event.start_mark)
                tainted = True
            if event.anchor is not None:
                anchors[event.anchor] = ("<<" if value is merge else value, 1, 0)
            if stack:
                top = stack[-1]
                if top[_IS_MAP]:
                    key = top[_KEY]
                    if key is missing:  # a key
                        if value is merge:
                            nodes -= 1  # decode.go mapping() never decodes the merge key itself
                        else:
                            if value.__class__ is not str:
                                value = _key(value, event.start_mark, source)
                            keys = top[_KEYS]
                            if value in keys:
                                raise _duplicate(value, keys[value], event.start_mark, source)
                            keys[value] = event.start_mark
                        top[_KEY] = value
                        top[_KEY_MARK] = event.start_mark
                        continue
                    if key is merge:
                        raise _merge_error(top[_KEY_MARK], source)
                    top[_KEY] = missing
                    top[_OBJ][key] = "<<" if value is merge else value
                    continue
                top[_OBJ].append("<<" if value is merge else value)
                continue
            root = "<<" if value is merge else value
            continue
        if kind in start_events:
            depth = len(stack) + 1
            if depth > MAX_DEPTH:
                raise _fail(
                    f"{_where(source, event.start_mark)}: the data is nested deeper than {MAX_DEPTH} levels; "
                    "a manifest needs far fewer, so flatten it"
                )
            is_map = kind is MappingStartEvent
            tag = event.tag
            if tag is not None and tag != "!" and tag != (_MAP if is_map else _SEQ):
                raise _tag_error(tag, event, source)
            parent = stack[-1] if stack else None
            if parent is not None and parent[_IS_MAP] and parent[_KEY] is missing:
                raise _not_a_key("mapping" if is_map else "sequence", event.start_mark, source)
            if parent is None or parent[_KEY] is not merge or is_map:
                nodes += 1  # decode.go merge() does not decode a merged list itself
                if nodes > MAX_NODES or aliased > 100:
                    error = _count_error(nodes, aliased, event.start_mark, source)
                    if error:
                        raise error
            frame = [{} if is_map else [], is_map, missing, depth, depth, event.anchor, {}, nodes, None]
            if event.anchor is not None:
                anchors[event.anchor] = frame  # open: an alias to it would contain itself
            stack.append(frame)
            continue
        if kind in end_events:
            frame = stack.pop()
            value = frame[_OBJ]
            anchor = frame[_ANCHOR]
            if anchor is not None and anchors.get(anchor) is frame:
                anchors[anchor] = (value, nodes - frame[_START] + 1, frame[_DEEPEST] - frame[_DEPTH] + 1)
            if stack and frame[_DEEPEST] > stack[-1][_DEEPEST]:
                stack[-1][_DEEPEST] = frame[_DEEPEST]
            mark = event.start_mark
        elif kind is AliasEvent:
            value = _alias(anchors.get(event.anchor), event, source)
            mark = event.start_mark
            tainted = tainted or value.__class__ is unwritable
            _, size, height = anchors[event.anchor]
            nodes += 1 + size
            aliased += size
            error = _count_error(nodes, aliased, mark, source)
            if error:
                raise error
            if height:
                deepest = len(stack) + height
                if deepest > MAX_DEPTH:
                    raise _fail(
                        f"{_where(source, mark)}: with its aliases expanded the data is nested deeper than "
                        f"{MAX_DEPTH} levels; a manifest needs far fewer, so flatten it"
                    )
                if stack and deepest > stack[-1][_DEEPEST]:
                    stack[-1][_DEEPEST] = deepest
        elif kind is DocumentStartEvent:
            anchors = {}
            nodes, aliased, root, tainted = 1, 0, missing, False
            continue
        elif kind is DocumentEndEvent:
            if tainted and (found := _first_unwritable(root)) is not None:
                raise _unwritable(found, found.mark, source)
            if root is not missing and root is not None:
                documents.append(root)
            continue
        elif kind is StreamEndEvent:
            return documents
        else:  # StreamStartEvent
            continue
        # A collection or an alias is complete: place it in its parent.
        if not stack:
            root = value
            continue
        top = stack[-1]
        if not top[_IS_MAP]:
            top[_OBJ].append(value)
            continue
        key = top[_KEY]
        if key is missing:  # only an alias can be a key here (a collection was refused at its start)
            value = _key(value, mark, source)
            keys = top[_KEYS]
            if value in keys:
                raise _duplicate(value, keys[value], mark, source)
            keys[value] = mark
            top[_KEY] = value
            top[_KEY_MARK] = mark
            continue
        top[_KEY] = missing
        if key is not merge:
            top[_OBJ][key] = value
        elif isinstance(value, dict):
            top[_OBJ].update(value)
        elif kind is not AliasEvent and all(isinstance(item, dict) for item in value):
            for item in reversed(value):  # earlier mappings take precedence
                top[_OBJ].update(item)
        else:
            raise _merge_error(top[_KEY_MARK], source)


def _alias(entry: Any, event: Any, source: str) -> Any:
    """The value an alias stands for; its anchor must be complete (decode.go ``alias()``)."""
    name = one_line(event.anchor, MAX_QUOTE, prose=False, keep="start")
    if entry is None:
        raise _fail(f"{_where(source, event.start_mark)}: alias *{name} has no anchor before it; define &{name} first")
    if entry.__class__ is list:
        raise _fail(
            f"{_where(source, event.start_mark)}: alias *{name} is inside its own anchor; "
            "YAML data cannot contain itself"
        )
    return entry[0]


def _duplicate(key: str, first: Any, mark: Any, source: str) -> InvalidJobError:
    if first.line == mark.line:
        places = f"line {mark.line + 1}, columns {first.column + 1} and {mark.column + 1}"
    else:
        places = f"lines {first.line + 1} and {mark.line + 1}"
    return _fail(f"{_where(source, mark)}: key {quote(key)} appears twice ({places}); keep one")


def _merge_error(mark: Any, source: str) -> InvalidJobError:
    return _fail(
        f"{_where(source, mark)}: the merge key '<<' needs a mapping, an alias of one or a list of them; "
        "fix the value or quote the key"
    )


def _syntax_error(error: yaml.YAMLError, text: str, source: str) -> InvalidJobError:
    """Today's one-line shape for a YAML syntax error."""
    if isinstance(error, yaml.reader.ReaderError):
        # The C reader counts UTF-8 bytes, the Python one characters.
        position = error.position
        if error.encoding != "unicode":
            position = len(text.encode("utf-8")[:position].decode("utf-8", "ignore"))
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
        char = error.character if isinstance(error.character, int) else ord(str(error.character)[:1] or "\0")
        return _fail(
            f"{source} line {line}, column {column}: malformed YAML: character U+{char:04X} is not allowed "
            "in YAML; remove it or write it as an escape in a double-quoted string"
        )
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or (str(error).splitlines() or ["unknown problem"])[0]
    problem = one_line(problem, 120, prose=False)
    where = f"{source} line {mark.line + 1}, column {mark.column + 1}" if mark is not None else source
    return _fail(f"{where}: malformed YAML: {problem}; fix the indentation or quoting there")


def load_documents(text: str, source: str) -> list[Any]:
    """Every non-empty document of a (multi-document) YAML text, as kubectl's JSON would hold it."""
    src = _source(source)
    try:
        parser = _LOADER(text)
    except UnicodeError:
        raise _fail(f"{src}: the text is not valid Unicode; save the file as UTF-8") from None
    except yaml.YAMLError as error:  # the pure-Python reader checks characters at once
        raise _syntax_error(error, text, src) from None
    try:
        return _build(parser.get_event, src)
    except yaml.YAMLError as error:
        raise _syntax_error(error, text, src) from None
    finally:
        parser.dispose()


def load_bytes(data: bytes, source: str) -> list[Any]:
    """``load_documents(decode(data, source), source)``: the documents of a manifest file."""
    return load_documents(decode(data, source), source)
