"""Reading manifests the way kubectl reads them, so a value has the type the cluster will see.

PyYAML alone is not that reading: it resolves plain scalars by its own YAML 1.1 rules, so an
unquoted `minValue: 1e-6` is a string to PyYAML and a number to kubectl (then the API server
refuses it: `must be of type string`). This module follows kubectl v1.37's path instead, step by
step, and cites the Go code it ports:

1. Documents (k8s.io/apimachinery `util/yaml` `YAMLOrJSONDecoder`): a stream whose first
   non-space character (in its first 4096 bytes) is `{` is a stream of JSON values (falling
   back to YAML if the first or second value does not parse); otherwise it is cut into
   documents at lines that start with `---` (a `---` line followed by anything but a comment
   is an error, "invalid Yaml document separator"). Lines are read with Go's `bufio.ReadLine`,
   so CRLF becomes LF. Each YAML chunk is parsed as one document (go-yaml's `Unmarshal` reads
   only the first).
2. Parsing and scalar types (sigs.k8s.io/yaml v1.6 calls go.yaml.in/yaml/v2 v2.4, a port of
   libyaml). The events come from PyYAML's parser (libyaml's C parser when PyYAML has it); the
   rest ports go-yaml v2's `decode.go` and `resolve.go`:
   - a quoted or block scalar without a tag is a string; a plain one is resolved:
     - `y Y yes Yes YES on On ON true True TRUE` are true, their `n no off false` forms false;
     - `~ null Null NULL` and the empty scalar are null;
     - `.inf .Inf .INF +.inf -.inf` and `.nan .NaN .NAN` are floats;
     - a scalar that starts with a digit or a sign, with every `_` removed, is an int if Go's
       `strconv.ParseInt(s, 0, 64)` reads it (`0x1F`, `0o17`, `0b101` and `017` octal, `+1`),
       else an unsigned int if `ParseUint` does (up to 2^64-1), else a float if it matches
       `^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$` and fits a float64 (`1e-6`,
       `5.`, `08`), else a `0b`/`-0b` binary int (where go-yaml takes a sign after the
       prefix: `0b-1` is -1), else a string;
     - a scalar that starts with `.` is a float if `strconv.ParseFloat` reads it (`.5`);
     - anything else is a string: sexagesimal `1:20`, timestamps (go-yaml recognises them but
       hands them to an `interface{}` as the original text), `1e400` (out of float range);
   - explicit tags: `!!str` is a string, `!!binary` its base64-decoded text, `!!int`/`!!float`/
     `!!bool`/`!!null`/`!!timestamp` must resolve to that type (an int may be `!!float`), any
     other tag is ignored (the value is read as the text, or as a map or a list);
   - a map with a key seen twice keeps the last value (go-yaml v2 is not strict here);
   - merge keys `<<` (a map, an alias of one, or a list of them, the earlier ones winning) are
     applied where they appear, in order: a merge after an explicit key overrides it;
   - an anchor may be redefined (the latest counts); an alias to a node that contains it is an
     error, and so is excessive aliasing (go-yaml's ratio rule, counted the same way).
3. YAML to JSON (sigs.k8s.io/yaml `convertToJSONableObject`, then `encoding/json.Marshal`):
   map keys become strings (ints in decimal, bools `true`/`false`, floats by
   `strconv.FormatFloat(k, 'g', -1, 32)`); a null, unsigned-int, list or map key is an error;
   NaN and ±Inf values are an error (`json: unsupported value`).
4. JSON to the object (sigs.k8s.io/json `UnmarshalCaseSensitivePreserveInts`, as the API server
   and kubectl's unstructured objects read it): a number written without `.` that fits int64 is
   an int, any other a float. Go writes a whole float64 below 1e21 without `.` or exponent, so
   after kubectl's round trip `1e3`, `1.0` and `-2e+3` are ints (1000, 1, -2000), while
   12345678901234567890 (beyond int64) is a float.

`tests/cluster/test_kubeyaml_kubectl.py` compares every rule above with the real kubectl.
What is not ported, all on input that is broken or made up to tell the two apart: the error
messages (an error is an error for both, the words differ); which key survives when two keys of
different YAML types become the same string (`1` and `"1"`: Go keeps one at random, this the
last); Python's `str.isspace` stands for Go's `unicode.IsSpace` around JSON values; and invalid
UTF-8 in a `!!binary` text may get a different number of U+FFFD than Go's encoder writes.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

import yaml

Path = tuple[str | int, ...]

_LOADER: Final[type[Any]] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

STR: Final = "tag:yaml.org,2002:str"
BOOL: Final = "tag:yaml.org,2002:bool"
INT: Final = "tag:yaml.org,2002:int"
FLOAT: Final = "tag:yaml.org,2002:float"
NULL: Final = "tag:yaml.org,2002:null"
TIMESTAMP: Final = "tag:yaml.org,2002:timestamp"
BINARY: Final = "tag:yaml.org,2002:binary"
MERGE: Final = "tag:yaml.org,2002:merge"
_RESOLVABLE: Final = frozenset({"", STR, BOOL, INT, FLOAT, NULL, TIMESTAMP})

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
UINT64_MAX: Final = 2**64 - 1


class ManifestError(yaml.YAMLError):
    """kubectl would refuse this input too. `path` names the value, when there is one."""

    def __init__(self, message: str, path: Path = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


# --- go-yaml v2 resolve.go -----------------------------------------------------------------------


class Uint64(int):
    """go-yaml's `uint64`: an int in (2^63-1, 2^64-1]. A value becomes a float in JSON; a key is
    an error."""


_BOOLS: Final = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE"), True),
    **dict.fromkeys(("on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE"), False),
    **dict.fromkeys(("off", "Off", "OFF"), False),
}
_RESOLVE_MAP: Final[dict[str, tuple[str, Any]]] = {
    **{text: (BOOL, value) for text, value in _BOOLS.items()},
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), (NULL, None)),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), (FLOAT, math.nan)),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), (FLOAT, math.inf)),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), (FLOAT, -math.inf)),
    "<<": (MERGE, "<<"),
}
_YAML_STYLE_FLOAT: Final = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_DOT_FLOAT: Final = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")  # what ParseFloat reads after `.`
# parseTimestamp's layouts: "2006-1-2T15:4:5.999999999Z07:00" (also with `t`),
# "2006-1-2 15:4:5.999999999" and "2006-1-2".
_TIMESTAMP: Final = re.compile(
    r"(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})-(?P<d>[0-9]{1,2})"
    r"(?:(?P<sep>[Tt ])(?P<H>[0-9]{1,2}):(?P<M>[0-9]{1,2}):(?P<S>[0-9]{1,2})(?:\.[0-9]+)?"
    r"(?P<zone>Z|[-+][0-9]{2}:[0-9]{2})?)?"
)


def _hint(text: str) -> str:
    if not text:
        return "N"
    first = text[0]
    if first in "+-":
        return "S"
    if "0" <= first <= "9":
        return "D"
    if first in "yYnNtTfFoO~":
        return "M"
    return "." if first == "." else ""


def go_parse_uint(text: str, base: int = 0) -> int | None:
    """Go's `strconv.ParseUint(text, base, 64)` for base 0 (a `0x`, `0o`, `0b` or `0` prefix
    picks it) or 2 to 36, or None where Go returns an error. (No `_`: go-yaml removes them.)"""
    if not text:
        return None
    digits = text
    if base == 0:
        base = 10
        if text[0] == "0":
            prefix = text[1:2].lower()
            if len(text) >= 3 and prefix in ("b", "o", "x"):
                base, digits = {"b": 2, "o": 8, "x": 16}[prefix], text[2:]
            else:
                base, digits = 8, text[1:]
    value = 0
    for char in digits:
        if "0" <= char <= "9":
            digit = ord(char) - ord("0")
        elif "a" <= char <= "z" or "A" <= char <= "Z":
            digit = ord(char.lower()) - ord("a") + 10
        else:
            return None
        if digit >= base:
            return None
        value = value * base + digit
        if value > UINT64_MAX:
            return None
    return value


def go_parse_int(text: str, base: int = 0) -> int | None:
    """Go's `strconv.ParseInt(text, base, 64)`: an optional sign, then `go_parse_uint`."""
    negative = text[:1] == "-"
    magnitude = go_parse_uint(text[1:] if text[:1] in ("+", "-") else text, base)
    if magnitude is None:
        return None
    value = -magnitude if negative else magnitude
    return value if INT64_MIN <= value <= INT64_MAX else None


