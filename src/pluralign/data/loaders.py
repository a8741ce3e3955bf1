"""Loaders: every ratings source mapped onto the long schema (one row per rating).

`load_ratings(name_or_path)` is the one entry point the CLI and the chapters use. Names are the
datasets in `DATASETS`; anything else is read as a study-format file (CSV or Parquet with the
schema's columns). Every table is validated before it is returned, and carries its provenance in
`table.attrs` (dataset name, sha256 of the files it came from, whether it is simulated).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pluralign.data.corpus import responses_path
from pluralign.data.crehate import load_crehate
from pluralign.data.normalise import (
    age_group_from_bin,
    age_group_from_years,
    normalise_education,
    normalise_gender,
    normalise_political,
    normalise_race,
    political_from_scale,
)
from pluralign.data.schema import (
    COLUMNS,
    DEMOGRAPHICS,
    REQUIRED_TEXT,
    RatingsValidationError,
    validate_ratings,
)
from pluralign.data.simulate import (
    default_params_path,
    load_params,
    simulate_study,
    simulation_sha256,
)
from pluralign.data.sources import resolve_file
from pluralign.data.study import read_study_file, vocabulary_problems
from pluralign.files import file_sha256
from pluralign.paths import project_root

#: The dataset-level prompt for standalone texts: each comment or post is the `response`.
STANDALONE_PROMPTS = {
    "popquorn": "Rate this Reddit comment for how offensive it is (POPQUORN offensiveness task).",
    "sap2022-large": "Rate this social-media post (Annotators with Attitudes, large-scale study).",
    "sap2022-small": "Rate this social-media post (Annotators with Attitudes, small-scale study).",
    "sbic": "Is this social-media post offensive? (Social Bias Inference Corpus v2)",
}

#: Sap et al.'s rating columns and the schema dimension each one becomes.
SAP_DIMENSIONS = {"toany": "toxicity", "racist": "stereotypical_bias"}
#: Sap et al.'s item annotations, as item-level columns (large-scale: per post; small-scale: the
#: category each of its 12 posts was chosen for).
SAP_ITEM_COLUMNS = {
    "isAAE": "item_is_aae",
    "targetsBlackPeople": "item_targets_black_people",
    "vulgar": "item_vulgar",
    "postCategory": "item_post_category",
}
#: SBIC posts no annotator named a target group for.
NO_TARGET = "none"


@dataclass(frozen=True)
class Dataset:
    """A named ratings source: its loader, the manifest files it reads, a one-line description."""

    name: str
    description: str
    files: tuple[tuple[str, str], ...]
    loader: Callable[[], pd.DataFrame]
    simulated: bool = False


def _text_id(prefix: str, text: str) -> str:
    return f"{prefix}-{hashlib.sha1(text.encode()).hexdigest()[:12]}"


def _frame(index: pd.Index, **columns: object) -> pd.DataFrame:
    table = pd.DataFrame({name: columns.get(name) for name in COLUMNS}, index=index)
    for name in DEMOGRAPHICS:
        table[name] = table[name].astype(object).where(table[name].notna(), None)
    return table


def load_popquorn() -> pd.DataFrame:
    """POPQUORN offensiveness: one 1–5 rating per (rater, Reddit comment) → toxicity."""
    raw = pd.read_csv(resolve_file("popquorn", "offensiveness_raw_data.csv"))
    raw.index = raw.index + 2  # the file's line number (header is line 1)
    table = _frame(
        raw.index,
        rating_id="popquorn-" + (raw.index - 1).astype(str),
        participant_id="popquorn-" + raw["user_id"].astype(str),
        gender=raw["gender"].map(normalise_gender),
        race=raw["race"].map(normalise_race),
        age_group=raw["age"].map(age_group_from_bin),
        education=raw["education"].map(normalise_education),
        prompt_id="popquorn",
        prompt=STANDALONE_PROMPTS["popquorn"],
        response_id="popquorn-" + raw["instance_id"].astype(str),
        response=raw["text"],
        dimension="toxicity",
        score=raw["offensiveness"].astype(float),
        scale="5pt",
    )
    return validate_ratings(table, "popquorn/offensiveness_raw_data.csv")


def _load_sap(name: str, file: str, rater: str, item: Callable[[pd.DataFrame], pd.Series]):
    raw = pd.read_csv(resolve_file("sap2022", file))
    raw.index = raw.index + 2
    ages = raw["annotatorAge"] if "annotatorAge" in raw else pd.Series(None, index=raw.index)
    parts = []
    for column, dimension in SAP_DIMENSIONS.items():
        parts.append(
            _frame(
                raw.index,
                rating_id=f"{name}-" + (raw.index - 1).astype(str) + f"-{column}",
                participant_id=f"{name}-" + raw[rater].astype(str),
                gender=raw["annotatorGender"].map(normalise_gender),
                race=raw["annotatorRace"].map(normalise_race),
                political=raw["annotatorPolitics"].map(political_from_scale),
                age_group=ages.map(age_group_from_years),
                prompt_id=name,
                prompt=STANDALONE_PROMPTS[name],
                response_id=item(raw),
                response=raw["tweet"],
                dimension=dimension,
                score=raw[column].astype(float),
                scale="5pt",
            ).assign(**_sap_item_columns(raw))
        )
    return validate_ratings(pd.concat(parts), f"sap2022/{file}")


def _sap_item_columns(raw: pd.DataFrame) -> dict[str, pd.Series]:
    """The item annotations a Sap file has: booleans as `true`/`false`, categories as written
    (the large-scale `postCategory` combines the three flags with toxicity, so it is left out)."""
    wanted = dict(SAP_ITEM_COLUMNS)
    if "isAAE" in raw:
        del wanted["postCategory"]
    return {
        item: raw[column].map(
            lambda value: (
                None
                if pd.isna(value)
                else str(value).lower()
                if isinstance(value, bool)
                else str(value)
            )
        )
        for column, item in wanted.items()
        if column in raw
    }


def load_sap2022_large() -> pd.DataFrame:
    """Annotators with Attitudes, large-scale: `toany` → toxicity, `racist` → stereotypical bias."""
    return _load_sap(
        "sap2022-large",
        "largeScale.csv",
        "annId",
        lambda raw: "sap2022-large-" + raw["postId"].astype(str),
    )


def load_sap2022_small() -> pd.DataFrame:
    """Annotators with Attitudes, small-scale: 12 posts, each rated by all 641 raters.

    Its `postId` does not identify a post (12 texts share 4 ids), so the text's hash does.
    """
    return _load_sap(
        "sap2022-small",
        "smallScale.csv",
        "annID",
        lambda raw: raw["tweet"].map(lambda text: _text_id("sap2022-small", text)),
    )


def load_sbic() -> pd.DataFrame:
    """SBIC v2 dev split: one 0 / 0.5 / 1 offensiveness rating per (worker, post) → toxicity.

    The file has one row per (worker, post, implied stereotype); rows are collapsed to the first of
    each (WorkerId, HITId), and pairs without an offensiveness answer are dropped.
    """
    raw = pd.read_csv(resolve_file("sbic_v2", "SBIC.v2.dev.csv"))
    raw.index = raw.index + 2
    targets = sbic_target_categories(raw)
    raw = raw[~raw.duplicated(["WorkerId", "HITId"], keep="first")]
    raw = raw[raw["offensiveYN"].notna()]
    table = _frame(
        raw.index,
        rating_id="sbic-" + raw["WorkerId"].astype(str) + "-" + raw["HITId"].astype(str),
        participant_id="sbic-" + raw["WorkerId"].astype(str),
        gender=raw["annotatorGender"].map(normalise_gender),
        race=raw["annotatorRace"].map(normalise_race),
        political=raw["annotatorPolitics"].map(normalise_political),
        age_group=raw["annotatorAge"].map(age_group_from_years),
        prompt_id="sbic",
        prompt=STANDALONE_PROMPTS["sbic"],
        response_id="sbic-" + raw["HITId"].astype(str),
        response=raw["post"],
        dimension="toxicity",
        score=raw["offensiveYN"].astype(float),
        scale="3pt",
    )
    table["item_target_category"] = raw["HITId"].map(targets)
    return validate_ratings(table, "sbic_v2/SBIC.v2.dev.csv")


def sbic_target_categories(raw: pd.DataFrame) -> pd.Series:
    """Each SBIC post's targeted group category: the one its annotators' rows name most often
    (ties: the first alphabetically), or `none` when no annotator named a target group."""
    named = raw.dropna(subset=["targetCategory"])
    counts = named.groupby(["HITId", "targetCategory"]).size().rename("n").reset_index()
    counts = counts.sort_values(["HITId", "n", "targetCategory"], ascending=[True, False, True])
    modal = counts.drop_duplicates("HITId").set_index("HITId")["targetCategory"]
    posts = pd.Index(raw["HITId"].unique())
    return modal.reindex(posts).fillna(NO_TARGET).astype(str)


@functools.cache
def _simulated_tables(identity: str) -> dict[str, pd.DataFrame]:
    """The default simulation, once per process (keyed by the sha256 of its inputs)."""
    return simulate_study(load_params())


def _simulation_identity() -> str:
    return simulation_sha256(default_params_path(), responses_path(), load_params().seed)


def load_study_sim(scale: str = "5pt") -> pd.DataFrame:
    """study-sim: SIMULATED raters in the paper's design (configs/sim/default.yml), 5-point."""
    table = _simulated_tables(_simulation_identity())[scale]
    return validate_ratings(table.set_index(table.index + 1), f"study-sim ({scale})")


