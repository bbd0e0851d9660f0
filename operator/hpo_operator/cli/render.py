"""`hpo-operator render FILE…`: validate HyperParameterTuningJob manifests offline and print the
exact CreateHyperParameterTuningJob request the operator would send.

For CI and GitOps pre-checks: the same validation (validate.validate_spec) and translation
(translate.spec_to_request + default resource tags + system tags) as the operator, without a
cluster, AWS or kopf.
Manifests are read as kubectl reads them (kubeyaml: go-yaml v2's YAML 1.1 types, then
sigs.k8s.io/yaml's conversion to JSON), so a field has the type the API server will see: an
unquoted `minValue: 1e-6` is a number, and is refused as the cluster refuses it.
Exit codes: 0 all valid (one JSON request per resource on stdout, in input order), 1 a manifest
is invalid (one `path: message` line per problem on stderr), 2 a file is unreadable, not YAML, or
not what kubectl can read (a `.nan`, a null map key, a bad `---` line: the path is named; a
document that is not an object with a kind).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from hpo_operator import __version__, identity
from hpo_operator.cli import kubeyaml
from hpo_operator.identity import ANN_REGION
from hpo_operator.model import awsmodel
from hpo_operator.model.naming import field_path
from hpo_operator.model.resourcetags import (
    default_tags,
    parse_resource_tags,
    resource_tag_problems,
)
from hpo_operator.model.translate import spec_to_request, with_system_tags
from hpo_operator.model.validate import Problem, format_path, validate_request, validate_spec

API_VERSION = f"{identity.GROUP}/{identity.VERSION}"


class Unreadable(Exception):
    """A file that cannot be read, or parsed as kubectl parses it (exit 2)."""


@dataclass(frozen=True)
class Rendered:
    """One resource's outcome: its request, or the problems that stop it."""

    label: str
    request: dict[str, Any] | None
    problems: list[Problem]


def render_manifest(
    manifest: Mapping[str, Any],
    region: str | None = None,
    resource_tags: Sequence[tuple[str, str]] = (),
) -> Rendered:
    """Validate one HyperParameterTuningJob object and build its request with the default
    resource tags (`resource_tags`: the operator's `--resource-tags`, parsed) and system tags.

    The region (for the rules that need it, such as the role's partition) is the manifest's
    `services.k8s.aws/region` annotation, else `region` (`--region`); with neither, those rules
    are left to the operator, which always knows its region."""
    metadata = manifest.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    annotations = metadata.get("annotations")
    if isinstance(annotations, Mapping) and isinstance(annotations.get(ANN_REGION), str):
        region = annotations[ANN_REGION] or region
    name = metadata.get("name")
    namespace = metadata.get("namespace") or "default"
    label = f"{manifest.get('kind')} {namespace}/{name}"
    problems: list[Problem] = []
    if manifest.get("apiVersion") != API_VERSION:
        problems.append(Problem(("apiVersion",), f"must be {API_VERSION}"))
    if not isinstance(name, str) or not name:
        problems.append(Problem(("metadata", "name"), "is required"))
    spec = manifest.get("spec")
    if spec is None:
        problems.append(Problem(("spec",), "is required"))
        return Rendered(label, None, problems)
    request = spec_to_request(spec) if isinstance(spec, Mapping) else {}
    labels = metadata.get("labels")
    labels = {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}
    own = [str(t.get("Key")) for t in request.get("Tags") or [] if isinstance(t, Mapping)]
    defaults = default_tags(resource_tags, str(namespace), str(name), labels, __version__, own)
    keys = [tag["Key"] for tag in defaults]
    problems += [
        _with_yaml_hint(problem, manifest) for problem in validate_spec(spec, region, keys)
    ]
    if problems:
        return Rendered(label, None, problems)
    uid = metadata.get("uid")
    request = with_system_tags(
        request, str(namespace), str(name), str(uid) if uid else None, __version__, defaults
    )
    # What only the full request could break (validate_spec already counts the system tags).
    root = awsmodel.input_shape(awsmodel.CREATE)
    for problem in validate_request(awsmodel.CREATE, request, region):
        path = ("spec", *field_path(root, problem.path))
        problems.append(Problem(path, f"{problem.message} (with the system tags added)"))
    return Rendered(label, None if problems else request, problems)


