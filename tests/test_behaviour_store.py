"""Behaviour samples and scores end to end on the smoke profile in a temporary run store: the
settings, the held-out prompts, generation from adapted models and the base model, scoring, the
cache, atomic writes, the missing-adapter error and the CLI.

The fast tests use stand-in run folders (the smoke specs' folders, each with a random LoRA adapter
on the tiny model and a random reward model), which take seconds to make; the slow test trains the
smoke profile's `example` runs for real.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pluralign.behaviour import samples as samples_store
from pluralign.behaviour import scores as scores_module
from pluralign.behaviour.collect import TABLE_COLUMNS, behaviour_samples, collect_behaviour
from pluralign.behaviour.prompts import evaluation_prompts
from pluralign.behaviour.settings import SettingsError, load_settings
from pluralign.train import store
from pluralign.train.spec import load_profile

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DATASET = "example"  # the bundled example study: no mirror needed


# --------------------------------------------------------------------------------------------
# stand-in runs


def _random_reward_model(dimensions: list[str], seed: int):
    from pluralign.train.reward import RewardModel

    rng = np.random.default_rng(seed)
    return RewardModel(
        dimensions=dimensions,
        coef=rng.normal(0, 1, (len(dimensions), 384)),
        intercept=np.full(len(dimensions), 2.5),
        prediction_mean=np.zeros(len(dimensions)),
        prediction_sd=np.ones(len(dimensions)),
        weights=np.full(len(dimensions), 1 / len(dimensions)),
        with_prompt=True,
        card={"group": "stand-in", "fit": {}},
    )


def make_stand_in_run(spec, root: Path, tiny, seed: int) -> Path:
    """A finished-looking run folder for `spec`: a random LoRA adapter and reward model."""
    import torch
    from peft import get_peft_model

    from pluralign.train.dpo import lora_config

    folder = store.run_folder(spec, root)
    folder.mkdir(parents=True)
    model, _ = tiny
    adapted = get_peft_model(copy.deepcopy(model), lora_config(spec.hyper, model))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in adapted.named_parameters():
            if "lora_B" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator))
    adapted.save_pretrained(folder / store.ADAPTER_DIR)
    _random_reward_model(["toxicity", "emotional_awareness"], seed).save(
        folder / store.REWARD_MODEL_DIR
    )
    store.write_json(folder / store.SPEC_FILE, store.spec_record(spec))
    store.write_json(folder / store.METRICS_FILE, {"stand_in": True})
    store.write_json(folder / store.PROVENANCE_FILE, {"stand_in": True})
    return folder


@pytest.fixture(scope="module")
def smoke_specs():
    return load_profile("smoke", datasets=[DATASET]).specs


@pytest.fixture(scope="module")
def collected(tmp_path_factory, tiny, smoke_specs):
    """A run store with the smoke profile's example runs, collected once."""
    root = tmp_path_factory.mktemp("runs")
    for index, spec in enumerate(smoke_specs):
        make_stand_in_run(spec, root, tiny, seed=index)
    table = collect_behaviour("smoke", root=root, progress=False, datasets=[DATASET])
    return root, table


def copy_store(root: Path, tmp_path: Path) -> Path:
    target = tmp_path / "runs"
    shutil.copytree(root, target)
    return target


# --------------------------------------------------------------------------------------------
# settings and prompts


def test_settings_per_profile_and_their_key(tmp_path: Path) -> None:
    quick, design = load_settings("quick"), load_settings("design")
    assert quick.settings_key == design.settings_key  # same texts: shared samples
    assert quick.max_new_tokens <= 48 and quick.samples >= 2
    smoke = load_settings("smoke")
    assert smoke.settings_key != quick.settings_key
    assert smoke.reward_models_from == ("smoke",)
    bad = tmp_path / "behaviour.yml"
    bad.write_text("profiles: {smoke: {prompts: 2, samples: 1, max_new_tokens: 4, colour: red}}")
    with pytest.raises(SettingsError, match="colour"):
        load_settings("smoke", bad)
    with pytest.raises(SettingsError, match="no profile"):
        load_settings("nonesuch")


