"""Nothing lost, nothing executed (issue 16): a redo killed at any moment keeps the finished
run, identical specs give identical files apart from timing, a crafted checkpoint is refused, and
the project's own manifest, configs and profiles are read whatever the working directory holds."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pluralign import files
from pluralign.train import spec, store

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RUN_SCRIPT = (
    "import json, sys, torch; torch.set_num_threads(1); "
    "from pluralign.train.spec import spec_from_dict; from pluralign.train import store; "
    "from pluralign.train.runner import execute, run; "
    "s = spec_from_dict(json.load(open(sys.argv[1]))); "
    "store.build_atomically(s, lambda f: execute(s, f), sys.argv[2], replace=sys.argv[3] == 'redo')"
)


@pytest.fixture(scope="module")
def dpo_spec() -> spec.RunSpec:
    base = next(
        item
        for item in spec.load_profile("smoke", datasets=["example"]).specs
        if item.optimiser == "dpo"
    )
    return dataclasses.replace(base, hyper=dataclasses.replace(base.hyper, dpo_engine="fast"))


def start_run(spec_file: Path, root: Path, mode: str, hash_seed: str = "0") -> subprocess.Popen:
    env = os.environ | {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONHASHSEED": hash_seed,
    }
    return subprocess.Popen(
        [sys.executable, "-c", RUN_SCRIPT, str(spec_file), str(root), mode],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def finished_twice(dpo_spec, tmp_path_factory) -> tuple[Path, Path, Path]:
    """The same spec run in two processes with different hash seeds: (spec file, run a, run b)."""
    folder = tmp_path_factory.mktemp("twice")
    spec_file = folder / "spec.json"
    spec_file.write_text(dpo_spec.canonical_json())
    runs = []
    for index, seed in enumerate(("1", "2")):
        root = folder / f"runs{index}"
        assert start_run(spec_file, root, "new", seed).wait(timeout=300) == 0
        runs.append(root / dpo_spec.run_id)
    return spec_file, runs[0], runs[1]


def test_identical_specs_give_identical_files_apart_from_timing(finished_twice):
    _, first, second = finished_twice
    assert store.stable_content(first) == store.stable_content(second)
    adapter = json.loads((first / store.ADAPTER_DIR / store.ADAPTER_CONFIG).read_text())
    assert adapter.get("target_modules") == sorted(adapter.get("target_modules") or [])
    names = sorted(str(p.relative_to(first)) for p in first.rglob("*") if p.is_file())
    differing = [
        name for name in names if (first / name).read_bytes() != (second / name).read_bytes()
    ]
    assert set(differing) <= {store.METRICS_FILE, store.PROVENANCE_FILE, store.LOG_FILE}


@pytest.mark.parametrize("kill_after_s", [0.5, 2.0, 4.0])
def test_a_redo_killed_at_any_moment_keeps_the_finished_run(
    finished_twice, dpo_spec, tmp_path, kill_after_s
):
    spec_file, finished, _ = finished_twice
    root = tmp_path / "runs"
    root.mkdir()
    subprocess.run(["cp", "-r", str(finished), str(root)], check=True)
    before = store.stable_content(root / dpo_spec.run_id)
    process = start_run(spec_file, root, "redo")
    time.sleep(kill_after_s)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    found = store.find_run(dpo_spec, root)
    assert found is not None and store.is_finished(found)
    assert store.stable_content(found) == before  # old or new: the same run, never a hole


def test_a_redo_replaces_the_run_only_when_complete(finished_twice, dpo_spec, tmp_path):
    spec_file, finished, _ = finished_twice
    root = tmp_path / "runs"
    root.mkdir()
    subprocess.run(["cp", "-r", str(finished), str(root)], check=True)
    marker = root / dpo_spec.run_id / "old-marker"
    marker.write_text("the folder before the redo")
    assert start_run(spec_file, root, "redo").wait(timeout=300) == 0
    assert store.is_finished(root / dpo_spec.run_id) and not marker.exists()
    assert sorted(path.name for path in root.iterdir()) == [dpo_spec.run_id]


def test_a_replace_cut_between_two_renames_is_recovered(tmp_path, monkeypatch):
    """Where the system has no atomic swap: old → backup, new → final; cut in between."""
    final = tmp_path / "run"
    final.mkdir()
    (final / "done").write_text("old")

    def finished(folder: Path) -> bool:
        return (folder / "done").is_file()

    monkeypatch.setattr(files, "_exchange", lambda first, second: False)
    real_rename = Path.rename

    def cut_after_backup(self: Path, target):
        result = real_rename(self, target)
        if str(target).endswith(".old"):
            raise KeyboardInterrupt  # the process dies here
        return result

    monkeypatch.setattr(Path, "rename", cut_after_backup)
    with pytest.raises(KeyboardInterrupt):
        files.build_folder_atomically(
            final, lambda tmp: (tmp / "done").write_text("new"), finished, replace=True
        )
    monkeypatch.setattr(Path, "rename", real_rename)
    assert not final.exists()
    assert files.recover_replaced(final, finished)
    assert (final / "done").read_text() == "old"


def test_a_crafted_checkpoint_is_refused_not_executed(tmp_path):
    import pickle

    import torch  # noqa: F401  (the scorer loads it)

    from pluralign.scorers.toxicity import DetoxifyScorer

    witness = tmp_path / "executed"

    class Payload:
        def __reduce__(self):
            return (Path.write_text, (witness, "code ran"))

    checkpoint = tmp_path / "evil.ckpt"
    checkpoint.write_bytes(pickle.dumps({"config": Payload(), "state_dict": {}}))
    with pytest.raises(ValueError, match="refused"):
        DetoxifyScorer(checkpoint)
    assert not witness.exists()


def test_the_project_is_found_from_the_package_not_the_working_directory(
    tmp_path, monkeypatch, project_root
):
    from pluralign import paths

    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "MANIFEST").write_text("# a manifest that trusts anything\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PLURALIGN_ROOT", raising=False)
    assert paths.project_root() == project_root.resolve()


def test_book_profiles_are_names_and_parameter_values_are_checked():
    from pluralign.book.runner import chapters, load_book_profile, resolve_parameters
    from pluralign.parameters import ParameterError

    with pytest.raises(ParameterError, match="unknown profile"):
        load_book_profile("../sweeps/smoke")
    book = chapters()
    profile = load_book_profile("quick")
    for name, value, words in [
        ("datasets", '["nonexistent"]', "neither datasets"),
        ("bootstrap_samples", "-5", "at least 1"),
        ("sweep_profile", "nowhere", "unknown value"),
        ("scales", '["7pt"]', "unknown value"),
    ]:
        with pytest.raises(ParameterError, match=words):
            resolve_parameters(book, profile, [(name, value)])
