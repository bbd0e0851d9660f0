"""The HyperParameterTuningJob CustomResourceDefinition, generated from botocore's model.

`hpo-operator crd` prints it; `make crds` writes crds/. spec is CreateHyperParameterTuningJob's
input shape walked recursively, with ACK's field names (naming.py), the model's documentation as
plain text, and the model's constraints, so the API server rejects a bad spec at apply time.
status holds ACK's fields plus the Describe members in awsmodel.STATUS_MEMBERS and the job's
results (`results_schema`), unconstrained: never reject what AWS returns. The output is
deterministic (sorted keys) so a test can tell when crds/ is stale.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml
from botocore.model import Shape

from hpo_operator.identity import (
    CRD_NAME,
    GROUP,
    KIND,
    PLURAL,
    SINGULAR,
    SYSTEM_TAG_KEYS,
    SYSTEM_TAG_PREFIX,
    VERSION,
)
from hpo_operator.model import awsmodel
from hpo_operator.model.naming import field_name, fields_of
from hpo_operator.model.translate import (
    AWS_TAG_PREFIX,
    BEST_MODEL_ARTIFACTS,
    TOP_TRAINING_JOBS,
    TOP_TRAINING_JOBS_COMPLETED,
    spec_tag_limit,
)

FILE_NAME = f"{GROUP}_{PLURAL}.yaml"

Schema = dict[str, Any]

# --- descriptions ------------------------------------------------------------------------------

DESCRIPTION_LIMIT = 400  # characters; the whole CRD must stay far below the 256 KiB annotation
_BREAKS = {"p", "li", "dt", "dd", "ul", "ol", "dl", "br", "h1", "h2", "h3", "h4", "note"}


class _Paragraphs(HTMLParser):
    """Collects the text of an AWS documentation string, one entry per block element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = [""]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BREAKS:
            self.blocks.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BREAKS:
            self.blocks.append("")

    def handle_data(self, data: str) -> None:
        self.blocks[-1] += data


def plain_text(html: str, limit: int = DESCRIPTION_LIMIT) -> str:
    """The first paragraph of an AWS documentation string, as one line of plain text.

    Cut at a sentence end (or a word, with `…`) when longer than `limit`.
    """
    parser = _Paragraphs()
    parser.feed(html or "")
    parser.close()
    blocks = [" ".join(block.split()) for block in parser.blocks]
    text = next((block for block in blocks if block), "")
    if len(text) <= limit:
        return text
    head = text[:limit]
    sentence = head.rfind(". ")
    if sentence > limit // 3:
        return head[: sentence + 1]
    return head[: head.rfind(" ")].rstrip(",;:") + "…"


def _describe(schema: Schema, shape: Shape) -> Schema:
    text = plain_text(shape.documentation)
    values = list(getattr(shape, "enum", None) or [])
    if values and "enum" not in schema and len(values) <= KNOWN_VALUES_LIMIT:
        # Open enums and status are not enforced; `kubectl explain` still says what exists today.
        text = f"{text} Known values: {', '.join(values)}.".strip()
    return {"description": text, **schema} if text else schema


KNOWN_VALUES_LIMIT = 12  # instance types (hundreds) are left to the AWS documentation


# --- patterns ----------------------------------------------------------------------------------

# Constructs that Go's RE2 (the API server's engine) rejects: lookaround, atomic groups,
# possessive quantifiers, backreferences, \Z. A pattern holding one is left out of the CRD (looser,
# never stricter than AWS); validate.py still applies it in full.
_NOT_RE2 = re.compile(r"\(\?<?[=!]|\(\?>|[*+?}]\+|\\[1-9]|\\k<|\\Z")


def re2_pattern(pattern: str) -> str | None:
    """An AWS model pattern as an OpenAPI `pattern` the API server accepts, or None.

    AWS matches the whole string; OpenAPI `pattern` searches, hence the `^(?:…)$` anchors.
    """
    if _NOT_RE2.search(pattern):
        return None
    return f"^(?:{pattern})$"


# --- shapes → OpenAPI --------------------------------------------------------------------------


