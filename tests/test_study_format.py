"""Bad study-format files: each problem is reported with file, row, column, value and rule."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pluralign.cli.app import app
from pluralign.data.loaders import example_study_path, read_study_file
from pluralign.data.schema import DEMOGRAPHICS, MAX_PROBLEMS_SHOWN, RatingsValidationError


def example_rows() -> list[dict[str, str]]:
    with open(example_study_path(), newline="") as handle:
        return list(csv.DictReader(handle))


def write(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> Path:
    columns = columns or list(rows[0])
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def problems_of(path: Path) -> list:
    with pytest.raises(RatingsValidationError) as error:
        read_study_file(path)
    return error.value.problems


def test_example_is_valid():
    assert len(read_study_file(example_study_path())) == 48


def test_parquet_is_read_too(tmp_path):
    table = pd.read_csv(example_study_path(), dtype=str)
    table.to_parquet(tmp_path / "ratings.parquet")
    assert len(read_study_file(tmp_path / "ratings.parquet")) == 48


def test_missing_column(tmp_path):
    rows = example_rows()
    columns = [c for c in rows[0] if c != "dimension"]
    (problem,) = problems_of(write(tmp_path / "r.csv", rows, columns))
    assert problem.column == "dimension" and problem.rule == "missing column"
    assert problem.file.endswith("r.csv")


def test_unknown_dimension(tmp_path):
    rows = example_rows()
    rows[2]["dimension"] = "politeness"
    (problem,) = problems_of(write(tmp_path / "r.csv", rows))
    assert (problem.row, problem.column, problem.value) == (4, "dimension", "politeness")
    assert "must be one of" in problem.rule


def test_score_outside_its_scale(tmp_path):
    rows = example_rows()
    rows[0]["score"] = "7"
    rows[1]["scale"] = "binary"  # a 5 is not a binary score
    problems = problems_of(write(tmp_path / "r.csv", rows))
    assert [(p.row, p.column, p.value) for p in problems] == [
        (2, "score", "7.0"),
        (3, "score", "5.0"),
    ]
    assert all("scale" in p.rule for p in problems)


def test_duplicate_rating_id(tmp_path):
    rows = example_rows()
    rows[5]["rating_id"] = rows[4]["rating_id"]
    problems = problems_of(write(tmp_path / "r.csv", rows))
    assert {(p.row, p.column, p.rule) for p in problems} == {
        (6, "rating_id", "duplicate value"),
        (7, "rating_id", "duplicate value"),
    }


def test_empty_required_field(tmp_path):
    rows = example_rows()
    rows[9]["participant_id"] = ""
    (problem,) = problems_of(write(tmp_path / "r.csv", rows))
    assert (problem.row, problem.column, problem.rule) == (
        11,
        "participant_id",
        "required field is empty",
    )


def test_empty_demographic_is_allowed(tmp_path):
    rows = example_rows()
    rows[0]["race"] = ""
    assert read_study_file(write(tmp_path / "r.csv", rows))["race"].isna().sum() == 1


def test_unparseable_row_and_score(tmp_path):
    path = write(tmp_path / "r.csv", example_rows())
    lines = path.read_text().splitlines()
    lines[3] = lines[3] + ",an extra field"
    lines[5] = re.sub(r",\d,5pt$", ",high,5pt", lines[5])
    path.write_text("\n".join(lines) + "\n")
    problems = problems_of(path)
    assert [(p.row, p.column) for p in problems] == [(4, None), (6, "score")]
    assert "unparseable row" in problems[0].rule
    assert problems[1].rule == "not a number" and problems[1].value == "high"


def test_every_problem_is_listed_once_in_one_error(tmp_path):
    rows = example_rows()
    rows[0]["dimension"] = "politeness"
    rows[1]["score"] = "9"
    rows[2]["prompt"] = ""
    rows[3]["country"] = "XX"  # not an ISO 3166 country (an unlisted gender would be kept)
    problems = problems_of(write(tmp_path / "r.csv", rows))
    assert [(p.row, p.column) for p in problems] == [
        (2, "dimension"),
        (3, "score"),
        (4, "prompt"),
        (5, "country"),
    ]


def test_a_long_list_is_cut_to_a_screenful(tmp_path):
    rows = example_rows()
    for row in rows:
        row["dimension"] = "politeness"
    with pytest.raises(RatingsValidationError) as error:
        read_study_file(write(tmp_path / "r.csv", rows))
    message = str(error.value)
    assert len(error.value.problems) == len(rows)
    assert message.count("\n  - ") == MAX_PROBLEMS_SHOWN
    assert f"and {len(rows) - MAX_PROBLEMS_SHOWN} more problems" in message


def test_cli_export_writes_the_validated_table(tmp_path):
    output = tmp_path / "out.parquet"
    result = CliRunner().invoke(
        app, ["data", "export", str(example_study_path()), "-o", str(output)]
    )
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(output)) == 48


def test_cli_export_exits_2_and_writes_nothing_on_bad_input(tmp_path):
    rows = example_rows()
    rows[0]["score"] = "11"
    output = tmp_path / "out.parquet"
    bad = write(tmp_path / "bad.csv", rows)
    result = CliRunner().invoke(app, ["data", "export", str(bad), "-o", str(output)])
    assert result.exit_code == 2
    assert "bad.csv, row 2, column 'score'" in result.output
    assert not output.exists()


def test_cli_export_of_a_named_dataset(mirror, tmp_path):
    output = tmp_path / "sbic.parquet"
    result = CliRunner().invoke(app, ["data", "export", "sbic", "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(output)) == 12_325


def test_an_item_whose_type_differs_between_rows_is_named() -> None:
    from pluralign.data.study import consistency_problems

    table = pd.DataFrame(
        {
            "participant_id": ["a", "b", "c"],
            "response_id": ["r1", "r1", "r2"],
            "item_is_aae": ["yes", "no", "yes"],
            "dimension": ["toxicity"] * 3,
            "scale": ["5pt"] * 3,
            **{column: [None] * 3 for column in DEMOGRAPHICS},
        },
        index=[2, 3, 4],
    )
    problems = consistency_problems(table, "items.csv")
    assert [(p.row, p.column, p.value) for p in problems] == [(3, "item_is_aae", "no")]
    assert "item 'r1' has different item_is_aae values across rows" in problems[0].rule
