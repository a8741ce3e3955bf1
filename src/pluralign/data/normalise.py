"""Demographic codes: every source's spelling mapped onto the schema's codes.

Each function takes one raw value and returns the schema's code, `None` for a missing or
undisclosed answer, or — for a value it does not know — its normalised spelling (lower case,
spaces as underscores: "Native Hawaiian" → native_hawaiian), kept as a category of its own and
listed in a warning, never silently dropped. The choices are listed in data/README.md.
"""

from __future__ import annotations

import math
from typing import Any

MISSING = {"", "na", "n/a", "nan", "none", "null", "prefer not to say", "prefer not to disclose"}

GENDER_CODES = {
    "female": "female",
    "woman": "female",
    "women": "female",
    "f": "female",
    "male": "male",
    "man": "male",
    "men": "male",
    "m": "male",
    "transman": "male",
    "trans man": "male",
    "transwoman": "female",
    "trans woman": "female",
    "nonbinary": "nonbinary",
    "non-binary": "nonbinary",
    "non binary": "nonbinary",
    "nb": "nonbinary",
}

RACE_CODES = {
    "white": "white",
    "black": "black",
    "black or african american": "black",
    "african american": "black",
    "asian": "asian",
    "hispanic": "hispanic",
    "hisp": "hispanic",
    "latinx": "hispanic",
    "hispanic or latino": "hispanic",
    "native": "native_american",
    "native american": "native_american",
    "native_american": "native_american",
    "pacisland": "pacific_islander",
    "pacific islander": "pacific_islander",
    "pacific_islander": "pacific_islander",
    "middleeastern": "middle_eastern",
    "middle eastern": "middle_eastern",
    "middle_eastern": "middle_eastern",
    "arab american": "middle_eastern",
    "multiracial": "multiracial",
    "other": "other",
}

POLITICAL_CODES = {
    "liberal": "liberal",
    "left": "liberal",
    "mod-liberal": "liberal",
    "moderate": "moderate",
    "centre": "moderate",
    "center": "moderate",
    "conservative": "conservative",
    "cons": "conservative",
    "mod-cons": "conservative",
    "right": "conservative",
    "libert": "other",
    "libertarian": "other",
    "other": "other",
}

EDUCATION_CODES = {
    "less than a high school diploma": "less_than_high_school",
    "less_than_high_school": "less_than_high_school",
    "high school diploma or equivalent": "high_school",
    "high_school": "high_school",
    "college degree": "college",
    "college": "college",
    "graduate degree": "graduate",
    "graduate": "graduate",
    "other": "other",
}

COUNTRY_CODES = {
    "us": "US",
    "usa": "US",
    "united states": "US",
    "de": "DE",
    "deu": "DE",
    "germany": "DE",
    "deutschland": "DE",
    "uk": "GB",
    "united kingdom": "GB",
    "great britain": "GB",
    "australia": "AU",
    "singapore": "SG",
    "south africa": "ZA",
}

#: POPQUORN's five-year bins folded into the schema's ten-year groups (its "54-59" is 55-59).
AGE_BIN_CODES = {
    "18-24": "18-24",
    "25-29": "25-34",
    "30-34": "25-34",
    "25-34": "25-34",
    "35-39": "35-44",
    "40-44": "35-44",
    "35-44": "35-44",
    "45-49": "45-54",
    "50-54": "45-54",
    "45-54": "45-54",
    "54-59": "55-64",
    "55-59": "55-64",
    "60-64": "55-64",
    "55-64": "55-64",
    ">65": "65+",
    "65+": "65+",
}


def _clean(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return None if text.lower() in MISSING else text


def spelling(text: str) -> str:
    """A category's normalised spelling: lower case, runs of whitespace as one underscore."""
    return "_".join(text.lower().split())


def _lookup(value: Any, codes: dict[str, str]) -> str | None:
    text = _clean(value)
    if text is None:
        return None
    return codes.get(text.lower(), spelling(text))


def normalise_gender(value: Any) -> str | None:
    """'Woman' / 'woman' / 'female' → female; 'Man' / 'man' / 'male' → male; 'NB' → nonbinary."""
    return _lookup(value, GENDER_CODES)


def normalise_race(value: Any) -> str | None:
    """One race → its code; a comma-separated list of several (SBIC, Sap) → multiracial."""
    text = _clean(value)
    if text is None:
        return None
    parts = {_lookup(part, RACE_CODES) for part in text.split(",") if _clean(part)}
    if len(parts) > 1:
        return "multiracial"
    return parts.pop() if parts else None


def normalise_political(value: Any) -> str | None:
    """A political label → liberal / moderate / conservative / other (a lean counts as the side)."""
    return _lookup(value, POLITICAL_CODES)


def political_from_scale(value: Any) -> str | None:
    """Sap et al.'s −1 (liberal) … +1 (conservative): < 0 liberal, 0 moderate, > 0 conservative."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    number = float(value)
    if number < 0:
        return "liberal"
    if number > 0:
        return "conservative"
    return "moderate"


def normalise_education(value: Any) -> str | None:
    return _lookup(value, EDUCATION_CODES)


def normalise_country(value: Any) -> str | None:
    """Country names and codes → ISO 3166 alpha-2 ('Germany' → DE); unknown values upper-cased."""
    text = _clean(value)
    if text is None:
        return None
    return COUNTRY_CODES.get(text.lower(), text.upper())


def age_group_from_bin(value: Any) -> str | None:
    """An age-bin label (POPQUORN's '30-34', '>65') → the schema's ten-year group."""
    return _lookup(value, AGE_BIN_CODES)


def age_group_from_years(value: Any) -> str | None:
    """An age in years → 18-24, 25-34, 35-44, 45-54, 55-64 or 65+ (under 18 is left missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    years = float(value)
    if years < 18:
        return None
    for upper, label in ((25, "18-24"), (35, "25-34"), (45, "35-44"), (55, "45-54"), (65, "55-64")):
        if years < upper:
            return label
    return "65+"
