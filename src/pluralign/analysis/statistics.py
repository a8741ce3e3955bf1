"""Statistical machinery behind the rating gaps: a vectorised two-way cluster bootstrap, a crossed
random-intercepts linear mixed model (REML), a proportional-odds model with rater-clustered errors,
bootstrap p-values, percentile intervals and Holm's correction.

Nothing here knows about demographics or claims (that is `pluralign.analysis.gaps`); everything
works on integer-coded raters and items, a score per rating, and boolean rater masks for groups.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg, optimize, sparse, special, stats
from statsmodels.miscmodels.ordinal_model import OrderedModel
from statsmodels.stats.multitest import multipletests

#: The per-group statistics the two-way bootstrap computes (see `group_statistics`).
GROUP_STATISTICS = ("mean", "n_ratings", "level", "slope", "reliability")


class StatisticsError(ValueError):
    """A statistic cannot be computed from these inputs (the message says why)."""


# --------------------------------------------------------------------------------------------
# Bootstrap summaries


def percentile_interval(replicates: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The percentile interval of the finite bootstrap replicates."""
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        raise StatisticsError("no bootstrap replicate is defined, so there is no interval")
    tail = (1 - level) / 2
    low, high = np.quantile(finite, [tail, 1 - tail])
    return float(low), float(high)


def bootstrap_p_value(estimate: float, replicates: np.ndarray) -> float:
    """Two-sided bootstrap p-value for "the statistic is 0".

    The share of finite replicates on the other side of 0 from the estimate (0 itself counts as
    the other side), doubled, with the +1 correction that keeps it above 0:
    p = min(1, 2 (1 + #other side) / (B + 1)). An estimate of exactly 0 gives 1.
    """
    finite = replicates[np.isfinite(replicates)]
    if finite.size == 0:
        raise StatisticsError("no bootstrap replicate is defined, so there is no p-value")
    if estimate == 0 or not np.isfinite(estimate):
        return 1.0
    other_side = np.count_nonzero(finite <= 0) if estimate > 0 else np.count_nonzero(finite >= 0)
    return float(min(1.0, 2 * (1 + other_side) / (finite.size + 1)))


def holm(p_values: np.ndarray | list[float]) -> np.ndarray:
    """Holm's step-down adjustment (controls the family-wise error); NaNs stay NaN."""
    values = np.asarray(p_values, dtype=float)
    adjusted = np.full(values.shape, np.nan)
    finite = np.isfinite(values)
    if finite.any():
        adjusted[finite] = multipletests(values[finite], method="holm")[1]
    return adjusted


# --------------------------------------------------------------------------------------------
# The two-way (rater × item) cluster bootstrap


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


def _seed_for(seed: int, key: str) -> np.random.SeedSequence:
    """A seed per (seed, key), so a dimension's resamples do not depend on the others."""
    return np.random.SeedSequence([seed, zlib.crc32(key.encode())])


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
        design.n_raters, design.n_items, samples, _seed_for(seed, key), chunk
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
# Linear mixed model with crossed rater and item random intercepts


@dataclass(frozen=True)
class MixedModelFit:
    """REML fit of y = Xβ + rater_r + item_i + ε with independent normal random intercepts."""

    coefficients: pd.Series
    standard_errors: pd.Series
    rater_variance: float
    item_variance: float
    residual_variance: float
    n_ratings: int
    converged: bool

    def effect(self, name: str, level: float = 0.95) -> dict[str, float]:
        """A coefficient with its Wald interval and two-sided p-value."""
        estimate = float(self.coefficients[name])
        error = float(self.standard_errors[name])
        z = stats.norm.ppf(0.5 + level / 2)
        p_value = float(2 * stats.norm.sf(abs(estimate / error))) if error > 0 else 0.0
        return {
            "estimate": estimate,
            "ci_low": estimate - z * error,
            "ci_high": estimate + z * error,
            "p_value": p_value,
        }


