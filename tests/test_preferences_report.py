"""Chapter 03's tables on hand-made ratings whose pairs, contradictions and agreement are known."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from pluralign.pairs import discrimination as mechanism
from pluralign.pairs import plots as pair_plots
from pluralign.pairs import report as preferences
from pluralign.pairs.build import Condition, build_pairs

#: Toxicity (1 = not toxic, 5 = very) of responses r1–r3 per rater. The women rank r1 > r2 > r3
#: (less toxic is better); m1 agrees, m2 and m3 prefer r3 to both others.
TOXICITY = {
    "f1": (1, 2, 3),
    "f2": (1, 3, 5),
    "m1": (1, 2, 3),
    "m2": (3, 4, 2),
    "m3": (3, 4, 2),
}
GENDER = {"f1": "female", "f2": "female", "m1": "male", "m2": "male", "m3": "male"}
RACE = {"f1": "white", "f2": "white", "m1": "black", "m2": "white", "m3": "white"}


def _ratings() -> pd.DataFrame:
    rows = []
    for rater, scores in TOXICITY.items():
        for index, score in enumerate(scores):
            for dimension, value in (("toxicity", score), ("helpfulness", 6 - score)):
                rows.append(
                    {
                        "rating_id": f"{rater}-{index}-{dimension}",
                        "participant_id": rater,
                        "country": None,
                        "gender": GENDER[rater],
                        "race": RACE[rater],
                        "political": None,
                        "age_group": None,
                        "education": None,
                        "prompt_id": "p1",
                        "prompt": "a prompt",
                        "response_id": f"r{index + 1}",
                        "response": f"response {index + 1}",
                        "dimension": dimension,
                        "score": float(value),
                        "scale": "5pt",
                    }
                )
    table = pd.DataFrame(rows)
    table.attrs.update(dataset="handmade", simulated=False)
    return table


@pytest.fixture()
def group_pairs() -> preferences.GroupPairs:
    ratings = _ratings()
    return preferences.GroupPairs({"5pt": ratings, "binary": ratings}, seed=0)


def test_contrast_support_names_what_is_missing(group_pairs: preferences.GroupPairs) -> None:
    support = preferences.contrast_support(group_pairs).set_index("contrast")
    assert bool(support.at["gender", "supported"])
    assert (support.at["gender", "n_raters_a"], support.at["gender", "n_raters_b"]) == (3, 2)
    assert not support.at["political", "supported"]
    assert support.at["political", "note"] == "no rater records political"
    assert not support.at["race", "supported"]
    assert "only 1 black rater(s)" in support.at["race", "note"]


def test_pair_table_counts_contradictions_and_agreement(
    group_pairs: preferences.GroupPairs,
) -> None:
    table = preferences.pair_table(
        group_pairs, preferences.conditions(["5pt"], ["preserve", "majority"], ["toxicity"])
    )
    preserve = table[table["aggregation"] == "preserve"].iloc[0]
    assert (preserve["group_a"], preserve["group_b"]) == ("male", "female")
    assert (preserve["pairs_a"], preserve["pairs_b"], preserve["balanced_pairs"]) == (9, 6, 6)
    # m1's r1>r3 and r2>r3 are reversed by m2 and m3: six of the men's nine pairs
    assert preserve["contradictory_a"] == pytest.approx(6 / 9)
    assert preserve["contradictory_b"] == 0
    # the men prefer r1 to r2 (as the women do) but r3 to both (the women: the reverse)
    assert preserve["shared_pairs"] == 3
    assert preserve["agreement"] == pytest.approx(1 / 3)
    majority = table[table["aggregation"] == "majority"].iloc[0]
    # men's mean toxicity ties r1 and r3: no pair; r1 > r2 agrees, r3 > r2 does not
    assert (majority["shared_pairs"], majority["agreement"]) == (2, 0.5)
    assert majority["contradictory_a"] == 0


def test_pair_table_skips_values_a_dataset_does_not_rate(
    group_pairs: preferences.GroupPairs,
) -> None:
    table = preferences.pair_table(
        group_pairs, preferences.conditions(["binary"], ["preserve"], ["multi", "sensitivity"])
    )
    assert list(table["status"]) == ["reported", "skipped"]
    assert table.iloc[1]["note"] == "handmade has no sensitivity ratings"
    skipped = preferences.skipped_pairs(
        {"handmade": table}, {"handmade": preferences.contrast_support(group_pairs)}
    )
    assert "condition binary-preserve-sensitivity" in set(skipped["what"])
    assert "contrast political" in set(skipped["what"])
    shown = preferences.reported_pairs({"handmade": table})
    assert list(shown["dataset"]) == ["handmade"]
    assert "status" not in shown


def test_multi_on_a_one_dimension_dataset_reuses_that_dimension() -> None:
    ratings = _ratings()
    ratings = ratings[ratings["dimension"] == "toxicity"]
    pairs = preferences.GroupPairs({"5pt": ratings})
    multi = pairs.pairs("gender:male", Condition(values="multi"))
    single = pairs.pairs("gender:male", Condition(values="toxicity"))
    assert multi is single
    assert preferences.multi_vs_single(pairs).empty


def test_split_halves_of_unanimous_raters_agree_fully() -> None:
    ratings = _ratings()
    ratings = ratings[ratings["participant_id"].isin(["f1", "f2", "m1"])]
    pairs = preferences.GroupPairs({"5pt": ratings}, seed=0)
    contrast = next(c for c in preferences.CONTRASTS if c.name == "gender")
    halves = mechanism.split_half_agreement(
        pairs, contrast, Condition(values="toxicity"), repeats=4, seed=3
    )
    assert halves == [1.0, 1.0, 1.0, 1.0]


def test_discrimination_table_puts_agreement_beside_the_slope_gap(
    group_pairs: preferences.GroupPairs,
) -> None:
    gaps = pd.DataFrame(
        [
            {
                "dimension": "toxicity",
                "contrast": "gender",
                "group_a": "male",
                "group_b": "female",
                "status": "reported",
                "slope_a": 0.5,
                "slope_b": 1.0,
                "slope_difference": -0.5,
                "slope_difference_ci_low": -0.9,
                "slope_difference_ci_high": -0.1,
                "pattern": "discrimination",
            },
            {"dimension": "toxicity", "contrast": "race", "status": "skipped"},
        ]
    )
    table = mechanism.discrimination_table(group_pairs, gaps, split_halves=3, seed=0)
    assert len(table) == 1
    row = table.iloc[0]
    assert row["agreement"] == pytest.approx(1 / 3)
    assert row["split_half_low"] <= row["split_half_agreement"] <= row["split_half_high"]
    assert row["excess_disagreement"] == pytest.approx(row["split_half_agreement"] - 1 / 3)
    repeated = mechanism.discrimination_table(group_pairs, gaps, split_halves=3, seed=0)
    pd.testing.assert_frame_equal(table, repeated)
    figure = pair_plots.plot_agreement_vs_discrimination({"handmade": table})
    assert len(figure.axes) == 1
    plt.close(figure)


def test_multi_value_example_averages_the_oriented_scores() -> None:
    example = preferences.multi_value_example(_ratings())
    assert example.attrs["rater"] == "f1"
    oriented = example[["helpfulness (oriented)", "toxicity (oriented)"]].mean(axis=1)
    np.testing.assert_allclose(example["multi goodness"], oriented, atol=1e-3)
    assert list(example.index) == ["r1", "r2", "r3"]  # best first


def test_multi_vs_single_compares_pooled_pairs(group_pairs: preferences.GroupPairs) -> None:
    table = preferences.multi_vs_single(group_pairs)
    # helpfulness is 6 − toxicity here: both dimensions order the responses alike
    assert list(table["dimension"]) == ["toxicity", "helpfulness"]
    assert table["agreement"].tolist() == [1.0, 1.0]


def test_figures_draw_tables_and_empty_input(group_pairs: preferences.GroupPairs) -> None:
    table = preferences.pair_table(
        group_pairs, preferences.conditions(["5pt", "binary"], ["preserve"], ["multi"])
    )
    figure = pair_plots.plot_pair_agreement({"handmade": table, "other": table})
    assert len(figure.axes) == 2
    plt.close(figure)
    for empty in (
        pair_plots.plot_pair_agreement({}),
        pair_plots.plot_agreement_vs_discrimination({}),
    ):
        assert empty.axes[0].texts
        plt.close(empty)
    assert np.isnan(preferences.agreement_range({})[0])
    low, high = preferences.agreement_range({"handmade": table})
    assert 0 <= low <= high <= 1


PAIR_IDENTITY = ["chosen_id", "rejected_id", "rater_id", "chosen_score", "rejected_score"]


def _as_rows(pairs: pd.DataFrame) -> list[tuple]:
    return sorted(map(tuple, pairs[PAIR_IDENTITY].astype(str).to_numpy()))


@pytest.mark.parametrize("aggregation", ["preserve", "majority"])
def test_group_pairs_are_the_pairs_prefs_builds(aggregation: str) -> None:
    ratings = _ratings()
    cached = preferences.GroupPairs({"5pt": ratings}, seed=0)
    condition = Condition(aggregation=aggregation)
    for group in ("gender:male", "gender:female", "all"):
        theirs = build_pairs(ratings, group, "5pt", aggregation, "multi", seed=0)
        assert _as_rows(cached.pairs(group, condition)) == _as_rows(theirs)


def test_a_rater_recorded_in_two_groups_counts_only_where_recorded() -> None:
    ratings = _ratings()
    ratings.loc[
        (ratings["participant_id"] == "m2") & (ratings["response_id"] == "r3"), "gender"
    ] = "female"
    cached = preferences.GroupPairs({"5pt": ratings}, seed=0)
    for group in ("gender:male", "gender:female"):
        theirs = build_pairs(ratings, group, "5pt", "preserve", "toxicity", seed=0)
        assert _as_rows(cached.pairs(group, Condition(values="toxicity"))) == _as_rows(theirs)
