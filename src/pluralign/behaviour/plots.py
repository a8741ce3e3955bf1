"""Figures of chapters 05 and 06, drawn from the tables of `pluralign.behaviour.metrics`; captions
live in the chapters. Every panel names the scorer behind it (the toxicity scorer and the
emotional-awareness score are proxies, see chapter 01)."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from pluralign.style import empty_figure, set_style


def _forest(axis: plt.Axes, rows: pd.DataFrame, labels: list[str], colour: str) -> None:
    """Points with horizontal CI bars, one row per label (undefined rows left empty)."""
    positions = np.arange(len(labels))
    values = rows["value"].to_numpy(dtype=float)
    low = values - rows["ci_low"].to_numpy(dtype=float)
    high = rows["ci_high"].to_numpy(dtype=float) - values
    axis.errorbar(
        values, positions, xerr=[low, high], fmt="o", color=colour, ecolor=colour, capsize=2
    )
    axis.axvline(0, color="0.4", linewidth=0.8, linestyle="--")
    axis.set_yticks(positions, labels)
    axis.invert_yaxis()


def plot_base_differences(differences: pd.DataFrame, metric_titles: dict[str, str]) -> plt.Figure:
    """Tuned − base mean per group model, one panel per (dataset, metric), with 95% CIs."""
    if differences.empty:
        return empty_figure("no tuned model with base-model samples")
    set_style()
    panels = [
        (dataset, metric)
        for dataset in differences["dataset"].unique()
        for metric in metric_titles
        if ((differences["dataset"] == dataset) & (differences["metric"] == metric)).any()
    ]
    columns = len(metric_titles)
    rows_count = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(
        rows_count, columns, figsize=(4.2 * columns, 0.9 + 0.32 * 8 * rows_count), squeeze=False
    )
    colours = sns.color_palette("colorblind", len(metric_titles))
    for index, (dataset, metric) in enumerate(panels):
        axis = axes[index // columns][index % columns]
        rows = differences[(differences["dataset"] == dataset) & (differences["metric"] == metric)]
        rows = rows.sort_values("group")
        _forest(
            axis,
            rows,
            rows["group"].astype(str).tolist(),
            colours[list(metric_titles).index(metric)],
        )
        axis.set_title(f"{dataset}", fontsize=9)
        axis.set_xlabel(f"{metric_titles[metric]}: tuned − base")
    for index in range(len(panels), rows_count * columns):
        axes[index // columns][index % columns].axis("off")
    figure.tight_layout()
    return figure


#: Inches per cell of a cross-group matrix, and the most groups a side whose cells get numbers.
CELL_INCHES = 0.62
MATRIX_ANNOTATE_MAX = 12


def plot_cross_group_matrix(matrix: pd.DataFrame) -> plt.Figure:
    """One heatmap per dataset: rows the model tuned on group g, columns group h's reward model,
    cells the model's mean reward minus the base model's under h's reward model."""
    if matrix.empty:
        return empty_figure("no group models scored by reward models")
    set_style()
    datasets = list(matrix["dataset"].unique())
    grids = {
        dataset: matrix[matrix["dataset"] == dataset].pivot_table(
            index="model_group", columns="reward_group", values="value"
        )
        for dataset in datasets
    }
    # Size the panels by their cells so the printed numbers never overlap; past
    # `MATRIX_ANNOTATE_MAX` groups a side the colour alone carries the value.
    side = max(max(grid.shape) for grid in grids.values())
    panel = max(4.6, CELL_INCHES * side + 2.2)
    figure, axes = plt.subplots(
        len(datasets), 1, figsize=(panel, (panel - 0.6) * len(datasets)), squeeze=False
    )
    axes = axes[:, 0]
    for axis, dataset in zip(axes, datasets, strict=False):
        grid = grids[dataset]
        limit = float(np.nanmax(np.abs(grid.to_numpy()))) if grid.size else 1.0
        annotate = max(grid.shape) <= MATRIX_ANNOTATE_MAX
        sns.heatmap(
            grid,
            ax=axis,
            cmap="vlag",
            center=0,
            vmin=-limit,
            vmax=limit,
            annot=annotate,
            fmt=".2f",
            annot_kws={"fontsize": 8},
            cbar_kws={"label": "reward − base reward", "shrink": 0.8},
            square=True,
        )
        for position in range(min(grid.shape)):
            if grid.index[position] in grid.columns:
                column = list(grid.columns).index(grid.index[position])
                axis.add_patch(
                    plt.Rectangle((column, position), 1, 1, fill=False, edgecolor="0.1", lw=1.4)
                )
        axis.set_title(dataset, fontsize=9)
        axis.set_xlabel("reward model of group")
        axis.set_ylabel("model tuned on group")
    figure.tight_layout()
    return figure


def plot_condition_effects(
    table: pd.DataFrame, label_columns: list[str], xlabel: str
) -> plt.Figure:
    """A forest of one quantity per condition (e.g. toxicity reduction per design condition), one
    panel per dataset; undefined rows are listed with an empty marker."""
    if table.empty:
        return empty_figure("no runs of this profile in the run store")
    set_style()
    datasets = list(table["dataset"].unique())
    figure, axes = plt.subplots(
        1, max(len(datasets), 1), figsize=(4.8 * len(datasets), 1.2 + 0.35 * table.shape[0])
    )
    axes = np.atleast_1d(axes)
    colours = sns.color_palette("colorblind", 2)
    for axis, dataset in zip(axes, datasets, strict=False):
        rows = table[table["dataset"] == dataset]
        labels = [" · ".join(str(row[c]) for c in label_columns) for _, row in rows.iterrows()]
        _forest(axis, rows, labels, colours[0])
        axis.set_title(dataset, fontsize=9)
        axis.set_xlabel(xlabel)
    figure.tight_layout()
    return figure
