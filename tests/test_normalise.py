"""Every mapping of a source's codes onto the schema's codes (listed in data/README.md)."""

from __future__ import annotations

import math

import pytest

from pluralign.data.normalise import (
    age_group_from_bin,
    age_group_from_years,
    normalise_country,
    normalise_education,
    normalise_gender,
    normalise_political,
    normalise_race,
    political_from_scale,
)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("Woman", "female"),
        ("woman", "female"),
        ("female", "female"),
        (" Female ", "female"),
        ("Man", "male"),
        ("man", "male"),
        ("male", "male"),
        ("transman", "male"),
        ("Non-binary", "nonbinary"),
        ("nonBinary", "nonbinary"),
        ("NB", "nonbinary"),
        ("na", None),
        ("", None),
        (None, None),
        (math.nan, None),
        ("Prefer not to say", None),
        ("robot", "robot"),
    ],
)
def test_gender(raw, code):
    assert normalise_gender(raw) == code


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("White", "white"),
        ("Black or African American", "black"),
        ("black", "black"),
        ("Asian", "asian"),
        ("Native American", "native_american"),
        ("native", "native_american"),
        ("Hispanic or Latino", "hispanic"),
        ("hisp", "hispanic"),
        ("Arab American", "middle_eastern"),
        ("middleEastern", "middle_eastern"),
        ("black, latinx", "multiracial"),
        ("white, pacisland", "multiracial"),
        ("other", "other"),
        ("na", None),
    ],
)
def test_race(raw, code):
    assert normalise_race(raw) == code


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (-1.0, "liberal"),
        (-0.5, "liberal"),
        (0.0, "moderate"),
        (0.5, "conservative"),
        (1.0, "conservative"),
        (math.nan, None),
    ],
)
def test_sap_political_scale_cut_points(value, code):
    assert political_from_scale(value) == code


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("liberal", "liberal"),
        ("mod-liberal", "liberal"),
        ("mod-cons", "conservative"),
        ("cons", "conservative"),
        ("libert", "other"),
        ("other", "other"),
        ("na", None),
        ("Conservative", "conservative"),
        ("moderate", "moderate"),
    ],
)
def test_sbic_and_study_political_codes(raw, code):
    assert normalise_political(raw) == code


def test_age_groups():
    assert age_group_from_bin("30-34") == "25-34"
    assert age_group_from_bin("54-59") == "55-64"
    assert age_group_from_bin(">65") == "65+"
    assert age_group_from_years(24) == "18-24"
    assert age_group_from_years(25.0) == "25-34"
    assert age_group_from_years(64.9) == "55-64"
    assert age_group_from_years(65) == "65+"
    assert age_group_from_years(17) is None
    assert age_group_from_years(math.nan) is None


def test_education_and_country():
    assert normalise_education("College degree") == "college"
    assert normalise_education("Less than a high school diploma") == "less_than_high_school"
    assert normalise_country("Germany") == "DE"
    assert normalise_country("usa") == "US"
    assert normalise_country("fr") == "FR"
