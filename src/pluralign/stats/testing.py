"""Multiple testing and permutation tests: Holm's step-down adjustment (statsmodels), a sign-flip
test of paired differences and a label-permutation test of two sets of units. Exact where every
permutation can be enumerated within the budget, Monte Carlo otherwise."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from statsmodels.stats.multitest import multipletests

#: The default budget of random permutations (exact enumeration below it).
N_PERMUTATIONS = 10000


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (controls the family-wise error);
    NaNs stay NaN and are not counted in the family."""
    values = np.asarray(p_values, dtype=float)
    adjusted = np.full(values.shape, np.nan)
    finite = np.isfinite(values)
    if finite.any():
        adjusted[finite] = multipletests(values[finite], method="holm")[1]
    return adjusted


def _all_signs(count: int) -> np.ndarray:
    return np.array(list(itertools.product((1.0, -1.0), repeat=count)))


def sign_flip_test(
    differences: np.ndarray, n_perm: int = N_PERMUTATIONS, rng: np.random.Generator | None = None
) -> dict[str, Any]:
    """Two-sided test that paired differences (one per unit, e.g. prompt) are centred on 0, each
    unit's sign flipped at random (exchangeable under "the two models write alike"). Exact when
    2^P ≤ `n_perm` (P finite differences), else Monte Carlo with p = (1 + hits) / (1 + n_perm)."""
    values = np.asarray(differences, dtype=np.float64)
    values = values[np.isfinite(values)]
    count = len(values)
    observed = float(values.mean()) if count else math.nan
    if count == 0:
        return {
            "statistic": observed,
            "p_value": math.nan,
            "permutations": 0,
            "exact": False,
            "min_p": math.nan,
        }
    tolerance = 1e-12 * max(1.0, float(np.abs(values).max()))
    if 2**count <= n_perm:
        signs = _all_signs(count)
        hits = int((np.abs(signs @ values / count) >= abs(observed) - tolerance).sum())
        total = len(signs)
        return {
            "statistic": observed,
            "p_value": hits / total,
            "permutations": total,
            "exact": True,
            "min_p": 2 / total,
        }
    rng = rng or np.random.default_rng(0)
    signs = rng.choice((1.0, -1.0), size=(n_perm, count))
    hits = int((np.abs(signs @ values / count) >= abs(observed) - tolerance).sum())
    return {
        "statistic": observed,
        "p_value": (1 + hits) / (1 + n_perm),
        "permutations": n_perm,
        "exact": False,
        "min_p": 1 / (1 + n_perm),
    }


def label_permutation_test(
    model_means_a: np.ndarray,
    model_means_b: np.ndarray,
    n_perm: int = N_PERMUTATIONS,
    rng: np.random.Generator | None = None,
) -> dict[str, Any]:
    """Two-sided test that two sets of models (e.g. several seeds per group) come from one
    distribution: the group labels are permuted among the models (all relabelings when there are
    at most `n_perm`), statistic = mean(a) − mean(b) of the models' means."""
    a = np.asarray(model_means_a, dtype=np.float64)
    b = np.asarray(model_means_b, dtype=np.float64)
    pooled = np.concatenate([a, b])
    total_models, size_a = len(pooled), len(a)
    observed = float(a.mean() - b.mean())
    tolerance = 1e-12 * max(1.0, float(np.abs(pooled).max()))
    combinations = math.comb(total_models, size_a)
    if combinations <= n_perm:
        chosen = np.zeros((combinations, total_models), dtype=bool)
        for row, members in enumerate(itertools.combinations(range(total_models), size_a)):
            chosen[row, list(members)] = True
        exact, total = True, combinations
    else:
        rng = rng or np.random.default_rng(0)
        order = np.argsort(rng.random((n_perm, total_models)), axis=1)
        chosen = np.zeros((n_perm, total_models), dtype=bool)
        np.put_along_axis(chosen, order[:, :size_a], True, axis=1)
        exact, total = False, n_perm
    stats = (chosen @ pooled) / size_a - (~chosen @ pooled) / (total_models - size_a)
    hits = int((np.abs(stats) >= abs(observed) - tolerance).sum())
    p_value = hits / total if exact else (1 + hits) / (1 + total)
    # the smallest attainable p: the observed labelling and its mirror image (when sizes match)
    min_p = (2 if size_a * 2 == total_models else 1) / total if exact else 1 / (1 + total)
    return {
        "statistic": observed,
        "p_value": p_value,
        "permutations": total,
        "exact": exact,
        "min_p": min_p,
    }
