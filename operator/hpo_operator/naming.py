"""ACK's naming rule: AWS member names ↔ Kubernetes field names.

Measured from ACK's CRD against botocore's member names: lowerCamel of the member name, with
the initialisms ARN, ID(s) and URI in capitals, KMS in capitals when it does not lead, and `Type`
spelled `type_`. Map keys (hyperparameters, environment) are data, not names: never renamed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

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
