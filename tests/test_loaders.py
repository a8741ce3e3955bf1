"""Loaders on the real mirror files: known counts, schema codes, provenance."""

from __future__ import annotations

import pandas as pd
import pytest

from pluralign.data import crehate, loaders
from pluralign.data.loaders import load_ratings
from pluralign.data.schema import COLUMNS, RATINGS_SCHEMA

# (ratings, raters, items, dimensions) after mapping; see data/README.md for each choice.
KNOWN = {
    "popquorn": (13_036, 262, 1_500, {"toxicity"}),
    "sap2022-large": (2 * 3_463, 184, 627, {"toxicity", "stereotypical_bias"}),
    "sap2022-small": (2 * 7_692, 641, 12, {"toxicity", "stereotypical_bias"}),
    # 12,566 (worker, post) pairs, of which 241 carry no offensiveness answer
    "sbic": (12_325, 198, 4_673, {"toxicity"}),
    # 42,546 labels less the 3,060 labelled 2 (a non-answer); 2 raters gave only 2s
    "crehate": (42_546 - 3_060, 1_062, 1_580, {"toxicity"}),
}
#: The item-level columns (item_*) each dataset carries.
ITEM_COLUMNS = {
    "popquorn": [],
    "sap2022-large": ["item_is_aae", "item_targets_black_people", "item_vulgar"],
    "sap2022-small": ["item_post_category"],
    "sbic": ["item_target_category"],
    "crehate": ["item_origin", "item_platform"],
}


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_known_counts(mirror, name):
    ratings, raters, items, dimensions = KNOWN[name]
    table = load_ratings(name)
    assert len(table) == ratings
    assert table["participant_id"].nunique() == raters
    assert table["response_id"].nunique() == items
    assert set(table["dimension"]) == dimensions
    assert list(table.columns) == [*COLUMNS, *ITEM_COLUMNS[name]]
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


def test_crehate_mappings(mirror):
    """Countries as ISO codes, the politics levels and free text on the book's line, ethnicity
    free text as race codes, and 2 read as a non-answer: the only reading that reproduces every
    per-country final label the repository ships."""
    table = load_ratings("crehate")
    assert set(table["country"]) == {"US", "AU", "GB", "SG", "ZA"}
    assert set(table["scale"]) == {"binary"} and set(table["score"]) == {0.0, 1.0}
    assert set(table["political"].dropna()) == {"liberal", "moderate", "conservative", "other"}
    assert crehate.crehate_political("Moderate_liberal") == "liberal"
    assert crehate.crehate_political("Independent") == "moderate"
    assert crehate.crehate_political("OtherLabour") == "other"
    assert crehate.crehate_political("Othernot sure") is None
    assert crehate.crehate_race("OtherMixed White/Asian") == "multiracial"
    assert crehate.crehate_race("OtherCape coloured") == "multiracial"
    assert crehate.crehate_race("OtherSouth Asian ") == "asian"
    assert crehate.crehate_race("OtherJewish") == "other"
    assert crehate.crehate_race("Middle_Eastern") == "middle_eastern"
    raw = crehate.read_raw()
    final = pd.read_csv(crehate.resolve_file("crehate", crehate.FINAL_FILE))
    assert crehate.final_label_agreement(raw, final, "dropped") == 1.0
    assert crehate.final_label_agreement(raw, final, "hate") < 0.96
    assert crehate.final_label_agreement(raw, final, "not hate") < 0.96
    origins = table.drop_duplicates("response_id")["item_origin"].value_counts()
    assert origins.to_dict() == {"SBIC": 980, "AU": 150, "GB": 150, "SG": 150, "ZA": 150}
