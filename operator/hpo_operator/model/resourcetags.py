"""Default resource tags (`--resource-tags`, ACK's flag of the same name) and tag edits.

ACK's runtime reads `key=value` pairs, comma-separated; a pair without exactly one `=`, or with
an empty key or value, is skipped. Values may hold ACK's templates, expanded per resource;
a value that expands to nothing (`%MANAGED_BY%` on a resource without the label) is skipped.
On a collision the resource's own `spec.tags` win over a default tag (ACK's `EnsureTags`
merges the spec's tags first). The operator's system tags are added after both, and win.

Tag edits: the tags a job should carry (spec, defaults, system) against those ListTags shows;
what to add and what to delete. System tags, default tags and `aws:` tags are never deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from hpo_operator.identity import KIND, LABEL_MANAGED_BY, SYSTEM_TAG_KEYS, SYSTEM_TAG_PREFIX
from hpo_operator.model.translate import AWS_TAG_PREFIX, spec_tag_limit

SERVICE_ALIAS = "sagemaker"  # %CONTROLLER_SERVICE%: ACK's service alias for this controller

# ACK's templates (runtime pkg/tags/tag_format.go) and what each expands to here.
CONTROLLER_SERVICE = "%CONTROLLER_SERVICE%"
CONTROLLER_VERSION = "%CONTROLLER_VERSION%"
K8S_NAMESPACE = "%K8S_NAMESPACE%"
K8S_RESOURCE_NAME = "%K8S_RESOURCE_NAME%"
K8S_RESOURCE_KIND = "%K8S_RESOURCE_KIND%"
MANAGED_BY = "%MANAGED_BY%"
TEMPLATES = (
    CONTROLLER_SERVICE,
    CONTROLLER_VERSION,
    K8S_NAMESPACE,
    K8S_RESOURCE_NAME,
    K8S_RESOURCE_KIND,
    MANAGED_BY,
)

Pair = tuple[str, str]


def parse_resource_tags(text: str) -> tuple[Pair, ...]:
    """`k=v,k2=v2` as ACK reads `--resource-tags`: pairs kept in order, the malformed skipped."""
    pairs: list[Pair] = []
    for item in text.split(","):
        parts = item.split("=")
        if len(parts) != 2:
            continue
        key, value = parts[0].strip(), parts[1].strip()
        if key and value:
            pairs.append((key, value))
    return tuple(pairs)


def resource_tag_problems(pairs: Sequence[Pair]) -> list[str]:
    """Why default tags can never be sent: AWS's reserved prefix, a system tag's key, or more
    than AWS's limit leaves beside the system tags."""
    problems: list[str] = []
    if len(pairs) > spec_tag_limit():
        problems.append(
            f"{len(pairs)} tags, more than the {spec_tag_limit()} AWS's limit leaves beside "
            f"the operator's {len(SYSTEM_TAG_KEYS)} system tags"
        )
    for key, _ in pairs:
        if key[: len(AWS_TAG_PREFIX)].lower() == AWS_TAG_PREFIX:
            problems.append(f"tag key {key!r} starts with {AWS_TAG_PREFIX} (reserved by AWS)")
        elif key.startswith(SYSTEM_TAG_PREFIX):
            problems.append(
                f"tag key {key!r} starts with {SYSTEM_TAG_PREFIX}: the operator sets its own "
                f"system tags there ({', '.join(SYSTEM_TAG_KEYS)})"
            )
    return problems


def expand(value: str, namespace: str, name: str, labels: Mapping[str, str], version: str) -> str:
    """A default tag's value for one resource, every template replaced."""
    values = {
        CONTROLLER_SERVICE: SERVICE_ALIAS,
        CONTROLLER_VERSION: version or "unknown",
        K8S_NAMESPACE: namespace,
        K8S_RESOURCE_NAME: name,
        K8S_RESOURCE_KIND: KIND,
        MANAGED_BY: str(labels.get(LABEL_MANAGED_BY) or ""),
    }
    for template in TEMPLATES:
        value = value.replace(template, values[template])
    return value


def default_tags(
    pairs: Sequence[Pair],
    namespace: str,
    name: str,
    labels: Mapping[str, str],
    version: str,
    spec_keys: Iterable[str] = (),
) -> list[dict[str, str]]:
    """The default tags for one resource (AWS Key/Value form), in flag order, leaving out those
    whose value expands to nothing and those the spec's own tags override."""
    taken = set(spec_keys)
    out: list[dict[str, str]] = []
    for key, raw in pairs:
        value = expand(raw, namespace, name, labels, version)
        if value and key not in taken:
            taken.add(key)
            out.append({"Key": key, "Value": value})
    return out


@dataclass(frozen=True)
class TagEdit:
    """What turns the job's tags into the desired ones: DeleteTags, then AddTags."""

    add: tuple[Mapping[str, str], ...]
    delete: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.add or self.delete)


def tag_edit(
    desired: Sequence[Mapping[str, str]],
    actual: Sequence[Mapping[str, object]],
    keep: Iterable[str] = (),
) -> TagEdit:
    """Tags to add (absent, or another value) and keys to delete (on the job, not desired),
    never a system tag, a key in `keep` (the default tags' keys) or an `aws:` tag."""
    have = {str(t.get("Key")): str(t.get("Value")) for t in actual}
    want = {str(t["Key"]): str(t["Value"]) for t in desired}
    add = tuple({"Key": k, "Value": v} for k, v in want.items() if have.get(k) != v)
    protected = set(SYSTEM_TAG_KEYS) | set(keep)
    delete = tuple(
        k
        for k in have
        if k not in want
        and k not in protected
        and k[: len(AWS_TAG_PREFIX)].lower() != AWS_TAG_PREFIX
    )
    return TagEdit(add, delete)
