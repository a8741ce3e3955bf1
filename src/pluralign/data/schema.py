"""The long ratings table: one row per rating, validated with pandera.

Every dataset, real or simulated, is mapped onto this one table before anything reads it
(DESIGN §4.1). A table that fails validation raises `RatingsValidationError`, which lists every
problem with its file, row, column, value and rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

DIMENSIONS: tuple[str, ...] = (
    "toxicity",
    "emotional_awareness",
    "sensitivity",
    "stereotypical_bias",
    "helpfulness",
)

#: The values each rating scale allows. SBIC's offensiveness stays a 3-level scale.
SCALE_VALUES: dict[str, tuple[float, ...]] = {
    "5pt": (1.0, 2.0, 3.0, 4.0, 5.0),
    "binary": (0.0, 1.0),
    "3pt": (0.0, 0.5, 1.0),
}

GENDERS = ("female", "male", "nonbinary")
RACES = (
    "white",
    "black",
    "asian",
    "hispanic",
    "native_american",
    "pacific_islander",
    "middle_eastern",
    "multiracial",
    "other",
)
POLITICAL = ("liberal", "moderate", "conservative", "other")
AGE_GROUPS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
EDUCATION = ("less_than_high_school", "high_school", "college", "graduate", "other")

#: The vocabulary of each demographic field. A value outside it is kept as a category of its own
#: (another study's categories rarely match ours) and listed in a warning; `--strict` refuses it.
VOCABULARIES: dict[str, tuple[str, ...]] = {
    "gender": GENDERS,
    "race": RACES,
    "political": POLITICAL,
    "age_group": AGE_GROUPS,
    "education": EDUCATION,
}

#: ISO 3166-1 alpha-2 country codes (officially assigned). `XX` and other user-assigned codes
#: are not countries.
_ISO_COUNTRY_TEXT = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
"""
ISO_COUNTRIES = frozenset(_ISO_COUNTRY_TEXT.split())

REQUIRED_TEXT = (
    "rating_id",
    "participant_id",
    "prompt_id",
    "prompt",
    "response_id",
    "response",
    "dimension",
    "scale",
)
DEMOGRAPHICS = ("country", "gender", "race", "political", "age_group", "education")
#: The fields whose groups the book compares (education is recorded, never contrasted).
GROUP_FIELDS = tuple(field for field in DEMOGRAPHICS if field != "education")
COLUMNS: tuple[str, ...] = (
    "rating_id",
    "participant_id",
    *DEMOGRAPHICS,
    "prompt_id",
    "prompt",
    "response_id",
    "response",
    "dimension",
    "score",
    "scale",
)

#: Optional item-level columns: `item_<name>` (lower case, digits, underscores) holds a property
#: of the rated item (a post's dialect, origin, platform, target), the same on every row of that
#: item. Chapter 2 reports gaps within each of its values (`pluralign gaps NAME --by item_...`).
ITEM_PREFIX = "item_"
ITEM_COLUMN_PATTERN = r"^item_[a-z0-9][a-z0-9_]*$"

MAX_PROBLEMS_SHOWN = 20


def item_columns(table: pd.DataFrame) -> list[str]:
    """The table's item-level columns (`item_*`), in table order."""
    return [str(column) for column in table.columns if is_item_column(column)]


def is_item_column(name: object) -> bool:
    """Whether a column name is a valid item-level column (`ITEM_COLUMN_PATTERN`)."""
    return isinstance(name, str) and re.fullmatch(ITEM_COLUMN_PATTERN, name) is not None


def _one_of(values: tuple[str, ...]) -> pa.Check:
    return pa.Check.isin(values, error=f"must be one of: {', '.join(values)}")


def _score_fits_scale(table: pd.DataFrame) -> pd.Series:
    allowed = table["scale"].map(SCALE_VALUES)
    fits = [
        values is not None and not isinstance(values, float) and score in values
        for score, values in zip(table["score"], allowed, strict=True)
    ]
    return (
        pd.Series(fits, index=table.index)
        | table["score"].isna()
        | ~table["scale"].isin(SCALE_VALUES)
    )


SCORE_RULE = "score is not a value of its scale (5pt: 1-5, binary: 0/1, 3pt: 0/0.5/1)"

