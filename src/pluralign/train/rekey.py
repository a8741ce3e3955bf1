"""Re-keying the run store after a change that moves the training code without changing what it
computes (`pluralign rekey`).

A run's id hashes its spec, and the spec holds the training code's version (a hash of its
source files), so moving code renames every run. When such a move is shown to change no result
(retrained runs bit-identical to the stored ones), the stored runs are re-keyed instead of
retrained: each finished run whose spec names another code version gets the current one, its
folder takes the new id, and every mention of the old id in the store (samples, scores, the
reward models other runs' scores name) is rewritten. Each run's provenance keeps the code version
it was trained with and gains a `rekeyed` record, so nothing pretends to have been retrained.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pluralign.train import store
from pluralign.train.spec import RunSpec, code_version

RUN_ID_PATTERN = re.compile(r"\b[0-9a-f]{16}\b")
#: The behaviour scores' description file and its key (see `pluralign.behaviour.scores`).
SCORES_META = "scores.json"
KEY_LENGTH = 12


@dataclass(frozen=True)
class Rekeyed:
    """One run moved from its old id to the id of its spec at the current code version."""

    old_id: str
    new_id: str
    label: str


def _run_folders(root: Path) -> list[Path]:
    folders = (p for p in root.iterdir() if not p.name.startswith((".", "base-")))
    return sorted(folder for folder in folders if store.is_finished(folder))


def plan_rekey(root: Path | None = None, version: str | None = None) -> list[tuple[Path, RunSpec]]:
    """Each finished run whose spec is not at `version` (default: the current code's), with the
    spec it gets; an error if a new id would collide with another folder."""
    root = store.runs_root(root)
    version = version or code_version()
    plan = []
    for folder in _run_folders(root):
        old = store.read_spec(folder)
        if old.code_version == version:
            continue
        new = dataclasses.replace(old, code_version=version)
        if (root / new.run_id).exists():
            raise FileExistsError(f"{root / new.run_id} exists: cannot re-key {folder.name}")
        plan.append((folder, new))
    return plan


def _replace_ids(text: str, ids: dict[str, str]) -> str:
    return RUN_ID_PATTERN.sub(lambda match: ids.get(match.group(0), match.group(0)), text)


def _rekey_scores_meta(data: dict) -> dict:
    """Recompute each dataset's scorer key from its (rewritten) scorer description, so scores
    whose scorers did not change stay current."""
    for entry in data.get("datasets", {}).values():
        if "scorers" in entry:
            text = json.dumps(entry["scorers"], sort_keys=True)
            entry["key"] = hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]
    return data


def _rewrite_file(path: Path, ids: dict[str, str]) -> None:
    if path.suffix == ".parquet":
        table = pd.read_parquet(path)
        changed = False
        for column in table.columns:
            if table[column].dtype == object or pd.api.types.is_string_dtype(table[column]):
                values = table[column].astype(object)
                renamed = values.map(lambda v: _replace_ids(v, ids) if isinstance(v, str) else v)
                if not renamed.equals(values):
                    table[column] = renamed.astype(table[column].dtype)
                    changed = True
        if changed:
            table.to_parquet(path, index=False)
    elif path.suffix in (".json", ".csv"):
        text = path.read_text()
        new = _replace_ids(text, ids)
        if path.name == SCORES_META:
            new = json.dumps(_rekey_scores_meta(json.loads(new)), indent=2, sort_keys=True) + "\n"
        if new != text:
            path.write_text(new)


def rekey_store(root: Path | None = None, version: str | None = None) -> list[Rekeyed]:
    """Re-key every finished run of the store to the current code version (see the module
    docstring). Each folder is rewritten in a temporary copy and renamed into place, then the old
    folder is removed; run it again after an interruption."""
    root = store.runs_root(root)
    plan = plan_rekey(root, version)
    ids = {folder.name: spec.run_id for folder, spec in plan}
    stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    # Other folders (runs already current, the base model's samples) may name re-keyed runs.
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if folder.name in ids:
            continue
        for path in folder.rglob("*"):
            if path.is_file():
                _rewrite_file(path, ids)
    done = []
    for folder, spec in plan:
        tmp = root / f".{spec.run_id}.rekey.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(folder, tmp)
        for path in tmp.rglob("*"):
            if path.is_file() and path.name not in (store.SPEC_FILE, store.PROVENANCE_FILE):
                _rewrite_file(path, ids)
        store.write_json(tmp / store.SPEC_FILE, store.spec_record(spec))
        provenance = json.loads((tmp / store.PROVENANCE_FILE).read_text())
        provenance["run_id"] = spec.run_id
        provenance.setdefault("rekeyed", []).append(
            {
                "from_run_id": folder.name,
                "from_code_version": store.read_spec(folder).code_version,
                "to_code_version": spec.code_version,
                "at": stamp,
            }
        )
        store.write_json(tmp / store.PROVENANCE_FILE, provenance)
        tmp.rename(root / spec.run_id)
        shutil.rmtree(folder)
        done.append(Rekeyed(folder.name, spec.run_id, spec.label))
    return done
