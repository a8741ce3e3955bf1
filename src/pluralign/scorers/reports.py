"""The scorers' committed validation results as tables for the book (read, never recomputed here:
`pluralign scorers train` writes them)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from pluralign.paths import project_root


def _results(name: str) -> Any:
    return json.loads((project_root() / "results" / "scorers" / name).read_text())


def toxicity_validation() -> pd.DataFrame:
    """The offline toxicity scorer beside the profanity baseline on the three validation sets."""
    table = pd.DataFrame(_results("toxicity_validation.json")["validation"])
    columns = [
        "role",
        "name",
        "sbic_auroc",
        "popquorn_spearman",
        "sap_spearman",
        "sbic_n",
        "popquorn_n",
        "sap_n",
    ]
    return table[columns].set_index("role")


def toxicity_hard_cases() -> pd.DataFrame:
    """The hand-written hard cases with both scorers' scores."""
    path = project_root() / "results" / "scorers" / "toxicity_validation_hard_cases.csv"
    return pd.read_csv(path)


def ea_validation() -> pd.DataFrame:
    """The EA proxy's rank agreement with the authors' rubric labels (all, held-out and
    development prompts) beside a plain NRC emotion-word count."""
    report = _results("ea_validation.json")
    rows = []
    for key, label in (
        ("overall", "all items"),
        ("held_out_prompts", "held-out prompts"),
        ("development_prompts", "development prompts"),
        ("baseline_nrc_intensity", "baseline: NRC emotion-word count"),
    ):
        part = report[key]
        low, high = part.get("spearman_ci95", [None, None])
        rows.append(
            {
                "items": label,
                "spearman": part["spearman_rho"],
                "ci_low": low,
                "ci_high": high,
                "kendall_tau_b": part.get("kendall_tau_b"),
                "n": part.get("n"),
            }
        )
    return pd.DataFrame(rows).set_index("items")


def ea_proxy_name() -> str:
    return str(_results("ea_validation.json")["proxy"])
