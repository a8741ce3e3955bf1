"""The one look of every figure and table the book shows: seaborn's theme, whole tables, and the
figure that says why there is nothing to draw."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns


def set_style() -> None:
    sns.set_theme(context="notebook", style="whitegrid", font_scale=0.9)


def show_whole_tables() -> None:
    """Let pandas print every row, column and character of the tables a chapter shows.

    pandas' defaults elide rows past 60, columns past 20 and cut cells at 50 characters; in a
    published book that hides evidence (a claim statement cut mid-sentence, runs left out of a
    table), so every chapter calls this in its first cell and chooses what to show itself.
    """
    pd.set_option("display.max_rows", None)
    pd.set_option("display.max_columns", None)
    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.width", None)


def empty_figure(message: str) -> plt.Figure:
    """A small figure that says why there is nothing to draw (the chapter still gets its figure)."""
    figure, axis = plt.subplots(figsize=(6, 1.5))
    axis.set_axis_off()
    axis.text(0.5, 0.5, message, ha="center", va="center", color="grey")
    return figure