def _parse_float(text: str) -> float | None:
    value = float(text)
    return value if not math.isinf(value) else None  # Go: ErrRange, so not a float


def _parse_timestamp(text: str) -> bool:
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return False
    month, day = int(match["m"]), int(match["d"])
    if not (1 <= month <= 12 and 1 <= day <= _days_in(int(match["y"]), month)):
        return False
    if match["sep"] is None:
        return True
    if match["sep"] == " " and match["zone"] is not None:
        return False  # the space layout has no zone; the `T` ones may have one
    return int(match["H"]) < 24 and int(match["M"]) < 60 and int(match["S"]) < 60


def _days_in(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _short(tag: str) -> str:
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix) :] if tag.startswith(prefix) else tag


def go_resolve(tag: str, text: str) -> tuple[str, Any]:
    """go-yaml v2's `resolve(tag, in)`: the tag and the Go value of a scalar.

    `tag` is "" for a plain scalar without a tag. Ints come back as int (or `Uint64`), floats as
    float, timestamps as the text. Raises ManifestError where go-yaml fails ("cannot decode").
    """
    if tag not in _RESOLVABLE:
        return tag, text
    rtag, value = _resolve(tag, text)
    if tag in ("", rtag, STR):
        return rtag, value
    if tag == FLOAT and rtag == INT and not isinstance(value, Uint64):
        return FLOAT, float(value)
    raise ManifestError(f"cannot decode {_short(rtag)} `{text}` as a {_short(tag)}")


