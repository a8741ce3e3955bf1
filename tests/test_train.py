"""The fine-tuning package: specs, the held-out split, reward models, the bootstrap, and smoke
DPO and GRPO runs on the tiny random Llama (slow: tens of seconds on two cores)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from pluralign.data.loaders import load_ratings
from pluralign.pairs.build import build_pairs
from pluralign.stats.intervals import percentile_interval
from pluralign.stats.rater_item import ObservationClusters, observation_mean_bootstrap
from pluralign.train import heldout, inputs, reward, spec, store
from pluralign.train.dpo import dpo_loss

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def smoke_profile() -> spec.SweepProfile:
    return spec.load_profile("smoke", datasets=["example"])


def _spec(smoke_profile: spec.SweepProfile, optimiser: str) -> spec.RunSpec:
    return next(item for item in smoke_profile.specs if item.optimiser == optimiser)


# --------------------------------------------------------------------------------------------
# specs


def test_run_id_is_a_hash_of_every_field(smoke_profile: spec.SweepProfile) -> None:
    base = _spec(smoke_profile, "dpo")
    assert len(base.run_id) == spec.RUN_ID_LENGTH
    assert spec.spec_from_dict(json.loads(base.canonical_json())) == base
    changed = [
        dataclasses.replace(base, seed=base.seed + 1),
        dataclasses.replace(base, data_sha256="0" * 64),
        dataclasses.replace(base, code_version="other"),
        dataclasses.replace(base, hyper=dataclasses.replace(base.hyper, learning_rate=0.5)),
        dataclasses.replace(base, held_out=dataclasses.replace(base.held_out, fraction=0.3)),
        dataclasses.replace(base, balance_with=("male",)),
    ]
    assert len({item.run_id for item in changed} | {base.run_id}) == len(changed) + 1


def test_profile_records_what_it_skips(smoke_profile: spec.SweepProfile) -> None:
    assert {item.optimiser for item in smoke_profile.specs} == {"dpo", "grpo"}
    assert all(item.libraries is not None and item.code_version for item in smoke_profile.specs)


def test_unknown_profile_keys_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("datasets: {example: {groups: [all]}}\nhyper: {stepz: 3}\n")
    with pytest.raises(spec.SpecError, match="stepz"):
        spec.load_profile(str(path))


def test_a_dataset_may_list_blocks_and_blocks_may_not_repeat_runs(tmp_path: Path) -> None:
    path = tmp_path / "blocks.yml"
    path.write_text(
        "base_model: tiny-random-llama\n"
        "datasets:\n"
        "  example:\n"
        "    - {groups: [all], optimisers: [dpo],\n"
        "       conditions: {aggregation: [majority, preserve]}}\n"
        "    - {groups: [all], optimisers: [grpo]}\n"
    )
    labels = sorted(run.label for run in spec.load_profile(str(path)).specs)
    assert labels == [
        "example/all/5pt-majority-multi/dpo/seed0",
        "example/all/5pt-preserve-multi/dpo/seed0",
        "example/all/5pt-preserve-multi/grpo/seed0",
    ]
    path.write_text(
        "base_model: tiny-random-llama\n"
        "datasets:\n  example:\n    - {groups: [all]}\n    - {groups: [all]}\n"
    )
    with pytest.raises(spec.SpecError, match="repeat"):
        spec.load_profile(str(path))


def test_contrasts_pair_every_member_with_the_others() -> None:
    block = spec.SweepDatasetBlock(groups=("all",), contrasts=(("a", "b", "c"),))
    result = spec._contrasts(block, "d")
    assert result == [("a", "b", "c"), ("b", "a", "c"), ("c", "a", "b"), ("all",)]


# --------------------------------------------------------------------------------------------
# held-out split


def _assert_split_by_item(ratings: pd.DataFrame, design: spec.HeldOutDesign, group: str) -> None:
    split = inputs.split_items(ratings, design)
    held = set(split.response_is_held_out(ratings).loc[lambda s: s].index)
    pairs = build_pairs(ratings, group, "5pt", "preserve", "multi")
    train, held_pairs = inputs.split_pairs(pairs, held)
    assert not train.empty and not held_pairs.empty
    training_responses = set(train["chosen_id"]) | set(train["rejected_id"])
    assert not training_responses & held, "a held-out response appears in a training pair"
    assert set(held_pairs["chosen_id"]) | set(held_pairs["rejected_id"]) <= held


def test_held_out_split_is_by_item_on_the_example() -> None:
    ratings = load_ratings("example")
    _assert_split_by_item(ratings, spec.HeldOutDesign("prompt", 0.5, salt="a"), "all")
    _assert_split_by_item(ratings, spec.HeldOutDesign("response", 0.5, salt="a"), "all")


def test_held_out_split_is_by_item_on_popquorn(mirror: Path) -> None:
    ratings = load_ratings("popquorn")
    design = spec.HeldOutDesign(fraction=0.25)
    assert inputs.held_out_unit(ratings, design) == "response"
    _assert_split_by_item(ratings, design, "female")
    female = inputs.split_items(ratings[ratings["gender"] == "female"], design)
    everyone = inputs.split_items(ratings, design)
    assert female.held_out_ids <= everyone.held_out_ids  # the hash, not the group, decides


def test_run_inputs_balance_and_cap(mirror: Path) -> None:
    ratings = load_ratings("popquorn")
    run_spec = spec.RunSpec(
        dataset="popquorn",
        data_sha256=ratings.attrs["sha256"],
        group="black",
        balance_with=("white",),
        scale="5pt",
        aggregation="preserve",
        values="multi",
        optimiser="dpo",
        base_model="tiny-random-llama",
        base_model_sha256="x",
        seed=0,
        hyper=spec.HyperParams(steps=4, batch_size=8, eval_pair_cap=500),
        held_out=spec.HeldOutDesign(fraction=0.25),
    )
    result = inputs.run_inputs(run_spec, ratings)
    counts = result.counts
    assert counts["train_pairs_balanced"] == min(
        counts["train_pairs_available_black"], counts["train_pairs_available_white"]
    )
    assert len(result.train_pairs) == 32
    assert len(result.eval_pairs) == 500


# --------------------------------------------------------------------------------------------
# bootstrap and metrics


def test_bootstrap_of_a_constant_has_no_width() -> None:
    clusters = ObservationClusters.from_codes([["r1"], ["r2"], ["r3"]], np.array(["a", "b", "c"]))
    replicates = observation_mean_bootstrap(np.ones(3), clusters, samples=50)
    drawn = replicates[~np.isnan(replicates)]  # a draw can miss every pair: NaN, ignored
    assert len(drawn) > 25 and np.allclose(drawn, 1.0)
    assert percentile_interval(replicates) == (1.0, 1.0)


def test_bootstrap_widens_with_rater_clustering() -> None:
    """Ten raters, twenty pairs each, every pair of a rater alike (half the raters all 1, half
    all 0): the information is in ten raters, not 200 pairs. The rater-clustered standard error
    is near 0.5/sqrt(10) ≈ 0.16; an i.i.d. bootstrap would give 0.5/sqrt(200) ≈ 0.035."""
    raters = [[f"r{index // 20}"] for index in range(200)]
    values = np.array([(index // 20) % 2 for index in range(200)], dtype=float)
    items = np.array([f"i{index}" for index in range(200)])
    clusters = ObservationClusters.from_codes(raters, items)
    replicates = observation_mean_bootstrap(values, clusters, samples=2000, seed=1)[:, 0]
    assert abs(np.nanmean(replicates) - 0.5) < 0.03
    assert 0.12 < np.nanstd(replicates) < 0.2
    low, high = percentile_interval(replicates)
    assert low < 0.3 and high > 0.7


def test_bootstrap_weights_aggregated_pairs_by_their_raters() -> None:
    items = np.array([["x", "y"], ["y", "z"]])
    clusters = ObservationClusters.from_codes([["a", "b"], ["b"]], items)
    assert np.allclose(clusters.raters.toarray(), [[0.5, 0.5], [0.0, 1.0]])
    assert clusters.items.shape == (2, 2)


def test_preference_metrics_on_a_hand_made_case() -> None:
    scored = pd.DataFrame(
        {
            "margin": [0.2, 0.1, -0.1, 0.3],
            "tuned_chosen": [-1.0, -2.0, -3.0, -1.0],
            "tuned_rejected": [-2.0, -1.0, -2.0, -2.0],
            "ref_chosen": [-1.0, -2.0, -3.0, -2.0],
            "ref_rejected": [-2.0, -1.0, -2.0, -1.0],
        }
    )
    clusters = ObservationClusters.from_codes([[f"r{i}"] for i in range(4)], np.arange(4))
    metrics = heldout.preference_metrics(scored, clusters, samples=200, seed=0)
    assert metrics["preference_accuracy"]["estimate"] == pytest.approx(0.75)
    assert metrics["mean_margin"]["estimate"] == pytest.approx(0.125)
    assert metrics["likelihood_accuracy_base"]["estimate"] == pytest.approx(0.25)
    assert metrics["likelihood_accuracy_tuned"]["estimate"] == pytest.approx(0.5)
    assert metrics["n_pairs"] == 4 and metrics["n_raters"] == 4


def test_dpo_loss_matches_the_sigmoid_formula() -> None:
    chosen, rejected = torch.tensor([-3.0, -1.0]), torch.tensor([-2.0, -4.0])
    ref_chosen, ref_rejected = torch.tensor([-2.5, -1.5]), torch.tensor([-2.0, -3.0])
    loss, _, _, margins = dpo_loss(chosen, rejected, ref_chosen, ref_rejected, beta=0.1)
    expected = 0.1 * ((chosen - ref_chosen) - (rejected - ref_rejected))
    assert torch.allclose(margins, expected)
    assert loss.item() == pytest.approx(float(-torch.nn.functional.logsigmoid(expected).mean()))


# --------------------------------------------------------------------------------------------
# reward models


def test_reward_model_fits_and_round_trips(tmp_path: Path) -> None:
    ratings = load_ratings("example")
    # Six responses: leave-one-out would pick the heaviest penalty, so fix a light one here.
    model = reward.fit_reward_model(
        ratings, "all", "5pt", "multi", held_out_responses=set(), alphas=(0.01,)
    )
    for fit in model.card["fit"].values():
        assert fit["train"]["r2"] > 0.5
    model.save(tmp_path)
    again = reward.RewardModel.load(tmp_path)
    prompts, texts = list(ratings["prompt"][:4]), list(ratings["response"][:4])
    assert np.allclose(model.score(prompts, texts), again.score(prompts, texts))
    # Oriented: the response rated least toxic and most aware scores above the worst one.
    best = ratings.pivot_table(index="response_id", columns="dimension", values="score")
    goodness = best["emotional_awareness"] - best["toxicity"]
    rows = ratings.drop_duplicates("response_id").set_index("response_id")
    top, bottom = goodness.idxmax(), goodness.idxmin()
    scores = model.score(
        [rows.loc[top, "prompt"], rows.loc[bottom, "prompt"]],
        [rows.loc[top, "response"], rows.loc[bottom, "response"]],
    )
    assert scores[0] > scores[1]


# --------------------------------------------------------------------------------------------
# smoke runs (tiny model)


@pytest.mark.slow
@pytest.mark.parametrize("optimiser", ["dpo", "grpo"])
def test_smoke_run(optimiser: str, smoke_profile: spec.SweepProfile, smoke_store: Path) -> None:
    """A run of the session's smoke store (`run` through `run_sweep`): its files and figures."""
    from safetensors.torch import load_file

    run_spec = _spec(smoke_profile, optimiser)
    folder = store.find_run(run_spec, smoke_store)
    assert folder == smoke_store / run_spec.run_id and store.is_finished(folder)
    log = pd.read_csv(folder / store.LOG_FILE)
    assert len(log) == run_spec.hyper.steps and log["loss"].notna().all()
    weights = load_file(folder / store.ADAPTER_DIR / "adapter_model.safetensors")
    lora_b = [tensor for name, tensor in weights.items() if "lora_B" in name]
    assert lora_b and any(tensor.abs().sum() > 0 for tensor in lora_b), "adapter did not change"
    metrics = json.loads((folder / store.METRICS_FILE).read_text())
    assert metrics["evaluation"]["n_pairs"] > 0
    assert 0.0 <= metrics["evaluation"]["preference_accuracy"]["estimate"] <= 1.0
    for fit in metrics["reward_model"].values():
        assert fit["train"]["r2"] > 0.5
    if optimiser == "grpo":
        assert metrics["grpo_reward_gain"]["n_prompts"] > 0
    provenance = json.loads((folder / store.PROVENANCE_FILE).read_text())
    assert provenance["device"] in ("cpu", "cuda") and provenance["wall_seconds"] > 0


@pytest.mark.slow
def test_partial_forward_reproduces_the_full_model() -> None:
    """The fast engine's shortcut (cached states of frozen layers) on the tiny model."""
    from peft import get_peft_model

    from pluralign.models.base import tiny_model
    from pluralign.train.dpo import lora_config
    from pluralign.train.sequences import encode_many, first_adapted_layer, reference_pass

    model, tokenizer = tiny_model(seed=0)
    hyper = spec.HyperParams(lora_top_layers=1, lora_r=4)
    policy = get_peft_model(model, lora_config(hyper, model))
    assert first_adapted_layer(policy) == 1
    ratings = load_ratings("example").drop_duplicates("response_id")
    encoded = encode_many(tokenizer, list(ratings["prompt"]), list(ratings["response"]))
    computed = reference_pass(policy, encoded, tokenizer.pad_token_id, cut=1)
    from pluralign.train.sequences import partial_forward_matches

    assert partial_forward_matches(
        policy, 1, encoded, computed.hidden, computed.logps.numpy(), tokenizer.pad_token_id
    )
