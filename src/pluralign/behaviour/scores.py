"""Scores of sampled answers: toxicity, the emotional-awareness proxy, every group's reward model.

Each sample is scored by

- the toxicity scorer (metric `toxicity`): the offline proxy "minilm-sbic-offensive", or Detoxify
  when a local checkpoint is configured; higher = more toxic;
- the emotional-awareness proxy "ea-proxy-leas-nrc" (metric `emotional_awareness`), given the
  prompt; higher = more aware;
- each group's reward model of the dataset (see `reward_model_folders`): metric `reward:<group>`
  is its combined, oriented reward (higher = better for that group), and `rating:<group>:<dim>`
  its predicted rating on each dimension (on the rating scale, not oriented).

The `scorer` column names the instrument (the toxicity scorer's name, the proxy's name, or
`reward-model:<run_id>`), so a reader can always tell a proxy from a rating. Reward models read
MiniLM embeddings memoised per text, so a text is embedded once for all reward models.

`scores.parquet` (beside the samples) holds one row per (dataset, prompt, sample, metric);
`scores.json` records, per dataset, the scorers and their versions. When a scorer changes (a new
reward model appears, a scorer is refitted), that scorer's rows are recomputed and the other
scorers' stored rows are kept: scoring a text again can differ in the last bits (embeddings of a
batch depend on its padding), so nothing is recomputed that has not changed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pluralign.behaviour.samples import (
    read_samples,
    write_json_atomically,
    write_parquet_atomically,
)
from pluralign.behaviour.settings import BehaviourSettings
from pluralign.files import file_sha256
from pluralign.scorers.emotional_awareness import SOURCE_FILES as EA_SOURCE_FILES
from pluralign.scorers.emotional_awareness import EmotionalAwarenessProxy
from pluralign.scorers.toxicity import (
    OfflineToxicityScorer,
    load_toxicity_scorer,
    parameters_digest,
)
from pluralign.train import store
from pluralign.train.reward import CARD_FILE, MODEL_FILE, RewardModel
from pluralign.train.spec import load_profile

SCORES_FILE = "scores.parquet"
SCORES_META = "scores.json"
SCORE_COLUMNS = ["dataset", "prompt_id", "sample", "scorer", "metric", "score"]
TOXICITY = "toxicity"
EMOTIONAL_AWARENESS = "emotional_awareness"
REWARD_PREFIX = "reward:"
RATING_PREFIX = "rating:"


def reward_metric(group: str) -> str:
    """The metric name of group `group`'s combined reward: `reward:<group>`."""
    return f"{REWARD_PREFIX}{group}"


def rating_metric(group: str, dimension: str) -> str:
    """The metric name of group `group`'s predicted rating on `dimension`."""
    return f"{RATING_PREFIX}{group}:{dimension}"


# --------------------------------------------------------------------------------------------
# scorers


@cache
def toxicity_scorer(
    checkpoint: str | None, model_type: str, config_path: str | None
) -> tuple[Any, str]:
    """The configured toxicity scorer (loaded once per process) and its version string."""
    scorer = load_toxicity_scorer(
        checkpoint, model_type, Path(config_path) if config_path else None
    )
    if isinstance(scorer, OfflineToxicityScorer):
        scorer.progress = False
        version = parameters_digest(scorer.weights_dir)[:12]
    else:
        version = file_sha256(Path(str(checkpoint)))[:12]
    return scorer, version


@cache
def ea_proxy() -> tuple[Any, str]:
    """The emotional-awareness proxy and its version: a hash of the files that define its scores
    (its rules' source and its lexicon data file, `SOURCE_FILES`) and of nrclex's version (which
    ships the NRC lexicon), so editing either file rescores the cached samples."""
    digest = hashlib.sha256()
    for path in EA_SOURCE_FILES:
        digest.update(f"{path.name}\0{file_sha256(path)}\n".encode())
    digest.update(importlib.metadata.version("nrclex").encode())
    return EmotionalAwarenessProxy(), digest.hexdigest()[:12]


@dataclass
class RewardModelSource:
    """One group's reward model of a dataset and the run it was fitted in."""

    group: str
    run_id: str
    label: str
    folder: Path

    @property
    def version(self) -> str:

        digest = hashlib.sha256()
        for name in (MODEL_FILE, CARD_FILE):
            digest.update(file_sha256(self.folder / store.REWARD_MODEL_DIR / name).encode())
        return digest.hexdigest()[:12]


@cache
def _profile_specs(profile: str, dataset: str) -> tuple[Any, ...]:

    return load_profile(profile, datasets=[dataset]).specs


