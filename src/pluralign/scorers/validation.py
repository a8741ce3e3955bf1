"""How the scorers are checked against labelled data, and the reports that record it.

Toxicity: `validate_toxicity_scorer` compares a scorer and the profanity baseline on three
held-out sets: SBIC's test split (AUROC for mean offensiveness ≥ 0.5, overall and within
sources), POPQUORN (Spearman with each comment's mean offensiveness) and Sap et al.'s large-scale
study (Spearman with each post's mean `toany`); `score_hard_cases` adds short texts written for
the project. The emotional-awareness proxy: `validate_ea_proxy` ranks the project's labelled set
(`data/scorers/ea_labelled.csv`, written by the authors by `EA_RUBRIC.md`) and reports rank
agreement, on held-out prompts too, beside a naive NRC emotion-word count.

`pluralign scorers train` writes both reports to `results/scorers/`.
"""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score

from pluralign.data.loaders import load_ratings
from pluralign.data.sources import resolve_file
from pluralign.files import file_sha256
from pluralign.paths import project_root
from pluralign.scorers.emotional_awareness import (
    PROXY_NAME,
    TIER_WEIGHTS,
    WEIGHTS,
    EmotionalAwarenessProxy,
    nrc_intensity,
    nrc_lexicon_path,
)
from pluralign.scorers.toxicity import (
    DIMENSION,
    SCORE_NOTE,
    OfflineToxicityScorer,
    ProfanityCheckScorer,
    Scorer,
)

HARD_CASES_FILE = Path("data") / "scorers" / "toxicity_hard_cases.csv"
VALIDATION_REPORT_FILE = Path("results") / "scorers" / "toxicity_validation.json"
EA_REPORT_FILE = Path("results") / "scorers" / "ea_validation.json"

#: Training and validation files of SBIC (per-post aggregates): never train on the test split.
SBIC_SOURCE = "sbic_v2"
SBIC_TRAIN_FILE = "SBIC.v2.agg.dev.csv"
SBIC_TEST_FILE = "SBIC.v2.agg.tst.csv"
#: A post counts as offensive when its annotators' mean `offensiveYN` is at least this.
OFFENSIVE_THRESHOLD = 0.5
#: A source enters the within-source AUROC with this many posts and this many of each class.
MIN_SOURCE_POSTS = 50
MIN_SOURCE_CLASS = 10


# --------------------------------------------------------------------------------------------
# Toxicity: data for training and validation


def sbic_posts(file: str) -> tuple[pd.DataFrame, Path]:
    """SBIC per-post aggregates: post text, mean offensiveness, source; and the verified path."""
    path = resolve_file(SBIC_SOURCE, file)
    table = pd.read_csv(path, usecols=["post", "offensiveYN", "dataSource"])
    table = table.dropna(subset=["post", "offensiveYN"]).reset_index(drop=True)
    table["post"] = table["post"].astype(str)
    table["dataSource"] = table["dataSource"].fillna("unknown").astype(str)
    return table, path


def per_text_mean_toxicity(dataset: str) -> pd.DataFrame:
    """Mean toxicity rating per text of a named dataset: columns text, mean_score, n_ratings."""
    ratings = load_ratings(dataset)
    ratings = ratings[ratings["dimension"] == DIMENSION]
    means = ratings.groupby("response_id", sort=True).agg(
        text=("response", "first"), mean_score=("score", "mean"), n_ratings=("score", "size")
    )
    return means.reset_index()


def within_source_auroc(labels: np.ndarray, scores: np.ndarray, sources: np.ndarray) -> float:
    """Mean AUROC inside each source with enough posts of both classes (no source shortcut)."""
    values = []
    for source in np.unique(sources):
        inside = sources == source
        positives = int(labels[inside].sum())
        if inside.sum() >= MIN_SOURCE_POSTS and min(positives, inside.sum() - positives) >= (
            MIN_SOURCE_CLASS
        ):
            values.append(roc_auc_score(labels[inside], scores[inside]))
    return float(np.mean(values)) if values else float("nan")


# --------------------------------------------------------------------------------------------
# Toxicity: validation


def validation_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """A validation table as JSON records (what the weights' metadata and the report store)."""
    return json.loads(table.reset_index().to_json(orient="records"))


