"""Rater × item cluster bootstraps: raters and items are resampled independently, with
replacement, and an observation's weight is the product of its rater's and its items' counts (the
product, or "pigeonhole", two-way bootstrap). Two bootstraps share that scheme but compute
different things from different draws, so both live here under names that say which:

- `two_way_bootstrap`: per-group statistics of ratings (mean, level, slope, reliability) on a
  sparse `RatingDesign`, for the rating gaps (draws: counted integer indices, per dimension key);
- `observation_mean_bootstrap`: weighted means of observation columns whose rater cluster may be
  several raters averaged and whose item cluster may be two items (a preference pair), for the
  held-out evaluation of training runs (draws: multinomial counts).

Nothing here knows about demographics or claims (that is `pluralign.gaps.estimate`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from pluralign.stats.errors import StatisticsError
from pluralign.stats.seeds import crc32_key, seed_sequence

#: The per-group statistics the two-way bootstrap computes (see `group_statistics`).
GROUP_STATISTICS = ("mean", "n_ratings", "level", "slope", "reliability")


# --------------------------------------------------------------------------------------------
# Group statistics of ratings: the two-way (rater × item) cluster bootstrap


@dataclass(frozen=True)
class RatingDesign:
    """Ratings of one dimension as sparse rater × item sums (duplicates of a pair add up).

    `counts`, `sums` and `squares` hold, per (rater, item) cell, the number of ratings, their sum
    and the sum of their squares; `groups` maps a group name to a boolean mask over raters.
    """

    counts: sparse.csr_matrix
    sums: sparse.csr_matrix
    squares: sparse.csr_matrix
    groups: Mapping[str, np.ndarray]

    @classmethod
    def from_codes(
        cls,
        raters: np.ndarray,
        items: np.ndarray,
        scores: np.ndarray,
        groups: Mapping[str, np.ndarray],
    ) -> RatingDesign:
        raters = np.asarray(raters, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        scores = np.asarray(scores, dtype=float)
        if not (len(raters) == len(items) == len(scores)) or len(scores) == 0:
            raise StatisticsError("raters, items and scores must be non-empty and equally long")
        if not np.isfinite(scores).all():
            raise StatisticsError("every score must be a finite number")
        shape = (int(raters.max()) + 1, int(items.max()) + 1)

        def cells(values: np.ndarray) -> sparse.csr_matrix:
            matrix = sparse.coo_matrix((values, (raters, items)), shape=shape).tocsr()
            matrix.sum_duplicates()
            return matrix

        masks = {}
        for name, mask in groups.items():
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != (shape[0],):
                raise StatisticsError(f"group {name!r}: the mask must have one entry per rater")
            masks[name] = mask
        return cls(cells(np.ones_like(scores)), cells(scores), cells(scores**2), masks)

    @property
    def n_raters(self) -> int:
        return self.counts.shape[0]

    @property
    def n_items(self) -> int:
        return self.counts.shape[1]

    @functools.cached_property
    def cells(self) -> dict[str | None, _GroupCells]:
        """Per group (None: everyone) the item × rater matrices the bootstrap multiplies."""
        cells: dict[str | None, _GroupCells] = {None: _GroupCells.build(self, None)}
        for name, mask in self.groups.items():
            cells[name] = _GroupCells.build(self, mask)
        return cells


@dataclass(frozen=True)
class _GroupCells:
    """A group's raters (`raters`), the items they rated (`items`), and the stacked transposed
    (count, sum, square) matrices restricted to those items and raters: (3·items × raters)."""

    raters: np.ndarray
    items: np.ndarray
    stacked: sparse.csr_matrix
    counts: sparse.csr_matrix

    @classmethod
    def build(cls, design: RatingDesign, mask: np.ndarray | None) -> _GroupCells:
        if mask is None:
            raters, items = np.arange(design.n_raters), np.arange(design.n_items)
        else:
            raters = np.flatnonzero(mask)
            items = np.flatnonzero(np.asarray(design.counts[raters].sum(0)).ravel() > 0)
        parts = [
            matrix[raters][:, items].T.tocsr()
            for matrix in (design.counts, design.sums, design.squares)
        ]
        return cls(raters, items, sparse.vstack(parts).tocsr(), parts[0])

    def sums(self, rater_weights_t: np.ndarray, full: bool) -> dict[str, np.ndarray]:
        """Per item (rows) and sample (columns): Σ_r u_r·(count, sum, square) and Σ_r u_r²·count
        over the group's raters; `rater_weights_t` is (raters × samples)."""
        weights = rater_weights_t[self.raters]
        k = len(self.items)
        if not full:
            stacked = self.stacked[: 2 * k] @ weights
            return {"n": stacked[:k], "y": stacked[k:]}
        stacked = self.stacked @ weights
        return {
            "n": stacked[:k],
            "y": stacked[k : 2 * k],
            "y2": stacked[2 * k :],
            "q": self.counts @ (weights * weights),
        }


