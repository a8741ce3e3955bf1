"""The run store: `results/runs/<run-id>/`, written atomically, read back as tidy tables.

A run folder holds `spec.json`, `training_log.csv`, `metrics.json`, `provenance.json`, the
held-out scores (`eval_pairs.parquet`, `eval_responses.parquet`), the training pairs' ids
(`train_pairs.parquet`), the group's reward model (`reward_model/`) and the LoRA adapter
(`adapter/`, git-ignored). It is built in a temporary sibling (`.<run-id>.<pid>.<random>.tmp`,
ignored by git) and renamed into place when complete, so a run killed mid-training leaves no
`<run-id>/` folder and the next call redoes it; a finished folder whose spec matches is a cache
hit. Stale temporary folders of dead processes are removed on the next build of the same run.
A redo (`replace`) builds the new folder beside the finished one and swaps them only when it is
complete: an interrupted redo leaves the old run in place.

Two runs of the same spec on one machine give byte-identical files except their timing values
(`VOLATILE_KEYS`: any key or log column naming seconds, `started`, `finished`, the load
average); `stable_content` reads a folder without them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pluralign import files
from pluralign.paths import project_root
from pluralign.train.spec import RunSpec, spec_from_dict

SPEC_FILE = "spec.json"
METRICS_FILE = "metrics.json"
PROVENANCE_FILE = "provenance.json"
LOG_FILE = "training_log.csv"
ADAPTER_DIR = "adapter"
REWARD_MODEL_DIR = "reward_model"
#: Written last: a folder without it is not a finished run.
FINISHED_FILES = (SPEC_FILE, METRICS_FILE, PROVENANCE_FILE)
#: The only values that differ between two runs of one spec on one machine: wall-clock timing
#: (any JSON key or log column naming seconds), when the run started and finished, and the
#: machine's load. (`git` and the rest of `hardware` describe the host: equal on one machine.)
VOLATILE_KEYS = ("started", "finished", "load_average")
VOLATILE_KEY_PART = "seconds"


def is_volatile(key: str) -> bool:
    """Whether a JSON key or a log column holds a timing value (see `VOLATILE_KEYS`)."""
    return key in VOLATILE_KEYS or VOLATILE_KEY_PART in key


def _without_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_volatile(v) for k, v in value.items() if not is_volatile(str(k))}
    if isinstance(value, list):
        return [_without_volatile(item) for item in value]
    return value


def stable_content(folder: Path) -> dict[str, Any]:
    """Every file of a run folder with its timing values removed: two runs of one spec on one
    machine give equal results (JSON without volatile keys, the log without its seconds column,
    every other file as bytes)."""
    content: dict[str, Any] = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        name = str(path.relative_to(folder))
        if path.suffix == ".json":
            content[name] = _without_volatile(json.loads(path.read_text()))
        elif path.name == LOG_FILE:
            lines = path.read_text().splitlines()
            header = lines[0].split(",") if lines else []
            keep = [i for i, column in enumerate(header) if not is_volatile(column)]
            content[name] = [[line.split(",")[i] for i in keep] for line in lines]
        else:
            content[name] = path.read_bytes()
    return content


#: Written by PEFT with `target_modules` from a set (its order varies between processes).
ADAPTER_CONFIG = "adapter_config.json"


def runs_root(root: Path | None = None) -> Path:
    """Where runs live: `root`, else `PLURALIGN_RUNS_DIR`, else `<project>/results/runs`."""
    if root is not None:
        return Path(root)
    if env := os.environ.get("PLURALIGN_RUNS_DIR"):
        return Path(env)
    return project_root() / "results" / "runs"


def run_folder(spec: RunSpec, root: Path | None = None) -> Path:
    return runs_root(root) / spec.run_id


def is_finished(folder: Path) -> bool:
    """A complete run folder (every file written last is there)."""
    return folder.is_dir() and all((folder / name).is_file() for name in FINISHED_FILES)


def read_spec(folder: Path) -> RunSpec:
    data = json.loads((folder / SPEC_FILE).read_text())
    data.pop("run_id", None)
    data.pop("label", None)
    return spec_from_dict(data)


def find_run(spec: RunSpec, root: Path | None = None) -> Path | None:
    """The finished folder of `spec`, or None (a folder whose spec differs is not a hit).

    A redo cut off between its two renames (systems without an atomic swap) is undone first.
    """
    folder = run_folder(spec, root)
    files.recover_replaced(folder, is_finished)
    if not is_finished(folder):
        return None
    if read_spec(folder).canonical_json() != spec.canonical_json():
        raise RuntimeError(f"{folder} holds a different spec under the same id")
    return folder


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def spec_record(spec: RunSpec) -> dict[str, Any]:
    """What `spec.json` holds: the spec, its id and its label."""
    return spec.to_dict() | {"run_id": spec.run_id, "label": spec.label}


def remove_stale_temporaries(spec: RunSpec, root: Path | None = None) -> list[Path]:
    """Delete temporary folders of this run left by processes that no longer exist."""
    return files.remove_stale_temporaries(run_folder(spec, root))


def canonical_adapter_config(adapter: Path) -> None:
    """Rewrite PEFT's `adapter_config.json` with sorted keys and `target_modules` sorted, so
    two runs of one spec give the same bytes (PEFT writes the modules from a set)."""
    path = adapter / ADAPTER_CONFIG
    if not path.is_file():
        return
    config = json.loads(path.read_text())
    if isinstance(config.get("target_modules"), list):
        config["target_modules"] = sorted(config["target_modules"])
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def build_atomically(
    spec: RunSpec,
    build: Callable[[Path], None],
    root: Path | None = None,
    replace: bool = False,
) -> Path:
    """Run `build(tmp)` in a fresh temporary sibling of the run folder, then rename it into place.

    `build` must write every file of the run; the spec is written first and the finished files
    are checked before the rename. If `build` raises, the temporary folder is removed and no run
    folder appears. If another process finished the same run meanwhile, its folder is kept.
    With `replace` (a redo), a finished run folder is swapped for the new one only once the new
    one is complete.
    """
    final = run_folder(spec, root)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(spec, root)

    def build_run(tmp: Path) -> None:
        write_json(tmp / SPEC_FILE, spec_record(spec))
        build(tmp)
        canonical_adapter_config(tmp / ADAPTER_DIR)
        missing = [name for name in FINISHED_FILES if not (tmp / name).is_file()]
        if missing:
            raise RuntimeError(f"run build did not write {missing}")

    return files.build_folder_atomically(final, build_run, is_finished, replace=replace)
