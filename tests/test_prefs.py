"""Preference pairs on hand-made ratings: majority, preserve, binary, multi-value, balance."""

from __future__ import annotations

import pandas as pd
import pytest

from pluralign.data.schema import validate_ratings
from pluralign.pairs.build import (
    Condition,
    PairsError,
    balance,
    build_pairs,
    contradiction_share,
    pair_agreement,
    select_group,
)


def ratings(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (rater, gender, response, dimension, score, scale); one prompt p1."""
    table = pd.DataFrame(
        [
            {
                "rating_id": f"r{i}",
                "participant_id": rater,
                "country": None,
                "gender": gender,
                "race": None,
                "political": "other" if rater == "z" else None,
                "age_group": None,
                "education": None,
                "prompt_id": "p1",
                "prompt": "How are you?",
                "response_id": response,
                "response": f"text of {response}",
                "dimension": dimension,
                "score": float(score),
                "scale": scale,
            }
            for i, (rater, gender, response, dimension, score, scale) in enumerate(rows)
        ]
    )
    table.index = table.index + 2
    return validate_ratings(table, "hand-made")


# Three raters, three responses, toxicity (lower is better). a and b disagree about r1 vs r2.
TOXICITY = ratings(
    [
        ("a", "female", "r1", "toxicity", 1, "5pt"),
        ("a", "female", "r2", "toxicity", 4, "5pt"),
        ("a", "female", "r3", "toxicity", 4, "5pt"),
        ("b", "female", "r1", "toxicity", 3, "5pt"),
        ("b", "female", "r2", "toxicity", 2, "5pt"),
        ("b", "female", "r3", "toxicity", 5, "5pt"),
        ("c", "male", "r1", "toxicity", 2, "5pt"),
        ("c", "male", "r2", "toxicity", 1, "5pt"),
        ("c", "male", "r3", "toxicity", 3, "5pt"),
    ]
)


def as_set(pairs):
    return set(zip(pairs["chosen_id"], pairs["rejected_id"], strict=True))


def test_preserve_keeps_every_raters_strict_pairs_and_contradictions():
    pairs = build_pairs(TOXICITY, "female", "5pt", "preserve", "toxicity")
    # a: r1 > r2, r1 > r3 (r2 = r3 is no pair); b: r2 > r1, r2 > r3, r1 > r3
    assert sorted(
        zip(pairs["rater_id"], pairs["chosen_id"], pairs["rejected_id"], strict=True)
    ) == [
        ("a", "r1", "r2"),
        ("a", "r1", "r3"),
        ("b", "r1", "r3"),
        ("b", "r2", "r1"),
        ("b", "r2", "r3"),
    ]
    assert contradiction_share(pairs) == pytest.approx(2 / 5)


def test_majority_aggregates_by_mean_and_drops_ties():
    pairs = build_pairs(TOXICITY, "female", "5pt", "majority", "toxicity")
    # means: r1 2.0, r2 3.0, r3 4.5 -> r1 > r2 > r3
    assert as_set(pairs) == {("r1", "r2"), ("r1", "r3"), ("r2", "r3")}
    assert pairs["rater_id"].isna().all()
    assert all(raters == ["a", "b"] for raters in pairs["raters"])
    assert contradiction_share(pairs) == 0


def test_binary_cuts_graded_scores_and_takes_the_majority_label():
    pairs = build_pairs(TOXICITY, "female", "binary", "majority", "toxicity", cuts={"5pt": 3.0})
    # toxic labels (>= 3): a: r1 0, r2 1, r3 1; b: r1 1, r2 0, r3 1
    # majority label: r1 tie (dropped), r2 tie (dropped), r3 toxic -> no strict pair left
    assert pairs.empty
    preserve = build_pairs(TOXICITY, "female", "binary", "preserve", "toxicity", cuts={"5pt": 3.0})
    assert as_set(preserve) == {("r1", "r2"), ("r1", "r3"), ("r2", "r1"), ("r2", "r3")}


def test_multi_value_orients_and_averages_dimensions():
    table = ratings(
        [
            ("a", "female", "r1", "toxicity", 1, "5pt"),
            ("a", "female", "r1", "emotional_awareness", 2, "5pt"),
            ("a", "female", "r2", "toxicity", 2, "5pt"),
            ("a", "female", "r2", "emotional_awareness", 5, "5pt"),
        ]
    )
    # oriented, 0–1: r1 = mean(1.0, 0.25) = 0.625; r2 = mean(0.75, 1.0) = 0.875
    pairs = build_pairs(table, "female", "5pt", "preserve", "multi")
    assert as_set(pairs) == {("r2", "r1")}
    assert pairs["chosen_score"].iloc[0] == pytest.approx(0.875)


def test_groups_select_their_raters():
    assert set(select_group(TOXICITY, "male")["participant_id"]) == {"c"}
    assert set(select_group(TOXICITY, "all")["participant_id"]) == {"a", "b", "c"}
    with pytest.raises(PairsError, match="no rater belongs"):
        select_group(TOXICITY, "conservative")


def test_agreement_between_groups():
    female = build_pairs(TOXICITY, "female", "5pt", "majority", "toxicity")
    male = build_pairs(TOXICITY, "male", "5pt", "majority", "toxicity")
    # male: r2 > r1 > r3 ; female: r1 > r2 > r3 -> agree on (r1,r3), (r2,r3), not (r1,r2)
    assert pair_agreement(female, male) == (pytest.approx(2 / 3), 3)


def test_balance_subsamples_to_the_smallest_group():
    female = build_pairs(TOXICITY, "female", "5pt", "preserve", "toxicity")
    male = build_pairs(TOXICITY, "male", "5pt", "preserve", "toxicity")
    balanced = balance({"female": female, "male": male}, seed=1)
    assert len(balanced["female"]) == len(balanced["male"]) == min(len(female), len(male))
    assert balance({"female": female, "male": male}, seed=1)["female"].equals(balanced["female"])


def test_conditions_are_checked():
    with pytest.raises(PairsError, match="scale"):
        Condition(scale="7pt")
    with pytest.raises(PairsError, match="aggregation"):
        Condition(aggregation="mean")
    with pytest.raises(PairsError, match="values"):
        Condition(values="politeness")


def test_pairs_never_cross_prompts_on_the_simulated_study():
    from pluralign.data.loaders import load_ratings

    table = load_ratings("study-sim")
    pairs = build_pairs(table, "female", "5pt", "preserve", "multi")
    prompt_of = table.drop_duplicates("response_id").set_index("response_id")["prompt_id"]
    assert (pairs["chosen_id"].map(prompt_of) == pairs["rejected_id"].map(prompt_of)).all()


def test_cli_pairs_json_and_parquet(tmp_path):
    import json

    from typer.testing import CliRunner

    from pluralign.cli.app import app
    from pluralign.data.loaders import example_study_path

    output = tmp_path / "pairs.parquet"
    arguments = ["pairs", str(example_study_path()), "--group", "female", "--aggregation"]
    result = CliRunner().invoke(app, [*arguments, "majority", "--json", "-o", str(output)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    written = pd.read_parquet(output)
    assert summary["n_pairs"] == len(written) > 0
    assert {"prompt_id", "chosen_id", "rejected_id", "rater_id"} <= set(written.columns)
    assert written["rater_id"].isna().all()

    preserve = CliRunner().invoke(app, [*arguments, "preserve", "--json", "--balance", "male"])
    assert preserve.exit_code == 0, preserve.output
    balanced = json.loads(preserve.output)
    assert balanced["n_pairs"] <= balanced["n_pairs_unbalanced"]

    unknown = CliRunner().invoke(app, [*arguments, "preserve", "--scale", "7pt"])
    assert unknown.exit_code == 2