def example_study_path() -> Path:
    return project_root() / "data" / "examples" / "study_example.csv"


def load_example() -> pd.DataFrame:
    return read_study_file(example_study_path())


DATASETS: dict[str, Dataset] = {
    dataset.name: dataset
    for dataset in (
        Dataset(
            "popquorn",
            "POPQUORN offensiveness task (Pei & Jurgens 2023): Reddit comments, US Prolific raters",
            (("popquorn", "offensiveness_raw_data.csv"),),
            load_popquorn,
        ),
        Dataset(
            "sap2022-large",
            "Annotators with Attitudes, large-scale study (Sap et al. 2022): posts, US raters",
            (("sap2022", "largeScale.csv"),),
            load_sap2022_large,
        ),
        Dataset(
            "sap2022-small",
            "Annotators with Attitudes, small-scale study (Sap et al. 2022): 12 posts, 641 raters",
            (("sap2022", "smallScale.csv"),),
            load_sap2022_small,
        ),
        Dataset(
            "sbic",
            "Social Bias Inference Corpus v2, dev split (Sap et al. 2020): posts, US MTurk raters",
            (("sbic_v2", "SBIC.v2.dev.csv"),),
            load_sbic,
        ),
        Dataset(
            "crehate",
            "CREHate (Lee et al. 2024): hate-speech labels of posts by raters from the US, "
            "Australia, the UK, Singapore and South Africa",
            (
                ("crehate", "CREHate_raw_annotations.csv"),
                ("crehate", "CREHate_final_annotations.csv"),
            ),
            load_crehate,
        ),
        Dataset(
            "study-sim",
            "SIMULATED raters in the paper's design (1,095 US/DE participants, 25 ratings each, "
            "5-point), rating the project's response corpus; not evidence about people",
            (),
            load_study_sim,
            simulated=True,
        ),
        Dataset(
            "study-sim-binary",
            "SIMULATED: the same raters' binary ratings of the same responses",
            (),
            functools.partial(load_study_sim, "binary"),
            simulated=True,
        ),
        Dataset(
            "example",
            "The small study-format example shipped in data/examples (written for the project)",
            (),
            load_example,
        ),
    )
}


