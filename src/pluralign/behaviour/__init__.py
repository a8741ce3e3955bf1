"""Behaviour of the fine-tuned models (chapters 05 and 06): samples from every model and the base
model on held-out prompts, their scores (toxicity, emotional awareness, every group's reward
model), and the statistics the claims C4-C8 need.

Heavy modules (torch, transformers) load on first use, so `import pluralign.behaviour` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "collect_behaviour": "pluralign.behaviour.collect",
    "behaviour_samples": "pluralign.behaviour.collect",
    "TABLE_COLUMNS": "pluralign.behaviour.collect",
    "load_settings": "pluralign.behaviour.settings",
    "evaluation_prompts": "pluralign.behaviour.prompts",
    "MissingAdapterError": "pluralign.behaviour.samples",
    "bench_generate": "pluralign.behaviour.bench",
    "means": "pluralign.behaviour.metrics",
    "base_differences": "pluralign.behaviour.metrics",
    "toxicity_reductions": "pluralign.behaviour.metrics",
    "reduction_ratios": "pluralign.behaviour.metrics",
    "optimiser_comparison": "pluralign.behaviour.metrics",
    "cross_group_matrix": "pluralign.behaviour.metrics",
    "own_group_advantage": "pluralign.behaviour.metrics",
    "percentage_point_gaps": "pluralign.behaviour.metrics",
    "group_difference_tests": "pluralign.behaviour.metrics",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pluralign.behaviour' has no attribute {name!r}")
