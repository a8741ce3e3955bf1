"""Chapter 04's tables and figures: which runs of a sweep profile exist, what they cost, and
whether each model moved measurably on held-out preferences.

The runs themselves come from the run store (`pluralign.train`): `profile_status` lists every
run a profile asks for and whether the store has it, `train_missing` trains only what is missing
(as `pluralign sweep --profile P` does), and `load_profile_runs` reads the finished runs as tidy
tables. Everything else here turns those tables into what the chapter shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from pluralign.style import empty_figure, set_style
from pluralign.train import store
from pluralign.train.spec import RunSpec, load_profile
from pluralign.train.sweep import load_runs

#: Columns of `profile_status`, in order.
STATUS_COLUMNS = [
    "profile",
    "run_id",
    "label",
    "dataset",
    "group",
    "condition",
    "optimiser",
    "seed",
    "status",
    "reason",
]

#: Columns of `run_table`, in order.
RUN_COLUMNS = [
    "profile",
    "label",
    "dataset",
    "group",
    "condition",
    "optimiser",
    "seed",
    "steps",
    "train_seconds",
    "held_out_pairs",
    "accuracy",
    "accuracy_ci_low",
    "accuracy_ci_high",
    "margin",
    "margin_ci_low",
    "margin_ci_high",
    "reward_gain",
    "reward_gain_ci_low",
    "reward_gain_ci_high",
    "moved",
    "toward_group",
    "current",
]

#: Hyper-parameters the settings table shows (spec field → column).
SETTINGS = {
    "steps": "steps",
    "batch_size": "batch_size",
    "learning_rate": "learning_rate",
    "lora_r": "lora_r",
    "lora_top_layers": "lora_top_layers",
    "max_prompt_tokens": "prompt_tokens",
    "max_response_tokens": "response_tokens",
    "dpo_beta": "dpo_beta",
    "dpo_engine": "dpo_engine",
    "grpo_generations": "grpo_generations",
    "grpo_max_completion_tokens": "grpo_completion_tokens",
    "pair_cap": "pair_cap",
    "eval_pair_cap": "eval_pair_cap",
    "bootstrap_samples": "bootstrap_samples",
}


def condition_label(scale: Any, aggregation: Any, values: Any) -> str:
    """`5pt-preserve-multi`: a condition as the run labels write it."""
    return f"{scale}-{aggregation}-{values}"


def _spec_row(profile: str, spec: RunSpec) -> dict[str, Any]:
    return {
        "profile": profile,
        "run_id": spec.run_id,
        "label": spec.label,
        "dataset": spec.dataset,
        "group": spec.group,
        "condition": condition_label(spec.scale, spec.aggregation, spec.values),
        "optimiser": spec.optimiser,
        "seed": spec.seed,
    }


def profile_status(profiles: Sequence[str], root: Path | None = None) -> pd.DataFrame:
    """Every run each profile asks for, with status `finished` or `missing` in the store, and the
    entries a profile had to skip (missing data, an absent group) with the reason."""
    rows = []
    for profile in profiles:
        parsed = load_profile(profile)
        for spec in parsed.specs:
            finished = store.find_run(spec, root) is not None
            rows.append(
                _spec_row(profile, spec)
                | {"status": "finished" if finished else "missing", "reason": ""}
            )
        for entry in parsed.skipped:
            rows.append(
                {
                    "profile": profile,
                    "dataset": entry.dataset,
                    "group": entry.group,
                    "status": "skipped",
                    "reason": entry.reason,
                }
            )
    return pd.DataFrame(rows).reindex(columns=STATUS_COLUMNS)


def missing_runs(status: pd.DataFrame) -> pd.DataFrame:
    """The runs a profile asks for that the store lacks."""
    return status[status["status"] == "missing"].reset_index(drop=True)


def skipped_entries(status: pd.DataFrame) -> pd.DataFrame:
    """Profile entries that gave no run (missing data, an absent group), with the reason."""
    skipped = status[status["status"] == "skipped"]
    return skipped[["profile", "dataset", "group", "reason"]].reset_index(drop=True)


def sweep_commands(status: pd.DataFrame) -> list[str]:
    """The command that makes each profile's missing runs (resumable: it skips finished ones)."""
    profiles = list(dict.fromkeys(missing_runs(status)["profile"]))
    return [f"pluralign sweep --profile {profile}" for profile in profiles]


