"""The package's layout is its pipeline: no import cycles, no stage importing a stage above it, no
module over the size limit, and in-package imports at module top unless they load a heavy
library (see `tests/import_graph.py`, which also prints these figures)."""

from __future__ import annotations

import pytest

from tests.import_graph import (
    MAX_MODULE_LINES,
    STAGES,
    cycles,
    deferred_imports,
    heavy_modules,
    long_modules,
    part_edges,
    read_graph,
    stage_of,
    upward_imports,
)


@pytest.fixture(scope="module")
def graph():
    return read_graph()


def test_every_subpackage_is_a_named_stage(graph) -> None:
    parts = {name.split(".")[1] for name in graph.modules if name.count(".") >= 1}
    packages = {
        part for part in parts if any(m.startswith(f"pluralign.{part}.") for m in graph.modules)
    }
    assert packages <= set(STAGES), f"subpackages outside the pipeline: {packages - set(STAGES)}"


def test_no_import_cycle_between_modules(graph) -> None:
    assert cycles(graph.edges()) == []


def test_no_import_cycle_between_top_level_parts(graph) -> None:
    assert cycles(part_edges(graph)) == []


def test_no_module_imports_a_later_stage(graph) -> None:
    upward = [
        f"{item.importer}:{item.line} ({stage_of(item.importer)}) imports {item.imported} "
        f"({stage_of(item.imported)})"
        for item in upward_imports(graph)
    ]
    assert upward == []


def test_no_module_is_over_the_size_limit(graph) -> None:
    assert long_modules(graph) == {}, f"modules over {MAX_MODULE_LINES} lines"


def test_in_package_imports_are_at_module_top_unless_heavy(graph) -> None:
    deferred = [
        f"{item.importer}:{item.line} -> {item.imported}" for item in deferred_imports(graph)
    ]
    assert deferred == []


def test_the_rules_catch_what_they_forbid(tmp_path) -> None:
    """A planted cycle, an upward import, a needless deferred import and a long module are seen."""
    package = tmp_path / "pluralign"
    (package / "data").mkdir(parents=True)
    (package / "train").mkdir()
    for folder in (package, package / "data", package / "train"):
        (folder / "__init__.py").write_text("")
    (package / "data" / "a.py").write_text("from pluralign.train import b\n")
    (package / "train" / "b.py").write_text(
        "import torch\nfrom pluralign.data import a\n\ndef f():\n    from pluralign.data import c\n"
    )
    (package / "data" / "c.py").write_text("x = 1\n" * (MAX_MODULE_LINES + 1))
    planted = read_graph(package)
    assert cycles(planted.edges()) == [["pluralign.data.a", "pluralign.train.b"]]
    assert [item.imported for item in upward_imports(planted)] == ["pluralign.train.b"]
    assert [item.imported for item in deferred_imports(planted)] == ["pluralign.data.c"]
    assert "pluralign.train.b" in heavy_modules(planted)
    assert long_modules(planted) == {"pluralign.data.c": MAX_MODULE_LINES + 1}
