"""`pluralign bench train|generate` on the tiny model on CPU, including the `--random-weights`
path that a GPU machine without the embedded wheel takes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pluralign.bench.train import synthetic_pairs
from pluralign.cli.train import train_app


def test_bench_train_random_weights_writes_both_paths(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.parquet"
    synthetic_pairs(4, seed=0).to_parquet(pairs)
    output = tmp_path / "bench-train.json"
    result = CliRunner().invoke(
        train_app,
        [
            "bench",
            "train",
            "--model",
            "tiny-random-llama",
            "--random-weights",
            "--steps",
            "2",
            "--batch-size",
            "2",
            "--pairs",
            str(pairs),
            "--output",
            str(output),
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(output.read_text())
    assert figures["random_weights"] is True and figures["device"] == "cpu"
    assert figures["n_pairs"] == 4 and figures["steps"] == 2 and figures["batch_size"] == 2
    for path in ("trl_default", "fast"):
        assert figures[path]["tokens"] > 0 and figures[path]["tokens_per_second"] > 0
    expected = figures["fast"]["tokens_per_second"] / figures["trl_default"]["tokens_per_second"]
    assert abs(figures["speedup_end_to_end"] - expected) < 0.01


@pytest.mark.parametrize("random_weights", [False, True])
def test_bench_generate_counts_equal_tokens(random_weights: bool) -> None:
    weights = ["--random-weights"] if random_weights else []
    result = CliRunner().invoke(
        train_app,
        [
            *("bench", "generate", "--model", "tiny-random-llama", *weights),
            *("--prompts", "4", "--batch-size", "2", "--max-new-tokens", "3"),
            *("--device", "cpu", "--json"),
        ],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["model"] == "tiny-random-llama" and figures["cache"] == "dynamic"
    assert figures["random_weights"] is random_weights
    assert figures["sequential"]["generated_tokens"] == figures["batched"]["generated_tokens"] == 12
    assert figures["batched"]["batch_size"] == 2