RATINGS_SCHEMA = pa.DataFrameSchema(
    {
        "rating_id": pa.Column(str, nullable=False, unique=True, report_duplicates="all"),
        "participant_id": pa.Column(str, nullable=False),
        "country": pa.Column(
            str,
            nullable=True,
            checks=pa.Check.isin(
                sorted(ISO_COUNTRIES), error="must be an ISO 3166 alpha-2 country code"
            ),
        ),
        # open vocabularies (VOCABULARIES): unlisted values are warned about, not refused
        "gender": pa.Column(str, nullable=True),
        "race": pa.Column(str, nullable=True),
        "political": pa.Column(str, nullable=True),
        "age_group": pa.Column(str, nullable=True),
        "education": pa.Column(str, nullable=True),
        "prompt_id": pa.Column(str, nullable=False),
        "prompt": pa.Column(str, nullable=False),
        "response_id": pa.Column(str, nullable=False),
        "response": pa.Column(str, nullable=False),
        "dimension": pa.Column(str, nullable=False, checks=_one_of(DIMENSIONS)),
        "score": pa.Column(float, nullable=False),
        "scale": pa.Column(str, nullable=False, checks=_one_of(tuple(SCALE_VALUES))),
        ITEM_COLUMN_PATTERN: pa.Column(str, nullable=True, required=False, regex=True),
    },
    checks=[pa.Check(_score_fits_scale, name="score_fits_scale", error=SCORE_RULE)],
    strict=True,
    ordered=False,
    name="ratings",
)

RULES = {
    "not_nullable": "required field is empty",
    "field_uniqueness": "duplicate value",
    "column_in_dataframe": "missing column",
    "column_in_schema": "unknown column",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a ratings file: where (file, row, column), what value, which rule."""

    file: str
    row: int | None
    column: str | None
    value: str
    rule: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column {self.column!r}"
        shown = "" if self.value == "" else f" (value {self.value!r})"
        return f"{where}: {self.rule}{shown}"


class RatingsValidationError(ValueError):
    """A ratings table broke the schema; `problems` lists every problem found."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        shown = "\n".join(f"  - {problem}" for problem in problems[:MAX_PROBLEMS_SHOWN])
        rest = len(problems) - MAX_PROBLEMS_SHOWN
        more = f"\n  … and {rest} more problems" if rest > 0 else ""
        super().__init__(f"{source}: {len(problems)} problem(s) in the ratings\n{shown}{more}")


def _rule_text(check: str) -> str:
    if check in RULES:
        return RULES[check]
    if check.startswith("dtype(") or check.startswith("coerce_dtype("):
        return f"wrong type: expected {check.split('(', 1)[1].rstrip(')')}"
    return check


def problems_from_failures(file: str, failures: pd.DataFrame) -> list[Problem]:
    """Turn pandera's failure cases into `Problem`s, one per (row, column, rule)."""
    problems = []
    for case in failures.itertuples(index=False):
        rule = _rule_text(str(case.check))
        column = None if pd.isna(case.column) else str(case.column)
        if rule == SCORE_RULE and column != "score":
            continue  # a wide check reports every column of a failing row; keep the score
        if rule in ("missing column", "unknown column"):
            problems.append(Problem(file, None, str(case.failure_case), "", rule))
            continue
        row = None if pd.isna(case.index) else int(case.index)
        value = "" if pd.isna(case.failure_case) else str(case.failure_case)
        problems.append(Problem(file, row, column, value, rule))
    return problems


def validate_ratings(table: pd.DataFrame, file: str, keep_index: bool = False) -> pd.DataFrame:
    """Validate a long table whose index holds the source row numbers; raise with every problem.

    Validated in place (no copy of a possibly large table); the result has the schema's column
    order, renumbered from 0 unless `keep_index`.
    """
    try:
        validated = RATINGS_SCHEMA.validate(table, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as error:
        problems = problems_from_failures(file, error.failure_cases)
        unique = list(dict.fromkeys(problems))
        unique.sort(key=lambda problem: (problem.row is not None, problem.row or 0))
        raise RatingsValidationError(file, unique) from None
    ordered = validated[[*COLUMNS, *item_columns(validated)]]
    return ordered if keep_index else ordered.reset_index(drop=True)


def unlisted_categories(table: pd.DataFrame) -> dict[str, dict[str, list[str]]]:
    """Per demographic field, the values outside its vocabulary (`found`) and the vocabulary
    (`allowed`); fields whose values are all listed are left out."""
    unlisted = {}
    for column, allowed in VOCABULARIES.items():
        values = table[column].dropna().unique()
        found = sorted(str(value) for value in values if value not in allowed)
        if found:
            unlisted[column] = {"found": found, "allowed": list(allowed)}
    return unlisted
