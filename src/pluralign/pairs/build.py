"""From ratings to preference pairs `(prompt, chosen, rejected)` for a group under a condition.

A condition is a scale (`5pt` | `binary`), an aggregation (`majority` | `preserve`) and the values
trained on (one dimension | `multi`). Pairs only ever compare two responses to the same prompt
that the same group's raters rated (for standalone-text datasets, which share one dataset-level
prompt, two comments a rater scored). Every pair keeps its provenance: which raters, which scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pluralign.config import load_config
from pluralign.data.describe import GROUP_FIELDS
from pluralign.data.loaders import load_ratings
from pluralign.data.schema import DIMENSIONS, SCALE_VALUES
from pluralign.paths import project_root

#: Lower is better on these dimensions; higher is better on the others.
LOWER_IS_BETTER = frozenset({"toxicity", "stereotypical_bias"})


def orientation(dimension: str) -> float:
    """+1 where a higher score is better, -1 where lower is (`LOWER_IS_BETTER`)."""
    return -1.0 if dimension in LOWER_IS_BETTER else 1.0


SCALES = ("5pt", "binary")
AGGREGATIONS = ("majority", "preserve")
PAIR_COLUMNS = [
    "prompt_id",
    "prompt",
    "chosen_id",
    "chosen",
    "rejected_id",
    "rejected",
    "rater_id",
    "chosen_score",
    "rejected_score",
    "raters",
]


class PairsError(ValueError):
    """A condition or group that cannot give pairs (unknown group, scale, values...)."""


@dataclass(frozen=True)
class Condition:
    """How pairs are built: rating scale, disagreement handling, and the values trained on."""

    scale: str = "5pt"
    aggregation: str = "preserve"
    values: str = "multi"

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise PairsError(f"scale must be one of {SCALES}, got {self.scale!r}")
        if self.aggregation not in AGGREGATIONS:
            raise PairsError(f"aggregation must be one of {AGGREGATIONS}, got {self.aggregation!r}")
        if self.values != "multi" and self.values not in DIMENSIONS:
            raise PairsError(f"values must be 'multi' or one of {DIMENSIONS}, got {self.values!r}")

    @property
    def label(self) -> str:
        return f"{self.scale}-{self.aggregation}-{self.values}"


@dataclass(frozen=True)
class PairsConfig:
    """`configs/pairs.yml`: where each graded scale is cut into a binary label."""

    binary_cut: dict[str, float]


def binary_cuts(path: Path | None = None) -> dict[str, float]:
    """Where a non-binary scale is cut into a binary label (score ≥ cut → 1), per scale."""
    return load_config(path or project_root() / "configs" / "pairs.yml", PairsConfig).binary_cut


#: Datasets with their own binary elicitation: the binary condition reads these ratings instead.
BINARY_COMPANIONS = {"study-sim": "study-sim-binary"}


def ratings_for_scale(name_or_path: str, scale: str) -> pd.DataFrame:
    """The ratings a condition reads: a dataset's binary companion under `binary`, if it has one."""

    if scale == "binary" and name_or_path in BINARY_COMPANIONS:
        return load_ratings(BINARY_COMPANIONS[name_or_path])
    return load_ratings(name_or_path)


def select_group(ratings: pd.DataFrame, group: str) -> pd.DataFrame:
    """The ratings of a group: `all`, a code (`female`), or `field:code` (`political:other`)."""
    if group == "all":
        return ratings
    if ":" in group:
        field, code = group.split(":", 1)
        if field not in GROUP_FIELDS:
            raise PairsError(f"unknown field {field!r}; fields: {', '.join(GROUP_FIELDS)}")
        return ratings[ratings[field] == code]
    fields = [field for field in GROUP_FIELDS if (ratings[field] == group).any()]
    if not fields:
        raise PairsError(f"no rater belongs to group {group!r} in this dataset")
    if len(fields) > 1:
        raise PairsError(f"group {group!r} is ambiguous ({', '.join(fields)}): write field:{group}")
    return ratings[ratings[fields[0]] == group]


def binarise(ratings: pd.DataFrame, cuts: dict[str, float]) -> pd.DataFrame:
    """Binary labels from graded scores (score ≥ the scale's cut → 1); binary rows unchanged."""
    result = ratings.copy()
    graded = result["scale"] != "binary"
    for scale in result.loc[graded, "scale"].unique():
        if scale not in cuts:
            raise PairsError(f"no binary cut for scale {scale!r} in configs/pairs.yml")
        rows = result["scale"] == scale
        result.loc[rows, "score"] = (result.loc[rows, "score"] >= cuts[scale]).astype(float)
    result["scale"] = "binary"
    return result


