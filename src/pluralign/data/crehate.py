"""CREHate (Lee et al., NAACL 2024): hate-speech labels by raters from five countries, mapped onto
the long schema. Every choice is listed in data/README.md ("CREHate") and tested.

The raw file gives each label as 0, 1 or 2 and never defines 2. The per-country final labels the
repository ships are the majority of each country's 0/1 labels with the 2s left out: that reading
reproduces all 7,900 of them (`final_label_agreement`), while counting 2 as hate or as not hate
does not. So a 2 is a non-answer ("cannot tell"), dropped like a missing rating.
"""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd

from pluralign.data.normalise import (
    age_group_from_years,
    normalise_country,
    normalise_gender,
    spelling,
)
from pluralign.data.schema import COLUMNS, DEMOGRAPHICS, validate_ratings
from pluralign.data.sources import resolve_file

SOURCE = "crehate"
RAW_FILE = "CREHate_raw_annotations.csv"
FINAL_FILE = "CREHate_final_annotations.csv"
PROMPT = "Is this post hate speech? (CREHate, cross-cultural hate speech annotations)"
#: The label that is not a rating (see the module docstring).
NON_ANSWER = 2
#: The per-country final-label columns of CREHate_final_annotations.csv, by ISO code.
FINAL_COLUMNS = {
    "US": "United_States_Hate",
    "AU": "Australia_Hate",
    "GB": "United_Kingdom_Hate",
    "ZA": "South_Africa_Hate",
    "SG": "Singapore_Hate",
}

#: The five levels of CREHate's politics question, on the book's three-way line: a lean counts as
#: its side (as for SBIC), and `Independent`, the scale's middle, is `moderate`.
POLITICS_LEVELS = {
    "liberal/progressive": "liberal",
    "moderate_liberal": "liberal",
    "independent": "moderate",
    "moderate_conservative": "conservative",
    "conservative": "conservative",
}
#: Free-text politics answers ("Other…") that say nothing: missing. Every other free-text answer
#: (Labour, socialist, anarchist, SNP…) is `other`: the book does not place parties or
#: ideologies of other countries on the US left–right line.
NO_POLITICS = {"none", "not sure", "na", "n/a", ""}

#: CREHate's ethnicity options, and the keywords that place a free-text "Other…" answer.
ETHNICITY_OPTIONS = {
    "white": "white",
    "black": "black",
    "asian": "asian",
    "middle_eastern": "middle_eastern",
}
MIXED_WORDS = re.compile(r"mixed|/|&|\band\b|\bhalf\b|colou?red")
ETHNICITY_WORDS = (
    ("native american", "native_american"),
    ("hispanic", "hispanic"),
    ("latin", "hispanic"),
    ("south asian", "asian"),
    ("indian", "asian"),
    ("chinese", "asian"),
)


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def crehate_political(value: Any) -> str | None:
    """A CREHate politics answer → liberal / moderate / conservative / other (see the constants)."""
    text = _text(value)
    if text is None:
        return None
    if text.lower() in POLITICS_LEVELS:
        return POLITICS_LEVELS[text.lower()]
    if text.startswith("Other"):
        free = text.removeprefix("Other").strip().lower()
        return None if free in NO_POLITICS else "other"
    return spelling(text)


def crehate_race(value: Any) -> str | None:
    """A CREHate ethnicity answer → a race code: an option as itself; a free-text answer naming
    more than one origin (mixed, "White/Asian", "Cape Coloured") → multiracial, one naming a
    listed group → that group, anything else (Jewish, Mediterranean, Aboriginal) → other."""
    text = _text(value)
    if text is None:
        return None
    if text.lower() in ETHNICITY_OPTIONS:
        return ETHNICITY_OPTIONS[text.lower()]
    free = re.sub(r"^(Other|White)", "", text).strip().lower()
    if not free:
        return None
    if MIXED_WORDS.search(free) or text.startswith("White"):
        return "multiracial"  # "WhiteMixed r": the option White with "Mixed" typed beside it
    for word, code in ETHNICITY_WORDS:
        if word in free:
            return code
    return "other"


def item_fields(post_ids: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Each post's origin (AU, GB, SG, ZA, or SBIC for the US-sourced SBIC posts) and platform
    (Reddit or YouTube; missing for SBIC posts, whose platform the files do not give)."""
    parts = post_ids.astype(str).str.split("-")
    origin = parts.str[0]
    platform = parts.str[1].where(origin != "SBIC", None)
    return origin, platform


def read_raw() -> pd.DataFrame:
    """The raw label file, its index the file's line numbers (header = line 1)."""
    raw = pd.read_csv(resolve_file(SOURCE, RAW_FILE))
    raw.index = raw.index + 2
    return raw


def final_label_agreement(raw: pd.DataFrame, final: pd.DataFrame, non_answer: str) -> float:
    """Share of the per-country final labels that the majority of each country's raters
    reproduces when a 2 is read as `non_answer`: "dropped", "hate" (1) or "not hate" (0).
    A tie (half hate) counts as a disagreement."""
    labels = raw[["ID", "nationality", "annotation"]].copy()
    if non_answer == "dropped":
        labels = labels[labels["annotation"] != NON_ANSWER]
    else:
        labels["annotation"] = labels["annotation"].replace(
            NON_ANSWER, 1 if non_answer == "hate" else 0
        )
    labels["country"] = labels["nationality"].map(normalise_country)
    share = labels.groupby(["ID", "country"])["annotation"].mean()
    majority = pd.Series(
        [math.nan if value == 0.5 else float(value > 0.5) for value in share], index=share.index
    )
    shipped = final.melt(
        id_vars="ID",
        value_vars=list(FINAL_COLUMNS.values()),
        var_name="column",
        value_name="final",
    )
    shipped["country"] = shipped["column"].map({v: k for k, v in FINAL_COLUMNS.items()})
    joined = shipped.join(majority.rename("majority"), on=["ID", "country"])
    return float((joined["majority"] == joined["final"]).mean())


def load_crehate() -> pd.DataFrame:
    """CREHate: one binary hate-speech label per (rater, post) → toxicity; 2s are dropped."""
    raw = read_raw()
    final = pd.read_csv(resolve_file(SOURCE, FINAL_FILE))
    texts = final.set_index("ID")["Text"]
    raw = raw[raw["annotation"] != NON_ANSWER]
    origin, platform = item_fields(raw["ID"])
    columns: dict[str, Any] = {
        "rating_id": "crehate-" + (raw.index - 1).astype(str),
        "participant_id": "crehate-" + raw["annotator_id"].astype(str),
        "country": raw["nationality"].map(normalise_country),
        "gender": raw["gender"].map(normalise_gender),
        "race": raw["ethnicity"].map(crehate_race),
        "political": raw["politic"].map(crehate_political),
        "age_group": raw["age"].map(age_group_from_years),
        "education": None,  # coded 1–6 in the file, and the codes are defined nowhere
        "prompt_id": SOURCE,
        "prompt": PROMPT,
        "response_id": "crehate-" + raw["ID"].astype(str),
        "response": raw["ID"].map(texts),
        "dimension": "toxicity",
        "score": raw["annotation"].astype(float),
        "scale": "binary",
    }
    table = pd.DataFrame({name: columns[name] for name in COLUMNS}, index=raw.index)
    for name in DEMOGRAPHICS:
        table[name] = table[name].astype(object).where(table[name].notna(), None)
    table["item_origin"] = origin
    table["item_platform"] = platform.astype(object).where(platform.notna(), None)
    return validate_ratings(table, f"{SOURCE}/{RAW_FILE}")