def missing_profiles(status: pd.DataFrame) -> list[str]:
    """The profiles with at least one run missing from the store, in the status table's order
    (what `pluralign.train.sweep.sweep_missing` trains)."""
    return list(dict.fromkeys(missing_runs(status)["profile"]))


def load_profile_runs(
    profiles: Sequence[str], root: Path | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, training logs) of every profile's experiments in the store, with a `profile`
    column; a run made by other code or library versions of the same experiment is kept with
    `current = False`."""
    run_frames, log_frames = [], []
    for profile in profiles:
        runs, logs = load_runs(profile, root=root)
        if not runs.empty:
            run_frames.append(runs.assign(profile=profile))
        if not logs.empty:
            log_frames.append(logs.assign(profile=profile))
    runs = pd.concat(run_frames, ignore_index=True) if run_frames else pd.DataFrame()
    logs = pd.concat(log_frames, ignore_index=True) if log_frames else pd.DataFrame()
    return runs, logs


def run_ids(runs: pd.DataFrame) -> list[str]:
    """The ids (spec hashes) of the runs shown, sorted: the provenance of a figure drawn from
    them."""
    return sorted(set(runs["run_id"])) if "run_id" in runs else []


def _column(runs: pd.DataFrame, name: str) -> pd.Series:
    """A column of the runs table, or NaN where no run has it (e.g. no GRPO run)."""
    if name in runs:
        return runs[name]
    return pd.Series(np.nan, index=runs.index)


def run_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run: what it is, what it cost, and its held-out results with 95% CIs."""
    if runs.empty:
        return pd.DataFrame(columns=RUN_COLUMNS)
    table = pd.DataFrame(
        {
            "profile": runs["profile"],
            "label": runs["label"],
            "dataset": runs["dataset"],
            "group": runs["group"],
            "condition": [
                condition_label(*parts)
                for parts in zip(runs["scale"], runs["aggregation"], runs["values"], strict=True)
            ],
            "optimiser": runs["optimiser"],
            "seed": runs["seed"],
            "steps": runs["steps"],
            "train_seconds": _column(runs, "train_seconds"),
            "held_out_pairs": _column(runs, "eval_n_pairs"),
            "accuracy": _column(runs, "preference_accuracy_estimate"),
            "accuracy_ci_low": _column(runs, "preference_accuracy_ci_low"),
            "accuracy_ci_high": _column(runs, "preference_accuracy_ci_high"),
            "margin": _column(runs, "mean_margin_estimate"),
            "margin_ci_low": _column(runs, "mean_margin_ci_low"),
            "margin_ci_high": _column(runs, "mean_margin_ci_high"),
            "reward_gain": _column(runs, "grpo_reward_gain_estimate"),
            "reward_gain_ci_low": _column(runs, "grpo_reward_gain_ci_low"),
            "reward_gain_ci_high": _column(runs, "grpo_reward_gain_ci_high"),
            "moved": runs["moved"].astype(bool),
            "toward_group": _column(runs, "preference_accuracy_ci_low") > 0.5,
            "current": _column(runs, "current").fillna(True).astype(bool),
        }
    )
    return table[RUN_COLUMNS].reset_index(drop=True)


#: The columns of the GRPO table: the group reward of replies, tuned minus base.
GRPO_COLUMNS = [
    "profile",
    "label",
    "reward_gain",
    "reward_gain_ci_low",
    "reward_gain_ci_high",
    "accuracy",
    "accuracy_ci_low",
    "accuracy_ci_high",
    "moved",
]


def grpo_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The GRPO runs: the gain in their group's reward of replies to held-out prompts, with its
    95% CI over prompts, beside their held-out preference accuracy."""
    table = run_table(runs)
    return table.loc[table["optimiser"] == "grpo", GRPO_COLUMNS].reset_index(drop=True)


def median_of(table: pd.DataFrame, column: str) -> float:
    """The median of a column as a plain float (NaN for an empty table or a missing column)."""
    if table.empty or column not in table:
        return float("nan")
    values = pd.to_numeric(table[column], errors="coerce").dropna()
    return float(values.median()) if len(values) else float("nan")


#: The columns of the run table the chapter shows (the label and the reward gain's interval are
#: left to the full table and the GRPO table, so that every column fits on the page).
SHOWN_RUN_COLUMNS = [
    column
    for column in RUN_COLUMNS
    if column not in ("label", "reward_gain_ci_low", "reward_gain_ci_high")
]


def shown_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """`run_table` with the columns the chapter shows, rounded, in a reader's order (profile,
    dataset, group, condition, optimiser, seed)."""
    order = ["profile", "dataset", "group", "condition", "optimiser", "seed"]
    table = run_table(runs)
    table = table.sort_values([c for c in order if c in table], kind="stable")
    return rounded(table[SHOWN_RUN_COLUMNS].reset_index(drop=True))


def rounded(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A table for display: floats rounded, seconds to whole numbers."""
    shown = table.copy()
    if "train_seconds" in shown:
        shown["train_seconds"] = shown["train_seconds"].round(0)
    return shown.round(digits)