def oriented_scores(ratings: pd.DataFrame, values: str) -> pd.DataFrame:
    """One 'goodness' score per (rater, response), higher = better.

    One dimension: the score itself, reversed for toxicity and stereotypical bias. `multi`: the
    mean over the dimensions the rater scored of each oriented score rescaled to 0–1 by its scale
    (so every dimension weighs the same and a 5-point and a binary item are comparable).
    """
    part = ratings if values == "multi" else ratings[ratings["dimension"] == values]
    if part.empty:
        raise PairsError(f"no ratings on {values!r}")
    low = part["scale"].map(lambda scale: min(SCALE_VALUES[scale]))
    high = part["scale"].map(lambda scale: max(SCALE_VALUES[scale]))
    unit = (part["score"] - low) / (high - low)
    unit = unit.where(~part["dimension"].isin(LOWER_IS_BETTER), 1 - unit)
    scored = part.assign(goodness=unit)
    keys = ["participant_id", "prompt_id", "response_id"]
    goodness = scored.groupby(keys, sort=False)["goodness"].mean()
    texts = part.drop_duplicates("response_id").set_index("response_id")[["prompt", "response"]]
    result = goodness.reset_index()
    return result.join(texts, on="response_id")


def _rater_pairs(scores: pd.DataFrame) -> pd.DataFrame:
    """Every strict pair within each rater's responses to one prompt (higher goodness chosen)."""
    left = scores.merge(
        scores, on=["participant_id", "prompt_id"], suffixes=("_chosen", "_rejected")
    )
    left = left[left["goodness_chosen"] > left["goodness_rejected"]]
    return pd.DataFrame(
        {
            "prompt_id": left["prompt_id"].to_numpy(),
            "prompt": left["prompt_chosen"].to_numpy(),
            "chosen_id": left["response_id_chosen"].to_numpy(),
            "chosen": left["response_chosen"].to_numpy(),
            "rejected_id": left["response_id_rejected"].to_numpy(),
            "rejected": left["response_rejected"].to_numpy(),
            "rater_id": left["participant_id"].to_numpy(),
            "chosen_score": left["goodness_chosen"].to_numpy(),
            "rejected_score": left["goodness_rejected"].to_numpy(),
        }
    ).assign(raters=lambda table: table["rater_id"].map(lambda rater: [rater]))


def _majority_pairs(scores: pd.DataFrame, binary: bool) -> pd.DataFrame:
    """One pair per co-rated response pair: the group's aggregate per response decides.

    Aggregate: mean goodness (5-point), or the majority label (binary; ties dropped). A pair is
    formed for two responses of the same prompt that at least one rater of the group rated both
    of, when their aggregates differ strictly.
    """
    per_response = scores.groupby("response_id")
    if binary:
        share = per_response["goodness"].mean()
        aggregate = share[share != 0.5].gt(0.5).astype(float)
    else:
        aggregate = per_response["goodness"].mean()
    keys = ["participant_id", "prompt_id"]
    both = scores[[*keys, "response_id"]].merge(scores[[*keys, "response_id"]], on=keys)
    both = both[both["response_id_x"] < both["response_id_y"]]
    raters = _raters_per_pair(both)
    first = raters.index.get_level_values(0)
    second = raters.index.get_level_values(1)
    value_first = aggregate.reindex(first).to_numpy()
    value_second = aggregate.reindex(second).to_numpy()
    strict = ~np.isnan(value_first) & ~np.isnan(value_second) & (value_first != value_second)
    first_wins = value_first > value_second
    chosen = np.where(first_wins, first, second)[strict]
    rejected = np.where(first_wins, second, first)[strict]
    texts = scores.drop_duplicates("response_id").set_index("response_id")
    return pd.DataFrame(
        {
            "prompt_id": texts.loc[chosen, "prompt_id"].to_numpy(),
            "prompt": texts.loc[chosen, "prompt"].to_numpy(),
            "chosen_id": chosen,
            "chosen": texts.loc[chosen, "response"].to_numpy(),
            "rejected_id": rejected,
            "rejected": texts.loc[rejected, "response"].to_numpy(),
            "rater_id": None,
            "chosen_score": aggregate.reindex(chosen).to_numpy(),
            "rejected_score": aggregate.reindex(rejected).to_numpy(),
            "raters": list(raters.to_numpy()[strict]),
        },
        columns=PAIR_COLUMNS,
    )


