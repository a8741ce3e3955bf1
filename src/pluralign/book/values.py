"""What each book parameter's value may be, checked before anything runs or is deleted.

The parameters cell gives a type (`list[str]`, `int`); this adds the values: datasets that
exist, known sweep profiles and conditions, counts that are positive. A bad value is a
`ParameterError` naming the parameter, the value and what it may be.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pluralign.data.loaders import DATASETS
from pluralign.data.schema import DIMENSIONS
from pluralign.pairs.build import AGGREGATIONS, SCALES
from pluralign.parameters import ParameterError
from pluralign.paths import project_root

#: Counts that must be at least 1 (a resample count of 0 or -5 means nothing).
POSITIVE_COUNTS = (
    "bootstrap_samples",
    "agreement_bootstrap_samples",
    "split_halves",
    "permutations",
)


def sweep_profile_names(root: Path | None = None) -> list[str]:
    """The sweep profiles the project ships: `configs/sweeps/<name>.yml`."""
    folder = (root or project_root()) / "configs" / "sweeps"
    return sorted(path.stem for path in folder.glob("*.yml"))


def _check_members(name: str, given: list[Any], allowed: list[str]) -> None:
    unknown = [value for value in given if value not in allowed]
    if unknown:
        raise ParameterError(f"{name}: unknown value(s) {unknown!r}; allowed: {', '.join(allowed)}")


def _is_study_file(value: str, root: Path) -> bool:
    path = Path(value)
    return (path if path.is_absolute() else root / path).is_file()


def check_parameter_value(name: str, value: Any, root: Path | None = None) -> None:
    """Refuse a value its parameter cannot take (the type was already checked)."""
    root = root or project_root()
    if name in POSITIVE_COUNTS and isinstance(value, int) and value < 1:
        raise ParameterError(f"{name}: must be at least 1, got {value}")
    if name == "seed" and isinstance(value, int) and value < 0:
        raise ParameterError(f"seed: must be 0 or more, got {value}")
    if name == "datasets" and isinstance(value, list):
        if not value:
            raise ParameterError("datasets: give at least one dataset")
        unknown = [
            item for item in value if item not in DATASETS and not _is_study_file(item, root)
        ]
        if unknown:
            raise ParameterError(
                f"datasets: {unknown!r} are neither datasets ({', '.join(DATASETS)}) "
                "nor study-format files"
            )
    if name == "scales" and isinstance(value, list):
        _check_members(name, value, list(SCALES))
    if name == "aggregations" and isinstance(value, list):
        _check_members(name, value, list(AGGREGATIONS))
    if name == "values" and isinstance(value, list):
        _check_members(name, value, ["multi", *DIMENSIONS])
    if name == "sweep_profile" and isinstance(value, str):
        _check_members(name, [value], sweep_profile_names(root))
    if name == "sweep_profiles" and isinstance(value, list):
        _check_members(name, value, sweep_profile_names(root))