def _with_yaml_hint(problem: Problem, manifest: Mapping[str, Any]) -> Problem:
    """A string field given an unquoted number or boolean: say what YAML made of it, since
    `1e-6` or `yes` look like text to a reader but are not to kubectl."""
    if problem.message != "must be a string":
        return problem
    value: Any = manifest
    for segment in problem.path:
        try:
            value = value[segment]
        except (KeyError, IndexError, TypeError):
            return problem
    if isinstance(value, bool):
        kind = "a boolean"
    elif isinstance(value, int | float):
        kind = "a number"
    else:
        return problem
    shown = json.dumps(value)
    return Problem(
        problem.path, f"must be a string (kubectl reads it as {kind}, {shown}: quote it)"
    )


def _documents(source: str, stdin: TextIO) -> list[Mapping[str, Any]]:
    """The objects in one file, as kubectl reads them (a List's items in its place)."""
    try:
        text = stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        documents = kubeyaml.load_all(text)
    except (OSError, UnicodeDecodeError) as error:
        raise Unreadable(f"{source}: cannot read: {error}") from error
    except kubeyaml.ManifestError as error:
        where = f"{format_path(error.path)}: " if error.path else ""
        raise Unreadable(f"{source}: kubectl cannot read it: {where}{error.message}") from error
    except yaml.YAMLError as error:
        raise Unreadable(f"{source}: not valid YAML: {' '.join(str(error).split())}") from error
    objects: list[Mapping[str, Any]] = []
    for number, document in enumerate(documents, 1):
        _check_object(source, f"document {number}", document)
        if document.get("kind") == "List":
            items = document.get("items") or []
            for index, item in enumerate(items if isinstance(items, list) else [items]):
                _check_object(source, f"document {number}, items[{index}]", item)
                objects.append(item)
        else:
            objects.append(document)
    return objects


def _check_object(source: str, where: str, document: Any) -> None:
    """kubectl refuses the whole input at a document that is not an object with a kind."""
    if not isinstance(document, Mapping):
        raise Unreadable(f"{source}: kubectl cannot read it: {where} is not an object")
    kind = document.get("kind")
    if not isinstance(kind, str) or not kind:
        raise Unreadable(f"{source}: kubectl cannot read it: {where} has no kind")


def main(argv: Sequence[str] | None = None, stdin: TextIO | None = None) -> int:
    """Render every HyperParameterTuningJob in the files; see the module docstring for exits."""
    parser = argparse.ArgumentParser(
        prog="hpo-operator render",
        description="Validate HyperParameterTuningJob manifests offline and print the "
        "CreateHyperParameterTuningJob request(s) as JSON.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="YAML file(s); - for stdin")
    parser.add_argument(
        "--region",
        help="the region the jobs run in, for the rules that need it (the role ARN's partition), "
        "unless a manifest's services.k8s.aws/region annotation says otherwise",
    )
    parser.add_argument(
        "--resource-tags",
        default=os.environ.get("HPO_RESOURCE_TAGS", ""),
        metavar="TAGS",
        help="the operator's default resource tags (key=value comma-separated, with ACK's "
        "templates), added to each request as the operator adds them [HPO_RESOURCE_TAGS]",
    )
    args = parser.parse_args(argv)
    pairs = parse_resource_tags(args.resource_tags)
    wrong = resource_tag_problems(pairs)
    if wrong:
        print(f"--resource-tags: {'; '.join(wrong)}", file=sys.stderr)
        return 2
    results: list[tuple[str, Rendered]] = []
    try:
        for source in args.files:
            for document in _documents(source, stdin or sys.stdin):
                if document.get("kind") != identity.KIND:
                    print(f"{source}: skipping a {document['kind']} document", file=sys.stderr)
                    continue
                results.append((source, render_manifest(document, args.region, pairs)))
    except Unreadable as error:
        print(error, file=sys.stderr)
        return 2
    failed = [(source, result) for source, result in results if result.problems]
    for source, result in failed:
        if len(results) > 1:
            print(f"{source}: {result.label}:", file=sys.stderr)
        for problem in result.problems:
            print(f"{problem.manifest_path()}: {problem.message}", file=sys.stderr)
    if failed:
        return 1
    if not results:
        print("no HyperParameterTuningJob found", file=sys.stderr)
        return 1
    for _, result in results:
        print(json.dumps(result.request, indent=2, ensure_ascii=False))
    return 0
