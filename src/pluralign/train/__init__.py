"""Fine-tuning (chapter 04's library): run specs, DPO and GRPO with LoRA, per-group reward
models, evaluation on held-out items, the atomic run store, sweeps and the training benchmark.

Heavy modules (torch, TRL) load on first use, so `import pluralign.train` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RunSpec": "pluralign.train.spec",
    "HyperParams": "pluralign.train.spec",
    "HeldOutDesign": "pluralign.train.spec",
    "load_profile": "pluralign.train.spec",
    "spec_from_dict": "pluralign.train.spec",
    "run": "pluralign.train.runner",
    "run_sweep": "pluralign.train.sweep",
    "load_runs": "pluralign.train.sweep",
    "bench_train": "pluralign.train.bench",
    "RewardModel": "pluralign.train.reward",
    "fit_reward_model": "pluralign.train.reward",
    "cluster_bootstrap": "pluralign.train.evaluate",
    "split_items": "pluralign.train.inputs",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pluralign.train' has no attribute {name!r}")
