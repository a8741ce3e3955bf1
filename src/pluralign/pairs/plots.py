"""Chapter 03's figures: pair agreement per condition and contrast, and agreement against the
discrimination (slope) gap."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from pluralign.pairs.report import reported_pairs, stacked
from pluralign.style import empty_figure, set_style


def plot_pair_agreement(pair_tables: Mapping[str, pd.DataFrame]) -> plt.Figure:
    """Pair agreement per condition (rows) and contrast (colour), one panel per dataset; the
    marker size grows with the number of shared response pairs."""
    table = reported_pairs(pair_tables)
    if table.empty or table["agreement"].isna().all():
        return empty_figure("no contrast with shared response pairs")
    set_style()
    table = table.assign(
        condition=table["scale"] + " · " + table["aggregation"] + " · " + table["values"]
    )
    datasets = list(dict.fromkeys(table["dataset"]))
    conditions_order = list(dict.fromkeys(table["condition"]))
    contrasts = list(dict.fromkeys(table["contrast"]))
    palette = dict(zip(contrasts, sns.color_palette(n_colors=len(contrasts)), strict=True))
    figure, axes = plt.subplots(
        1,
        len(datasets),
        figsize=(3.4 * len(datasets) + 1.8, 0.38 * len(conditions_order) + 1.4),
        sharey=True,
        squeeze=False,
    )
    offsets = np.linspace(-0.25, 0.25, len(contrasts)) if len(contrasts) > 1 else [0.0]
    largest = max(float(table["shared_pairs"].max()), 1.0)
    for axis, dataset in zip(axes[0], datasets, strict=True):
        part = table[table["dataset"] == dataset]
        for offset, contrast in zip(offsets, contrasts, strict=True):
            rows = part[part["contrast"] == contrast]
            positions = [conditions_order.index(c) + offset for c in rows["condition"]]
            sizes = 15 + 85 * np.sqrt(rows["shared_pairs"].to_numpy() / largest)
            axis.scatter(rows["agreement"], positions, s=sizes, color=palette[contrast])
        axis.set_title(dataset, fontsize=10)
        axis.set_xlabel("pair agreement")
        axis.set_xlim(min(0.45, float(table["agreement"].min()) - 0.05), 1.02)
        axis.axvline(1.0, color="grey", linewidth=0.8)
    axes[0][0].set_yticks(range(len(conditions_order)), conditions_order)
    axes[0][0].invert_yaxis()
    handles = [
        plt.Line2D([], [], marker="o", linestyle="", color=palette[contrast], label=contrast)
        for contrast in contrasts
    ]
    axes[0][-1].legend(
        handles=handles,
        title="contrast",
        bbox_to_anchor=(1.02, 0.5),
        loc="center left",
        frameon=False,
        fontsize=8,
        title_fontsize=8,
    )
    figure.tight_layout()
    return figure


def plot_agreement_vs_discrimination(tables: Mapping[str, pd.DataFrame]) -> plt.Figure:
    """Pair agreement on one dimension (y) against the groups' slope difference from chapter 02
    (x, with its 95% interval), one panel per dataset; open markers with a bar: random splits of
    the same raters (mean and range), the agreement that sampling alone gives."""
    table = stacked(tables)
    if table.empty or table["agreement"].isna().all():
        return empty_figure("no dimension × contrast with shared response pairs")
    set_style()
    datasets = list(dict.fromkeys(table["dataset"]))
    dimensions = list(dict.fromkeys(table["dimension"]))
    contrasts = list(dict.fromkeys(table["contrast"]))
    palette = dict(zip(dimensions, sns.color_palette(n_colors=len(dimensions)), strict=True))
    markers = dict(zip(contrasts, ["o", "s", "^", "D", "v", "P", "X", "*", "h", "p"], strict=False))
    figure, axes = plt.subplots(
        1, len(datasets), figsize=(3.8 * len(datasets) + 2.2, 3.8), sharey=True, squeeze=False
    )
    for axis, dataset in zip(axes[0], datasets, strict=True):
        part = table[table["dataset"] == dataset]
        for row in part.itertuples(index=False):
            colour, marker = palette[row.dimension], markers[row.contrast]
            axis.hlines(
                row.agreement,
                row.slope_difference_ci_low,
                row.slope_difference_ci_high,
                color=colour,
                linewidth=1,
                alpha=0.6,
            )
            axis.vlines(
                row.slope_difference,
                row.split_half_low,
                row.split_half_high,
                color=colour,
                linewidth=1,
                alpha=0.6,
            )
            axis.scatter(
                row.slope_difference,
                row.split_half_agreement,
                marker=marker,
                facecolors="none",
                edgecolors=colour,
                s=40,
            )
            axis.scatter(row.slope_difference, row.agreement, marker=marker, color=colour, s=40)
        axis.axvline(0, color="grey", linewidth=0.8)
        axis.set_title(dataset, fontsize=10)
        axis.set_xlabel("slope difference (group A − group B)")
    axes[0][0].set_ylabel("pair agreement")
    legend = [
        plt.Line2D([], [], marker="o", linestyle="", color=palette[d], label=d) for d in dimensions
    ] + [
        plt.Line2D([], [], marker=markers[c], linestyle="", color="black", label=c)
        for c in contrasts
    ]
    axes[0][-1].legend(
        handles=legend, bbox_to_anchor=(1.02, 0.5), loc="center left", frameon=False, fontsize=8
    )
    figure.tight_layout()
    return figure
