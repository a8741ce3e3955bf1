"""The shared statistics of `pluralign.stats`: the percentile interval and its empty case, Holm's
adjustment on a hand-computed family, the stability of the seed derivations (published numbers
depend on them), and the shape and determinism of both rater × item cluster bootstraps."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest

from pluralign.stats.errors import StatisticsError
from pluralign.stats.intervals import CONFIDENCE, bootstrap_p_value, percentile_interval
from pluralign.stats.rater_item import (
    GROUP_STATISTICS,
    ObservationClusters,
    RatingDesign,
    observation_mean_bootstrap,
    two_way_bootstrap,
)
from pluralign.stats.seeds import (
    crc32_key,
    generator,
    identity_generator,
    seed_sequence,
    sha256_key,
)
from pluralign.stats.testing import holm, label_permutation_test, sign_flip_test

# --------------------------------------------------------------------------------------------
# intervals


@pytest.mark.parametrize(
    "replicates", [np.array([]), np.array([np.nan, np.nan]), np.array([np.inf, -np.inf, np.nan])]
)
def test_interval_of_no_finite_replicate_is_nan(replicates: np.ndarray) -> None:
    low, high = percentile_interval(replicates)
    assert math.isnan(low) and math.isnan(high)


def test_interval_ignores_nan_and_infinite_replicates() -> None:
    values = np.arange(0.0, 101.0)
    noisy = np.concatenate([values, [np.nan, np.inf, -np.inf]])
    assert percentile_interval(noisy) == percentile_interval(values)
    assert percentile_interval(values) == pytest.approx((2.5, 97.5))
    assert CONFIDENCE == 0.95


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_interval_matches_both_former_arithmetics_exactly(confidence: float) -> None:
    """np.percentile at (1 − c)/2·100 (behaviour, held-out) and np.quantile at (1 − c)/2 (rating
    gaps) gave the same bits at the levels the project uses; the one interval keeps them."""
    replicates = np.random.default_rng(4).normal(size=1999)
    tail = (1 - confidence) / 2
    expected = np.percentile(replicates, [tail * 100, 100 - tail * 100])
    assert percentile_interval(replicates, confidence) == tuple(expected)
    assert percentile_interval(replicates, confidence) == tuple(
        np.quantile(replicates, [tail, 1 - tail])
    )


def test_bootstrap_p_value_refuses_no_finite_replicate() -> None:
    assert bootstrap_p_value(1.0, np.array([1.0, 2.0, -1.0])) == pytest.approx(1.0)
    with pytest.raises(StatisticsError, match="no p-value"):
        bootstrap_p_value(1.0, np.array([np.nan]))


# --------------------------------------------------------------------------------------------
# testing


def test_holm_against_a_hand_computed_family() -> None:
    """p = (0.01, 0.04, NaN, 0.03, 0.20): sorted 0.01, 0.03, 0.04, 0.20 times 4, 3, 2, 1 is
    0.04, 0.09, 0.08, 0.20; the running maximum gives 0.04, 0.09, 0.09, 0.20."""
    adjusted = holm([0.01, 0.04, np.nan, 0.03, 0.20])
    np.testing.assert_allclose(adjusted[[0, 1, 3, 4]], [0.04, 0.09, 0.09, 0.20])
    assert np.isnan(adjusted[2])
    assert holm([0.5, 0.6]).tolist() == [1.0, 1.0]  # capped at 1
    assert holm([]).shape == (0,)


def test_permutation_tests_are_exact_when_small() -> None:
    flip = sign_flip_test(np.array([1.0, 2.0, 3.0]), n_perm=100)
    assert flip["exact"] and flip["p_value"] == pytest.approx(2 / 8)
    labels = label_permutation_test(np.array([1.0, 1.1]), np.array([2.0, 2.1]))
    assert labels["exact"] and labels["permutations"] == 6
    assert labels["p_value"] == pytest.approx(2 / 6) == labels["min_p"]


# --------------------------------------------------------------------------------------------
# seeds


def test_seed_keys_are_stable() -> None:
    """Published numbers were drawn from these keys: they must never change."""
    assert crc32_key("toxicity") == zlib.crc32(b"toxicity") == 1334459319
    assert sha256_key("mean", "toxicity", {"dataset": "d"}) == 3995780456591415505
    assert seed_sequence(1, 7).entropy == [1, 7]


def test_generators_reproduce_their_streams() -> None:
    first = identity_generator(3, "c4", "female", "male").random(4)
    again = identity_generator(3, "c4", "female", "male").random(4)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(
        first, np.random.default_rng([3, sha256_key("c4", "female", "male")]).random(4)
    )
    np.testing.assert_array_equal(
        generator(3, 9).random(2), np.random.default_rng([3, 9]).random(2)
    )
    assert not np.array_equal(first, identity_generator(3, "c4", "male", "female").random(4))


# --------------------------------------------------------------------------------------------
# rater × item bootstraps


def small_design() -> RatingDesign:
    rng = np.random.default_rng(0)
    raters = np.repeat(np.arange(12), 6)
    items = rng.integers(0, 10, raters.size)
    scores = rng.integers(1, 6, raters.size).astype(float)
    groups = {"a": np.arange(12) < 6, "b": np.arange(12) >= 6}
    return RatingDesign.from_codes(raters, items, scores, groups)


def test_two_way_bootstrap_shape_and_determinism() -> None:
    design = small_design()
    # the draws depend on (seed, key, chunk): the chunk sets the order rater and item draws take
    first = two_way_bootstrap(design, samples=30, seed=2, key="toxicity", chunk=7)
    again = two_way_bootstrap(design, samples=30, seed=2, key="toxicity", chunk=7)
    assert set(first) == {"a", "b"}
    for name, result in first.items():
        assert set(result.replicates) == set(GROUP_STATISTICS)
        for statistic, replicates in result.replicates.items():
            assert replicates.shape == (30,)
            np.testing.assert_array_equal(replicates, again[name].replicates[statistic])
    other = two_way_bootstrap(design, samples=30, seed=2, key="helpfulness")
    assert not np.array_equal(first["a"].replicates["mean"], other["a"].replicates["mean"])
    with pytest.raises(StatisticsError):
        two_way_bootstrap(design, samples=0)


def test_observation_mean_bootstrap_shape_and_determinism() -> None:
    clusters = ObservationClusters.from_codes(
        [["r1"], ["r2", "r3"], ["r3"], ["r1"]],
        np.array([["x", "y"], ["y", "z"], ["x", "z"], ["z", "x"]]),
    )
    values = np.arange(8.0).reshape(4, 2)
    first = observation_mean_bootstrap(values, clusters, samples=25, seed=5, block=4)
    assert first.shape == (25, 2)
    np.testing.assert_array_equal(
        first, observation_mean_bootstrap(values, clusters, samples=25, seed=5, block=4)
    )
    assert observation_mean_bootstrap(values[:, 0], clusters, samples=3).shape == (3, 1)