def moved_counts(runs: pd.DataFrame, profiles: Sequence[str] = ()) -> pd.DataFrame:
    """Per profile: runs finished, how many moved measurably, and how many did not; profiles in
    `profiles` without a finished run are listed with zeros."""
    table = run_table(runs)
    rows = []
    for profile in list(dict.fromkeys([*profiles, *table["profile"]])):
        part = table[table["profile"] == profile]
        moved = int(part["moved"].sum())
        rows.append(
            {"profile": profile, "runs": len(part), "moved": moved, "not_moved": len(part) - moved}
        )
    return pd.DataFrame(rows, columns=["profile", "runs", "moved", "not_moved"])


def moved_sentence(runs: pd.DataFrame, profiles: Sequence[str] = ()) -> str:
    """`quick: 17 of 18 runs moved measurably; design: ...` (one clause per profile)."""
    counts = moved_counts(runs, profiles)
    if counts.empty:
        return "no profile was shown."
    clauses = [
        f"{row.profile}: {row.moved} of {row.runs} finished run(s) moved measurably"
        if row.runs
        else f"{row.profile}: no finished run yet"
        for row in counts.itertuples(index=False)
    ]
    return "; ".join(clauses) + "."


def not_moved_sentence(runs: pd.DataFrame) -> str:
    """The runs that did not move, each with its held-out accuracy and CI, said plainly."""
    table = run_table(runs)
    if table.empty:
        return "No run has finished yet, so none can be judged."
    still = table[~table["moved"]]
    if still.empty:
        return f"Every one of the {len(table)} finished runs moved measurably."
    parts = [
        f"{row.label} ({row.profile}; held-out accuracy {row.accuracy:.3f}, 95% CI "
        f"{row.accuracy_ci_low:.3f} to {row.accuracy_ci_high:.3f})"
        for row in still.itertuples(index=False)
    ]
    return (
        f"{len(still)} of the {len(table)} finished runs did not move measurably: "
        + "; ".join(parts)
        + "."
    )


def away_sentence(runs: pd.DataFrame) -> str:
    """The runs whose held-out accuracy fell below chance (CI under 0.5): they moved, but away
    from their group's preferences."""
    table = run_table(runs)
    away = table[table["accuracy_ci_high"] < 0.5]
    if away.empty:
        return "No run moved away from its group's held-out preferences."
    labels = "; ".join(f"{row.label} ({row.profile})" for row in away.itertuples(index=False))
    return (
        f"{len(away)} run(s) moved away from their group's held-out preferences (accuracy CI "
        f"below 0.5): {labels}."
    )


def missing_sentence(status: pd.DataFrame) -> str:
    """How many runs each profile still lacks, and the command that makes them."""
    missing = missing_runs(status)
    if missing.empty:
        return "Every run the profiles ask for is in the run store."
    counts = missing.groupby("profile", sort=False).size()
    clauses = [
        f"{profile}: {count} run(s) missing (`pluralign sweep --profile {profile}` makes them)"
        for profile, count in counts.items()
    ]
    return "; ".join(clauses) + "."


