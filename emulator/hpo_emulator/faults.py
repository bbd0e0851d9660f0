"""Injected faults, per-operation request quotas and call statistics.

These exist for the operator's reliability and performance work: the faults make ThrottlingException
and InternalFailure appear on demand, the token buckets (the operator's own `ratelimit.TokenBucket`)
make a benchmark meet AWS-like throttling, and the statistics count what a client really sent.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from hpo_emulator import errors
from hpo_emulator.config import Faults
from hpo_operator.adapters.ratelimit import TokenBucket


class Guard:
    """Decides, before an operation runs, whether it is delayed, throttled or failed."""

    def __init__(self, faults: Faults, quotas: dict[str, tuple[float, float]], seed: int) -> None:
        self.faults = faults
        self.buckets: dict[str, TokenBucket] = {}  # the quota of each operation
        self._scoped: dict[tuple[str, str], TokenBucket] = {}  # (scope, operation) -> bucket
        self.set_quotas(quotas)
        self._rng = random.Random(f"faults:{seed}")

    def set_quotas(self, quotas: dict[str, tuple[float, float]]) -> None:
        """Replace the quotas (an empty mapping turns them off)."""
        self.buckets = {op: TokenBucket(rate, burst) for op, (rate, burst) in quotas.items()}
        self._scoped.clear()

    def delay(self, operation: str) -> float:
        """Seconds to wait before answering."""
        return self.faults.latency_ms / 1000 if self._applies(operation) else 0.0

    def check(self, operation: str, scope: str = "") -> None:
        """Raise the injected or quota error for this call, if any.

        Quotas hold per scope (the emulator passes account and region: AWS's quotas are per
        account and region); each scope gets its own buckets with the operation's rate and burst.
        """
        if self._applies(operation):
            if self.faults.throttle_rate and self._rng.random() < self.faults.throttle_rate:
                raise errors.throttling()
            if self.faults.error_rate and self._rng.random() < self.faults.error_rate:
                raise errors.internal()
        quota = self.buckets.get(operation)
        if quota is None:
            return
        bucket = self._scoped.get((scope, operation))
        if bucket is None:
            bucket = self._scoped[(scope, operation)] = TokenBucket(quota.rate, quota.burst)
        if not bucket.take():
            raise errors.throttling()

    def empty_page(self, operation: str, params: Any) -> bool:
        """Whether to answer this List call with an empty page that carries a NextToken."""
        return (
            operation == "ListHyperParameterTuningJobs"
            and isinstance(params, dict)
            and params.get("LastModifiedTimeAfter") is not None
            and self._applies(operation)
            and self.faults.empty_page_rate > 0
            and self._rng.random() < self.faults.empty_page_rate
        )

    def _applies(self, operation: str) -> bool:
        ops = self.faults.operations
        return ops is None or operation in ops

    def document(self) -> dict[str, Any]:
        """What `GET /_emulator/faults` shows."""
        return {
            **asdict(self.faults),
            "quotas": {
                op: {"rate": b.rate, "burst": b.burst} for op, b in sorted(self.buckets.items())
            },
        }

    def update(self, body: dict[str, Any]) -> None:
        """Apply a `POST /_emulator/faults` document; unknown keys are an error."""
        known = {
            "throttle_rate",
            "error_rate",
            "empty_page_rate",
            "latency_ms",
            "operations",
            "quotas",
            "search_lag",
        }
        unknown = set(body) - known
        if unknown:
            raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
        for key in ("throttle_rate", "error_rate", "empty_page_rate"):
            if key in body:
                value = float(body[key])
                if not 0.0 <= value <= 1.0:
                    raise ValueError(f"{key} must be between 0 and 1")
                setattr(self.faults, key, value)
        if "latency_ms" in body:
            latency = float(body["latency_ms"])
            if latency < 0:
                raise ValueError("latency_ms must be ≥ 0")
            self.faults.latency_ms = latency
        if "search_lag" in body:
            lag = float(body["search_lag"])
            if not lag >= 0:
                raise ValueError("search_lag must be ≥ 0")
            self.faults.search_lag = lag
        if "operations" in body:
            ops = body["operations"]
            self.faults.operations = None if ops is None else [str(op) for op in ops]
        if "quotas" in body:
            quotas = body["quotas"] or {}
            self._scoped.clear()
            for op, spec in quotas.items():
                if spec is None:
                    self.buckets.pop(op, None)
                else:
                    self.buckets[op] = TokenBucket(float(spec["rate"]), float(spec["burst"]))


class Stats:
    """Call counts per operation and outcome (`ok` or the error code), in all and per account and
    region (`by_store`, keyed `ACCOUNT/REGION` like the stores: the caller's account and the
    request's region, STS calls included)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start counting again."""
        self.calls: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.places: defaultdict[str, defaultdict[str, Counter[str]]] = defaultdict(
            lambda: defaultdict(Counter)
        )
        self.since = time.time()

    def record(self, operation: str, outcome: str, where: str | None = None) -> None:
        """Count one call; `where`: its `ACCOUNT/REGION`."""
        self.calls[operation][outcome] += 1
        if where is not None:
            self.places[where][operation][outcome] += 1

    def document(self) -> dict[str, Any]:
        """What `GET /_emulator/stats` shows."""
        return {
            "since": self.since,
            **_counts(self.calls),
            "by_store": {where: _counts(calls) for where, calls in sorted(self.places.items())},
        }


def _counts(calls: Mapping[str, Counter[str]]) -> dict[str, Any]:
    return {
        "total": sum(sum(c.values()) for c in calls.values()),
        "operations": {op: dict(sorted(c.items())) for op, c in sorted(calls.items())},
    }
