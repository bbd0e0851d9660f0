"""ACK's naming rule: AWS member names ↔ Kubernetes field names.

Measured from ACK's CRD against botocore's member names: lowerCamel of the member name, with
the initialisms ARN, ID(s) and URI in capitals, KMS in capitals when it does not lead, and `Type`
spelled `type_`. Map keys (hyperparameters, environment) are data, not names: never renamed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import cache

from botocore.model import Shape

# Word-level replacements; a "word" starts at a capital and runs until the next capital.
_INITIALISMS = {"Arn": "ARN", "Id": "ID", "Ids": "IDs", "Uri": "URI"}
_NON_LEADING = {"Kms": "KMS"}
_WORD = re.compile(r"[A-Z]+[a-z0-9]*|[a-z0-9]+")


@cache
def field_name(member: str) -> str:
    """Kubernetes field name for an AWS member name (`RoleArn` → `roleARN`, `Type` → `type_`)."""
    if member == "Type":
        return "type_"
    words = _WORD.findall(member)
    if "".join(words) != member:  # unusual spelling: fall back to a plain lowerCamel
        return member[:1].lower() + member[1:]
    out: list[str] = []
    for index, word in enumerate(words):
        word = _INITIALISMS.get(word, word)
        if index > 0:
            word = _NON_LEADING.get(word, word)
        out.append(word)
    first = out[0]
    if first.isupper() and len(first) > 1 and first not in _INITIALISMS.values():
        # A leading acronym run such as "VPC" becomes "vpc" (ACK lower-cases the leading word).
        out[0] = first.lower()
    else:
        out[0] = first[:1].lower() + first[1:]
    return "".join(out)


def member_for_field(members: Mapping[str, object], field: str) -> str | None:
    """The AWS member of a structure whose Kubernetes name is `field`, or None."""
    for member in members:
        if field_name(member) == field:
            return member
    return None


# The one table between the two spellings. Every walk over the model (CRD schema, spec → request,
# Describe → status, validation with manifest paths) names a structure's members through
# `fields_of`; nothing else in the project spells a Kubernetes field name.
Naming = Callable[[str], str]
"""How a document spells a structure member: `aws_name` (requests) or `field_name` (manifests)."""


def aws_name(member: str) -> str:
    """AWS spelling of a member: the member name itself (`RoleArn`)."""
    return member


_TABLES: dict[tuple[str, Naming], dict[str, str]] = {}


def fields_of(shape: Shape, naming: Naming = field_name) -> dict[str, str]:
    """A structure's members keyed by their spelling under `naming`: {`roleARN`: `RoleArn`, …}."""
    if shape.type_name != "structure":
        return {}
    table = _TABLES.get((shape.name, naming))
    if table is None:
        members: Mapping[str, Shape] = shape.members
        table = {naming(member): member for member in members}
        if len(table) != len(members):  # two members with one spelling would lose data
            raise ValueError(f"naming collision in {shape.name}: {sorted(members)}")
        _TABLES[(shape.name, naming)] = table
    return table


def field_path(
    root: Shape, path: Sequence[str | int], naming: Naming = field_name
) -> tuple[str | int, ...]:
    """Respell a path of AWS member names from `root` under `naming`.

    `("TrainingJobDefinition", "RoleArn")` → `("trainingJobDefinition", "roleARN")`; list indexes
    and map keys pass through, and so do segments the model does not know.
    """
    out: list[str | int] = []
    current: Shape | None = root
    for segment in path:
        if current is not None and current.type_name == "structure" and isinstance(segment, str):
            member: Shape | None = current.members.get(segment)
            out.append(naming(segment) if member is not None else segment)
            current = member
        elif current is not None and current.type_name == "list" and isinstance(segment, int):
            out.append(segment)
            current = current.member
        elif current is not None and current.type_name == "map":
            out.append(segment)  # map keys are data: never renamed
            current = current.value
        else:
            out.append(segment)
            current = None
    return tuple(out)
