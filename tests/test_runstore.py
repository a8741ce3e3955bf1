"""The run store: cache hits, misses, atomic builds, and a run killed mid-training."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from pluralign.train import spec, store
from pluralign.train.sweep import load_runs

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def dpo_spec() -> spec.RunSpec:
    """The smoke profile's example DPO run, on the fast engine (a fraction of a second a step)."""
    base = next(
        item
        for item in spec.load_profile("smoke", datasets=["example"]).specs
        if item.optimiser == "dpo"
    )
    return dataclasses.replace(base, hyper=dataclasses.replace(base.hyper, dpo_engine="fast"))


def test_a_changed_spec_is_a_miss(dpo_spec: spec.RunSpec, tmp_path: Path) -> None:
    other = dataclasses.replace(dpo_spec, seed=dpo_spec.seed + 1)
    assert other.run_id != dpo_spec.run_id
    assert store.find_run(other, tmp_path) is None


def test_a_failed_build_leaves_nothing(dpo_spec: spec.RunSpec, tmp_path: Path) -> None:
    def fail(folder: Path) -> None:
        (folder / store.LOG_FILE).write_text("step,loss\n1,0.7\n")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        store.build_atomically(dpo_spec, fail, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_stale_temporaries_of_dead_processes_are_removed(
    dpo_spec: spec.RunSpec, tmp_path: Path
) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    stale = tmp_path / f".{dpo_spec.run_id}.{dead.stdout.strip()}.abcd1234.tmp"
    stale.mkdir()
    assert store.remove_stale_temporaries(dpo_spec, tmp_path) == [stale]
    assert not stale.exists()


@pytest.mark.slow
def test_hit_is_fast_and_does_not_retrain(
    dpo_spec: spec.RunSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pluralign.train import runner

    folder = runner.run(dpo_spec, root=tmp_path)
    assert store.is_finished(folder)

    def no_training(*args, **kwargs):
        raise AssertionError("a cache hit must not train")

    monkeypatch.setattr(runner, "execute", no_training)
    started = time.perf_counter()
    assert runner.run(dpo_spec, root=tmp_path) == folder
    assert time.perf_counter() - started < 2.0
    runs, logs = load_runs(root=tmp_path)
    assert list(runs["run_id"]) == [dpo_spec.run_id]
    assert {"preference_accuracy_estimate", "moved", "group", "steps"} <= set(runs.columns)
    assert len(logs) == dpo_spec.hyper.steps


@pytest.mark.slow
def test_a_killed_run_leaves_nothing_finished(dpo_spec: spec.RunSpec, tmp_path: Path) -> None:
    from pluralign.train.runner import run

    long = dataclasses.replace(dpo_spec, hyper=dataclasses.replace(dpo_spec.hyper, steps=25))
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(long.canonical_json())
    root = tmp_path / "runs"
    script = (
        "import json, sys, torch; torch.set_num_threads(1); "
        "from pluralign.train.spec import spec_from_dict; from pluralign.train.runner import run; "
        "run(spec_from_dict(json.load(open(sys.argv[1]))), root=sys.argv[2])"
    )
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(spec_file), str(root)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            logs = list(root.glob(f".{long.run_id}.*.tmp/{store.LOG_FILE}"))
            if logs and len(pd.read_csv(logs[0])) >= 2:
                break
            assert process.poll() is None, "the run ended before it could be killed"
            time.sleep(0.2)
        else:
            pytest.fail("the run logged no steps in time")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert not (root / long.run_id).exists()
    assert store.find_run(long, root) is None
    folder = run(long, root=root)
    assert store.is_finished(folder)
    assert len(pd.read_csv(folder / store.LOG_FILE)) == 25
    assert [path.name for path in root.iterdir()] == [long.run_id]  # the stale .tmp is gone
    assert json.loads((folder / store.SPEC_FILE).read_text())["run_id"] == long.run_id
