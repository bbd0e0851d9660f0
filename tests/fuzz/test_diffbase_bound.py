"""kopf's diff-base stays under the annotation budget for any spec, and still tells edits apart."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sizes import fuzz_settings

from hpo_operator.adapters.diffbase import DEFAULT_LIMIT, bounded

ANNOTATIONS_LIMIT = 256 * 1024  # Kubernetes: every annotation of an object together


def essence(static: dict[str, str]) -> dict[str, Any]:
    return {"spec": {"trainingJobDefinition": {"staticHyperParameters": static}}}


def test_a_small_spec_is_kept_as_is() -> None:
    small = essence({"eta": "0.1"})
    assert bounded(small) == small


def test_a_spec_at_the_aws_maximum_fits_and_edits_still_show() -> None:
    at_max = {f"k{i:03d}".ljust(256, "k"): "v" * 2500 for i in range(100)}  # ≈ 275 kB
    stored = bounded(essence(at_max))
    assert len(json.dumps(stored)) < DEFAULT_LIMIT < ANNOTATIONS_LIMIT
    edited = dict(at_max, k000=at_max[next(iter(at_max))][:-1] + "w")
    assert bounded(essence(edited)) != stored
    assert bounded(essence(dict(at_max))) == stored  # the same spec, the same digest


@fuzz_settings(ci=50)
@given(st.dictionaries(st.text(max_size=256), st.text(max_size=2500), max_size=100))
def test_any_map_fits_the_budget(static: dict[str, str]) -> None:
    stored = bounded(essence(static))
    assert len(json.dumps(stored, separators=(",", ":")).encode()) <= max(
        DEFAULT_LIMIT, len(json.dumps(essence({})).encode()) + 100
    )
