"""One typed loader for the project's YAML configs: a file becomes validated frozen dataclasses.

A config's shape is a dataclass (the *schema*); `load_config(path, Schema)` walks PyYAML's node
tree (`yaml.compose`), maps each mapping onto the dataclass's fields by their type hints, and
reports an unknown key, a missing required key or a value of the wrong type as a `ConfigError`
naming the file and line, e.g.::

    configs/sweeps/quick.yml:14: unknown key 'colour' in hyper; allowed: batch_size, ...

It is hand-written because no validation library is a dependency (requirements.txt pins PyYAML
but not pydantic), and the few rules the configs need fit in a page:

- `str`, `int`, `bool`: exactly that YAML type (`true` is not an int); `float`: a float or an int.
- `X | None`: `null` or an X. `null` for any other field that has a default means the default.
- `tuple[X, ...]`, `list[X]`: a YAML list; a single value is read as a list of one.
- `dict[str, X]`: a mapping with string keys; `Any`: whatever YAML gives (plain Python objects).
- a dataclass: a mapping of its fields; fields without a default are required.
- `Overrides[D]`: some of dataclass D's fields (each checked as above), for configs whose blocks
  are layered (a profile-wide block, then a block's own) before D is built from the merge.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pluralign.paths import project_root

T = TypeVar("T")

NULL_TAG = "tag:yaml.org,2002:null"
STR_TAG = "tag:yaml.org,2002:str"
MERGE_TAG = "tag:yaml.org,2002:merge"


class ConfigError(ValueError):
    """A config that does not fit its schema; `path` and `line` (1-based) locate the offence."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.path = path
        self.line = line
        place = ":".join(str(part) for part in (path, line) if part is not None)
        super().__init__(f"{place}: {message}" if place else message)


class Overrides(dict[str, Any], Generic[T]):
    """Some of a dataclass's fields, validated, keyed by name (the fields not given are absent)."""


def load_config(path: str | Path, schema: type[T]) -> T:
    """Read the YAML file at `path` into an instance of the dataclass `schema` (or raise
    `ConfigError` with the file and line of the first key or value that does not fit)."""
    path = Path(path)
    try:
        node = yaml.compose(path.read_text())
    except yaml.MarkedYAMLError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else None
        raise ConfigError(f"not valid YAML: {error.problem}", _shown(path), line) from None
    return _Reader(_shown(path)).read(node, schema, "")


def _shown(path: Path) -> str:
    """`path` relative to the project root when it lies inside it (shorter messages)."""
    try:
        return str(path.resolve().relative_to(project_root()))
    except (ValueError, FileNotFoundError):
        return str(path)


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    kind = node.tag.rsplit(":", 1)[-1]
    return f"{kind} {node.value!r}"


def _place(where: str) -> str:
    return where or "the top level"


def _is_null(node: Node | None) -> bool:
    return node is None or (isinstance(node, ScalarNode) and node.tag == NULL_TAG)


