"""Chapter 04's tables and figures on hand-written run folders of the smoke profile (fast), and
one real smoke sweep into a temporary store (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from pluralign.train import report as training
from pluralign.train import spec, store, sweep


@pytest.fixture(scope="module")
def smoke() -> spec.SweepProfile:
    return spec.load_profile("smoke")


def _find(profile: spec.SweepProfile, dataset: str, optimiser: str, group: str) -> spec.RunSpec:
    return next(
        run
        for run in profile.specs
        if (run.dataset, run.optimiser, run.group) == (dataset, optimiser, group)
    )


def _interval(estimate: float, low: float, high: float) -> dict[str, float]:
    return {"estimate": estimate, "ci_low": low, "ci_high": high}


def _write_run(
    root: Path,
    run: spec.RunSpec,
    accuracy: tuple[float, float, float],
    moved: bool,
    gain: tuple[float, float, float] | None = None,
) -> None:
    """A finished run folder with the files chapter 04 reads (no adapter, no parquet files)."""
    folder = store.run_folder(run, root)
    folder.mkdir(parents=True)
    store.write_json(folder / store.SPEC_FILE, store.spec_record(run))
    evaluation = {
        "preference_accuracy": _interval(*accuracy),
        "mean_margin": _interval(0.1 if moved else 0.0, 0.05 if moved else -0.01, 0.15),
        "n_pairs": 120,
        "n_raters": 30,
        "n_items": 12,
        "n_responses": 40,
        "item_unit": "prompt",
        "moved": moved,
    }
    reward_gain = None
    if gain is not None:
        reward_gain = {"reward_gain": _interval(*gain), "moved": gain[1] > 0 or gain[2] < 0}
    fit = {
        "toxicity": {
            "held_out": {"r2": 0.4, "spearman": 0.6, "n_items": 10},
            "train": {"r2": 0.8, "spearman": 0.9, "n_items": 30},
        }
    }
    metrics = {
        "moved": moved or bool(reward_gain and reward_gain["moved"]),
        "evaluation": evaluation,
        "grpo_reward_gain": reward_gain,
        "reward_model": fit,
        "training": {"seconds": 12.5, "seconds_per_step": 4.2, "tokens": 900, "engine": "fast"},
    }
    store.write_json(folder / store.METRICS_FILE, metrics)
    store.write_json(folder / store.PROVENANCE_FILE, {"wall_seconds": 20.0, "device": "cpu"})
    if run.optimiser == "dpo":
        log = pd.DataFrame(
            {"step": [1, 2, 3], "loss": [0.69, 0.6, 0.5], "rewards_margins": [0.0, 0.1, 0.2]}
        )
    else:
        log = pd.DataFrame({"step": [1, 2, 3], "loss": [0.0, 0.0, 0.0], "reward": [0.2, 0.3, 0.4]})
    log.to_csv(folder / store.LOG_FILE, index=False)


@pytest.fixture(scope="module")
def root(smoke: spec.SweepProfile, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("runs")
    _write_run(folder, _find(smoke, "example", "dpo", "all"), (0.66, 0.58, 0.74), moved=True)
    _write_run(
        folder,
        _find(smoke, "example", "grpo", "all"),
        (0.5, 0.42, 0.58),
        moved=False,
        gain=(0.05, -0.02, 0.12),
    )
    _write_run(folder, _find(smoke, "study-sim", "dpo", "female"), (0.3, 0.2, 0.4), moved=True)
    return folder


def test_status_lists_finished_and_missing_runs(smoke: spec.SweepProfile, root: Path) -> None:
    status = training.profile_status(["smoke"], root=root)
    assert (status["status"] == "finished").sum() == 3
    assert (status["status"] == "missing").sum() == len(smoke.specs) - 3
    assert len(training.missing_runs(status)) == len(smoke.specs) - 3
    assert training.sweep_commands(status) == ["pluralign sweep --profile smoke"]
    assert "`pluralign sweep --profile smoke`" in training.missing_sentence(status)


def test_train_missing_sweeps_only_profiles_with_missing_runs(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    swept: list[str] = []
    monkeypatch.setattr(sweep, "run_sweep", lambda profile, **options: swept.append(profile) or [])
    status = training.profile_status(["smoke"], root=root)
    assert training.missing_profiles(status) == ["smoke"]
    assert sweep.sweep_missing(training.missing_profiles(status), root=root) == ["smoke"]
    assert swept == ["smoke"]
    finished = status[status["status"] == "finished"]
    assert sweep.sweep_missing(training.missing_profiles(finished), root=root) == []
    assert training.sweep_commands(finished) == []


def test_run_table_reports_every_run_and_which_moved(root: Path) -> None:
    runs, logs = training.load_profile_runs(["smoke"], root=root)
    table = training.run_table(runs)
    assert len(table) == 3 and set(table["profile"]) == {"smoke"}
    grpo = table[table["optimiser"] == "grpo"].iloc[0]
    assert (grpo["reward_gain"], grpo["reward_gain_ci_low"]) == (0.05, -0.02)
    assert not grpo["moved"]
    away = table[table["group"] == "female"].iloc[0]
    assert away["moved"] and not away["toward_group"]
    counts = training.moved_counts(runs, ["smoke", "quick"]).set_index("profile")
    assert counts.loc["smoke"].tolist() == [3, 2, 1]
    assert counts.loc["quick"].tolist() == [0, 0, 0]
    assert training.moved_sentence(runs, ["smoke", "quick"]) == (
        "smoke: 2 of 3 finished run(s) moved measurably; quick: no finished run yet."
    )
    assert training.run_ids(runs) == sorted(runs["run_id"])
    sentence = training.not_moved_sentence(runs)
    assert sentence.startswith("1 of the 3 finished runs did not move measurably")
    assert "example/all/5pt-preserve-multi/grpo/seed0" in sentence
    assert "away from" in training.away_sentence(runs)
    assert not logs.empty


def test_reward_model_fit_lists_each_reward_model_once(root: Path) -> None:
    runs, _ = training.load_profile_runs(["smoke"], root=root)
    fit = training.reward_model_fit(runs)
    # the two example runs share one reward model (same group, data, scale and values)
    assert len(fit) == 2
    assert fit["held_out_r2"].tolist() == [0.4, 0.4]
    units = training.held_out_units(runs).set_index("dataset")
    assert units.loc["example", "pairs_min"] == 120


def test_settings_table_reads_the_profile(smoke: spec.SweepProfile) -> None:
    settings = training.settings_table(["smoke"])
    assert set(zip(settings["dataset"], settings["optimiser"], strict=True)) == {
        (run.dataset, run.optimiser) for run in smoke.specs
    }
    dpo = settings[settings["optimiser"] == "dpo"]
    assert dpo["grpo_generations"].isna().all()
    assert set(settings["steps"]) == {3}
    covered = {
        (row.dataset, row.optimiser, group)
        for row in settings.itertuples()
        for group in row.groups.split(", ")
    }
    assert covered == {(run.dataset, run.optimiser, run.group) for run in smoke.specs}
    assert set(settings["conditions"]) == {"5pt-preserve-multi"}
    pair_caps = settings.groupby("dataset")["pair_cap"].agg(set).to_dict()
    assert pair_caps == {"example": {None}, "study-sim": {64}}  # study-sim's block sets a cap


def test_figures_draw_runs_and_say_when_there_are_none(root: Path) -> None:
    runs, logs = training.load_profile_runs(["smoke"], root=root)
    curves = training.training_curves(logs, runs)
    assert set(curves["metric"]) == {
        "DPO loss",
        "DPO implicit reward margin",
        "GRPO group reward of samples",
    }
    figure = training.plot_training_curves(logs, runs)
    assert len([axis for axis in figure.axes if axis.has_data()]) == 5  # 3 metrics x 2 datasets
    plt.close(figure)
    figure = training.plot_held_out_accuracy(runs)
    assert len(figure.axes[0].get_yticklabels()) == 3
    plt.close(figure)
    for empty in (
        training.plot_training_curves(pd.DataFrame(), pd.DataFrame()),
        training.plot_held_out_accuracy(pd.DataFrame()),
    ):
        assert empty.axes[0].texts
        plt.close(empty)
    assert training.not_moved_sentence(pd.DataFrame()).startswith("No run has finished")


@pytest.mark.slow
def test_a_real_smoke_sweep_renders(smoke_store: Path) -> None:
    runs, logs = training.load_profile_runs(["smoke"], root=smoke_store)
    runs = runs[runs["dataset"] == "example"]
    table = training.run_table(runs)
    assert sorted(table["optimiser"]) == ["dpo", "grpo"]
    assert table["accuracy"].between(0, 1).all()
    assert not training.training_curves(logs, runs).empty
    status = training.profile_status(["smoke"], root=smoke_store)
    assert set(status.loc[status["dataset"] == "example", "status"]) == {"finished"}
    json.dumps(training.rounded(table).to_dict("records"), default=str)
