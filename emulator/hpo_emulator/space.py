"""Hyperparameter search spaces: sampling from ranges, the Grid enumeration, and the synthetic
objective that makes a tuning job's results deterministic and worth optimising.

Every parameter is mapped to a unit coordinate u in [0, 1] through its scaling type, so the
samplers and the objective work in one space whatever the ranges are.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# How far the objective can be from its optimum (1.0 = worst) and how noisy it is.
NOISE_SD = 0.005
# Bayesian: the share of proposals drawn near the best point so far, and their spread in u.
EXPLOIT_SHARE = 0.6
EXPLOIT_SD = 0.1


def stable_unit(*parts: object) -> float:
    """A number in [0, 1) that depends only on its arguments (not on PYTHONHASHSEED)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class NumericParameter:
    """An Integer or Continuous range with its scaling type."""

    name: str
    low: float
    high: float
    scaling: str
    integer: bool

    def value(self, u: float) -> float:
        """The parameter value at unit coordinate u."""
        u = min(max(u, 0.0), 1.0)
        lo, hi = self.low, self.high
        if self.scaling == "Logarithmic" and lo > 0:
            v = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
        elif self.scaling == "ReverseLogarithmic" and 0 <= lo < hi < 1:
            v = 1 - math.exp(math.log(1 - hi) + (1 - u) * (math.log(1 - lo) - math.log(1 - hi)))
        else:
            v = lo + u * (hi - lo)
        if self.integer:
            return float(min(max(round(v), math.ceil(lo)), math.floor(hi)))
        return min(max(v, lo), hi)

    def unit(self, v: float) -> float:
        """The unit coordinate of a value (the inverse of `value`)."""
        lo, hi = self.low, self.high
        if hi <= lo:
            return 0.5
        if self.scaling == "Logarithmic" and lo > 0:
            u = (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo))
        elif self.scaling == "ReverseLogarithmic" and 0 <= lo < hi < 1:
            u = 1 - (math.log(1 - v) - math.log(1 - hi)) / (math.log(1 - lo) - math.log(1 - hi))
        else:
            u = (v - lo) / (hi - lo)
        return min(max(u, 0.0), 1.0)

    def render(self, v: float) -> str:
        """The string SageMaker passes to the algorithm."""
        return str(int(v)) if self.integer else format(v, ".10g")


@dataclass(frozen=True)
class CategoricalParameter:
    """A categorical range (also used for AutoParameters, with their value hint)."""

    name: str
    values: tuple[str, ...]


Parameter = NumericParameter | CategoricalParameter


def _float(text: Any, default: float) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class SearchSpace:
    """The tuned hyperparameters of one training job definition."""

    parameters: tuple[Parameter, ...]

    @classmethod
    def from_ranges(cls, ranges: Mapping[str, Any] | None) -> SearchSpace:
        """Build the space from a ParameterRanges structure."""
        params: list[Parameter] = []
        ranges = ranges or {}
        for kind, integer in (
            ("IntegerParameterRanges", True),
            ("ContinuousParameterRanges", False),
        ):
            for item in ranges.get(kind) or []:
                params.append(
                    NumericParameter(
                        name=str(item.get("Name", "")),
                        low=_float(item.get("MinValue"), 0.0),
                        high=_float(item.get("MaxValue"), 1.0),
                        scaling=str(item.get("ScalingType", "Auto")),
                        integer=integer,
                    )
                )
        for item in ranges.get("CategoricalParameterRanges") or []:
            values = tuple(str(v) for v in item.get("Values") or []) or ("",)
            params.append(CategoricalParameter(str(item.get("Name", "")), values))
        for item in ranges.get("AutoParameters") or []:
            params.append(
                CategoricalParameter(str(item["Name"]), (str(item.get("ValueHint", "")),))
            )
        return cls(tuple(params))

    def grid_size(self) -> int:
        """How many points Grid search enumerates (categorical ranges only)."""
        size = 1
        for p in self.parameters:
            size *= len(p.values) if isinstance(p, CategoricalParameter) else 1
        return size

    def grid_point(self, index: int) -> dict[str, str]:
        """The index-th point of the categorical grid, in a fixed order (wrapping around)."""
        index %= self.grid_size()
        cats = [p for p in self.parameters if isinstance(p, CategoricalParameter)]
        combos: Iterator[tuple[str, ...]] = itertools.product(*(p.values for p in cats))
        combo = next(itertools.islice(combos, index, None))
        return {p.name: v for p, v in zip(cats, combo, strict=True)}

    def random_point(self, rng: random.Random) -> dict[str, str]:
        """A uniform sample in unit space (so Logarithmic ranges sample log-uniformly)."""
        out: dict[str, str] = {}
        for p in self.parameters:
            if isinstance(p, CategoricalParameter):
                out[p.name] = rng.choice(p.values)
            else:
                out[p.name] = p.render(p.value(rng.random()))
        return out

    def near_point(self, rng: random.Random, best: Mapping[str, str]) -> dict[str, str]:
        """A sample near a known good point: what Bayesian optimisation tends to propose."""
        out: dict[str, str] = {}
        for p in self.parameters:
            if isinstance(p, CategoricalParameter):
                keep = best.get(p.name) in p.values and rng.random() < 0.7
                out[p.name] = str(best[p.name]) if keep else rng.choice(p.values)
            else:
                centre = p.unit(_float(best.get(p.name), p.value(0.5)))
                out[p.name] = p.render(p.value(centre + rng.gauss(0.0, EXPLOIT_SD)))
        return out

    def propose(
        self, strategy: str, rng: random.Random, index: int, best: Mapping[str, str] | None
    ) -> dict[str, str]:
        """The tuned hyperparameters of the index-th training job under a strategy."""
        if strategy == "Grid":
            return self.grid_point(index)
        if strategy == "Bayesian" and best is not None and rng.random() < EXPLOIT_SHARE:
            return self.near_point(rng, best)
        return self.random_point(rng)

    def quality(self, seed: int, metric: str, point: Mapping[str, str]) -> float:
        """How good a point is, in [0, 1], 1 at one seeded optimum; smooth in unit space."""
        if not self.parameters:
            return 0.5
        total = 0.0
        for p in self.parameters:
            if isinstance(p, CategoricalParameter):
                best = p.values[int(stable_unit(seed, metric, p.name) * len(p.values))]
                total += 0.0 if point.get(p.name) == best else 0.25
            else:
                optimum = 0.1 + 0.8 * stable_unit(seed, metric, p.name)
                u = p.unit(_float(point.get(p.name), p.value(0.5)))
                total += (u - optimum) ** 2
        return 1.0 - total / len(self.parameters)


def objective_value(quality: float, objective_type: str, noise: float) -> float:
    """The metric a training job reports: high when Maximize, low when Minimize."""
    value = quality if objective_type == "Maximize" else 1.0 - quality
    return round(value + noise, 6)


def improves(value: float, best: float | None, objective_type: str, margin: float = 0.0) -> bool:
    """Whether value beats best (by more than a relative margin) for the objective type."""
    if best is None:
        return True
    slack = abs(best) * margin
    if objective_type == "Maximize":
        return value > best + slack
    return value < best - slack
