"""Tricky YAML, and what kubectl v1.37 made of it (`kubectl create --dry-run=client -o json`).

One table for two tests: tests/unit/test_kubeyaml.py checks that hpo_operator.cli.kubeyaml reads
each case as written here (fast, no cluster); tests/cluster/test_kubeyaml_kubectl.py runs the real
kubectl on every case and checks kubectl still says what is written here, and that kubeyaml agrees
with it. A number is compared with its type: `1000` (int) is not `1000.0` (float), and `True` is not
`1`. The expected values are what the API server then reads: kubectl prints a whole float64 below
1e21 without a point, so the server reads an int64 where it fits and a float otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

INT64 = range(-(2**63), 2**63)


@dataclass(frozen=True)
class Refused:
    """kubectl refuses the stream; `fragment` is in kubectl's error and in kubeyaml's."""

    fragment: str


@dataclass(frozen=True)
class Case:
    """`body` follows a ConfigMap's apiVersion, kind and metadata; `expected` is its `value`."""

    name: str
    body: str
    expected: Any


HEAD = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: scalars\n"


def document(case: Case) -> str:
    return HEAD + case.body


def _c(name: str, body: str, expected: Any) -> Case:
    return Case(name, body if "\n" in body else f"value: {body}\n", expected)


CASES: list[Case] = [
    # exponents without a dot: floats in YAML 1.1 as go-yaml reads it, not strings
    _c("exp-small", "1e-6", 1e-06),
    _c("exp-upper", "1E6", 1000000),
    _c("exp-signed", "-2e+3", -2000),
    _c("exp-dot", "1.5e3", 1500),
    _c("exp-huge", "1e21", 1e21),
    _c("exp-out-of-range", "1e400", "1e400"),
    _c("float-whole", "1.0", 1),
    _c("float", "0.5", 0.5),
    _c("dot-lead", ".5", 0.5),
    _c("dot-trail", "5.", 5),
    _c("dot-lead-signed", "+.5", 0.5),
    _c("dot-alone", ".", "."),
    _c("minus-alone", "-", Refused("block sequence entries are not allowed in this context")),
    # booleans: YAML 1.1's long list, with go-yaml's `y` and `n`
    _c("yes", "yes", True),
    _c("no", "no", False),
    _c("on", "on", True),
    _c("off", "off", False),
    _c("y", "y", True),
    _c("n", "n", False),
    _c("Y", "Y", True),
    _c("True", "True", True),
    _c("TRUE", "TRUE", True),
    _c("tRUE", "tRUE", "tRUE"),
    _c("Off", "Off", False),
    # octal-looking, hex, binary, underscores, signs
    _c("octal-leading-zero", "0755", 493),
    _c("octal-0o", "0o755", 493),
    _c("not-octal", "08", 8),
    _c("not-octal-float", "09.5", 9.5),
    _c("zero", "0", 0),
    _c("minus-zero", "-0", 0),
    _c("hex", "0x1F", 31),
    _c("hex-upper", "0X1f", 31),
    _c("hex-negative", "-0x1F", -31),
    _c("hex-empty", "0x", "0x"),
    _c("hex-underscore", "0x_1F", 31),
    _c("binary", "0b101", 5),
    _c("binary-upper", "0B101", 5),
    _c("binary-negative", "-0b101", -5),
    _c("binary-signed-after-prefix", "0b-1", -1),
    _c("binary-plus-after-prefix", "0b+11", 3),
    _c("binary-sign-after-underscore", "0b_-1", -1),
    _c("binary-minus-twice", "-0b-1", "-0b-1"),
    _c("binary-int64-min", "0b-1" + "0" * 63, -(2**63)),
    _c("binary-uint64-max", "0b" + "1" * 64, 1.8446744073709552e19),
    _c("underscores", "1_000", 1000),
    _c("underscores-float", "1__0.5", 10.5),
    _c("underscore-lead", "_1", "_1"),
    _c("plus", "+1", 1),
    _c("digit-then-non-ascii", "1İ", "1İ"),
    _c("hex-then-non-ascii", "0xİ", "0xİ"),
    # sexagesimal: YAML 1.1 has it, go-yaml does not
    _c("sexagesimal", "1:20", "1:20"),
    _c("sexagesimal-long", "190:20:30", "190:20:30"),
    _c("sexagesimal-negative", "-1:30", "-1:30"),
    # nulls
    _c("tilde", "~", None),
    _c("null", "null", None),
    _c("Null", "Null", None),
    _c("NULL", "NULL", None),
    _c("empty", "value:\n", None),
    _c("nUll", "nUll", "nUll"),
    # timestamps stay the text
    _c("timestamp", "2001-12-14t21:59:43.10-05:00", "2001-12-14t21:59:43.10-05:00"),
    _c("date", "2002-12-14", "2002-12-14"),
    _c("timestamp-space", "2001-12-14 21:59:43.10 -5", "2001-12-14 21:59:43.10 -5"),
    # integers past int64 and past float precision
    _c("int64-max", "9223372036854775807", 9223372036854775807),
    _c("int64-max-plus-1", "9223372036854775808", 9.223372036854776e18),
    _c("int64-min", "-9223372036854775808", -9223372036854775808),
    _c("int64-min-minus-1", "-9223372036854775809", -9.223372036854776e18),
    _c("uint64", "12345678901234567890", 1.2345678901234567e19),
    _c("uint64-max-plus-1", "18446744073709551616", 1.8446744073709552e19),
    _c("beyond-uint64", "123456789012345678901234567890", 1.2345678901234568e29),
    _c("int-past-float-precision", "9007199254740993", 9007199254740993),
    _c("whole-float-past-2-53", "7.142041819614106e16", 71420418196141060),  # not ...056
    _c("whole-float-near-int64-max", "9.223372036854775e18", 9223372036854775000),
    # infinities and NaN are not JSON: kubectl refuses the file
    _c("inf", ".inf", Refused("json: unsupported value: +Inf")),
    _c("minus-Inf", "-.Inf", Refused("json: unsupported value: -Inf")),
    _c("plus-inf", "+.inf", Refused("json: unsupported value: +Inf")),
    _c("nan", ".nan", Refused("json: unsupported value: NaN")),
    _c("NaN", ".NaN", Refused("json: unsupported value: NaN")),
    _c("inf-word", "inf", "inf"),
    # quoting, block scalars and tags
    _c("quoted-exp", '"1e-6"', "1e-6"),
    _c("quoted-octal", "'0755'", "0755"),
    _c("quoted-yes", '"yes"', "yes"),
    _c("block", "value: |\n  1e-6\n", "1e-6\n"),
    _c("tag-str", "!!str 1e-6", "1e-6"),
    _c("tag-int-quoted", '!!int "12"', 12),
    _c("tag-int-wrong", "!!int 1.5", Refused("cannot decode !!float `1.5` as a !!int")),
    _c("tag-float-from-int", "!!float 1", 1),
    _c("tag-binary", "!!binary aGVsbG8=", "hello"),
    _c("tag-custom", "!custom 12", "12"),
    _c("tag-non-specific", "! 12", "12"),
    # map keys become strings the sigs.k8s.io/yaml way
    _c(
        "keys",
        "{1: a, true: b, y: c, 1.5: d, 1e6: e, 0x10: f, 3.14159265358979: g, 2002-12-14: h}",
        {
            "1": "a",
            "true": "c",
            "1.5": "d",
            "1e+06": "e",
            "16": "f",
            "3.1415927": "g",
            "2002-12-14": "h",
        },
    ),
    _c("key-null", "{~: a}", Refused("unsupported map key of type")),
    _c("key-uint64", "{12345678901234567890: a}", Refused("unsupported map key of type: uint64")),
    _c("key-list", "value:\n  ? [1]\n  : a\n", Refused("invalid map key")),
    # duplicate keys: the last one wins, at any depth (go-yaml v2 is not strict)
    _c("duplicate-nested", "{a: 1, a: 2}", {"a": 2}),
    _c("duplicate-top", "value: 1\nvalue: 2\n", 2),
    # merge keys apply in order, and an alias is a copy
    _c("merge-after-key", "base: &b {x: 1, z: 1}\nvalue: {x: 2, <<: *b}\n", {"x": 1, "z": 1}),
    _c("merge-before-key", "base: &b {x: 1, z: 1}\nvalue: {<<: *b, x: 2}\n", {"x": 2, "z": 1}),
    _c(
        "merge-list",
        "a: &a {x: 1}\nb: &b {x: 2, z: 2}\nvalue: {<<: [*a, *b]}\n",
        {"x": 1, "z": 2},
    ),
    _c("merge-scalar", "a: &a 1\nvalue: {<<: *a}\n", Refused("map merge requires map")),
    _c("merge-quoted-key", 'value: {"<<": {a: 1}}\n', {"<<": {"a": 1}}),
    _c("anchor", "a: &a [1, y]\nvalue: *a\n", [1, True]),
    _c("anchor-redefined", "a: &a 1\nb: &a 2\nvalue: *a\n", 2),
    _c("anchor-recursive", "value: &a [*a]\n", Refused("anchor 'a' value contains itself")),
    _c("anchor-unknown", "value: *nope\n", Refused("unknown anchor 'nope' referenced")),
]