def _resolve(tag: str, text: str) -> tuple[str, Any]:
    hint = _hint(text)
    if not hint or tag == STR:
        return STR, text
    if text in _RESOLVE_MAP:
        return _RESOLVE_MAP[text]
    if hint == ".":
        if _DOT_FLOAT.fullmatch(text) and (number := _parse_float(text)) is not None:
            return FLOAT, number
    elif hint in ("D", "S"):
        if tag in ("", TIMESTAMP) and _parse_timestamp(text):
            return TIMESTAMP, text
        plain = text.replace("_", "")
        if (integer := go_parse_int(plain)) is not None:
            return INT, integer
        if (unsigned := go_parse_uint(plain)) is not None:
            return INT, Uint64(unsigned)
        if _YAML_STYLE_FLOAT.fullmatch(plain) and (number := _parse_float(plain)) is not None:
            return FLOAT, number
        binary = _binary(plain)
        if binary is not None:
            return INT, binary
    return STR, text


def _binary(plain: str) -> int | None:
    """go-yaml's own `0b`/`-0b` branch, reached when ParseInt and ParseUint failed. It parses
    what follows `0b` with `ParseInt(s, 2, 64)`, which takes a sign, so `0b-1` is -1."""
    if plain.startswith("0b"):
        value = go_parse_int(plain[2:], 2)
        if value is not None:
            return value
        unsigned = go_parse_uint(plain[2:], 2)
        return None if unsigned is None else Uint64(unsigned)
    if plain.startswith("-0b"):
        return go_parse_int("-" + plain[3:], 2)
    return None


# --- composing one document from PyYAML's events (go-yaml v2 decode.go's parser) ----------------


@dataclass(eq=False)
class _Scalar:
    value: str
    tag: str  # "" when the scalar has no tag
    implicit: bool  # libyaml's plain_implicit


@dataclass(eq=False)
class _Sequence:
    items: list[_Node] = field(default_factory=list)


@dataclass(eq=False)
class _Mapping:
    pairs: list[tuple[_Node, _Node]] = field(default_factory=list)


@dataclass(eq=False)
class _Alias:
    name: str
    target: _Node


_Node = _Scalar | _Sequence | _Mapping | _Alias


