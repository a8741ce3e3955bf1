"""Chapter 2's figures: the forest of relative gaps with the paper's values, and each group's level
and discrimination."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import PercentFormatter

from pluralign.data.schema import DIMENSIONS
from pluralign.gaps.contrasts import CONTRASTS, contrast_between, find_contrast
from pluralign.gaps.estimate import GapAnalysisError, reported
from pluralign.style import set_style


@dataclass(frozen=True)
class PaperValue:
    """A claimed relative gap to mark on the forest plot: its label (the claim), the dimension,
    the groups it compares (a vs b) and the value. The claims ledger supplies them."""

    label: str
    dimension: str
    group_a: str
    group_b: str
    value: float


def plot_gap_forest(
    gaps_by_dataset: Mapping[str, pd.DataFrame], paper_values: Sequence[PaperValue] = ()
) -> plt.Figure:
    """Forest plot: every reported relative gap with its 95% CI, one colour per dataset, one row
    per dimension × contrast; `paper_values` (the paper's C1–C3, from the claims ledger) are black
    diamonds on their rows."""
    set_style()
    frames = [
        reported(table).assign(dataset=name)
        for name, table in gaps_by_dataset.items()
        if not reported(table).empty
    ]
    if not frames:
        raise GapAnalysisError("no dataset has a reported gap to plot")
    data = pd.concat(frames, ignore_index=True)
    contrast_order = {c.name: i for i, c in enumerate(CONTRASTS)}
    dimension_order = {d: i for i, d in enumerate(DIMENSIONS)}
    keys = sorted(
        {(row.dimension, row.contrast) for row in data.itertuples()},
        key=lambda key: (dimension_order.get(key[0], 99), contrast_order.get(key[1], 99)),
    )
    labels = [
        f"{dimension} · {find_contrast(name).group_a} vs {find_contrast(name).group_b}"
        for dimension, name in keys
    ]
    position = {key: i for i, key in enumerate(keys)}
    datasets = list(dict.fromkeys(data["dataset"]))
    colours = dict(zip(datasets, sns.color_palette(n_colors=len(datasets)), strict=True))
    width = 0.7
    offsets = {
        name: (i - (len(datasets) - 1) / 2) * width / max(len(datasets), 1)
        for i, name in enumerate(datasets)
    }
    row_height = 0.3 + 0.09 * len(datasets)
    figure, axis = plt.subplots(figsize=(8.5, 1.0 + row_height * len(keys)))
    for name in datasets:
        rows = data[data["dataset"] == name]
        y = np.array([position[(d, c)] for d, c in zip(rows.dimension, rows.contrast, strict=True)])
        y = y + offsets[name]
        axis.hlines(y, rows["ci_low"], rows["ci_high"], color=colours[name], linewidth=1.6)
        axis.plot(rows["relative_gap"], y, "o", color=colours[name], label=name, markersize=5)
    marked = False
    for paper in paper_values:
        contrast = contrast_between(paper.group_a, paper.group_b)
        key = (paper.dimension, contrast.name if contrast else "")
        if key in position:
            axis.plot(
                paper.value,
                position[key],
                "D",
                color="black",
                markersize=6,
                label=None if marked else "paper (C1–C3)",
            )
            axis.annotate(
                paper.label,
                (paper.value, position[key]),
                xytext=(6, -3),
                textcoords="offset points",
                fontsize=8,
            )
            marked = True
    axis.axvline(0, color="grey", linewidth=0.8)
    axis.grid(axis="y", visible=False)
    for boundary in range(1, len(keys)):
        axis.axhline(boundary - 0.5, color="lightgrey", linewidth=0.8)
    axis.set_yticks(range(len(keys)), labels)
    axis.set_ylim(len(keys) - 0.5, -0.5)
    axis.xaxis.set_major_formatter(PercentFormatter(1.0))
    axis.set_xlabel("relative gap (A − B) / B, 95% CI")
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    figure.tight_layout()
    return figure


def plot_level_discrimination(table: pd.DataFrame) -> plt.Figure:
    """Per contrast, each group's level (left) and slope (right) with 95% CIs; the pattern of
    the contrast (level / discrimination / both / neither) is in its label."""
    set_style()
    data = reported(table)
    data = data[data["pattern"] != "not estimable"]
    if data.empty:
        raise GapAnalysisError("no contrast has level and slope estimates to plot")
    records = []
    for row in data.itertuples():
        for role, group in (("a", row.group_a), ("b", row.group_b)):
            records.append(
                {
                    "label": f"{row.dimension} · {row.contrast}: {group}"
                    + (f"  [{row.pattern}]" if role == "a" else ""),
                    "role": "group A" if role == "a" else "group B (reference)",
                    **{
                        f"{statistic}{suffix}": getattr(row, f"{statistic}_{role}{suffix}")
                        for statistic in ("level", "slope")
                        for suffix in ("", "_ci_low", "_ci_high")
                    },
                }
            )
    long = pd.DataFrame(records)
    colours = dict(
        zip(["group A", "group B (reference)"], sns.color_palette(n_colors=2), strict=True)
    )
    figure, axes = plt.subplots(
        1, 2, figsize=(10, 1.2 + 0.3 * len(long)), sharey=True, squeeze=False
    )
    y = np.arange(len(long))
    for axis, statistic, label in (
        (axes[0][0], "level", "level, 95% CI\n(rating of an average item)"),
        (axes[0][1], "slope", "slope, 95% CI\n(discrimination)"),
    ):
        for role, colour in colours.items():
            mask = (long["role"] == role).to_numpy()
            axis.hlines(
                y[mask],
                long.loc[mask, f"{statistic}_ci_low"],
                long.loc[mask, f"{statistic}_ci_high"],
                color=colour,
                linewidth=1.6,
            )
            axis.plot(long.loc[mask, statistic], y[mask], "o", color=colour, label=role)
        axis.set_xlabel(label)
        axis.grid(axis="y", visible=False)
        for boundary in range(2, len(long), 2):
            axis.axhline(boundary - 0.5, color="lightgrey", linewidth=0.8)
    axes[0][1].axvline(1, color="grey", linewidth=0.8, linestyle=":")
    axes[0][0].set_yticks(y, long["label"])
    axes[0][0].set_ylim(len(long) - 0.5, -0.5)
    axes[0][1].legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    figure.tight_layout()
    return figure
