"""Per-phase features of a batch: hand-computed values, sparse tags, irregular sampling."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pytest

from bioprocess.analysis import (
    BatchTrajectories,
    Feature,
    InvalidTrajectoryError,
    PhaseSpan,
    batch_features,
    recipe_phases,
)


def _by_key(features: Iterable[Feature]) -> dict[tuple[str, str, str], Feature]:
    return {(f.tag, f.phase, f.statistic): f for f in features}


@pytest.fixture
def small_batch() -> BatchTrajectories:
    return BatchTrajectories(
        "B1",
        {
            "x": ([0.0, 1.0, 2.0, 4.0, 5.0], [1.0, 3.0, 2.0, 5.0, 1.0]),
            "lab": ([4.0], [7.0]),
        },
        [PhaseSpan("A", 0.0, 3.0), PhaseSpan("B", 3.0, 6.0)],
        duration_h=6.0,
        units={"x": "g/L"},
    )


def test_features_equal_hand_computed_values(small_batch: BatchTrajectories) -> None:
    f = _by_key(batch_features(small_batch, recipe_phases(small_batch)))
    expected = {
        ("x", "A", "n"): 3, ("x", "A", "mean"): 4.5 / 2, ("x", "A", "min"): 1,
        ("x", "A", "max"): 3, ("x", "A", "t_min"): 0, ("x", "A", "t_max"): 1,
        ("x", "A", "slope"): 0.5, ("x", "A", "area"): 4.5,
        ("x", "B", "n"): 2, ("x", "B", "mean"): 3, ("x", "B", "min"): 1,
        ("x", "B", "max"): 5, ("x", "B", "t_min"): 2, ("x", "B", "t_max"): 1,
        ("x", "B", "slope"): -4, ("x", "B", "area"): 3,
    }
    for key, value in expected.items():
        assert f[key].value == pytest.approx(value), key
    assert f[("x", "A", "mean")].unit == "g/L"
    assert f[("x", "A", "slope")].unit == "(g/L)/h"
    assert f[("x", "A", "area")].unit == "(g/L)·h"
    assert f[("x", "A", "t_max")].unit == "h"


def test_a_single_lab_sample_gives_only_the_statistics_it_defines(
    small_batch: BatchTrajectories,
) -> None:
    f = _by_key(batch_features(small_batch, recipe_phases(small_batch)))
    lab = {k[2]: v.value for k, v in f.items() if k[0] == "lab"}
    assert lab == {"n": 1, "mean": 7, "min": 7, "max": 7, "t_min": 1, "t_max": 1}
    assert not any(k[0] == "lab" and k[1] == "A" for k in f), "no samples in A: no features"
    assert f[("lab", "B", "mean")].unit == ""  # unknown unit stays unknown


def test_no_feature_is_ever_nan_even_with_gaps_and_irregular_sampling() -> None:
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, 100, 400))
    v = np.sin(t / 10) + rng.normal(0, 0.1, t.size)
    v[50:60] = np.nan  # a gap
    batch = BatchTrajectories(
        "B2", {"x": (t, v), "same_time": ([10.0, 10.0], [1.0, 2.0])},
        [PhaseSpan("p1", 0, 40), PhaseSpan("p2", 40, 100)],
    )
    features = batch_features(batch, recipe_phases(batch))
    assert features and all(math.isfinite(f.value) for f in features)
    same = {f.statistic for f in features if f.tag == "same_time"}
    assert "slope" not in same and "area" not in same  # two samples at one time


def test_time_weighted_mean_is_not_biased_by_dense_sampling() -> None:
    t = np.concatenate([np.linspace(0, 1, 101), [10.0]])  # dense where the value is 0
    v = np.concatenate([np.zeros(101), [0.0]])
    v[-1] = 9.0
    batch = BatchTrajectories("B3", {"x": (t, v)}, [PhaseSpan("all", 0, 10)])
    mean = _by_key(batch_features(batch, recipe_phases(batch)))[("x", "all", "mean")].value
    assert mean == pytest.approx(0.5 * 9 * 9 / 10)  # trapezoid 1..10 over a 10-h span


def test_bad_series_are_rejected_with_a_readable_message() -> None:
    with pytest.raises(InvalidTrajectoryError, match="equal length; got shapes"):
        BatchTrajectories("B", {"x": ([0, 1, 2], [1, 2])})
    with pytest.raises(InvalidTrajectoryError, match="end_h must be finite and >= start_h"):
        PhaseSpan("p", 5.0, 1.0)