class _Composer:
    def __init__(self, text: str) -> None:
        self.loader = _LOADER(text)
        self.anchors: dict[str, _Node] = {}

    def first_document(self) -> _Node | None:
        try:
            self.loader.get_event()  # StreamStart
            if self.loader.check_event(yaml.StreamEndEvent):
                return None
            self.loader.get_event()  # DocumentStart
            node = self.node()
            self.loader.get_event()  # DocumentEnd
            return node
        finally:
            self.loader.dispose()

    def node(self) -> _Node:
        event = self.loader.get_event()
        if isinstance(event, yaml.AliasEvent):
            name = event.anchor or ""
            target = self.anchors.get(name)
            if target is None:
                raise ManifestError(f"unknown anchor '{name}' referenced")
            return _Alias(name, target)
        node: _Node
        if isinstance(event, yaml.ScalarEvent):
            node = _Scalar(event.value, event.tag or "", bool(event.implicit[0]))
            self._anchor(event.anchor, node)
        elif isinstance(event, yaml.SequenceStartEvent):
            node = _Sequence()
            self._anchor(event.anchor, node)
            while not self.loader.check_event(yaml.SequenceEndEvent):
                node.items.append(self.node())
            self.loader.get_event()
        elif isinstance(event, yaml.MappingStartEvent):
            node = _Mapping()
            self._anchor(event.anchor, node)
            while not self.loader.check_event(yaml.MappingEndEvent):
                key = self.node()
                node.pairs.append((key, self.node()))
            self.loader.get_event()
        else:  # pragma: no cover - the parser only emits the events above here
            raise ManifestError(f"unexpected YAML event {type(event).__name__}")
        return node

    def _anchor(self, anchor: str | None, node: _Node) -> None:
        if anchor is not None:
            self.anchors[anchor] = node  # go-yaml lets a later anchor of the same name win


# --- go-yaml v2 decode.go into interface{}, then sigs.k8s.io/yaml and JSON ----------------------

_ALIAS_RATIO_LOW: Final = 400_000
_ALIAS_RATIO_HIGH: Final = 4_000_000


def _allowed_alias_ratio(decodes: int) -> float:
    if decodes <= _ALIAS_RATIO_LOW:
        return 0.99
    if decodes >= _ALIAS_RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decodes - _ALIAS_RATIO_LOW) / (_ALIAS_RATIO_HIGH - _ALIAS_RATIO_LOW)


@dataclass
class _Decoder:
    decodes: int = 0
    aliases: int = 0
    alias_depth: int = 0
    expanding: set[int] = field(default_factory=set)

    def value(self, node: _Node, path: Path) -> Any:
        """The JSON value kubectl makes of `node` (sigs.k8s.io/yaml and JSON rules applied)."""
        self._count()
        if isinstance(node, _Alias):
            return self._alias(node, path, self.value)
        if isinstance(node, _Scalar):
            return json_value(self.scalar(node), path)
        if isinstance(node, _Sequence):
            return [self.value(item, (*path, index)) for index, item in enumerate(node.items)]
        target: dict[str, Any] = {}
        self.mapping(node, target, path)
        return target

    def _count(self) -> None:
        self.decodes += 1
        if self.alias_depth > 0:
            self.aliases += 1
        if (
            self.aliases > 100
            and self.decodes > 1000
            and self.aliases / self.decodes > _allowed_alias_ratio(self.decodes)
        ):
            raise ManifestError("document contains excessive aliasing")

    def _alias(self, node: _Alias, path: Path, then: Any) -> Any:
        if id(node) in self.expanding:
            raise ManifestError(f"anchor '{node.name}' value contains itself", path)
        self.expanding.add(id(node))
        self.alias_depth += 1
        try:
            return then(node.target, path)
        finally:
            self.alias_depth -= 1
            self.expanding.discard(id(node))

    def scalar(self, node: _Scalar) -> Any:
        if not node.tag and not node.implicit:
            return node.value
        tag, value = go_resolve(node.tag, node.value)
        if tag == BINARY:
            try:
                data = base64.b64decode(re.sub(r"[\r\n]", "", value), validate=True)
            except (binascii.Error, ValueError) as error:
                raise ManifestError("!!binary value contains invalid base64 data") from error
            return data.decode("utf-8", errors="replace")  # encoding/json's invalid-UTF-8 rule
        return value

    def mapping(self, node: _Mapping, target: dict[str, Any], path: Path) -> None:
        for key_node, value_node in node.pairs:
            if _is_merge(key_node):
                self._merge(value_node, target, path)
                continue
            key = self._key(key_node, path)
            target[key] = self.value(value_node, (*path, key))

    def _key(self, node: _Node, path: Path) -> str:
        self._count()
        if isinstance(node, _Alias):
            key: str = self._alias(node, path, self._key)
            return key
        if not isinstance(node, _Scalar):
            raise ManifestError(
                "invalid map key: a key must be a scalar, not a map or a list", path
            )
        return json_key(self.scalar(node), path)

    def _merge(self, node: _Node, target: dict[str, Any], path: Path) -> None:
        def into(mapping: _Node, at: Path) -> None:
            self._count()
            if isinstance(mapping, _Alias):
                self._alias(mapping, at, into)
            elif isinstance(mapping, _Mapping):
                self.mapping(mapping, target, at)
            else:
                raise ManifestError("map merge requires map or sequence of maps as the value", at)

        if isinstance(node, _Sequence):
            for item in reversed(node.items):  # earlier maps take precedence
                into(item, path)
        else:
            into(node, path)