def test_study_sim_prompts_are_the_runs_own_held_out_prompts() -> None:
    from pluralign.pairs.build import ratings_for_scale
    from pluralign.train.grpo import generation_prompts
    from pluralign.train.inputs import run_inputs

    spec = next(s for s in load_profile("smoke", datasets=["study-sim"]).specs)
    ratings = ratings_for_scale(spec.dataset, spec.scale)
    split = run_inputs(spec, ratings).split
    prompts = evaluation_prompts(spec, limit=1000)
    assert split.unit == "prompt"
    assert set(prompts["prompt_id"]) == set(split.held_out_ids)
    _, held_texts = generation_prompts(ratings, split, spec.held_out)
    assert set(prompts["prompt"]) == set(held_texts)
    first = evaluation_prompts(spec, limit=3)
    assert first["prompt_id"].tolist() == prompts["prompt_id"].tolist()[:3]
    assert (first["prompt_source"] == "dataset held-out prompts").all()


def test_standalone_datasets_answer_held_out_corpus_prompts(smoke_specs) -> None:
    from pluralign.pairs.build import ratings_for_scale
    from pluralign.train.grpo import generation_prompts
    from pluralign.train.inputs import corpus_prompts, split_items

    spec = smoke_specs[0]
    ratings = ratings_for_scale(spec.dataset, spec.scale)
    prompts = evaluation_prompts(spec, limit=1000)
    _, held_texts = generation_prompts(ratings, split_items(ratings, spec.held_out), spec.held_out)
    assert set(prompts["prompt"]) == set(held_texts)
    assert set(prompts["prompt_id"]) <= set(corpus_prompts()["prompt_id"])
    assert (prompts["prompt_source"] == "corpus held-out prompts").all()


# --------------------------------------------------------------------------------------------
# samples and scores


def test_merged_adapter_writes_like_the_adapter_and_leaves_the_base_alone(
    tmp_path, tiny, smoke_specs
) -> None:
    import torch
    from peft import PeftModel

    folder = make_stand_in_run(smoke_specs[0], tmp_path, tiny, seed=0)
    base, _ = tiny
    before = [parameter.clone() for parameter in base.parameters()]
    merged = samples_store.adapted_model(base, folder / store.ADAPTER_DIR)
    unmerged = PeftModel.from_pretrained(copy.deepcopy(base), str(folder / store.ADAPTER_DIR))
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    with torch.no_grad():
        torch.testing.assert_close(merged(ids).logits, unmerged(ids).logits, atol=1e-4, rtol=1e-4)
        assert not torch.allclose(merged(ids).logits, base(ids).logits)
    assert all(torch.equal(a, b) for a, b in zip(before, base.parameters(), strict=True))


def test_collect_returns_the_tidy_table_for_every_model_and_the_base(
    collected, smoke_specs
) -> None:
    root, table = collected
    settings = load_settings("smoke")
    assert list(table.columns) == TABLE_COLUMNS
    run_ids = {spec.run_id for spec in smoke_specs}
    tuned = table[table["kind"] == "tuned"]
    assert set(tuned["model"]) == run_ids
    base = table[table["kind"] == "base"]
    assert base["model"].nunique() == 1 and (base["group"] == "base").all()
    assert base["model"].iloc[0] == samples_store.base_key(smoke_specs[0].base_model_sha256)
    assert set(table["metric"]) >= {"toxicity", "emotional_awareness", "reward:all"}
    assert set(table.loc[table["metric"] == "toxicity", "scorer"]) == {"minilm-sbic-offensive"}
    assert set(table.loc[table["metric"] == "emotional_awareness", "scorer"]) == {
        "ea-proxy-leas-nrc"
    }
    per_model = table.groupby(["model", "metric"]).size()
    assert (per_model == settings.prompts * settings.samples).all()
    for spec in smoke_specs:
        folder = store.run_folder(spec, root) / "behaviour" / settings.settings_key
        assert samples_store.is_complete(folder)
        assert (folder / "scores.parquet").is_file()
        meta = json.loads((folder / "samples.json").read_text())
        assert meta["run_id"] == spec.run_id and meta["seed"] == spec.seed
        assert meta["generation"]["tokens_per_s"] > 0 and "hardware" in meta
    assert not list(root.rglob("*.tmp"))


