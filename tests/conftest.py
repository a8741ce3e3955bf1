"""Shared fixtures: the project root and the local mirror of the real datasets.

Tests that need the real files skip when no mirror is configured, except under CI=true, where a
missing mirror is a failure (CI must test the loaders on the real data).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory) -> Iterator[Path]:
    """A fresh `PLURALIGN_CACHE` for the whole session: the embedded model is converted at most
    once (by the first test that needs it), and no test reads or writes the user's cache."""
    cache = tmp_path_factory.mktemp("pluralign-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PLURALIGN_CACHE", str(cache))
        yield cache


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The dataset mirror (PLURALIGN_DATA_MIRROR); skip without it, fail without it in CI."""
    configured = os.environ.get("PLURALIGN_DATA_MIRROR")
    path = Path(configured) if configured else None
    if path is None or not path.is_dir():
        message = (
            "no dataset mirror: set PLURALIGN_DATA_MIRROR to a folder with popquorn/, sap2022/, "
            "sbic_v2/ (make test uses ../shared/datasets when it exists)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Tiny-model ops gain nothing from threads and suffer badly on a busy 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny() -> tuple:
    """The from-config tiny Llama with SmolLM2's tokenizer (seconds per step)."""
    from pluralign.models import base as models

    return models.tiny_model(seed=0)


@pytest.fixture(scope="session")
def synthetic_corpus():
    """A made-up corpus with the real one's shape (100 prompts × 5 styles), so simulation and
    gap tests do not depend on the project's generated corpus."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    styles = ("caring", "neutral", "terse", "dismissive", "hostile")
    rows = [
        {
            "prompt_id": f"q{p:03d}",
            "prompt": f"prompt {p}",
            "response_id": f"q{p:03d}-{style}",
            "response": f"response {p} {style}",
            "style": style,
            "toxicity": float(np.clip(0.1 + 0.15 * k + rng.normal(0, 0.1), 0, 1)),
            "emotional_awareness": float(max(0.0, 1.5 - 0.3 * k + rng.normal(0, 0.3))),
        }
        for p in range(100)
        for k, style in enumerate(styles)
    ]
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def smoke_store(tmp_path_factory) -> Path:
    """The smoke profile's runs (tiny model; the example study and study-sim), trained once per
    session. It is read-only: a test that writes into a store (sampling, the book) copies it."""
    import torch

    from pluralign.train.sweep import run_sweep

    root = tmp_path_factory.mktemp("smoke-store")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny-model ops gain nothing from threads
    try:
        run_sweep("smoke", root=root, progress=False)
    finally:
        torch.set_num_threads(threads)
    return root
