"""Mixed and ordinal models of rater × item ratings: a crossed random-intercepts linear mixed model
fitted by REML, and a proportional-odds (ordinal logit) model with rater-clustered standard
errors. The rating-gap tables (`pluralign.gaps`) report them beside the bootstrap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg, optimize, sparse, special, stats
from statsmodels.miscmodels.ordinal_model import OrderedModel
from statsmodels.tools.numdiff import approx_fprime

from pluralign.stats.errors import StatisticsError

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