def test_tuned_and_base_samples_share_their_sampling_noise(collected) -> None:
    root, _ = collected
    texts = behaviour_samples("smoke", root=root, datasets=[DATASET])
    seeds = texts.pivot_table(
        index=["prompt_id", "sample"], columns="model", values="row_seed", aggfunc="first"
    )
    assert (seeds.nunique(axis=1) == 1).all()
    responses = texts.pivot_table(
        index=["prompt_id", "sample"], columns="model", values="response", aggfunc="first"
    )
    assert responses.nunique(axis=1).max() > 1  # the adapters do change what the model writes


def test_second_collect_is_a_cache_hit(collected, monkeypatch) -> None:
    root, table = collected

    def no_generation(*args, **kwargs):
        raise AssertionError("generated again")

    monkeypatch.setattr(samples_store, "generate_samples", no_generation)
    again = collect_behaviour("smoke", root=root, progress=False, datasets=[DATASET])
    pd.testing.assert_frame_equal(again, table)


def test_an_interrupted_generation_leaves_no_samples(collected, tmp_path, monkeypatch) -> None:
    root = copy_store(collected[0], tmp_path)
    settings = load_settings("smoke")
    folders = sorted(root.glob("*/behaviour/*/samples.parquet"))
    victim = folders[0].parent
    shutil.rmtree(victim)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    from pluralign.models import generate

    monkeypatch.setattr(generate, "generate_responses", interrupted)
    with pytest.raises(KeyboardInterrupt):
        collect_behaviour("smoke", root=root, progress=False, datasets=[DATASET])
    assert not victim.exists()
    assert not list(root.rglob("*.tmp"))
    assert settings.settings_key in victim.parts


def test_build_folder_atomically_keeps_nothing_from_a_failed_build(tmp_path: Path) -> None:
    final = tmp_path / "behaviour" / "abc"

    def failing(folder: Path) -> None:
        (folder / samples_store.SAMPLES_FILE).write_text("partial")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        samples_store.build_folder_atomically(final, failing)
    assert not final.exists() and not list(final.parent.iterdir())


def test_missing_adapter_names_the_run_and_the_fix(collected, tmp_path, smoke_specs) -> None:
    root = copy_store(collected[0], tmp_path)
    spec = smoke_specs[0]
    folder = store.run_folder(spec, root)
    shutil.rmtree(folder / store.ADAPTER_DIR)
    # with its samples stored, a run needs no adapter
    collect_behaviour("smoke", root=root, progress=False, datasets=[DATASET])
    shutil.rmtree(folder / "behaviour")
    with pytest.raises(samples_store.MissingAdapterError) as raised:
        collect_behaviour("smoke", root=root, progress=False, datasets=[DATASET])
    message = str(raised.value)
    assert spec.label in message and spec.run_id in message
    assert "pluralign sweep --profile smoke" in message


