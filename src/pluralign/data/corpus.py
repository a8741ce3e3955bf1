"""The response corpus: prompts written for the project, answered by the embedded model in five
response styles, and scored by the project's scorers (`pluralign data corpus`).

The study's raters rated LLM responses; its data is not public. This corpus is the stand-in that
the simulated raters of `study-sim` rate. A 135M model barely follows a system prompt, so each
style also gives the reply a prefilled opening (configs/corpus.yml); the opening is part of the
response. The card (`card.json`) records the model, decoding, seeds, wall time and whether the
styles genuinely spread on toxicity and emotional awareness.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from pluralign.paths import project_root

#: The contrasts a usable corpus must show, each with a bootstrap CI over prompts excluding 0:
#: (metric, higher style, lower style).
REQUIRED_SPREAD = (
    ("toxicity", "hostile", "caring"),
    ("emotional_awareness", "caring", "terse"),
    ("emotional_awareness", "caring", "dismissive"),
)


@dataclass(frozen=True)
class CorpusConfig:
    """Styles (system prompt + openings), decoding settings, model and seed of the corpus."""

    model: str
    seed: int
    decoding: dict[str, Any]
    styles: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, path: Path | None = None) -> CorpusConfig:
        data = yaml.safe_load((path or project_root() / "configs" / "corpus.yml").read_text())
        return cls(data["model"], int(data["seed"]), dict(data["decoding"]), dict(data["styles"]))


def corpus_dir() -> Path:
    return project_root() / "data" / "corpus"


def responses_path() -> Path:
    return corpus_dir() / "responses.csv"


def load_prompts() -> pd.DataFrame:
    """The prompts (prompt_id, kind: emotional | provocative, topic, prompt)."""
    return pd.read_csv(corpus_dir() / "prompts.csv", dtype=str)


def load_corpus() -> pd.DataFrame:
    """The generated responses with their scores; one row per (prompt, style)."""
    path = responses_path()
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: build it with `pluralign data corpus`")
    return pd.read_csv(path, dtype={"prompt_id": str, "response_id": str})


def load_card() -> dict[str, Any]:
    return json.loads((corpus_dir() / "card.json").read_text())


def generation_requests(prompts: pd.DataFrame, config: CorpusConfig) -> pd.DataFrame:
    """One row per (prompt, style): the conversation to send and the opening to prefill.

    Openings rotate with the prompt's position, so each style's openings are used evenly.
    """
    rows = []
    for position, prompt in enumerate(prompts.itertuples(index=False)):
        for style, recipe in config.styles.items():
            openings = recipe["openings"]
            rows.append(
                {
                    "prompt_id": prompt.prompt_id,
                    "kind": prompt.kind,
                    "topic": prompt.topic,
                    "prompt": prompt.prompt,
                    "style": style,
                    "response_id": f"{prompt.prompt_id}-{style}",
                    "system": recipe["system"].strip(),
                    "opening": openings[position % len(openings)],
                }
            )
    return pd.DataFrame(rows)


def style_spread(
    responses: pd.DataFrame, bootstrap_samples: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """Paired differences between styles (same prompts), with 95% bootstrap CIs over prompts."""
    rng = np.random.default_rng(seed)
    rows = []
    for metric, higher, lower in REQUIRED_SPREAD:
        wide = responses.pivot_table(index="prompt_id", columns="style", values=metric)
        difference = (wide[higher] - wide[lower]).dropna().to_numpy()
        draws = rng.integers(0, len(difference), (bootstrap_samples, len(difference)))
        means = difference[draws].mean(axis=1)
        low, high = np.percentile(means, [2.5, 97.5])
        rows.append(
            {
                "metric": metric,
                "contrast": f"{higher} − {lower}",
                "mean_difference": float(difference.mean()),
                "ci_low": float(low),
                "ci_high": float(high),
                "prompts": len(difference),
                "holds": bool(low > 0),
            }
        )
    return pd.DataFrame(rows)


def style_summary(responses: pd.DataFrame) -> pd.DataFrame:
    """Per style: mean, median and quartiles of toxicity and EA, and mean generated tokens."""
    grouped = responses.groupby("style", sort=False)
    summary = grouped[["toxicity", "emotional_awareness"]].describe(percentiles=[0.25, 0.5, 0.75])
    summary.columns = [f"{metric} {statistic}" for metric, statistic in summary.columns]
    keep = [
        column
        for column in summary.columns
        if column.split(" ")[-1] in ("mean", "25%", "50%", "75%")
    ]
    result = summary[keep].copy()
    result["new tokens (mean)"] = grouped["new_tokens"].mean()
    return result


def build_corpus(
    output_dir: Path | None = None,
    model_name: str | None = None,
    limit_prompts: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Generate, score and write the corpus (responses.csv + card.json); return the card."""
    from pluralign.evaluate.emotional_awareness import EmotionalAwarenessProxy
    from pluralign.evaluate.generate import generate_responses
    from pluralign.evaluate.toxicity import load_toxicity_scorer
    from pluralign.models import load_base, model_provenance

    config = CorpusConfig.load()
    model_name = model_name or config.model
    output_dir = output_dir or corpus_dir()
    prompts = load_prompts()
    if limit_prompts is not None:
        prompts = prompts.groupby("kind", group_keys=False).head(limit_prompts // 2)
    requests = generation_requests(prompts, config)

    started = time.perf_counter()
    model, tokenizer = load_base(model_name)
    conversations = [
        [{"role": "system", "content": row.system}, {"role": "user", "content": row.prompt}]
        for row in requests.itertuples(index=False)
    ]
    decoding = config.decoding
    generation_started = time.perf_counter()
    results = generate_responses(
        model,
        tokenizer,
        conversations,
        prefills=list(requests["opening"]),
        max_new_tokens=int(decoding["max_new_tokens"]),
        temperature=float(decoding["temperature"]),
        top_p=float(decoding["top_p"]),
        seed=config.seed,
        batch_size=int(decoding["batch_size"]),
        progress=progress,
    )
    generation_seconds = time.perf_counter() - generation_started
    responses = requests.drop(columns=["system"]).copy()
    responses["response"] = [result.text for result in results]
    responses["new_tokens"] = [result.num_generated_tokens for result in results]
    responses["stopped_at_eos"] = [result.stopped_at_eos for result in results]

    toxicity = load_toxicity_scorer()
    awareness = EmotionalAwarenessProxy()
    responses["toxicity"] = toxicity.score(list(responses["response"]))
    responses["emotional_awareness"] = awareness.score(list(responses["response"]))
    spread = style_spread(responses, seed=config.seed)

    output_dir.mkdir(parents=True, exist_ok=True)
    responses.to_csv(output_dir / "responses.csv", index=False)
    card = {
        "what": "LLM responses generated for the project's own prompts; stand-in for the "
        "paper's unreleased rated responses",
        "model": model_provenance(model_name),
        "decoding": decoding,
        "seed": config.seed,
        "styles": {style: recipe for style, recipe in config.styles.items()},
        "prompts": len(prompts),
        "responses": len(responses),
        "new_tokens_total": int(responses["new_tokens"].sum()),
        "generation_seconds": round(generation_seconds, 1),
        "generation_tokens_per_second": round(
            responses["new_tokens"].sum() / generation_seconds, 1
        ),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "hardware": {"machine": platform.machine(), "processor": platform.processor()},
        "scorers": {"toxicity": toxicity.name, "emotional_awareness": awareness.name},
        "style_spread": spread.to_dict(orient="records"),
        "spread_holds": bool(spread["holds"].all()),
    }
    (output_dir / "card.json").write_text(json.dumps(card, indent=2, default=str) + "\n")
    return card
