"""The demographic contrasts chapter 2 compares, oriented as the paper's claims state them, and the
significance level its tests use."""

from __future__ import annotations

from dataclasses import dataclass

#: Significance level for the level/discrimination pattern, the ordinal agreement and the 95%
#: intervals.
ALPHA = 0.05


@dataclass(frozen=True)
class Contrast:
    """A comparison of two groups of one demographic field, oriented as the paper states it:
    the relative gap is (mean of group_a − mean of group_b) / mean of group_b."""

    name: str
    field: str
    group_a: str
    group_b: str


#: The reference country of every country contrast: the paper's and CREHate's US raters.
REFERENCE_COUNTRY = "US"
#: The countries CREHate's raters come from besides the US (ISO 3166 alpha-2).
OTHER_COUNTRIES = ("AU", "GB", "SG", "ZA")

#: Every contrast, oriented as the paper's claims (C1: male vs female; C2: conservative vs
#: liberal; C3: Black vs White); the country contrast (not a claim) as DE vs US, and each other
#: country a dataset records against the US (named `country-<code>`; CREHate's four).
CONTRASTS: tuple[Contrast, ...] = (
    Contrast("gender", "gender", group_a="male", group_b="female"),
    Contrast("political", "political", group_a="conservative", group_b="liberal"),
    Contrast("race", "race", group_a="black", group_b="white"),
    Contrast("country", "country", group_a="DE", group_b=REFERENCE_COUNTRY),
    *(
        Contrast(f"country-{code}", "country", group_a=code, group_b=REFERENCE_COUNTRY)
        for code in OTHER_COUNTRIES
    ),
)


def is_country_contrast(contrast: Contrast) -> bool:
    """Whether a contrast compares a country's raters with the reference country's."""
    return contrast.field == "country" and contrast.group_b == REFERENCE_COUNTRY


def find_contrast(name: str) -> Contrast:
    """The contrast called `name`; a `KeyError` naming the known ones otherwise."""
    for contrast in CONTRASTS:
        if contrast.name == name:
            return contrast
    raise KeyError(f"unknown contrast {name!r}; known: {[c.name for c in CONTRASTS]}")


def contrast_between(group_a: str, group_b: str) -> Contrast | None:
    """The contrast of `group_a` vs `group_b` in this orientation, or None when there is none."""
    for contrast in CONTRASTS:
        if (contrast.group_a, contrast.group_b) == (group_a, group_b):
            return contrast
    return None
