"""The response corpus, read: prompts written for the project, answered by the embedded model in
five response styles, and scored by the project's scorers. `pluralign.behaviour.corpus` builds it
(`pluralign data corpus`); this module only reads it, so the data stage needs no model.

The study's raters rated LLM responses; its data is not public. This corpus is the stand-in that
the simulated raters of `study-sim` rate. A 135M model barely follows a system prompt, so each
style also gives the reply a prefilled opening (configs/corpus.yml); the opening is part of the
response. The card (`card.json`) records the model, decoding, seeds, wall time and whether the
styles genuinely spread on toxicity and emotional awareness.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pluralign.paths import project_root

#: The contrasts a usable corpus must show, each with a bootstrap CI over prompts excluding 0:
#: (metric, higher style, lower style).
REQUIRED_SPREAD = (
    ("toxicity", "hostile", "caring"),
    ("emotional_awareness", "caring", "terse"),
    ("emotional_awareness", "caring", "dismissive"),
)


def corpus_dir() -> Path:
    return project_root() / "data" / "corpus"


def responses_path() -> Path:
    return corpus_dir() / "responses.csv"


def load_prompts() -> pd.DataFrame:
    """The prompts (prompt_id, kind: emotional | provocative, topic, prompt)."""
    return pd.read_csv(corpus_dir() / "prompts.csv", dtype=str)


def load_corpus() -> pd.DataFrame:
    """The generated responses with their scores; one row per (prompt, style)."""
    path = responses_path()
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: build it with `pluralign data corpus`")
    return pd.read_csv(path, dtype={"prompt_id": str, "response_id": str})


def load_card() -> dict[str, Any]:
    return json.loads((corpus_dir() / "card.json").read_text())


def style_summary(responses: pd.DataFrame) -> pd.DataFrame:
    """Per style: mean, median and quartiles of toxicity and EA, and mean generated tokens."""
    grouped = responses.groupby("style", sort=False)
    summary = grouped[["toxicity", "emotional_awareness"]].describe(percentiles=[0.25, 0.5, 0.75])
    summary.columns = [f"{metric} {statistic}" for metric, statistic in summary.columns]
    keep = [
        column
        for column in summary.columns
        if column.split(" ")[-1] in ("mean", "25%", "50%", "75%")
    ]
    result = summary[keep].copy()
    result["new tokens (mean)"] = grouped["new_tokens"].mean()
    return result


def style_spread(
    responses: pd.DataFrame, bootstrap_samples: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """Paired differences between styles (same prompts), with 95% bootstrap CIs over prompts."""
    rng = np.random.default_rng(seed)
    rows = []
    for metric, higher, lower in REQUIRED_SPREAD:
        wide = responses.pivot_table(index="prompt_id", columns="style", values=metric)
        difference = (wide[higher] - wide[lower]).dropna().to_numpy()
        draws = rng.integers(0, len(difference), (bootstrap_samples, len(difference)))
        means = difference[draws].mean(axis=1)
        low, high = np.percentile(means, [2.5, 97.5])
        rows.append(
            {
                "metric": metric,
                "contrast": f"{higher} − {lower}",
                "mean_difference": float(difference.mean()),
                "ci_low": float(low),
                "ci_high": float(high),
                "prompts": len(difference),
                "holds": bool(low > 0),
            }
        )
    return pd.DataFrame(rows)