@dataclass(frozen=True)
class Stream:
    """A whole input; `expected` is the `value` of each object kubectl read, in order."""

    name: str
    text: str
    expected: list[Any] | Refused


def _cm(name: str, value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\nvalue: {value}\n"


def _json(name: str, value: str) -> str:
    head = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    return json.dumps(head)[:-1] + f', "value": {value}}}'


STREAMS: list[Stream] = [
    Stream("separator", _cm("a", "1") + "---\n" + _cm("b", "y"), [1, True]),
    Stream("separator-comment", _cm("a", "1") + "--- # b\n" + _cm("b", "2"), [1, 2]),
    Stream(
        "separator-text",
        _cm("a", "1") + "--- x\n" + _cm("b", "2"),
        Refused("invalid Yaml document separator: x"),
    ),
    Stream(
        "separator-dashes",
        _cm("a", "1") + "----\n" + _cm("b", "2"),
        Refused("invalid Yaml document separator: -"),
    ),
    Stream("leading-and-empty", "---\n" + _cm("a", "1") + "---\n---\n~\n---\n# c\n", [1]),
    Stream("document-end", _cm("a", "1") + "...\nignored: [\n", [1]),
    Stream("crlf", _cm("a", "|\n  x\n  1e-6").replace("\n", "\r\n"), ["x\n1e-6\n"]),
    Stream("tab-after-colon", _cm("a", "1e-6").replace("value: ", "value:\t"), [1e-06]),
    Stream(
        "flow-yaml",
        "{apiVersion: v1, kind: ConfigMap, metadata: {name: a}, value: 1e-6}\n",
        [1e-06],
    ),
    Stream(
        "json",
        _json("a", "1e3")
        + "\n"
        + _json("b", "1.0")
        + _json("c", "12345678901234567890")
        + _json("d", "0.5"),
        [1000, 1, 1.2345678901234567e19, 0.5],
    ),
    Stream("json-duplicate", _json("a", '1, "value": 2'), [2]),
    Stream("json-nan-is-yaml", _json("a", "NaN"), ["NaN"]),
    Stream("json-then-yaml", _json("a", "1e3") + "\n" + _cm("b", "1e-6"), [1000, 1e-06]),
    Stream(
        "json-out-of-range",
        _json("a", "1e400"),
        Refused("cannot unmarshal number 1e400 into Go value of type float64"),
    ),
]


def typed(value: Any) -> Any:
    """`value` with each scalar paired with its type, so that `1 == 1.0 == True` does not pass."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, value)


def read_kubectl_json(text: str) -> list[Any]:
    """kubectl's `-o json` output (one or more objects) as the API server reads JSON
    (sigs.k8s.io/json: a number without `.` that fits int64 is an int, any other a float)."""

    def number(literal: str) -> int | float:
        value = int(literal)
        return value if value in INT64 else float(literal)

    decoder = json.JSONDecoder(parse_int=number)
    objects, index = [], 0
    while index < len(text.rstrip()):
        while text[index].isspace():
            index += 1
        obj, index = decoder.raw_decode(text, index)
        objects.append(obj)
    return objects