def shape_schema(shape: Shape, constrained: bool, stack: tuple[str, ...] = ()) -> Schema:
    """OpenAPI v3 (structural) schema of a shape; `constrained` adds the model's constraints."""
    kind = shape.type_name
    meta = shape.metadata
    schema: Schema
    if kind == "structure":
        if shape.name in stack:  # a recursive shape: cut the cycle, keep the data
            return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        inner = (*stack, shape.name)
        properties = {
            field: _describe(shape_schema(shape.members[member], constrained, inner), member_shape)
            for field, member in fields_of(shape).items()
            for member_shape in [shape.members[member]]
        }
        schema = {"type": "object", "properties": properties}
        if constrained and shape.required_members:
            schema["required"] = [field_name(member) for member in shape.required_members]
    elif kind == "list":
        schema = {"type": "array", "items": shape_schema(shape.member, constrained, stack)}
        schema.update(_bounds(meta, "minItems", "maxItems", constrained))
    elif kind == "map":
        schema = {
            "type": "object",
            "additionalProperties": shape_schema(shape.value, constrained, stack),
        }
        schema.update(_bounds(meta, "minProperties", "maxProperties", constrained))
    elif kind == "string":
        schema = {"type": "string"}
        enum = awsmodel.closed_enum(shape)
        if constrained and enum is not None:
            schema["enum"] = list(enum)
        elif constrained:
            schema.update(_bounds(meta, "minLength", "maxLength", constrained))
            pattern = re2_pattern(meta["pattern"]) if "pattern" in meta else None
            if pattern is not None:
                schema["pattern"] = pattern
    elif kind in ("integer", "long"):
        # int64 for both, as ACK's CRD writes every integer (Go int64).
        schema = {"type": "integer", "format": "int64"}
        schema.update(_bounds(meta, "minimum", "maximum", constrained))
    elif kind in ("float", "double"):
        schema = {"type": "number"}
        schema.update(_bounds(meta, "minimum", "maximum", constrained))
    elif kind == "boolean":
        schema = {"type": "boolean"}
    elif kind == "timestamp":
        schema = {"type": "string", "format": "date-time"}
    elif kind == "blob":
        schema = {"type": "string", "format": "byte"}
    else:  # pragma: no cover - botocore has no other shape types
        raise ValueError(f"unknown shape type {kind} ({shape.name})")
    return schema


def _bounds(meta: dict[str, Any], low: str, high: str, constrained: bool) -> Schema:
    if not constrained:
        return {}
    out: Schema = {}
    if "min" in meta:
        out[low] = meta["min"]
    if "max" in meta:
        out[high] = meta["max"]
    return out


def spec_schema() -> Schema:
    """spec: CreateHyperParameterTuningJob's request, ACK names, with the model's constraints."""
    schema = shape_schema(awsmodel.input_shape(awsmodel.CREATE), constrained=True)
    # The operator adds its system tags to every Create: the spec's share of AWS's maximum.
    tags = schema["properties"][field_name("Tags")]
    tags["maxItems"] = spec_tag_limit()
    tags["description"] += (
        f" At most {spec_tag_limit()} here: the operator adds {len(SYSTEM_TAG_KEYS)} tags of its "
        f"own ({', '.join(SYSTEM_TAG_KEYS)}), and keys under {SYSTEM_TAG_PREFIX} are refused."
    )
    tags.update(_tag_rules(tags["items"]))
    schema["description"] = (
        "HyperParameterTuningJobSpec defines the desired state of HyperParameterTuningJob: "
        "the CreateHyperParameterTuningJob request with Kubernetes field names."
    )
    return schema


def _tag_rules(item: Schema) -> Schema:
    """CEL rules for `spec.tags`, so that `kubectl apply` refuses what validate.py refuses: keys
    unique per resource (Tag.Key), none under the operator's SYSTEM_TAG_PREFIX, none starting
    with AWS_TAG_PREFIX in any letter case."""
    key = field_name("Key")
    any_case = "".join(
        f"[{c.lower()}{c.upper()}]" if c.isalpha() else re.escape(c) for c in AWS_TAG_PREFIX
    )
    item["x-kubernetes-validations"] = [
        {
            "rule": f"!self.{key}.startsWith('{SYSTEM_TAG_PREFIX}')",
            "message": f"keys under {SYSTEM_TAG_PREFIX} are the operator's own system tags",
            "fieldPath": f".{key}",
        },
        {
            "rule": f"!self.{key}.matches('^{any_case}')",
            "message": f"keys starting with {AWS_TAG_PREFIX} are reserved by AWS",
            "fieldPath": f".{key}",
        },
    ]
    return {
        "x-kubernetes-validations": [
            {
                "rule": f"self.all(t, self.exists_one(u, u.{key} == t.{key}))",
                "message": "tag keys must be unique per resource",
            }
        ]
    }


def _string(description: str, **extra: Any) -> Schema:
    return {"description": description, "type": "string", **extra}