def dataset_names() -> list[str]:
    return list(DATASETS)


def is_simulated(name: str) -> bool:
    """Whether a named dataset is simulated; a name the registry lacks (a file) is real data."""
    return name in DATASETS and DATASETS[name].simulated


def load_ratings(name_or_path: str | Path, strict: bool = False) -> pd.DataFrame:
    """The validated long table of a named dataset or a study-format file, with provenance attrs.

    With `strict`, a demographic value outside the schema's vocabulary is refused (by default it
    is kept as a category of its own and listed in one warning).
    """
    key = str(name_or_path)
    if key in DATASETS:
        dataset = DATASETS[key]
        table = dataset.loader()
        if strict and (problems := vocabulary_problems(table, dataset.name)):
            raise RatingsValidationError(dataset.name, problems)
        table.attrs.update(
            dataset=dataset.name, simulated=dataset.simulated, sha256=_named_sha256(dataset)
        )
        return table
    path = Path(key)
    if not path.exists():
        raise FileNotFoundError(
            f"{key!r} is neither a dataset ({', '.join(DATASETS)}) nor an existing file"
        )
    table = read_study_file(path, strict=strict)
    table.attrs.update(dataset=path.stem, simulated=False, sha256=file_sha256(path))
    return table


def _named_sha256(dataset: Dataset) -> str:
    """A named dataset's identity: its manifest files' sha256 (checked against the manifest on
    the way), the simulation's inputs for a simulated one, the example file for the example."""
    if dataset.simulated:
        return _simulation_identity()
    if dataset.files:
        return combined_sha256([resolve_file(source, file) for source, file in dataset.files])
    return file_sha256(example_study_path())


@functools.cache
def dataset_sha256(name_or_path: str) -> str:
    """The sha256 that `load_ratings(name_or_path).attrs["sha256"]` carries, without loading the
    table (a relative file path is read against the project root). Cached per process."""
    dataset = DATASETS.get(name_or_path)
    if dataset is not None:
        return _named_sha256(dataset)
    path = Path(name_or_path)
    if not path.is_absolute():
        path = project_root() / path
    return file_sha256(path)


def combined_sha256(paths: list[Path]) -> str:
    """One sha256 for a dataset: of a single file, or of its files' sha256s in order."""
    if len(paths) == 1:
        return file_sha256(paths[0])
    return hashlib.sha256("".join(file_sha256(path) for path in paths).encode()).hexdigest()


__all__ = [
    "DATASETS",
    "REQUIRED_TEXT",
    "Dataset",
    "dataset_names",
    "load_ratings",
    "read_study_file",
]
