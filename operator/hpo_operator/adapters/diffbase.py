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
    """`kopf.AnnotationsDiffBaseStorage` whose essence never exceeds `limit` bytes of spec,
    kept under one key.

    kopf's default (`v1=True`) writes the essence twice: under the full key and under its old
    63-character form (`<prefix>/last-handled-con-<hash>`, for rollbacks to kopf < 1.29), which
    doubles the largest annotation of every resource in etcd and in every event the operator
    parses. Only the full key is written here; the old one, left by earlier versions, is never
    part of the essence and is removed at the next write."""

    def __init__(self, *, prefix: str, key: str, limit: int = DEFAULT_LIMIT) -> None:
        super().__init__(prefix=prefix, key=key, v1=False)
        self.limit = limit

    def legacy_key(self, body: Any) -> str:
        """The old 63-character form of the key (kopf's `v1` key), no longer written."""
        return self.make_v1_key(self.mark_key(self.key, body=body))

    def build(self, *, body: Any, extra_fields: Iterable[Any] | None = None) -> Any:
        essence = super().build(body=body, extra_fields=extra_fields)
        self.remove_annotations(essence, {self.legacy_key(body)})
        self.remove_empty_stanzas(essence)
        return bounded(essence, self.limit)

    def store(self, *, body: Any, patch: Any, essence: Any) -> None:
        super().store(body=body, patch=patch, essence=essence)
        legacy = self.legacy_key(body)
        if legacy in body.metadata.annotations and legacy not in self.make_keys(self.key):
            patch.metadata.annotations[legacy] = None
