"""kubectl itself, on the table of tricky YAML: `kubectl create --dry-run=client -o json` reads
each case, and hpo_operator.cli.kubeyaml (so `hpo-operator render`) must read it the same, type for
type; the table's recorded answer must still be kubectl's. Then the API server: a manifest it
refuses for a type (an unquoted `minValue: 1e-6`) is refused by render at the same fields.

Why a cluster: `kubectl create --dry-run=client` still asks the API server's discovery which
resource a kind is (a ConfigMap here); nothing is created.
"""

from __future__ import annotations

import io
import random
import re
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import yaml

from cluster.test_crd_schema import crd_installed  # noqa: F401 (the fixture, used by name)
from hpo_operator.cli import kubeyaml, render
from support.kube import Kubectl
from support.kubectl_yaml_cases import (
    CASES,
    STREAMS,
    Case,
    Refused,
    Stream,
    document,
    read_kubectl_json,
    typed,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "xgboost-tuning.yaml"


def _kubectl_read(kubectl: Kubectl, text: str) -> list[Any] | str:
    """The objects kubectl read from `text`, or its error message."""
    result = kubectl(
        "create", "--dry-run=client", "--validate=false", "-o", "json", "-f", "-",
        input=text, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        return result.stderr.strip()
    objects = read_kubectl_json(result.stdout)
    items = [obj.get("items", [obj]) if obj.get("kind") == "List" else [obj] for obj in objects]
    return [item for group in items for item in group]


def _kubeyaml_read(text: str) -> list[Any] | str:
    try:
        return kubeyaml.load_all(text)
    except kubeyaml.ManifestError as error:
        return f"refused: {error}"
    except Exception as error:  # not YAML at all
        return f"refused: {' '.join(str(error).split())}"


def _values(objects: list[Any]) -> list[Any]:
    return [obj.get("value") if isinstance(obj, dict) else obj for obj in objects]


def _compare(kubectl_said: list[Any] | str, ours: list[Any] | str, expected: Any) -> None:
    if isinstance(expected, Refused):
        assert isinstance(kubectl_said, str), f"kubectl now accepts it: {kubectl_said}"
        assert expected.fragment in kubectl_said, kubectl_said
        assert isinstance(ours, str), f"kubectl refuses ({kubectl_said}), kubeyaml reads {ours}"
        assert expected.fragment in ours, ours
        return
    assert not isinstance(kubectl_said, str), f"kubectl refused it: {kubectl_said}"
    assert not isinstance(ours, str), f"kubectl reads {kubectl_said}, kubeyaml says {ours}"
    theirs = _values(kubectl_said)
    assert typed(theirs) == typed(expected), "kubectl no longer says what the table says"
    assert typed(_values(ours)) == typed(theirs)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_kubectl_and_kubeyaml_read_each_scalar_alike(kubectl: Kubectl, case: Case) -> None:
    text = document(case)
    expected = case.expected if isinstance(case.expected, Refused) else [case.expected]
    _compare(_kubectl_read(kubectl, text), _kubeyaml_read(text), expected)


@pytest.mark.parametrize("stream", STREAMS, ids=[stream.name for stream in STREAMS])
def test_kubectl_and_kubeyaml_split_each_stream_alike(kubectl: Kubectl, stream: Stream) -> None:
    _compare(_kubectl_read(kubectl, stream.text), _kubeyaml_read(stream.text), stream.expected)


# --- random scalars: thousands of them in two kubectl runs ---------------------------------------

ALPHABET = "0123456789+-._eExXoObB:~yYnNtTfFaAlL"
PREFIXES = ["0b", "-0b", "0x", "0o", "0", "+", "-", ".", "1e", "2002-1-", "1_"]


def _random_scalars(seed: int, count: int) -> list[str]:
    """Short plain scalars from the characters that steer YAML 1.1's resolution (digits, signs,
    dots, exponents, base prefixes, `_`, `:`, `~`, the boolean and null letters), half of them
    after a prefix that starts a number: the same list on every run."""
    rng = random.Random(seed)
    scalars: set[str] = set()
    while len(scalars) < count:
        head = rng.choice(PREFIXES) if rng.random() < 0.5 else ""
        scalars.add(head + "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 9))))
    return sorted(scalars)


def _accepted(text: str) -> bool:
    try:
        kubeyaml.load_all(text)
    except yaml.YAMLError:
        return False
    return True


def test_kubectl_and_kubeyaml_read_random_scalars_alike(kubectl: Kubectl) -> None:
    scalars = _random_scalars(seed=12, count=2000)
    head = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: random\n"
    values = [s for s in scalars if _accepted(f"{head}value: {s}\n")]
    keys = [s for s in values if _accepted(f"{head}keys:\n- {s}: 1\n")]
    refused = [s for s in scalars if s not in values]
    assert len(values) > 1800 and len(keys) > 1800 and refused  # the draw covers both sides

    text = head + "".join(f"v{i}: {s}\n" for i, s in enumerate(values))
    text += "keys:\n" + "".join(f"- {s}: 1\n" for s in keys)
    theirs, ours = _kubectl_read(kubectl, text), kubeyaml.load_all(text)
    assert not isinstance(theirs, str), theirs
    differ = [
        (s, theirs[0].get(f"v{i}"), ours[0].get(f"v{i}"))
        for i, s in enumerate(values)
        if typed(theirs[0].get(f"v{i}")) != typed(ours[0].get(f"v{i}"))
    ]
    differ += [
        (f"{s}: (a key)", mine, kube)
        for s, kube, mine in zip(keys, theirs[0]["keys"], ours[0]["keys"], strict=True)
        if kube != mine
    ]
    assert differ == [], "(scalar, kubectl, kubeyaml)"
    for scalar in refused[:: max(1, len(refused) // 15)]:  # kubectl refuses them too
        said = _kubectl_read(kubectl, f"{head}value: {scalar}\n")
        assert isinstance(said, str), (scalar, said)


TOKENS = ["- ", ": ", ":", "{", "}", "[", "]", ", ", ",", "? ", " #c", "'", '"', "| ", "> ", "&a "]
TOKENS += ["*a", "! ", "!!str ", "\n", "\n  ", "\n    ", "  ", " ", "a", "1", "y", "\t", "\\", "-"]
TOKENS += ["...", "--- ", "%", "@", "`", "\r\n"]


def test_kubectl_and_kubeyaml_parse_random_fragments_alike(kubectl: Kubectl) -> None:
    """Random runs of YAML's indicators after `value:` (flow and block collections, quotes,
    block scalars, anchors, tags, comments, tabs, line breaks): kubectl and kubeyaml accept the
    same ones and read the same values. Mostly they are broken YAML: the parsers must agree on
    that too (an earlier exploration ran 2,100 of these without a difference)."""
    rng = random.Random(12)
    head = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fragment\nvalue: "
    differ = []
    for _ in range(120):
        text = head + "".join(rng.choice(TOKENS) for _ in range(rng.randint(1, 8))) + "\n"
        theirs, ours = _kubectl_read(kubectl, text), _kubeyaml_read(text)
        if isinstance(theirs, str) or isinstance(ours, str):
            if isinstance(theirs, str) != isinstance(ours, str):
                differ.append((text[len(head) :], theirs, ours))
        elif typed(_values(theirs)) != typed(_values(ours)):
            differ.append((text[len(head) :], theirs, ours))
    assert differ == [], "(fragment, kubectl, kubeyaml)"


def _aliases(count: int) -> str:
    head = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aliases\n"
    return head + f"a: &a [{', '.join(['x'] * 100)}]\nvalue: [{', '.join(['*a'] * count)}]\n"


def test_excessive_aliasing_starts_at_the_same_alias_for_both(kubectl: Kubectl) -> None:
    """go-yaml refuses a document whose decoding is more than 99% alias expansion: kubeyaml
    counts as go-yaml counts, so the first alias too many (the 3,924th here) is the same one."""
    assert _accepted(_aliases(3923)) and not _accepted(_aliases(3924))
    assert not isinstance(_kubectl_read(kubectl, _aliases(3923)), str)
    refused = _kubectl_read(kubectl, _aliases(3924))
    assert isinstance(refused, str) and "excessive aliasing" in refused, refused


# --- documents kubectl cannot decode -----------------------------------------------------------

UNDECODABLE = {
    "scalar": "hello\n",
    "list": "[1, 2]\n",
    "no-kind": "apiVersion: v1\nmetadata: {name: x}\n",
    "kind-not-a-string": "apiVersion: v1\nkind: 5\nmetadata: {name: x}\n",
    "list-item-not-an-object": "apiVersion: v1\nkind: List\nitems: [5]\n",
    "list-item-without-kind": "apiVersion: v1\nkind: List\nitems: [{a: 1}]\n",
}


@pytest.mark.parametrize("text", UNDECODABLE.values(), ids=UNDECODABLE.keys())
def test_what_kubectl_cannot_decode_render_refuses(kubectl: Kubectl, text: str) -> None:
    stream = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n---\n" + text
    said = _kubectl_read(kubectl, stream)
    assert isinstance(said, str), said
    code, lines = _render(stream)
    assert code == 2 and len(lines) == 1 and "kubectl cannot read it: document 2" in lines[0]


def test_a_kind_without_api_version_is_read_by_both(kubectl: Kubectl) -> None:
    said = _kubectl_read(kubectl, "kind: ConfigMap\nmetadata: {name: x}\n")
    assert not isinstance(said, str), said
    assert _render("kind: ConfigMap\nmetadata: {name: x}\n") == (
        1,
        ["-: skipping a ConfigMap document", "no HyperParameterTuningJob found"],
    )


# --- what the API server refuses, render refuses ------------------------------------------------

IMAGE_CLASSIFICATION_RANGES = """\
      continuousParameterRanges:
      - name: learning_rate
        minValue: {low}
        maxValue: {high}
        scalingType: Logarithmic
      - name: weight_decay
        minValue: {low}
        maxValue: "0.001"
        scalingType: Auto
"""


def _image_classification(name: str, low: str, high: str) -> str:
    """The example with the continuous ranges of SageMaker's image-classification notebooks."""
    text = EXAMPLE.read_text().replace("name: xgboost-tuning", f"name: {name}")
    text = text.replace(
        "hyperParameterTuningJobName: xgboost-tuning", f"hyperParameterTuningJobName: {name}"
    )
    ranges = IMAGE_CLASSIFICATION_RANGES.format(low=low, high=high)
    return text.replace("      continuousParameterRanges: []\n", ranges)


def _render(text: str) -> tuple[int, list[str]]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = render.main(["-"], stdin=io.StringIO(text))
    return code, err.getvalue().splitlines()


def _server_paths(message: str) -> set[str]:
    """The fields the API server names. With CEL rules in the CRD it adds a line for the object
    (`<nil>`: "some validation rules were not checked because the object was invalid")."""
    found = set(re.findall(r"^\* (\S+): Invalid value", message, re.MULTILINE))
    return found - {"<nil>"}


@pytest.mark.usefixtures("crd_installed")
def test_the_api_server_and_render_refuse_an_unquoted_exponent_at_the_same_fields(
    kubectl: Kubectl, namespace: str
) -> None:
    text = _image_classification("image-classification", "1e-6", "0.5")
    result = kubectl(
        "create", "--dry-run=server", "-n", namespace, "-f", "-", input=text, check=False
    )
    assert result.returncode != 0
    assert "must be of type string" in result.stderr
    ranges = "spec.hyperParameterTuningJobConfig.parameterRanges.continuousParameterRanges"
    expected = {f"{ranges}[0].minValue", f"{ranges}[0].maxValue", f"{ranges}[1].minValue"}
    assert _server_paths(result.stderr) == expected, result.stderr

    code, lines = _render(text)
    assert code == 1
    assert {line.split(": ", 1)[0] for line in lines} == expected, lines
    assert all("must be a string" in line for line in lines), lines


@pytest.mark.usefixtures("crd_installed")
def test_quoted_the_same_manifest_passes_both(kubectl: Kubectl, namespace: str) -> None:
    text = _image_classification("image-classification-quoted", '"1e-6"', '"0.5"')
    kubectl("create", "--dry-run=server", "-n", namespace, "-f", "-", input=text)
    code, lines = _render(text)
    assert (code, lines) == (0, [])


@pytest.mark.usefixtures("crd_installed")
def test_a_whole_float_in_an_integer_field_passes_both(kubectl: Kubectl, namespace: str) -> None:
    """`maxNumberOfTrainingJobs: 2.0` and `1E1` reach the API server as 2 and 10."""
    text = EXAMPLE.read_text().replace("maxNumberOfTrainingJobs: 2", "maxNumberOfTrainingJobs: 1E1")
    text = text.replace("maxParallelTrainingJobs: 2", "maxParallelTrainingJobs: 2.0")
    kubectl("create", "--dry-run=server", "-n", namespace, "-f", "-", input=text)
    code, lines = _render(text)
    assert (code, lines) == (0, [])
