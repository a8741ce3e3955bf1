"""The committed response corpus: its design, its card, and the spread the styles must show."""

from __future__ import annotations

import pandas as pd
import pytest

from pluralign.behaviour.corpus import CorpusConfig, generation_requests
from pluralign.data.corpus import load_card, load_corpus, load_prompts, style_spread


def test_prompts_are_half_emotional_half_provocative():
    prompts = load_prompts()
    assert len(prompts) == 100 and prompts["prompt_id"].is_unique
    assert prompts["kind"].value_counts().to_dict() == {"emotional": 50, "provocative": 50}


def test_requests_rotate_openings_and_cover_every_style():
    config = CorpusConfig.load()
    requests = generation_requests(load_prompts(), config)
    assert len(requests) == 100 * len(config.styles)
    for style, recipe in config.styles.items():
        used = requests.loc[requests["style"] == style, "opening"].value_counts()
        assert set(used.index) == set(recipe["openings"])
        assert used.max() - used.min() <= 1


def test_committed_corpus_matches_its_design():
    responses = load_corpus()
    config = CorpusConfig.load()
    assert len(responses) == 100 * len(config.styles)
    assert responses["response_id"].is_unique
    assert (responses.groupby("prompt_id")["style"].nunique() == len(config.styles)).all()
    starts = [
        response.startswith(opening)
        for response, opening in zip(responses["response"], responses["opening"], strict=True)
    ]
    assert all(starts), "every response begins with its prefilled opening"
    assert responses[["toxicity", "emotional_awareness"]].notna().all().all()


def test_card_records_model_decoding_and_the_required_spread():
    card = load_card()
    assert "4-bit" in card["model"]["weights_origin"] or "Q4" in card["model"]["weights_origin"]
    assert card["decoding"] == CorpusConfig.load().decoding
    assert card["scorers"]["toxicity"] == "minilm-sbic-offensive"
    assert "proxy" in card["scorers"]["emotional_awareness"]
    assert card["spread_holds"] is True
    recomputed = style_spread(load_corpus(), seed=card["seed"])
    assert recomputed["holds"].all()
    stored = pd.DataFrame(card["style_spread"])
    assert recomputed["mean_difference"].to_numpy() == pytest.approx(
        stored["mean_difference"].to_numpy()
    )


def test_spread_fails_when_styles_do_not_differ():
    responses = load_corpus().copy()
    responses["toxicity"] = 0.5
    assert not style_spread(responses)["holds"].iloc[0]