def reward_model_folders(
    dataset: str, settings: BehaviourSettings, root: Path | None = None
) -> list[RewardModelSource]:
    """Each group's reward model of `dataset`: from the finished runs of the profiles in
    `settings.reward_models_from` (the first profile with a group wins), in the configured
    condition (scale, values, aggregation), lowest seed, DPO runs before GRPO runs (their reward
    models are the same). The run id breaks no tie that matters: it changes when the store is
    re-keyed, so the condition must name one run per group, profile, seed and optimiser."""
    found: dict[str, RewardModelSource] = {}
    for profile in settings.reward_models_from:
        specs = [
            spec
            for spec in _profile_specs(profile, dataset)
            if spec.scale == settings.reward_model_scale
            and spec.values == settings.reward_model_values
            and spec.aggregation == settings.reward_model_aggregation
        ]
        for spec in sorted(specs, key=lambda s: (s.seed, s.optimiser != "dpo", s.run_id)):
            if spec.group in found:
                continue
            folder = store.find_run(spec, root)
            if folder is not None and (folder / store.REWARD_MODEL_DIR).is_dir():
                found[spec.group] = RewardModelSource(spec.group, spec.run_id, spec.label, folder)
    return [found[group] for group in sorted(found)]


@dataclass
class ScorerSuite:
    """Every scorer that reads one dataset's samples, with a description that versions them."""

    dataset: str
    toxicity: Any
    toxicity_version: str
    ea: Any
    ea_version: str
    reward_models: list[RewardModelSource] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        """Scorer names and versions: a change here recomputes the dataset's scores."""
        return {
            "toxicity": {"name": self.toxicity.name, "version": self.toxicity_version},
            "emotional_awareness": {"name": self.ea.name, "version": self.ea_version},
            "reward_models": {
                source.group: {
                    "run_id": source.run_id,
                    "label": source.label,
                    "version": source.version,
                }
                for source in self.reward_models
            },
        }

    @property
    def key(self) -> str:
        text = json.dumps(self.describe(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def components(self) -> list[str]:
        """The suite's scorers in the order their rows are stored: each group's reward model
        (`reward:<group>`), then toxicity, then the emotional-awareness proxy."""
        groups = [f"{REWARD_PREFIX}{source.group}" for source in self.reward_models]
        return [*groups, TOXICITY, EMOTIONAL_AWARENESS]

    def changed_components(self, stored: dict[str, Any] | None) -> list[str]:
        """The components whose description differs from `stored` (a `describe()` recorded with
        earlier scores): only these need scoring again."""
        if not stored:
            return self.components()
        current = self.describe()
        changed = [
            f"{REWARD_PREFIX}{group}"
            for group, entry in current["reward_models"].items()
            if stored.get("reward_models", {}).get(group) != entry
        ]
        changed += [
            name for name in (TOXICITY, EMOTIONAL_AWARENESS) if stored.get(name) != current[name]
        ]
        return changed

    def component_rows(self, scores: pd.DataFrame, component: str) -> pd.DataFrame:
        """The rows of `scores` (this suite's dataset) that `component` produced."""
        rows = scores[scores["dataset"] == self.dataset]
        if component in (TOXICITY, EMOTIONAL_AWARENESS):
            return rows[rows["metric"] == component]
        group = component.removeprefix(REWARD_PREFIX)
        source = next(source for source in self.reward_models if source.group == group)
        return rows[rows["scorer"] == f"reward-model:{source.run_id}"]

    def score(self, samples: pd.DataFrame, only: list[str] | None = None) -> pd.DataFrame:
        """Tidy scores of `samples` (columns `SCORE_COLUMNS`), one row per sample and metric;
        `only` limits them to some `components()` (default: all)."""
        wanted = set(self.components() if only is None else only)
        prompts = samples["prompt"].astype(str).tolist()
        responses = samples["response"].astype(str).tolist()
        keys = samples[["prompt_id", "sample"]].reset_index(drop=True)
        parts = []

        def add(scorer: str, metric: str, values: np.ndarray) -> None:
            parts.append(
                keys.assign(
                    dataset=self.dataset,
                    scorer=scorer,
                    metric=metric,
                    score=np.asarray(values, dtype=np.float64),
                )
            )

        for source in self.reward_models:
            if f"{REWARD_PREFIX}{source.group}" not in wanted:
                continue
            model = RewardModel.load(source.folder / store.REWARD_MODEL_DIR)
            scorer = f"reward-model:{source.run_id}"
            add(scorer, reward_metric(source.group), model.score(prompts, responses))
            predicted = model.predict(prompts, responses)
            for dimension in predicted.columns:
                add(scorer, rating_metric(source.group, dimension), predicted[dimension])
        if TOXICITY in wanted:
            add(self.toxicity.name, TOXICITY, self.toxicity.score(responses))
        if EMOTIONAL_AWARENESS in wanted:
            add(self.ea.name, EMOTIONAL_AWARENESS, self.ea.score(responses, prompts))
        if not parts:
            return pd.DataFrame(columns=SCORE_COLUMNS)
        return pd.concat(parts, ignore_index=True)[SCORE_COLUMNS]

    def rescore(
        self, samples: pd.DataFrame, stored: pd.DataFrame, described: dict[str, Any] | None
    ) -> pd.DataFrame:
        """This dataset's scores with only the changed components scored again (the others'
        stored rows kept as they are), in the order `score` gives them."""
        changed = self.changed_components(described)
        fresh = self.score(samples, only=changed)
        parts = [
            self.component_rows(fresh if component in changed else stored, component)
            for component in self.components()
        ]
        return pd.concat(parts, ignore_index=True)[SCORE_COLUMNS]


def scorer_suite(
    dataset: str, settings: BehaviourSettings, root: Path | None = None
) -> ScorerSuite:
    """The scorers of `dataset`'s samples under `settings`."""
    toxicity, toxicity_version = toxicity_scorer(
        settings.detoxify_checkpoint, settings.detoxify_model_type, settings.detoxify_config_path
    )
    ea, ea_version = ea_proxy()
    return ScorerSuite(
        dataset=dataset,
        toxicity=toxicity,
        toxicity_version=toxicity_version,
        ea=ea,
        ea_version=ea_version,
        reward_models=reward_model_folders(dataset, settings, root),
    )


# --------------------------------------------------------------------------------------------
# the stored scores


def _read_meta(folder: Path) -> dict[str, Any]:
    path = folder / SCORES_META
    return json.loads(path.read_text()) if path.is_file() else {"datasets": {}}


def scores_are_current(folder: Path, suites: list[ScorerSuite]) -> bool:
    """Whether `folder`'s stored scores cover every suite with the same scorers."""
    meta = _read_meta(Path(folder))
    stored = meta.get("datasets", {})
    return (Path(folder) / SCORES_FILE).is_file() and all(
        stored.get(suite.dataset, {}).get("key") == suite.key for suite in suites
    )


def ensure_scores(folder: Path, suites: list[ScorerSuite]) -> pd.DataFrame:
    """The scores of `folder`'s samples for each suite's dataset, computing only what is stale.

    Rows of other datasets already stored are kept. The parquet file is replaced before the JSON
    that describes it, so an interruption between the two only causes a recomputation.
    """
    folder = Path(folder)
    meta = _read_meta(folder)
    path = folder / SCORES_FILE
    stored = pd.read_parquet(path) if path.is_file() else pd.DataFrame(columns=SCORE_COLUMNS)
    stale = [
        suite
        for suite in suites
        if meta.get("datasets", {}).get(suite.dataset, {}).get("key") != suite.key
        or not (stored["dataset"] == suite.dataset).any()
    ]
    if stale:
        samples, _ = read_samples(folder)
        started = time.perf_counter()
        described = {
            suite.dataset: meta.get("datasets", {}).get(suite.dataset, {}).get("scorers")
            if (stored["dataset"] == suite.dataset).any()
            else None
            for suite in stale
        }
        fresh = [suite.rescore(samples, stored, described[suite.dataset]) for suite in stale]
        seconds = time.perf_counter() - started
        renewed = {suite.dataset for suite in stale}
        kept = stored[~stored["dataset"].isin(renewed)]
        stored = pd.concat([kept, *fresh], ignore_index=True)[SCORE_COLUMNS]
        write_parquet_atomically(path, stored)
        datasets = dict(meta.get("datasets", {}))
        for suite in stale:
            datasets[suite.dataset] = {
                "key": suite.key,
                "scorers": suite.describe(),
                "seconds": round(seconds / len(stale), 3),
                "rows": int((stored["dataset"] == suite.dataset).sum()),
            }
        write_json_atomically(folder / SCORES_META, {"datasets": datasets})
        stored = pd.read_parquet(path)  # the same dtypes as a later cache hit
    wanted = {suite.dataset for suite in suites}
    return stored[stored["dataset"].isin(wanted)].reset_index(drop=True)
