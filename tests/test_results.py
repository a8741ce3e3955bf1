"""The committed results agree with the code: every run folder is complete and named by the hash
of its spec, its held-out metrics follow from its own per-pair scores, its spec is one the sweep
profiles ask for at the current code version, and its stored behaviour scores are what the
current scorers give for its stored samples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pluralign.behaviour import samples as samples_store
from pluralign.behaviour.scores import SCORES_FILE, scorer_suite
from pluralign.behaviour.settings import load_settings
from pluralign.train import store
from pluralign.train.heldout import pair_clusters, preference_metrics
from pluralign.train.spec import load_profile

#: The sweep profiles whose runs are committed.
COMMITTED_PROFILES = ("quick", "design")


def committed_runs(project_root: Path) -> list[Path]:
    root = project_root / "results" / "runs"
    folders = sorted(
        p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("base-", "."))
    )
    assert folders, "results/runs holds no committed run"
    return folders


def test_every_committed_run_is_complete_and_named_by_its_spec(project_root: Path) -> None:
    for folder in committed_runs(project_root):
        assert store.is_finished(folder), f"{folder.name}: incomplete run folder"
        assert store.read_spec(folder).run_id == folder.name, f"{folder.name}: not its spec's hash"
        for name in (store.LOG_FILE, "eval_pairs.parquet", "train_pairs.parquet"):
            assert (folder / name).is_file(), f"{folder.name}: {name} missing"


def test_held_out_metrics_follow_from_the_stored_per_pair_scores(project_root: Path) -> None:
    """Recompute held-out accuracy and margin, with their clustered CIs, from the stored
    per-pair log-probabilities of one run per dataset and optimiser; they must match
    metrics.json."""
    checked: set[tuple[str, str]] = set()
    for folder in committed_runs(project_root):
        spec = store.read_spec(folder)
        if (spec.dataset, spec.optimiser) in checked:
            continue
        checked.add((spec.dataset, spec.optimiser))
        recorded = json.loads((folder / store.METRICS_FILE).read_text())["evaluation"]
        pairs = pd.read_parquet(folder / "eval_pairs.parquet")
        pairs["raters"] = pairs["raters"].map(lambda joined: str(joined).split(";"))
        recomputed = preference_metrics(
            pairs,
            pair_clusters(pairs, recorded["item_unit"]),
            spec.hyper.bootstrap_samples,
            spec.seed,
        )
        for name in ("preference_accuracy", "mean_margin"):
            for field in ("estimate", "ci_low", "ci_high"):
                assert recomputed[name][field] == pytest.approx(recorded[name][field], abs=1e-6), (
                    f"{folder.name}: {name}.{field}"
                )
        assert recomputed["moved"] == recorded["moved"]


@pytest.mark.slow
def test_committed_runs_are_the_current_codes_runs(mirror: Path, project_root: Path) -> None:
    """A change to the training code (or data, or pinned libraries) changes every run id; the
    committed runs must then be retrained (`pluralign sweep --profile quick|design`)."""
    wanted = {spec.run_id for name in COMMITTED_PROFILES for spec in load_profile(name).specs}
    stale = [folder.name for folder in committed_runs(project_root) if folder.name not in wanted]
    assert not stale, f"committed runs no profile asks for at this code version: {stale}"


@pytest.mark.slow
def test_stored_behaviour_scores_are_what_the_scorers_give(
    mirror: Path, project_root: Path
) -> None:
    """Rescore one committed run's stored samples with the current scorers."""
    settings = load_settings("quick")
    folder = next(
        run
        for run in committed_runs(project_root)
        if samples_store.is_complete(samples_store.run_samples_dir(run, settings))
    )
    samples_dir = samples_store.run_samples_dir(folder, settings)
    dataset = store.read_spec(folder).dataset
    stored = pd.read_parquet(samples_dir / SCORES_FILE)
    stored = stored[stored["dataset"] == dataset]
    samples, _ = samples_store.read_samples(samples_dir)
    fresh = scorer_suite(dataset, settings).score(samples)
    keys = ["dataset", "prompt_id", "sample", "metric"]
    merged = stored.merge(fresh, on=keys, suffixes=("_stored", "_fresh"), validate="one_to_one")
    assert len(merged) == len(stored) == len(fresh)
    assert np.allclose(merged["score_stored"], merged["score_fresh"], atol=1e-4)
