"""kopf's diff-base in an annotation, bounded, so that a spec at AWS's own limits still fits.

kopf keeps the last handled spec (its "essence") as JSON in an annotation, to tell a spec edit
from any other write. Kubernetes caps all of an object's annotations at 256 KiB together, and a
valid spec can be larger: 100 static hyperparameters of 256 + 2,500 characters are ≈ 275 kB. kopf's
patch was then refused (422 "metadata.annotations: Too long"), with the status in the same patch,
so the resource never got a status while its job ran. Above `limit` bytes the spec is kept as its
SHA-256 instead: an edit still changes the digest and still triggers the update handler; only
kopf's field-by-field diff becomes "spec changed", which no handler here reads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import kopf

DEFAULT_LIMIT = 64 * 1024  # a quarter of the 256 KiB shared by every annotation of the object


def bounded(essence: Mapping[str, Any], limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
    """The essence as is when its JSON fits in `limit` bytes, else with the spec's digest."""
    text = json.dumps(essence, separators=(",", ":"), sort_keys=True, default=str)
    if len(text.encode()) <= limit:
        return dict(essence)
    spec = json.dumps(essence.get("spec"), separators=(",", ":"), sort_keys=True, default=str)
    return {**essence, "spec": {"sha256": hashlib.sha256(spec.encode()).hexdigest()}}


class BoundedAnnotationsDiffBaseStorage(kopf.AnnotationsDiffBaseStorage):
    """`kopf.AnnotationsDiffBaseStorage` whose essence never exceeds `limit` bytes of spec."""

    def __init__(self, *, prefix: str, key: str, limit: int = DEFAULT_LIMIT) -> None:
        super().__init__(prefix=prefix, key=key)
        self.limit = limit

    def build(self, *, body: Any, extra_fields: Iterable[Any] | None = None) -> Any:
        essence = super().build(body=body, extra_fields=extra_fields)
        return bounded(essence, self.limit)
