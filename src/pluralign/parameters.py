"""Chapter parameters: read a notebook's parameters cell, and check values against it.

A parameters cell holds only annotated literal assignments with a comment, e.g.
`datasets: list[str] = ["popquorn"]  # which ratings to describe`. The CLI checks every value
before it runs anything; each chapter checks again in its first cell (papermill itself only warns
about unknown names), so a chapter run directly with papermill fails with the same message.
"""

from __future__ import annotations

import ast
import contextlib
import io
import tokenize
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import nbformat
import yaml

ANNOTATION_NAMES = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "list": list,
    "dict": dict,
}
PAPERMILL_INJECTED_HEADER = "# Parameters"


class ParameterError(ValueError):
    """A parameter is unknown or has the wrong type; the message lists the valid parameters."""


@dataclass(frozen=True)
class Parameter:
    """One entry of a parameters cell: name, type annotation (as written), default and comment."""

    name: str
    annotation: str
    default: Any
    comment: str

    def describe(self) -> str:
        return f"{self.name}: {self.annotation} = {self.default!r}  # {self.comment}"


def parameters_cell(notebook: nbformat.NotebookNode) -> str:
    """The source of the cell tagged `parameters` (there must be exactly one)."""
    cells = [
        cell
        for cell in notebook.cells
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", [])
    ]
    if len(cells) != 1:
        raise ParameterError(f"expected one cell tagged 'parameters', found {len(cells)}")
    return cells[0].source


def parse_parameters_cell(source: str) -> dict[str, Parameter]:
    """Parse a literal-only parameters cell; anything else in it is an error."""
    tree = ast.parse(source)
    comments = {
        token.start[0]: token.string.lstrip("#").strip()
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    }
    parameters: dict[str, Parameter] = {}
    for node in tree.body:
        if not (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.value is not None
        ):
            raise ParameterError(
                f"line {node.lineno}: a parameters cell holds only "
                "`name: type = literal  # comment` lines"
            )
        try:
            default = ast.literal_eval(node.value)
        except ValueError:
            raise ParameterError(
                f"line {node.lineno}: the default of {node.target.id!r} is not a literal"
            ) from None
        annotation = ast.unparse(node.annotation)
        parse_annotation(annotation)
        comment = comments.get(node.end_lineno or node.lineno, "")
        if not comment:
            raise ParameterError(f"line {node.lineno}: {node.target.id!r} needs a comment")
        parameters[node.target.id] = Parameter(node.target.id, annotation, default, comment)
        check_value(node.target.id, annotation, default)
    return parameters


def notebook_parameters(path: Path) -> dict[str, Parameter]:
    return parse_parameters_cell(parameters_cell(nbformat.read(path, as_version=4)))


def parse_annotation(annotation: str) -> Any:
    """Evaluate an annotation built from str, int, float, bool, list, dict, None and `|`."""
    try:
        return eval(annotation, {"__builtins__": {}}, {**ANNOTATION_NAMES, "None": None})
    except Exception as error:
        raise ParameterError(f"unsupported parameter annotation {annotation!r}: {error}") from None


def matches(value: Any, expected: Any) -> bool:
    """Whether `value` is an instance of the (possibly generic) type `expected`."""
    if expected is None or expected is type(None):
        return value is None
    origin = get_origin(expected)
    if origin in (Union, types.UnionType):
        return any(matches(value, option) for option in get_args(expected))
    if origin is list:
        (item,) = get_args(expected) or (Any,)
        return isinstance(value, list) and all(item is Any or matches(v, item) for v in value)
    if origin is dict:
        key, item = get_args(expected) or (Any, Any)
        return isinstance(value, dict) and all(
            (key is Any or matches(k, key)) and (item is Any or matches(v, item))
            for k, v in value.items()
        )
    if expected is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def check_value(name: str, annotation: str | Any, value: Any) -> None:
    expected = parse_annotation(annotation) if isinstance(annotation, str) else annotation
    if not matches(value, expected):
        written = annotation if isinstance(annotation, str) else _type_name(annotation)
        raise ParameterError(
            f"parameter {name!r} must be {written}, got {type(value).__name__} {value!r}"
        )


def parse_cli_value(annotation: str, text: str) -> Any:
    """A `-p NAME VALUE` string as the parameter's type: YAML, except that `str` stays text."""
    if parse_annotation(annotation) is str:
        return text
    return yaml.safe_load(text)


def _type_name(annotation: Any) -> str:
    """`int` for a class, `list[str]` for a generic alias, as written in a parameters cell."""
    return annotation.__name__ if isinstance(annotation, type) else str(annotation)


def _as_type(annotation: str | Any) -> Any:
    return parse_annotation(annotation) if isinstance(annotation, str) else annotation


def _injected_names(history: list[str]) -> list[str]:
    """Names assigned in the cell papermill injects (it starts with `# Parameters`)."""
    for source in reversed(history):
        if source.lstrip().startswith(PAPERMILL_INJECTED_HEADER):
            tree = ast.parse(source)
            return [
                target.id
                for node in tree.body
                if isinstance(node, ast.Assign)
                for target in node.targets
                if isinstance(target, ast.Name)
            ]
    return []


def check_parameters(namespace: dict[str, Any]) -> None:
    """Check a running chapter's parameters: types against the cell's annotations, and no
    unknown names in papermill's injected cell. Call it first thing after the parameters cell.

    `papermill -p NAME VALUE` passes lists and dicts as text, so a string given for a non-string
    parameter is read as YAML (as `pluralign book -p` does) and written back before the check.
    """
    annotations = namespace.get("__annotations__", {})
    valid = "; ".join(
        f"{name}: {annotation if isinstance(annotation, str) else _type_name(annotation)}"
        for name, annotation in annotations.items()
    )
    unknown = [name for name in _injected_names(namespace.get("In", [])) if name not in annotations]
    problems = [f"unknown parameter {name!r}" for name in unknown]
    for name, annotation in annotations.items():
        value = namespace.get(name)
        if isinstance(value, str) and not matches(value, _as_type(annotation)):
            with contextlib.suppress(yaml.YAMLError):
                namespace[name] = value = yaml.safe_load(value)
        try:
            check_value(name, annotation, value)
        except ParameterError as error:
            problems.append(str(error))
    if problems:
        raise ParameterError("; ".join(problems) + f". Valid parameters: {valid}")
