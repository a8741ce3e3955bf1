"""A run's inputs: the held-out split by item, and the balanced, capped training pairs.

Items are held out, not pairs: every prompt (datasets with many prompts, e.g. study-sim) or every
response (standalone-text datasets such as POPQUORN, whose items share one dataset-level prompt)
is assigned to train or held-out by a stable hash of (salt, item id), so the split is the same
for every group, condition and seed of a dataset. A pair is a training pair when both its
responses are training items and a held-out pair when both are held out; mixed pairs are dropped.
Splitting the items before or after building pairs gives the same pairs, because a pair only
ever joins two responses to the same prompt and an aggregate is per response.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pluralign.data.corpus import load_prompts
from pluralign.pairs.build import balance, build_pairs, select_group
from pluralign.train.spec import HeldOutDesign, RunSpec


@dataclass(frozen=True)
class ItemSplit:
    """Which items are held out, and whether items are prompts or responses."""

    unit: str
    held_out_ids: frozenset[str]
    train_ids: frozenset[str]

    def response_is_held_out(self, ratings: pd.DataFrame) -> pd.Series:
        """Per response id of `ratings`: True when the response is a held-out item (or belongs to
        a held-out prompt)."""
        responses = ratings.drop_duplicates("response_id").set_index("response_id")
        key = responses["prompt_id"] if self.unit == "prompt" else responses.index.to_series()
        return key.isin(self.held_out_ids)


def stable_uniform(salt: str, ids: pd.Index | list[str]) -> np.ndarray:
    """A number in [0, 1) per id from sha256(salt:id): stable across runs, machines and groups."""
    return np.array(
        [
            int.from_bytes(hashlib.sha256(f"{salt}:{item}".encode()).digest()[:8], "big") / 2**64
            for item in ids
        ]
    )


def held_out_unit(ratings: pd.DataFrame, design: HeldOutDesign) -> str:
    """`prompt` or `response`: the design's unit, with `auto` resolved on this dataset."""
    if design.unit != "auto":
        return design.unit
    return "prompt" if ratings["prompt_id"].nunique() >= design.min_prompts else "response"


def split_items(ratings: pd.DataFrame, design: HeldOutDesign) -> ItemSplit:
    """Hold out a `design.fraction` of the dataset's items (prompts or responses) by stable hash."""
    unit = held_out_unit(ratings, design)
    column = "prompt_id" if unit == "prompt" else "response_id"
    ids = pd.Index(sorted(ratings[column].astype(str).unique()))
    held = stable_uniform(design.salt, ids) < design.fraction
    return ItemSplit(unit, frozenset(ids[held]), frozenset(ids[~held]))


def split_pairs(
    pairs: pd.DataFrame, held_out_responses: set[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training pairs, held-out pairs): both responses in training, or both held out."""
    chosen_held = pairs["chosen_id"].isin(held_out_responses)
    rejected_held = pairs["rejected_id"].isin(held_out_responses)
    train = pairs[~chosen_held & ~rejected_held].reset_index(drop=True)
    held = pairs[chosen_held & rejected_held].reset_index(drop=True)
    return train, held


@dataclass(frozen=True)
class RunInputs:
    """What a run trains and is evaluated on, with the counts that explain how it got there."""

    split: ItemSplit
    train_pairs: pd.DataFrame
    eval_pairs: pd.DataFrame
    counts: dict[str, int]


def run_inputs(spec: RunSpec, ratings: pd.DataFrame) -> RunInputs:
    """Split items, build the pairs of the group and of the groups it is balanced with, balance
    their training pairs to equal counts (seeded by the spec's seed), cap them at the spec's
    training pair count, and cap the group's held-out pairs for evaluation."""
    split = split_items(ratings, spec.held_out)
    held_ids = set(split.response_is_held_out(ratings).loc[lambda held: held].index)
    train_by_group: dict[str, pd.DataFrame] = {}
    counts: dict[str, int] = {}
    eval_pairs = pd.DataFrame()
    for group in spec.contrast:
        pairs = build_pairs(
            ratings, group, spec.scale, spec.aggregation, spec.values, seed=spec.seed
        )
        train, held = split_pairs(pairs, held_ids)
        counts[f"pairs_{group}"] = len(pairs)
        counts[f"train_pairs_available_{group}"] = len(train)
        train_by_group[group] = train
        if group == spec.group:
            eval_pairs = held
            counts["eval_pairs_available"] = len(held)
    balanced = (
        balance(train_by_group, seed=spec.seed) if len(train_by_group) > 1 else train_by_group
    )
    train_pairs = balanced[spec.group]
    counts["train_pairs_balanced"] = len(train_pairs)
    train_pairs = train_pairs.iloc[: spec.hyper.training_pairs].reset_index(drop=True)
    counts["train_pairs"] = len(train_pairs)
    if len(eval_pairs) > spec.hyper.eval_pair_cap:
        keep = np.random.default_rng(spec.seed).choice(
            len(eval_pairs), spec.hyper.eval_pair_cap, replace=False
        )
        eval_pairs = eval_pairs.iloc[np.sort(keep)].reset_index(drop=True)
    counts["eval_pairs"] = len(eval_pairs)
    counts["held_out_items"] = len(split.held_out_ids)
    counts["train_items"] = len(split.train_ids)
    counts["group_raters"] = int(select_group(ratings, spec.group)["participant_id"].nunique())
    return RunInputs(split, train_pairs, eval_pairs, counts)


#: Where a run's prompt set comes from (recorded with its samples).
SOURCE_DATASET = "dataset held-out prompts"
SOURCE_CORPUS = "corpus held-out prompts"


@dataclass(frozen=True)
class PromptSplit:
    """The prompts a run replies to: its training and held-out prompts (`prompt_id`, `prompt`,
    in the dataset's order) and where they come from (`SOURCE_DATASET` or `SOURCE_CORPUS`)."""

    train: pd.DataFrame
    held_out: pd.DataFrame
    source: str


def corpus_prompts() -> pd.DataFrame:
    """The project's corpus prompts (prompt_id, prompt), sorted by id."""
    prompts = load_prompts()[["prompt_id", "prompt"]]
    return prompts.sort_values("prompt_id").reset_index(drop=True)


def prompt_split(ratings: pd.DataFrame, split: ItemSplit, design: HeldOutDesign) -> PromptSplit:
    """The one rule for which prompts a run trains on (GRPO) and is evaluated on (behaviour).

    Datasets split by prompt with at least `design.min_prompts` prompts (study-sim) use their own
    prompts, held out by the run's split. Standalone-text datasets (POPQUORN, Sap et al.), whose
    texts all answer one dataset-level instruction, and tiny datasets use the project's corpus
    prompts, held out by the same stable hash of (salt, prompt id).
    """
    if split.unit == "prompt" and ratings["prompt_id"].nunique() >= design.min_prompts:
        prompts = ratings.drop_duplicates("prompt_id")[["prompt_id", "prompt"]]
        held = prompts["prompt_id"].isin(list(split.held_out_ids))
        return PromptSplit(prompts[~held], prompts[held], SOURCE_DATASET)
    corpus = corpus_prompts()
    held = stable_uniform(design.salt, list(corpus["prompt_id"])) < design.fraction
    return PromptSplit(corpus[~held], corpus[held], SOURCE_CORPUS)
