"""study-sim: simulated raters in the paper's design, rating the project's response corpus.

Each participant rates the 5 responses to one prompt on all 5 dimensions (25 ratings), once on a
5-point scale and once in a binary format. A rating is an ordinal latent-variable draw:

    latent = centre_d + level_g + slope_g · spread_d · attribute_i,d + rater_r,d + noise

cut at fixed thresholds. Group levels are calibrated so that the *expected* relative gaps of mean
5-point ratings equal the abstract's C1–C3; every other number comes from `configs/sim/default.yml`
with its source. Simulated data exercises the pipeline; it is never evidence about people.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

from pluralign.config import load_config
from pluralign.data.corpus import load_corpus
from pluralign.data.schema import DIMENSIONS
from pluralign.files import file_sha256
from pluralign.paths import project_root

#: The demographic fields the simulation draws for each participant after the country, in the
#: order it draws them (the order fixes the random stream, so it is not the schema's order).
DEMOGRAPHIC_FIELDS = ("gender", "political", "race", "age_group", "education")


@dataclass(frozen=True)
class PlantedGap:
    """One of the abstract's rating gaps: (mean_a − mean_b) / mean_b on a dimension."""

    claim: str
    dimension: str
    field: str
    group_a: str
    group_b: str
    relative_gap: float


@dataclass(frozen=True)
class RatingModel:
    """The ordinal latent-variable model's cut points and noise (`rating_model:`)."""

    thresholds: tuple[float, ...]
    binary_threshold: float
    rater_sd: float
    noise_sd: float


@dataclass(frozen=True)
class SimulationConfig:
    """A simulation file (`configs/sim/*.yml`) as written; `SimulationParams` flattens it."""

    seed: int
    participants: int
    responses_per_participant: int
    dimensions_per_response: int
    country_shares: dict[str, float]
    marginals: dict[str, dict[str, float]]
    rating_model: RatingModel
    dimensions: dict[str, dict[str, float]]
    attributes: dict[str, dict[str, float]]
    planted_gaps: tuple[PlantedGap, ...]
    other_group_level_fraction: dict[str, float] = field(default_factory=dict)
    slopes: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)


@dataclass
class SimulationParams:
    """The simulation's parameters, parsed from YAML (see configs/sim/default.yml)."""

    seed: int
    participants: int
    responses_per_participant: int
    dimensions_per_response: int
    country_shares: dict[str, float]
    marginals: dict[str, dict[str, float]]
    thresholds: list[float]
    binary_threshold: float
    rater_sd: float
    noise_sd: float
    dimensions: dict[str, dict[str, float]]
    attributes: dict[str, dict[str, float]]
    planted_gaps: list[PlantedGap]
    other_group_level_fraction: dict[str, float] = field(default_factory=dict)
    slopes: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: SimulationConfig) -> SimulationParams:
        """The parameters of a validated simulation file, checked against the design."""
        model = config.rating_model
        params = cls(
            seed=config.seed,
            participants=config.participants,
            responses_per_participant=config.responses_per_participant,
            dimensions_per_response=config.dimensions_per_response,
            country_shares=config.country_shares,
            marginals=config.marginals,
            thresholds=list(model.thresholds),
            binary_threshold=model.binary_threshold,
            rater_sd=model.rater_sd,
            noise_sd=model.noise_sd,
            dimensions=config.dimensions,
            attributes=config.attributes,
            planted_gaps=list(config.planted_gaps),
            other_group_level_fraction=config.other_group_level_fraction,
            slopes=config.slopes,
        )
        params.check()
        return params

    def check(self) -> None:
        """Refuse parameters that cannot describe the design (shares, dimensions, gaps)."""
        for name, shares in [("country_shares", self.country_shares), *self.marginals.items()]:
            if abs(sum(shares.values()) - 1) > 1e-6:
                raise ValueError(f"simulation: {name} shares sum to {sum(shares.values())}, not 1")
        if set(self.dimensions) != set(DIMENSIONS) or set(self.attributes) != set(DIMENSIONS):
            raise ValueError(f"simulation: dimensions and attributes must be {DIMENSIONS}")
        for gap in self.planted_gaps:
            groups = self.marginals.get(gap.field, {})
            if gap.group_a not in groups or gap.group_b not in groups:
                raise ValueError(f"simulation: {gap.claim} names groups missing from {gap.field}")

    def slope(self, field_name: str, group: str, dimension: str) -> float:
        return float(self.slopes.get(field_name, {}).get(group, {}).get(dimension, 1.0))


def default_params_path() -> Path:
    return project_root() / "configs" / "sim" / "default.yml"


def load_params(path: Path | None = None) -> SimulationParams:
    """The simulation's parameters from `configs/sim/default.yml` (or `path`), validated."""
    config = load_config(path or default_params_path(), SimulationConfig)
    return SimulationParams.from_config(config)


