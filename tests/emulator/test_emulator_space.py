"""The pure parts: scaling maps, the objective's optimum, the `:fail` image rule, tokens."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hpo_emulator.errors import ApiError
from hpo_emulator.listing import START_TOKEN, decode_token, encode_token
from hpo_emulator.space import NumericParameter, SearchSpace, stable_unit
from hpo_emulator.tuningjob import image_fails

SCALINGS = [
    NumericParameter("lin", -5.0, 5.0, "Linear", False),
    NumericParameter("auto", 0.0, 1.0, "Auto", False),
    NumericParameter("log", 1e-4, 10.0, "Logarithmic", False),
    NumericParameter("rev", 0.0, 0.999, "ReverseLogarithmic", False),
]


@pytest.mark.parametrize("param", SCALINGS, ids=lambda p: p.scaling)
@given(u=st.floats(0.0, 1.0))
def test_unit_and_value_are_inverse(param: NumericParameter, u: float) -> None:
    v = param.value(u)
    assert param.low <= v <= param.high
    assert param.unit(v) == pytest.approx(u, abs=1e-6)


@given(u=st.floats(0.0, 1.0))
def test_integers_stay_integers_in_range(u: float) -> None:
    p = NumericParameter("n", 3, 17, "Logarithmic", True)
    text = p.render(p.value(u))
    assert text.isdigit() and 3 <= int(text) <= 17


def test_quality_peaks_at_the_seeded_optimum() -> None:
    space = SearchSpace.from_ranges(
        {
            "ContinuousParameterRanges": [
                {"Name": "a", "MinValue": "0", "MaxValue": "1"},
                {"Name": "b", "MinValue": "1", "MaxValue": "1000", "ScalingType": "Logarithmic"},
            ],
            "CategoricalParameterRanges": [{"Name": "c", "Values": ["x", "y", "z"]}],
        }
    )
    rng = random.Random(1)
    samples = [space.random_point(rng) for _ in range(300)]
    best = max(samples, key=lambda p: space.quality(0, "m", p))
    assert space.quality(0, "m", best) > 0.95
    a, b = space.parameters[0], space.parameters[1]
    assert isinstance(a, NumericParameter) and isinstance(b, NumericParameter)
    assert abs(a.unit(float(best["a"])) - (0.1 + 0.8 * stable_unit(0, "m", "a"))) < 0.15
    assert space.quality(1, "m", best) != space.quality(0, "m", best)  # another seed, another peak


@pytest.mark.parametrize(
    ("image", "fails"),
    [
        ("example.com/algo:fail", True),
        ("example.com:5000/team/algo:fail", True),
        ("algo:fail", True),
        ("example.com:5000/algo", False),
        ("example.com/algo:failing", False),
        ("example.com/fail:1", False),
        ("433757028032.dkr.ecr.us-west-2.amazonaws.com/xgboost:1", False),
    ],
)
def test_fail_tag(image: str, fails: bool) -> None:
    assert image_fails(image) is fails


def test_tokens_round_trip_and_reject_garbage() -> None:
    assert decode_token(encode_token((1.5, "job"))) == (1.5, "job")
    assert decode_token(START_TOKEN) is None
    for bad in ("!!", "bm90IGpzb24", encode_token(None)[:-2] + "x"):
        with pytest.raises(ApiError):
            decode_token(bad)
