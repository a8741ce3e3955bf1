"""Behaviour statistics on hand-made score tables: means, paired differences from the base model,
toxicity reductions and their ratios (the undefined-denominator case included), the cross-group
matrix, C7 and C8, and the C4 permutation tests with their false-positive rate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pluralign.behaviour import conditions, groups, metrics
from pluralign.behaviour.collect import TABLE_COLUMNS
from pluralign.stats import testing

PROMPTS = [f"q{index:02d}" for index in range(12)]
BASE_KEY = "base-000000000000"


def model_rows(
    model: str,
    metric: str,
    per_prompt: np.ndarray | float,
    seed: int = 0,
    group: str = "all",
    contrast: str | None = None,
    dataset: str = "d",
    scale: str = "5pt",
    aggregation: str = "preserve",
    values: str = "multi",
    optimiser: str = "dpo",
    samples: int = 2,
    noise: float = 0.0,
    rng: np.random.Generator | None = None,
) -> pd.DataFrame:
    """Score rows of one model (`model == base` makes base rows) for one metric."""
    rng = rng or np.random.default_rng(0)
    means = np.broadcast_to(np.asarray(per_prompt, dtype=np.float64), (len(PROMPTS),))
    is_base = model == "base"
    rows = []
    for prompt, mean in zip(PROMPTS, means, strict=True):
        for sample in range(samples):
            rows.append(
                {
                    "model": BASE_KEY if is_base else f"{model}-s{seed}",
                    "label": model,
                    "kind": "base" if is_base else "tuned",
                    "base_key": BASE_KEY,
                    "dataset": dataset,
                    "group": "base" if is_base else group,
                    "contrast": None if is_base else (contrast or group),
                    "scale": None if is_base else scale,
                    "aggregation": None if is_base else aggregation,
                    "values": None if is_base else values,
                    "optimiser": None if is_base else optimiser,
                    "seed": seed,
                    "prompt_id": prompt,
                    "sample": sample,
                    "scorer": "test-scorer",
                    "metric": metric,
                    "score": mean + noise * rng.normal(),
                }
            )
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def table(*parts: pd.DataFrame) -> pd.DataFrame:
    return pd.concat(parts, ignore_index=True)


PROMPT_EFFECT = np.linspace(-0.05, 0.05, len(PROMPTS))


def only(frame: pd.DataFrame, **where: object) -> pd.Series:
    mask = np.ones(len(frame), dtype=bool)
    for column, value in where.items():
        mask &= (frame[column] == value).to_numpy()
    assert mask.sum() == 1, f"{mask.sum()} rows match {where}"
    return frame[mask].iloc[0]


def test_mean_per_model_with_a_ci_over_prompts() -> None:
    scores = table(model_rows("m", "toxicity", 0.3 + PROMPT_EFFECT))
    row = only(metrics.means(scores, n_boot=500), model="m-s0")
    assert row["value"] == pytest.approx(0.3)
    assert row["ci_low"] < 0.3 < row["ci_high"]
    assert (row["n"], row["n_prompts"], row["n_seeds"], row["defined"]) == (12, 12, 1, True)
    assert row["group"] == "all" and row["seed"] == 0


def test_difference_from_base_is_paired_by_prompt() -> None:
    """A constant shift on top of large prompt effects: the paired CI has no width."""
    effects = np.linspace(-1, 1, len(PROMPTS))
    scores = table(
        model_rows("base", "toxicity", 0.5 + effects),
        model_rows("m", "toxicity", 0.4 + effects),
    )
    row = only(metrics.base_differences(scores, n_boot=500), model="m-s0")
    assert row["value"] == pytest.approx(-0.1)
    assert row["ci_low"] == pytest.approx(-0.1) and row["ci_high"] == pytest.approx(-0.1)


def test_condition_means_pool_seeds_and_pair_each_seed_with_its_base() -> None:
    scores = table(
        model_rows("base", "toxicity", 0.5, seed=0),
        model_rows("base", "toxicity", 0.7, seed=1),
        model_rows("m", "toxicity", 0.4, seed=0),
        model_rows("m", "toxicity", 0.6, seed=1),
    )
    by = metrics.CONDITION_COLUMNS
    pooled = only(metrics.means(scores, by=by, n_boot=300), group="all")
    assert pooled["value"] == pytest.approx(0.5) and pooled["n_seeds"] == 2
    difference = only(metrics.base_differences(scores, by=by, n_boot=300), group="all")
    assert difference["value"] == pytest.approx(-0.1)
    assert difference["ci_high"] == pytest.approx(-0.1)  # every seed draw: the same shift


def test_toxicity_reduction_and_its_undefined_case() -> None:
    scores = table(
        model_rows("base", "toxicity", 0.4 + PROMPT_EFFECT / 10),
        model_rows("m", "toxicity", 0.2 + PROMPT_EFFECT / 10),
    )
    row = only(metrics.toxicity_reductions(scores, n_boot=300), model="m-s0")
    assert row["value"] == pytest.approx(0.5, abs=0.01) and row["defined"]

    zero_base = table(
        model_rows("base", "toxicity", PROMPT_EFFECT), model_rows("m", "toxicity", 0.1)
    )
    row = only(metrics.toxicity_reductions(zero_base, n_boot=300), model="m-s0")
    assert not row["defined"] and np.isnan(row["value"]) and "base model" in row["reason"]


def design_scores(majority_toxicity: float | np.ndarray, noise: float = 0.01) -> pd.DataFrame:
    """Base 0.4; preserve 0.2 (reduction 0.5); majority as given; two seeds each."""
    rng = np.random.default_rng(3)
    parts = []
    for seed in (0, 1):
        parts.append(model_rows("base", "toxicity", 0.4, seed=seed, noise=noise, rng=rng))
        parts.append(
            model_rows(
                "p", "toxicity", 0.2, seed=seed, aggregation="preserve", noise=noise, rng=rng
            )
        )
        parts.append(
            model_rows(
                "m",
                "toxicity",
                majority_toxicity,
                seed=seed,
                aggregation="majority",
                noise=noise,
                rng=rng,
            )
        )
    return table(*parts)


def test_reduction_ratio_preserve_vs_majority() -> None:
    result = conditions.reduction_ratios(design_scores(0.3), **conditions.C5, n_boot=500)
    assert only(result, quantity="reduction_a")["value"] == pytest.approx(0.5, abs=0.03)
    assert only(result, quantity="reduction_b")["value"] == pytest.approx(0.25, abs=0.03)
    ratio = only(result, quantity="ratio")
    assert ratio["defined"] and ratio["value"] == pytest.approx(1.0, abs=0.15)
    assert ratio["ci_low"] < ratio["value"] < ratio["ci_high"]
    assert ratio["n_seeds"] == 2 and ratio["n_prompts"] == len(PROMPTS)


@pytest.mark.parametrize(
    ("majority", "why"),
    [(0.4, "reduction nil"), (0.45, "toxicity rose")],
)
def test_ratio_with_a_reference_reduction_not_above_zero_is_undefined(
    majority: float, why: str
) -> None:
    result = conditions.reduction_ratios(design_scores(majority), **conditions.C5, n_boot=500)
    ratio = only(result, quantity="ratio")
    assert not ratio["defined"], why
    assert np.isnan(ratio["value"]) and np.isnan(ratio["ci_low"]) and np.isnan(ratio["ci_high"])
    assert "majority" in ratio["reason"] and "does not lie above 0" in ratio["reason"]
    difference = only(result, quantity="difference")  # still reported: an absolute difference
    assert difference["defined"] and difference["value"] > 0


def test_ratio_summary_puts_one_stratum_on_one_line() -> None:
    defined = conditions.ratio_summary(
        conditions.reduction_ratios(design_scores(0.3), **conditions.C5, n_boot=300)
    )
    assert len(defined) == 1
    line = defined.iloc[0]
    assert line["held fixed"] == "all · 5pt · multi · dpo"

    def point(text: str) -> float:
        return float(text.split(" [")[0])

    assert point(line["reduction (preserve)"]) == pytest.approx(0.5, abs=0.03)
    assert point(line["reduction (majority)"]) == pytest.approx(0.25, abs=0.03)
    assert point(line["ratio"]) == pytest.approx(1.0, abs=0.15) and line["why undefined"] == ""
    undefined = conditions.ratio_summary(
        conditions.reduction_ratios(design_scores(0.4), **conditions.C5, n_boot=300)
    ).iloc[0]
    assert (
        undefined["ratio"] == "undefined" and "does not lie above 0" in undefined["why undefined"]
    )
    assert conditions.ratio_summary(pd.DataFrame()).empty


def test_optimiser_comparison_names_the_better_optimiser() -> None:
    scores = table(
        model_rows("d", "toxicity", 0.2 + PROMPT_EFFECT, optimiser="dpo"),
        model_rows("g", "toxicity", 0.3 + PROMPT_EFFECT, optimiser="grpo"),
        model_rows("d", "emotional_awareness", 1.0 + PROMPT_EFFECT, optimiser="dpo"),
        model_rows("g", "emotional_awareness", 1.0 + PROMPT_EFFECT, optimiser="grpo"),
    )
    result = conditions.optimiser_comparison(scores, n_boot=300)
    toxicity = only(result, metric="toxicity")
    assert toxicity["value"] == pytest.approx(-0.1) and toxicity["favours"] == "dpo"
    assert not toxicity["higher_is_better"]
    assert only(result, metric="emotional_awareness")["favours"] == "neither"


#: Mean reward of each group's model (key) under each group's reward model.
GROUP_REWARDS = {
    "female": {"reward:female": 1.0, "reward:male": 0.0},
    "male": {"reward:female": 0.2, "reward:male": 0.6},
}


def group_scores() -> pd.DataFrame:
    """Female and male models under both groups' reward models: each model is better under its
    own group's reward model than the other group's model is."""
    rng = np.random.default_rng(5)
    parts = [
        model_rows(group, metric, level, group=group, contrast="female/male", noise=0.05, rng=rng)
        for group, levels in GROUP_REWARDS.items()
        for metric, level in levels.items()
    ]
    return table(*parts)


def test_cross_group_matrix_and_own_group_advantage() -> None:
    scores = group_scores()
    matrix = groups.cross_group_matrix(scores, n_boot=300)
    assert len(matrix) == 4
    for model_group, levels in GROUP_REWARDS.items():
        for metric, level in levels.items():
            cell = only(matrix, model_group=model_group, reward_group=metric.split(":")[1])
            assert cell["value"] == pytest.approx(level, abs=0.05)
    advantage = groups.own_group_advantage(scores, n_boot=300)
    female = only(advantage, reward_group="female")
    assert female["other_group"] == "male"
    assert female["value"] == pytest.approx(1.0 - 0.2, abs=0.05) and female["ci_low"] > 0
    male = only(advantage, reward_group="male")
    assert male["value"] == pytest.approx(0.6 - 0.0, abs=0.05) and male["ci_low"] > 0


def test_cross_group_matrix_relative_to_the_base_model() -> None:
    scores = table(group_scores(), model_rows("base", "reward:female", 0.5))
    matrix = groups.cross_group_matrix(scores, relative_to_base=True, n_boot=300)
    cell = only(matrix, model_group="female", reward_group="female")
    assert cell["value"] == pytest.approx(0.5, abs=0.05)
    assert not only(matrix, model_group="female", reward_group="male")["defined"]


def test_c8_percentage_points_and_undefined_relative_gaps() -> None:
    scores = table(
        model_rows("base", "toxicity", 0.4),
        model_rows(
            "l",
            "toxicity",
            0.3 + PROMPT_EFFECT / 10,
            group="liberal",
            contrast="conservative/liberal",
        ),
        model_rows(
            "c",
            "toxicity",
            0.36 + PROMPT_EFFECT / 10,
            group="conservative",
            contrast="conservative/liberal",
        ),
        model_rows("base", "emotional_awareness", PROMPT_EFFECT),
        model_rows(
            "l", "emotional_awareness", 1.0, group="liberal", contrast="conservative/liberal"
        ),
        model_rows(
            "c", "emotional_awareness", 0.5, group="conservative", contrast="conservative/liberal"
        ),
    )
    result = groups.percentage_point_gaps(
        scores, [("liberal", "conservative"), ("white", "black"), ("female", "male")], n_boot=300
    )
    toxicity = result[result["metric"] == "toxicity"]
    assert only(toxicity, quantity="improvement_a_percent")["value"] == pytest.approx(25, abs=0.5)
    assert only(toxicity, quantity="gap_pp")["value"] == pytest.approx(15, abs=0.5)
    assert only(toxicity, quantity="difference")["value"] == pytest.approx(-0.06, abs=1e-6)
    ea = result[result["metric"] == "emotional_awareness"]
    assert only(ea, quantity="difference")["value"] == pytest.approx(0.5)
    gap = only(ea, quantity="gap_pp")
    assert not gap["defined"] and np.isnan(gap["value"]) and "includes 0" in gap["reason"]


def test_results_are_seeded_and_do_not_depend_on_other_models() -> None:
    scores = group_scores()
    first = groups.own_group_advantage(scores, n_boot=200, seed=1)
    assert first.equals(groups.own_group_advantage(scores, n_boot=200, seed=1))
    other = groups.own_group_advantage(scores, n_boot=200, seed=2)
    assert not first["ci_low"].equals(other["ci_low"])
    extra = model_rows("x", "reward:female", 0.3, dataset="other")
    again = groups.own_group_advantage(table(scores, extra), n_boot=200, seed=1)
    assert first.equals(again)


# --------------------------------------------------------------------------------------------
# C4


def test_group_difference_tests_detect_a_real_difference() -> None:
    rng = np.random.default_rng(11)
    effects = rng.normal(0, 0.2, len(PROMPTS))
    scores = table(
        model_rows(
            "f",
            "toxicity",
            0.3 + effects,
            group="female",
            contrast="female/male",
            noise=0.02,
            rng=rng,
        ),
        model_rows(
            "m",
            "toxicity",
            0.4 + effects,
            group="male",
            contrast="female/male",
            noise=0.02,
            rng=rng,
        ),
    )
    result = groups.group_difference_tests(scores, n_perm=2000, n_boot=300)
    row = only(result, metric="toxicity")
    assert (row["group_a"], row["group_b"]) == ("female", "male")
    assert row["value"] == pytest.approx(-0.1, abs=0.02)
    assert row["p_value"] < 0.01 and row["method"].startswith("sign flip")
    assert row["p_holm"] == pytest.approx(row["p_value"])


def test_group_difference_tests_permute_labels_among_seeds() -> None:
    rng = np.random.default_rng(12)
    parts = []
    for seed in range(3):
        for group, level in (("female", 0.3), ("male", 0.5)):
            parts.append(
                model_rows(
                    group,
                    "toxicity",
                    level,
                    seed=seed,
                    group=group,
                    contrast="female/male",
                    noise=0.01,
                    rng=rng,
                )
            )
    row = only(groups.group_difference_tests(table(*parts), n_boot=200), metric="toxicity")
    assert row["method"].startswith("group labels permuted")
    assert (row["n_models_a"], row["n_models_b"], row["permutations"]) == (3, 3, 20)
    assert row["exact"] and row["p_value"] == pytest.approx(0.1) == row["min_p"]


def test_sign_flip_test_is_exact_for_few_prompts() -> None:
    result = testing.sign_flip_test(np.array([1.0, 2.0, 3.0]), n_perm=100)
    assert result["exact"] and result["permutations"] == 8
    assert result["p_value"] == pytest.approx(2 / 8)


def test_permutation_tests_false_positive_rate_is_near_nominal() -> None:
    """Identically distributed models (same prompt effects, independent sampling noise): the
    sign-flip test rejects at 5% about 5% of the time; the exact label permutation among 4 + 4
    models with seed effects never rejects more often than nominal."""
    rng = np.random.default_rng(2024)
    repetitions, prompts, samples = 400, 16, 2
    sign_rejections = label_rejections = 0
    for _ in range(repetitions):
        effects = rng.normal(0, 1, prompts)
        draws = effects + rng.normal(0, 0.5, (2, samples, prompts))
        per_prompt = draws.mean(axis=1)
        test = testing.sign_flip_test(per_prompt[0] - per_prompt[1], n_perm=999, rng=rng)
        sign_rejections += test["p_value"] <= 0.05
        seed_effects = rng.normal(0, 0.3, 8)
        model_means = seed_effects + rng.normal(0, 0.1, 8)
        test = testing.label_permutation_test(model_means[:4], model_means[4:], rng=rng)
        label_rejections += test["p_value"] <= 0.05
    assert 0.02 <= sign_rejections / repetitions <= 0.08
    assert label_rejections / repetitions <= 0.08


def test_holm_adjustment() -> None:
    adjusted = testing.holm([0.01, 0.04, np.nan, 0.03])
    assert adjusted[0] == pytest.approx(0.03)
    assert adjusted[3] == pytest.approx(0.06) and adjusted[1] == pytest.approx(0.06)
    assert np.isnan(adjusted[2])


def test_metric_orientation() -> None:
    assert metrics.metric_orientation("toxicity") == -1
    assert metrics.metric_orientation("emotional_awareness") == 1
    assert metrics.metric_orientation("reward:female") == 1
    assert metrics.metric_orientation("rating:female:stereotypical_bias") == -1
    assert metrics.metric_orientation("rating:female:helpfulness") == 1
