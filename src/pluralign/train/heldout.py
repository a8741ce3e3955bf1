"""Evaluation of a run on held-out pairs, with two-way cluster bootstrap CIs (raters × items).

For each held-out pair the DPO implicit reward margin is
`β·[(log π(chosen) − log π_ref(chosen)) − (log π(rejected) − log π_ref(rejected))]`, with π the
tuned model and π_ref the base (the adapter disabled). The base model's margin is identically 0,
so its preference accuracy is 0.5 (chance). Reported: the tuned model's preference accuracy
(margin > 0, ties count ½), the mean margin, and the likelihood preference accuracy
(log π(chosen) > log π(rejected)) of base and tuned, each with a 95% CI from a two-way cluster
bootstrap: raters and items are resampled independently and a pair's weight is the product of its
rater's and its items' resampling counts (the pigeonhole bootstrap,
`pluralign.stats.rater_item.observation_mean_bootstrap`). A run `moved` when the CI of
accuracy − 0.5 or that of the mean margin excludes 0.

Log-probabilities depend only on (prompt, response), so they are computed once per held-out
response, not per pair: the cost of evaluation grows with held-out items, not pairs.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from pluralign.stats.intervals import CONFIDENCE, percentile_interval
from pluralign.stats.rater_item import ObservationClusters, observation_mean_bootstrap
from pluralign.train.sequences import (
    encode_many,
    first_adapted_layer,
    layer_logps,
    memoised_reference,
    partial_forward_matches,
    sequence_logps,
    truncate_texts,
)
from pluralign.train.spec import HyperParams

# --------------------------------------------------------------------------------------------
# the clusters of held-out pairs


def pair_clusters(pairs: pd.DataFrame, item_unit: str) -> ObservationClusters:
    """Clusters of held-out pairs: their rater (every rater behind an aggregated pair, averaged)
    and their items (the prompt when items are prompts, else both responses)."""
    raters = [
        [str(rater)] if isinstance(rater, str) else [str(name) for name in listed]
        for rater, listed in zip(pairs["rater_id"], pairs["raters"], strict=True)
    ]
    if item_unit == "prompt":
        items = pairs["prompt_id"].astype(str).to_numpy()
    else:
        items = pairs[["chosen_id", "rejected_id"]].astype(str).to_numpy()
    return ObservationClusters.from_codes(raters, items)


# --------------------------------------------------------------------------------------------
# log-probabilities and metrics


def response_table(pairs: pd.DataFrame) -> pd.DataFrame:
    """The distinct (prompt, response) of a set of pairs, with the pair columns that point at
    them (`chosen_row`, `rejected_row`)."""
    chosen = pairs[["prompt_id", "prompt", "chosen_id", "chosen"]].set_axis(
        ["prompt_id", "prompt", "response_id", "response"], axis=1
    )
    rejected = pairs[["prompt_id", "prompt", "rejected_id", "rejected"]].set_axis(
        ["prompt_id", "prompt", "response_id", "response"], axis=1
    )
    return (
        pd.concat([chosen, rejected])
        .drop_duplicates(["prompt_id", "response_id"])
        .sort_values(["prompt_id", "response_id"])
        .reset_index(drop=True)
    )


def response_logps(
    model: Any,
    tokenizer: Any,
    responses: pd.DataFrame,
    hyper: HyperParams,
    reference_key: tuple[Any, ...] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(tuned, reference) log π(response | prompt) per row of `responses`; the reference is the
    model with its adapter disabled. When the adapter sits in the top layers only, the tuned pass
    runs just those layers from the reference pass's states (checked on the first rows)."""
    prompts = truncate_texts(tokenizer, list(responses["prompt"]), hyper.max_prompt_tokens)
    texts = truncate_texts(tokenizer, list(responses["response"]), hyper.max_response_tokens)
    encoded = encode_many(tokenizer, prompts, texts)
    pad = tokenizer.pad_token_id
    cut = first_adapted_layer(model)
    reference, hidden = memoised_reference(
        model, list(zip(prompts, texts, strict=True)), encoded, pad, cut, reference_key
    )
    if cut is not None:
        probe = list(range(min(4, len(encoded))))
        if partial_forward_matches(
            model,
            cut,
            [encoded[i] for i in probe],
            [hidden[i] for i in probe],
            reference[probe],
            pad,
        ):
            return layer_logps(model, cut, encoded, hidden, pad), reference
    return sequence_logps(model, encoded, pad), reference