def validate_toxicity_scorer(scorer: Scorer, baseline: Scorer | None = None) -> pd.DataFrame:
    """The validation table: one row per scorer (the scorer, then the profanity baseline).

    Columns: `sbic_auroc` (SBIC test split, offensive = mean offensiveYN >= 0.5),
    `sbic_within_source_auroc` (the same, averaged within sources), `popquorn_spearman` (per-comment
    mean offensiveness), `sap_spearman` (per-post mean `toany` of Sap et al.'s large-scale study),
    and `n` of texts for each.
    """
    baseline = baseline or ProfanityCheckScorer()
    sbic, _ = sbic_posts(SBIC_TEST_FILE)
    sbic_labels = (sbic["offensiveYN"].to_numpy() >= OFFENSIVE_THRESHOLD).astype(int)
    popquorn = per_text_mean_toxicity("popquorn")
    sap = per_text_mean_toxicity("sap2022-large")
    rows = []
    for role, candidate in (("scorer", scorer), ("baseline", baseline)):
        sbic_scores = candidate.score(sbic["post"].tolist())
        popquorn_scores = candidate.score(popquorn["text"].tolist())
        sap_scores = candidate.score(sap["text"].tolist())
        rows.append(
            {
                "role": role,
                "name": candidate.name,
                "sbic_auroc": float(roc_auc_score(sbic_labels, sbic_scores)),
                "sbic_within_source_auroc": within_source_auroc(
                    sbic_labels, sbic_scores, sbic["dataSource"].to_numpy()
                ),
                "sbic_n": len(sbic),
                "popquorn_spearman": float(
                    stats.spearmanr(popquorn_scores, popquorn["mean_score"])[0]
                ),
                "popquorn_n": len(popquorn),
                "sap_spearman": float(stats.spearmanr(sap_scores, sap["mean_score"])[0]),
                "sap_n": len(sap),
            }
        )
    return pd.DataFrame(rows).set_index("role")


def hard_cases_path() -> Path:
    return project_root() / HARD_CASES_FILE


def score_hard_cases(scorer: Scorer, baseline: Scorer | None = None) -> pd.DataFrame:
    """The project's hard cases (texts written for the project) with both scorers' scores."""
    baseline = baseline or ProfanityCheckScorer()
    cases = pd.read_csv(hard_cases_path())
    texts = cases["text"].tolist()
    cases["scorer_score"] = scorer.score(texts)
    cases["baseline_score"] = baseline.score(texts)
    return cases