class _Reader:
    """Walks one file's nodes; `where` is the dotted key path of the node being read."""

    def __init__(self, path: str):
        self.path = path
        self.constructor = SafeConstructor()

    def fail(self, node: Node, message: str) -> ConfigError:
        return ConfigError(message, self.path, node.start_mark.line + 1)

    def read(self, node: Node | None, hint: Any, where: str) -> Any:
        if node is None:  # an empty file: an empty mapping
            node = MappingNode("tag:yaml.org,2002:map", [], yaml.Mark("", 0, 0, 0, None, None))
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if hint is Any:
            return self.constructor.construct_object(node, deep=True)
        if origin in (types.UnionType, typing.Union):
            others = [arg for arg in args if arg is not type(None)]
            if len(others) != 1 or len(args) != 2:
                raise TypeError(f"config schemas support only `X | None`, not {hint}")
            return None if _is_null(node) else self.read(node, others[0], where)
        if dataclasses.is_dataclass(hint):
            return self.fields(node, hint, where, partial=False)
        if origin is Overrides:
            return Overrides(self.fields(node, args[0], where, partial=True))
        if origin in (tuple, list):
            if origin is tuple and (len(args) != 2 or args[1] is not Ellipsis):
                raise TypeError(f"config schemas support only `tuple[X, ...]`, not {hint}")
            items = node.value if isinstance(node, SequenceNode) else [node]
            values = [self.read(item, args[0], f"{where}[{i}]") for i, item in enumerate(items)]
            return origin(values)
        if origin is dict:
            return {
                key: self.read(value, args[1], f"{where}.{key}" if where else key)
                for key, (_, value) in self.mapping(node, where).items()
            }
        return self.scalar(node, hint, where)

    def mapping(self, node: Node, where: str) -> dict[str, tuple[Node, Node]]:
        """A mapping node's entries by key (merge keys `<<` applied; a repeated key is an error)."""
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"{_place(where)}: expected a mapping, got {_describe(node)}")
        seen: set[str] = set()
        for key_node, _ in node.value:
            if key_node.tag != MERGE_TAG and key_node.value in seen:
                raise self.fail(key_node, f"key {key_node.value!r} repeated in {_place(where)}")
            seen.add(key_node.value)
        merged = MappingNode(node.tag, list(node.value), node.start_mark, node.end_mark)
        self.constructor.flatten_mapping(merged)  # merged keys first: the mapping's own ones win
        entries: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in merged.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag != STR_TAG:
                message = f"{_place(where)}: keys must be strings, got {_describe(key_node)}"
                raise self.fail(key_node, message)
            entries[key_node.value] = (key_node, value_node)
        return entries

    def fields(self, node: Node, schema: type, where: str, partial: bool) -> Any:
        """A dataclass from a mapping node (or, if `partial`, the dict of the fields given)."""
        hints = typing.get_type_hints(schema)
        fields = {field.name: field for field in dataclasses.fields(schema) if field.init}
        entries = self.mapping(node, where)
        values: dict[str, Any] = {}
        for key, (key_node, value_node) in entries.items():
            if key not in fields:
                raise self.fail(
                    key_node,
                    f"unknown key {key!r} in {_place(where)}; allowed: {', '.join(sorted(fields))}",
                )
            has_default = _has_default(fields[key])
            if _is_null(value_node) and has_default and not _accepts_none(hints[key]):
                continue  # `key:` with no value: the field's default
            values[key] = self.read(value_node, hints[key], f"{where}.{key}" if where else key)
        if partial:
            return values
        missing = [
            name
            for name, field in fields.items()
            if name not in entries and not _has_default(field)
        ]
        if missing:
            raise self.fail(node, f"missing key {missing[0]!r} in {_place(where)}")
        try:
            return schema(**values)
        except ValueError as error:  # the dataclass's own checks (__post_init__)
            raise self.fail(node, f"{_place(where)}: {error}") from error

    def scalar(self, node: Node, hint: Any, where: str) -> Any:
        """A str, int, float or bool (an int is accepted, and converted, for a float)."""
        if hint not in (str, int, float, bool):
            raise TypeError(f"config schemas do not support the type {hint!r} (at {where})")
        value = self.constructor.construct_object(node) if isinstance(node, ScalarNode) else node
        accepted = (int, float) if hint is float else hint
        if isinstance(value, accepted) and (hint is bool or not isinstance(value, bool)):
            return float(value) if hint is float else value
        advice = ""
        if hint is float and isinstance(value, str) and _is_number(value):
            advice = " (YAML reads a number without a '.' before its exponent as text: 1.0e-3)"
        message = f"{where}: expected {hint.__name__}, got {_describe(node)}{advice}"
        raise self.fail(node, message)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _has_default(field: dataclasses.Field[Any]) -> bool:
    return (
        field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
    )


def _accepts_none(hint: Any) -> bool:
    return hint is Any or type(None) in typing.get_args(hint)
