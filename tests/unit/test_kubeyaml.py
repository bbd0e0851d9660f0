"""hpo_operator.cli.kubeyaml reads YAML as kubectl does: the table of tricky scalars in
kubectl_yaml_cases.py (what kubectl said; tests/cluster/test_kubeyaml_kubectl.py asks it again),
plus the helpers' own rules and the project's own YAML files."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from hpo_operator.cli import kubeyaml
from support.kubectl_yaml_cases import CASES, STREAMS, Case, Refused, Stream, document, typed

REPO = Path(__file__).resolve().parents[2]


def _values(text: str) -> list[Any]:
    return [obj.get("value") for obj in kubeyaml.load_all(text)]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_each_scalar_reads_as_kubectl_read_it(case: Case) -> None:
    if isinstance(case.expected, Refused):
        with pytest.raises(yaml.YAMLError, match=_fragment(case.expected)):
            kubeyaml.load_all(document(case))
        return
    assert typed(_values(document(case))) == typed([case.expected])


@pytest.mark.parametrize("stream", STREAMS, ids=[stream.name for stream in STREAMS])
def test_each_stream_splits_as_kubectl_split_it(stream: Stream) -> None:
    if isinstance(stream.expected, Refused):
        with pytest.raises(yaml.YAMLError, match=_fragment(stream.expected)):
            kubeyaml.load_all(stream.text)
        return
    assert typed(_values(stream.text)) == typed(stream.expected)


def _fragment(refused: Refused) -> str:
    return re.escape(refused.fragment)


def test_errors_name_the_path() -> None:
    with pytest.raises(kubeyaml.ManifestError) as caught:
        kubeyaml.load_all("spec:\n  ranges:\n  - minValue: .nan\n")
    assert caught.value.path == ("spec", "ranges", 0, "minValue")
    with pytest.raises(kubeyaml.ManifestError) as caught:
        kubeyaml.load_all("spec:\n  environment: {~: x}\n")
    assert caught.value.path == ("spec", "environment")


def test_not_yaml_at_all_is_a_yaml_error() -> None:
    with pytest.raises(yaml.YAMLError):
        kubeyaml.load_all("spec: [unclosed\n")


def test_excessive_aliasing_is_refused_as_go_yaml_refuses_it() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    with pytest.raises(kubeyaml.ManifestError, match="excessive aliasing"):
        kubeyaml.load_all("\n".join(lines) + "\n")


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(yaml.YAMLError):
        kubeyaml.load_all("[" * 5000 + "]" * 5000)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, "1"),
        (1.5, "1.5"),
        (1e6, "1e+06"),
        (123456.0, "123456"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (3.14159265358979, "3.1415927"),
        (-2.5e-7, "-2.5e-07"),
        (0.0, "0"),
        (-0.0, "-0"),
        (1e300, ".inf"),
        (-1e300, "-.inf"),
        (float("nan"), ".nan"),
    ],
)
def test_float_keys_use_go_float32_g_formatting(value: float, expected: str) -> None:
    assert kubeyaml.go_format_float32_g(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("017", 15),
        ("0o17", 15),
        ("0O17", 15),
        ("0x1f", 31),
        ("0b11", 3),
        ("+5", 5),
        ("-0x10", -16),
        ("9223372036854775807", 2**63 - 1),
        ("9223372036854775808", None),
        ("-9223372036854775808", -(2**63)),
        ("08", None),
        ("0x", None),
        ("", None),
        ("1_0", None),  # go-yaml removes underscores before it asks
    ],
)
def test_go_parse_int(text: str, expected: int | None) -> None:
    assert kubeyaml.go_parse_int(text) == expected


@pytest.mark.parametrize(
    "path",
    sorted(
        [
            *(REPO / "examples").glob("*.yaml"),
            *(REPO / "crds").glob("*.yaml"),
            REPO / "charts" / "hpo-operator" / "values.yaml",
            REPO / "charts" / "hpo-operator" / "Chart.yaml",
        ]
    ),
    ids=lambda path: str(path.relative_to(REPO)),
)
def test_the_projects_own_yaml_means_the_same_to_kubectl(path: Path) -> None:
    """What PyYAML reads (what the author meant) is what kubectl and helm will read."""
    text = path.read_text()
    meant = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    assert kubeyaml.load_all(text) == meant


_SCALARS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["y", "n", "on", "1e-6", "0o17", "08", "1_000", "<<", "~", "1:20", ".5"]),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
    st.booleans(),
    st.none(),
)
_DOCUMENTS = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(min_size=1, max_size=8), _DOCUMENTS, max_size=5))
def test_dump_writes_what_kubectl_reads_back_unchanged(document: dict[str, Any]) -> None:
    assert kubeyaml.load_all(kubeyaml.dump(document)) == [document]


@given(st.text(max_size=200) | st.from_regex(r"v: [0-9+.~yYnN-][^\n]{0,10}\n", fullmatch=True))
def test_arbitrary_text_gives_a_value_or_a_yaml_error(text: str) -> None:
    with contextlib.suppress(yaml.YAMLError):
        kubeyaml.load_all(text)
