"""The typed config loader: errors name the file and line; every config in configs/ loads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pluralign.behaviour.corpus import CorpusConfig
from pluralign.behaviour.settings import BehaviourConfig, SettingsError, load_settings
from pluralign.book.runner import book_profile_names, load_book_profile
from pluralign.config import ConfigError, Overrides, load_config
from pluralign.data.simulate import SimulationConfig, default_params_path, load_params
from pluralign.pairs.build import PairsConfig, binary_cuts
from pluralign.parameters import ParameterError
from pluralign.paths import project_root
from pluralign.train.spec import (
    PROFILES,
    HyperParams,
    SpecError,
    SweepConfig,
    load_sweep_config,
    profile_path,
)


@dataclass(frozen=True)
class Inner:
    count: int
    rate: float = 1.0


@dataclass(frozen=True)
class Outer:
    name: str
    inner: Inner
    tags: tuple[str, ...] = ()
    by_name: dict[str, Inner] = field(default_factory=dict)
    hyper: Overrides[HyperParams] = field(default_factory=Overrides)
    limit: int | None = 3
    switch: bool = False


def _load(tmp_path: Path, text: str) -> Outer:
    path = tmp_path / "config.yml"
    path.write_text(text)
    return load_config(path, Outer)


def _error(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    assert caught.value.path is not None and str(caught.value.path).endswith("config.yml")
    return caught.value


def test_nested_dataclasses_dicts_and_tuples(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        "name: a\ninner: {count: 2, rate: 3}\ntags: [x, y]\nby_name: {k: {count: 1}}\n"
        "hyper: {steps: 5, lora_targets: [q_proj]}\nlimit: null\n",
    )
    assert config.inner == Inner(2, 3.0) and isinstance(config.inner.rate, float)
    assert config.tags == ("x", "y")
    assert config.by_name == {"k": Inner(1)}
    assert config.hyper == {"steps": 5, "lora_targets": ("q_proj",)}  # only the keys given
    assert config.limit is None and config.switch is False


def test_a_single_value_is_a_list_of_one_and_null_means_the_default(tmp_path: Path) -> None:
    config = _load(tmp_path, "name: a\ninner: {count: 1}\ntags: x\nby_name:\nswitch: true\n")
    assert config.tags == ("x",) and config.by_name == {} and config.switch is True


def test_unknown_key_names_file_line_block_and_allowed_keys(tmp_path: Path) -> None:
    error = _error(tmp_path, "name: a\ninner:\n  count: 1\n  colour: red\n")
    assert error.line == 4
    assert str(error).endswith("config.yml:4: unknown key 'colour' in inner; allowed: count, rate")


def test_unknown_key_in_overrides_lists_the_dataclass_fields(tmp_path: Path) -> None:
    error = _error(tmp_path, "name: a\ninner: {count: 1}\nhyper:\n  stepz: 3\n")
    assert error.line == 4 and "unknown key 'stepz' in hyper; allowed: batch_size," in str(error)


def test_missing_required_key(tmp_path: Path) -> None:
    error = _error(tmp_path, "name: a\ninner:\n  rate: 2.0\n")
    assert error.line == 3 and "missing key 'count' in inner" in str(error)
    assert "missing key 'name' in the top level" in str(_error(tmp_path, ""))


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        ("name: a\ninner: {count: 1.5}\n", 2, "inner.count: expected int, got float '1.5'"),
        ("name: a\ninner: {count: true}\n", 2, "inner.count: expected int, got bool"),
        ("name: 3\ninner: {count: 1}\n", 1, "name: expected str, got int '3'"),
        ("name: a\ninner: [1]\n", 2, "inner: expected a mapping, got a list"),
        ("name: a\ninner: {count: 1}\ntags: [x, {y: 1}]\n", 3, "tags[1]: expected str"),
        ("name: a\ninner: {count: 1}\nhyper: {learning_rate: 1e-3}\n", 3, "1.0e-3"),
        ("name: a\ninner: {count: 1}\nname: b\n", 3, "key 'name' repeated"),
    ],
)
def test_wrong_types_name_the_key_and_line(
    tmp_path: Path, text: str, line: int, expected: str
) -> None:
    error = _error(tmp_path, text)
    assert error.line == line and expected in str(error)


def test_dataclass_checks_are_located_too(tmp_path: Path) -> None:
    @dataclass(frozen=True)
    class Positive:
        value: int

        def __post_init__(self) -> None:
            if self.value < 1:
                raise ValueError("value must be positive")

    path = tmp_path / "config.yml"
    path.write_text("\nvalue: 0\n")
    with pytest.raises(ConfigError, match=r"config.yml:2: the top level: value must be positive"):
        load_config(path, Positive)


def test_every_real_config_loads() -> None:
    configs = project_root() / "configs"
    for name in PROFILES:
        assert load_config(profile_path(name), SweepConfig).datasets
    assert load_config(configs / "behaviour.yml", BehaviourConfig).profiles.keys() >= set(PROFILES)
    assert load_config(default_params_path(), SimulationConfig).rating_model.thresholds
    assert load_params().participants > 0
    assert load_config(configs / "pairs.yml", PairsConfig).binary_cut == binary_cuts()
    assert set(CorpusConfig.load().styles) >= {"caring", "hostile"}
    for name in book_profile_names():
        assert load_book_profile(name).chapters


def test_module_errors_keep_their_type_and_gain_the_line(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.yml"
    sweep.write_text("datasets:\n  example:\n    - groups: [all]\n      hyper: {colour: red}\n")
    with pytest.raises(SpecError, match=r"sweep.yml:4: unknown key 'colour' in datasets"):
        load_sweep_config(sweep)
    behaviour = tmp_path / "behaviour.yml"
    behaviour.write_text("profiles:\n  smoke: {prompts: 2, samples: 1}\n")
    with pytest.raises(SettingsError, match=r"behaviour.yml:2: missing key 'max_new_tokens'"):
        load_settings("smoke", behaviour)
    book = tmp_path / "configs" / "profiles" / "mine.yml"
    book.parent.mkdir(parents=True)
    book.write_text("description: x\nparamters: {seed: 1}\n")
    with pytest.raises(ParameterError, match=r"mine.yml:2: unknown key 'paramters'"):
        load_book_profile("mine", root=tmp_path)


def test_merge_keys_apply_and_a_block_own_keys_win(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        "name: a\ninner: {count: 1}\nby_name:\n  x: &base {count: 2, rate: 3.0}\n"
        "  y:\n    <<: *base\n    count: 4\n",
    )
    assert config.by_name == {"x": Inner(2, 3.0), "y": Inner(4, 3.0)}
