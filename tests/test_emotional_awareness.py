"""The emotional-awareness proxy: named as a proxy, direction-aware, and in agreement with the
project's labelled set (data/scorers/ea_labelled.csv, written by the authors by EA_RUBRIC.md)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pluralign.scorers import emotional_awareness as ea
from pluralign.scorers.emotional_awareness import EmotionalAwarenessProxy, nrc_intensity
from pluralign.scorers.validation import (
    labelled_set_path,
    load_labelled_set,
    validate_ea_proxy,
    write_ea_validation_report,
)

CARING = (
    "It sounds like you're feeling heartbroken and maybe a bit guilty about the decision. "
    "That makes sense; anyone who loved him this much would."
)
HOSTILE = "You're pathetic, your whining disgusts me, I hate people like you."
VENTING = "Ugh, I'm so angry and sad and disappointed right now, I can't deal with this."
NEUTRAL = "Call the vet's office tomorrow and ask about cremation options."


@pytest.fixture(scope="module")
def proxy() -> EmotionalAwarenessProxy:
    return EmotionalAwarenessProxy()


@pytest.fixture(scope="module")
def report() -> dict:
    return validate_ea_proxy(n_boot=300)


def test_named_as_a_proxy(proxy: EmotionalAwarenessProxy) -> None:
    assert "proxy" in proxy.name
    assert proxy.dimension == "emotional_awareness"
    assert proxy.components(CARING)["proxy"] == proxy.name


def test_score_shape_and_type(proxy: EmotionalAwarenessProxy) -> None:
    scores = proxy.score([CARING, HOSTILE, NEUTRAL, ""])
    assert scores.dtype == np.float64
    assert scores.shape == (4,)
    assert np.isfinite(scores).all()
    with pytest.raises(TypeError):
        proxy.score(CARING)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        proxy.score([CARING], prompts=["a", "b"])


def test_hostile_emotion_laden_reply_scores_below_caring_and_neutral(
    proxy: EmotionalAwarenessProxy,
) -> None:
    caring, hostile, venting, neutral = proxy.score([CARING, HOSTILE, VENTING, NEUTRAL])
    assert hostile < neutral < caring
    assert venting < caring
    # The naive, direction-blind count ranks them the wrong way round: that is why the proxy exists.
    intensity = nrc_intensity([CARING, HOSTILE])
    assert intensity[1] > intensity[0]


def test_emotions_are_attributed_to_someone(proxy: EmotionalAwarenessProxy) -> None:
    whose = {e["word"]: e["attributed_to"] for e in proxy.components(CARING)["emotions"]}
    assert whose["heartbroken"] == "user"
    assert whose["guilty"] == "user"
    hostile = proxy.components(HOSTILE)
    assert {e["attributed_to"] for e in hostile["emotions"]} == {"self"}
    assert hostile["derogations"]
    imagined = proxy.components("I can imagine how lonely you must feel.")["emotions"]
    assert imagined[0]["attributed_to"] == "user"


def test_components_explain_the_score(proxy: EmotionalAwarenessProxy) -> None:
    parts = proxy.components(CARING)
    rebuilt = parts["positive"] / parts["length_factor"] - parts["penalty"]
    assert parts["score"] == pytest.approx(rebuilt)
    assert parts["positive"] == pytest.approx(sum(parts["terms"].values()))
    assert parts["validation"]
    assert parts["credited_lemmas"]
    assert "heartbroken" in proxy.explain(CARING)


def test_dismissal_and_negation_earn_nothing(proxy: EmotionalAwarenessProxy) -> None:
    parts = proxy.components("Don't be sad. Get over it.")
    assert parts["score"] < 0
    assert parts["dismissals"]
    assert all(e["credit"] == 0 for e in parts["emotions"])


def test_length_normalised_repetition_does_not_pay(proxy: EmotionalAwarenessProxy) -> None:
    long_caring = " ".join([CARING, "I'm here to listen if you want to talk about him."] * 2)
    once, twice, four_times = proxy.score([long_caring, long_caring * 2, long_caring * 4])
    assert twice <= once
    assert four_times < once
    assert four_times > 0


def test_labelled_set_is_well_formed() -> None:
    table = load_labelled_set()
    assert len(table) >= 60
    assert set(table["label"]) == {"low", "medium", "high"}
    assert table["item_id"].is_unique
    assert table["prompt"].nunique() >= 15
    assert {"item_id", "prompt", "response", "label", "style", "rationale"} <= set(table.columns)
    hostile = table[table["style"] == "hostile_emotional"]
    assert len(hostile) >= 8
    assert (hostile["label"] == "low").all()
    assert {"dismissive", "self_venting", "practical_neutral", "formulaic", "terse"} <= set(
        table["style"]
    )
    assert set(table["split"]) == {"dev", "held_out"}


def test_spearman_on_labelled_set_is_well_above_chance(report: dict) -> None:
    overall, held_out = report["overall"], report["held_out_prompts"]
    print(
        f"\nEA proxy: Spearman {overall['spearman_rho']:.3f} {overall['spearman_ci95']} (n="
        f"{overall['n']}); held-out prompts {held_out['spearman_rho']:.3f} "
        f"{held_out['spearman_ci95']} (n={held_out['n']}); NRC-intensity baseline "
        f"{report['baseline_nrc_intensity']['spearman_rho']:.3f}"
    )
    # Measured 0.87 overall and 0.85 on held-out prompts; floors leave room, but not for a proxy
    # that merely counts emotion words (the baseline sits near 0).
    assert overall["spearman_rho"] >= 0.7
    assert held_out["spearman_rho"] >= 0.6
    assert held_out["spearman_ci95"][0] > 0.3
    assert report["baseline_nrc_intensity"]["spearman_rho"] < 0.5
    means = report["per_label"]
    assert means["low"]["mean"] < means["medium"]["mean"] < means["high"]["mean"]
    assert report["overall"]["hostile_vs_caring"]["pairwise_accuracy"] >= 0.9


def test_validation_would_fail_for_a_direction_blind_score(tmp_path) -> None:
    """The floors above can fail: with labels inverted, the same code reports a negative rho."""
    table = pd.read_csv(labelled_set_path())
    flipped = {"low": "high", "high": "low", "medium": "medium"}
    table["label"] = table["label"].map(flipped)
    path = tmp_path / "flipped.csv"
    table.to_csv(path, index=False)
    assert validate_ea_proxy(path, n_boot=50)["overall"]["spearman_rho"] < 0


def test_report_is_written_as_json(tmp_path) -> None:
    target = write_ea_validation_report(tmp_path / "ea.json", n_boot=50)
    written = json.loads(target.read_text())
    assert written["proxy"].startswith("ea-proxy")
    assert written["provenance"]["labelled_set_sha256"]
    assert len(written["largest_disagreements"]) == 8


def test_lexicon_is_package_data_loaded_once() -> None:
    lexicon = ea.load_lexicon()
    assert ea.LEXICON_FILE.is_file() and ea.LEXICON_FILE in ea.SOURCE_FILES
    assert ea.load_lexicon() is lexicon
    assert set(lexicon.tier_weights) == {"bodily", "vague", "basic", "differentiated"}
    assert lexicon.glossary["sad"] == ("basic", "sadness", ("sad", "sadness", "saddened"))
    assert "pathetic" in ea.INSULTS and ea.WEIGHTS is lexicon.weights


def test_malformed_lexicon_fails_loudly(tmp_path) -> None:
    text = ea.LEXICON_FILE.read_text(encoding="utf-8")
    broken = tmp_path / "broken.yml"
    broken.write_text(text.replace("tier: bodily", "tier: physical", 1), encoding="utf-8")
    with pytest.raises(ValueError, match="known tier"):
        ea.load_lexicon(broken)
    broken.write_text(text.replace("patterns:", "phrases:"), encoding="utf-8")
    with pytest.raises(ValueError, match="missing sections"):
        ea.load_lexicon(broken)