def settings_table(profiles: Sequence[str]) -> pd.DataFrame:
    """The training and evaluation settings of every profile, per dataset and optimiser (one
    row per distinct setting), read from the specs the profile gives. `groups` and `conditions`
    say which runs a row covers, where a dataset's runs differ in their settings."""
    rows = []
    for profile in profiles:
        for spec in load_profile(profile).specs:
            hyper = spec.hyper
            row: dict[str, Any] = {
                "profile": profile,
                "dataset": spec.dataset,
                "optimiser": spec.optimiser,
                "groups": spec.group,
                "conditions": condition_label(spec.scale, spec.aggregation, spec.values),
                "base_model": spec.base_model,
            }
            row |= {column: getattr(hyper, field) for field, column in SETTINGS.items()}
            row["training_pairs"] = hyper.training_pairs
            row["held_out"] = f"{spec.held_out.fraction:g} of {spec.held_out.unit} items"
            rows.append(row)
    if not rows:
        return pd.DataFrame()
    table = pd.DataFrame(rows, dtype=object)  # None stays None (all layers, no cap), not NaN
    grpo_only = ("grpo_generations", "grpo_completion_tokens")
    table.loc[table["optimiser"] != "grpo", list(grpo_only)] = None
    table.loc[table["optimiser"] != "dpo", ["dpo_beta", "dpo_engine"]] = None
    settings = [column for column in table.columns if column not in ("groups", "conditions")]
    same_settings = table.groupby(settings, sort=False, dropna=False)
    for column in ("groups", "conditions"):  # every row of a setting lists them all
        table[column] = same_settings[column].transform(
            lambda values: ", ".join(dict.fromkeys(values))
        )
    return table.drop_duplicates().reset_index(drop=True)


def held_out_units(runs: pd.DataFrame) -> pd.DataFrame:
    """Per dataset: what its items are (prompts or responses), and the smallest and median number
    of held-out pairs, raters and items over its runs."""
    if runs.empty:
        return pd.DataFrame()
    grouped = runs.groupby("dataset", sort=False)
    return pd.DataFrame(
        {
            "item_unit": grouped["eval_item_unit"].first(),
            "held_out_fraction": grouped["held_out_fraction"].first(),
            "pairs_min": grouped["eval_n_pairs"].min(),
            "pairs_median": grouped["eval_n_pairs"].median(),
            "raters_median": grouped["eval_n_raters"].median(),
            "items_median": grouped["eval_n_items"].median(),
        }
    ).reset_index()


def reward_model_fit(runs: pd.DataFrame) -> pd.DataFrame:
    """Each reward model's fit per dimension: R² and Spearman's rank correlation on its training
    items and on held-out items. Runs of the same group, dataset, scale and values share one
    reward model (the same fit), so each appears once."""
    if runs.empty:
        return pd.DataFrame()
    rows = []
    prefixes = sorted(
        {column[3 : -len("_held_out_r2")] for column in runs if column.endswith("_held_out_r2")}
    )
    for run in runs.to_dict("records"):
        for dimension in prefixes:
            held_r2 = run.get(f"rm_{dimension}_held_out_r2")
            if held_r2 is None or pd.isna(held_r2):
                continue
            rows.append(
                {
                    "dataset": run["dataset"],
                    "group": run["group"],
                    "scale": run["scale"],
                    "values": run["values"],
                    "dimension": dimension,
                    "held_out_r2": held_r2,
                    "held_out_spearman": run.get(f"rm_{dimension}_held_out_spearman"),
                    "train_r2": run.get(f"rm_{dimension}_train_r2"),
                    "train_spearman": run.get(f"rm_{dimension}_train_spearman"),
                }
            )
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).drop_duplicates().reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# figures

#: Training-log columns drawn, per optimiser: (column, axis label).
CURVES = {
    "dpo": (("loss", "DPO loss"), ("rewards_margins", "DPO implicit reward margin")),
    "grpo": (("reward", "GRPO group reward of samples"),),
}


#: Line styles of the conditions in the training-curve figure, in order of appearance.
STYLES = ("-", "--", ":", "-.")


