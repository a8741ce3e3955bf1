"""study-sim: the design (counts, marginals), calibration, determinism, recovery of C1–C3."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pandas as pd
import pytest

from pluralign.data.loaders import load_ratings
from pluralign.data.schema import DIMENSIONS, validate_ratings
from pluralign.data.simulate import (
    _expected_relative_gap,
    group_levels,
    item_attributes,
    load_params,
    simulate_study,
)


@pytest.fixture(scope="module")
def simulated(synthetic_corpus):
    return simulate_study(load_params(), corpus=synthetic_corpus)


def relative_gap(table, dimension, field, group_a, group_b) -> float:
    part = table[table["dimension"] == dimension]
    mean_a = part.loc[part[field] == group_a, "score"].mean()
    mean_b = part.loc[part[field] == group_b, "score"].mean()
    return (mean_a - mean_b) / mean_b


def test_the_paper_design(simulated):
    params = load_params()
    five_point = simulated["5pt"]
    assert len(five_point) == params.participants * 25 == 27_375
    assert five_point["participant_id"].nunique() == 1_095
    per_rater = five_point.groupby("participant_id")
    assert (per_rater.size() == 25).all()
    assert (per_rater["prompt_id"].nunique() == 1).all()
    assert (per_rater["response_id"].nunique() == 5).all()
    assert set(five_point["dimension"]) == set(DIMENSIONS)
    raters_per_prompt = five_point.groupby("prompt_id")["participant_id"].nunique()
    assert raters_per_prompt.max() - raters_per_prompt.min() <= 1


def test_marginals_are_met_exactly(simulated):
    params = load_params()
    people = simulated["5pt"].groupby("participant_id").first()
    assert people["country"].value_counts().to_dict() == {"US": 548, "DE": 547} or people[
        "country"
    ].value_counts().to_dict() == {"DE": 548, "US": 547}
    for field, shares in params.marginals.items():
        counts = people[field].value_counts()
        for group, share in shares.items():
            assert abs(counts.get(group, 0) - share * params.participants) <= 1, (field, group)


def test_binary_format_rates_the_same_responses(simulated):
    five_point, binary = simulated["5pt"], simulated["binary"]
    keys = ["participant_id", "response_id", "dimension"]
    assert five_point[keys].equals(binary[keys])
    assert set(binary["score"]) == {0.0, 1.0}
    assert set(five_point["score"]) <= {1.0, 2.0, 3.0, 4.0, 5.0}


def test_tables_pass_the_schema(simulated):
    for table in simulated.values():
        validate_ratings(table, "study-sim")


def test_calibration_hits_the_abstracts_gaps_in_expectation(synthetic_corpus):
    params = load_params()
    attributes = item_attributes(synthetic_corpus, params, np.random.default_rng(0))
    levels = group_levels(params, attributes)
    for gap in params.planted_gaps:
        expected = _expected_relative_gap(
            gap, levels_for_dimension(levels, gap.dimension), gap.dimension, params, attributes
        )
        assert expected == pytest.approx(gap.relative_gap, abs=1e-6)
    assert levels[("gender", "male")]["toxicity"] < 0
    assert levels[("race", "black")]["emotional_awareness"] > 0
    assert levels[("political", "moderate")]["emotional_awareness"] == pytest.approx(
        levels[("political", "conservative")]["emotional_awareness"] / 2
    )


def levels_for_dimension(levels, dimension):
    return {key: value[dimension] for key, value in levels.items() if dimension in value}


def test_same_seed_same_ratings_other_seed_other_ratings(synthetic_corpus):
    params = load_params()
    first = simulate_study(params, seed=3, corpus=synthetic_corpus)["5pt"]
    again = simulate_study(params, seed=3, corpus=synthetic_corpus)["5pt"]
    other = simulate_study(params, seed=4, corpus=synthetic_corpus)["5pt"]
    assert first.equals(again)
    assert not first["score"].equals(other["score"])


def test_planted_slopes_change_discrimination(synthetic_corpus):
    params = dataclasses.replace(
        load_params(), slopes={"political": {"conservative": {"toxicity": 0.2}}}
    )
    table = simulate_study(params, corpus=synthetic_corpus)["5pt"]
    ratings = table[table["dimension"] == "toxicity"].merge(
        synthetic_corpus[["response_id", "toxicity"]], on="response_id"
    )
    slope = {
        group: np.polyfit(rows["toxicity"], rows["score"], 1)[0]
        for group, rows in ratings.groupby("political")
    }
    assert slope["conservative"] < 0.5 * slope["liberal"]


def test_bad_parameters_are_refused():
    params = load_params()
    with pytest.raises(ValueError, match="shares sum"):
        dataclasses.replace(params, country_shares={"US": 0.7, "DE": 0.2}).check()


# The committed corpus and the default simulation (what the book shows).


def test_default_simulation_recovers_c1_to_c3_within_3_points():
    table = load_ratings("study-sim")
    assert table.attrs["simulated"] is True
    for gap in load_params().planted_gaps:
        observed = relative_gap(table, gap.dimension, gap.field, gap.group_a, gap.group_b)
        assert abs(observed - gap.relative_gap) <= 0.03, (gap.claim, observed)


def test_default_simulation_export_is_byte_identical(tmp_path):
    from typer.testing import CliRunner

    from pluralign.cli.app import app

    digests = []
    for name in ("a.parquet", "b.parquet"):
        result = CliRunner().invoke(
            app, ["data", "export", "study-sim", "-o", str(tmp_path / name)]
        )
        assert result.exit_code == 0, result.output
        digests.append(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    assert len(pd.read_parquet(tmp_path / "a.parquet")) == 27_375


def test_study_sim_binary_is_the_same_raters():
    five_point = load_ratings("study-sim")
    binary = load_ratings("study-sim-binary")
    assert set(binary["participant_id"]) == set(five_point["participant_id"])
    assert binary.attrs["sha256"] == five_point.attrs["sha256"]


def test_the_simulation_draws_every_demographic_field_of_the_schema() -> None:
    from pluralign.data.schema import DEMOGRAPHICS
    from pluralign.data.simulate import DEMOGRAPHIC_FIELDS

    assert sorted(("country", *DEMOGRAPHIC_FIELDS)) == sorted(DEMOGRAPHICS)
