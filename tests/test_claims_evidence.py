"""The ledger's single numbers per claim and dataset (chapters 05 and 06) on hand-made score
tables: pooled own-group advantage (C4), the percentage-point gap (C8) with a base mean that may be
zero left out, and the selection of C5-C7 values, undefined cases included."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from test_behaviour_metrics import model_rows

from pluralign.claims import evidence


def two_group_table(own_advantage: float) -> pd.DataFrame:
    """Female and male models scored by both groups' reward models and both proxies; each
    group's model scores `own_advantage` higher under its own group's reward model."""
    rng = np.random.default_rng(1)
    noise = {"noise": 0.01, "rng": rng}
    parts = []
    for group, other in (("female", "male"), ("male", "female")):
        common = {"group": group, "contrast": "female/male", "dataset": "d"}
        parts.append(model_rows(group, f"reward:{group}", 1.0 + own_advantage, **common, **noise))
        parts.append(model_rows(group, f"reward:{other}", 1.0, **common, **noise))
    parts.append(model_rows("female", "toxicity", 0.40, group="female", contrast="female/male"))
    parts.append(model_rows("male", "toxicity", 0.50, group="male", contrast="female/male"))
    parts.append(model_rows("base", "toxicity", 0.50))
    parts.append(model_rows("female", "emotional_awareness", 0.0, group="female"))
    parts.append(model_rows("male", "emotional_awareness", 0.0, group="male"))
    parts.append(model_rows("base", "emotional_awareness", 0.0))
    return pd.concat(parts, ignore_index=True)


def test_in_condition_keeps_base_rows_and_the_default_conditions_runs() -> None:
    table = pd.concat(
        [
            model_rows("base", "toxicity", 0.5),
            model_rows("base", "toxicity", 0.5, dataset="e"),
            model_rows("kept", "toxicity", 0.4),
            model_rows("kept-too", "toxicity", 0.4, dataset="e"),
            model_rows("majority", "toxicity", 0.4, aggregation="majority"),
            model_rows("grpo", "toxicity", 0.4, optimiser="grpo"),
        ],
        ignore_index=True,
    )
    everywhere = evidence.in_condition(table)
    assert set(everywhere["label"]) == {"base", "kept", "kept-too"}
    assert set(everywhere.loc[everywhere["label"] == "base", "dataset"]) == {"d", "e"}
    only_d = evidence.in_condition(table, "d")
    assert set(only_d["dataset"]) == {"d"} and set(only_d["label"]) == {"base", "kept"}
    grpo = evidence.in_condition(table, "d", optimiser="grpo")
    assert set(grpo.loc[grpo["kind"] == "tuned", "label"]) == {"grpo"}


def test_pooled_own_group_advantage_recovers_the_planted_advantage() -> None:
    record = evidence.pooled_own_group_advantage(two_group_table(0.2), "d", n_boot=300)
    assert record["defined"]
    assert record["value"] == pytest_approx(0.2)
    assert record["ci_low"] > 0.15 and record["ci_high"] < 0.25
    assert sorted(record["pairs"]) == ["female vs male", "male vs female"]
    none = evidence.pooled_own_group_advantage(two_group_table(0.0), "d", n_boot=300)
    assert none["ci_low"] < 0 < none["ci_high"]


def test_pooled_advantage_without_group_models_is_undefined() -> None:
    table = two_group_table(0.2)
    record = evidence.pooled_own_group_advantage(table, "other-dataset")
    assert not record["defined"] and "no pair of group models" in record["reason"]


def test_percentage_point_gap_leaves_out_a_metric_whose_base_mean_may_be_zero() -> None:
    record = evidence.percentage_point_gap(two_group_table(0.2), "d", "female", "male", n_boot=300)
    # toxicity: female 0.40, male 0.50, base 0.50 -> improvements 20% and 0% -> 20 points
    assert record["defined"]
    assert record["value"] == pytest_approx(20.0)
    assert record["metrics"] == ["toxicity"]
    assert record["left_out"] == ["emotional_awareness"]


def test_percentage_point_gap_without_the_groups_is_undefined() -> None:
    record = evidence.percentage_point_gap(two_group_table(0.2), "d", "liberal", "conservative")
    assert not record["defined"] and math.isnan(record["value"])


def test_ratio_evidence_reports_undefined_ratios_with_their_reason() -> None:
    ratios = pd.DataFrame(
        [
            {
                "dataset": "d",
                "scale": "5pt",
                "quantity": "ratio",
                "value": math.nan,
                "ci_low": math.nan,
                "ci_high": math.nan,
                "defined": False,
                "reason": "the reference reduction's CI [-0.1, 0.2] does not lie above 0",
            },
            {
                "dataset": "d",
                "scale": "binary",
                "quantity": "ratio",
                "value": 0.3,
                "ci_low": 0.1,
                "ci_high": 0.5,
                "defined": True,
                "reason": "",
            },
        ]
    )
    undefined = evidence.ratio_evidence(ratios, "d", {"scale": "5pt"})
    assert not undefined["defined"] and "does not lie above 0" in undefined["reason"]
    defined = evidence.ratio_evidence(ratios, "d", {"scale": "binary"})
    assert defined["defined"] and defined["value"] == 0.3
    missing = evidence.ratio_evidence(ratios, "e", {"scale": "5pt"})
    assert "pluralign sweep --profile design" in missing["reason"]


def test_optimiser_evidence_orients_lower_is_better_metrics() -> None:
    comparison = pd.DataFrame(
        [
            {
                "dataset": "d",
                "scale": "5pt",
                "aggregation": "preserve",
                "values": "multi",
                "metric": "toxicity",
                "value": -0.1,
                "ci_low": -0.2,
                "ci_high": -0.05,
            },
        ]
    )
    record = evidence.optimiser_evidence(comparison, "d", "toxicity")
    # DPO less toxic than GRPO: positive favours DPO
    assert record["value"] == 0.1 and record["ci_low"] == 0.05 and record["ci_high"] == 0.2


def test_missing_runs_note_names_the_command() -> None:
    assert "every run" in evidence.missing_runs_note("quick", []).lower()
    note = evidence.missing_runs_note("design", [f"r{index}" for index in range(8)])
    assert "8 runs" in note and "2 more" in note
    assert "pluralign sweep --profile design" in note


def pytest_approx(value: float):
    import pytest

    return pytest.approx(value, abs=0.02)


def test_evidence_table_gives_the_ledgers_verdicts_and_the_summary_names_contradictions() -> None:
    records = {
        ("C6", "popquorn"): evidence.evidence(-1.10, -2.67, -0.34),
        ("C7", "popquorn"): evidence.evidence(-0.17, -0.43, 0.05),
        ("C5", "popquorn"): evidence.not_available("the reference reduction is not above 0"),
        ("C5", "study-sim"): evidence.evidence(0.50, 0.20, 0.80),
        ("C7", "example"): evidence.evidence(0.10, 0.05, 0.15),  # a dataset the ledger lacks
    }
    table = evidence.evidence_table(records).set_index(["claim", "dataset"])
    assert table.loc[("C6", "popquorn"), "verdict"] == "contradicted"
    assert table.loc[("C6", "popquorn"), "paper_value"] == 0.22
    assert table.loc[("C7", "popquorn"), "verdict"] == "inconclusive"
    assert table.loc[("C5", "popquorn"), "verdict"] == "not testable"
    assert table.loc[("C5", "popquorn"), "reason"] == "the reference reduction is not above 0"
    assert table.loc[("C5", "study-sim"), "verdict"] == "supported"
    assert bool(table.loc[("C5", "study-sim"), "simulated"])
    assert not bool(table.loc[("C6", "popquorn"), "simulated"])
    assert table.loc[("C7", "example"), "verdict"] == "supported"
    assert not bool(table.loc[("C7", "example"), "simulated"])

    summary = evidence.verdict_summary(table.reset_index())
    assert summary.startswith("Contradicted on real raters' data: C6 on popquorn.")
    assert "Inconclusive on real raters' data: C7 on popquorn." in summary
    assert "Supported on real raters' data: C7 on example." in summary
    assert "C5 on study-sim" not in summary  # study-sim's support is not evidence about people
    assert summary.endswith(
        "On study-sim (simulated: a pipeline check, not evidence about people): C5 supported."
    )


# --------------------------------------------------------------------------------------------
# Chapter 02: the rating-gap claims (C1–C3) judged by the ledger's engine


def test_gap_verdicts_use_the_ledgers_rule_and_say_why_a_claim_is_not_testable() -> None:
    from test_gaps import tiny_table

    from pluralign import claims
    from pluralign.claims import gaps_evidence
    from pluralign.gaps.estimate import rating_gaps

    table = tiny_table(
        {"m1": [1, 2, 3], "m2": [2, 2, 2], "f1": [3, 4, 5], "f2": [2, 3, 4]},
        {"m1": "male", "m2": "male", "f1": "female", "f2": "female"},
    )
    gaps = rating_gaps(table, bootstrap_samples=200)
    verdicts = gaps_evidence.gap_verdicts({"tiny": gaps}, {}).set_index("claim")
    assert list(verdicts.index) == ["C1", "C2", "C3"]
    c1 = verdicts.loc["C1"]
    expected = claims.verdict_for("C1", c1["relative_gap"], c1["ci_low"], c1["ci_high"])
    assert c1["verdict"] == expected[0]
    assert c1["reason"].endswith("vs the paper's -18.0%")
    assert c1["paper_value"] == claims.load_ledger().claim("C1").paper_value
    assert verdicts.loc["C2", "verdict"] == claims.NOT_TESTABLE
    assert "no emotional_awareness ratings" in verdicts.loc["C2", "reason"]
    assert not verdicts["simulated"].any()
    ea = tiny_table(
        {"m1": [1, 2], "m2": [2, 2], "f1": [3, 4], "f2": [2, 3]},
        {"m1": "male", "m2": "male", "f1": "female", "f2": "female"},
        dimension="emotional_awareness",
    )
    gaps = rating_gaps(ea, bootstrap_samples=200)
    verdicts = gaps_evidence.gap_verdicts({"tiny": gaps}, {"tiny": True}).set_index("claim")
    assert verdicts.loc["C2", "verdict"] == claims.NOT_TESTABLE
    assert verdicts.loc["C2", "reason"] == "no rater of emotional_awareness records political"
    sentence = gaps_evidence.verdict_sentence(verdicts.reset_index(), "C2")
    assert sentence.startswith("no real dataset was analysed. Simulated")


def test_paper_values_come_from_the_ledger() -> None:
    from pluralign import claims
    from pluralign.claims import gaps_evidence

    ledger = claims.load_ledger()
    marks = {mark.label: mark for mark in gaps_evidence.paper_values(ledger)}
    assert list(marks) == ["C1", "C2", "C3"]
    for label, mark in marks.items():
        claim = ledger.claim(label)
        assert mark.value == claim.paper_value and mark.dimension == claim.dimension
        assert (mark.group_a, mark.group_b) == (claim.contrast.group_a, claim.contrast.group_b)


def test_model_group_pairs_are_the_ledgers_c8_contrasts() -> None:
    from pluralign import claims

    ledger = claims.load_ledger()
    pairs = evidence.model_group_pairs(ledger)
    c8 = [claim for claim in ledger.claims if claim.id.startswith("C8")]
    assert pairs == [(claim.contrast.group_a, claim.contrast.group_b) for claim in c8]
    assert ("liberal", "conservative") in pairs and len(pairs) == 3