def _is_merge(node: _Node) -> bool:
    return isinstance(node, _Scalar) and node.value == "<<" and (node.implicit or node.tag == MERGE)


def json_key(key: Any, path: Path = ()) -> str:
    """sigs.k8s.io/yaml's conversion of a go-yaml map key to a JSON object key."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, Uint64):
        raise ManifestError(f"unsupported map key of type: uint64, key: {int(key)}", path)
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        return go_format_float32_g(key)
    raise ManifestError("unsupported map key of type: <nil> (a null key)", path)


def json_value(value: Any, path: Path = ()) -> Any:
    """A go-yaml value after `json.Marshal` and kubectl's JSON reading: see the module doc."""
    if isinstance(value, Uint64):
        return float(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            go = "NaN" if math.isnan(value) else "+Inf" if value > 0 else "-Inf"
            raise ManifestError(f"json: unsupported value: {go} (not a JSON number)", path)
        return json_number(value)
    return value


def json_number(value: float) -> int | float:
    """How the API server reads a float64 that Go's encoding/json wrote: a whole number below
    1e21 is written without `.` or exponent (the shortest digits, then zeros), so it comes back
    as an int64 when it fits one."""
    if value.is_integer() and abs(value) < 1e21:
        written = int(Decimal(repr(value)))
        if INT64_MIN <= written <= INT64_MAX:
            return written
    return value


def go_format_float32_g(value: float) -> str:
    """Go's `strconv.FormatFloat(value, 'g', -1, 32)`, then sigs.k8s.io/yaml's `.inf`/`.nan`."""
    if math.isnan(value):
        return ".nan"
    try:
        single: float = struct.unpack("<f", struct.pack("<f", value))[0]
    except OverflowError:
        single = math.copysign(math.inf, value)
    if math.isinf(single):
        return ".inf" if single > 0 else "-.inf"
    if single == 0:
        return "-0" if math.copysign(1.0, single) < 0 else "0"
    for precision in range(1, 10):  # the shortest digits that read back as the same float32
        text = f"{single:.{precision - 1}e}"
        if struct.unpack("<f", struct.pack("<f", float(text)))[0] == single:
            break
    mantissa, exponent_text = text.split("e")
    exponent = int(exponent_text)
    sign = "-" if mantissa.startswith("-") else ""
    digits = mantissa.lstrip("-").replace(".", "")
    if exponent < -4 or exponent >= 6:  # %e, with at least two exponent digits
        head = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{head}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    point = exponent + 1
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


# --- writing YAML that kubectl reads back unchanged ------------------------------------------


class Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper with go-yaml's resolution: a string that kubectl would read as
    something else (`y`, `1e-6`, `0o17`, `<<`, `1_000`) is quoted, which PyYAML alone does not
    do. What it writes, load_all reads back unchanged (short of NaN and infinities)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            if value == "<<":
                return MERGE  # a plain `<<` key merges
            tag = _resolve("", value)[0]
            return STR if tag == TIMESTAMP else tag  # a timestamp reaches kubectl as its text
        return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]


