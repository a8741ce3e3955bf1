"""The prompts a run is evaluated on: held-out prompts it never trained on (see
`configs/behaviour.yml`), chosen by the same rule that chose its GRPO prompts
(`pluralign.train.inputs.prompt_split`), ordered by their hash value; the first `limit` are kept.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from pluralign.pairs.build import ratings_for_scale
from pluralign.train.inputs import prompt_split, split_items, stable_uniform
from pluralign.train.spec import HeldOutDesign, RunSpec


@lru_cache(maxsize=16)
def _dataset_prompts(dataset: str, scale: str, design: HeldOutDesign) -> tuple[pd.DataFrame, str]:
    """(prompt_id, prompt) of the held-out prompts for a dataset and design, and their source."""
    ratings = ratings_for_scale(dataset, scale)
    prompts = prompt_split(ratings, split_items(ratings, design), design)
    return prompts.held_out.astype(str).reset_index(drop=True), prompts.source


def evaluation_prompts(spec: RunSpec, limit: int) -> pd.DataFrame:
    """The run's evaluation prompts: `prompt_id`, `prompt`, `prompt_source`, at most `limit`.

    Ordered by the stable hash of (salt, prompt id), so a smaller `limit` keeps a prefix, and
    datasets with the same salt share their first prompts.
    """
    table, source = _dataset_prompts(spec.dataset, spec.scale, spec.held_out)
    order = np.argsort(stable_uniform(spec.held_out.salt, list(table["prompt_id"])), kind="stable")
    chosen = table.iloc[order[:limit]].reset_index(drop=True)
    return chosen.assign(prompt_source=source)