def item_attributes(corpus: pd.DataFrame, params: SimulationParams, rng: np.random.Generator):
    """Standardised per-response attributes for every dimension, from the scorer columns."""
    standardised = {
        name: (corpus[name] - corpus[name].mean()) / corpus[name].std(ddof=0)
        for name in ("toxicity", "emotional_awareness")
    }
    attributes = {}
    for dimension in DIMENSIONS:
        recipe = params.attributes[dimension]
        value = sum(
            weight * standardised[source]
            for source, weight in recipe.items()
            if source != "item_noise_sd"
        )
        value = value + rng.normal(0, recipe.get("item_noise_sd", 0.0), len(corpus))
        attributes[dimension] = ((value - value.mean()) / value.std(ddof=0)).to_numpy()
    return pd.DataFrame(attributes, index=corpus["response_id"].to_numpy())


def expected_score(latent_mean: np.ndarray, params: SimulationParams) -> np.ndarray:
    """E[5-point score] for a latent mean, integrating rater effect and noise (normal)."""
    spread = np.hypot(params.rater_sd, params.noise_sd)
    return 1 + sum(stats.norm.cdf((latent_mean - t) / spread) for t in params.thresholds)


def group_levels(
    params: SimulationParams, attributes: pd.DataFrame
) -> dict[tuple[str, str], dict[str, float]]:
    """Calibrate the level of each planted gap's group_a so that the expected gaps match.

    Gaps on the same dimension are solved together, because every rater belongs to a group of
    each field: the expected mean of conservatives mixes Black and White raters, and so on.
    Returns {(field, group): {dimension: level}}.
    """
    levels: dict[tuple[str, str], dict[str, float]] = {}
    for dimension in DIMENSIONS:
        gaps = [gap for gap in params.planted_gaps if gap.dimension == dimension]
        if not gaps:
            continue

        def residuals(candidate: np.ndarray, gaps=gaps, dimension=dimension) -> np.ndarray:
            trial = _levels_for(gaps, candidate, params)
            return np.array(
                [
                    _expected_relative_gap(gap, trial, dimension, params, attributes)
                    - gap.relative_gap
                    for gap in gaps
                ]
            )

        solution = optimize.root(residuals, x0=np.zeros(len(gaps)), tol=1e-10)
        if not solution.success or np.max(np.abs(residuals(solution.x))) > 1e-6:
            raise ValueError(f"simulation: cannot calibrate the gaps on {dimension}")
        for key, value in _levels_for(gaps, solution.x, params).items():
            levels.setdefault(key, {})[dimension] = value
    return levels


def _levels_for(gaps, values, params) -> dict[tuple[str, str], float]:
    levels = {}
    for gap, value in zip(gaps, values, strict=True):
        levels[(gap.field, gap.group_a)] = float(value)
        for group, fraction in params.other_group_level_fraction.items():
            if group in params.marginals[gap.field] and group not in (gap.group_a, gap.group_b):
                levels[(gap.field, group)] = float(value) * fraction
    return levels


def _expected_relative_gap(gap, levels, dimension, params, attributes) -> float:
    """Expected (mean_a − mean_b) / mean_b, averaging over items and the other fields' groups."""
    centre = params.dimensions[dimension]["centre"]
    spread = params.dimensions[dimension]["spread"]
    attribute = attributes[dimension].to_numpy()
    other_fields = {
        other.field for other in params.planted_gaps if other.dimension == dimension
    } - {gap.field}
    mixtures = [[((), 1.0)]]
    for other in sorted(other_fields):
        mixtures.append(
            [(((other, group),), share) for group, share in params.marginals[other].items()]
        )

    def group_mean(group: str) -> float:
        total = 0.0
        for combination in _product(mixtures):
            keys, weight = combination
            level = levels.get((gap.field, group), 0.0) + sum(levels.get(key, 0.0) for key in keys)
            slope = params.slope(gap.field, group, dimension)
            latent = centre + level + slope * spread * attribute
            total += weight * float(expected_score(latent, params).mean())
        return total

    mean_a, mean_b = group_mean(gap.group_a), group_mean(gap.group_b)
    return (mean_a - mean_b) / mean_b


def _product(mixtures):
    """All combinations of (keys, weight) across mixtures, weights multiplied."""
    combinations = [((), 1.0)]
    for mixture in mixtures:
        combinations = [
            (keys + new_keys, weight * new_weight)
            for keys, weight in combinations
            for new_keys, new_weight in mixture
        ]
    return combinations


def _allocate(shares: dict[str, float], n: int, rng: np.random.Generator) -> np.ndarray:
    """Exactly `n` labels with counts as close to the shares as possible, in random order."""
    raw = {group: share * n for group, share in shares.items()}
    counts = {group: int(np.floor(value)) for group, value in raw.items()}
    remainder = sorted(raw, key=lambda group: raw[group] - counts[group], reverse=True)
    for group in remainder[: n - sum(counts.values())]:
        counts[group] += 1
    labels = np.concatenate([[group] * count for group, count in counts.items()])
    return rng.permutation(labels)


