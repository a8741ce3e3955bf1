"""Loaders on the real mirror files: known counts, schema codes, provenance."""

from __future__ import annotations

import pytest

from pluralign.data import loaders
from pluralign.data.loaders import load_ratings
from pluralign.data.schema import COLUMNS, RATINGS_SCHEMA

# (ratings, raters, items, dimensions) after mapping; see data/README.md for each choice.
KNOWN = {
    "popquorn": (13_036, 262, 1_500, {"toxicity"}),
    "sap2022-large": (2 * 3_463, 184, 627, {"toxicity", "stereotypical_bias"}),
    "sap2022-small": (2 * 7_692, 641, 12, {"toxicity", "stereotypical_bias"}),
    # 12,566 (worker, post) pairs, of which 241 carry no offensiveness answer
    "sbic": (12_325, 198, 4_673, {"toxicity"}),
}


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_known_counts(mirror, name):
    ratings, raters, items, dimensions = KNOWN[name]
    table = load_ratings(name)
    assert len(table) == ratings
    assert table["participant_id"].nunique() == raters
    assert table["response_id"].nunique() == items
    assert set(table["dimension"]) == dimensions
    assert list(table.columns) == list(COLUMNS)
    RATINGS_SCHEMA.validate(table)


def test_provenance_attrs(mirror):
    table = load_ratings("popquorn")
    assert table.attrs["dataset"] == "popquorn"
    assert table.attrs["simulated"] is False
    assert table.attrs["sha256"].startswith("fb0589093d45")


def test_sbic_keeps_its_three_level_scale(mirror):
    table = load_ratings("sbic")
    assert set(table["scale"]) == {"3pt"}
    assert set(table["score"]) == {0.0, 0.5, 1.0}


def test_sbic_collapses_to_one_rating_per_worker_and_post(mirror):
    table = load_ratings("sbic")
    assert not table.duplicated(["participant_id", "response_id"]).any()


def test_demographics_use_schema_codes(mirror):
    popquorn = load_ratings("popquorn")
    assert set(popquorn["gender"]) == {"female", "male", "nonbinary"}
    assert popquorn["political"].isna().all()  # not recorded: null, not invented
    assert popquorn["country"].isna().all()
    large = load_ratings("sap2022-large")
    assert set(large["political"].dropna()) == {"liberal", "moderate", "conservative"}
    sbic = load_ratings("sbic")
    assert set(sbic["political"].dropna()) == {"liberal", "conservative", "other"}


def test_standalone_texts_share_one_prompt_per_dataset(mirror):
    for name in KNOWN:
        assert load_ratings(name)["prompt_id"].nunique() == 1


def test_shipped_example_loads():
    table = load_ratings("example")
    assert len(table) == 48
    assert set(table["country"]) == {"US", "DE"}
    assert set(table["gender"]) == {"female", "male"}


def test_unknown_name_that_is_no_file():
    with pytest.raises(FileNotFoundError, match="neither a dataset"):
        load_ratings("no-such-dataset")


def test_is_simulated_names_the_simulated_datasets_only():
    assert loaders.is_simulated("study-sim") and loaders.is_simulated("study-sim-binary")
    assert not loaders.is_simulated("popquorn") and not loaders.is_simulated("example")
    assert not loaders.is_simulated("ratings.csv")  # a file, not in the registry: real data
