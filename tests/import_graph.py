"""The package's import graph, read from its source with `ast` (nothing is imported).

Used by `tests/test_architecture.py`; run it to print the figures the architecture rules speak of:

    python tests/import_graph.py [src/pluralign]

It prints the number of in-package imports and how many sit inside functions, the import cycles
between modules (strongly connected groups), the imports that run up the pipeline, and the
modules over the size limit.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "src" / "pluralign"

#: The pipeline, bottom to top: a module may import only its own stage and the stages before it.
#: `base` is the package's top-level helpers (paths, files, config, labels, style, parameters,
#: provenance), which every stage may use.
STAGES = (
    "base",
    "data",
    "stats",
    "gaps",
    "models",
    "scorers",
    "pairs",
    "train",
    "behaviour",
    "claims",
    "book",
    "bench",
    "cli",
)
#: Third-party libraries slow enough to import that an in-package import of a module that loads
#: them may be deferred into the function that needs it (so `pluralign --help`, the chapters'
#: statistics and the claims ledger do not load torch).
HEAVY_LIBRARIES = frozenset(
    {"torch", "transformers", "trl", "peft", "datasets", "sentence_transformers", "detoxify"}
)
MAX_MODULE_LINES = 600


@dataclass
class Import:
    """One in-package import: who imports what, on which line, and whether at module top."""

    importer: str
    imported: str
    line: int
    at_top: bool


@dataclass
class Graph:
    """Modules (dotted name → file), their in-package imports and their top-level heavy imports."""

    modules: dict[str, Path]
    imports: list[Import]
    heavy_at_top: set[str] = field(default_factory=set)

    def edges(self) -> dict[str, set[str]]:
        result: dict[str, set[str]] = defaultdict(set)
        for item in self.imports:
            result[item.importer].add(item.imported)
        return result


def module_name(path: Path, package_dir: Path) -> str:
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def stage_of(module: str) -> str:
    """The pipeline stage of a module: its subpackage, or `base` for top-level modules."""
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in STAGES:
        return parts[1]
    return "base"


def _targets(node: ast.AST, importer: str, is_package: bool, modules: dict[str, Path]) -> list[str]:
    """The in-package modules an import statement names (a `from X import y` of a submodule
    counts as importing the submodule)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in modules]
    assert isinstance(node, ast.ImportFrom)
    base = node.module or ""
    if node.level:
        anchor = importer.split(".")
        anchor = anchor if is_package else anchor[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    found = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules]
    if not found and base in modules:
        found = [base]
    return found


def read_graph(package_dir: Path = PACKAGE_DIR) -> Graph:
    modules = {module_name(path, package_dir): path for path in sorted(package_dir.rglob("*.py"))}
    graph = Graph(modules, [])
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            at_top = id(node) in top_level
            roots = (
                [alias.name.split(".")[0] for alias in node.names]
                if isinstance(node, ast.Import)
                else [(node.module or "").split(".")[0]]
                if not node.level
                else []
            )
            if at_top and HEAVY_LIBRARIES.intersection(roots):
                graph.heavy_at_top.add(name)
            for target in _targets(node, name, path.name == "__init__.py", modules):
                if target != name:
                    graph.imports.append(Import(name, target, node.lineno, at_top))
    return graph


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0
    nodes = set(edges) | {target for targets in edges.values() for target in targets}

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(nodes) + 100))
    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return groups


def part_edges(graph: Graph) -> dict[str, set[str]]:
    """Imports between the package's top-level parts (subpackages and top-level modules)."""
    result: dict[str, set[str]] = defaultdict(set)
    for item in graph.imports:
        importer, imported = (
            ".".join(name.split(".")[:2]) for name in (item.importer, item.imported)
        )
        if importer != imported:
            result[importer].add(imported)
    return result


def upward_imports(graph: Graph) -> list[Import]:
    """Imports of a stage above the importer's own."""
    rank = {stage: position for position, stage in enumerate(STAGES)}
    return [
        item
        for item in graph.imports
        if rank[stage_of(item.imported)] > rank[stage_of(item.importer)]
    ]


def heavy_modules(graph: Graph) -> set[str]:
    """Modules whose import loads a heavy library (directly or through in-package top imports)."""
    heavy = set(graph.heavy_at_top)
    top_edges = defaultdict(set)
    for item in graph.imports:
        if item.at_top:
            top_edges[item.importer].add(item.imported)
    changed = True
    while changed:
        changed = False
        for module, targets in top_edges.items():
            if module not in heavy and targets & heavy:
                heavy.add(module)
                changed = True
    return heavy


def deferred_imports(graph: Graph) -> list[Import]:
    """In-package imports inside functions whose target is not heavy (nothing justifies them)."""
    heavy = heavy_modules(graph)
    return [item for item in graph.imports if not item.at_top and item.imported not in heavy]


def long_modules(graph: Graph) -> dict[str, int]:
    lengths = {name: len(path.read_text().splitlines()) for name, path in graph.modules.items()}
    return {name: count for name, count in lengths.items() if count > MAX_MODULE_LINES}


def main(argv: list[str]) -> int:
    graph = read_graph(Path(argv[0]).resolve() if argv else PACKAGE_DIR)
    inside = [item for item in graph.imports if not item.at_top]
    module_cycles = cycles(graph.edges())
    print(f"in-package imports: {len(graph.imports)}, inside functions: {len(inside)}")
    print(f"  of which not of a heavy module: {len(deferred_imports(graph))}")
    print(f"module cycles: {len(module_cycles)}")
    for group in module_cycles:
        print("  " + " <-> ".join(group))
    print(f"cycles between top-level parts: {len(cycles(part_edges(graph)))}")
    upward = upward_imports(graph)
    print(f"imports up the pipeline: {len(upward)}")
    for item in upward:
        print(f"  {item.importer}:{item.line} -> {item.imported}")
    long = long_modules(graph)
    print(f"modules over {MAX_MODULE_LINES} lines: {len(long)}")
    for name, count in sorted(long.items()):
        print(f"  {name}: {count}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
