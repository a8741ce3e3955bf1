"""Every bad input a user can give `data export` and `gaps` is answered: exit 2, one plain-text
message naming the file (and line and column where there are some), no traceback, no Rich markup
read from the data, and nothing written (issue 16)."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pluralign.cli.app import app
from pluralign.data.loaders import example_study_path, read_study_file
from pluralign.data.schema import RatingsValidationError

runner = CliRunner()


def example_rows() -> list[list[str]]:
    with open(example_study_path(), newline="", encoding="utf-8") as handle:
        return [list(row) for row in csv.reader(handle)]


COLUMN = {name: index for index, name in enumerate(example_rows()[0])}


def write_rows(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with open(path, "w", newline="", encoding=encoding) as handle:
        csv.writer(handle).writerows(rows)
    return path


def changed(path: Path, row: int, column: str, value: str) -> Path:
    """The example with one cell changed (`row` counts data rows from 1: file line row+1)."""
    rows = example_rows()
    rows[row][COLUMN[column]] = value
    return write_rows(path, rows)


def export(*arguments: str):
    return runner.invoke(app, ["data", "export", *arguments])


def assert_refused(result, output: Path, *expected: str) -> str:
    """Exit 2, no traceback, the expected words in the message, nothing written."""
    message = result.output
    assert result.exit_code == 2, message
    assert result.exception is None or isinstance(result.exception, SystemExit), message
    assert "Traceback" not in message
    assert message.startswith("error: ")
    for words in expected:
        assert words in message, (words, message)
    assert not output.exists()
    return message


# --------------------------------------------------------------------------------------------
# files that could not be read before


def test_a_field_over_131072_characters_is_read(tmp_path):
    path = changed(tmp_path / "long.csv", 1, "response", "word " * 40_000)
    table = read_study_file(path)
    assert len(table.loc[0, "response"]) == len("word " * 40_000)


def test_a_utf8_bom_is_read(tmp_path):
    path = write_rows(tmp_path / "bom.csv", example_rows(), encoding="utf-8-sig")
    assert read_study_file(path).equals(read_study_file(example_study_path()))


def test_a_gzipped_csv_is_read(tmp_path):
    path = tmp_path / "ratings.csv.gz"
    path.write_bytes(gzip.compress(example_study_path().read_bytes()))
    assert read_study_file(path).equals(read_study_file(example_study_path()))


@pytest.mark.parametrize(
    ("name", "make", "expected"),
    [
        (
            "latin1.csv",
            lambda p: write_rows(p, _with_cell(4, "response", "café"), encoding="latin-1"),
            ["latin1.csv, row 5", "not UTF-8", "0xE9"],
        ),
        (
            "utf16.csv",
            lambda p: write_rows(p, example_rows(), encoding="utf-16"),
            ["utf16.csv", "UTF-16"],
        ),
        (
            "dup.csv",
            lambda p: write_rows(p, [_header_with("gender", "race"), *example_rows()[1:]]),
            ["dup.csv, row 1", "duplicated column", "gender"],
        ),
        ("fake.parquet", lambda p: p.write_text("not parquet"), ["fake.parquet", "not a Parquet"]),
        ("header.csv", lambda p: write_rows(p, example_rows()[:1]), ["header.csv", "no data rows"]),
        ("empty.csv", lambda p: p.write_bytes(b""), ["empty.csv", "empty"]),
        ("zip.csv", lambda p: p.write_bytes(b"PK\x03\x04rest"), ["zip.csv", "ZIP"]),
        (
            "gender.csv",
            lambda p: changed(p, 2, "gender", "male"),  # u01 is female on the other rows
            ["gender.csv, row 3, column 'gender'", "rater 'u01'", "female", "male"],
        ),
        (
            "scales.csv",
            lambda p: write_rows(p, _binary_row(2)),
            ["scales.csv", "column 'scale'", "several scales", "binary", "5pt"],
        ),
        ("xx.csv", lambda p: changed(p, 1, "country", "XX"), ["xx.csv, row 2", "ISO 3166"]),
        (
            "nul.csv",
            lambda p: changed(p, 1, "rating_id", "ex-0\x0001"),
            ["nul.csv, row 2, column 'rating_id'", "control character"],
        ),
        (
            "trim.csv",
            lambda p: changed(p, 3, "rating_id", example_rows()[2][0] + " "),
            ["trim.csv, row 4, column 'rating_id'", "duplicate value"],
        ),
    ],
)
def test_a_bad_file_is_refused_by_export_and_gaps(tmp_path, name, make, expected):
    path = tmp_path / name
    make(path)
    output = tmp_path / "out" / "ratings.parquet"
    assert_refused(export(str(path), "-o", str(output)), output, *expected)
    result = runner.invoke(app, ["gaps", str(path), "--bootstrap-samples", "10"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert expected[0] in result.output


def _with_cell(row: int, column: str, value: str) -> list[list[str]]:
    rows = example_rows()
    rows[row][COLUMN[column]] = value
    return rows


def _header_with(duplicate: str, replaced: str) -> list[str]:
    header = example_rows()[0]
    header[COLUMN[replaced]] = duplicate
    return header


def _binary_row(row: int) -> list[list[str]]:
    rows = _with_cell(row, "scale", "binary")
    rows[row][COLUMN["score"]] = "1"
    return rows


def test_a_folder_as_the_input_is_refused(tmp_path):
    output = tmp_path / "out.parquet"
    assert_refused(export(str(tmp_path), "-o", str(output)), output, "is a folder")


def test_an_output_that_is_a_folder_is_refused(tmp_path):
    (tmp_path / "folder").mkdir()
    result = export(str(example_study_path()), "-o", str(tmp_path / "folder"))
    assert result.exit_code == 2 and "is a folder" in result.output
    assert list((tmp_path / "folder").iterdir()) == []


def test_an_output_that_cannot_be_created_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    output = tmp_path / "file" / "sub" / "out.parquet"
    assert_refused(export(str(example_study_path()), "-o", str(output)), output, "is a file")


def test_a_refused_file_does_not_replace_an_earlier_export(tmp_path):
    output = tmp_path / "ratings.parquet"
    assert export(str(example_study_path()), "-o", str(output)).exit_code == 0
    before = output.read_bytes()
    bad = changed(tmp_path / "bad.csv", 1, "dimension", "politeness")
    assert export(str(bad), "-o", str(output)).exit_code == 2
    assert output.read_bytes() == before
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []


# --------------------------------------------------------------------------------------------
# messages are plain text


@pytest.mark.parametrize(
    "cell", ["[/]", "[link=https://example.org]click[/link]", ":x:", "[bold]x[/bold]"]
)
def test_markup_in_a_cell_is_shown_as_written(tmp_path, cell):
    path = changed(tmp_path / "m.csv", 1, "dimension", cell)
    output = tmp_path / "o.parquet"
    message = assert_refused(export(str(path), "-o", str(output)), output)
    assert repr(cell) in message


def test_the_debug_flag_shows_the_traceback(tmp_path):
    path = changed(tmp_path / "m.csv", 1, "dimension", "politeness")
    result = runner.invoke(app, ["--debug", "data", "export", str(path), "-o", "x.parquet"])
    assert isinstance(result.exception, RatingsValidationError)


# --------------------------------------------------------------------------------------------
# open demographic vocabularies


def test_unlisted_demographics_are_kept_and_listed_in_one_warning(tmp_path):
    rows = example_rows()
    for row in rows[1:]:
        if row[COLUMN["participant_id"]] == "u01":
            row[COLUMN["race"]] = "Native Hawaiian"
            row[COLUMN["education"]] = "bachelor"
    path = write_rows(tmp_path / "open.csv", rows)
    output = tmp_path / "open.parquet"
    result = export(str(path), "-o", str(output))
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert "race: native_hawaiian" in warnings[0] and "education: bachelor" in warnings[0]
    table = pd.read_parquet(output)
    assert (table["race"] == "native_hawaiian").sum() == sum(
        row[COLUMN["participant_id"]] == "u01" for row in rows[1:]
    )
    strict = tmp_path / "strict.parquet"
    assert_refused(
        export(str(path), "--strict", "-o", str(strict)), strict, "column 'race'", "must be one of"
    )


def test_extra_columns_are_ignored_with_a_warning(tmp_path):
    rows = example_rows()
    rows[0].append("note")
    for row in rows[1:]:
        row.append("anything")
    path = write_rows(tmp_path / "extra.csv", rows)
    output = tmp_path / "extra.parquet"
    result = export(str(path), "-o", str(output))
    assert result.exit_code == 0
    assert "warning:" in result.output and "note" in result.output
    assert "note" not in pd.read_parquet(output).columns


def test_a_missing_answer_on_one_row_contradicts_nothing(tmp_path):
    path = changed(tmp_path / "gap.csv", 2, "race", "")
    assert read_study_file(path)["race"].isna().sum() == 1


def test_the_contrasts_chapters_use_are_unchanged():
    table = read_study_file(example_study_path())
    assert set(table["gender"].dropna()) <= {"female", "male", "nonbinary"}
    assert set(table["country"].dropna()) <= {"US", "DE"}


# --------------------------------------------------------------------------------------------
# parameters


def test_a_negative_bootstrap_count_is_refused():
    result = runner.invoke(app, ["gaps", str(example_study_path()), "--bootstrap-samples", "-5"])
    assert result.exit_code == 2


def test_nonexistent_file_or_dataset():
    result = export("no-such-file.csv", "-o", "never.parquet")
    assert result.exit_code == 2 and "neither a dataset" in result.output
    assert not Path("never.parquet").exists()