def dump(document: Any, **options: Any) -> str:
    """`yaml.dump` with `Dumper`: block style and key order kept unless `options` say else."""
    options.setdefault("sort_keys", False)
    return str(yaml.dump(document, Dumper=Dumper, **options))


def dump_all(documents: Iterable[Any], **options: Any) -> str:
    """`dump` for a stream of documents, separated by `---`."""
    options.setdefault("sort_keys", False)
    return str(yaml.dump_all(documents, Dumper=Dumper, **options))


# --- streams ---------------------------------------------------------------------------------


def _lines(text: str) -> Iterator[str]:
    """Go's `bufio.Reader.ReadLine`: lines without their `\\n` or `\\r\\n`."""
    parts = text.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    for part in parts:
        yield part[:-1] if part.endswith("\r") else part


def yaml_documents(text: str) -> Iterator[str]:
    """apimachinery's `YAMLReader`: the stream cut at `---` lines (the first one kept)."""
    buffer: list[str] = []
    for line in _lines(text):
        if line.startswith("---"):
            rest = line[3:].strip()
            if rest and not rest.startswith("#"):
                raise ManifestError(f"invalid Yaml document separator: {rest}")
            if buffer:
                yield "".join(buffer)
                buffer = []
                continue
        buffer.append(line + "\n")
    if buffer:
        yield "".join(buffer)


def _yaml_document(chunk: str) -> Any:
    try:
        node = _Composer(chunk).first_document()
        return None if node is None else _Decoder(decodes=1).value(node, ())  # 1: the document
    except RecursionError as error:
        raise ManifestError("the document is nested too deeply") from error


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON to Go: a syntax error, after which kubectl tries YAML
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


def _json_int(text: str) -> int | float:
    if len(text.lstrip("-")) > 19:  # beyond int64 (and Python's limit on digits for int())
        return _json_float(text)
    value = int(text)
    if INT64_MIN <= value <= INT64_MAX:
        return value
    return _json_float(text)


def _json_float(text: str) -> int | float:
    value = float(text)
    if math.isinf(value):
        raise ManifestError(f"cannot unmarshal number {text} into Go value of type float64")
    return json_number(value)


_JSON = json.JSONDecoder(
    parse_int=_json_int, parse_float=_json_float, parse_constant=_reject_constant
)


def load_all(text: str) -> list[Any]:
    """Every object in a manifest stream as kubectl decodes it, in order; empty and `null`
    documents are skipped as kubectl skips them. Raises ManifestError (a `yaml.YAMLError`) for
    what kubectl refuses to read and `yaml.YAMLError` for what is not YAML at all."""
    try:
        documents = _load_all(text)
    except ManifestError:
        raise
    except yaml.YAMLError:
        raise
    except (ValueError, OverflowError, RecursionError) as error:
        raise ManifestError(str(error)) from error
    return [document for document in documents if document is not None]


def _load_all(text: str) -> list[Any]:
    documents: list[Any] = []
    if _looks_like_json(text):
        documents, text = _json_stream(text)
    for chunk in yaml_documents(text):
        documents.append(_yaml_document(chunk))
    return documents


def _looks_like_json(text: str) -> bool:
    """apimachinery's `GuessJSONStream`: `{` first, after spaces, in the first 4096 bytes."""
    head = text.encode("utf-8", errors="surrogatepass")[:4096].decode("utf-8", errors="ignore")
    return head.lstrip().startswith("{")


def _json_stream(text: str) -> tuple[list[Any], str]:
    """The JSON values at the head of `text`, and what kubectl then reads as YAML: if the first
    or second value does not parse, the rest from there, after its spaces up to one newline."""
    documents: list[Any] = []
    consumed = 0
    while True:
        start = consumed
        while start < len(text) and text[start].isspace():
            start += 1
        if start >= len(text):
            return documents, ""
        try:
            document, consumed = _JSON.raw_decode(text, start)
        except ValueError:
            if len(documents) > 1:  # two objects read: a JSON stream for sure
                raise
            break
        documents.append(document)
    rest = text[consumed:]
    skip = 0
    while skip < len(rest) and rest[skip].isspace():
        skip += 1
        if rest[skip - 1] == "\n":
            break
    return documents, rest[skip:]
