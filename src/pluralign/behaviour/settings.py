"""The behaviour evaluation's settings (`configs/behaviour.yml`), parsed into a validated dataclass.

The settings that change what a model writes (prompt count, samples, tokens, decoding, the prompt
rule) are hashed into `settings_key`, which names the folder the samples are stored in; the batch
size and the scorers are recorded but not hashed (they do not change the texts on a CPU, and the
scores are recomputed whenever the scorers change).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pluralign.paths import project_root

#: Version of the rule that picks a run's evaluation prompts (`pluralign.behaviour.prompts`) and
#: renders them (one user turn, the model's chat template). Part of `settings_key`.
PROMPT_RULE = "held-out-by-run-split-v1"

TOP_KEYS = {"decoding", "toxicity", "reward_models", "profiles"}
PROFILE_KEYS = {"prompts", "samples", "max_new_tokens", "batch_size", "reward_models_from"}
DECODING_KEYS = {"temperature", "top_p"}
TOXICITY_KEYS = {"detoxify_checkpoint", "detoxify_model_type", "detoxify_config_path"}
REWARD_MODEL_KEYS = {"scale", "values"}


class SettingsError(ValueError):
    """A behaviour configuration that cannot be used (unknown key, bad value, unknown profile)."""


@dataclass(frozen=True)
class BehaviourSettings:
    """How models are sampled and scored for one sweep profile."""

    profile: str
    prompts: int
    samples: int
    max_new_tokens: int
    batch_size: int
    temperature: float
    top_p: float
    reward_models_from: tuple[str, ...]
    reward_model_scale: str = "5pt"
    reward_model_values: str = "multi"
    detoxify_checkpoint: str | None = None
    detoxify_model_type: str = "original"
    detoxify_config_path: str | None = None

    def __post_init__(self) -> None:
        if min(self.prompts, self.samples, self.max_new_tokens, self.batch_size) < 1:
            raise SettingsError("prompts, samples, max_new_tokens and batch_size must be >= 1")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise SettingsError("need temperature >= 0 and 0 < top_p <= 1")
        if not self.reward_models_from:
            raise SettingsError("reward_models_from must name at least one sweep profile")

    def generation(self) -> dict[str, Any]:
        """What determines the texts a model writes (hashed into `settings_key`)."""
        return {
            "prompt_rule": PROMPT_RULE,
            "prompts": self.prompts,
            "samples": self.samples,
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
        }

    @property
    def settings_key(self) -> str:
        """12 hex digits of the sha256 of `generation()`: the samples' folder name."""
        text = json.dumps(self.generation(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"settings_key": self.settings_key}


def settings_path() -> Path:
    return project_root() / "configs" / "behaviour.yml"


def _check_keys(data: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise SettingsError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")


def load_settings(profile: str, path: Path | None = None) -> BehaviourSettings:
    """The settings of `profile` from `configs/behaviour.yml` (or `path`), validated."""
    path = Path(path) if path is not None else settings_path()
    data = yaml.safe_load(path.read_text()) or {}
    _check_keys(data, TOP_KEYS, str(path))
    profiles = data.get("profiles") or {}
    if profile not in profiles:
        raise SettingsError(f"{path}: no profile {profile!r}; profiles: {sorted(profiles)}")
    block = profiles[profile] or {}
    _check_keys(block, PROFILE_KEYS, f"{path}: profiles.{profile}")
    decoding = data.get("decoding") or {}
    _check_keys(decoding, DECODING_KEYS, f"{path}: decoding")
    toxicity = data.get("toxicity") or {}
    _check_keys(toxicity, TOXICITY_KEYS, f"{path}: toxicity")
    reward = data.get("reward_models") or {}
    _check_keys(reward, REWARD_MODEL_KEYS, f"{path}: reward_models")
    sources = block.get("reward_models_from", [profile])
    try:
        return BehaviourSettings(
            profile=profile,
            prompts=int(block["prompts"]),
            samples=int(block["samples"]),
            max_new_tokens=int(block["max_new_tokens"]),
            batch_size=int(block.get("batch_size", 64)),
            temperature=float(decoding.get("temperature", 0.7)),
            top_p=float(decoding.get("top_p", 0.9)),
            reward_models_from=tuple(str(name) for name in sources),
            reward_model_scale=str(reward.get("scale", "5pt")),
            reward_model_values=str(reward.get("values", "multi")),
            detoxify_checkpoint=toxicity.get("detoxify_checkpoint"),
            detoxify_model_type=str(toxicity.get("detoxify_model_type", "original")),
            detoxify_config_path=toxicity.get("detoxify_config_path"),
        )
    except KeyError as error:
        raise SettingsError(f"{path}: profiles.{profile} lacks {error.args[0]!r}") from error
