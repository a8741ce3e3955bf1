"""Parameters cells: parsing, type checks, profiles and -p overrides, checked before any run."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from pluralign.book.runner import (
    BookProfile,
    book_profile_names,
    chapters,
    load_book_profile,
    resolve_parameters,
)
from pluralign.cli.app import app, parameter_pairs
from pluralign.parameters import (
    ParameterError,
    check_parameters,
    check_value,
    parse_cli_value,
    parse_parameters_cell,
)

CELL = """datasets: list[str] = ["popquorn"]  # which datasets
samples: int = 10  # bootstrap samples
rate: float = 0.5  # a fraction
label: str | None = None  # optional label
"""


def test_parse_parameters_cell():
    parameters = parse_parameters_cell(CELL)
    assert list(parameters) == ["datasets", "samples", "rate", "label"]
    assert parameters["datasets"].annotation == "list[str]"
    assert parameters["samples"].default == 10
    assert parameters["rate"].comment == "a fraction"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("import os\n", "holds only"),
        ("x = 1  # untyped\n", "holds only"),
        ("x: int = 1 + 1  # computed\n", "not a literal"),
        ("x: int = 1\n", "needs a comment"),
        ("x: int = 'a'  # wrong default\n", "must be int"),
        ("x: set = {1}  # odd type\n", "unsupported parameter annotation"),
    ],
)
def test_parameters_cell_rules(source, message):
    with pytest.raises(ParameterError, match=message):
        parse_parameters_cell(source)


@pytest.mark.parametrize(
    ("annotation", "value", "ok"),
    [
        ("int", 3, True),
        ("int", True, False),
        ("int", 3.0, False),
        ("float", 3, True),
        ("float", 2.5, True),
        ("float", "2.5", False),
        ("str", "a", True),
        ("str", 1, False),
        ("bool", False, True),
        ("bool", 0, False),
        ("list[str]", ["a", "b"], True),
        ("list[str]", ["a", 1], False),
        ("list[str]", "a", False),
        ("dict[str, int]", {"a": 1}, True),
        ("dict[str, int]", {"a": "1"}, False),
        ("str | None", None, True),
        ("str | None", 1, False),
    ],
)
def test_check_value(annotation, value, ok):
    if ok:
        check_value("x", annotation, value)
    else:
        with pytest.raises(ParameterError, match="parameter 'x' must be"):
            check_value("x", annotation, value)


def test_cli_values_are_yaml_except_for_strings():
    assert parse_cli_value("list[str]", '["popquorn", "sbic"]') == ["popquorn", "sbic"]
    assert parse_cli_value("int", "200") == 200
    assert parse_cli_value("str", "200") == "200"


def test_check_parameters_in_a_running_chapter():
    namespace = {
        "__annotations__": {"datasets": list[str], "seed": int},
        "datasets": ["a"],
        "seed": 1,
    }
    check_parameters(namespace)
    namespace["seed"] = "one"
    with pytest.raises(ParameterError, match=r"'seed' must be int.*Valid parameters: datasets"):
        check_parameters(namespace)


def test_check_parameters_reads_papermill_text_as_yaml():
    namespace = {"__annotations__": {"datasets": list[str]}, "datasets": '["a", "b"]'}
    check_parameters(namespace)
    assert namespace["datasets"] == ["a", "b"]
    namespace["datasets"] = "3"
    with pytest.raises(ParameterError, match=r"'datasets' must be list\[str\], got int 3"):
        check_parameters(namespace)


def test_check_parameters_rejects_names_papermill_injected_but_the_cell_lacks():
    namespace = {
        "__annotations__": {"seed": int},
        "seed": 1,
        "In": ["", "seed: int = 0  # seed", "# Parameters\nseed = 1\nsede = 2\n"],
    }
    with pytest.raises(ParameterError, match="unknown parameter 'sede'"):
        check_parameters(namespace)


def test_every_chapter_has_a_valid_parameters_cell():
    book = chapters()
    assert book and book[0].stem == "01_data"
    assert "datasets" in book[0].parameters


@pytest.mark.parametrize("name", ["smoke", "quick", "full"])
def test_profiles_resolve(name):
    assert name in book_profile_names()
    values = resolve_parameters(chapters(), load_book_profile(name), [])
    assert values["01_data"]["datasets"]


def test_unknown_override_lists_valid_parameters():
    with pytest.raises(ParameterError) as error:
        resolve_parameters(chapters(), BookProfile("t", ""), [("dataset", '["popquorn"]')])
    message = str(error.value)
    assert "no chapter declares parameter 'dataset'" in message
    assert "datasets: list[str]" in message


def test_wrong_type_override_is_an_error():
    with pytest.raises(ParameterError, match="'agreement_bootstrap_samples' must be int"):
        overrides = [("agreement_bootstrap_samples", "many")]
        resolve_parameters(chapters(), BookProfile("t", ""), overrides)


def test_profile_with_unknown_chapter_parameter():
    profile = BookProfile("bad", "", chapters={"01_data": {"bootstrap": 3}})
    with pytest.raises(ParameterError, match="01_data has no parameter 'bootstrap'"):
        resolve_parameters(chapters(), profile, [])


def test_unknown_profile():
    with pytest.raises(ParameterError, match="unknown profile 'huge'"):
        load_book_profile("huge")


def test_parameter_pairs():
    assert parameter_pairs(["-p", "a", "1", "--parameter", "b", "x y"]) == [
        ("a", "1"),
        ("b", "x y"),
    ]


def test_cli_book_refuses_bad_parameters_before_running(tmp_path):
    result = CliRunner().invoke(
        app, ["book", "--profile", "smoke", "--output", str(tmp_path), "-p", "nope", "1"]
    )
    assert result.exit_code == 2
    assert "no chapter declares parameter 'nope'" in result.output
    assert "Valid parameters" in result.output
    assert not (tmp_path / "_build").exists()