def fit_crossed_mixed_model(
    scores: np.ndarray,
    design_matrix: pd.DataFrame,
    raters: np.ndarray,
    items: np.ndarray,
) -> MixedModelFit:
    """Fit a linear mixed model with crossed rater and item random intercepts by REML.

    This is the model of statsmodels' `MixedLM(..., groups=1, vc_formula={"rater": ...,
    "item": ...})` and of lme4's `y ~ X + (1|rater) + (1|item)`, fitted the way lme4 does it:
    the REML deviance profiled over the two relative standard deviations θ and minimised over
    them. It exists because statsmodels took 324 s for one 5,475-rating dimension of study-sim
    (2 cores); here the penalised normal equations are solved by eliminating the larger random
    effect block (diagonal) first, leaving a dense system the size of the smaller block plus the
    fixed effects, so a fit takes well under a second. Tests check it against statsmodels.
    """
    y = np.asarray(scores, dtype=float)
    x = np.asarray(design_matrix, dtype=float)
    n, p = x.shape
    if n <= p:
        raise StatisticsError(f"the mixed model has {p} coefficients but only {n} ratings")
    raters = np.asarray(raters, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    rows = np.arange(n)
    z_rater = sparse.csr_matrix((np.ones(n), (rows, raters)), shape=(n, raters.max() + 1))
    z_item = sparse.csr_matrix((np.ones(n), (rows, items)), shape=(n, items.max() + 1))
    rater_is_big = z_rater.shape[1] >= z_item.shape[1]
    z_big, z_small = (z_rater, z_item) if rater_is_big else (z_item, z_rater)

    n_big = np.asarray(z_big.sum(0)).ravel()
    n_small = np.asarray(z_small.sum(0)).ravel()
    cross = (z_big.T @ z_small).tocsr()
    big_x = np.asarray(z_big.T @ x)
    small_x = np.asarray(z_small.T @ x)
    big_y = np.asarray(z_big.T @ y).ravel()
    small_y = np.asarray(z_small.T @ y).ravel()
    xtx, xty, yty = x.T @ x, x.T @ y, float(y @ y)
    k = len(n_small)

    def solve(theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, float]:
        t_big, t_small = theta
        d_inv = 1 / (t_big**2 * n_big + 1)
        d_big_x = d_inv[:, None] * big_x
        d_big_y = d_inv * big_y
        s_ss = t_small**2 * np.diag(n_small) + np.eye(k)
        s_ss -= t_big**2 * t_small**2 * (cross.T @ sparse.diags(d_inv) @ cross).toarray()
        s_sx = t_small * small_x - t_big**2 * t_small * np.asarray(cross.T @ d_big_x)
        s_xx = xtx - t_big**2 * big_x.T @ d_big_x
        schur = np.block([[s_ss, s_sx], [s_sx.T, s_xx]])
        rhs = np.concatenate(
            [
                t_small * small_y - t_big**2 * t_small * (cross.T @ d_big_y),
                xty - t_big**2 * big_x.T @ d_big_y,
            ]
        )
        lower = linalg.cholesky(schur, lower=True)
        solution = linalg.cho_solve((lower, True), rhs)
        pwrss = yty - t_big**2 * float(big_y @ d_big_y) - float(rhs @ solution)
        log_diag = np.log(np.diag(lower))
        logdet_l = -np.log(d_inv).sum() + 2 * log_diag[:k].sum()
        logdet_rx = 2 * log_diag[k:].sum()
        deviance = logdet_l + logdet_rx + (n - p) * (1 + np.log(2 * np.pi * pwrss / (n - p)))
        return float(deviance), solution[k:], lower[k:, k:], pwrss

    def deviance(theta: np.ndarray) -> float:
        try:
            return solve(theta)[0]
        except linalg.LinAlgError:
            return np.inf

    start = np.array([0.5, 0.5])
    result = optimize.minimize(deviance, start, method="L-BFGS-B", bounds=[(0, None)] * 2)
    try:
        _, beta, lower_x, pwrss = solve(result.x)
    except linalg.LinAlgError as error:
        raise StatisticsError(f"the mixed model's equations are singular: {error}") from None
    residual_variance = pwrss / (n - p)
    inverse_lower = linalg.solve_triangular(lower_x, np.eye(p), lower=True)
    covariance = residual_variance * inverse_lower.T @ inverse_lower
    theta_big, theta_small = result.x
    theta_rater, theta_item = (theta_big, theta_small) if rater_is_big else (theta_small, theta_big)
    names = list(design_matrix.columns)
    return MixedModelFit(
        coefficients=pd.Series(beta, index=names),
        standard_errors=pd.Series(np.sqrt(np.diag(covariance)), index=names),
        rater_variance=float(theta_rater**2 * residual_variance),
        item_variance=float(theta_item**2 * residual_variance),
        residual_variance=float(residual_variance),
        n_ratings=n,
        converged=bool(result.success),
    )


# --------------------------------------------------------------------------------------------
# Proportional-odds (ordinal logit) model with rater-clustered standard errors


class _CountWeightedLogitOrderedModel(OrderedModel):
    """OrderedModel (logit link) whose rows are distinct (covariate pattern, category) cells
    weighted by their counts, with an analytic score (statsmodels differentiates numerically,
    which made a 1,500-rating fit take seconds)."""

    def __init__(self, endog, exog, counts: np.ndarray) -> None:
        super().__init__(endog, exog, distr="logit")
        self.cell_counts = np.asarray(counts, dtype=float)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        return special.expit(x)

    def pdf(self, x: np.ndarray) -> np.ndarray:
        p = special.expit(x)
        return p * (1 - p)

    def loglikeobs(self, params: np.ndarray) -> np.ndarray:
        return super().loglikeobs(params) * self.cell_counts

    def score_obs(self, params: np.ndarray) -> np.ndarray:
        """d loglikeobs / d params: (cells × params), weighted by the cell counts."""
        params = np.asarray(params, dtype=float)
        k = self.k_vars
        low, upp = self._bounds(params)
        prob = np.clip(self.prob(low, upp), 1e-20, None)
        # pdf(±inf) = 0, so the open ends contribute nothing
        pdf_low = np.where(np.isfinite(low), self.pdf(np.where(np.isfinite(low), low, 0)), 0.0)
        pdf_upp = np.where(np.isfinite(upp), self.pdf(np.where(np.isfinite(upp), upp, 0)), 0.0)
        d_beta = ((pdf_low - pdf_upp) / prob)[:, None] * np.asarray(self.exog)
        n_thresholds = len(params) - k
        category = np.asarray(self.endog, dtype=np.int64)
        d_threshold = np.zeros((len(category), n_thresholds))
        rows = np.arange(len(category))
        upper = category < n_thresholds  # the upper bound is threshold `category`
        d_threshold[rows[upper], category[upper]] += pdf_upp[upper] / prob[upper]
        lower = category > 0  # the lower bound is threshold `category − 1`
        d_threshold[rows[lower], category[lower] - 1] -= pdf_low[lower] / prob[lower]
        # thresholds: t_0 = p_k, t_j = t_{j−1} + exp(p_{k+j}); chain rule
        jacobian = np.tril(np.ones((n_thresholds, n_thresholds)))
        jacobian[:, 1:] *= np.exp(params[k + 1 :])
        scores = np.column_stack([d_beta, d_threshold @ jacobian])
        return scores * self.cell_counts[:, None]

    def score(self, params: np.ndarray) -> np.ndarray:
        return self.score_obs(params).sum(0)

    def hessian(self, params: np.ndarray) -> np.ndarray:
        from statsmodels.tools.numdiff import approx_fprime

        hessian = approx_fprime(np.asarray(params, dtype=float), self.score, centered=True)
        return (hessian + hessian.T) / 2


@dataclass(frozen=True)
class OrdinalFit:
    """Proportional-odds logit coefficients (log-odds of a higher rating) with clustered SEs."""

    coefficients: pd.Series
    standard_errors: pd.Series
    converged: bool

    def effect(self, name: str) -> dict[str, float]:
        estimate = float(self.coefficients[name])
        error = float(self.standard_errors[name])
        p_value = float(2 * stats.norm.sf(abs(estimate / error))) if error > 0 else 0.0
        return {"estimate": estimate, "p_value": p_value}


def fit_ordinal_model(
    scores: np.ndarray, rater_covariates: pd.DataFrame, raters: np.ndarray
) -> OrdinalFit:
    """Fit statsmodels' `OrderedModel` (logit link) with standard errors clustered by rater.

    `rater_covariates` has one row per rater (no constant column); `raters` gives each rating's
    row in it. Every covariate is rater-level, so the likelihood depends only on the counts of
    (covariate pattern, category) cells: the model is fitted on those cells, weighted by their
    counts (the same estimate as on the rows, much faster). The sandwich covariance sums each
    rater's score over their own ratings (cluster-robust, with the G/(G − 1) correction).
    A binary scale is a two-category ordinal scale: the model is then logistic regression.
    """
    scores = np.asarray(scores, dtype=float)
    raters = np.asarray(raters, dtype=np.int64)
    categories, category = np.unique(scores, return_inverse=True)
    if len(categories) < 2:
        raise StatisticsError("every rating has the same value: no ordinal model to fit")
    covariates = np.asarray(rater_covariates, dtype=float)
    patterns, rater_pattern = np.unique(covariates, axis=0, return_inverse=True)
    rater_pattern = rater_pattern.ravel()
    n_categories = len(categories)
    cell_of_rating = rater_pattern[raters] * n_categories + category
    cells, cell_index, cell_counts = np.unique(
        cell_of_rating, return_inverse=True, return_counts=True
    )
    cell_pattern, cell_category = np.divmod(cells, n_categories)
    names = list(rater_covariates.columns)
    exog = pd.DataFrame(patterns[cell_pattern], columns=names)
    endog = pd.Series(
        pd.Categorical.from_codes(cell_category, categories=range(n_categories), ordered=True)
    )
    model = _CountWeightedLogitOrderedModel(endog, exog, cell_counts)
    result = model.fit(method="bfgs", maxiter=2000, disp=False)
    params = np.asarray(result.params)
    bread = result.normalized_cov_params
    bread = np.full((len(params), len(params)), np.nan) if bread is None else np.asarray(bread)
    if bread.dtype == object or not np.isfinite(bread.astype(float)).all():
        raise StatisticsError(
            "its information matrix is singular (a group's ratings are all in one category?)"
        )
    bread = bread.astype(float)
    # Score of one rating in each cell, then summed per rater.
    unit_scores = np.asarray(model.score_obs(params)) / cell_counts[:, None]
    n_raters = int(raters.max()) + 1
    membership = sparse.coo_matrix(
        (np.ones(len(raters)), (raters, cell_index.ravel())), shape=(n_raters, len(cells))
    ).tocsr()
    rater_scores = np.asarray(membership @ unit_scores)
    clusters = int(np.count_nonzero(np.bincount(raters)))
    meat = rater_scores.T @ rater_scores * clusters / max(clusters - 1, 1)
    covariance = bread @ meat @ bread
    k = len(names)
    return OrdinalFit(
        coefficients=pd.Series(params[:k], index=names),
        standard_errors=pd.Series(np.sqrt(np.clip(np.diag(covariance)[:k], 0, None)), index=names),
        converged=bool(result.mle_retvals.get("converged", True)),
    )
