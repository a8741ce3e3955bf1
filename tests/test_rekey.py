"""Re-keying the run store (`pluralign rekey`): a run stored under another code version takes the
current one, its folder the new id, and every mention of the old id in the store follows."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from pluralign.cli import app
from pluralign.train import store
from pluralign.train.rekey import plan_rekey, rekey_store
from pluralign.train.spec import code_version, load_profile


def stored_run(root: Path, spec) -> Path:
    """A finished run folder of `spec` with behaviour samples and a scores description that
    name its id (as the real store does)."""

    def build(folder: Path) -> None:
        store.write_json(folder / store.METRICS_FILE, {"run_id": spec.run_id, "accuracy": 0.6})
        store.write_json(
            folder / store.PROVENANCE_FILE,
            {"run_id": spec.run_id, "code_version": spec.code_version},
        )
        behaviour = folder / "behaviour" / "settings"
        behaviour.mkdir(parents=True)
        pd.DataFrame({"model": [spec.run_id] * 2, "score": [0.1, 0.2]}).to_parquet(
            behaviour / "samples.parquet", index=False
        )
        scorers = {"reward_models": {"all": {"run_id": spec.run_id}}}
        store.write_json(
            behaviour / "scores.json", {"datasets": {"example": {"key": "x", "scorers": scorers}}}
        )

    return store.build_atomically(spec, build, root)


def test_a_run_of_another_code_version_is_moved_and_renamed(tmp_path: Path) -> None:
    current = load_profile("smoke", datasets=["example"]).specs[0]
    old = dataclasses.replace(current, code_version="0" * 64)
    stored_run(tmp_path, old)
    assert [spec.run_id for _, spec in plan_rekey(tmp_path)] == [current.run_id]

    moved = rekey_store(tmp_path)

    assert [(item.old_id, item.new_id) for item in moved] == [(old.run_id, current.run_id)]
    folder = tmp_path / current.run_id
    assert not (tmp_path / old.run_id).exists() and store.is_finished(folder)
    assert store.read_spec(folder).canonical_json() == current.canonical_json()
    assert store.find_run(current, tmp_path) == folder
    provenance = json.loads((folder / store.PROVENANCE_FILE).read_text())
    assert provenance["code_version"] == "0" * 64  # the code it was trained with
    assert provenance["rekeyed"][0]["from_run_id"] == old.run_id
    assert provenance["rekeyed"][0]["to_code_version"] == code_version()
    samples = pd.read_parquet(folder / "behaviour" / "settings" / "samples.parquet")
    assert set(samples["model"]) == {current.run_id}
    assert old.run_id not in (folder / store.METRICS_FILE).read_text()
    scores = json.loads((folder / "behaviour" / "settings" / "scores.json").read_text())
    assert scores["datasets"]["example"]["key"] != "x"  # recomputed from the new description
    assert rekey_store(tmp_path) == []  # nothing left to move


def test_rekey_command_lists_and_moves(tmp_path: Path) -> None:
    current = load_profile("smoke", datasets=["example"]).specs[0]
    old = dataclasses.replace(current, code_version="1" * 64)
    stored_run(tmp_path, old)
    dry = CliRunner().invoke(app, ["rekey", "--root", str(tmp_path), "--dry-run"])
    assert dry.exit_code == 0 and f"{old.run_id} -> {current.run_id}" in dry.output
    assert (tmp_path / old.run_id).is_dir()
    result = CliRunner().invoke(app, ["rekey", "--root", str(tmp_path)])
    assert result.exit_code == 0 and "1 runs re-keyed" in result.output
    assert (tmp_path / current.run_id).is_dir()


def test_the_code_version_covers_what_shapes_a_run_and_nothing_else() -> None:
    from pluralign.train.spec import code_files

    names = {f"{path.parent.name}/{path.name}" for path in code_files()}
    assert {"train/dpo.py", "train/heldout.py", "pairs/build.py", "stats/intervals.py"} <= names
    assert not names & {"train/spec.py", "train/store.py", "train/sweep.py", "train/report.py"}
    assert not names & {"train/rekey.py", "cli/train.py"}
