"""Chapter 01's figures of the rating data and the response corpus (drawn with seaborn)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from pluralign.data.describe import score_shares
from pluralign.data.schema import SCALE_VALUES
from pluralign.style import set_style

FIELD_TITLES = {
    "country": "country",
    "gender": "gender",
    "race": "race",
    "political": "political leaning",
    "age_group": "age",
}


def plot_score_distributions(
    tables: dict[str, pd.DataFrame], fields: tuple[str, ...], min_raters: int = 5
) -> plt.Figure:
    """Stacked shares of each score, one bar per demographic group.

    Rows: dataset × dimension; columns: demographic fields. Colours run from the lowest to the
    highest value of the row's scale. Groups with fewer than `min_raters` raters are left out.
    """
    set_style()
    panels = [
        (name, dimension, part)
        for name, table in tables.items()
        for dimension, part in table.groupby("dimension")
    ]
    used_fields = [f for f in fields if any(t[f].notna().any() for t in tables.values())]
    figure, axes = plt.subplots(
        len(panels),
        len(used_fields),
        figsize=(3.6 * len(used_fields) + 1.6, 1.1 + 1.25 * len(panels)),
        squeeze=False,
    )
    titled: set[int] = set()
    for row, (name, dimension, part) in enumerate(panels):
        scale = part["scale"].iloc[0]
        levels = SCALE_VALUES[scale]
        colours = sns.color_palette("rocket_r", len(levels))
        legend_axis = None
        for column, field in enumerate(used_fields):
            axis = axes[row][column]
            shares = score_shares(part, field, min_raters)
            if shares.empty:
                axis.set_axis_off()
                axis.text(0.5, 0.5, "not recorded", ha="center", va="center", color="grey")
                continue
            wide = shares.pivot_table(index="group", columns="score", values="share", fill_value=0)
            wide = wide.reindex(columns=list(levels), fill_value=0)
            raters = shares.groupby("group")["raters"].first()
            labels = [f"{group} ({raters[group]})" for group in wide.index]
            left = pd.Series(0.0, index=wide.index)
            for level, colour in zip(levels, colours, strict=True):
                axis.barh(labels, wide[level], left=left, color=colour, label=f"{level:g}")
                left += wide[level]
            axis.set_xlim(0, 1)
            legend_axis = axis
            axis.tick_params(axis="y", labelsize=8)
            if column not in titled:
                axis.set_title(FIELD_TITLES.get(field, field))
                titled.add(column)
            if column == 0:
                axis.set_ylabel(f"{name}\n{dimension}", fontsize=9)
            if row == len(panels) - 1:
                axis.set_xlabel("share of ratings")
        if legend_axis is not None:
            handles, labels = legend_axis.get_legend_handles_labels()
            axes[row][-1].legend(
                handles,
                labels,
                title=f"score ({scale})",
                bbox_to_anchor=(1.02, 0.5),
                loc="center left",
                fontsize=7,
                title_fontsize=8,
                frameon=False,
            )
    figure.tight_layout()
    return figure


def plot_agreement(agreement: pd.DataFrame) -> plt.Figure:
    """Ordinal Krippendorff's alpha per dataset and dimension with its 95% bootstrap CI."""
    set_style()
    data = agreement.reset_index()
    data["label"] = data["dataset"] + " · " + data["dimension"]
    figure, axis = plt.subplots(figsize=(6.5, 0.45 * len(data) + 1.2))
    colour = sns.color_palette()[0]
    # a percentile interval need not contain the point estimate, so draw both, not error bars
    axis.hlines(data["label"], data["ci_low"], data["ci_high"], color=colour, linewidth=1.5)
    axis.plot(data["alpha"], data["label"], "o", color=colour)
    axis.axvline(0, color="grey", linewidth=0.8)
    axis.set_xlabel("Krippendorff's alpha (ordinal), 95% CI")
    axis.invert_yaxis()
    figure.tight_layout()
    return figure


def plot_corpus_styles(responses: pd.DataFrame, scorer_names: dict[str, str]) -> plt.Figure:
    """Toxicity score and emotional-awareness proxy of the corpus responses, per response style
    and prompt kind; the axes name the scorer that produced each number."""
    set_style()
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    order = list(dict.fromkeys(responses["style"]))
    for axis, metric, label in (
        (axes[0], "toxicity", f"toxicity score ({scorer_names['toxicity']})"),
        (axes[1], "emotional_awareness", f"EA proxy ({scorer_names['emotional_awareness']})"),
    ):
        sns.boxplot(
            data=responses,
            x="style",
            y=metric,
            hue="kind",
            order=order,
            ax=axis,
            fliersize=2,
            linewidth=0.8,
        )
        axis.set_xlabel("response style")
        axis.set_ylabel(label)
        axis.legend(title="prompt", fontsize=8, title_fontsize=8, frameon=False)
    figure.tight_layout()
    return figure