@dataclass(frozen=True)
class GroupBootstrap:
    """A group's statistics on the data (`estimate`) and on each bootstrap sample (`replicates`)."""

    estimate: dict[str, float]
    replicates: dict[str, np.ndarray]


def _consensus_parts(sums: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per item and sample, from the other raters' sums: whether there is a consensus, its value,
    the within-item sum of squares and its degrees of freedom (n − Σu²/n for weighted copies),
    and Σu²/n² (the consensus' error variance per unit of rating variance)."""
    has = sums["n"] > 1e-9
    m = np.where(has, sums["n"], 1.0)
    value = sums["y"] / m  # 0 where no other rater rated the item
    return {
        "has": has.astype(float),
        "value": value,
        "has_value": has * value,
        "ss": sums["y2"] - sums["y"] ** 2 / m,
        "df": sums["n"] - sums["q"] / m,
        "error": sums["q"] / m**2,
    }


#: The item sums (weighted by item multiplicity) that the pooled variance and the centre need.
_POOLED = ("ss", "df", "has", "has_value")


def _item_totals(parts: dict[str, np.ndarray], item_weights_t: np.ndarray) -> dict[str, np.ndarray]:
    return {key: np.einsum("is,is->s", item_weights_t, parts[key]) for key in _POOLED}


def group_statistics(
    design: RatingDesign,
    rater_weights: np.ndarray,
    item_weights: np.ndarray,
    level_discrimination: bool = True,
) -> dict[str, dict[str, np.ndarray]]:
    """Every group's statistics for each row of weights (one row = one bootstrap sample).

    A rating of rater r on item i has weight u_r·v_i (the product, or "pigeonhole", two-way
    bootstrap). Per group g and sample:

    - `mean`: weighted mean of g's ratings; `n_ratings`: their total weight;
    - the level/discrimination regression of g's ratings on the item's leave-group-out consensus
      x_i (weighted mean rating of item i by raters not in g), centred at the mean of x over the
      items that have one (each item weighted by v_i), so the intercept (`level`) is g's expected
      rating of an average item and the slope is its discrimination. The consensus is a mean of
      few raters, so an ordinary slope would be attenuated by its noise; the slope is corrected by
      the method of moments: its denominator is var(x) minus the mean error variance of x, which is
      σ²·Σu²/(Σu)² per item with σ² the pooled within-item variance of the other raters. This
      treats the other raters of an item as a random draw; where a design fixes each item's mix of
      groups (study-sim's stratified assignment) it over-corrects a little.
      `reliability` = 1 − error variance / var(x) is the share of var(x) that is signal.

    With all weights 1 this is the estimate on the data. Undefined values (an empty group, fewer
    than two items with a consensus, reliability ≤ 0) are NaN. `level_discrimination=False`
    computes only `mean` and `n_ratings` (the rest NaN), several times faster.
    """
    rater_weights_t = np.ascontiguousarray(np.atleast_2d(rater_weights).T, dtype=float)
    item_weights_t = np.ascontiguousarray(np.atleast_2d(item_weights).T, dtype=float)
    samples = rater_weights_t.shape[1]
    cells = design.cells
    results: dict[str, dict[str, np.ndarray]] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        if level_discrimination:
            everyone = cells[None].sums(rater_weights_t, full=True)
            all_parts = _consensus_parts(everyone)
            all_totals = _item_totals(all_parts, item_weights_t)
        for name in design.groups:
            group = cells[name]
            own = group.sums(rater_weights_t, full=level_discrimination)
            v = item_weights_t[group.items]
            n_ratings = np.einsum("is,is->s", v, own["n"])
            mean = np.einsum("is,is->s", v, own["y"]) / n_ratings
            missing = np.full(samples, np.nan)
            results[name] = {
                "mean": mean,
                "n_ratings": n_ratings,
                "level": missing,
                "slope": missing,
                "reliability": missing,
            }
            if not level_discrimination:
                continue
            # The other raters differ from everyone only on the items g rated (`group.items`),
            # so the all-item totals are corrected on those items alone.
            rest = _consensus_parts({key: everyone[key][group.items] - own[key] for key in own})
            change = _item_totals(rest, v)
            undo = _item_totals({key: all_parts[key][group.items] for key in _POOLED}, v)
            totals = {key: all_totals[key] + change[key] - undo[key] for key in _POOLED}
            sigma2 = totals["ss"] / totals["df"]
            centre = totals["has_value"] / totals["has"]
            has = rest["has"]
            x = has * (rest["value"] - centre)
            error_variance = has * sigma2 * rest["error"]
            weight = v * has * own["n"]  # g's ratings on items with a consensus
            y = v * has * own["y"]
            s1 = weight.sum(0)
            mean_x = np.einsum("is,is->s", weight, x) / s1
            mean_y = y.sum(0) / s1
            var_x = np.einsum("is,is,is->s", weight, x, x) / s1 - mean_x**2
            cov_xy = np.einsum("is,is->s", y, x) / s1 - mean_x * mean_y
            var_error = np.einsum("is,is->s", weight, error_variance) / s1
            reliability = 1 - var_error / var_x
            n_consensus_items = (weight > 0).sum(0)  # distinct items
            usable = (
                np.isfinite(reliability)
                & (reliability > 0)
                & (var_x > 1e-12)
                & (n_consensus_items >= 2)
            )
            slope = np.where(usable, cov_xy / (var_x - var_error), np.nan)
            results[name].update(
                level=np.where(usable, mean_y - slope * mean_x, np.nan),
                slope=slope,
                reliability=np.where(usable, reliability, np.nan),
            )
    return results


def multiplicity_chunks(
    n_raters: int, n_items: int, samples: int, seed: int | np.random.SeedSequence, chunk: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Rater and item multiplicities of `samples` bootstrap samples, `chunk` at a time.

    Each sample draws n_raters raters and n_items items with replacement, independently: a
    multiplicity is the number of times a rater (item) was drawn, counted exactly (the counts are
    multinomial; drawing indices and counting them is 5× faster than `rng.multinomial`).
    """
    rng = np.random.default_rng(seed)

    def counts(n: int, size: int) -> np.ndarray:
        draws = rng.integers(0, n, size=(size, n)) + (np.arange(size) * n)[:, None]
        return np.bincount(draws.ravel(), minlength=size * n).reshape(size, n).astype(float)

    for start in range(0, samples, chunk):
        size = min(chunk, samples - start)
        yield counts(n_raters, size), counts(n_items, size)


def two_way_bootstrap(
    design: RatingDesign,
    samples: int = 2000,
    seed: int = 0,
    key: str = "",
    chunk: int = 250,
    level_discrimination: bool = True,
) -> dict[str, GroupBootstrap]:
    """Every group's statistics (see `group_statistics`) on the data and on `samples` two-way
    cluster-bootstrap samples (raters and items resampled independently, with replacement).

    Vectorised: a chunk of samples is a (chunk × raters) and a (chunk × items) matrix of
    multiplicities, and every weighted sum is one sparse-times-dense product.
    """
    if samples < 1:
        raise StatisticsError("the bootstrap needs at least one sample")
    point = group_statistics(
        design,
        np.ones((1, design.n_raters)),
        np.ones((1, design.n_items)),
        level_discrimination,
    )
    parts: dict[str, dict[str, list[np.ndarray]]] = {
        name: {stat: [] for stat in GROUP_STATISTICS} for name in design.groups
    }
    chunks = multiplicity_chunks(
        design.n_raters, design.n_items, samples, seed_sequence(seed, crc32_key(key)), chunk
    )
    for rater_weights, item_weights in chunks:
        statistics = group_statistics(design, rater_weights, item_weights, level_discrimination)
        for name, values in statistics.items():
            for stat in GROUP_STATISTICS:
                parts[name][stat].append(values[stat])
    return {
        name: GroupBootstrap(
            estimate={stat: float(point[name][stat][0]) for stat in GROUP_STATISTICS},
            replicates={stat: np.concatenate(parts[name][stat]) for stat in GROUP_STATISTICS},
        )
        for name in design.groups
    }


# --------------------------------------------------------------------------------------------
# Weighted means of observations: the held-out evaluation's two-way cluster bootstrap


@dataclass(frozen=True)
class ObservationClusters:
    """The clusters of each observation: one rater cluster (or several, averaged, for aggregated
    pairs) and one or two item clusters (the prompt, or the two responses of a pair)."""

    raters: sparse.csr_matrix  # (n, n_raters), rows sum to 1
    items: np.ndarray  # (n, k) item cluster codes, k = 1 or 2

    @classmethod
    def from_codes(cls, raters: list[list[str]], items: np.ndarray) -> ObservationClusters:
        """`raters[i]`: the rater ids behind observation i; `items[i]`: its item ids (1 or 2)."""
        names = {name: code for code, name in enumerate(sorted({r for row in raters for r in row}))}
        rows = np.repeat(np.arange(len(raters)), [len(row) for row in raters])
        cols = np.array([names[r] for row in raters for r in row], dtype=np.int64)
        data = np.concatenate([np.full(len(row), 1.0 / len(row)) for row in raters])
        matrix = sparse.csr_matrix((data, (rows, cols)), shape=(len(raters), len(names)))
        items = np.asarray(items)
        if items.ndim == 1:
            items = items[:, None]
        _, item_codes = np.unique(items, return_inverse=True)
        return cls(matrix, item_codes.reshape(items.shape))


def observation_mean_bootstrap(
    values: np.ndarray,
    clusters: ObservationClusters,
    samples: int = 1000,
    seed: int = 0,
    block: int = 100,
) -> np.ndarray:
    """Bootstrap replicates of the weighted mean of each column of `values` (n, m): shape
    (samples, m). Rater and item clusters are resampled independently (multinomial counts); an
    observation's weight is its raters' mean count times the product of its items' counts. A
    sample that gives every observation weight 0 is NaN."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    rng = np.random.default_rng(seed)
    n_raters = clusters.raters.shape[1]
    n_items = int(clusters.items.max()) + 1
    result = np.empty((samples, values.shape[1]))
    for start in range(0, samples, block):
        size = min(block, samples - start)
        rater_counts = rng.multinomial(n_raters, np.full(n_raters, 1.0 / n_raters), size=size)
        item_counts = rng.multinomial(n_items, np.full(n_items, 1.0 / n_items), size=size)
        weights = np.asarray(clusters.raters @ rater_counts.T.astype(np.float64)).T  # (size, n)
        for column in range(clusters.items.shape[1]):
            weights *= item_counts[:, clusters.items[:, column]]
        totals = weights.sum(axis=1, keepdims=True)
        totals[totals == 0] = np.nan
        result[start : start + size] = (weights @ values) / totals
    return result