def training_curves(logs: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """The training logs in long form (one row per run, step and metric), with each run's
    dataset, group, condition and optimiser; a run shown under two profiles appears once."""
    if logs.empty or runs.empty:
        return pd.DataFrame(columns=["run_id", "step", "metric", "value"])
    described = run_table(runs).assign(run_id=runs["run_id"]).drop_duplicates("run_id")
    frames = []
    for optimiser, curves in CURVES.items():
        ids = set(described.loc[described["optimiser"] == optimiser, "run_id"])
        part = logs[logs["run_id"].isin(ids)].drop_duplicates(["run_id", "step"])
        for column, name in curves:
            if column in part and part[column].notna().any():
                frames.append(
                    part[["run_id", "step", column]]
                    .rename(columns={column: "value"})
                    .assign(metric=name)
                )
    if not frames:
        return pd.DataFrame(columns=["run_id", "step", "metric", "value"])
    long = pd.concat(frames, ignore_index=True).dropna(subset=["value"])
    columns = ["run_id", "dataset", "group", "condition", "optimiser"]
    return long.merge(described[columns], on="run_id")


def plot_training_curves(logs: pd.DataFrame, runs: pd.DataFrame) -> plt.Figure:
    """Loss and reward margin (DPO) and group reward (GRPO) per training step: rows are metrics,
    columns datasets, colour the group, line style the condition; seeds are averaged (band: the
    range over seeds)."""
    long = training_curves(logs, runs)
    if long.empty:
        return empty_figure("no finished run has a training log")
    set_style()
    metrics = list(dict.fromkeys(name for curves in CURVES.values() for _, name in curves))
    metrics = [metric for metric in metrics if (long["metric"] == metric).any()]
    datasets = list(dict.fromkeys(long["dataset"]))
    groups = list(dict.fromkeys(long["group"]))
    conditions = list(dict.fromkeys(long["condition"]))
    palette = dict(zip(groups, sns.color_palette("tab10", n_colors=len(groups)), strict=True))
    figure, axes = plt.subplots(
        len(metrics),
        len(datasets),
        figsize=(3.6 * len(datasets) + 2.4, 2.5 * len(metrics) + 0.6),
        squeeze=False,
        sharex="col",
    )
    for row, metric in enumerate(metrics):
        for column, dataset in enumerate(datasets):
            axis = axes[row][column]
            part = long[(long["metric"] == metric) & (long["dataset"] == dataset)]
            if part.empty:
                axis.set_axis_off()
                continue
            for (group, condition), curve in part.groupby(["group", "condition"], sort=False):
                by_step = curve.groupby("step")["value"]
                steps = np.asarray(by_step.mean().index)
                linestyle = STYLES[conditions.index(condition) % len(STYLES)]
                axis.plot(
                    steps, by_step.mean(), color=palette[group], linestyle=linestyle, linewidth=1.1
                )
                if curve["run_id"].nunique() > 1:
                    axis.fill_between(
                        steps, by_step.min(), by_step.max(), color=palette[group], alpha=0.15
                    )
            axis.set_ylabel(metric if column == 0 else "")
            axis.set_xlabel("step" if row == len(metrics) - 1 else "")
            if row == 0:
                axis.set_title(dataset, fontsize=10)
    handles = [
        plt.Line2D([], [], color=palette[group], label=f"group: {group}") for group in groups
    ] + [
        plt.Line2D([], [], color="black", linestyle=STYLES[index % len(STYLES)], label=condition)
        for index, condition in enumerate(conditions)
    ]
    axes[0][-1].legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8
    )
    figure.tight_layout()
    return figure


def plot_held_out_accuracy(runs: pd.DataFrame) -> plt.Figure:
    """Held-out preference accuracy per run with its 95% CI (clustered by rater and item),
    against the base model's 0.5; filled: the run moved measurably, open: it did not."""
    table = run_table(runs)
    if table.empty:
        return empty_figure("no finished run")
    set_style()
    table = table.sort_values(["profile", "dataset", "optimiser", "condition", "group", "seed"])
    table = table.reset_index(drop=True)
    labels = [
        f"{row.profile} · {row.dataset} · {row.group} · {row.condition} · {row.optimiser} · "
        f"s{row.seed}"
        for row in table.itertuples(index=False)
    ]
    datasets = list(dict.fromkeys(table["dataset"]))
    palette = dict(zip(datasets, sns.color_palette(n_colors=len(datasets)), strict=True))
    figure, axis = plt.subplots(figsize=(8.5, 0.28 * len(table) + 1.3))
    for position, row in enumerate(table.itertuples(index=False)):
        colour = palette[row.dataset]
        axis.hlines(position, row.accuracy_ci_low, row.accuracy_ci_high, color=colour)
        axis.scatter(
            row.accuracy,
            position,
            color=colour if row.moved else "white",
            edgecolors=colour,
            zorder=3,
            s=28,
        )
    axis.axvline(0.5, color="grey", linewidth=1, linestyle="--")
    axis.set_yticks(range(len(table)), labels, fontsize=7)
    axis.set_ylim(len(table) - 0.5, -0.5)
    axis.set_xlabel("held-out preference accuracy (95% CI); base model: 0.5")
    figure.tight_layout()
    return figure
