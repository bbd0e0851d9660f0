"""adapters/diffbase: the last handled spec under one annotation key, not kopf's two."""

from __future__ import annotations

import json
from typing import Any

import kopf

from hpo_operator import identity
from hpo_operator.adapters.diffbase import BoundedAnnotationsDiffBaseStorage

PREFIX = "hpo-operator.sagemaker.services.k8s.aws"
FULL = f"{PREFIX}/{identity.DIFF_BASE_KEY}"


def storage() -> BoundedAnnotationsDiffBaseStorage:
    return BoundedAnnotationsDiffBaseStorage(prefix=PREFIX, key=identity.DIFF_BASE_KEY)


def resource(annotations: dict[str, str]) -> kopf.Body:
    raw: dict[str, Any] = {
        "apiVersion": "sagemaker.services.k8s.aws/v1alpha1",
        "kind": "HyperParameterTuningJob",
        "metadata": {"name": "j", "namespace": "n", "annotations": annotations},
        "spec": {"hyperParameterTuningJobName": "j"},
    }
    return kopf.Body(raw)  # type: ignore[arg-type]


def test_the_legacy_key_is_kopfs_63_character_form() -> None:
    legacy = storage().legacy_key(resource({}))
    assert legacy != FULL and len(legacy) == 63 and legacy.startswith(f"{PREFIX}/last-handled-con")


def test_one_key_written() -> None:
    s, body, patch = storage(), resource({}), kopf.Patch()
    essence = s.build(body=body)
    s.store(body=body, patch=patch, essence=essence)
    written = {k for k in patch["metadata"]["annotations"] if "last-handled" in k}
    assert written == {FULL}
    assert json.loads(patch["metadata"]["annotations"][FULL]) == essence


def test_a_legacy_copy_is_removed_and_never_part_of_the_essence() -> None:
    s = storage()
    legacy = s.legacy_key(resource({}))
    old = json.dumps({"spec": {"hyperParameterTuningJobName": "j"}})
    body = resource({FULL: old, legacy: old, "team": "a"})
    essence = s.build(body=body)
    assert essence["metadata"]["annotations"] == {"team": "a"}
    assert s.fetch(body=body) == json.loads(old)
    patch = kopf.Patch()
    s.store(body=body, patch=patch, essence=essence)
    assert patch["metadata"]["annotations"][legacy] is None
    # the same essence as an install that never wrote the legacy key: no spurious change
    assert essence == s.build(body=resource({FULL: old, "team": "a"}))