def hard_case_summary(cases: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per scorer: mean score of toxic and not-toxic cases and the pairwise ordering accuracy.

    `pairwise_accuracy` is the share of (toxic, not toxic) pairs in which the toxic text scores
    higher (= AUROC); `not_toxic_above_toxic_median` counts the not-toxic texts that score above
    the median toxic text.
    """
    toxic = cases["expected"].eq("toxic").to_numpy()
    summary = {}
    for column in ("scorer_score", "baseline_score"):
        scores = cases[column].to_numpy()
        pairs = scores[toxic][:, None] - scores[~toxic][None, :]
        summary[column.removesuffix("_score")] = {
            "mean_toxic": float(scores[toxic].mean()),
            "mean_not_toxic": float(scores[~toxic].mean()),
            "pairwise_accuracy": float(np.mean((pairs > 0) + 0.5 * (pairs == 0))),
            "not_toxic_above_toxic_median": int((scores[~toxic] > np.median(scores[toxic])).sum()),
            "n_toxic": int(toxic.sum()),
            "n_not_toxic": int((~toxic).sum()),
        }
    return summary


def write_toxicity_validation_report(
    path: Path | None = None, scorer: Scorer | None = None
) -> dict[str, Any]:
    """Write the validation table and the scored hard cases: `path` (.json) and CSVs beside it.

    `path` defaults to `results/scorers/toxicity_validation.json` in the project; the CSVs are
    `<stem>.csv` (the validation table) and `<stem>_hard_cases.csv`. Returns the report.
    """
    path = Path(path) if path is not None else project_root() / VALIDATION_REPORT_FILE
    scorer = scorer or OfflineToxicityScorer()
    baseline = ProfanityCheckScorer()
    table = validate_toxicity_scorer(scorer, baseline)
    cases = score_hard_cases(scorer, baseline)
    report = {
        "scorer": scorer.name,
        "baseline": baseline.name,
        "dimension": DIMENSION,
        "note": SCORE_NOTE,
        "validation": validation_records(table),
        "validation_sets": {
            "sbic_auroc": f"{SBIC_SOURCE}/{SBIC_TEST_FILE}: AUROC for mean offensiveYN >= 0.5",
            "sbic_within_source_auroc": "the same AUROC computed inside each source (>= 50 "
            "posts, >= 10 of each class) and averaged: what does not depend on recognising "
            "the source",
            "popquorn_spearman": "Spearman with each POPQUORN comment's mean offensiveness (1-5)",
            "sap_spearman": "Spearman with each post's mean `toany` rating (1-5) in Sap et al. "
            "(2022), large-scale study",
        },
        "hard_cases": {
            "file": HARD_CASES_FILE.as_posix(),
            "what": "short texts written for the project; `expected` is what a careful reader "
            "expects",
            "summary": hard_case_summary(cases),
            "cases": json.loads(cases.to_json(orient="records")),
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    table.to_csv(path.with_suffix(".csv"))
    cases.to_csv(path.with_name(f"{path.stem}_hard_cases.csv"), index=False)
    return report


# --------------------------------------------------------------------------------------------
# The emotional-awareness proxy: validation on the project's labelled set

LABEL_ORDER = {"low": 0, "medium": 1, "high": 2}
DEVELOPMENT_PROMPTS = frozenset(f"p{i:02d}" for i in range(1, 19, 2))
"""Prompts the rules were developed on (odd numbers); the even-numbered ones are held out."""


def labelled_set_path() -> Path:
    """The project's EA validation set (written by the authors, see EA_RUBRIC.md)."""
    return project_root() / "data" / "scorers" / "ea_labelled.csv"


def load_labelled_set(path: Path | None = None) -> pd.DataFrame:
    """The labelled responses with `prompt_id` (from `item_id`), `split` and ordinal `level`."""
    table = pd.read_csv(path or labelled_set_path(), dtype=str, keep_default_na=False)
    table["prompt_id"] = table["item_id"].str.split("-").str[0]
    table["split"] = np.where(table["prompt_id"].isin(DEVELOPMENT_PROMPTS), "dev", "held_out")
    table["level"] = table["label"].map(LABEL_ORDER)
    if table["level"].isna().any():
        bad = table.loc[table["level"].isna(), "label"].unique()
        raise ValueError(f"unknown labels in the EA set: {list(bad)}")
    return table


def _rowwise_spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row pair (average ranks for ties); NaN where a row is constant."""
    rx = stats.rankdata(x, axis=1) - (x.shape[1] + 1) / 2
    ry = stats.rankdata(y, axis=1) - (y.shape[1] + 1) / 2
    denominator = np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (rx * ry).sum(axis=1) / denominator, np.nan)


def _rank_agreement(labels: np.ndarray, scores: np.ndarray, seed: int, n_boot: int) -> dict:
    """Spearman's rho with a seeded item-bootstrap 95% CI, Kendall's tau-b, and n."""
    rho = float(stats.spearmanr(labels, scores).statistic)
    tau = float(stats.kendalltau(labels, scores).statistic)
    picks = np.random.default_rng(seed).integers(0, len(labels), (n_boot, len(labels)))
    boot = _rowwise_spearman(labels[picks], scores[picks])
    low, high = np.nanpercentile(boot, [2.5, 97.5])
    return {
        "spearman_rho": rho,
        "spearman_ci95": [float(low), float(high)],
        "kendall_tau_b": tau,
        "n": len(labels),
    }


def _pairwise_accuracy(better: np.ndarray, worse: np.ndarray) -> float:
    """Share of (better, worse) pairs ranked the right way round; ties count one half."""
    diff = better[:, None] - worse[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


def _separation(table: pd.DataFrame, score_column: str) -> dict[str, Any]:
    """How well a score ranks caring (high) replies above hostile-but-emotional ones."""
    hostile = table[table["style"] == "hostile_emotional"]
    caring = table[table["label"] == "high"]
    within = []
    for prompt_id, group in table.groupby("prompt_id"):
        h = group.loc[group["style"] == "hostile_emotional", score_column].to_numpy()
        c = group.loc[group["label"] == "high", score_column].to_numpy()
        if len(h) and len(c):
            within.append((prompt_id, _pairwise_accuracy(c, h)))
    return {
        "n_hostile": len(hostile),
        "n_caring": len(caring),
        "pairwise_accuracy": _pairwise_accuracy(
            caring[score_column].to_numpy(), hostile[score_column].to_numpy()
        ),
        "within_prompt_accuracy": float(np.mean([acc for _, acc in within])),
        "hostile_above_zero": int((hostile[score_column] > 0).sum()),
    }


def _discordance(levels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Per item: the share of items with another label that the score orders the wrong way."""
    level_diff = np.sign(levels[:, None] - levels[None, :])
    score_diff = np.sign(scores[:, None] - scores[None, :])
    other_label = level_diff != 0
    wrong = other_label & (score_diff != level_diff)
    return wrong.sum(axis=1) / np.maximum(1, other_label.sum(axis=1))


def validate_ea_proxy(
    path: Path | None = None, *, seed: int = 20251118, n_boot: int = 2000
) -> dict[str, Any]:
    """Score the labelled set and report how well the proxy ranks it (and the naive baseline).

    Returns Spearman's rho with a seeded bootstrap CI over items, Kendall's tau-b, per-label
    means, the hostile-vs-caring separation, the same on held-out prompts only, and provenance.
    """
    csv_path = Path(path) if path else labelled_set_path()
    table = load_labelled_set(csv_path)
    proxy = EmotionalAwarenessProxy()
    table["score"] = proxy.score(table["response"].tolist(), table["prompt"].tolist())
    table["score_no_prompt"] = proxy.score(table["response"].tolist())
    table["nrc_intensity"] = nrc_intensity(table["response"].tolist())
    levels = table["level"].to_numpy(dtype=float)

    def summary(part: pd.DataFrame, column: str) -> dict[str, Any]:
        return _rank_agreement(part["level"].to_numpy(float), part[column].to_numpy(), seed, n_boot)

    per_label = table.groupby("label")["score"].agg(["mean", "median", "count"])
    by_split = {
        name: {
            **summary(part, "score"),
            "n_prompts": int(part["prompt_id"].nunique()),
            "prompts": sorted(part["prompt_id"].unique()),
            "hostile_vs_caring": _separation(part, "score"),
        }
        for name, part in table.groupby("split")
    }
    table["discordance"] = _discordance(levels, table["score"].to_numpy())
    return {
        "proxy": PROXY_NAME,
        "dimension": "emotional_awareness",
        "what": (
            "agreement of the EA proxy with labels the project's authors wrote by EA_RUBRIC.md "
            "(a proxy validation set, not human-subject data)"
        ),
        "overall": {
            **summary(table, "score"),
            "n_prompts": int(table["prompt_id"].nunique()),
            "hostile_vs_caring": _separation(table, "score"),
        },
        "held_out_prompts": by_split["held_out"],
        "development_prompts": by_split["dev"],
        "without_prompt_context": summary(table, "score_no_prompt"),
        "per_label": {
            label: {
                "mean": float(row["mean"]),
                "median": float(row["median"]),
                "n": int(row["count"]),
            }
            for label, row in per_label.reindex(list(LABEL_ORDER)).iterrows()
        },
        "per_style_mean": {
            style: float(value)
            for style, value in table.groupby("style")["score"].mean().sort_values().items()
        },
        "baseline_nrc_intensity": {
            **summary(table, "nrc_intensity"),
            "hostile_vs_caring": _separation(table, "nrc_intensity"),
            "what": "NRC emotion-tagged tokens per token, ignoring who feels what",
        },
        "largest_disagreements": [
            {
                "item_id": row["item_id"],
                "label": row["label"],
                "style": row["style"],
                "score": round(float(row["score"]), 3),
                "share_of_other_label_items_misordered": round(float(row["discordance"]), 3),
            }
            for _, row in table.sort_values("discordance", ascending=False).head(8).iterrows()
        ],
        "settings": {"seed": seed, "n_boot": n_boot, "weights": WEIGHTS, "tiers": TIER_WEIGHTS},
        "provenance": {
            "labelled_set": csv_path.name,
            "labelled_set_sha256": file_sha256(csv_path),
            "nrc_lexicon_sha256": file_sha256(nrc_lexicon_path()),
            "versions": {
                name: importlib.metadata.version(name)
                for name in ("nrclex", "numpy", "scipy", "pandas")
            },
        },
    }


def write_ea_validation_report(path: Path | str | None = None, **options: Any) -> Path:
    """Write `validate_ea_proxy()` as JSON (default `results/scorers/ea_validation.json`)."""
    target = Path(path) if path else project_root() / EA_REPORT_FILE
    report = validate_ea_proxy(**options)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return target