def participants(params: SimulationParams, rng: np.random.Generator) -> pd.DataFrame:
    """The simulated participants: country and demographics drawn to the stated marginals."""
    table = pd.DataFrame(
        {"participant_id": [f"sim-{i:04d}" for i in range(1, params.participants + 1)]}
    )
    table["country"] = _allocate(params.country_shares, params.participants, rng)
    for name in DEMOGRAPHIC_FIELDS:
        table[name] = _allocate(params.marginals[name], params.participants, rng)
    return table


def simulate_study(
    params: SimulationParams, seed: int | None = None, corpus: pd.DataFrame | None = None
) -> dict[str, pd.DataFrame]:
    """Simulate the study: {"5pt": long table, "binary": long table} (same raters and responses).

    `corpus` needs prompt_id, prompt, response_id, response, toxicity and emotional_awareness
    (the scorers' outputs); by default the committed corpus in data/corpus/ is used.
    """
    rng = np.random.default_rng(params.seed if seed is None else seed)
    corpus = (load_corpus() if corpus is None else corpus).reset_index(drop=True)
    attributes = item_attributes(corpus, params, rng)
    levels = group_levels(params, attributes)
    people = participants(params, rng)

    prompt_ids = rng.permutation(sorted(corpus["prompt_id"].unique()))
    # Stratified assignment: participants ordered by the fields the planted gaps name, then dealt
    # prompts in turn, so every prompt gets the same number of raters (± 1) and each group's raters
    # spread evenly over the prompts (a group's gap is then not an accident of which items it saw).
    order = (
        people.assign(_tiebreak=rng.random(len(people)))
        .sort_values([*sorted({gap.field for gap in params.planted_gaps}), "_tiebreak"])
        .index
    )
    people.loc[order, "prompt_id"] = np.resize(prompt_ids, len(people))
    rows = people.merge(corpus, on="prompt_id", how="left")
    rows = rows.loc[rows.index.repeat(len(DIMENSIONS))].reset_index(drop=True)
    rows["dimension"] = np.tile(DIMENSIONS, len(rows) // len(DIMENSIONS))

    latent_mean = np.empty(len(rows))
    for dimension in DIMENSIONS:
        mask = (rows["dimension"] == dimension).to_numpy()
        part = rows[mask]
        level = np.zeros(mask.sum())
        slope = np.ones(mask.sum())
        for (field_name, group), by_dimension in levels.items():
            level += np.where(part[field_name] == group, by_dimension.get(dimension, 0.0), 0.0)
        for field_name, groups in params.slopes.items():
            for group, by_dimension in groups.items():
                if dimension in by_dimension:
                    slope = np.where(part[field_name] == group, by_dimension[dimension], slope)
        attribute = part["response_id"].map(attributes[dimension]).to_numpy()
        centre = params.dimensions[dimension]["centre"]
        spread = params.dimensions[dimension]["spread"]
        latent_mean[mask] = centre + level + slope * spread * attribute

    rater_effects = rng.normal(0, params.rater_sd, (len(people), len(DIMENSIONS)))
    rater_index = rows["participant_id"].map(
        pd.Series(np.arange(len(people)), index=people["participant_id"])
    )
    dimension_index = rows["dimension"].map({d: i for i, d in enumerate(DIMENSIONS)})
    effect = rater_effects[rater_index.to_numpy(), dimension_index.to_numpy()]
    five_point_latent = latent_mean + effect + rng.normal(0, params.noise_sd, len(rows))
    binary_latent = latent_mean + effect + rng.normal(0, params.noise_sd, len(rows))
    five_point = 1 + np.searchsorted(params.thresholds, five_point_latent, side="right")
    binary = (binary_latent >= params.binary_threshold).astype(float)

    tables = {}
    for scale, scores in (("5pt", five_point.astype(float)), ("binary", binary)):
        columns = ["participant_id", "country", *DEMOGRAPHIC_FIELDS, "prompt_id", "prompt"]
        table = rows[[*columns, "response_id", "response", "dimension"]].copy()
        table.insert(
            0,
            "rating_id",
            f"sim-{scale}-"
            + rows["participant_id"]
            + "-"
            + rows["response_id"]
            + "-"
            + rows["dimension"],
        )
        table["score"] = scores
        table["scale"] = scale
        tables[scale] = table
    return tables


def simulation_sha256(params_path: Path, corpus_path: Path, seed: int) -> str:
    """Identity of a simulated dataset: the parameters file, the corpus file and the seed."""
    digest = hashlib.sha256()
    for path in (params_path, corpus_path):
        digest.update(file_sha256(path).encode())
    digest.update(str(seed).encode())
    return digest.hexdigest()