def test_scores_follow_new_reward_models_without_resampling(
    collected, tmp_path, smoke_specs, tiny, monkeypatch
) -> None:
    """A run that appears later can bring the group's reward model (the lowest seed's DPO run's):
    every model is then rescored with it, and nothing already sampled is generated again."""
    dpo, grpo = (next(s for s in smoke_specs if s.optimiser == name) for name in ("dpo", "grpo"))
    root = tmp_path / "runs"
    make_stand_in_run(grpo, root, tiny, seed=1)
    before = collect_behaviour("smoke", root=root, progress=False, datasets=[DATASET])
    assert set(before.loc[before["kind"] == "tuned", "model"]) == {grpo.run_id}
    shutil.copytree(store.run_folder(dpo, collected[0]), store.run_folder(dpo, root))

    generated = []
    original = samples_store.generate_samples

    def counting(*args, **kwargs):
        generated.append(args[5])
        return original(*args, **kwargs)

    monkeypatch.setattr(samples_store, "generate_samples", counting)
    after = collect_behaviour("smoke", root=root, progress=False, datasets=[DATASET])
    assert generated == []  # the new run's samples came with its folder
    assert set(after.loc[after["kind"] == "tuned", "model"]) == {grpo.run_id, dpo.run_id}
    folder = store.run_folder(grpo, root) / "behaviour" / load_settings("smoke").settings_key
    scorers = json.loads((folder / "scores.json").read_text())["datasets"][DATASET]["scorers"]
    assert scorers["reward_models"]["all"]["run_id"] == dpo.run_id

    def reward(table: pd.DataFrame) -> pd.Series:
        rows = table[(table["model"] == grpo.run_id) & (table["metric"] == "reward:all")]
        return rows.set_index(["prompt_id", "sample"])["score"].sort_index()

    assert not np.allclose(reward(before), reward(after))
    toxicity = [
        t[(t["model"] == grpo.run_id) & (t["metric"] == "toxicity")] for t in (before, after)
    ]
    assert np.allclose(toxicity[0]["score"], toxicity[1]["score"])


def test_a_changed_scorer_rescores_only_its_own_rows(collected, tmp_path, monkeypatch) -> None:
    """A new version of the emotional-awareness proxy recomputes its rows alone: the toxicity
    and reward-model rows stay the stored ones (the toxicity scorer is not even called)."""
    root = tmp_path / "runs"
    shutil.copytree(collected[0], root)
    settings = load_settings("smoke")
    before = collect_behaviour("smoke", root=root, progress=False, datasets=[DATASET])
    toxicity, _ = scores_module.toxicity_scorer(
        settings.detoxify_checkpoint, settings.detoxify_model_type, settings.detoxify_config_path
    )
    ea, version = scores_module.ea_proxy()

    def refuse(*args, **kwargs):
        raise AssertionError("the unchanged toxicity scorer was called")

    monkeypatch.setattr(toxicity, "score", refuse)
    monkeypatch.setattr(scores_module, "ea_proxy", lambda: (ea, "another-version"))
    after = collect_behaviour("smoke", root=root, progress=False, datasets=[DATASET])
    columns = ["model", "prompt_id", "sample", "metric", "score"]
    pd.testing.assert_frame_equal(
        before[columns].sort_values(columns[:4]).reset_index(drop=True),
        after[columns].sort_values(columns[:4]).reset_index(drop=True),
        check_exact=True,
    )
    meta = json.loads(next(root.glob("*/behaviour/*/scores.json")).read_text())
    assert meta["datasets"][DATASET]["scorers"]["emotional_awareness"]["version"] == (
        "another-version"
    )
    assert version != "another-version"


# --------------------------------------------------------------------------------------------
# command line


def test_behaviour_command(collected) -> None:
    from typer.testing import CliRunner

    from pluralign.cli.behaviour import behaviour_app

    root, _ = collected
    result = CliRunner().invoke(
        behaviour_app, ["--profile", "smoke", "--root", str(root), "--dataset", DATASET, "--json"]
    )
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert {record["scorer"] for record in records} == {
        "minilm-sbic-offensive",
        "ea-proxy-leas-nrc",
    }


@pytest.mark.slow
def test_real_smoke_runs_end_to_end(smoke_store: Path, tmp_path: Path) -> None:
    """The smoke profile's real example runs, sampled and scored with the base model."""
    root = copy_store(smoke_store, tmp_path)
    folders = [store.find_run(spec, root) for spec in load_profile("smoke", [DATASET]).specs]
    table = collect_behaviour("smoke", root=root, progress=False, datasets=[DATASET])
    assert set(table.loc[table["kind"] == "tuned", "model"]) == {f.name for f in folders}
    assert table["score"].notna().all()
    from pluralign.behaviour.metrics import base_differences, toxicity_reductions

    differences = base_differences(table, ["toxicity", "reward:all"], n_boot=200)
    assert len(differences) == 2 * len(folders) and differences["defined"].all()
    assert len(toxicity_reductions(table, n_boot=200)) == len(folders)