def _raters_per_pair(both: pd.DataFrame) -> pd.Series:
    """The raters who rated both responses of each pair (a sorted list per pair).

    A vectorised split: pandas' per-group `agg(list)` takes ~20 s on SBIC's 470k pairs.
    """
    ordered = both.sort_values(["response_id_x", "response_id_y", "participant_id"])
    first = ordered["response_id_x"].to_numpy()
    second = ordered["response_id_y"].to_numpy()
    starts = np.flatnonzero(np.r_[True, (first[1:] != first[:-1]) | (second[1:] != second[:-1])])
    groups = np.split(ordered["participant_id"].to_numpy(), starts[1:])
    index = pd.MultiIndex.from_arrays([first[starts], second[starts]])
    return pd.Series([list(group) for group in groups], index=index)


def build_pairs(
    ratings: pd.DataFrame,
    group: str,
    scale: str,
    aggregation: str,
    values: str,
    seed: int = 0,
    cuts: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Preference pairs of a group under a condition, with provenance, in a seeded order.

    `ratings` is the long table; for `binary`, graded scores are cut at `cuts` (default:
    configs/pairs.yml) unless the table already holds binary ratings (study-sim-binary).
    """
    condition = Condition(scale, aggregation, values)
    selected = select_group(ratings, group)
    if selected.empty:
        raise PairsError(f"group {group!r} has no ratings")
    if condition.scale == "binary":
        selected = binarise(selected, cuts or binary_cuts())
    scores = oriented_scores(selected, condition.values)
    if condition.aggregation == "preserve":
        pairs = _rater_pairs(scores)[PAIR_COLUMNS]
    else:
        pairs = _majority_pairs(scores, binary=condition.scale == "binary")
    order = np.random.default_rng(seed).permutation(len(pairs))
    return pairs.iloc[order].reset_index(drop=True)


def balance(pairs_by_group: dict[str, pd.DataFrame], seed: int = 0) -> dict[str, pd.DataFrame]:
    """Subsample every group's pairs (seeded) to the smallest group's count."""
    smallest = min(len(pairs) for pairs in pairs_by_group.values())
    rng = np.random.default_rng(seed)
    balanced = {}
    for name, pairs in pairs_by_group.items():
        keep = np.sort(rng.choice(len(pairs), size=smallest, replace=False))
        balanced[name] = pairs.iloc[keep].reset_index(drop=True)
    return balanced


def preferred_direction(pairs: pd.DataFrame) -> pd.Series:
    """Per unordered response pair: +1 if the group prefers the lexically first, −1 if the second.

    Several raters' pairs on the same two responses vote; ties are dropped.
    """
    first = pairs[["chosen_id", "rejected_id"]].min(axis=1)
    second = pairs[["chosen_id", "rejected_id"]].max(axis=1)
    vote = np.where(pairs["chosen_id"] == first, 1, -1)
    totals = pd.Series(vote).groupby([first.to_numpy(), second.to_numpy()]).sum()
    return np.sign(totals[totals != 0])


def contradiction_share(pairs: pd.DataFrame) -> float:
    """Share of pairs whose reverse (same two responses, other side chosen) is also present."""
    if pairs.empty:
        return float("nan")
    forward = set(zip(pairs["chosen_id"], pairs["rejected_id"], strict=True))
    reversed_present = [
        (rejected, chosen) in forward
        for chosen, rejected in zip(pairs["chosen_id"], pairs["rejected_id"], strict=True)
    ]
    return float(np.mean(reversed_present))


def pair_agreement(pairs_a: pd.DataFrame, pairs_b: pd.DataFrame) -> tuple[float, int]:
    """Share of the response pairs both groups have on which they prefer the same side, and how
    many pairs are shared. It bounds how different models trained on the two can become."""
    direction_a, direction_b = preferred_direction(pairs_a), preferred_direction(pairs_b)
    shared = direction_a.index.intersection(direction_b.index)
    if len(shared) == 0:
        return float("nan"), 0
    same = (direction_a[shared] == direction_b[shared]).mean()
    return float(same), len(shared)