def status_schema() -> Schema:
    """status: ACK's fields (as ACK names them) and the Describe members that status mirrors."""
    output = awsmodel.output_shape(awsmodel.DESCRIBE)
    properties: Schema = {
        "ackResourceMetadata": {
            "description": "Where the SageMaker job lives: its ARN, owner account, region.",
            "type": "object",
            "properties": {
                "arn": _string("The Amazon Resource Name of the hyperparameter tuning job."),
                "ownerAccountID": _string("The AWS account that owns the job."),
                "region": _string("The AWS region of the job."),
                "partition": _string("The AWS partition of the job."),
            },
        },
        "conditions": {
            "description": "ACK conditions: Ready, ACK.ResourceSynced, ACK.Terminal, "
            "ACK.Recoverable.",
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "type": _string("The condition type, e.g. ACK.ResourceSynced."),
                    "status": _string("True, False or Unknown."),
                    "reason": _string("Why the condition last changed, in one word."),
                    "message": _string("What happened and what to do about it."),
                    "lastTransitionTime": _string(
                        "When the status last changed.", format="date-time"
                    ),
                },
                "required": ["type", "status"],
            },
        },
        "observedGeneration": {
            "description": "The metadata.generation that status was last computed for.",
            "type": "integer",
            "format": "int64",
        },
    }
    for member in awsmodel.STATUS_MEMBERS:
        member_shape = output.members[member]
        properties[field_name(member)] = _describe(
            shape_schema(member_shape, constrained=False), member_shape
        )
    properties.update(results_schema())
    return {
        "description": "HyperParameterTuningJobStatus defines the observed state of "
        "HyperParameterTuningJob.",
        "type": "object",
        "properties": properties,
    }


def results_schema() -> Schema:
    """The job's results this operator adds to ACK's status (`core.results`), from the shapes of
    the calls that read them: ListTrainingJobsForHyperParameterTuningJob's summaries and
    DescribeTrainingJob's ModelArtifacts."""
    summaries = awsmodel.output_shape(awsmodel.LIST_TRAININGS).members["TrainingJobSummaries"]
    training = awsmodel.output_shape(awsmodel.DESCRIBE_TRAINING)
    artifacts = shape_schema(training.members["ModelArtifacts"], constrained=False)
    name = training.members["TrainingJobName"]
    artifacts["properties"] = {
        field_name("TrainingJobName"): {
            "description": "The training job the model artifact is of: bestTrainingJob's.",
            **shape_schema(name, constrained=False),
        },
        **artifacts["properties"],
    }
    return {
        TOP_TRAINING_JOBS: {
            "description": "The job's best training jobs, best first (at most the operator's "
            "--top-training-jobs): ListTrainingJobsForHyperParameterTuningJob sorted by "
            "FinalObjectiveMetricValue, read when trainingJobStatusCounters.completed moves.",
            **shape_schema(summaries, constrained=False),
        },
        TOP_TRAINING_JOBS_COMPLETED: {
            "description": "trainingJobStatusCounters.completed when topTrainingJobs was read.",
            "type": "integer",
            "format": "int64",
        },
        BEST_MODEL_ARTIFACTS: {
            "description": "Where bestTrainingJob's model is (DescribeTrainingJob's "
            "ModelArtifacts), read once per best training job.",
            **artifacts,
        },
    }


PRINTER_COLUMNS: list[Schema] = [
    {"name": "STATUS", "type": "string", "jsonPath": ".status.hyperParameterTuningJobStatus"},
    {
        "name": "BEST",
        "type": "number",
        "jsonPath": ".status.bestTrainingJob.finalHyperParameterTuningJobObjectiveMetric.value",
    },
    {
        "name": "COMPLETED",
        "type": "integer",
        "jsonPath": ".status.trainingJobStatusCounters.completed",
    },
    {
        "name": "SYNCED",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="ACK.ResourceSynced")].status',
    },
    {"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {
        "name": "FAILURE-REASON",
        "type": "string",
        "priority": 1,
        "jsonPath": ".status.failureReason",
    },
]


def crd() -> Schema:
    """The CustomResourceDefinition (apiextensions.k8s.io/v1) as a dict."""
    root: Schema = {
        "description": "HyperParameterTuningJob is an Amazon SageMaker hyperparameter tuning job.",
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec_schema(),
            "status": status_schema(),
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                    "schema": {"openAPIV3Schema": root},
                }
            ],
        },
    }


def render_yaml() -> str:
    """The CRD as YAML, byte-for-byte stable for a given botocore."""
    header = (
        "# Generated by `hpo-operator crd` from botocore "
        f"{awsmodel.botocore_version()}'s SageMaker model. Do not edit: run `make crds`.\n"
    )
    body = yaml.safe_dump(crd(), sort_keys=True, width=100, allow_unicode=True)
    return header + "---\n" + body


def main(argv: Sequence[str] | None = None) -> int:
    """`hpo-operator crd [--output-dir DIR]`: print the CRD, or write it into DIR."""
    parser = argparse.ArgumentParser(prog="hpo-operator crd", description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, help=f"write DIR/{FILE_NAME} instead")
    args = parser.parse_args(argv)
    text = render_yaml()
    if args.output_dir is None:
        sys.stdout.write(text)
        return 0
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / FILE_NAME).write_text(text, encoding="utf-8")
    return 0