def _share_greater(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """1 where left > right, ½ on ties, 0 otherwise."""
    return (left > right).astype(float) + 0.5 * (left == right)


def preference_metrics(
    scored: pd.DataFrame, clusters: ObservationClusters, samples: int, seed: int
) -> dict[str, Any]:
    """Accuracy, margin and likelihood accuracies with their two-way cluster bootstrap CIs."""
    columns = {
        "preference_accuracy": _share_greater(scored["margin"].to_numpy(), np.zeros(len(scored))),
        "mean_margin": scored["margin"].to_numpy(),
        "likelihood_accuracy_base": _share_greater(
            scored["ref_chosen"].to_numpy(), scored["ref_rejected"].to_numpy()
        ),
        "likelihood_accuracy_tuned": _share_greater(
            scored["tuned_chosen"].to_numpy(), scored["tuned_rejected"].to_numpy()
        ),
    }
    columns["likelihood_accuracy_gain"] = (
        columns["likelihood_accuracy_tuned"] - columns["likelihood_accuracy_base"]
    )
    names = list(columns)
    matrix = np.column_stack([columns[name] for name in names])
    replicates = observation_mean_bootstrap(matrix, clusters, samples=samples, seed=seed)
    result: dict[str, Any] = {}
    for index, name in enumerate(names):
        low, high = percentile_interval(replicates[:, index])
        result[name] = {"estimate": float(matrix[:, index].mean()), "ci_low": low, "ci_high": high}
    accuracy, margin = result["preference_accuracy"], result["mean_margin"]
    accuracy_moved = accuracy["ci_low"] > 0.5 or accuracy["ci_high"] < 0.5
    margin_moved = margin["ci_low"] > 0 or margin["ci_high"] < 0
    result["moved"] = bool(accuracy_moved or margin_moved)
    result["moved_rule"] = "95% CI of (accuracy − 0.5) or of the mean margin excludes 0"
    result["moved_toward_group"] = bool(accuracy["ci_low"] > 0.5)
    result["n_pairs"] = len(scored)
    result["n_raters"] = int(clusters.raters.shape[1])
    result["n_items"] = int(clusters.items.max()) + 1 if len(scored) else 0
    result["bootstrap_samples"] = samples
    result["confidence"] = CONFIDENCE
    return result


def evaluate_run(
    model: Any,
    tokenizer: Any,
    eval_pairs: pd.DataFrame,
    hyper: HyperParams,
    item_unit: str,
    seed: int,
    reference_key: tuple[Any, ...] | None = None,
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Score held-out pairs under the tuned model and its reference; returns (metrics, per-pair
    table, per-response table)."""
    started = time.perf_counter()
    if eval_pairs.empty:
        return {"n_pairs": 0, "moved": False, "note": "no held-out pairs"}, eval_pairs, eval_pairs
    responses = response_table(eval_pairs)
    tuned, reference = response_logps(model, tokenizer, responses, hyper, reference_key)
    responses = responses.assign(logp_tuned=tuned, logp_ref=reference)
    lookup = responses.set_index(["prompt_id", "response_id"])
    chosen = lookup.loc[list(zip(eval_pairs["prompt_id"], eval_pairs["chosen_id"], strict=True))]
    rejected = lookup.loc[
        list(zip(eval_pairs["prompt_id"], eval_pairs["rejected_id"], strict=True))
    ]
    scored = pd.DataFrame(
        {
            "prompt_id": eval_pairs["prompt_id"].to_numpy(),
            "chosen_id": eval_pairs["chosen_id"].to_numpy(),
            "rejected_id": eval_pairs["rejected_id"].to_numpy(),
            "rater_id": eval_pairs["rater_id"].to_numpy(),
            "raters": eval_pairs["raters"].to_numpy(),
            "tuned_chosen": chosen["logp_tuned"].to_numpy(),
            "tuned_rejected": rejected["logp_tuned"].to_numpy(),
            "ref_chosen": chosen["logp_ref"].to_numpy(),
            "ref_rejected": rejected["logp_ref"].to_numpy(),
        }
    )
    scored["margin"] = hyper.dpo_beta * (
        (scored["tuned_chosen"] - scored["ref_chosen"])
        - (scored["tuned_rejected"] - scored["ref_rejected"])
    )
    logp_seconds = time.perf_counter() - started
    metrics = preference_metrics(
        scored, pair_clusters(eval_pairs, item_unit), hyper.bootstrap_samples, seed
    )
    metrics["item_unit"] = item_unit
    metrics["n_responses"] = len(responses)
    metrics["logp_seconds"] = round(logp_seconds, 2)
    metrics["seconds"] = round(time.perf_counter() - started, 2)
    metrics["seconds_per_1000_pairs"] = round(1000 * metrics["seconds"] / len(scored), 2)
    return metrics, scored, responses.drop(columns=["prompt", "response"])
