"""The prompts a run is evaluated on: held-out prompts it never trained on (see
`configs/behaviour.yml`).

Datasets split by prompt (study-sim) answer the held-out prompts of the run's own split, computed
from the run's ratings and held-out design exactly as training computed them. Standalone-text
datasets (POPQUORN, Sap et al.), whose comments all answer one dataset-level instruction, answer
the project's corpus prompts held out by the same stable hash that their GRPO runs use. The rule
mirrors `pluralign.train.grpo.generation_prompts`, returning ids as well as texts. Prompts are
ordered by their hash value, and the first `limit` are kept.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from pluralign.train.inputs import _stable_uniform, split_items
from pluralign.train.spec import HeldOutDesign, RunSpec

#: Where a prompt set came from (recorded with the samples).
SOURCE_DATASET = "dataset held-out prompts"
SOURCE_CORPUS = "corpus held-out prompts"


@lru_cache(maxsize=16)
def _dataset_prompts(dataset: str, scale: str, design: HeldOutDesign) -> tuple[pd.DataFrame, str]:
    """(prompt_id, prompt) of the held-out prompts for a dataset and design, and their source."""
    from pluralign.prefs import ratings_for_scale
    from pluralign.train.grpo import corpus_prompts

    ratings = ratings_for_scale(dataset, scale)
    split = split_items(ratings, design)
    if split.unit == "prompt" and ratings["prompt_id"].nunique() >= design.min_prompts:
        table = ratings.drop_duplicates("prompt_id")[["prompt_id", "prompt"]].astype(str)
        held = table[table["prompt_id"].isin(split.held_out_ids)]
        return held.reset_index(drop=True), SOURCE_DATASET
    corpus = corpus_prompts().astype(str)
    held = _stable_uniform(design.salt, list(corpus["prompt_id"])) < design.fraction
    return corpus[held].reset_index(drop=True), SOURCE_CORPUS


def evaluation_prompts(spec: RunSpec, limit: int) -> pd.DataFrame:
    """The run's evaluation prompts: `prompt_id`, `prompt`, `prompt_source`, at most `limit`.

    Ordered by the stable hash of (salt, prompt id), so a smaller `limit` keeps a prefix, and
    datasets with the same salt share their first prompts.
    """
    table, source = _dataset_prompts(spec.dataset, spec.scale, spec.held_out)
    order = np.argsort(_stable_uniform(spec.held_out.salt, list(table["prompt_id"])), kind="stable")
    chosen = table.iloc[order[:limit]].reset_index(drop=True)
    return chosen.assign(prompt_source=source)
